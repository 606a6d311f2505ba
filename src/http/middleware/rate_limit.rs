//! The `/api/v1` gate: resolves the request's credential once, counts it against its rate
//! limit, enforces what a publishable key may do, and puts the rate-limit headers on every
//! answer (2xx, 4xx and 429 alike).
//!
//! The credential is resolved by [`resolve`] and stored in the request extensions, where
//! [`crate::http::api::auth::ApiAuth`] reads it instead of authenticating again. Keys are
//! read from the database on every request, so a revoked key is refused at once on every
//! instance.

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::db;
use crate::domain::access::{affiliate_tokens, personal_tokens};
use crate::domain::tenancy::api_keys::{self, ApiPrincipal, Scope};
use crate::domain::tenancy::consumers;
use crate::domain::tenancy::rate_limits::{self, Budget, Decision, Limits, Principal};
use crate::domain::values::{host, tokens};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::bearer_token;
use crate::http::client;

/// The principal resolved for a request, as stored in its extensions.
#[derive(Debug, Clone)]
pub struct Resolved(pub Principal);

/// The routes a publishable key may call (POST only; their preflights need no key).
const PUBLISHABLE_PATHS: &[&str] = &["/api/v1/track", "/api/v1/applications"];

/// Resolves the credential of a request to whom it is counted against: a live API key,
/// a bearer token that is not an API key (affiliate tokens), or the client IP for requests
/// without a valid credential. A wrong or revoked key counts against the IP (its 401 comes
/// from the handler). A Bearer token with two dots is a kernel consumer's JWT: a valid one
/// counts against the consumer, an invalid one against the IP (the kernel route answers
/// with the precise 401 code).
pub async fn resolve(state: &AppState, bearer: Option<&str>, ip: &str) -> AppResult<Principal> {
    let anonymous = || Principal::Anonymous { ip: ip.to_owned() };
    let Some(token) = bearer else {
        return Ok(anonymous());
    };
    if token.matches('.').count() == 2 {
        let secrets = state.consumer_secrets();
        return match consumers::authenticate(&state.db, &secrets, token).await {
            Ok(consumer) => {
                let vendor = rate_limits::vendor_limits(&state.db, &consumer.vendor_id).await?;
                Ok(Principal::Consumer { consumer, vendor })
            }
            Err(AppError::Unauthorized(_) | AppError::UnauthorizedCode { .. }) => Ok(anonymous()),
            Err(e) => Err(e),
        };
    }
    if api_keys::looks_like_key(token) {
        return match api_keys::authenticate(&state.db, token).await {
            Ok(p) => Ok(Principal::ApiKey(p)),
            Err(AppError::Unauthorized(_)) => Ok(anonymous()),
            Err(e) => Err(e),
        };
    }
    // Signed affiliate tokens are checked here (no database read) so made-up ones cannot
    // open fresh budgets; personal tokens are checked by `/me` itself.
    let affiliate_token = token.starts_with(affiliate_tokens::PREFIX)
        && state.affiliate_tokens.verify(token, db::now_ms()).is_some();
    if affiliate_token || token.starts_with(personal_tokens::PREFIX) {
        return Ok(Principal::Token {
            hash: tokens::sha256_hex(token),
        });
    }
    Ok(anonymous())
}

/// The middleware function (`middleware::from_fn(rate_limit)` on the `/api/v1` scope).
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let ip = client::client_ip(req.request(), state.settings.trusted_proxy);
    let bearer = bearer_token(req.request());
    let principal = match resolve(&state, bearer.as_deref(), &ip).await {
        Ok(p) => p,
        Err(e) => return Ok(req.error_response(e)),
    };
    let defaults = Limits {
        read: i64::from(state.settings.api_rate_limit_read),
        write: i64::from(state.settings.api_rate_limit_write),
    };
    let budget = Budget::of_method(req.method().as_str());
    let now_secs = db::now_ms().div_euclid(1000);
    let decision = match state
        .rate_limiter
        .check(&state.db, &principal, &ip, budget, defaults, now_secs)
        .await
    {
        Ok(d) => d,
        Err(e) => return Ok(req.error_response(e)),
    };
    if !decision.allowed {
        let retry_after_secs = u64::try_from(decision.retry_after).unwrap_or(1);
        let mut res = req.error_response(AppError::RateLimited { retry_after_secs });
        set_headers(res.headers_mut(), &decision);
        return Ok(res);
    }
    let mut allow_origin = None;
    if let Principal::ApiKey(key) = &principal
        && key.scope == Scope::Publishable
    {
        match publishable_origin(&state, key, &req).await {
            Ok(origin) => allow_origin = Some(origin),
            Err(e) => {
                let mut res = req.error_response(e);
                set_headers(res.headers_mut(), &decision);
                return Ok(res);
            }
        }
    }
    req.extensions_mut().insert(Resolved(principal));
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    set_headers(headers, &decision);
    if let Some(origin) = allow_origin
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res)
}

/// A publishable key may only `POST` to [`PUBLISHABLE_PATHS`], from one of its vendor's
/// site origins (browsers always send `Origin` on these cross-site calls; a request without
/// one is not from a page of the vendor). Returns the origin to allow in the answer.
async fn publishable_origin(
    state: &AppState,
    key: &ApiPrincipal,
    req: &ServiceRequest,
) -> AppResult<String> {
    if req.method() != Method::POST || !PUBLISHABLE_PATHS.contains(&req.path()) {
        return Err(AppError::Forbidden(
            "a publishable key may only call POST /api/v1/track and POST /api/v1/applications"
                .into(),
        ));
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let vendor = db::vendors::by_id(state.db.pool(), &key.vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if host::origin_listed(&vendor.site_origins(), &origin) {
        Ok(origin)
    } else {
        Err(AppError::Forbidden(
            "a publishable key works only from the vendor's site origins (Settings → Site \
             origins)"
                .into(),
        ))
    }
}

fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", d.limit),
        ("x-ratelimit-remaining", d.remaining),
        ("x-ratelimit-reset", d.reset),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

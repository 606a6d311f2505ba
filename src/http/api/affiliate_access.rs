//! Access the vendor's backend hands out for one affiliate: API access tokens
//! (`/token`), signed 24-hour portal links (`/portal-link`) and iframe embeds
//! (`/embed-token`). Each body is optional JSON.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::db;
use crate::domain::access::affiliate_tokens;
use crate::domain::access::portal_access::{Issuer, parse_surface};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::parse_optional;

fn issuer(state: &AppState) -> Issuer<'_> {
    Issuer {
        db: &state.db,
        signer: &state.affiliate_tokens,
        base_url: &state.sender.base_url,
    }
}

/// Body of `POST /api/v1/affiliates/{id}/token`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// Lifetime, 60..=3600 seconds (default 3600).
    #[schema(minimum = 60, maximum = 3600)]
    ttl_seconds: Option<i64>,
}

/// `POST /api/v1/affiliates/{id}/token` → 201 `{token, token_type, expires_at}`: a
/// short-lived access token for the self-service API under `/api/v1/me`.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/token",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<TokenInput>, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn token(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input: TokenInput = parse_optional(&body)?;
    let (token, expires_at) = affiliate_tokens::issue(
        &state.db,
        &state.affiliate_tokens,
        auth.vendor_id(),
        &id,
        input.ttl_seconds,
        "api",
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "token_type": "affiliate",
        "expires_at": db::rfc3339(expires_at),
    })))
}

/// Body of `POST /api/v1/affiliates/{id}/portal-link` (nothing to set today; unknown
/// fields are refused so a typo is not silently ignored).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkInput {}

/// `POST /api/v1/affiliates/{id}/portal-link` → 201 `{url, expires_at}`: a signed link,
/// valid 24 hours, that opens the vendor's portal signed in as the affiliate (seed 001).
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/portal-link",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<PortalLinkInput>, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn portal_link(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let _: PortalLinkInput = parse_optional(&body)?;
    let (url, expires_at) = issuer(&state)
        .portal_link(auth.vendor_id(), &id, &Actor::ApiKey(auth.0.key_id.clone()))
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "url": url,
        "expires_at": db::rfc3339(expires_at),
    })))
}

/// Body of `POST /api/v1/affiliates/{id}/embed-token`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedInput {
    /// `dashboard` (default), `links` or `payouts`.
    #[schema(pattern = "^(dashboard|links|payouts)$")]
    surface: Option<String>,
    /// Lifetime, 60..=3600 seconds (default 3600).
    #[schema(minimum = 60, maximum = 3600)]
    ttl_seconds: Option<i64>,
}

/// `POST /api/v1/affiliates/{id}/embed-token` → 201 `{token, url, surface, expires_at}`:
/// the URL of a portal surface to put in an iframe of the vendor's app (framable only by
/// the vendor's `embed_origins`). The token also works on `/api/v1/me`.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/embed-token",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<EmbedInput>, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn embed_token(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input: EmbedInput = parse_optional(&body)?;
    let surface = parse_surface(input.surface.as_deref())?;
    let (token, url, expires_at) = issuer(&state)
        .embed(
            auth.vendor_id(),
            &id,
            surface,
            input.ttl_seconds,
            &Actor::ApiKey(auth.0.key_id.clone()),
        )
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "url": url,
        "surface": surface,
        "expires_at": db::rfc3339(expires_at),
    })))
}

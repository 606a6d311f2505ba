//! `/api/v1/track` (clicks from the snippet or the vendor's backend), `/api/v1/clicks`.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::db::{self, clicks::Range};
use crate::domain::attribution::clicks;
use crate::domain::attribution::tracking::Visit;
use crate::domain::attribution::tracking::track::{self, Reporter, TrackInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json;
use crate::http::client::{self, header_str};
use crate::http::pagination::{List, PageQuery};

/// Largest click report body.
const TRACK_BODY_MAX: usize = 16 * 1024;

/// `POST /api/v1/track`. With an API key (write, full or publishable): the vendor's own
/// codes (a publishable key only from the vendor's site origins, checked by the `/api/v1`
/// middleware, which also answers its CORS headers). Without: a browser on one of the
/// program's domains (CORS), throttled per visitor and code. The body is JSON
/// whatever the Content-Type, so the snippet can send `text/plain` and skip the preflight.
#[utoipa::path(
    post,
    path = "/api/v1/track",
    tag = "tracking",
    request_body(content(
        (TrackInput = "application/json"),
        (TrackInput = "text/plain"),
    )),
    responses((status = 200, description = "Success", body = Object)),
    security((), ("api_key" = [])),
)]
pub async fn track(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let auth = if req.headers().contains_key(header::AUTHORIZATION) {
        Some(ApiAuth::extract(&req).await?)
    } else {
        None
    };
    if let Some(a) = &auth {
        a.require_any(&[Scope::Write, Scope::Publishable])?;
    }
    if body.len() > TRACK_BODY_MAX {
        return Err(AppError::BadRequest("body larger than 16 KiB".into()));
    }
    let input: TrackInput = json::parse(&body)?;
    let origin = header_str(&req, header::ORIGIN);
    let reporter = match &auth {
        Some(a) => Reporter::Vendor(a.vendor_id()),
        None => Reporter::Browser { origin },
    };
    let ip = client::client_ip(&req, state.settings.trusted_proxy);
    let visit = Visit {
        ip: &ip,
        user_agent: header_str(&req, header::USER_AGENT),
        referrer: None,
    };
    let tracked = track::track(&state.tracker, &state.db, &input, reporter, &visit).await?;
    let mut res = HttpResponse::Ok();
    // Reaching here without a key means the origin (if any) is one of the program's.
    if auth.is_none()
        && let Some(o) = origin
    {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o))
            .insert_header((header::VARY, "Origin"));
    }
    Ok(res.json(tracked))
}

/// `OPTIONS /api/v1/track` and `OPTIONS /api/v1/applications`: CORS preflight, allowed
/// for origins on any active program's domains and for vendors' site origins (the POST
/// itself checks the code's own program and vendor, or the publishable key's vendor's
/// site origins). `Authorization` is allowed so a page can send its publishable key.
#[utoipa::path(
    options,
    path = "/api/v1/track",
    tag = "tracking",
    responses((status = 204, description = "CORS preflight; `Access-Control-Allow-*` when the origin is allowed")),
    security(()),
)]
pub async fn track_preflight(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let mut res = HttpResponse::NoContent();
    res.insert_header((header::VARY, "Origin"));
    if let Some(origin) = header_str(&req, header::ORIGIN)
        && track::origin_allowed(&state.tracker, &state.db, origin).await?
    {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    }
    Ok(res.finish())
}

/// `OPTIONS /api/v1/applications`: the same CORS preflight as [`track_preflight`], so a
/// program's site can post applications from the browser.
#[utoipa::path(
    options,
    path = "/api/v1/applications",
    tag = "applications",
    responses((status = 204, description = "CORS preflight; `Access-Control-Allow-*` when the origin is allowed")),
    security(()),
)]
pub async fn applications_preflight(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    track_preflight(req, state).await
}

/// Query of `GET /api/v1/clicks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClicksQuery {
    affiliate_id: Option<String>,
    program_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/clicks?affiliate_id&program_id&from&to&page&per_page` → the list envelope of
/// clicks (newest first) plus `summary` with the period's counts per day.
#[utoipa::path(
    get,
    path = "/api/v1/clicks",
    tag = "tracking",
    params(ClicksQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ClicksQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let (from, to) = clicks::parse_period(q.from.as_deref(), q.to.as_deref(), db::now_ms())?;
    let range = Range {
        vendor_id: auth.vendor_id(),
        affiliate_id: q.affiliate_id.as_deref().filter(|s| !s.is_empty()),
        program_id: q.program_id.as_deref().filter(|s| !s.is_empty()),
        from,
        to,
    };
    let (data, summary) = clicks::report(
        &state.tracker,
        &state.db,
        &range,
        page.per_page,
        page.offset(),
    )
    .await?;
    let total = summary.recorded;
    let mut body = serde_json::to_value(List::new(data, total, page))
        .map_err(|e| AppError::Internal(e.into()))?;
    body["summary"] = json!(summary);
    Ok(HttpResponse::Ok().json(body))
}

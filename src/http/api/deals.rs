//! `/api/v1/deals`: the vendor's view of registered deals, and their review.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::deals::Filter;
use crate::domain::attribution::deals::{self, ReviewInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// Query of `GET /api/v1/deals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(pattern = "^(|pending|accepted|rejected)$")]
    status: Option<String>,
    affiliate_id: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/deals?status&affiliate_id&page&per_page`.
#[utoipa::path(
    get,
    path = "/api/v1/deals",
    tag = "deals",
    params(ListQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = Filter {
        vendor_id: auth.vendor_id(),
        status: deals::parse_status(q.status.as_deref())?,
        affiliate_id: q.affiliate_id.as_deref().filter(|s| !s.is_empty()),
    };
    let (data, total) = deals::list(&state.db, &filter, page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/deals/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/deals/{id}",
    tag = "deals",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    Ok(HttpResponse::Ok().json(deals::get(&state.db, auth.vendor_id(), &id).await?))
}

/// `POST /api/v1/deals/{id}/review` `{decision: accept|reject, reason?}`; 409 unless pending.
#[utoipa::path(
    post,
    path = "/api/v1/deals/{id}/review",
    tag = "deals",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = crate::domain::attribution::deals::ReviewInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn review(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ReviewInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let vendor = auth.vendor(&state).await?;
    let deal = deals::review(
        &state.db,
        &state.sender,
        &vendor,
        &id,
        &body.0,
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(deal))
}

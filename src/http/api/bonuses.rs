//! Bonuses: `POST /api/v1/affiliates/{id}/bonuses` (grant one by hand) and
//! `GET /api/v1/bonuses` (manual and goal bonuses, newest first).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db;
use crate::domain::earnings::bonuses::{self, BonusInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::opt;
use crate::http::pagination::{List, PageQuery};

/// `POST /api/v1/affiliates/{id}/bonuses` → 201 with the bonus: a one-off amount, pending
/// for the program's holding period, then paid like any commission.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/bonuses",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = BonusInput, content_type = "application/json"),
    responses((status = 201, description = "The bonus", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<BonusInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let row = bonuses::grant(&state.db, auth.vendor_id(), &id, &body.0, &auth.actor()).await?;
    Ok(HttpResponse::Created().json(bonuses::bonus_json(&row)))
}

/// Query of `GET /api/v1/bonuses`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BonusesQuery {
    affiliate_id: Option<String>,
    program_id: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/bonuses?affiliate_id&program_id`.
#[utoipa::path(
    get,
    path = "/api/v1/bonuses",
    tag = "money",
    params(BonusesQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<BonusesQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = db::bonuses::Filter {
        vendor_id: auth.vendor_id(),
        affiliate_id: opt(&q.affiliate_id),
        program_id: opt(&q.program_id),
    };
    let (rows, total) = bonuses::page(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(bonuses::bonus_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

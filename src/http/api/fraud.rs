//! `/api/v1/fraud/reviews`: the fraud review queue and its decisions (see
//! `domain::earnings::fraud`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::fraud_reviews::Filter;
use crate::domain::earnings::fraud::{self, Decision};
use crate::domain::tenancy::api_keys::Scope;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::pagination::{List, PageQuery};

/// Query of `GET /api/v1/fraud/reviews`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending` (the queue), `approved` or `rejected`; every status when absent.
    #[param(pattern = "^(|pending|approved|rejected)$")]
    status: Option<String>,
    program_id: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/fraud/reviews?status&program_id&page&per_page` — oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/fraud/reviews",
    tag = "fraud",
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
        status: fraud::parse_status(q.status.as_deref())?,
        program_id: q.program_id.as_deref().filter(|s| !s.is_empty()),
    };
    let (rows, total) = fraud::list(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(fraud::Review::to_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/fraud/reviews/{id}` — one item with its evidence.
#[utoipa::path(
    get,
    path = "/api/v1/fraud/reviews/{id}",
    tag = "fraud",
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
    Ok(HttpResponse::Ok().json(
        fraud::get(&state.db, auth.vendor_id(), &id)
            .await?
            .to_json(),
    ))
}

/// Body of the decisions (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Why (kept on the item and in the audit log; a rejection's reason).
    #[schema(max_length = 500)]
    note: Option<String>,
}

async fn decide(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
    decision: Decision,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input: DecisionInput = crate::http::api::json::parse_optional(&body)?;
    let review = fraud::decide(
        &state.db,
        auth.vendor_id(),
        &id,
        decision,
        input.note.as_deref(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(review.to_json()))
}

/// `POST /api/v1/fraud/reviews/{id}/approve` `{note?}` — a held sale goes back to its
/// holding period; 409 unless pending.
#[utoipa::path(
    post,
    path = "/api/v1/fraud/reviews/{id}/approve",
    tag = "fraud",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<DecisionInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn approve(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    decide(auth, state, id, body, Decision::Approve).await
}

/// `POST /api/v1/fraud/reviews/{id}/reject` `{note?}` — the conversion is rejected (its
/// commissions reversed); 409 unless the item and its conversion are pending.
#[utoipa::path(
    post,
    path = "/api/v1/fraud/reviews/{id}/reject",
    tag = "fraud",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<DecisionInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn reject(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    decide(auth, state, id, body, Decision::Reject).await
}

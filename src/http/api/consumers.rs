//! Kernel consumers through the API (full scope): `GET/POST /api/v1/consumers`,
//! `GET/PATCH /api/v1/consumers/{id}`, `POST /api/v1/consumers/{id}/rotate-secret`.
//! Rules in `domain::tenancy::consumers`.

use actix_web::{HttpResponse, web};

use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::consumers::{self, ConsumerPatch, NewConsumerInput};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// `GET /api/v1/consumers` — the vendor's consumers, newest first (paginated).
#[utoipa::path(
    get,
    path = "/api/v1/consumers",
    operation_id = "consumers_list",
    tag = "consumers",
    params(PageQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    query: crate::http::extract::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let page = query.resolve()?;
    let (data, total) =
        consumers::list(&state.db, auth.vendor_id(), page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/consumers` → 201 with the consumer and its `secret` (shown once).
#[utoipa::path(
    post,
    path = "/api/v1/consumers",
    operation_id = "consumers_create",
    tag = "consumers",
    request_body(content = NewConsumerInput, content_type = "application/json"),
    responses((status = 201, description = "The consumer and its `secret` (shown once)", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<NewConsumerInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let created = consumers::create(
        &state.db,
        &state.consumer_secrets(),
        auth.vendor_id(),
        &body.0,
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/consumers/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/consumers/{id}",
    operation_id = "consumers_show",
    tag = "consumers",
    params(("id" = String, Path, description = "The consumer's id")),
    responses((status = 200, description = "The consumer", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    Ok(HttpResponse::Ok().json(consumers::get(&state.db, auth.vendor_id(), &id).await?))
}

/// `PATCH /api/v1/consumers/{id}` `{enabled?, external_source?, read_limit_per_minute?,
/// write_limit_per_minute?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/consumers/{id}",
    operation_id = "consumers_update",
    tag = "consumers",
    params(("id" = String, Path, description = "The consumer's id")),
    request_body(content = ConsumerPatch, content_type = "application/json"),
    responses((status = 200, description = "The consumer", body = Object)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ConsumerPatch>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let c = consumers::update(&state.db, auth.vendor_id(), &id, &body.0, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(c))
}

/// `POST /api/v1/consumers/{id}/rotate-secret` → 200 with the new `secret` (shown once).
#[utoipa::path(
    post,
    path = "/api/v1/consumers/{id}/rotate-secret",
    operation_id = "consumers_rotate_secret",
    tag = "consumers",
    params(("id" = String, Path, description = "The consumer's id")),
    responses((status = 200, description = "The consumer and its new `secret` (shown once); the old secret stops working", body = Object)),
    security(("api_key" = [])),
)]
pub async fn rotate_secret(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let done = consumers::rotate_secret(
        &state.db,
        &state.consumer_secrets(),
        auth.vendor_id(),
        &id,
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(done))
}

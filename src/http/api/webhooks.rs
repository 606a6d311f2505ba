//! `/api/v1/webhook-endpoints` and `/api/v1/webhook-deliveries`: outbound webhooks through
//! the API (full-scope keys only: an endpoint receives every event of the vendor).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::webhooks::{self, EndpointPatch, NewEndpoint};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// `?page=&per_page=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    page: Option<i64>,
    per_page: Option<i64>,
    limit: Option<i64>,
}

impl ListQuery {
    fn page(&self) -> PageQuery {
        PageQuery {
            page: self.page,
            per_page: self.per_page,
            limit: self.limit,
        }
    }
}

fn actor(auth: &ApiAuth) -> Actor {
    Actor::ApiKey(auth.0.key_id.clone())
}

/// `GET /api/v1/webhook-endpoints`.
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let page = q.page().resolve()?;
    let (data, total) =
        webhooks::list(&state.db, auth.vendor_id(), page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/webhook-endpoints` `{url, description?, events?, enabled?}` → 201 with the
/// signing secret (shown only here).
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<NewEndpoint>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let endpoint = webhooks::create(
        &state.db,
        auth.vendor_id(),
        &body.0,
        state.settings.allow_private_webhook_urls,
        &actor(&auth),
    )
    .await?;
    Ok(HttpResponse::Created().json(endpoint))
}

/// `GET /api/v1/webhook-endpoints/{id}`.
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let row = webhooks::get_row(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(webhooks::Endpoint::from(row)))
}

/// `PATCH /api/v1/webhook-endpoints/{id}` `{url?, description?, events?, enabled?}`.
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<EndpointPatch>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let endpoint = webhooks::update(
        &state.db,
        auth.vendor_id(),
        &id,
        &body.0,
        state.settings.allow_private_webhook_urls,
        &actor(&auth),
    )
    .await?;
    Ok(HttpResponse::Ok().json(endpoint))
}

/// `DELETE /api/v1/webhook-endpoints/{id}` → 204.
pub async fn delete(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    webhooks::delete(&state.db, auth.vendor_id(), &id, &actor(&auth)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/webhook-endpoints/{id}/deliveries?page&per_page` (newest first).
pub async fn deliveries(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let page = q.page().resolve()?;
    let (data, total) = webhooks::deliveries(
        &state.db,
        auth.vendor_id(),
        &id,
        page.per_page,
        page.offset(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/webhook-endpoints/{id}/test` → 202 with the queued test delivery.
pub async fn test(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let d = webhooks::send_test(&state.db, auth.vendor_id(), &id, &actor(&auth)).await?;
    Ok(HttpResponse::Accepted().json(d))
}

/// `POST /api/v1/webhook-deliveries/{id}/redeliver` → 202 with the delivery, due now.
pub async fn redeliver(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let d = webhooks::redeliver(&state.db, auth.vendor_id(), &id, &actor(&auth)).await?;
    Ok(HttpResponse::Accepted().json(d))
}

//! `/api/v1/webhook-endpoints` and `/api/v1/webhook-deliveries`: outbound webhooks through
//! the API (full-scope keys only: an endpoint receives every event of the vendor).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::webhooks::{self, Delivery, Endpoint, EndpointPatch, NewEndpoint};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// `?page=&per_page=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page (at most 100).
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Alias of `per_page`.
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// One page of webhook endpoints (the API document's name for `List<Endpoint>`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointPage {
    /// The endpoints of this page, oldest first; never their secrets.
    pub data: Vec<Endpoint>,
    /// Endpoints across all pages.
    pub total: i64,
    /// This page's number (1-based).
    pub page: i64,
    /// Page size used.
    pub per_page: i64,
}

/// One page of an endpoint's deliveries (the API document's name for `List<Delivery>`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDeliveryPage {
    /// The deliveries of this page, newest first, each with its attempts.
    pub data: Vec<Delivery>,
    /// Deliveries across all pages.
    pub total: i64,
    /// This page's number (1-based).
    pub page: i64,
    /// Page size used.
    pub per_page: i64,
}

/// The 422 of the operations that take an endpoint body: the SSRF guard and the filter.
const INVALID_ENDPOINT: &str = "An invalid field, named in `error.field`: `url` that is not an \
absolute `https://` URL, or whose host is or resolves to a non-public address (the SSRF guard; \
`--allow-private-webhook-urls` turns it off), `events` that is empty or combines `*` with \
types, `events[i]` that is not a known event type, or `description` longer than 500 \
characters or with control characters";

impl ListQuery {
    fn page(&self) -> PageQuery {
        PageQuery {
            page: self.page,
            per_page: self.per_page,
            limit: self.limit,
        }
    }
}

/// `GET /api/v1/webhook-endpoints`.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints",
    operation_id = "list_webhook_endpoints",
    tag = "webhooks",
    params(ListQuery),
    responses((status = 200, description = "One page of the vendor's endpoints (full-scope key)", body = WebhookEndpointPage)),
    security(("api_key" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints",
    operation_id = "create_webhook_endpoint",
    tag = "webhooks",
    request_body(content = NewEndpoint, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `secret` is shown only in this answer", body = Endpoint),
        (status = 422, description = INVALID_ENDPOINT, body = crate::http::openapi::ErrorEnvelope),
    ),
    security(("api_key" = [])),
)]
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
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(endpoint))
}

/// `GET /api/v1/webhook-endpoints/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}",
    operation_id = "get_webhook_endpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id (`whe_...`)")),
    responses((status = 200, description = "The endpoint, without its secret", body = Endpoint)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let row = webhooks::get_row(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(Endpoint::from(row)))
}

/// `PATCH /api/v1/webhook-endpoints/{id}` `{url?, description?, events?, enabled?}`.
#[utoipa::path(
    patch,
    path = "/api/v1/webhook-endpoints/{id}",
    operation_id = "update_webhook_endpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id (`whe_...`)")),
    request_body(content = EndpointPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed endpoint", body = Endpoint),
        (status = 422, description = INVALID_ENDPOINT, body = crate::http::openapi::ErrorEnvelope),
    ),
    security(("api_key" = [])),
)]
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
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(endpoint))
}

/// `DELETE /api/v1/webhook-endpoints/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/api/v1/webhook-endpoints/{id}",
    operation_id = "delete_webhook_endpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id (`whe_...`)")),
    responses((status = 204, description = "Deleted, with its deliveries and their log")),
    security(("api_key" = [])),
)]
pub async fn delete(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    webhooks::delete(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/webhook-endpoints/{id}/deliveries?page&per_page` (newest first).
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id (`whe_...`)"), ListQuery),
    responses((status = 200, description = "One page of the endpoint's delivery log", body = WebhookDeliveryPage)),
    security(("api_key" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints/{id}/test",
    operation_id = "test_webhook_endpoint",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id (`whe_...`)")),
    responses((status = 202, description = "A `webhook.test` event is queued to this endpoint, whatever its filter; 409 while the endpoint is disabled", body = Delivery)),
    security(("api_key" = [])),
)]
pub async fn test(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let d = webhooks::send_test(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::Accepted().json(d))
}

/// `POST /api/v1/webhook-deliveries/{id}/redeliver` → 202 with the delivery, due now.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-deliveries/{id}/redeliver",
    operation_id = "redeliver_webhook_delivery",
    tag = "webhooks",
    params(("id" = String, Path, description = "The delivery id (`whd_...`)")),
    responses((status = 202, description = "The delivery, due now for one more attempt (no automatic retries after it); 409 while its endpoint is disabled or an attempt is in flight", body = Delivery)),
    security(("api_key" = [])),
)]
pub async fn redeliver(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let d = webhooks::redeliver(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::Accepted().json(d))
}

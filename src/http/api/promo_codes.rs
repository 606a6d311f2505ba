//! Promotion codes: `/api/v1/affiliates/{id}/promo-codes`, `/api/v1/promo-codes/{id}` (the
//! vendor) and `/api/v1/me/promo-codes` (the affiliate). README: "Promo codes".

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::attribution::promo_codes::{self, PromoCode, PromoCodeInput, PromoCodeUpdate};
use crate::domain::tenancy::api_keys::Scope;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::me::MeAuth;

/// `GET /api/v1/affiliates/{id}/promo-codes` → `{"data": [promo code]}`, oldest first,
/// disabled ones included (`active: false`).
#[utoipa::path(
    get,
    path = "/api/v1/affiliates/{id}/promo-codes",
    operation_id = "list_affiliate_promo_codes",
    tag = "promo-codes",
    params(("id" = String, Path, description = "The affiliate id (`aff_...`)")),
    responses((status = 200, description = "The affiliate's promo codes", body = Object)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let data = promo_codes::list(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// `POST /api/v1/affiliates/{id}/promo-codes` `{code?, program_id?, stripe_promotion_code_id?}`
/// → 201 with the code; a code in use in the vendor (any case) is a 409.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/promo-codes",
    operation_id = "create_affiliate_promo_code",
    tag = "promo-codes",
    params(("id" = String, Path, description = "The affiliate id (`aff_...`)")),
    request_body(content = PromoCodeInput, content_type = "application/json"),
    responses((status = 201, description = "Created", body = PromoCode)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PromoCodeInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let code = promo_codes::create(
        &state.db,
        auth.vendor_id(),
        &id,
        &body.into_inner(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Created().json(code))
}

/// `GET /api/v1/promo-codes/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/promo-codes/{id}",
    operation_id = "get_promo_code",
    tag = "promo-codes",
    params(("id" = String, Path, description = "The promo code id (`pcd_...`)")),
    responses((status = 200, description = "The promo code", body = PromoCode)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    Ok(HttpResponse::Ok().json(promo_codes::get(&state.db, auth.vendor_id(), &id).await?))
}

/// `PATCH /api/v1/promo-codes/{id}` `{active?, stripe_promotion_code_id?}`: disables or
/// enables a code, or links it to its Stripe promotion code.
#[utoipa::path(
    patch,
    path = "/api/v1/promo-codes/{id}",
    operation_id = "update_promo_code",
    tag = "promo-codes",
    params(("id" = String, Path, description = "The promo code id (`pcd_...`)")),
    request_body(content = PromoCodeUpdate, content_type = "application/json"),
    responses((status = 200, description = "The promo code as changed", body = PromoCode)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<PromoCodeUpdate>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let code = promo_codes::update(
        &state.db,
        auth.vendor_id(),
        &id,
        &body.into_inner(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(code))
}

/// `DELETE /api/v1/promo-codes/{id}` → 204; the code stops attributing and is free again.
#[utoipa::path(
    delete,
    path = "/api/v1/promo-codes/{id}",
    operation_id = "delete_promo_code",
    tag = "promo-codes",
    params(("id" = String, Path, description = "The promo code id (`pcd_...`)")),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = [])),
)]
pub async fn delete(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    promo_codes::delete(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/me/promo-codes` → `{"data": [promo code]}`: the affiliate's own codes.
#[utoipa::path(
    get,
    path = "/api/v1/me/promo-codes",
    operation_id = "list_my_promo_codes",
    tag = "me",
    responses((status = 200, description = "The affiliate's promo codes", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn mine(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let data = promo_codes::list_unchecked(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

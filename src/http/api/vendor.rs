//! `GET /api/v1/vendor`: the vendor the key belongs to.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::domain::api_keys::Scope;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;

#[derive(Serialize)]
struct VendorJson {
    id: String,
    name: String,
    slug: String,
    default_currency: String,
    primary_color: String,
    support_email: Option<String>,
    portal_domains: Vec<String>,
    portal_url: String,
    created_at: String,
}

/// Shows the caller's vendor.
pub async fn show(auth: ApiAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let vendor = db::vendors::by_id(state.db.pool(), auth.vendor_id())
        .await?
        .ok_or(AppError::NotFound)?;
    let domains = db::vendors::domains(state.db.pool(), &vendor.id).await?;
    let portal_url = crate::domain::vendors::portal_url_from(
        state.settings.base_url.as_str(),
        &vendor.slug,
        domains.first().map(String::as_str),
    );
    Ok(HttpResponse::Ok().json(VendorJson {
        id: vendor.id,
        name: vendor.name,
        slug: vendor.slug,
        default_currency: vendor.default_currency,
        primary_color: vendor.primary_color,
        support_email: vendor.support_email,
        portal_domains: domains,
        portal_url,
        created_at: db::rfc3339(vendor.created_at),
    }))
}

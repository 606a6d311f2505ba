//! `GET /logo` of the portal (`/p/{slug}/logo`, or `/logo` on the vendor's own domain):
//! the vendor's logo as stored, cacheable for good under its current version.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::{tenancy::branding, tenancy::logo};
use crate::http::AppState;
use crate::http::pages::HtmlError;
use crate::http::portal::Portal;

/// `?v=`: the version the URL was built with.
#[derive(Debug, Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// The policy of a served SVG: no scripts, no external loads, sandboxed even when opened
/// directly; inline styles only (presentation attributes are kept by the sanitiser).
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// `GET /logo[?v=version]` → the logo; 404 without one.
pub async fn show(
    portal: Portal,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Version>,
) -> Result<HttpResponse, HtmlError> {
    let stored = branding::stored_logo(&state.db, &portal.vendor.id)
        .await?
        .ok_or(HtmlError::App(crate::error::AppError::NotFound))?;
    let current =
        q.v.as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v == stored.version);
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    let mut res = HttpResponse::Ok();
    res.content_type(stored.content_type.as_str())
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if stored.content_type == logo::SVG {
        res.insert_header((header::CONTENT_SECURITY_POLICY, SVG_CSP));
    }
    Ok(res.body(stored.bytes))
}

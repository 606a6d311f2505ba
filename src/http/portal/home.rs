//! The portal's landing page and the vendor's brand stylesheet.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::{affiliates, programs};
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render};
use crate::http::portal::Portal;
use crate::http::session;

struct ProgramView {
    name: String,
    commission: String,
    currency: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct PortalHome {
    chrome: Chrome,
    /// The signed-in affiliate's email and referral codes.
    signed_in: Option<(String, Vec<String>)>,
    logout_url: String,
    apply_url: String,
    payouts_url: String,
    payout_settings_url: String,
    vendor_name: String,
    brand_css: String,
    programs: Vec<ProgramView>,
}

/// `GET /`: who the vendor is and what its active programs pay.
pub async fn show(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, HtmlError> {
    let (list, _) = programs::list(&state.db, &portal.vendor.id, 100, 0).await?;
    let programs = list
        .into_iter()
        .filter(|p| p.row.status == "active")
        .map(|p| ProgramView {
            commission: p.commission.describe(),
            name: p.row.name,
            currency: p.row.currency,
        })
        .collect();
    let signed_in = match session::affiliate(&session, &portal.vendor.id) {
        Some(id) => match affiliates::get(&state.db, &portal.vendor.id, &id).await {
            Ok(a) if affiliates::can_sign_in(&a.row.status) => Some((
                a.row.email,
                a.enrollments.into_iter().map(|e| e.code).collect(),
            )),
            _ => None,
        },
        None => None,
    };
    render(
        StatusCode::OK,
        &PortalHome {
            signed_in,
            logout_url: portal.url("/logout"),
            apply_url: portal.url("/apply"),
            payouts_url: portal.url("/payouts"),
            payout_settings_url: portal.url("/payout-settings"),
            chrome: Chrome::new(&session, format!("{} partners", portal.vendor.name)),
            brand_css: portal.url("/brand.css"),
            vendor_name: portal.vendor.name,
            programs,
        },
    )
}

/// `GET /brand.css`: the vendor's colours as CSS variables. A stylesheet rather than an
/// inline style keeps the CSP at `style-src 'self'`.
pub async fn brand_css(portal: Portal) -> HttpResponse {
    let color = if crate::domain::mail::is_hex_color(&portal.vendor.primary_color) {
        portal.vendor.primary_color.as_str()
    } else {
        "#4f46e5"
    };
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(format!(":root {{ --brand: {color}; }}\n"))
}

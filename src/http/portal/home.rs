//! The portal's home (the landing page for visitors, the dashboard for a signed-in
//! affiliate) and the vendor's brand stylesheet.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::partners::programs;
use crate::domain::values::status;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render};
use crate::http::portal::Portal;
use crate::http::portal::dashboard::{self, DashboardQuery};
use crate::http::portal::layout::{self, SignedIn};

struct ProgramView {
    name: String,
    commission: String,
    currency: String,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct PortalHome {
    chrome: Chrome,
    home_url: String,
    logo_url: Option<String>,
    login_url: String,
    apply_url: String,
    vendor_name: String,
    /// The company the affiliates recommend (the vendor's own name, not the portal's).
    company: String,
    brand_css: String,
    programs: Vec<ProgramView>,
}

/// `GET /`: the signed-in affiliate's dashboard (`?period=&program=`); for anyone else,
/// who the vendor is and what its active programs pay, with links to apply and sign in.
pub async fn show(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    q: crate::http::extract::Query<DashboardQuery>,
) -> Result<HttpResponse, HtmlError> {
    if let Some(affiliate) = layout::current(&portal, &state, &session).await? {
        let who = SignedIn {
            portal,
            affiliate,
            session,
        };
        return dashboard::show(who, &state, &q).await;
    }
    let list = programs::all(&state.db, &portal.vendor.id).await?;
    let programs = list
        .into_iter()
        .filter(|p| status::program_is_open(&p.row.status))
        .map(|p| ProgramView {
            commission: p.commission.describe(&p.row.currency),
            name: p.row.name,
            currency: p.row.currency,
        })
        .collect();
    render(
        StatusCode::OK,
        &PortalHome {
            home_url: portal.url("/"),
            logo_url: portal.logo_url(),
            login_url: portal.url("/login"),
            apply_url: portal.url("/apply"),
            chrome: Chrome::new(&session, portal.name().to_owned()),
            brand_css: portal.url("/brand.css"),
            vendor_name: portal.name().to_owned(),
            company: portal.vendor.name.clone(),
            programs,
        },
    )
}

/// `GET /brand.css`: the vendor's colours as CSS variables. A stylesheet rather than an
/// inline style keeps the CSP at `style-src 'self'`. `--on-brand` is the text colour for
/// brand-coloured backgrounds (buttons), chosen by contrast (see
/// [`crate::domain::values::color::text_on`]); `--brand-ink` the brand as link colour,
/// darkened when it is too light to read on the page
/// ([`crate::domain::values::color::ink_on_page`]).
pub async fn brand_css(portal: Portal) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(brand_css_text(&portal.vendor.primary_color))
}

/// The text of `/brand.css` for a brand colour (shared with the embeds).
pub fn brand_css_text(primary_color: &str) -> String {
    use crate::domain::values::color;
    let brand = color::brand_or_default(primary_color);
    format!(
        ":root {{ --brand: {brand}; --on-brand: {}; --brand-ink: {}; }}\n",
        color::text_on(brand),
        color::ink_on_page(brand)
    )
}

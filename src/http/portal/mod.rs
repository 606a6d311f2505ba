//! The affiliate portal, branded per vendor. The same routes serve `/p/{vendor_slug}/...`
//! on the dashboard host and the root of the vendor's own portal domain (see
//! `middleware::host_routing`).

pub mod api_tokens;
pub mod apply;
pub mod auth;
pub use super::chart;
pub mod commissions;
pub mod dashboard;
pub mod deals;
pub mod home;
pub mod layout;
pub mod links;
pub mod logo;
pub mod payouts;
pub mod profile;

pub use layout::SignedIn;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Scope, web};

use crate::db::{self, vendors::VendorRow};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::middleware::host_routing::PortalHost;
use crate::http::pages::HtmlError;

/// The portal scope.
pub fn scope() -> Scope {
    web::scope("/p/{vendor_slug}")
        .route("", web::get().to(add_slash))
        .route("/", web::get().to(home::show))
        .route("/brand.css", web::get().to(home::brand_css))
        .route("/logo", web::get().to(logo::show))
        .route("/apply", web::get().to(apply::form))
        .route("/apply", web::post().to(apply::submit))
        .route("/api-tokens", web::get().to(api_tokens::list))
        .route("/api-tokens", web::post().to(api_tokens::create))
        .route(
            "/api-tokens/{id}/revoke",
            web::post().to(api_tokens::revoke),
        )
        .route("/login", web::get().to(auth::form))
        .route("/login", web::post().to(auth::request))
        .route("/login/portal/{token}", web::get().to(auth::portal_link))
        .route("/application", web::get().to(auth::application))
        .route("/login/link/{token}", web::get().to(auth::confirm))
        .route("/login/link/{token}", web::post().to(auth::accept))
        .route("/logout", web::post().to(auth::logout))
        .route(
            "/logout-everywhere",
            web::post().to(auth::logout_everywhere),
        )
        .route("/payouts", web::get().to(payouts::list))
        .route("/payouts/{id}", web::get().to(payouts::show))
        .route("/payout-settings", web::get().to(payouts::settings_form))
        .route("/payout-settings", web::post().to(payouts::save_settings))
        .route("/links", web::get().to(links::list))
        .route("/links", web::post().to(links::submit))
        .route("/links/{id}", web::get().to(links::edit))
        .route("/links/{id}", web::post().to(links::save))
        .route("/links/{id}/archive", web::post().to(links::archive))
        .route("/links/{id}/restore", web::post().to(links::restore))
        .route("/commissions", web::get().to(commissions::list))
        .route("/deals", web::get().to(deals::list))
        .route("/deals", web::post().to(deals::submit))
        .route("/profile", web::get().to(profile::show))
        .route("/profile", web::post().to(profile::save))
        .default_service(web::to(crate::http::not_found))
}

/// `/p/acme` → `/p/acme/`, so relative links resolve inside the portal.
async fn add_slash(portal: Portal) -> HttpResponse {
    crate::http::pages::see_other(&portal.url("/"))
}

/// The vendor a portal request is for, and how its URLs are written.
#[derive(Debug, Clone)]
pub struct Portal {
    /// The vendor.
    pub vendor: VendorRow,
    /// Path prefix of portal URLs: empty on the vendor's own domain, `/p/{slug}` otherwise.
    pub base: String,
    /// The vendor's own domain the request came in on, if any.
    pub host: Option<String>,
}

impl Portal {
    /// A portal-relative path as a URL path, e.g. `url("/login")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The absolute URL of a portal path on the host this request is served on (links in
    /// emails bring the person back to the same host, where their session cookie lives).
    /// Built from the configured base URL and the vendor's known domain, never from
    /// request headers.
    pub fn absolute_url(&self, base_url: &str, path: &str) -> String {
        let root = crate::domain::tenancy::vendors::site_root(base_url, self.host.as_deref());
        format!("{root}{}", self.url(path))
    }

    /// The name the portal shows (the vendor's portal name, else its name).
    pub fn name(&self) -> &str {
        self.vendor.display_name()
    }

    /// URL of the vendor's logo (versioned, so it can be cached), if it has one.
    pub fn logo_url(&self) -> Option<String> {
        self.vendor
            .logo_version
            .map(|v| self.url(&format!("/logo?v={v}")))
    }
}

impl FromRequest for Portal {
    type Error = HtmlError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, HtmlError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let on_own_domain = req.extensions().get::<PortalHost>().cloned();
        let slug = req
            .match_info()
            .get("vendor_slug")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            if let Some(PortalHost { vendor, host }) = on_own_domain {
                return Ok(Portal {
                    vendor,
                    base: String::new(),
                    host: Some(host),
                });
            }
            let state = state.ok_or(HtmlError::App(AppError::NotFound))?;
            let vendor = db::vendors::by_slug(state.db.pool(), &slug)
                .await?
                .ok_or(HtmlError::App(AppError::NotFound))?;
            let base = format!("/p/{}", vendor.slug);
            Ok(Portal {
                vendor,
                base,
                host: None,
            })
        })
    }
}

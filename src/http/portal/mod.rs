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
use crate::http::route_table::{Access, RouteTable};
use crate::route;

/// The portal's routes, relative to `/p/{vendor_slug}` (and to the root of a vendor's own
/// portal domain): the one place they are declared.
pub fn table() -> RouteTable {
    RouteTable {
        name: "portal",
        prefix: "/p/{vendor_slug}",
        routes: vec![
            route!(GET "" => add_slash, Access::Public("adds the trailing slash")),
            route!(GET "/" => home::show, Access::Public("the portal home: its landing page when signed out")),
            route!(GET "/brand.css" => home::brand_css, Access::Public("the vendor's colours")),
            route!(GET "/logo" => logo::show, Access::Public("the vendor's logo")),
            route!(GET "/apply" => apply::form, Access::Public("the public application form")),
            route!(POST "/apply" => apply::submit, Access::Public("the public application form")),
            route!(GET "/api-tokens" => api_tokens::list, Access::Affiliate),
            route!(POST "/api-tokens" => api_tokens::create, Access::Affiliate),
            route!(POST "/api-tokens/{id}/revoke" => api_tokens::revoke, Access::Affiliate),
            route!(GET "/login" => auth::form, Access::Public("sign-in: the emailed or signed token is the credential")),
            route!(POST "/login" => auth::request, Access::Public("sign-in: the emailed or signed token is the credential")),
            route!(GET "/login/portal/{token}" => auth::portal_link, Access::Public("sign-in: the emailed or signed token is the credential")),
            route!(GET "/application" => auth::application, Access::Public("an applicant's status: the emailed token is the credential")),
            route!(GET "/login/link/{token}" => auth::confirm, Access::Public("sign-in: the emailed or signed token is the credential")),
            route!(POST "/login/link/{token}" => auth::accept, Access::Public("sign-in: the emailed or signed token is the credential")),
            route!(POST "/logout" => auth::logout, Access::Public("signing out needs no session")),
            route!(POST "/logout-everywhere" => auth::logout_everywhere, Access::Affiliate),
            route!(GET "/payouts" => payouts::list, Access::Affiliate),
            route!(GET "/payouts/{id}" => payouts::show, Access::Affiliate),
            route!(GET "/payout-settings" => payouts::settings_form, Access::Affiliate),
            route!(POST "/payout-settings" => payouts::save_settings, Access::Affiliate),
            route!(POST "/payout-settings/tax-details" => payouts::save_tax_details, Access::Affiliate),
            route!(GET "/links" => links::list, Access::Affiliate),
            route!(POST "/links" => links::submit, Access::Affiliate),
            route!(GET "/links/{id}" => links::edit, Access::Affiliate),
            route!(POST "/links/{id}" => links::save, Access::Affiliate),
            route!(POST "/links/{id}/archive" => links::archive, Access::Affiliate),
            route!(POST "/links/{id}/restore" => links::restore, Access::Affiliate),
            route!(GET "/commissions" => commissions::list, Access::Affiliate),
            route!(GET "/deals" => deals::list, Access::Affiliate),
            route!(POST "/deals" => deals::submit, Access::Affiliate),
            route!(GET "/profile" => profile::show, Access::Affiliate),
            route!(POST "/profile" => profile::save, Access::Affiliate),
        ],
    }
}

/// The portal scope.
pub fn scope() -> Scope {
    let table = table();
    web::scope(table.prefix)
        .configure(|cfg| table.register(cfg))
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

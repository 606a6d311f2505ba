//! The HTTP application: shared state, routes of the three surfaces, and the fallbacks.

pub mod api;
pub mod assets;
pub mod billing_webhooks;
pub mod body;
pub mod chart;
pub mod client;
pub mod dashboard;
pub mod embed;
pub mod extract;
pub mod health;
pub mod mcp;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod pagination;
pub mod portal;
pub mod portal_hosts;
pub mod route_table;
pub mod session;
pub mod tracking;
pub mod views;
pub mod webhooks;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::config::Settings;
use crate::db::Db;
use crate::domain::access::affiliate_tokens::Signer;
use crate::domain::attribution::tracking::Tracker;
use crate::domain::earnings::billing::IngestWriter;
use crate::domain::payouts::stripe_connect::StripeConnect;
use crate::domain::tenancy::mail::Sender;
use crate::error::AppError;
use crate::route;
use pages::HtmlError;
use portal_hosts::PortalHosts;

/// State shared by every handler.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Resolved settings.
    pub settings: Arc<Settings>,
    /// Portal host → vendor cache.
    pub portal_hosts: PortalHosts,
    /// Sender address and base URL of every email.
    pub sender: Sender,
    /// Referral-link cache, click writer and visitor windows.
    pub tracker: Tracker,
    /// Stores and processes billing events, committing concurrent ones together.
    pub ingest: IngestWriter,
    /// Money out through Stripe Connect (off unless turned on).
    pub stripe_connect: StripeConnect,
    /// Signs and checks affiliate access tokens.
    pub affiliate_tokens: Signer,
    /// Counts API requests per credential and minute.
    pub rate_limiter: crate::domain::tenancy::rate_limits::RateLimiter,
    /// Looks portal domains' TXT records up (ownership checks).
    pub dns: crate::domain::tenancy::domain_verification::DnsChecker,
}

impl AppState {
    /// The key that derives kernel consumers' secrets (from the installation secret key).
    pub fn consumer_secrets(&self) -> crate::domain::tenancy::consumers::ConsumerSecrets {
        crate::domain::tenancy::consumers::ConsumerSecrets::new(self.settings.secret_key.expose())
    }
}

/// The public pages outside the surfaces: health, static assets, the tracking snippet,
/// Stripe's webhooks (authenticated by their signature), the API documentation and the
/// metrics scrape. The one place they are declared.
pub fn public_table() -> route_table::RouteTable {
    use route_table::{Access, RouteEntry, RouteTable};
    RouteTable {
        name: "public",
        prefix: "",
        routes: vec![
            route!(GET "/healthz" => health::healthz, Access::Public("liveness probe")),
            route!(GET "/readyz" => health::readyz, Access::Public("readiness probe")),
            route!(GET "/static/{path:.*}" => assets::serve, Access::Public("static assets")),
            route!(GET "/t.js" => tracking::snippet, Access::Public("the tracking snippet vendors embed")),
            route!(POST "/webhooks/stripe/{program_id}" => webhooks::stripe_event,
                Access::Public("Stripe's webhooks: the signature with the program's secret is the credential"))
            .body_limit(webhooks::BODY_LIMIT),
            route!(POST "/webhooks/paddle/{program_id}" => billing_webhooks::paddle_event,
                Access::Public("Paddle's webhooks: the signature with the program's secret is the credential"))
            .body_limit(webhooks::BODY_LIMIT),
            route!(POST "/webhooks/lemonsqueezy/{program_id}" => billing_webhooks::lemonsqueezy_event,
                Access::Public("Lemon Squeezy's webhooks: the signature with the program's secret is the credential"))
            .body_limit(webhooks::BODY_LIMIT),
            route!(POST "/webhooks/polar/{program_id}" => billing_webhooks::polar_event,
                Access::Public("Polar's webhooks: the signature with the program's secret is the credential"))
            .body_limit(webhooks::BODY_LIMIT),
            route!(POST "/webhooks/chargebee/{program_id}" => billing_webhooks::chargebee_event,
                Access::Public("Chargebee's webhooks: basic authentication with the program's user name and password"))
            .body_limit(webhooks::BODY_LIMIT),
            route!(GET "/api/docs" => openapi::docs_redirect, Access::Public("API documentation")),
            RouteEntry::mount(
                actix_web::http::Method::GET,
                "/api/docs/{_:.*}",
                Access::Public("API documentation (Swagger UI)"),
                openapi::routes,
            ),
            RouteEntry::served_by(
                actix_web::http::Method::GET,
                openapi::DOCUMENT_PATH,
                Access::Public("the OpenAPI document"),
                "the Swagger UI mount",
            ),
            RouteEntry::served_by(
                actix_web::http::Method::GET,
                metrics::PATH,
                Access::Public("Prometheus scrape: its own bearer token, when one is set"),
                "the app factory, when a metrics token is set",
            ),
        ],
    }
}

/// Registers every route but the referral links ([`tracking::referral_routes`], mounted
/// apart by the app factory).
pub fn routes(cfg: &mut web::ServiceConfig) {
    public_table().register(cfg);
    cfg.service(api::scope())
        .service(mcp::resource())
        .service(portal::scope())
        .service(embed::scope())
        .configure(dashboard::routes);
}

/// Whether a request belongs to the JSON API or the MCP endpoint (and so gets JSON errors).
pub fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/") || mcp::is_mcp(req.path())
}

/// The fallback for unmatched routes: a JSON 404 under `/api`, a page elsewhere; a 405
/// with `Allow` when an API path exists with other methods.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if is_api(&req) {
        let allowed = openapi::allowed_methods(req.path());
        if allowed.is_empty() {
            AppError::NotFound.error_response()
        } else {
            AppError::MethodNotAllowed {
                allow: allowed.join(", "),
            }
            .error_response()
        }
    } else {
        HttpResponse::from_error(HtmlError::App(AppError::NotFound))
    }
}

/// Turns an extractor failure (bad JSON, query, form or path) into our error type, JSON or
/// HTML depending on the surface.
pub fn request_error(req: &HttpRequest, err: AppError) -> actix_web::Error {
    if is_api(req) {
        err.into()
    } else {
        HtmlError::App(err).into()
    }
}

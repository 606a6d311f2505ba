//! Host routing: which surface and which vendor a request is for.
//!
//! * A configured dashboard host serves everything: dashboard, API, and every vendor's
//!   portal under `/p/{vendor_slug}/...`.
//! * A vendor's portal domain (e.g. `affiliates.acme.com`) serves that vendor's portal at
//!   the root: the path is rewritten to `/p/{slug}/...` before routing, so one set of portal
//!   routes serves both forms, and a [`PortalHost`] extension records the custom domain so
//!   the portal builds links without the prefix. Shared paths (API, assets, health,
//!   referral links) are not rewritten.
//! * Any other host gets 404 and learns nothing about the vendors on this server.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};

use crate::db::vendors::VendorRow;
use crate::http::{AppState, client};

/// Set on requests that arrived on a vendor's own portal domain.
#[derive(Debug, Clone)]
pub struct PortalHost {
    /// The vendor whose domain it is.
    pub vendor: VendorRow,
    /// The domain (lower case, no port).
    pub host: String,
}

/// Paths served the same on every known host, never rewritten into the portal.
const SHARED_PREFIXES: &[&str] = &[
    "/static/",
    "/api/",
    "/mcp",
    "/r/",
    "/t.js",
    "/embed/",
    "/webhooks/",
];
/// Paths that answer on any host, known or not (load-balancer probes and Prometheus use
/// bare addresses; `/metrics` asks for its own token).
const ANY_HOST: &[&str] = &["/healthz", "/readyz", "/metrics"];

fn shared(path: &str) -> bool {
    SHARED_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The middleware function (`middleware::from_fn(route_by_host)`).
pub async fn route_by_host(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if ANY_HOST.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError(
            "application state missing",
        ));
    };
    let host = client::request_host(&req, state.settings.trusted_proxy);
    if state.settings.dashboard_hosts.contains(&host) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let vendor = match state.portal_hosts.resolve(&state.db, &host).await {
        Ok(Some(vendor)) => vendor,
        Ok(None) => {
            let res = HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("Unknown host.");
            return Ok(req.into_response(res));
        }
        Err(e) => return Err(actix_web::error::ErrorInternalServerError(e)),
    };
    if !shared(req.path()) {
        let target = match req.uri().query() {
            Some(q) => format!("/p/{}{}?{q}", vendor.slug, req.path()),
            None => format!("/p/{}{}", vendor.slug, req.path()),
        };
        let uri: Uri = target
            .parse()
            .map_err(|_| actix_web::error::ErrorBadRequest("malformed path"))?;
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    req.extensions_mut().insert(PortalHost { vendor, host });
    Ok(next.call(req).await?.map_into_boxed_body())
}

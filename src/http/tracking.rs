//! Referral links (`/r/{code}[/{slug}]`) and the tracking snippet (`/t.js`), served on every
//! known host. Thin: the decisions are in `domain::attribution::tracking::redirect`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;

use crate::domain::attribution::tracking::redirect::{self, COOKIE, LinkRequest, Outcome};
use crate::domain::attribution::tracking::{Visit, params};
use crate::http::client::{self, header_str};
use crate::http::middleware::host_routing::PortalHost;
use crate::http::middleware::security_headers;
use crate::http::pages::ErrorPage;
use crate::http::route_table::{Access, RouteTable};
use crate::http::{AppState, assets};
use crate::route;

/// The referral links, relative to the `/r` scope the app factory mounts them in: the one
/// place they are declared.
pub fn table() -> RouteTable {
    const WHY: &str = "a referral link: public by design, it only records a click";
    RouteTable {
        name: "tracking",
        prefix: "/r",
        routes: vec![
            route!(GET "/" => follow_query, Access::Public(WHY)),
            route!(HEAD "/" => follow_query, Access::Public(WHY)),
            route!(GET "/{code}" => follow, Access::Public(WHY)),
            route!(HEAD "/{code}" => follow, Access::Public(WHY)),
            route!(GET "/{code}/{slug}" => follow, Access::Public(WHY)),
            route!(HEAD "/{code}/{slug}" => follow, Access::Public(WHY)),
        ],
    }
}

/// The referral-link routes, relative to the `/r` scope the app factory mounts them in.
pub fn referral_routes(cfg: &mut web::ServiceConfig) {
    table().register(cfg);
    cfg.default_service(web::to(not_found));
}

/// Any other address under `/r/`.
async fn not_found() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        "Link not found",
        "This referral link does not exist. Check the address, or ask the person who shared it.",
    )
}

/// `GET /r/{code}` and `GET /r/{code}/{slug}`.
pub async fn follow(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let code = req.match_info().get("code").unwrap_or_default().to_owned();
    follow_code(&req, &state, &code).await
}

/// `GET /r/?via=code` (or `ref`, `aff`, `fpr`, `fp_ref`, `gspk`): the link parameters of
/// the tools vendors import from, so an old link pointed at `/r/` keeps attributing.
pub async fn follow_query(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match params::code_from_query(req.query_string()) {
        Some(code) => follow_code(&req, &state, &code).await,
        None => not_found().await,
    }
}

async fn follow_code(req: &HttpRequest, state: &AppState, code: &str) -> HttpResponse {
    let ip = client::client_ip(req, state.settings.trusted_proxy);
    let portal = req.extensions().get::<PortalHost>().cloned();
    let cookie = req.cookie(COOKIE);
    let link = LinkRequest {
        code,
        slug: req.match_info().get("slug"),
        query: Some(req.query_string()).filter(|q| !q.is_empty()),
        visit: Visit {
            ip: &ip,
            user_agent: header_str(req, header::USER_AGENT),
            referrer: header_str(req, header::REFERER),
        },
        portal_vendor: portal
            .as_ref()
            .map(|p| (p.vendor.id.as_str(), p.vendor.slug.as_str())),
        cookie: cookie.as_ref().map(|c| c.value()),
        base_url: &state.sender.base_url,
    };
    match redirect::follow(&state.tracker, &state.db, link).await {
        Ok(Outcome::Redirect { location, cookie }) => {
            let mut res = HttpResponse::Found();
            res.insert_header((header::LOCATION, location))
                // Every click must reach us; no browser or proxy may replay the redirect.
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(c) = cookie {
                res.cookie(
                    Cookie::build(COOKIE, c.value)
                        .path("/")
                        .max_age(CookieDuration::days(c.days))
                        .http_only(true)
                        .secure(state.settings.secure_cookies())
                        .same_site(SameSite::Lax)
                        .finish(),
                );
            }
            res.finish()
        }
        Ok(Outcome::NotFound) => page(
            StatusCode::NOT_FOUND,
            "Link not found",
            "This referral link does not exist. Check the address, or ask the person who shared it.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "referral link lookup failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "This link cannot be followed right now. Please try again in a moment.",
            )
        }
    }
}

fn page(status: StatusCode, heading: &str, message: &str) -> HttpResponse {
    let page = ErrorPage {
        heading: heading.into(),
        message: message.into(),
        css_url: assets::url("app.css"),
    };
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render().unwrap_or_else(|_| message.to_owned()));
    // Referral links run outside the security-header middleware; their pages still get them.
    security_headers::apply(res.headers_mut(), false);
    res
}

/// `GET /t.js`: the tracking snippet for the vendor's site. Its URL cannot carry a version
/// (vendors paste it once), so it is cached for an hour, not forever.
pub async fn snippet() -> HttpResponse {
    match assets::file("t.js") {
        Some(body) => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .body(body),
        None => HttpResponse::NotFound().finish(),
    }
}

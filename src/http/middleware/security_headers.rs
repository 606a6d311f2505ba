//! Security headers on every response. A handler that sets one of them itself keeps its
//! own value: the embed routes set a `Content-Security-Policy` whose `frame-ancestors`
//! lists the vendor's allowed origins (see [`embed_csp`]), and get no `X-Frame-Options`,
//! which cannot express a list and would block every framing.
//!
//! Caching: every answer is `Cache-Control: no-store` unless its handler chose otherwise
//! (static assets, the logo and the brand stylesheet are versioned and public), so pages
//! and API answers showing secrets or payout details (new tokens and keys, payout
//! settings, link pages) are never kept by a browser or a shared cache.
//!
//! Transport: when the base URL is https, `Strict-Transport-Security` tells browsers to
//! use https only for this host for a year (without `includeSubDomains`: the vendors'
//! portal domains are theirs, not ours to pin).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The CSP of every page but the embeds, without its `frame-ancestors` directive.
const BASE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'";

/// Only our own origin may supply scripts, styles, images, frames and form targets; no page
/// may be framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Path prefix of the routes made to be framed by the vendor's app.
pub const EMBED_PREFIX: &str = "/embed/";

/// The CSP of an embed page: the usual policy, framable by exactly `origins` (validated
/// `scheme://host[:port]` values); by nobody when the list is empty.
pub fn embed_csp(origins: &[String]) -> String {
    let ancestors = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    format!("{BASE_CSP}; frame-ancestors {ancestors}")
}

const FIXED: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// `Strict-Transport-Security` of an https installation: one year.
pub const HSTS: &str = "max-age=31536000";

/// The middleware function (`middleware::from_fn(security_headers)`).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let embed = req.path().starts_with(EMBED_PREFIX);
    let https = req
        .app_data::<actix_web::web::Data<crate::http::AppState>>()
        .is_some_and(|s| s.settings.secure_cookies());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    apply(headers, embed);
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// Adds the security headers a response does not set itself (`embed`: a framable page,
/// without `X-Frame-Options`). For handlers outside this middleware (referral links).
pub fn apply(headers: &mut actix_web::http::header::HeaderMap, embed: bool) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        // An embed response that did not name its vendor's origins is framable by nobody.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if !embed && !headers.contains_key(header::X_FRAME_OPTIONS) {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    for (name, value) in FIXED {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_policy_lists_exactly_the_origins() {
        let csp = embed_csp(&[
            "https://app.acme.com".into(),
            "http://localhost:3000".into(),
        ]);
        assert!(csp.ends_with("frame-ancestors https://app.acme.com http://localhost:3000"));
        assert!(embed_csp(&[]).ends_with("frame-ancestors 'none'"));
        assert_eq!(CSP, format!("{BASE_CSP}; frame-ancestors 'none'"));
    }
}

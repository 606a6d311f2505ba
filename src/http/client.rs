//! What the request says about its client and target host.
//!
//! actix-web's `connection_info()` believes `X-Forwarded-*` unconditionally; these helpers
//! honour them only when the operator declared a trusted proxy.

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap};

use crate::config::normalize_host;

/// The host the client asked for, lower case, without port.
pub fn effective_host(headers: &HeaderMap, uri_host: Option<&str>, trusted_proxy: bool) -> String {
    if trusted_proxy && let Some(h) = first_value(headers, "x-forwarded-host") {
        return normalize_host(&h);
    }
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(uri_host)
        .map(normalize_host)
        .unwrap_or_default()
}

/// The client's IP address as a string (`unknown` if the socket has none).
pub fn client_ip(req: &HttpRequest, trusted_proxy: bool) -> String {
    if trusted_proxy && let Some(ip) = first_value(req.headers(), "x-forwarded-for") {
        return ip;
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A header as text, if present and printable.
pub fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Host of a service request (for middleware).
pub fn request_host(req: &ServiceRequest, trusted_proxy: bool) -> String {
    effective_host(req.headers(), req.uri().host(), trusted_proxy)
}

/// The first comma-separated value of a header: the one the client-facing proxy wrote.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = headers.get(name)?.to_str().ok()?;
    let first = raw.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

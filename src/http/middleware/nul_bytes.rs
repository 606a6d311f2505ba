//! No NUL characters in addresses.
//!
//! PostgreSQL's text cannot hold U+0000 (it refuses the whole statement), so a `%00` in an
//! id or a query parameter would otherwise reach the database and end in a 500 on one
//! database and not the other. An id with a NUL names nothing (404); a query parameter with
//! one is a 400 naming the parameter. Bodies are checked by the extractors
//! ([`crate::http::extract`], [`crate::http::api::json`]).

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;
use crate::http::extract::nul_in_urlencoded;
use crate::http::request_error;

/// Paths whose handlers validate every segment themselves: referral links answer an
/// unknown or malformed code with their own "Link not found" page.
const OWN_VALIDATION: &[&str] = &["/r/"];

/// The middleware function (`middleware::from_fn(nul_bytes)`).
pub async fn nul_bytes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.uri().path();
    let refusal = if has_nul_escape(path) && !OWN_VALIDATION.iter().any(|p| path.starts_with(p)) {
        Some(AppError::NotFound)
    } else {
        nul_in_urlencoded(req.query_string().as_bytes())
    };
    match refusal {
        Some(e) => {
            let e = request_error(req.request(), e);
            Ok(req.error_response(e))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// Whether a percent-encoded text holds `%00`.
fn has_nul_escape(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_nuls() {
        assert!(has_nul_escape("/api/v1/affiliates/%00"));
        assert!(has_nul_escape("/a%00b"));
        assert!(!has_nul_escape("/api/v1/affiliates/aff_100%2F"));
        assert!(!has_nul_escape("/%0A%20"));
    }
}

//! A request id on every request: taken from `X-Request-Id` when it looks sane, generated
//! otherwise, attached to the tracing span of the request and echoed in the response.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The header carrying the id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// High-volume paths whose successful requests are logged at DEBUG only: a referral click
/// is recorded in the clicks table already, and an INFO line per click cost more CPU than
/// the redirect itself (benchmark in the README).
const HOT_PATHS: &[&str] = &["/r/", "/t.js", "/static/"];

/// The middleware function (`middleware::from_fn(request_id)`).
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    let hot = HOT_PATHS.iter().any(|p| req.path().starts_with(p));
    // The fmt subscriber formats a span's fields when the span is created, so hot paths get
    // a DEBUG span: free unless debug logging is on.
    let span = if hot {
        tracing::debug_span!("request", id = %id, method = %req.method(), path = %req.path())
    } else {
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path())
    };
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    let status = res.status().as_u16();
    let micros = started.elapsed().as_micros();
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, micros, "handled");
        } else if hot {
            tracing::debug!(status, micros, "handled");
        } else {
            tracing::info!(status, micros, "handled");
        }
    });
    Ok(res)
}

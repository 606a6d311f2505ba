//! CSRF protection for every state-changing request on the HTML surfaces.
//!
//! The token lives in the (encrypted) session and is sent back either as the
//! `X-CSRF-Token` header (HTMX adds it to every request through `hx-headers`) or as the
//! `csrf_token` field of a url-encoded or multipart form (file uploads such as the logo). Checking here, before any handler runs, means
//! a handler cannot forget it, and a refused request changes nothing. Bearer-authenticated
//! API calls, webhooks and referral links carry no cookies worth forging and are exempt, and
//! so are the embeds, which are authenticated by the signed token each request carries (an
//! iframe cannot rely on cookies), never by the session.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::StreamExt;

use crate::error::AppError;
use crate::http::pages::HtmlError;
use crate::http::session;

/// Header HTMX sends the token in.
pub const HEADER: &str = "x-csrf-token";
/// Form field forms send the token in.
pub const FIELD: &str = "csrf_token";
/// Largest form body read for the check (bigger forms must use the header).
const MAX_FORM_BYTES: usize = 256 * 1024;
/// Largest multipart body read for the check: a 512 KiB logo with room for the encoding
/// and the other fields. Bigger uploads without the header are refused with 413.
const MAX_MULTIPART_BYTES: usize = 1024 * 1024;

// `/mcp` is bearer-authenticated like the API (it never reads the session).
const EXEMPT_PREFIXES: &[&str] = &["/api/", "/mcp", "/webhooks/", "/r/", "/embed/"];

/// The middleware function (`middleware::from_fn(csrf)`), inside the session middleware.
pub async fn csrf(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || EXEMPT_PREFIXES.iter().any(|p| req.path().starts_with(p)) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut presented = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if presented.is_none() && is_urlencoded_form(&req) {
        let body = read_body(&mut req, MAX_FORM_BYTES).await?;
        presented = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v));
        // Give the handler its body back.
        req.set_payload(Payload::from(body));
    } else if presented.is_none() && is_multipart_form(&req) {
        let body = read_body(&mut req, MAX_MULTIPART_BYTES).await?;
        presented = multipart_token(req.headers(), body.clone()).await;
        req.set_payload(Payload::from(body));
    }
    let session = req.get_session();
    if !presented.is_some_and(|token| session::csrf_matches(&session, &token)) {
        let err = HtmlError::App(AppError::Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again."
                .into(),
        ));
        tracing::warn!(path = %req.path(), "CSRF check failed");
        // `ServiceResponse::new` keeps the error attached (`into_response` would drop it),
        // so the HTMX middleware can turn it into a toast.
        let (http_req, _) = req.into_parts();
        return Ok(ServiceResponse::new(
            http_req,
            HttpResponse::from_error(err),
        ));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn is_urlencoded_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

fn is_multipart_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
}

/// The `csrf_token` field of a buffered multipart body. Forms put the hidden field first,
/// so usually nothing else is read; a malformed body simply yields no token.
async fn multipart_token(
    headers: &actix_web::http::header::HeaderMap,
    body: Bytes,
) -> Option<String> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut parts = actix_multipart::Multipart::new(headers, stream);
    while let Some(Ok(mut field)) = parts.next().await {
        let is_token = field.name() == Some(FIELD);
        let mut value = BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.ok()?;
            if is_token && value.len() + chunk.len() <= 256 {
                value.extend_from_slice(&chunk);
            }
        }
        if is_token {
            return String::from_utf8(value.to_vec()).ok();
        }
    }
    None
}

async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<Bytes, Error> {
    // An error page (or HTMX toast) with the limit, like every other refusal.
    let too_large = || HtmlError::App(crate::http::body::too_large(limit)).into();
    if crate::http::body::declared_over(req.request(), limit) {
        return Err(too_large());
    }
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

//! A cap on the query string of every route but referral links.
//!
//! No page or API list needs more than a few hundred characters of filters; a longer query
//! string is refused with 414 and the error envelope (an error page on the HTML surfaces)
//! before any extractor parses it. Referral links (`/r/`) are outside this scope: they keep
//! working and simply stop forwarding a query longer than they forward.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;
use crate::http::request_error;

/// Longest query string accepted, in bytes (as sent, percent-encoded).
pub const MAX_QUERY: usize = 8 * 1024;

/// The middleware function (`middleware::from_fn(query_length)`).
pub async fn query_length(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.query_string().len() > MAX_QUERY {
        let e = AppError::TooLarge {
            status: 414,
            message: format!("the query string is longer than {MAX_QUERY} bytes"),
        };
        let e = request_error(req.request(), e);
        return Ok(req.error_response(e));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

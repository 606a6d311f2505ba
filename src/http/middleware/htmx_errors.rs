//! Errors of HTMX requests become toasts.
//!
//! An HTML error normally renders as a full page. When HTMX made the request, swapping a
//! whole page into a table cell would be wrong, so the body is replaced by a toast that is
//! appended to the page's `#toasts` region (`HX-Retarget` / `HX-Reswap`). The layouts
//! configure HTMX to swap error responses.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use askama::Template;

use crate::http::pages::HtmlError;

/// The toast fragment.
#[derive(Template)]
#[template(path = "toast_partial.html")]
struct Toast<'a> {
    kind: &'a str,
    message: &'a str,
}

/// The middleware function (`middleware::from_fn(htmx_errors)`).
pub async fn htmx_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let htmx = req.headers().contains_key("hx-request");
    let res = next.call(req).await?.map_into_boxed_body();
    if !htmx {
        return Ok(res);
    }
    let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<HtmlError>())
    else {
        return Ok(res);
    };
    let replacement = match err {
        HtmlError::SignIn | HtmlError::SignInThen(_) => HttpResponse::Ok()
            .insert_header((
                HeaderName::from_static("hx-redirect"),
                HeaderValue::from_static("/login"),
            ))
            .finish(),
        HtmlError::App(_) => {
            let message = err.message();
            let body = Toast {
                kind: "error",
                message: &message,
            }
            .render()
            .unwrap_or(message.clone());
            let mut new = HttpResponse::build(res.status());
            for (name, value) in res.headers() {
                if name.as_str() == "retry-after" {
                    new.insert_header((name.clone(), value.clone()));
                }
            }
            new.insert_header((
                HeaderName::from_static("hx-retarget"),
                HeaderValue::from_static("#toasts"),
            ))
            .insert_header((
                HeaderName::from_static("hx-reswap"),
                HeaderValue::from_static("beforeend"),
            ))
            .content_type("text/html; charset=utf-8")
            .body(body)
        }
    };
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, replacement))
}

//! A request body must arrive in full within `--body-timeout-secs` (15 s by default).
//!
//! actix-web bounds the time to receive a request's head, not its body: a client that sends
//! the headers and half a body, then stalls, would hold a connection (and the handler
//! waiting on the body) forever. The body stream is wrapped with a deadline; when it passes,
//! the stream ends with an error, and whatever the extractor made of that is replaced by a
//! 408 with the error envelope, and the connection is closed (`Connection: close`): the rest
//! of the body is not coming.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use futures_util::Stream;

use crate::error::AppError;
use crate::http::{AppState, request_error};

/// The middleware function (`middleware::from_fn(body_timeout)`).
pub async fn body_timeout(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<Data<AppState>>()
        .map(|s| s.settings.body_timeout);
    let Some(limit) = limit.filter(|_| has_body(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let fired = Arc::new(AtomicBool::new(false));
    let parked = Rc::new(RefCell::new(None));
    let inner = req.take_payload();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(limit)),
        fired: fired.clone(),
        parked: parked.clone(),
        done: false,
    });
    req.set_payload(Payload::from(stream));
    let timeout = || {
        AppError::RequestTimeout(format!(
            "the request body did not arrive within {}",
            seconds(limit)
        ))
    };
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        // A middleware that reads the body itself (CSRF on forms) fails with the payload
        // error: answered with the envelope too.
        Err(_) if fired.load(Ordering::Relaxed) => return Err(timeout().into()),
        Err(e) => return Err(e),
    };
    if !fired.load(Ordering::Relaxed) {
        return Ok(res);
    }
    // The request is taken back from the response: actix needs to be its only holder.
    let (http_req, _) = res.into_parts();
    tracing::warn!(path = %http_req.path(), "request body timed out");
    let e = request_error(&http_req, timeout());
    let mut res = ServiceResponse::from_err(e, http_req);
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    // The unread body stays alive until the answer is written. Once its reader is dropped,
    // actix "drains" a chunked body instead of closing, and a stalled client then held the
    // connection for ever (found by tests/api/slow_clients.rs).
    let payload = parked.borrow_mut().take();
    Ok(res
        .map_body(|_, body| Holding {
            body,
            _payload: payload,
        })
        .map_into_boxed_body())
}

/// Whether the request announces a body (a length above zero, or chunked).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn seconds(d: Duration) -> String {
    match d.as_secs() {
        1 => "1 second".into(),
        n => format!("{n} seconds"),
    }
}

/// The body stream with a deadline for its end.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: Arc<AtomicBool>,
    /// Where the unread body goes when the deadline passes (see [`Holding`]).
    parked: Rc<RefCell<Option<Payload>>>,
    done: bool,
}

/// An answer's body that also owns the request's unread body until it is written.
struct Holding {
    body: BoxBody,
    _payload: Option<Payload>,
}

impl MessageBody for Holding {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => {
                if self.sleep.as_mut().poll(cx).is_ready() {
                    self.done = true;
                    self.fired.store(true, Ordering::Relaxed);
                    let unread = std::mem::replace(&mut self.inner, Payload::None);
                    *self.parked.borrow_mut() = Some(unread);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "request body timed out",
                    )))))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

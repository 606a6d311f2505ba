//! Reading a request body up to a limit, so an oversized one is a 413 with the error
//! envelope (actix's own `Bytes` extractor answers a bare text 413) and is refused as soon
//! as it is known to be too large: at once when `Content-Length` says so, otherwise at the
//! chunk that crosses the limit, without buffering the rest.

use actix_web::HttpRequest;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::{AppError, AppResult};

/// A human size for messages: `1 MiB`, `256 KiB`.
pub fn describe_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// The 413 for a body over `limit`.
pub fn too_large(limit: usize) -> AppError {
    AppError::payload_too_large(format!(
        "the request body is larger than {}",
        describe_size(limit)
    ))
}

/// Whether the request declares a body longer than `limit`.
pub fn declared_over(req: &HttpRequest, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// Reads the whole body, refusing one over `limit` bytes with a 413.
pub async fn read_limited<S>(req: &HttpRequest, mut payload: S, limit: usize) -> AppResult<Bytes>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    if declared_over(req, limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => too_large(limit),
            other => AppError::BadRequest(format!("could not read body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(describe_size(1024 * 1024), "1 MiB");
        assert_eq!(describe_size(256 * 1024), "256 KiB");
    }
}

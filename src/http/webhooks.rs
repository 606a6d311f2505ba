//! `POST /webhooks/stripe/{program_id}`: Stripe's events for one program.
//!
//! The program's signing secret verifies the raw body (nothing is stored when it does not);
//! the event then goes through the billing pipeline. Stripe is answered 200 for everything
//! it should not retry: processed, ignored, duplicate, unknown type, and authentic bodies we
//! could not read (those are kept as `failed` for a replay).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::db;
use crate::domain::earnings::billing::{self, Door, stripe};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::client::header_str;

/// Largest webhook body accepted (Stripe events are far smaller).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// `POST /webhooks/stripe/{program_id}`.
pub async fn stripe_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let mut reached_pipeline = false;
    let answer = match crate::http::body::read_limited(&req, payload, BODY_LIMIT).await {
        Ok(body) => receive(&req, &state, &program_id, &body, &mut reached_pipeline).await,
        Err(e) => Err(e),
    };
    // The pipeline counts what reaches it; count the refusals before it here.
    if let Err(e) = &answer
        && !reached_pipeline
        && !matches!(e, AppError::Internal(_))
    {
        billing::count_rejected("stripe");
    }
    answer
}

async fn receive(
    req: &HttpRequest,
    state: &AppState,
    program_id: &str,
    body: &[u8],
    reached_pipeline: &mut bool,
) -> AppResult<HttpResponse> {
    let program = db::programs::by_id_any_vendor(state.db.pool(), program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(secret) = program.stripe_webhook_secret.as_deref() else {
        return Err(AppError::BadRequest(
            "this program has no Stripe webhook signing secret; set stripe_webhook_secret".into(),
        ));
    };
    stripe::verify(
        header_str(
            req,
            actix_web::http::header::HeaderName::from_static("stripe-signature"),
        ),
        body,
        secret,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let raw = std::str::from_utf8(body)
        .map_err(|_| AppError::BadRequest("the body is not UTF-8 JSON".into()))?;
    let done = match stripe::normalize(raw) {
        Ok((envelope, event)) => {
            if event.kind == billing::Kind::Unhandled {
                tracing::info!(event_id = %envelope.id, event_type = %envelope.r#type, program_id = %program.id, "Stripe event type not handled; acknowledged");
            }
            let door = Door {
                source: "stripe",
                event_id: &envelope.id,
                event_type: &envelope.r#type,
                payload: raw,
            };
            *reached_pipeline = true;
            billing::ingest(
                &state.db,
                &state.tracker,
                &state.ingest,
                &program,
                &door,
                &event,
            )
            .await?
        }
        // Authentic but not readable as an event we know: kept as failed when it names
        // itself (id and type), refused otherwise.
        Err(message) => {
            let envelope: Value = serde_json::from_str(raw)
                .map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
            let field = |k: &str| envelope.get(k).and_then(Value::as_str).unwrap_or("");
            let (event_id, event_type) = (field("id"), field("type"));
            if event_id.is_empty() || event_type.is_empty() {
                return Err(AppError::BadRequest("the event has no id or type".into()));
            }
            let door = Door {
                source: "stripe",
                event_id,
                event_type,
                payload: raw,
            };
            let created = envelope.get("created").and_then(Value::as_i64).unwrap_or(0);
            *reached_pipeline = true;
            billing::store_unreadable(&state.db, &program, &door, created * 1000, &message).await?
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "received": true,
        "id": done.id,
        "status": done.status,
        "duplicate": done.duplicate,
        "conversion_id": done.conversion_id,
    })))
}

//! `POST /webhooks/{paddle,lemonsqueezy,polar,chargebee}/{program_id}`: the other billing
//! providers' events for one program, through the same pipeline as Stripe's.
//!
//! The program's credential for that provider authenticates the raw body (nothing is
//! stored when it does not: 400 for a bad signature, 401 for Chargebee's basic auth); the
//! event then goes through the billing pipeline under the provider's name as `source`. The
//! provider is answered 200 for everything it should not retry: processed, ignored,
//! duplicate, unknown type, and authentic bodies we could not read (kept as `failed` for a
//! replay).

use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::db::{self, programs::ProgramRow};
use crate::domain::earnings::billing::{
    self, Door, chargebee, lemonsqueezy, paddle, polar, provider::ProviderEvent,
};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::client::header_str;
use crate::http::webhooks::BODY_LIMIT;

/// A provider's door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Paddle,
    LemonSqueezy,
    Polar,
    Chargebee,
}

impl Provider {
    /// The `source` of its events in the billing log.
    fn source(self) -> &'static str {
        match self {
            Self::Paddle => "paddle",
            Self::LemonSqueezy => "lemonsqueezy",
            Self::Polar => "polar",
            Self::Chargebee => "chargebee",
        }
    }

    /// Checks the request's credential against the program's; returns the event id a
    /// header carries (Polar's `webhook-id`).
    fn authenticate(
        self,
        req: &HttpRequest,
        program: &ProgramRow,
        body: &[u8],
    ) -> AppResult<Option<String>> {
        let h = |name: &'static str| header_str(req, HeaderName::from_static(name));
        let missing = |field: &str, what: &str| {
            AppError::BadRequest(format!("this program has no {what}; set {field}"))
        };
        let now = chrono::Utc::now().timestamp();
        match self {
            Self::Paddle => {
                let secret = program.paddle_webhook_secret.as_deref().ok_or_else(|| {
                    missing("paddle_webhook_secret", "Paddle notification secret")
                })?;
                paddle::verify(h("paddle-signature"), body, secret, now)
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                Ok(None)
            }
            Self::LemonSqueezy => {
                let secret = program
                    .lemonsqueezy_webhook_secret
                    .as_deref()
                    .ok_or_else(|| {
                        missing(
                            "lemonsqueezy_webhook_secret",
                            "Lemon Squeezy signing secret",
                        )
                    })?;
                lemonsqueezy::verify(h("x-signature"), body, secret)
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                Ok(None)
            }
            Self::Polar => {
                let secret = program
                    .polar_webhook_secret
                    .as_deref()
                    .ok_or_else(|| missing("polar_webhook_secret", "Polar webhook secret"))?;
                let headers = polar::Headers {
                    id: h("webhook-id"),
                    timestamp: h("webhook-timestamp"),
                    signature: h("webhook-signature"),
                };
                let id = polar::verify(&headers, body, secret, now)
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                Ok(Some(id.to_owned()))
            }
            Self::Chargebee => {
                let (Some(user), Some(pass)) = (
                    program.chargebee_webhook_username.as_deref(),
                    program.chargebee_webhook_password.as_deref(),
                ) else {
                    return Err(missing(
                        "chargebee_webhook_username and chargebee_webhook_password",
                        "Chargebee webhook user name and password",
                    ));
                };
                chargebee::verify(header_str(req, header::AUTHORIZATION), user, pass)
                    .map_err(|e| AppError::Unauthorized(e.to_string()))?;
                Ok(None)
            }
        }
    }

    /// Reads an authenticated body.
    fn read(self, raw: &str, header_id: Option<&str>) -> Result<ProviderEvent, String> {
        match self {
            Self::Paddle => paddle::normalize(raw),
            Self::LemonSqueezy => lemonsqueezy::normalize(raw),
            Self::Polar => polar::normalize(raw, header_id.unwrap_or("")),
            Self::Chargebee => chargebee::normalize(raw),
        }
    }

    /// The id and type of an authentic body that could not be read, where it names them,
    /// so it is kept as `failed` under the key a fixed reader would use.
    fn identity(self, v: &Value, header_id: Option<&str>) -> Option<(String, String)> {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
        };
        let (id, kind) = match self {
            Self::Paddle => (s("/event_id"), s("/event_type")),
            Self::LemonSqueezy => {
                let name = s("/meta/event_name");
                let id = name
                    .as_ref()
                    .zip(s("/data/id"))
                    .map(|(n, i)| format!("{n}:{i}"));
                (id, name)
            }
            Self::Polar => (header_id.map(str::to_owned), s("/type")),
            Self::Chargebee => (s("/id"), s("/event_type")),
        };
        id.zip(kind)
    }
}

/// `POST /webhooks/paddle/{program_id}`.
pub async fn paddle_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    door(Provider::Paddle, req, state, program_id, payload).await
}

/// `POST /webhooks/lemonsqueezy/{program_id}`.
pub async fn lemonsqueezy_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    door(Provider::LemonSqueezy, req, state, program_id, payload).await
}

/// `POST /webhooks/polar/{program_id}`.
pub async fn polar_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    door(Provider::Polar, req, state, program_id, payload).await
}

/// `POST /webhooks/chargebee/{program_id}`.
pub async fn chargebee_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    door(Provider::Chargebee, req, state, program_id, payload).await
}

async fn door(
    provider: Provider,
    req: HttpRequest,
    state: web::Data<AppState>,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let mut reached_pipeline = false;
    let answer = match crate::http::body::read_limited(&req, payload, BODY_LIMIT).await {
        Ok(body) => {
            receive(
                provider,
                &req,
                &state,
                &program_id,
                &body,
                &mut reached_pipeline,
            )
            .await
        }
        Err(e) => Err(e),
    };
    // The pipeline counts what reaches it; count the refusals before it here.
    if let Err(e) = &answer
        && !reached_pipeline
        && !matches!(e, AppError::Internal(_))
    {
        billing::count_rejected(provider.source());
    }
    match answer {
        Err(e @ AppError::Unauthorized(_)) => {
            // Basic authentication: say how to authenticate.
            let mut res = actix_web::ResponseError::error_response(&e);
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"affilia-webhooks\""),
            );
            Ok(res)
        }
        other => other,
    }
}

async fn receive(
    provider: Provider,
    req: &HttpRequest,
    state: &AppState,
    program_id: &str,
    body: &[u8],
    reached_pipeline: &mut bool,
) -> AppResult<HttpResponse> {
    let program = db::programs::by_id_any_vendor(state.db.pool(), program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let header_id = provider.authenticate(req, &program, body)?;
    let raw = std::str::from_utf8(body)
        .map_err(|_| AppError::BadRequest("the body is not UTF-8 JSON".into()))?;
    let source = provider.source();
    let done = match provider.read(raw, header_id.as_deref()) {
        Ok(read) => {
            if read.event.kind == billing::Kind::Unhandled {
                tracing::info!(source, event_id = %read.event_id, event_type = %read.event_type, program_id = %program.id, "billing event type not handled; acknowledged");
            }
            let door = Door {
                source,
                event_id: &read.event_id,
                event_type: &read.event_type,
                payload: raw,
            };
            *reached_pipeline = true;
            billing::ingest(
                &state.db,
                &state.tracker,
                &state.ingest,
                &program,
                &door,
                &read.event,
            )
            .await?
        }
        // Authentic but not readable as an event we know: kept as failed when it names
        // itself, refused otherwise.
        Err(message) => {
            let v: Value = serde_json::from_str(raw)
                .map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
            let (event_id, event_type) =
                provider.identity(&v, header_id.as_deref()).ok_or_else(|| {
                    AppError::BadRequest(format!("the event has no id or type: {message}"))
                })?;
            let door = Door {
                source,
                event_id: &event_id,
                event_type: &event_type,
                payload: raw,
            };
            *reached_pipeline = true;
            let now = chrono::Utc::now().timestamp_millis();
            billing::store_unreadable(&state.db, &program, &door, now, &message).await?
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

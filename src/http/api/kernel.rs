//! The kernel surface (seed 000) under `/api/v1/kernel`: embedded integrations authenticate
//! with an HS256 JWT signed with their consumer secret (`Authorization: Bearer <jwt>`).
//!
//! Only consumer JWTs are accepted here (an API key is a malformed token → 401), and a
//! consumer JWT is accepted nowhere else (the other routes take API keys or affiliate
//! tokens, which a JWT never is).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use crate::domain::earnings::billing::kernel_event::{self, KernelEvent};
use crate::domain::partners::provisioning::{self, ProvisionInput};
use crate::domain::tenancy::consumers::{self, ConsumerPrincipal};
use crate::domain::tenancy::rate_limits::Principal;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::bearer_token;
use crate::http::api::json::ApiJson;
use crate::http::middleware::rate_limit::Resolved;

/// An authenticated kernel request: the consumer and its vendor.
#[derive(Debug, Clone)]
pub struct KernelAuth(pub ConsumerPrincipal);

impl FromRequest for KernelAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(req);
        // The `/api/v1` gate has verified a valid token already (to count it against the
        // consumer's budget); an invalid one is verified again here for its precise code.
        let resolved = req.extensions().get::<Resolved>().cloned();
        Box::pin(async move {
            if let Some(Resolved(Principal::Consumer { consumer, .. })) = resolved {
                return Ok(KernelAuth(consumer));
            }
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("state missing")))?;
            let token = bearer.ok_or_else(|| {
                AppError::Unauthorized("missing Authorization: Bearer <kernel JWT> header".into())
            })?;
            let secrets = state.consumer_secrets();
            consumers::authenticate(&state.db, &secrets, &token)
                .await
                .map(KernelAuth)
        })
    }
}

/// `POST /api/v1/kernel/affiliates/provision` → 200 `{affiliate_id, affiliate_code,
/// membership_id, external_source, external_id, created}`.
#[utoipa::path(
    post,
    path = "/api/v1/kernel/affiliates/provision",
    operation_id = "kernel_provision",
    tag = "kernel",
    description = "Provisions the consumer's user as an affiliate of its vendor (idempotent on \
`external_id`): 200 `{affiliate_id, affiliate_code, membership_id, external_source, external_id, \
created}`. Takes a consumer's HS256 JWT (`kernel_jwt`); a bad token is a 401 with the code \
`invalid_signature`, `token_expired`, `invalid_audience`, `unknown_consumer`, `consumer_disabled` or `invalid_token`.",
    request_body(content = ProvisionInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The affiliate (`created` tells whether this call made it)", body = Object),
        (status = 401, description = "No valid kernel JWT: `error.code` is `invalid_signature`, `token_expired`, `invalid_audience`, `unknown_consumer`, `consumer_disabled` or `invalid_token`", body = crate::http::openapi::ErrorEnvelope),
    ),
    security(("kernel_jwt" = [])),
)]
pub async fn provision(
    auth: KernelAuth,
    state: web::Data<AppState>,
    body: ApiJson<ProvisionInput>,
) -> AppResult<HttpResponse> {
    let done = provisioning::provision(&state.db, &state.sender, &auth.0, &body.0).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// `POST /api/v1/kernel/events` → as `POST /api/v1/events`: 201 with what the event
/// produced, 200 `duplicate: true` for a repeat.
#[utoipa::path(
    post,
    path = "/api/v1/kernel/events",
    operation_id = "kernel_events",
    tag = "kernel",
    description = "A billing event of the consumer's vendor, as `POST /api/v1/events`, naming the \
referrer by `affiliate_external_id`: 201 with what it produced, 200 with `duplicate: true` for a \
repeated `id`. Takes a consumer's HS256 JWT (`kernel_jwt`); a bad token is a 401 with the code \
`invalid_signature`, `token_expired`, `invalid_audience`, `unknown_consumer`, `consumer_disabled` or `invalid_token`.",
    request_body(content = KernelEvent, content_type = "application/json"),
    responses(
        (status = 201, description = "The event, stored and processed", body = Object),
        (status = 200, description = "The same event id again (`duplicate: true`)", body = Object),
        (status = 401, description = "No valid kernel JWT: `error.code` is `invalid_signature`, `token_expired`, `invalid_audience`, `unknown_consumer`, `consumer_disabled` or `invalid_token`", body = crate::http::openapi::ErrorEnvelope),
    ),
    security(("kernel_jwt" = [])),
)]
pub async fn events(
    auth: KernelAuth,
    state: web::Data<AppState>,
    body: ApiJson<KernelEvent>,
) -> AppResult<HttpResponse> {
    let done = kernel_event::receive(
        &state.db,
        &state.tracker,
        &state.ingest,
        &auth.0,
        body.into_inner(),
    )
    .await?;
    Ok(if done.duplicate {
        HttpResponse::Ok().json(done)
    } else {
        HttpResponse::Created().json(done)
    })
}

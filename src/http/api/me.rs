//! `/api/v1/me/...`: the affiliate's self-service API. Authenticated by an affiliate access
//! token (never an API key); no route takes an affiliate id — the affiliate is the token's.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::db;
use crate::domain::affiliate_tokens::PREFIX;
use crate::domain::affiliates::can_sign_in;
use crate::domain::deals::{self, DealInput};
use crate::domain::links::{self, LinkInput};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::bearer_token;
use crate::http::api::json::ApiJson;

/// An authenticated affiliate.
#[derive(Debug, Clone)]
pub struct MeAuth {
    /// Tenant.
    pub vendor_id: String,
    /// The affiliate.
    pub affiliate_id: String,
}

impl FromRequest for MeAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("state missing")))?;
            let token = bearer.ok_or_else(|| {
                AppError::Unauthorized("missing Authorization: Bearer <affiliate token>".into())
            })?;
            if !token.starts_with(PREFIX) {
                return Err(AppError::Unauthorized(
                    "/api/v1/me takes an affiliate token, not an API key".into(),
                ));
            }
            let claims = state
                .affiliate_tokens
                .verify(&token, db::now_ms())
                .ok_or_else(|| {
                    AppError::Unauthorized("invalid or expired affiliate token".into())
                })?;
            let affiliate =
                db::affiliates::by_id(state.db.pool(), &claims.vendor_id, &claims.affiliate_id)
                    .await?
                    .filter(|a| can_sign_in(&a.status))
                    .ok_or_else(|| {
                        AppError::Unauthorized("this affiliate cannot sign in".into())
                    })?;
            Ok(MeAuth {
                vendor_id: affiliate.vendor_id,
                affiliate_id: affiliate.id,
            })
        })
    }
}

/// `GET /api/v1/me/links`.
pub async fn links(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let data = links::list(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// `POST /api/v1/me/links` → 201 with the link and its URL.
pub async fn create_link(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<LinkInput>,
) -> AppResult<HttpResponse> {
    let link = links::create(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Created().json(link))
}

/// `GET /api/v1/me/deals`.
pub async fn deals(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let filter = db::deals::Filter {
        vendor_id: &me.vendor_id,
        status: None,
        affiliate_id: Some(&me.affiliate_id),
    };
    let (data, total) = deals::list(&state.db, &filter, 100, 0).await?;
    Ok(HttpResponse::Ok().json(json!({"data": data, "total": total})))
}

/// `POST /api/v1/me/deals` → 201 with the pending deal.
pub async fn create_deal(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<DealInput>,
) -> AppResult<HttpResponse> {
    let deal = deals::submit(&state.db, &me.vendor_id, &me.affiliate_id, &body.0).await?;
    Ok(HttpResponse::Created().json(deal))
}

//! `Authorization: Bearer <api key>` → the vendor the request acts for.
//!
//! The `/api/v1` middleware ([`crate::http::middleware::rate_limit`]) resolves the key once
//! per request; the extractor reads its result from the request extensions.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::domain::tenancy::api_keys::{self, ApiPrincipal, Scope};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::rate_limits::Principal;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::middleware::rate_limit::Resolved;

/// An authenticated vendor API request.
#[derive(Debug, Clone)]
pub struct ApiAuth(pub ApiPrincipal);

impl ApiAuth {
    /// The tenant of the request.
    pub fn vendor_id(&self) -> &str {
        &self.0.vendor_id
    }

    /// The caller's vendor row.
    pub async fn vendor(
        &self,
        state: &AppState,
    ) -> Result<crate::db::vendors::VendorRow, AppError> {
        crate::db::vendors::by_id(state.db.pool(), self.vendor_id())
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The audit-log actor of the request: the key that made it.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.0.key_id.clone())
    }

    /// Fails with 403 unless the key's scope includes `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), AppError> {
        self.require_any(&[needed])
    }

    /// Fails with 403 unless the key's scope includes one of `allowed` (the browser
    /// routes take a write key or a publishable key).
    pub fn require_any(&self, allowed: &[Scope]) -> Result<(), AppError> {
        let needed = allowed.first().copied().unwrap_or(Scope::Full);
        if allowed.iter().any(|s| self.0.scope.allows(*s)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this API key has {} scope; {} is required",
                self.0.scope.as_str(),
                needed.as_str()
            )))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned())
}

impl FromRequest for ApiAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(req);
        let resolved = req.extensions().get::<Resolved>().cloned();
        Box::pin(async move {
            let key = bearer.ok_or_else(|| {
                AppError::Unauthorized("missing Authorization: Bearer <api key> header".into())
            })?;
            match resolved {
                Some(Resolved(Principal::ApiKey(p))) => Ok(ApiAuth(p)),
                Some(_) => Err(AppError::Unauthorized("invalid API key".into())),
                // Outside the `/api/v1` middleware: authenticate here.
                None => {
                    let state = state
                        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("state missing")))?;
                    api_keys::authenticate(&state.db, &key).await.map(ApiAuth)
                }
            }
        })
    }
}

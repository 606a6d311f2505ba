//! `Authorization: Bearer <api key>` → the vendor the request acts for.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::tenancy::api_keys::{self, ApiPrincipal, Scope};
use crate::error::AppError;
use crate::http::AppState;

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

    /// Fails with 403 unless the key's scope includes `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), AppError> {
        if self.0.scope.allows(needed) {
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
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("state missing")))?;
            let key = bearer.ok_or_else(|| {
                AppError::Unauthorized("missing Authorization: Bearer <api key> header".into())
            })?;
            api_keys::authenticate(&state.db, &key).await.map(ApiAuth)
        })
    }
}

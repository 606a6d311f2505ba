//! The one check of an affiliate credential, shared by the self-service API
//! (`/api/v1/me`) and the MCP server: a signed access or embed token (`afft_`) or a
//! personal token (`afpt_`), never a vendor API key. The affiliate is re-read on every use,
//! so a deactivated or banned affiliate's credentials stop working at once.

use crate::db::{self, Db, affiliates::AffiliateRow};
use crate::domain::access::{affiliate_tokens, personal_tokens};
use crate::domain::partners::affiliates;
use crate::error::{AppError, AppResult};

/// Whether `token` looks like an affiliate credential (rather than a vendor API key).
pub fn is_affiliate_token(token: &str) -> bool {
    token.starts_with(affiliate_tokens::PREFIX) || token.starts_with(personal_tokens::PREFIX)
}

/// The affiliate a bearer credential speaks for; 401 when it is invalid, expired, revoked,
/// or the affiliate may no longer sign in.
pub async fn affiliate(
    db: &Db,
    signer: &affiliate_tokens::Signer,
    token: &str,
) -> AppResult<AffiliateRow> {
    if token.starts_with(affiliate_tokens::PREFIX) {
        let claims = signer
            .verify(token, db::now_ms())
            .ok_or_else(|| AppError::Unauthorized("invalid or expired affiliate token".into()))?;
        affiliates::signed_in(db, &claims.vendor_id, &claims.affiliate_id)
            .await?
            .ok_or_else(|| AppError::Unauthorized("this affiliate cannot sign in".into()))
    } else if token.starts_with(personal_tokens::PREFIX) {
        personal_tokens::authenticate(db, token)
            .await?
            .ok_or_else(|| AppError::Unauthorized("invalid or revoked personal token".into()))
    } else {
        Err(AppError::Unauthorized(
            "this takes an affiliate token, not an API key".into(),
        ))
    }
}

//! Personal API tokens an affiliate creates in the portal for the self-service API
//! (`/api/v1/me`): long-lived unlike signed access tokens, so they are stored (hashed) and
//! revocable one by one. The token is shown once, at creation.

use serde_json::{Value, json};

use crate::db::affiliates::AffiliateRow;
use crate::db::{self, Db, affiliate_api_tokens::TokenRow};
use crate::domain::partners::affiliates::signed_in;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::{values::text, values::tokens};
use crate::error::{AppError, AppResult};

/// Token prefix.
pub const PREFIX: &str = "afpt_";
/// Unrevoked tokens an affiliate may hold at once.
pub const MAX_ACTIVE: i64 = 10;
const NAME_MAX: usize = 80;

/// Creates a token named `name` for the affiliate; returns the secret (shown once) and the
/// stored row. More than [`MAX_ACTIVE`] live tokens → 409.
pub async fn create(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    name: &str,
) -> AppResult<(String, TokenRow)> {
    let name = text::required("name", name, NAME_MAX)?;
    let mut tx = db.begin().await?;
    if db::affiliate_api_tokens::count_active(&mut *tx, vendor_id, affiliate_id).await?
        >= MAX_ACTIVE
    {
        return Err(AppError::wrong_state(format!(
            "you already have {MAX_ACTIVE} tokens; revoke one first"
        )));
    }
    let secret = format!("{PREFIX}{}", tokens::random_hex(24));
    let row = db::affiliate_api_tokens::insert(
        &mut *tx,
        vendor_id,
        affiliate_id,
        &name,
        &secret[..PREFIX.len() + 6],
        &tokens::sha256_hex(&secret),
    )
    .await?;
    audit::record(
        &mut *tx,
        vendor_id,
        &Actor::Affiliate(affiliate_id.to_owned()),
        "affiliate.personal_token_created",
        ("affiliate", Some(affiliate_id)),
        json!({"token_id": row.id, "name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok((secret, row))
}

/// The affiliate's tokens, newest first (revoked ones included, marked).
pub async fn list(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Vec<TokenRow>> {
    Ok(db::affiliate_api_tokens::list(db.pool(), vendor_id, affiliate_id).await?)
}

/// Revokes one of the affiliate's tokens (another's or an unknown id → 404).
pub async fn revoke(db: &Db, vendor_id: &str, affiliate_id: &str, id: &str) -> AppResult<()> {
    let mut tx = db.begin().await?;
    if !db::affiliate_api_tokens::revoke(&mut *tx, vendor_id, affiliate_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        &Actor::Affiliate(affiliate_id.to_owned()),
        "affiliate.personal_token_revoked",
        ("affiliate", Some(affiliate_id)),
        json!({"token_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who a presented personal token speaks for: the affiliate of a live token, if it may
/// still sign in.
pub async fn authenticate(db: &Db, secret: &str) -> AppResult<Option<AffiliateRow>> {
    let Some(row) =
        db::affiliate_api_tokens::by_hash(db.pool(), &tokens::sha256_hex(secret)).await?
    else {
        return Ok(None);
    };
    let Some(affiliate) = signed_in(db, &row.vendor_id, &row.affiliate_id).await? else {
        return Ok(None);
    };
    let now = db::now_ms();
    if db::api_keys::touch_due(row.last_used_at, now) {
        db::affiliate_api_tokens::touch(db.pool(), &row.id, now).await?;
    }
    Ok(Some(affiliate))
}

/// A token in JSON (never the secret).
pub fn token_json(t: &TokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": db::rfc3339(t.created_at),
        "last_used_at": t.last_used_at.map(db::rfc3339),
        "revoked_at": t.revoked_at.map(db::rfc3339),
    })
}

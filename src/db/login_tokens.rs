//! Single-use sign-in tokens (magic links, invites), stored as SHA-256 hashes.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// What a valid token grants.
#[derive(Debug, Clone, FromRow)]
pub struct TokenGrant {
    /// Tenant.
    pub vendor_id: String,
    /// The account it signs in.
    pub subject_id: String,
}

/// Stores a token hash for `purpose`, valid until `expires_at` (unix ms).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    purpose: &str,
    subject_id: &str,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_tokens (id, vendor_id, purpose, subject_id, token_hash, expires_at, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id("ltk"))
    .bind(vendor_id)
    .bind(purpose)
    .bind(subject_id)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}

/// The grant of an unused, unexpired token, without using it.
pub async fn peek<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<TokenGrant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor_id, subject_id FROM login_tokens WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(purpose)
    .bind(now_ms())
    .fetch_optional(ex)
    .await
}

/// Uses a token: the conditional update lets exactly one of two concurrent uses succeed.
pub async fn consume<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<TokenGrant>, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(
        "UPDATE login_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $1 RETURNING vendor_id, subject_id",
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(ex)
    .await
}

/// The purpose and grant of an unused, unexpired token among `purposes`, without using it.
pub async fn peek_among<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    purposes: [&str; 3],
    token_hash: &str,
) -> Result<Option<(String, TokenGrant)>, sqlx::Error> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT purpose, vendor_id, subject_id FROM login_tokens WHERE token_hash = $1 \
         AND purpose IN ($2, $3, $4) AND used_at IS NULL AND expires_at > $5",
    )
    .bind(token_hash)
    .bind(purposes[0])
    .bind(purposes[1])
    .bind(purposes[2])
    .bind(now_ms())
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(purpose, vendor_id, subject_id)| {
        (
            purpose,
            TokenGrant {
                vendor_id,
                subject_id,
            },
        )
    }))
}

/// Voids the unused tokens of `purpose` for one account (a re-sent invitation replaces the
/// old link; a new password makes older reset links useless).
pub async fn void_for<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    purpose: &str,
    subject_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE login_tokens SET used_at = $1 WHERE purpose = $2 AND subject_id = $3 \
         AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(purpose)
    .bind(subject_id)
    .execute(ex)
    .await?;
    Ok(())
}

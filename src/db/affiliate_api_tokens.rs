//! Affiliates' personal API tokens (SHA-256 hashes only).

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A personal token as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    /// `apt_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The affiliate it speaks for.
    pub affiliate_id: String,
    /// The affiliate's label for it.
    pub name: String,
    /// First characters of the token, to recognise it in lists.
    pub prefix: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last use, unix ms (written at most every few minutes).
    pub last_used_at: Option<i64>,
    /// Revocation time, unix ms.
    pub revoked_at: Option<i64>,
}

macro_rules! cols {
    () => {
        "id, vendor_id, affiliate_id, name, prefix, created_at, last_used_at, revoked_at"
    };
}

/// Stores a new token's hash and returns the row.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    name: &str,
    prefix: &str,
    token_hash: &str,
) -> Result<TokenRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO affiliate_api_tokens (id, vendor_id, affiliate_id, name, prefix, \
         token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        cols!()
    ))
    .bind(new_id("apt"))
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(name)
    .bind(prefix)
    .bind(token_hash)
    .bind(now_ms())
    .fetch_one(ex)
    .await
}

/// The unrevoked token with this hash.
pub async fn by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliate_api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(token_hash)
    .fetch_optional(ex)
    .await
}

/// An affiliate's tokens, newest first.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliate_api_tokens WHERE vendor_id = $1 AND affiliate_id = $2 \
          ORDER BY created_at DESC, id DESC"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// Counts an affiliate's unrevoked tokens.
pub async fn count_active<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM affiliate_api_tokens WHERE vendor_id = $1 AND affiliate_id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Revokes one of the affiliate's tokens; `false` when it is not theirs or already revoked.
pub async fn revoke<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE affiliate_api_tokens SET revoked_at = $1 WHERE id = $2 AND vendor_id = $3 \
         AND affiliate_id = $4 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(id)
    .bind(vendor_id)
    .bind(affiliate_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a use, when the last recorded one is older than the API-key touch interval.
pub async fn touch<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE affiliate_api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

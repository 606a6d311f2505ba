//! Vendor API keys (hashed).

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// An API key as stored; the key itself is never stored.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    /// `key_...`
    pub id: String,
    /// Owning vendor: every request made with the key is scoped to it.
    pub vendor_id: String,
    /// Label given at creation.
    pub name: String,
    /// The first characters of the key, shown in lists to recognise it.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    /// `full`, `write` or `read`.
    pub scope: String,
    /// Last use, unix ms (updated at most once a minute).
    pub last_used_at: Option<i64>,
}

/// Stores a new key's hash.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    name: &str,
    prefix: &str,
    key_hash: &str,
    scope: &str,
) -> Result<String, sqlx::Error> {
    let (id,): (String,) = sqlx::query_as(
        "INSERT INTO api_keys (id, vendor_id, name, prefix, key_hash, scope, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new_id("key"))
    .bind(vendor_id)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(scope)
    .bind(now_ms())
    .fetch_one(ex)
    .await?;
    Ok(id)
}

/// The live (not revoked) key with this hash.
pub async fn live_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, name, prefix, key_hash, scope, last_used_at FROM api_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(ex)
    .await
}

/// How often `last_used_at` is written at most.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Whether a key last used at `last_used_at` should be touched at `now`.
pub fn touch_due(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|t| t < now - TOUCH_EVERY_MS)
}

/// Records use of a key, writing at most once a minute per key so a busy integration does
/// not turn every read into a write (the condition also settles concurrent touches).
pub async fn touch<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(now - TOUCH_EVERY_MS)
    .execute(ex)
    .await?;
    Ok(())
}

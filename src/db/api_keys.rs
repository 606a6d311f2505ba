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
    /// The vendor's read budget per minute (`None`: installation default).
    pub rate_limit_read_per_minute: Option<i64>,
    /// The vendor's write budget per minute (`None`: installation default).
    pub rate_limit_write_per_minute: Option<i64>,
}

/// A key as listed: everything but its hash.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyListRow {
    /// `key_...`
    pub id: String,
    /// Label given at creation.
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// `full`, `write`, `read` or `publishable`.
    pub scope: String,
    /// The whole key, kept only for publishable keys (public by nature).
    pub publishable_key: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last use, unix ms.
    pub last_used_at: Option<i64>,
    /// Revocation time, unix ms.
    pub revoked_at: Option<i64>,
}

/// Stores a new key's hash.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    name: &str,
    prefix: &str,
    key_hash: &str,
    scope: &str,
    publishable_key: Option<&str>,
) -> Result<String, sqlx::Error> {
    let (id,): (String,) = sqlx::query_as(
        "INSERT INTO api_keys (id, vendor_id, name, prefix, key_hash, scope, created_at, \
         publishable_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(new_id("key"))
    .bind(vendor_id)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(scope)
    .bind(now_ms())
    .bind(publishable_key)
    .fetch_one(ex)
    .await?;
    Ok(id)
}

macro_rules! list_cols {
    () => {
        "id, name, prefix, scope, publishable_key, created_at, last_used_at, revoked_at"
    };
}

/// A vendor's keys, newest first, revoked ones included.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ApiKeyListRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        list_cols!(),
        " FROM api_keys WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC \
         LIMIT $2 OFFSET $3"
    ))
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many keys a vendor has (revoked ones included).
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// One key of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ApiKeyListRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        list_cols!(),
        " FROM api_keys WHERE vendor_id = $1 AND id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Revokes a live key of a vendor; `false` when it is unknown or already revoked.
pub async fn revoke<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE vendor_id = $2 AND id = $3 \
         AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The live (not revoked) key with this hash, with its vendor's rate limits (one query:
/// this runs on every API request).
pub async fn live_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.vendor_id, k.name, k.prefix, k.key_hash, k.scope, k.last_used_at, \
         v.rate_limit_read_per_minute, v.rate_limit_write_per_minute \
         FROM api_keys k JOIN vendors v ON v.id = k.vendor_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
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

//! Kernel consumers: embedded integrations that sign HS256 JWTs (seed 000).

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A consumer as stored. The signing secret itself is never stored (see
/// `domain::tenancy::consumers`).
#[derive(Debug, Clone, FromRow)]
pub struct ConsumerRow {
    /// `csm_...`
    pub id: String,
    /// Owning vendor: everything a consumer's token does is scoped to it.
    pub vendor_id: String,
    /// The JWT `iss`, lower case, unique across the installation.
    pub name: String,
    /// Label stamped on the affiliates it provisions (`affiliates.external_source`).
    pub external_source: String,
    /// Random seed the secret is derived from; a new one rotates the secret.
    pub secret_seed: String,
    /// The first characters of the secret, shown in lists to recognise it.
    pub secret_prefix: String,
    /// Read (GET) requests per minute; `None` = the default.
    pub read_limit_per_minute: Option<i64>,
    /// Write requests per minute; `None` = the default.
    pub write_limit_per_minute: Option<i64>,
    /// 1 when tokens are accepted, 0 when disabled.
    pub enabled: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// When the current secret was issued, unix ms.
    pub secret_rotated_at: i64,
    /// Last accepted token, unix ms (written at most once a minute).
    pub last_used_at: Option<i64>,
}

/// What a new consumer is made of.
#[derive(Debug, Clone)]
pub struct NewConsumer<'a> {
    /// Pre-generated id (the secret is derived from it).
    pub id: &'a str,
    /// Tenant.
    pub vendor_id: &'a str,
    /// Lower-case name.
    pub name: &'a str,
    /// External source label.
    pub external_source: &'a str,
    /// Secret seed.
    pub secret_seed: &'a str,
    /// Shown prefix of the secret.
    pub secret_prefix: &'a str,
    /// Read limit per minute.
    pub read_limit_per_minute: Option<i64>,
    /// Write limit per minute.
    pub write_limit_per_minute: Option<i64>,
}

const COLS: &str = "id, vendor_id, name, external_source, secret_seed, secret_prefix, \
    read_limit_per_minute, write_limit_per_minute, enabled, created_at, updated_at, \
    secret_rotated_at, last_used_at";

/// A new consumer id.
pub fn new_consumer_id() -> String {
    new_id("csm")
}

/// Stores a consumer; a taken name is a unique violation on `name`.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    c: &NewConsumer<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO consumers (id, vendor_id, name, external_source, secret_seed, secret_prefix, \
         read_limit_per_minute, write_limit_per_minute, enabled, created_at, updated_at, \
         secret_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, $9)",
    )
    .bind(c.id)
    .bind(c.vendor_id)
    .bind(c.name)
    .bind(c.external_source)
    .bind(c.secret_seed)
    .bind(c.secret_prefix)
    .bind(c.read_limit_per_minute)
    .bind(c.write_limit_per_minute)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The consumer named `name` (lower case), whatever its vendor: the JWT `iss` lookup.
pub async fn by_name<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
) -> Result<Option<ConsumerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM consumers WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(ex)
    .await
}

/// One consumer of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ConsumerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM consumers WHERE vendor_id = $1 AND id = $2"
    )))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// One page of a vendor's consumers, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ConsumerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM consumers WHERE vendor_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    )))
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many consumers a vendor has.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM consumers WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// The settings a vendor may change.
#[derive(Debug, Clone)]
pub struct ConsumerSettings<'a> {
    /// External source label.
    pub external_source: &'a str,
    /// Whether tokens are accepted.
    pub enabled: bool,
    /// Read limit per minute.
    pub read_limit_per_minute: Option<i64>,
    /// Write limit per minute.
    pub write_limit_per_minute: Option<i64>,
}

/// Rewrites a consumer's settings; `false` if there is no such consumer.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    s: &ConsumerSettings<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE consumers SET external_source = $1, enabled = $2, read_limit_per_minute = $3, \
         write_limit_per_minute = $4, updated_at = $5 WHERE vendor_id = $6 AND id = $7",
    )
    .bind(s.external_source)
    .bind(i64::from(s.enabled))
    .bind(s.read_limit_per_minute)
    .bind(s.write_limit_per_minute)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the secret seed (rotation); `false` if there is no such consumer.
pub async fn set_secret<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    secret_seed: &str,
    secret_prefix: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE consumers SET secret_seed = $1, secret_prefix = $2, secret_rotated_at = $3, \
         updated_at = $3 WHERE vendor_id = $4 AND id = $5",
    )
    .bind(secret_seed)
    .bind(secret_prefix)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records use of a consumer, at most once a minute (see `api_keys::touch`).
pub async fn touch<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE consumers SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(now - 60_000)
    .execute(ex)
    .await?;
    Ok(())
}

//! The audit log: who did what to which object, when.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// `user`, `api_key`, `affiliate`, `system` or `cli`.
    pub actor_type: &'a str,
    /// Id of the actor, when there is one.
    pub actor_id: Option<&'a str>,
    /// Dotted action name, e.g. `vendor.created`.
    pub action: &'a str,
    /// Kind of object acted upon.
    pub object_type: &'a str,
    /// Id of the object.
    pub object_id: Option<&'a str>,
    /// JSON details.
    pub details: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    /// `aud_...`
    pub id: String,
    /// Actor kind.
    pub actor_type: String,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Action name.
    pub action: String,
    /// Object kind.
    pub object_type: String,
    /// Object id.
    pub object_id: Option<String>,
    /// JSON details.
    pub details: String,
    /// Time, unix ms.
    pub created_at: i64,
}

/// Appends an entry.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    entry: &NewAuditEntry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, vendor_id, actor_type, actor_id, action, object_type, \
         object_id, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id("aud"))
    .bind(entry.vendor_id)
    .bind(entry.actor_type)
    .bind(entry.actor_id)
    .bind(entry.action)
    .bind(entry.object_type)
    .bind(entry.object_id)
    .bind(&entry.details)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}

/// One page of a vendor's entries, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, actor_type, actor_id, action, object_type, object_id, details, created_at \
         FROM audit_log WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// The newest entries about one object of a vendor.
pub async fn for_object<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    object_id: &str,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, actor_type, actor_id, action, object_type, object_id, details, created_at \
         FROM audit_log WHERE vendor_id = $1 AND object_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(vendor_id)
    .bind(object_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// How many entries a vendor has.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// The audit page's filters; empty strings and `None` mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor kind (`user`, `api_key`, `system`, ...).
    pub actor_type: String,
    /// Actor id.
    pub actor_id: String,
    /// Object kind (`program`, `affiliate`, ...).
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// From this time (unix ms, inclusive).
    pub from_ms: Option<i64>,
    /// Before this time (unix ms, exclusive).
    pub to_ms: Option<i64>,
}

/// The filter's WHERE clause; `$1` is the vendor, `$2..$7` the filter (bound by [`bind`]).
macro_rules! filtered {
    () => {
        " FROM audit_log WHERE vendor_id = $1 AND ($2 = '' OR actor_type = $2) \
         AND ($3 = '' OR COALESCE(actor_id, '') = $3) AND ($4 = '' OR object_type = $4) \
         AND ($5 = '' OR COALESCE(object_id, '') = $5) AND created_at >= $6 AND created_at < $7"
    };
}

fn bounds(f: &AuditFilter) -> (i64, i64) {
    (f.from_ms.unwrap_or(i64::MIN), f.to_ms.unwrap_or(i64::MAX))
}

/// One page of a vendor's entries matching `f`, newest first.
pub async fn search<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    f: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let (from, to) = bounds(f);
    sqlx::query_as(concat!(
        "SELECT id, actor_type, actor_id, action, object_type, object_id, details, created_at",
        filtered!(),
        " ORDER BY created_at DESC, id DESC LIMIT $8 OFFSET $9"
    ))
    .bind(vendor_id)
    .bind(&f.actor_type)
    .bind(&f.actor_id)
    .bind(&f.object_type)
    .bind(&f.object_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many of a vendor's entries match `f`.
pub async fn count_matching<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    f: &AuditFilter,
) -> Result<i64, sqlx::Error> {
    let (from, to) = bounds(f);
    let (n,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*)", filtered!()))
        .bind(vendor_id)
        .bind(&f.actor_type)
        .bind(&f.actor_id)
        .bind(&f.object_type)
        .bind(&f.object_id)
        .bind(from)
        .bind(to)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// The distinct actors of a vendor's entries (kind, id), for the "who" filter.
pub async fn actors<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT actor_type, actor_id FROM audit_log WHERE vendor_id = $1 \
         ORDER BY actor_type, actor_id",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// The display name of an object or actor of a vendor by kind and id (`user`, `api_key`,
/// `affiliate`, `consumer`, `program`, `webhook_endpoint`, `vendor`, `application`), or
/// `None` when it is gone or the kind has no name.
pub async fn name_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let sql = match kind {
        "user" => {
            "SELECT CASE WHEN name = '' THEN email ELSE name END FROM vendor_users \
             WHERE vendor_id = $1 AND id = $2"
        }
        "api_key" => "SELECT name FROM api_keys WHERE vendor_id = $1 AND id = $2",
        "affiliate" => {
            "SELECT CASE WHEN name = '' THEN email ELSE name END FROM affiliates \
             WHERE vendor_id = $1 AND id = $2"
        }
        "consumer" => "SELECT name FROM consumers WHERE vendor_id = $1 AND id = $2",
        "program" => "SELECT name FROM programs WHERE vendor_id = $1 AND id = $2",
        "webhook_endpoint" => "SELECT url FROM webhook_endpoints WHERE vendor_id = $1 AND id = $2",
        "vendor" => "SELECT name FROM vendors WHERE id = $1 AND id = $2",
        "application" => {
            "SELECT CASE WHEN name = '' THEN email ELSE name END FROM applications \
             WHERE vendor_id = $1 AND id = $2"
        }
        _ => return Ok(None),
    };
    let row: Option<(String,)> = sqlx::query_as(sql)
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await?;
    Ok(row.map(|(n,)| n))
}

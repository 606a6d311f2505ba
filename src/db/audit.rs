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

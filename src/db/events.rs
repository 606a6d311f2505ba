//! Domain events (the outbox of outbound webhooks).

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A stored event.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    /// `evt_...`
    pub id: String,
    /// Event type, e.g. `partner_application_approved`.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// Time, unix ms.
    pub created_at: i64,
}

/// Appends an event in the caller's transaction.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    kind: &str,
    payload: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id("evt");
    sqlx::query(
        "INSERT INTO events (id, vendor_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(kind)
    .bind(payload)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(id)
}

/// A vendor's newest events.
pub async fn recent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, type, payload, created_at FROM events WHERE vendor_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

//! Domain events (the outbox of outbound webhooks).

use sqlx::{Any, Executor};

use super::{new_id, now_ms};

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

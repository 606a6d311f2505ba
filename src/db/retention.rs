//! Retention: deleting finished jobs, old emails and old raw clicks in bounded batches.
//!
//! Each call deletes at most `limit` rows so a round of the worker never holds the write
//! lock (SQLite) or a long transaction (PostgreSQL) for long; the worker calls again until
//! a batch comes back short. The ledger and the billing event log have no function here on
//! purpose: they are never pruned.

use sqlx::{Any, AnyConnection, Executor};

/// Deletes up to `limit` jobs that finished (done or failed) before `before` (unix ms).
pub async fn prune_jobs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE status IN ('done', 'failed') AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` emails that were sent, kept in the dev mailbox or gave up before `before` (unix ms);
/// pending ones are kept whatever their age.
pub async fn prune_emails<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM email_outbox WHERE id IN (SELECT id FROM email_outbox \
         WHERE status IN ('sent', 'mailbox', 'failed') AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` of a vendor's clicks older than `before` (unix ms, a UTC day
/// boundary), first moving the vendor's click horizon up to `before` in the same
/// transaction, so the rollup check and rebuild never look at the pruned days.
pub async fn prune_clicks(
    conn: &mut AnyConnection,
    vendor_id: &str,
    before: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO click_horizons (vendor_id, pruned_before) VALUES ($1, $2) \
         ON CONFLICT (vendor_id) DO UPDATE SET pruned_before = excluded.pruned_before \
         WHERE click_horizons.pruned_before < excluded.pruned_before",
    )
    .bind(vendor_id)
    .bind(before)
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(
        "DELETE FROM clicks WHERE id IN (SELECT id FROM clicks \
         WHERE vendor_id = $1 AND created_at < $2 ORDER BY created_at LIMIT $3)",
    )
    .bind(vendor_id)
    .bind(before)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether the vendor has any click older than `before`.
pub async fn has_clicks_before<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    before: i64,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM clicks WHERE vendor_id = $1 AND created_at < $2 LIMIT 1")
            .bind(vendor_id)
            .bind(before)
            .fetch_optional(ex)
            .await?;
    Ok(row.is_some())
}

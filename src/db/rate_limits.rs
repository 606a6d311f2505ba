//! API rate limits: the shared fixed-window counters (PostgreSQL) and the vendors' budgets.

use sqlx::{Any, Executor};

/// Counts one request in `bucket`'s window starting at `window_start` (unix seconds) and
/// returns the window's count so far. One statement, so concurrent requests on several
/// instances each see their own, exact count.
pub async fn hit<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    bucket: &str,
    window_start: i64,
) -> Result<i64, sqlx::Error> {
    let (hits,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_limit_counters (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) \
         DO UPDATE SET hits = rate_limit_counters.hits + 1 RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start)
    .fetch_one(ex)
    .await?;
    Ok(hits)
}

/// PostgreSQL: makes the counter table UNLOGGED (once; a no-op when it already is).
///
/// Why: each counted request is its own short transaction on one hot row per bucket. In a
/// logged table every such commit waits for a WAL flush while it still holds the row lock,
/// so all requests of one key queue behind one fsync each (measured: ~250 requests/s on a
/// disk with 4 ms flushes, whatever the CPU). Writes to an unlogged table make no WAL, so
/// their commits do not wait for the disk and the lock is held for microseconds; counts
/// stay exact and shared across instances. What is given up is only what a counter of the
/// current minute does not need: the table is emptied after a PostgreSQL crash and is not
/// copied to standbys (limits restart for that minute).
pub async fn make_unlogged_pg<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<(), sqlx::Error> {
    // One statement: the check and the change run only when the table is still logged.
    sqlx::query(
        "DO $$ BEGIN \
           IF EXISTS (SELECT 1 FROM pg_class WHERE oid = 'rate_limit_counters'::regclass \
                      AND relpersistence = 'p') THEN \
             ALTER TABLE rate_limit_counters SET UNLOGGED; \
           END IF; \
         END $$",
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Forgets windows that started before `before` (unix seconds).
pub async fn delete_before<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM rate_limit_counters WHERE window_start < $1")
        .bind(before)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// A vendor's own budgets per minute (`None`: the installation default).
pub async fn vendor_limits<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Option<(Option<i64>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT rate_limit_read_per_minute, rate_limit_write_per_minute FROM vendors \
         WHERE id = $1",
    )
    .bind(vendor_id)
    .fetch_optional(ex)
    .await
}

/// Sets a vendor's budgets per minute (`None`: back to the installation default).
pub async fn set_vendor_limits<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    read: Option<i64>,
    write: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vendors SET rate_limit_read_per_minute = $1, rate_limit_write_per_minute = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(read)
    .bind(write)
    .bind(super::now_ms())
    .bind(vendor_id)
    .execute(ex)
    .await?;
    Ok(())
}

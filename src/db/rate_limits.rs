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

//! Failed sign-in attempts, for throttling.

use sqlx::{Any, Executor};

use super::{new_id, now_ms};

/// Records one failure under `key`.
pub async fn record_failure<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (id, throttle_key, at) VALUES ($1, $2, $3)")
        .bind(new_id("lf"))
        .bind(key)
        .bind(now_ms())
        .execute(ex)
        .await?;
    Ok(())
}

/// Failures under `key` since `since_ms`, and the oldest of them (to compute Retry-After).
pub async fn failures_since<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    since_ms: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM login_failures WHERE throttle_key = $1 AND at >= $2",
    )
    .bind(key)
    .bind(since_ms)
    .fetch_one(ex)
    .await
}

/// Forgets the failures under `key` (after a successful sign-in) and any older than
/// `before_ms` under any key, so the table stays small.
pub async fn clear<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    before_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1 OR at < $2")
        .bind(key)
        .bind(before_ms)
        .execute(ex)
        .await?;
    Ok(())
}

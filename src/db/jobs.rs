//! The job queue: enqueue, claim by lease, and record outcomes.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A claimed job.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedJob {
    /// `job_...`
    pub id: String,
    /// What to do, e.g. `send_email`.
    pub kind: String,
    /// JSON arguments of the kind.
    pub payload: String,
    /// Claims so far, including this one.
    pub attempts: i64,
    /// Claims allowed before the job fails for good.
    pub max_attempts: i64,
}

/// Adds a job due at `run_at` (unix ms).
pub async fn enqueue<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: Option<&str>,
    kind: &str,
    payload: &str,
    max_attempts: i64,
    run_at: i64,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    let (id,): (String,) = sqlx::query_as(
        "INSERT INTO jobs (id, vendor_id, kind, payload, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(new_id("job"))
    .bind(vendor_id)
    .bind(kind)
    .bind(payload)
    .bind(max_attempts)
    .bind(run_at)
    .bind(now)
    .fetch_one(ex)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due jobs for `worker` until `lease_until`.
///
/// The outer `WHERE` repeats the conditions of the subquery: on PostgreSQL, a row that a
/// concurrent claimer leased after our subquery read it is re-checked against the new row
/// version and skipped, so two workers never hold the same job. SQLite serialises writers.
pub async fn claim<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE jobs SET lease_until = $1, worker = $2, attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= $3 \
                      AND lease_until < $3 ORDER BY run_at LIMIT $4) \
         AND status = 'pending' AND run_at <= $3 AND lease_until < $3 \
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(lease_until)
    .bind(worker)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Like [`claim`], for due jobs of one kind only.
pub async fn claim_kind<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    worker: &str,
    kind: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE jobs SET lease_until = $1, worker = $2, attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND kind = $5 AND run_at <= $3 \
                      AND lease_until < $3 ORDER BY run_at LIMIT $4) \
         AND status = 'pending' AND run_at <= $3 AND lease_until < $3 \
         RETURNING id, kind, payload, attempts, max_attempts",
    )
    .bind(lease_until)
    .bind(worker)
    .bind(now)
    .bind(limit)
    .bind(kind)
    .fetch_all(ex)
    .await
}

/// Marks a job this worker holds as done.
pub async fn complete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    worker: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'done', lease_until = 0, last_error = NULL, updated_at = $1 \
         WHERE id = $2 AND worker = $3 AND status = 'pending'",
    )
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Schedules another attempt of a job this worker holds.
pub async fn retry_at<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    worker: &str,
    run_at: i64,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET run_at = $1, lease_until = 0, last_error = $2, updated_at = $3 \
         WHERE id = $4 AND worker = $5 AND status = 'pending'",
    )
    .bind(run_at)
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up on a job this worker holds.
pub async fn fail<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    worker: &str,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', lease_until = 0, last_error = $1, updated_at = $2 \
         WHERE id = $3 AND worker = $4 AND status = 'pending'",
    )
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Hands back a claimed job that was not started (shutdown), without using up an attempt.
pub async fn release<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    worker: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET lease_until = 0, attempts = attempts - 1, updated_at = $1 \
         WHERE id = $2 AND worker = $3 AND status = 'pending'",
    )
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(())
}

/// Pending work of one kind (the metrics scrape's queue gauges).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Backlog {
    /// Job kind (or `webhook_delivery` for the webhook outbox).
    pub kind: String,
    /// Pending items, retries that are not due yet included.
    pub pending: i64,
    /// Pending items due at the time asked about.
    pub due: i64,
    /// When the longest-waiting due item became due (unix ms); `None` when nothing is due.
    pub oldest_due_at: Option<i64>,
}

/// Pending jobs grouped by kind, as of `now`. Reads only pending rows through
/// `ix_jobs__due (status, run_at)`: done and failed jobs are never touched.
pub async fn backlog<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
) -> Result<Vec<Backlog>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, COUNT(*) AS pending, \
                CAST(SUM(CASE WHEN run_at <= $1 THEN 1 ELSE 0 END) AS BIGINT) AS due, \
                MIN(CASE WHEN run_at <= $1 THEN run_at END) AS oldest_due_at \
         FROM jobs WHERE status = 'pending' GROUP BY kind ORDER BY kind",
    )
    .bind(now)
    .fetch_all(ex)
    .await
}

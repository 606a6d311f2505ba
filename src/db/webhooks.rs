//! Outbound webhooks: endpoints, the delivery outbox, the attempt log, and the fan-out
//! claim on `events`.

use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// A vendor's webhook endpoint.
#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    /// `whe_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The vendor's note.
    pub description: String,
    /// JSON array of event types; `None` is every event.
    pub event_types: Option<String>,
    /// `whsec_...` signing secret.
    pub secret: String,
    /// 1 when deliveries are made.
    pub enabled: i64,
    /// Why it was disabled automatically (or by hand).
    pub disabled_reason: Option<String>,
    /// First failed attempt since the last success, unix ms.
    pub failing_since: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

macro_rules! endpoint_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, vendor_id, url, description, event_types, secret, enabled, \
             disabled_reason, failing_since, created_at, updated_at FROM webhook_endpoints ",
            $rest
        )
    };
}

/// The fields of an endpoint a vendor sets.
#[derive(Debug, Clone)]
pub struct EndpointFields<'a> {
    /// URL.
    pub url: &'a str,
    /// Description.
    pub description: &'a str,
    /// JSON array of event types or `None` for all.
    pub event_types: Option<&'a str>,
    /// Whether deliveries are made.
    pub enabled: bool,
}

/// Inserts an endpoint.
pub async fn insert_endpoint<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    fields: &EndpointFields<'_>,
    secret: &str,
) -> Result<EndpointRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO webhook_endpoints (id, vendor_id, url, description, event_types, secret, \
         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
        "id, vendor_id, url, description, event_types, secret, enabled, \
         disabled_reason, failing_since, created_at, updated_at"
    ))
    .bind(new_id("whe"))
    .bind(vendor_id)
    .bind(fields.url)
    .bind(fields.description)
    .bind(fields.event_types)
    .bind(secret)
    .bind(i64::from(fields.enabled))
    .bind(now)
    .fetch_one(ex)
    .await
}

/// One endpoint of a vendor.
pub async fn endpoint_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(endpoint_select!("WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// A page of a vendor's endpoints, oldest first.
pub async fn list_endpoints<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(endpoint_select!(
        "WHERE vendor_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
    ))
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many endpoints a vendor has.
pub async fn count_endpoints<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints WHERE vendor_id = $1")
            .bind(vendor_id)
            .fetch_one(ex)
            .await?;
    Ok(n)
}

/// A vendor's enabled endpoints (the fan-out targets).
pub async fn enabled_endpoints<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(endpoint_select!(
        "WHERE vendor_id = $1 AND enabled = 1 ORDER BY created_at, id"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Replaces the vendor-set fields; re-enabling clears the failure state.
pub async fn update_endpoint<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    fields: &EndpointFields<'_>,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, \
         disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END, \
         failing_since = CASE WHEN $4 = 1 AND enabled = 0 THEN NULL ELSE failing_since END, \
         enabled = $4, updated_at = $5 WHERE vendor_id = $6 AND id = $7 RETURNING ",
        "id, vendor_id, url, description, event_types, secret, enabled, \
         disabled_reason, failing_since, created_at, updated_at"
    ))
    .bind(fields.url)
    .bind(fields.description)
    .bind(fields.event_types)
    .bind(i64::from(fields.enabled))
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Deletes an endpoint with its deliveries and their attempts.
pub async fn delete_endpoint(
    conn: &mut Conn,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE vendor_id = $1 AND endpoint_id = $2)",
    )
    .bind(vendor_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE vendor_id = $1 AND endpoint_id = $2")
        .bind(vendor_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE vendor_id = $1 AND id = $2")
        .bind(vendor_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A successful answer: the endpoint is healthy again.
pub async fn endpoint_succeeded<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// A failed attempt: starts the failing period if none runs; returns its start.
pub async fn endpoint_failed<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(Option<i64>,)> = sqlx::query_as(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2 \
         RETURNING failing_since",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.and_then(|(t,)| t))
}

/// Disables an enabled endpoint; false when it already was disabled (or is gone).
pub async fn disable_endpoint<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
         WHERE id = $3 AND enabled = 1",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An event waiting to be fanned out.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    /// `evt_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Event type.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The `data` object (JSON).
    pub payload: String,
    /// Time of the change, unix ms.
    pub created_at: i64,
}

/// Claims up to `limit` events not yet fanned out, until `lease_until` (the same lease
/// pattern as `db::jobs::claim`; the outer `WHERE` repeats the conditions so concurrent
/// claimers on PostgreSQL skip rows leased under them).
pub async fn claim_events<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE events SET fanout_lease_until = $1 \
         WHERE id IN (SELECT id FROM events WHERE fanned_out = 0 AND fanout_lease_until < $2 \
                      ORDER BY created_at, id LIMIT $3) \
         AND fanned_out = 0 AND fanout_lease_until < $2 \
         RETURNING id, vendor_id, type, payload, created_at",
    )
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Marks every pending event of vendors without an enabled endpoint as fanned out, in one
/// statement: most installations have no endpoints, and their events need no work.
/// Returns how many were marked.
pub async fn skip_events_without_endpoints<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE events SET fanned_out = 1 WHERE fanned_out = 0 AND vendor_id NOT IN \
         (SELECT vendor_id FROM webhook_endpoints WHERE enabled = 1)",
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Marks an event as fanned out (in the transaction that wrote its deliveries).
pub async fn mark_fanned_out<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE events SET fanned_out = 1, fanout_lease_until = 0 WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    /// `whd_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Endpoint.
    pub endpoint_id: String,
    /// Event id (`evt_...`), stable across retries.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// The event's `data` (JSON).
    pub payload: String,
    /// The event's time, unix ms.
    pub event_created_at: i64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, unix ms.
    pub next_attempt_at: i64,
    /// 1 after a manual redelivery (no automatic retries).
    pub manual: i64,
    /// Status code of the last answer.
    pub last_status_code: Option<i64>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

macro_rules! delivery_columns {
    () => {
        "id, vendor_id, endpoint_id, event_id, event_type, payload, event_created_at, status, \
         attempts, next_attempt_at, manual, last_status_code, last_error, created_at, updated_at"
    };
}

/// Columns of a new delivery.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Endpoint.
    pub endpoint_id: &'a str,
    /// Event id.
    pub event_id: &'a str,
    /// Event type.
    pub event_type: &'a str,
    /// The `data` object (JSON).
    pub payload: &'a str,
    /// The event's time, unix ms.
    pub event_created_at: i64,
    /// First attempt due, unix ms.
    pub due_at: i64,
}

/// Inserts a pending delivery; `None` when this endpoint already has one for the event.
pub async fn insert_delivery<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &NewDelivery<'_>,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "INSERT INTO webhook_deliveries (id, vendor_id, endpoint_id, event_id, event_type, \
         payload, event_created_at, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $9) \
         ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id",
    )
    .bind(new_id("whd"))
    .bind(d.vendor_id)
    .bind(d.endpoint_id)
    .bind(d.event_id)
    .bind(d.event_type)
    .bind(d.payload)
    .bind(d.event_created_at)
    .bind(d.due_at)
    .bind(now_ms())
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Claims up to `limit` due deliveries of enabled endpoints for `worker` until
/// `lease_until`; each claim counts as an attempt.
pub async fn claim_deliveries<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE webhook_deliveries SET lease_until = $1, worker = $2, attempts = attempts + 1, \
         updated_at = $3 \
         WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                      JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                      WHERE d.status = 'pending' AND d.next_attempt_at <= $3 \
                      AND d.lease_until < $3 AND e.enabled = 1 \
                      ORDER BY d.next_attempt_at, d.id LIMIT $4) \
         AND status = 'pending' AND next_attempt_at <= $3 AND lease_until < $3 \
         RETURNING ",
        delivery_columns!()
    ))
    .bind(lease_until)
    .bind(worker)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Records where an attempt left a delivery this worker holds: `pending` with the next
/// time, `succeeded` or `failed`.
#[allow(clippy::too_many_arguments)]
pub async fn settle_delivery<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    worker: &str,
    status: &str,
    next_attempt_at: i64,
    status_code: Option<i64>,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, lease_until = 0, \
         last_status_code = $3, last_error = $4, updated_at = $5 \
         WHERE id = $6 AND worker = $7 AND status = 'pending'",
    )
    .bind(status)
    .bind(next_attempt_at)
    .bind(status_code)
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One delivery of a vendor.
pub async fn delivery_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE vendor_id = $1 AND id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// A page of an endpoint's deliveries, newest first.
pub async fn deliveries_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    endpoint_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE vendor_id = $1 AND endpoint_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(vendor_id)
    .bind(endpoint_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many deliveries an endpoint has.
pub async fn count_deliveries_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    endpoint_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE vendor_id = $1 AND endpoint_id = $2",
    )
    .bind(vendor_id)
    .bind(endpoint_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Makes a delivery due now for one manual attempt; false while an attempt is in flight.
pub async fn redeliver<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', manual = 1, next_attempt_at = $1, \
         updated_at = $1 WHERE vendor_id = $2 AND id = $3 AND lease_until < $1",
    )
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One logged attempt.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    /// `wha_...`
    pub id: String,
    /// Delivery.
    pub delivery_id: String,
    /// HTTP status of the answer, if one came.
    pub status_code: Option<i64>,
    /// Time to the answer (or the failure), ms.
    pub latency_ms: i64,
    /// Up to 1 KiB of the answer body.
    pub response_excerpt: Option<String>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Time of the attempt, unix ms.
    pub created_at: i64,
}

/// Columns of a new attempt.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    /// Delivery.
    pub delivery_id: &'a str,
    /// HTTP status, if an answer came.
    pub status_code: Option<i64>,
    /// Latency, ms.
    pub latency_ms: i64,
    /// Up to 1 KiB of the answer.
    pub response_excerpt: Option<&'a str>,
    /// Error, if any.
    pub error: Option<&'a str>,
    /// Time of the attempt, unix ms.
    pub at: i64,
}

/// Logs an attempt.
pub async fn insert_attempt<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    a: &NewAttempt<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, status_code, latency_ms, \
         response_excerpt, error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id("wha"))
    .bind(a.delivery_id)
    .bind(a.status_code)
    .bind(a.latency_ms)
    .bind(a.response_excerpt)
    .bind(a.error)
    .bind(a.at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A delivery's attempts, oldest first.
pub async fn attempts_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    delivery_id: &str,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, delivery_id, status_code, latency_ms, response_excerpt, error, created_at \
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY created_at, id",
    )
    .bind(delivery_id)
    .fetch_all(ex)
    .await
}

/// The emails of a vendor's owners (who hear about a disabled endpoint).
pub async fn owner_emails<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String,)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT email FROM vendor_users WHERE vendor_id = $1 AND role = 'owner' ORDER BY email",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// The webhook outbox as one [`super::jobs::Backlog`] of kind `webhook_delivery`, as of
/// `now` (pending rows only, through `ix_webhook_deliveries__due`).
pub async fn backlog<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
) -> Result<super::jobs::Backlog, sqlx::Error> {
    sqlx::query_as(
        "SELECT 'webhook_delivery' AS kind, COUNT(*) AS pending, \
                CAST(COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due, \
                MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END) AS oldest_due_at \
         FROM webhook_deliveries WHERE status = 'pending'",
    )
    .bind(now)
    .fetch_one(ex)
    .await
}

//! The billing event log: every ingested input, stored before it is processed.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A stored billing event.
#[derive(Debug, Clone, FromRow)]
pub struct BillingEventRow {
    /// `bev_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The program it was processed for.
    pub program_id: String,
    /// `api`, `stripe` or `manual`.
    pub source: String,
    /// The sender's event id.
    pub event_id: String,
    /// The sender's event type.
    pub r#type: String,
    /// The exact body received.
    pub payload: String,
    /// `processed`, `ignored` or `failed`.
    pub status: String,
    /// What processing produced (JSON).
    pub result: String,
    /// The conversion it created or matched.
    pub conversion_id: Option<String>,
    /// Times processed (1 + replays).
    pub attempts: i64,
    /// When it happened at the sender, unix ms.
    pub occurred_at: i64,
    /// When it first arrived.
    pub received_at: i64,
    /// When it was last processed.
    pub processed_at: i64,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, source, event_id, type, payload, status, result, \
         conversion_id, attempts, occurred_at, received_at, processed_at FROM billing_events "
    };
}

/// A new event.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Door.
    pub source: &'a str,
    /// Sender's id.
    pub event_id: &'a str,
    /// Sender's type.
    pub r#type: &'a str,
    /// Raw body.
    pub payload: &'a str,
    /// Sender's time.
    pub occurred_at: i64,
}

/// Stores an event with its status, result (JSON) and conversion unless its (vendor,
/// source, program, event id) is known; returns the new id, or `None` for a repeat.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    e: &NewEvent<'_>,
    status: &str,
    result: &str,
    conversion_id: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    let now = now_ms();
    let row: Option<(String,)> = sqlx::query_as(
        "INSERT INTO billing_events (id, vendor_id, program_id, source, event_id, type, payload, \
         status, result, conversion_id, occurred_at, received_at, processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (vendor_id, source, program_id, event_id) DO NOTHING RETURNING id",
    )
    .bind(new_id("bev"))
    .bind(e.vendor_id)
    .bind(e.program_id)
    .bind(e.source)
    .bind(e.event_id)
    .bind(e.r#type)
    .bind(e.payload)
    .bind(status)
    .bind(result)
    .bind(conversion_id)
    .bind(e.occurred_at)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Records what processing made of an event.
pub async fn set_result<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    status: &str,
    result: &str,
    conversion_id: Option<&str>,
    replay: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE billing_events SET status = $1, result = $2, conversion_id = $3, \
         attempts = attempts + $4, processed_at = $5 WHERE id = $6",
    )
    .bind(status)
    .bind(result)
    .bind(conversion_id)
    .bind(i64::from(replay))
    .bind(now_ms())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// The stored event with this key.
pub async fn by_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    source: &str,
    program_id: &str,
    event_id: &str,
) -> Result<Option<BillingEventRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND source = $2 AND program_id = $3 AND event_id = $4"
    ))
    .bind(vendor_id)
    .bind(source)
    .bind(program_id)
    .bind(event_id)
    .fetch_optional(ex)
    .await
}

/// One event of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<BillingEventRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Every event of a vendor in arrival order (replays, the property tests).
pub async fn all_in_order<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<BillingEventRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 ORDER BY received_at, id"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// List filters.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only this door.
    pub source: Option<&'a str>,
}

macro_rules! filter {
    () => {
        "WHERE vendor_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR source = $3) "
    };
}

/// One page of events, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<BillingEventRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        filter!(),
        "ORDER BY received_at DESC, id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(f.vendor_id)
    .bind(f.status)
    .bind(f.source)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many events match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) FROM billing_events ", filter!()))
        .bind(f.vendor_id)
        .bind(f.status)
        .bind(f.source)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

//! Fraud review items (one per screened conversion) and the reads the fraud signals need.

use super::sql::Sql;
use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A stored review item.
#[derive(Debug, Clone, FromRow)]
pub struct ReviewRow {
    /// `frv_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// The screened conversion.
    pub conversion_id: String,
    /// The converting affiliate.
    pub affiliate_id: String,
    /// `flag`, `hold` or `reject`: the strongest action of the signals that fired.
    pub action: String,
    /// JSON array of `{rule, action, evidence}`.
    pub signals: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who decided (staff user or API key id); `None` while pending or when a rule decided.
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// The decision's note.
    pub note: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, conversion_id, affiliate_id, action, signals, status, \
         decided_by, decided_at, note, created_at, updated_at FROM fraud_reviews "
    };
}

/// A review item to insert.
#[derive(Debug, Clone)]
pub struct NewReview<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Conversion.
    pub conversion_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// `flag`, `hold` or `reject`.
    pub action: &'a str,
    /// JSON array of signals.
    pub signals: &'a str,
    /// `pending`, or `rejected` when a rule decided.
    pub status: &'a str,
}

/// Inserts the review item of a conversion; `None` when the conversion has one already
/// (the unique key keeps a retried event from making a second).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    r: &NewReview<'_>,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    let now = now_ms();
    let decided_at = (r.status != "pending").then_some(now);
    sqlx::query_as(
        "INSERT INTO fraud_reviews (id, vendor_id, program_id, conversion_id, affiliate_id, \
         action, signals, status, decided_by, decided_at, note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, NULL, $10, $10) \
         ON CONFLICT (conversion_id) DO NOTHING RETURNING \
         id, vendor_id, program_id, conversion_id, affiliate_id, action, signals, status, \
         decided_by, decided_at, note, created_at, updated_at",
    )
    .bind(new_id("frv"))
    .bind(r.vendor_id)
    .bind(r.program_id)
    .bind(r.conversion_id)
    .bind(r.affiliate_id)
    .bind(r.action)
    .bind(r.signals)
    .bind(r.status)
    .bind(decided_at)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// A vendor's review item.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Records a decision on a pending item; `false` when it was decided already.
pub async fn decide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    status: &str,
    decided_by: &str,
    note: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE fraud_reviews SET status = $1, decided_by = $2, decided_at = $3, note = $4, \
         updated_at = $3 WHERE vendor_id = $5 AND id = $6 AND status = 'pending'",
    )
    .bind(status)
    .bind(decided_by)
    .bind(now)
    .bind(note)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a conversion is held: a `hold` item on it waits for a decision. The same
/// condition keeps held conversions out of `db::conversions::due` (maturation).
pub async fn is_held<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    conversion_id: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM fraud_reviews \
         WHERE conversion_id = $1 AND action = 'hold' AND status = 'pending'",
    )
    .bind(conversion_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// The conversions of an affiliate that are held for review (what it sees as "under
/// review").
pub async fn held_conversions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT conversion_id FROM fraud_reviews WHERE vendor_id = $1 AND affiliate_id = $2 \
         AND action = 'hold' AND status = 'pending'",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
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
    /// Only this program's.
    pub program_id: Option<&'a str>,
}

fn filtered<'a>(head: &'static str, f: &Filter<'a>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(f.vendor_id)
        .and_eq("status", f.status)
        .and_eq("program_id", f.program_id)
}

/// One page of review items, oldest first (a queue).
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    filtered(select!(), f)
        .push(" ORDER BY created_at, id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many review items match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    filtered("SELECT COUNT(*) FROM fraud_reviews", f)
        .fetch_count(ex)
        .await
}

/// The most clicks one address (hashed) made on an affiliate's links in a program since
/// `since`, and that count; `None` without clicks.
pub async fn busiest_source<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: &str,
    since: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM clicks WHERE vendor_id = $1 AND affiliate_id = $2 \
         AND created_at >= $3 AND program_id = $4 GROUP BY ip_hash ORDER BY n DESC LIMIT 1",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(since)
    .bind(program_id)
    .fetch_optional(ex)
    .await
}

/// An affiliate's conversions in a program that happened in `[from, to)`, rejected ones
/// left out.
pub async fn conversions_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    affiliate_id: &str,
    from: i64,
    to: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversions WHERE program_id = $1 AND affiliate_id = $2 \
         AND occurred_at >= $3 AND occurred_at < $4 AND status <> 'rejected'",
    )
    .bind(program_id)
    .bind(affiliate_id)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await
}

/// Closes the pending review item of a conversion that was rejected another way (as
/// rejected, by `decided_by`).
pub async fn close_for_conversion<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    conversion_id: &str,
    decided_by: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE fraud_reviews SET status = 'rejected', decided_by = $1, decided_at = $2, \
         updated_at = $2 WHERE conversion_id = $3 AND status = 'pending'",
    )
    .bind(decided_by)
    .bind(now)
    .bind(conversion_id)
    .execute(ex)
    .await?;
    Ok(())
}

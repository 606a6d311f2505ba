//! What caps and goals count: the converting affiliates' commissions so far, and the row
//! lock that makes those counts hold until the transaction commits.

use sqlx::{Any, Executor};

use super::now_ms;

/// Locks the enrollment's row until the transaction ends (PostgreSQL: a row lock that other
/// writers of the same enrollment wait for; SQLite: the database write lock), so two
/// transactions recording commissions for one affiliate never read the same totals.
pub async fn lock_enrollment<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enrollment_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enrollments SET updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(enrollment_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// When the customer's first commissioned sale in the program happened (unix ms).
pub async fn customer_first_commission_at<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    customer_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let (at,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(v.occurred_at) FROM conversions v JOIN commissions m \
         ON m.conversion_id = v.id AND m.level = 0 \
         WHERE v.program_id = $1 AND v.customer_id = $2 AND m.status <> 'rejected'",
    )
    .bind(program_id)
    .bind(customer_id)
    .fetch_one(ex)
    .await?;
    Ok(at)
}

/// What the converting affiliates kept from one customer's sales in the program, in
/// `currency` (level-0 commissions net of refunds, rejected ones excluded).
pub async fn customer_total<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    customer_id: &str,
    currency: &str,
) -> Result<i64, sqlx::Error> {
    let (sum,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(m.amount_cents - m.reversed_cents) AS BIGINT) FROM conversions v \
         JOIN commissions m ON m.conversion_id = v.id AND m.level = 0 \
         WHERE v.program_id = $1 AND v.customer_id = $2 AND m.currency = $3 \
         AND m.status <> 'rejected'",
    )
    .bind(program_id)
    .bind(customer_id)
    .bind(currency)
    .fetch_one(ex)
    .await?;
    Ok(sum.unwrap_or(0))
}

/// What an affiliate kept from its own sales in the program that happened in
/// `[from, to)` (unix ms), in `currency`.
pub async fn affiliate_total_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    affiliate_id: &str,
    currency: &str,
    from: i64,
    to: i64,
) -> Result<i64, sqlx::Error> {
    let (sum,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(m.amount_cents - m.reversed_cents) AS BIGINT) FROM conversions v \
         JOIN commissions m ON m.conversion_id = v.id AND m.level = 0 \
         WHERE v.program_id = $1 AND v.affiliate_id = $2 AND m.currency = $3 \
         AND m.status <> 'rejected' AND v.occurred_at >= $4 AND v.occurred_at < $5",
    )
    .bind(program_id)
    .bind(affiliate_id)
    .bind(currency)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await?;
    Ok(sum.unwrap_or(0))
}

/// How many of an affiliate's sales in the program that happened in `[from, to)` count
/// (pending or approved: rejected and refunded ones do not).
pub async fn affiliate_sales_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    affiliate_id: &str,
    from: i64,
    to: i64,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions \
         WHERE program_id = $1 AND affiliate_id = $2 AND status IN ('pending', 'approved') \
         AND occurred_at >= $3 AND occurred_at < $4",
    )
    .bind(program_id)
    .bind(affiliate_id)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

//! Reads of the terms backtest: the conversions of a program in a period with what they
//! recorded, and the facts a rate reads as they were when each conversion was made. Reads
//! only: a backtest writes nothing.

use sqlx::{Any, Executor};

use super::commissions::CommissionRow;

/// The commissions recorded for the conversions of a program that happened in `[from, to)`.
pub async fn commissions_in<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.vendor_id, m.program_id, m.conversion_id, m.affiliate_id, m.level, \
         m.currency, m.amount_cents, m.reversed_cents, m.bps, m.rule, m.status, \
         m.available_at, (SELECT pc.payout_id FROM payout_claims pc \
         WHERE pc.commission_id = m.id) AS payout_id, m.created_at, m.updated_at \
         FROM commissions m JOIN conversions c ON c.id = m.conversion_id \
         WHERE c.vendor_id = $1 AND c.program_id = $2 AND c.occurred_at >= $3 \
         AND c.occurred_at < $4 AND m.vendor_id = $1",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

/// Conversions of a subscription recorded before the conversion `(created_at, id)`: what
/// live ingest counted when it recorded that one.
pub async fn count_for_subscription_before<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    subscription_id: &str,
    created_at: i64,
    id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions WHERE program_id = $1 AND subscription_id = $2 \
         AND (created_at < $3 OR (created_at = $3 AND id < $4))",
    )
    .bind(program_id)
    .bind(subscription_id)
    .bind(created_at)
    .bind(id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// An affiliate's conversions in a program that were approved before `at` (and still are):
/// the tiered rate's count as it stood then.
pub async fn count_approved_before<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    affiliate_id: &str,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions WHERE program_id = $1 AND affiliate_id = $2 \
         AND status = 'approved' AND decided_at < $3",
    )
    .bind(program_id)
    .bind(affiliate_id)
    .bind(at)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// What the caps had counted per referred customer before `before` (unix ms), for the
/// backtest's replay to start from: (customer id, first commissioned sale, level-0
/// commissions kept net of refunds in `currency`). Rejected commissions do not count, as
/// in [`super::caps::customer_total`].
pub async fn cap_customers_before<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    currency: &str,
    before: i64,
) -> Result<Vec<(String, Option<i64>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.customer_id, MIN(v.occurred_at), \
         CAST(SUM(CASE WHEN m.currency = $3 THEN m.amount_cents - m.reversed_cents ELSE 0 END) \
         AS BIGINT) \
         FROM conversions v JOIN commissions m ON m.conversion_id = v.id AND m.level = 0 \
         WHERE v.vendor_id = $1 AND v.program_id = $2 AND v.customer_id IS NOT NULL \
         AND m.status <> 'rejected' AND v.occurred_at < $4 \
         GROUP BY v.customer_id",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(currency)
    .bind(before)
    .fetch_all(ex)
    .await
}

/// What each affiliate kept (level 0, net of refunds, in `currency`) from its sales in the
/// program that happened in `[from, to)`: the monthly cap's count where a backtest period
/// starts inside a month.
pub async fn cap_affiliates_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    currency: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.affiliate_id, CAST(SUM(m.amount_cents - m.reversed_cents) AS BIGINT) \
         FROM conversions v JOIN commissions m ON m.conversion_id = v.id AND m.level = 0 \
         WHERE v.vendor_id = $1 AND v.program_id = $2 AND m.currency = $3 \
         AND m.status <> 'rejected' AND v.occurred_at >= $4 AND v.occurred_at < $5 \
         GROUP BY v.affiliate_id",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(currency)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

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
         m.available_at, m.payout_id, m.created_at, m.updated_at \
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

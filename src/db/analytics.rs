//! Aggregates for program analytics: one query per figure, all over indexed ranges.

use sqlx::{Any, Executor, FromRow};

/// A vendor, optionally one program, and a time range `[from, to)` in unix ms.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this program.
    pub program_id: Option<&'a str>,
    /// Inclusive start.
    pub from: i64,
    /// Exclusive end.
    pub to: i64,
}

macro_rules! scope {
    ($time:literal) => {
        concat!(
            "WHERE vendor_id = $1 AND ($2 IS NULL OR program_id = $2) AND ",
            $time,
            " >= $3 AND ",
            $time,
            " < $4 "
        )
    };
}

async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    sql: &'static str,
    s: &Scope<'_>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(s.vendor_id)
        .bind(s.program_id)
        .bind(s.from)
        .bind(s.to)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// Counted clicks (no bots, no repeats).
pub async fn clicks<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<i64, sqlx::Error> {
    count(
        ex,
        concat!(
            "SELECT COUNT(*) FROM clicks ",
            scope!("created_at"),
            "AND is_bot = 0 AND is_duplicate = 0"
        ),
        s,
    )
    .await
}

/// Referred customers bound in the range.
pub async fn referrals<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<i64, sqlx::Error> {
    count(
        ex,
        concat!("SELECT COUNT(*) FROM referrals ", scope!("created_at")),
        s,
    )
    .await
}

/// Conversions per currency: (currency, count, gross, refunded), rejected ones left out.
pub async fn revenue<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT currency, COUNT(*), CAST(SUM(amount_cents) AS BIGINT), \
         CAST(SUM(refunded_cents) AS BIGINT) FROM conversions ",
        scope!("occurred_at"),
        "AND status <> 'rejected' GROUP BY currency ORDER BY currency"
    ))
    .bind(s.vendor_id)
    .bind(s.program_id)
    .bind(s.from)
    .bind(s.to)
    .fetch_all(ex)
    .await
}

/// Commissions per status and currency: (status, currency, count, amount, reversed).
pub async fn commissions_by_status<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT status, currency, COUNT(*), CAST(SUM(amount_cents) AS BIGINT), \
         CAST(SUM(reversed_cents) AS BIGINT) FROM commissions ",
        scope!("created_at"),
        "GROUP BY status, currency ORDER BY status, currency"
    ))
    .bind(s.vendor_id)
    .bind(s.program_id)
    .bind(s.from)
    .bind(s.to)
    .fetch_all(ex)
    .await
}

/// One row of the leaderboard.
#[derive(Debug, Clone, FromRow)]
pub struct Leader {
    /// Affiliate.
    pub affiliate_id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Currency of the figures.
    pub currency: String,
    /// Commissions.
    pub commissions: i64,
    /// Earned and kept (not rejected, less refunds).
    pub earned_cents: i64,
}

/// Top affiliates by commission earned in the range, per currency.
pub async fn leaderboard<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
    limit: i64,
) -> Result<Vec<Leader>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.affiliate_id, a.name, a.email, c.currency, COUNT(*) AS commissions, \
         CAST(SUM(c.amount_cents - c.reversed_cents) AS BIGINT) AS earned_cents \
         FROM commissions c JOIN affiliates a ON a.id = c.affiliate_id \
         WHERE c.vendor_id = $1 AND ($2 IS NULL OR c.program_id = $2) AND c.created_at >= $3 \
         AND c.created_at < $4 AND c.status <> 'rejected' \
         GROUP BY c.affiliate_id, a.name, a.email, c.currency \
         ORDER BY earned_cents DESC, c.affiliate_id LIMIT $5",
    )
    .bind(s.vendor_id)
    .bind(s.program_id)
    .bind(s.from)
    .bind(s.to)
    .bind(limit)
    .fetch_all(ex)
    .await
}

//! Per-day figures of one affiliate for the portal dashboard and `/api/v1/me/stats`: counted
//! clicks, referrals, conversions and earnings. Every query walks one of the
//! `(vendor_id, affiliate_id, created_at)` indexes and groups by UTC day (integer division
//! of the ms time, the same on both databases); weeks and months are rolled up by the
//! caller.

use sqlx::{Any, Executor, FromRow};

use super::sql::Sql;

/// One affiliate of one vendor, optionally one program, over `[from, to)` in unix ms.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// The affiliate.
    pub affiliate_id: &'a str,
    /// Only this program.
    pub program_id: Option<&'a str>,
    /// Inclusive start.
    pub from: i64,
    /// Exclusive end.
    pub to: i64,
}

/// `<head> WHERE vendor_id = $1 AND affiliate_id = $2 [AND program_id = $3] AND created_at
/// in the period`, only the filters given so each database plans with the affiliate index.
fn scoped<'a>(head: &'static str, s: &Scope<'a>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(s.vendor_id)
        .and("affiliate_id = ", s.affiliate_id)
        .and_eq("program_id", s.program_id)
        .and("created_at >= ", s.from)
        .and("created_at < ", s.to)
}

/// A count of one UTC day.
#[derive(Debug, Clone, FromRow)]
pub struct DayCount {
    /// Days since 1970-01-01.
    pub day: i64,
    /// How many.
    pub n: i64,
}

/// Earnings of one UTC day in one currency.
#[derive(Debug, Clone, FromRow)]
pub struct DayEarnings {
    /// Days since 1970-01-01.
    pub day: i64,
    /// ISO 4217.
    pub currency: String,
    /// Commissions earned that day.
    pub commissions: i64,
    /// Their amounts less refunds, minor units.
    pub earned_cents: i64,
}

async fn per_day<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    head: &'static str,
    tail: &'static str,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    scoped(head, s).push(tail).fetch_all(ex).await
}

/// Counted clicks (neither bot nor repeat) per day, oldest first; days without are absent.
pub async fn clicks<'e, E>(ex: E, s: &Scope<'_>) -> Result<Vec<DayCount>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    // From the per-affiliate daily click rollup (plus the raw clicks of partial days).
    let days = super::rollups::per_day(
        ex,
        &super::rollups::Scope {
            vendor_id: s.vendor_id,
            affiliate_id: Some(s.affiliate_id),
            program_id: s.program_id,
            from: s.from,
            to: s.to,
        },
    )
    .await?;
    Ok(days
        .into_iter()
        .filter(|(_, c)| c.clicks > 0)
        .map(|(day, c)| DayCount { day, n: c.clicks })
        .collect())
}

/// Referred customers bound per day, oldest first.
pub async fn referrals<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    per_day(
        ex,
        "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM referrals",
        " GROUP BY created_at / 86400000 ORDER BY day",
        s,
    )
    .await
}

/// Conversions recorded per day that were not rejected, oldest first.
pub async fn conversions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    per_day(
        ex,
        "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM conversions",
        " AND status <> 'rejected' GROUP BY created_at / 86400000 ORDER BY day",
        s,
    )
    .await
}

/// Commissions (every level) that were not rejected, per day and currency, with their
/// amounts less refunds; oldest first.
pub async fn earnings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<DayEarnings>, sqlx::Error> {
    scoped(
        "SELECT created_at / 86400000 AS day, currency, COUNT(*) AS commissions, \
         CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS earned_cents FROM commissions",
        s,
    )
    .push(
        " AND status <> 'rejected' \
         GROUP BY created_at / 86400000, currency ORDER BY day, currency",
    )
    .fetch_all(ex)
    .await
}

/// The currency an affiliate's headline figures are given in: the currency of the program
/// of its first enrollment (oldest; the one whose code the API shows first), else the
/// vendor's default currency.
pub async fn payout_currency<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let (currency,): (Option<String>,) = sqlx::query_as(
        "SELECT COALESCE( \
           (SELECT p.currency FROM enrollments e JOIN programs p ON p.id = e.program_id \
            WHERE e.vendor_id = $1 AND e.affiliate_id = $2 \
            ORDER BY e.created_at, e.id LIMIT 1), \
           (SELECT default_currency FROM vendors WHERE id = $1))",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_one(ex)
    .await?;
    Ok(currency)
}

/// How many of an affiliate's commissions in `currency` still count (pending, available
/// or paid: neither rejected nor wholly reversed), all levels.
pub async fn counting_commissions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    currency: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM commissions WHERE vendor_id = $1 AND affiliate_id = $2 \
         AND currency = $3 AND status IN ('pending', 'available', 'paid')",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(currency)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

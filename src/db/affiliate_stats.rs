//! Per-day figures of one affiliate for the portal dashboard and `/api/v1/me/stats`: counted
//! clicks, referrals, conversions and earnings. Every query walks one of the
//! `(vendor_id, affiliate_id, created_at)` indexes and groups by UTC day (integer division
//! of the ms time, the same on both databases); weeks and months are rolled up by the
//! caller.

use sqlx::{Any, Executor, FromRow};

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

macro_rules! scope {
    () => {
        "WHERE vendor_id = $1 AND affiliate_id = $2 AND ($3 IS NULL OR program_id = $3) \
         AND created_at >= $4 AND created_at < $5 "
    };
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
    sql: &'static str,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    sqlx::query_as(sql)
        .bind(s.vendor_id)
        .bind(s.affiliate_id)
        .bind(s.program_id)
        .bind(s.from)
        .bind(s.to)
        .fetch_all(ex)
        .await
}

/// Counted clicks (neither bot nor repeat) per day, oldest first; days without are absent.
pub async fn clicks<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    per_day(
        ex,
        concat!(
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM clicks ",
            scope!(),
            "AND is_bot = 0 AND is_duplicate = 0 ",
            "GROUP BY created_at / 86400000 ORDER BY day"
        ),
        s,
    )
    .await
}

/// Referred customers bound per day, oldest first.
pub async fn referrals<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    per_day(
        ex,
        concat!(
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM referrals ",
            scope!(),
            "GROUP BY created_at / 86400000 ORDER BY day"
        ),
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
        concat!(
            "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM conversions ",
            scope!(),
            "AND status <> 'rejected' ",
            "GROUP BY created_at / 86400000 ORDER BY day"
        ),
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
    sqlx::query_as(concat!(
        "SELECT created_at / 86400000 AS day, currency, COUNT(*) AS commissions, \
         CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS earned_cents FROM commissions ",
        scope!(),
        "AND status <> 'rejected' ",
        "GROUP BY created_at / 86400000, currency ORDER BY day, currency"
    ))
    .bind(s.vendor_id)
    .bind(s.affiliate_id)
    .bind(s.program_id)
    .bind(s.from)
    .bind(s.to)
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

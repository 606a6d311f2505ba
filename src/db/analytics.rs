//! Aggregates for program analytics: one query per figure, each over a rollup or a
//! covering index range (see `migrations/0015_query_scale.sql` and
//! `migrations/0037_money_rollups.sql`).

use sqlx::{Any, Executor, FromRow};

use super::sql::Sql;

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

/// `<head> WHERE vendor_id = $1 [AND program_id = $n] AND <time> >= $n AND <time> < $n`.
fn scoped<'a>(
    head: &'static str,
    time_ge: &'static str,
    time_lt: &'static str,
    s: &Scope<'a>,
) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(s.vendor_id)
        .and_eq("program_id", s.program_id)
        .and(time_ge, s.from)
        .and(time_lt, s.to)
}

/// Counted clicks (no bots, no repeats), from the hourly click rollup and the raw clicks of
/// the period's partial hours.
pub async fn clicks<'e, E>(ex: E, s: &Scope<'_>) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let days = super::rollups::per_day(
        ex,
        &super::rollups::Scope {
            vendor_id: s.vendor_id,
            affiliate_id: None,
            program_id: s.program_id,
            from: s.from,
            to: s.to,
        },
    )
    .await?;
    Ok(days.iter().map(|(_, c)| c.clicks).sum())
}

/// Referred customers bound in the range, from the daily referral rollup and the raw rows
/// of the range's partial days (see [`super::referral_rollups::count`]).
pub async fn referrals<'e, E>(ex: E, s: &Scope<'_>) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    super::referral_rollups::count(ex, s).await
}

/// [`referrals`] by counting every referral row of the range (a period's edge days, and
/// the reference the rollup is tested against).
pub async fn referrals_raw<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<i64, sqlx::Error> {
    scoped(
        "SELECT COUNT(*) FROM referrals",
        "created_at >= ",
        "created_at < ",
        s,
    )
    .fetch_count(ex)
    .await
}

/// Conversions per currency: (currency, count, gross, refunded), rejected ones left out,
/// from the daily money rollups and the raw conversions of the period's partial days
/// (see [`super::money_rollups::revenue`]).
pub async fn revenue<'e, E>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    super::money_rollups::revenue(ex, s).await
}

/// [`revenue`] grouped from the conversions themselves (the partial days of a period, and
/// the reference the rollups are tested against). Served by the covering
/// `ix_conversions__vendor_occurred`.
pub async fn revenue_raw<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    scoped(
        "SELECT currency, COUNT(*), CAST(SUM(amount_cents) AS BIGINT), \
         CAST(SUM(refunded_cents) AS BIGINT) FROM conversions",
        "occurred_at >= ",
        "occurred_at < ",
        s,
    )
    .push(" AND status <> 'rejected' GROUP BY currency ORDER BY currency")
    .fetch_all(ex)
    .await
}

/// Commissions per status and currency: (status, currency, count, amount, reversed), from
/// the daily money rollups and the raw commissions of the period's partial days (see
/// [`super::money_rollups::commissions_by_status`]).
pub async fn commissions_by_status<'e, E>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, String, i64, i64, i64)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    super::money_rollups::commissions_by_status(ex, s).await
}

/// [`commissions_by_status`] grouped from the commissions themselves. Served by the
/// covering `ix_commissions__vendor_time_cover`.
pub async fn commissions_by_status_raw<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, String, i64, i64, i64)>, sqlx::Error> {
    scoped(
        "SELECT status, currency, COUNT(*), CAST(SUM(amount_cents) AS BIGINT), \
         CAST(SUM(reversed_cents) AS BIGINT) FROM commissions",
        "created_at >= ",
        "created_at < ",
        s,
    )
    .push(" GROUP BY status, currency ORDER BY status, currency")
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

/// Top affiliates by commission earned in the range, per currency (ties by affiliate id,
/// then currency); a threshold search over the affiliates' all-time earnings (see
/// [`super::money_rollups::leaderboard`]).
pub async fn leaderboard<'e, E>(
    ex: E,
    s: &Scope<'_>,
    limit: i64,
) -> Result<Vec<Leader>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    super::money_rollups::leaderboard(ex, s, limit).await
}

/// [`leaderboard`] by grouping every commission of the range (small ranges, and the
/// reference the search is tested against).
pub async fn leaderboard_raw<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &Scope<'_>,
    limit: i64,
) -> Result<Vec<Leader>, sqlx::Error> {
    // Aggregate over the covering index first, then look up the ten names: joining
    // affiliates before grouping looked up one affiliate row per commission.
    Sql::new(
        "SELECT t.affiliate_id, a.name, a.email, t.currency, t.commissions, t.earned_cents \
         FROM (SELECT affiliate_id, currency, COUNT(*) AS commissions, \
         CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS earned_cents \
         FROM commissions WHERE vendor_id = ",
    )
    .bind(s.vendor_id)
    .and_eq("program_id", s.program_id)
    .and("created_at >= ", s.from)
    .and("created_at < ", s.to)
    .push(
        " AND status <> 'rejected' GROUP BY affiliate_id, currency \
         ORDER BY earned_cents DESC, affiliate_id, currency LIMIT ",
    )
    .bind(limit)
    .push(") t JOIN affiliates a ON a.id = t.affiliate_id AND a.vendor_id = ")
    .bind(s.vendor_id)
    .push(" ORDER BY t.earned_cents DESC, t.affiliate_id, t.currency")
    .fetch_all(ex)
    .await
}

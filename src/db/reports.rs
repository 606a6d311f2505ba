//! Reads of the vendor overview and reports: per-day revenue for the chart, open payouts,
//! per-affiliate and per-program figures over a period, all-time figures of a page of
//! affiliates, and the counts of work waiting for the vendor.
//!
//! Every period read walks a `(vendor_id, time, ...)` range of a rollup or a covering index
//! (see `migrations/0015_query_scale.sql` and `0019_overview_reports.sql`); clicks always
//! come from the click rollups, never from the click log.

use sqlx::{Any, Executor, FromRow};

use super::DbKind;
use super::sql::Sql;

/// Conversions and net revenue (amount less refunds) of one UTC day in one currency.
#[derive(Debug, Clone, FromRow)]
pub struct DayRevenue {
    /// Days since 1970-01-01 (of `occurred_at`, like the analytics totals).
    pub day: i64,
    /// ISO 4217.
    pub currency: String,
    /// Conversions not rejected.
    pub conversions: i64,
    /// Their amounts less refunds, minor units.
    pub net_cents: i64,
}

/// Revenue per day and currency of a vendor (optionally one program) over `[from, to)`,
/// rejected conversions left out. Served by the covering `ix_conversions__vendor_occurred`.
pub async fn revenue_per_day<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<DayRevenue>, sqlx::Error> {
    Sql::new(
        "SELECT occurred_at / 86400000 AS day, currency, COUNT(*) AS conversions, \
         CAST(SUM(amount_cents - refunded_cents) AS BIGINT) AS net_cents \
         FROM conversions WHERE vendor_id = ",
    )
    .bind(vendor_id)
    .and("occurred_at >= ", from)
    .and("occurred_at < ", to)
    .and_eq("program_id", program_id)
    .push(" AND status <> 'rejected' GROUP BY occurred_at / 86400000, currency ORDER BY day, currency")
    .fetch_all(ex)
    .await
}

/// Payouts created in `[from, to)` that are not paid yet (pending or sent), per currency:
/// (currency, count, net amount). Served by `ix_payouts__vendor_status`.
pub async fn open_payouts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    Sql::new(
        "SELECT currency, COUNT(*), CAST(SUM(net_cents) AS BIGINT) FROM payouts \
         WHERE vendor_id = ",
    )
    .bind(vendor_id)
    .push(" AND status IN ('pending', 'processing')")
    .and("created_at >= ", from)
    .and("created_at < ", to)
    .and_eq("program_id", program_id)
    .push(" GROUP BY currency ORDER BY currency")
    .fetch_all(ex)
    .await
}

/// One row of a report: an affiliate or a program with its figures over a period.
#[derive(Debug, Clone, FromRow)]
pub struct ReportRow {
    /// Affiliate or program id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The affiliate's email (empty for a program).
    pub email: String,
    /// Counted clicks.
    pub clicks: i64,
    /// Conversions not rejected (every currency).
    pub conversions: i64,
    /// Net revenue in the report's currency, minor units.
    pub revenue_cents: i64,
    /// Commission earned and kept in the report's currency (not rejected, less reversals).
    pub commission_cents: i64,
}

/// What a report covers. Days are whole UTC days (days since 1970-01-01), `[from_day,
/// to_day)`, so the daily and hourly click rollups answer them exactly.
#[derive(Debug, Clone, Copy)]
pub struct ReportScope<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// First day.
    pub from_day: i64,
    /// One past the last day.
    pub to_day: i64,
    /// Currency of the money columns.
    pub currency: &'a str,
    /// The database it runs on ([`clicks_of`] is written for each).
    pub kind: DbKind,
}

impl ReportScope<'_> {
    /// The first day's start, unix ms.
    fn start_ms(&self) -> i64 {
        self.from_day * super::rollups::DAY_MS
    }
    /// The end (exclusive) of the last day, unix ms.
    fn end_ms(&self) -> i64 {
        self.to_day * super::rollups::DAY_MS
    }
}

/// The column a report is ordered by, from a whitelist (never user text in the SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOrder {
    /// Name, A to Z.
    Name,
    /// Clicks.
    Clicks,
    /// Conversions.
    Conversions,
    /// Revenue.
    Revenue,
    /// Commission.
    Commission,
}

impl ReportOrder {
    fn column(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Clicks => "clicks",
            Self::Conversions => "conversions",
            Self::Revenue => "revenue_cents",
            Self::Commission => "commission_cents",
        }
    }
}

/// The affiliates with any click, conversion or commission in the period.
fn affiliate_ids<'a>(q: Sql<'a>, s: &ReportScope<'a>) -> Sql<'a> {
    q.push(
        "(SELECT affiliate_id FROM click_rollup_affiliate_days WHERE clicks > 0 AND vendor_id = ",
    )
    .bind(s.vendor_id)
    .and("day >= ", s.from_day)
    .and("day < ", s.to_day)
    .push(" UNION SELECT affiliate_id FROM conversions WHERE vendor_id = ")
    .bind(s.vendor_id)
    .and("occurred_at >= ", s.start_ms())
    .and("occurred_at < ", s.end_ms())
    .push(" AND status <> 'rejected'")
    .push(" UNION SELECT affiliate_id FROM commissions WHERE vendor_id = ")
    .bind(s.vendor_id)
    .and("created_at >= ", s.start_ms())
    .and("created_at < ", s.end_ms())
    .push(" AND status <> 'rejected') ids")
}

/// One page of the per-affiliate report, ordered by `order` (then by id, so pages are
/// stable), from grouping the whole period; [`super::report_search::page`] finds most pages
/// without it.
pub async fn affiliate_report<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &ReportScope<'_>,
    order: ReportOrder,
    descending: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    // Each figure is grouped over its own index range first, then joined to the page's
    // affiliates: joining the click and money tables row by row would multiply them.
    let q = affiliate_ids(
        Sql::new(
            "SELECT id, name, email, clicks, conversions, revenue_cents, commission_cents FROM \
             (SELECT a.id AS id, a.name AS name, a.email AS email, \
             COALESCE(k.clicks, 0) AS clicks, COALESCE(v.conversions, 0) AS conversions, \
             COALESCE(v.revenue_cents, 0) AS revenue_cents, \
             COALESCE(m.commission_cents, 0) AS commission_cents FROM ",
        ),
        s,
    )
    .push(" JOIN affiliates a ON a.id = ids.affiliate_id AND a.vendor_id = ")
    .bind(s.vendor_id)
    .push(
        " LEFT JOIN (SELECT affiliate_id, CAST(SUM(clicks) AS BIGINT) AS clicks \
         FROM click_rollup_affiliate_days WHERE vendor_id = ",
    )
    .bind(s.vendor_id)
    .and("day >= ", s.from_day)
    .and("day < ", s.to_day)
    .push(" GROUP BY affiliate_id) k ON k.affiliate_id = a.id");
    let q = money_joins(q, s, "affiliate_id", "a.id").push(") r");
    ordered(q, order, descending, limit, offset)
        .fetch_all(ex)
        .await
}

/// The money figures of a report, joined to its rows: `v` (conversions and revenue in the
/// scope's currency) and `m` (net commission), each grouped by `key` over its own index range
/// and joined on `owner` (the row's id column). Rejected ones count for nothing.
fn money_joins<'a>(
    q: Sql<'a>,
    s: &ReportScope<'a>,
    key: &'static str,
    owner: &'static str,
) -> Sql<'a> {
    q.push(" LEFT JOIN (SELECT ")
        .push(key)
        .push(", COUNT(*) AS conversions, CAST(SUM(CASE WHEN currency = ")
        .bind(s.currency)
        .push(
            " THEN amount_cents - refunded_cents ELSE 0 END) AS BIGINT) AS revenue_cents \
             FROM conversions WHERE vendor_id = ",
        )
        .bind(s.vendor_id)
        .and("occurred_at >= ", s.start_ms())
        .and("occurred_at < ", s.end_ms())
        .push(" AND status <> 'rejected' GROUP BY ")
        .push(key)
        .push(") v ON v.")
        .push(key)
        .push(" = ")
        .push(owner)
        .push(" LEFT JOIN (SELECT ")
        .push(key)
        .push(
            ", CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS commission_cents \
             FROM commissions WHERE vendor_id = ",
        )
        .bind(s.vendor_id)
        .and("created_at >= ", s.start_ms())
        .and("created_at < ", s.end_ms())
        .and("currency = ", s.currency)
        .push(" AND status <> 'rejected' GROUP BY ")
        .push(key)
        .push(") m ON m.")
        .push(key)
        .push(" = ")
        .push(owner)
}

fn ordered<'a>(
    q: Sql<'a>,
    order: ReportOrder,
    descending: bool,
    limit: i64,
    offset: i64,
) -> Sql<'a> {
    let q = q.push(" ORDER BY ").push(order.column());
    let q = if descending {
        q.push(" DESC")
    } else {
        q.push(" ASC")
    };
    q.push(", id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
}

/// One page of the per-program report: every program of the vendor, with its figures.
pub async fn program_report<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &ReportScope<'_>,
    order: ReportOrder,
    descending: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let q = Sql::new(
        "SELECT id, name, email, clicks, conversions, revenue_cents, commission_cents FROM \
         (SELECT p.id AS id, p.name AS name, '' AS email, \
         COALESCE(k.clicks, 0) AS clicks, COALESCE(v.conversions, 0) AS conversions, \
         COALESCE(v.revenue_cents, 0) AS revenue_cents, \
         COALESCE(m.commission_cents, 0) AS commission_cents FROM programs p \
         LEFT JOIN (SELECT program_id, CAST(SUM(clicks) AS BIGINT) AS clicks \
         FROM click_rollup_hours WHERE vendor_id = ",
    )
    .bind(s.vendor_id)
    .and("hour >= ", s.from_day * 24)
    .and("hour < ", s.to_day * 24)
    .push(" GROUP BY program_id) k ON k.program_id = p.id");
    let q = money_joins(q, s, "program_id", "p.id")
        .push(" WHERE p.vendor_id = ")
        .bind(s.vendor_id)
        .push(") r");
    ordered(q, order, descending, limit, offset)
        .fetch_all(ex)
        .await
}

/// Figures of a few affiliates: clicks from the daily rollup, or money per currency.
#[derive(Debug, Clone, FromRow)]
pub struct AffiliateFigure {
    /// The affiliate.
    pub affiliate_id: String,
    /// ISO 4217 (empty for clicks).
    pub currency: String,
    /// How many (clicks, conversions or commissions).
    pub n: i64,
    /// Net amount, minor units (0 for clicks).
    pub cents: i64,
}

/// Name and email of each of `ids` that is an affiliate of the vendor (none for an empty
/// list).
pub async fn names_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, (String, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(
        Sql::new("SELECT id, name, email FROM affiliates WHERE vendor_id = ")
            .bind(vendor_id)
            .and_in("id", ids)
            .fetch_all::<_, (String, String, String)>(ex)
            .await?
            .into_iter()
            .map(|(id, name, email)| (id, (name, email)))
            .collect(),
    )
}

/// Counted clicks of each of `ids` in `[from_day, to_day)` (all time with `None`), from
/// the per-affiliate daily rollup's primary key (vendor, affiliate, day, program).
pub async fn clicks_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    kind: DbKind,
    vendor_id: &str,
    ids: &[&str],
    days: Option<(i64, i64)>,
) -> Result<Vec<AffiliateFigure>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = match kind {
        // PostgreSQL reads each listed affiliate's days from the primary key (or the
        // period's range of `ix_click_rollup_affiliate_days__vendor_day` when that is
        // smaller), by its own statistics.
        DbKind::Postgres => Sql::new(
            "SELECT affiliate_id, '' AS currency, CAST(SUM(clicks) AS BIGINT) AS n, 0 AS cents \
             FROM click_rollup_affiliate_days WHERE vendor_id = ",
        )
        .bind(vendor_id)
        .and_in("affiliate_id", ids),
        // With the `IN` list, SQLite took the covering `(vendor_id, day, affiliate_id,
        // clicks)` index (its sampled statistics, `analysis_limit`, count a vendor's rows
        // far too low): every affiliate's rows of the period, read to keep the listed ones.
        // A sum per listed affiliate reads only that affiliate's days from the primary key.
        // For 200 busy affiliates at 10k affiliates / 1M clicks (`sqlite3`, warm): 7 days
        // 5 → 5 ms, 30 days 32 → 6 ms, 90 days 53 → 9-17 ms, a year 183 → 20 ms.
        DbKind::Sqlite => {
            let mut distinct = ids.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            let mut q = Sql::new(
                "SELECT ids.column1 AS affiliate_id, '' AS currency, COALESCE((SELECT \
                 CAST(SUM(r.clicks) AS BIGINT) FROM click_rollup_affiliate_days r \
                 WHERE r.vendor_id = ",
            )
            .bind(vendor_id)
            .push(" AND r.affiliate_id = ids.column1");
            if let Some((from, to)) = days {
                q = q.and("r.day >= ", from).and("r.day < ", to);
            }
            q = q.push("), 0) AS n, 0 AS cents FROM (VALUES ");
            for (i, id) in distinct.into_iter().enumerate() {
                q = q.push(if i == 0 { "(" } else { ", (" }).bind(id).push(")");
            }
            return q.push(") AS ids").fetch_all(ex).await;
        }
    };
    q.and_opt("day >= ", days.map(|d| d.0))
        .and_opt("day < ", days.map(|d| d.1))
        .push(" GROUP BY affiliate_id")
        .fetch_all(ex)
        .await
}

/// Conversions (not rejected) and net revenue of each of `ids` per currency, in
/// `[from, to)` of `occurred_at` (all time with `None`); from the covering
/// `ix_conversions__affiliate` alone (migration 0038).
pub async fn revenue_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    ids: &[&str],
    range: Option<(i64, i64)>,
) -> Result<Vec<AffiliateFigure>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Sql::new(
        "SELECT affiliate_id, currency, COUNT(*) AS n, \
         CAST(SUM(amount_cents - refunded_cents) AS BIGINT) AS cents \
         FROM conversions WHERE vendor_id = ",
    )
    .bind(vendor_id);
    // `+occurred_at`: the same test, but not one an index range can serve. With the
    // sampled statistics of `analysis_limit`, SQLite took a year's range of
    // `ix_conversions__vendor_occurred` (every conversion of the year) for more selective
    // than the listed affiliates (150 ms at 300k conversions, against a few ms).
    q.and_in("affiliate_id", ids)
        .and_opt("+occurred_at >= ", range.map(|r| r.0))
        .and_opt("+occurred_at < ", range.map(|r| r.1))
        .push(" AND status <> 'rejected' GROUP BY affiliate_id, currency")
        .fetch_all(ex)
        .await
}

/// Commissions (not rejected) and what they earned net of reversals, for each of `ids`
/// per currency, created in `[from, to)` (all time with `None`).
pub async fn commission_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    ids: &[&str],
    range: Option<(i64, i64)>,
) -> Result<Vec<AffiliateFigure>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Sql::new(
        "SELECT affiliate_id, currency, COUNT(*) AS n, \
         CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS cents \
         FROM commissions WHERE vendor_id = ",
    )
    .bind(vendor_id);
    q.and_in("affiliate_id", ids)
        .and_opt("created_at >= ", range.map(|r| r.0))
        .and_opt("created_at < ", range.map(|r| r.1))
        .push(" AND status <> 'rejected' GROUP BY affiliate_id, currency")
        .fetch_all(ex)
        .await
}

/// Work waiting for the vendor, counted over status indexes (conversions from their daily
/// rollup).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Applications to review.
    pub applications: i64,
    /// Conversions to approve.
    pub conversions: i64,
    /// Deals to review.
    pub deals: i64,
    /// Emails that could not be sent.
    pub failed_emails: i64,
    /// Webhook deliveries that gave up.
    pub failed_webhooks: i64,
}

/// Counts the work waiting for a vendor.
pub async fn waiting<'e, E>(ex: E, vendor_id: &str) -> Result<Waiting, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let count = |table: &'static str, status: &'static str| {
        Sql::new(table)
            .bind(vendor_id)
            .push(" AND status = ")
            .push(status)
            .fetch_count(ex)
    };
    Ok(Waiting {
        applications: count(
            "SELECT COUNT(*) FROM applications WHERE vendor_id = ",
            "'pending'",
        )
        .await?,
        conversions: super::money_rollups::conversions_in_status(ex, vendor_id, "pending").await?,
        deals: count("SELECT COUNT(*) FROM deals WHERE vendor_id = ", "'pending'").await?,
        failed_emails: count(
            "SELECT COUNT(*) FROM email_outbox WHERE vendor_id = ",
            "'failed'",
        )
        .await?,
        failed_webhooks: count(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE vendor_id = ",
            "'failed'",
        )
        .await?,
    })
}

//! The per-affiliate report's pages without grouping the whole period.
//!
//! [`super::reports::affiliate_report`] groups every click-day, conversion and commission
//! of the period (one group per active affiliate) and sorts the groups: seconds over a year
//! at 100k affiliates. A page needs only its rows:
//!
//! - **Largest first by a figure:** an affiliate's all-time figure bounds its figure in any
//!   period (none goes below zero), so affiliates are taken in order of the all-time
//!   figure from an index range (`affiliate_click_totals`, `conversion_affiliate_totals`,
//!   `commission_affiliate_totals`), their exact figures looked up by index a batch at a
//!   time, until the last row the page needs is larger than anyone left could reach — the
//!   threshold search of the overview's leaderboard ([`super::money_rollups::leaderboard`]).
//! - **By name:** the vendor's affiliates are walked in name order (`ix_affiliates__vendor_name`)
//!   and kept when they had any activity in the period, until the page is full.
//!
//! Either gives up (`None`, the caller groups the period) when it would read more than its
//! budget of candidates: a short or quiet period, where the bound is loose or few
//! affiliates are active, is cheap to group anyway. Smallest-first orders always group.
//! The rows are exactly those of the grouping query, in the same order (ties by id).

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Executor};

use super::reports::{
    AffiliateFigure, ReportOrder, ReportRow, ReportScope, clicks_of, commission_of, names_of,
    revenue_of,
};
use super::sql::Sql;

/// Candidates (all-time rows, or affiliates by name) read per statement.
const PAGE: i64 = 500;
/// Candidates read at most before the search gives up.
const BUDGET: usize = 4_000;
/// Affiliates whose exact figures are looked up together after the first batch.
const BATCH: usize = 200;

/// One page of the per-affiliate report found without grouping the period, and whether
/// more rows follow it; `None` when the order or the data call for grouping instead.
pub async fn page<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    order: ReportOrder,
    descending: bool,
    limit: i64,
    offset: i64,
) -> Result<Option<(Vec<ReportRow>, bool)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let (Ok(limit), Ok(offset)) = (usize::try_from(limit), usize::try_from(offset)) else {
        return Ok(None);
    };
    // One row past the page says whether another page follows.
    let want = offset.saturating_add(limit).saturating_add(1);
    let ids = match (order, descending) {
        (ReportOrder::Name, _) if want <= BUDGET => by_name(ex, s, descending, want).await?,
        (ReportOrder::Name, _) | (_, false) => None,
        // When the threshold search gives up (or cannot reach so deep a page), the ranking
        // by the one figure may still decide the page.
        (_, true) if want <= BUDGET => match largest(ex, s, order, want).await? {
            Some(ids) => Some(ids),
            None => ranked(ex, s, order, want).await?,
        },
        (_, true) => ranked(ex, s, order, want).await?,
    };
    let Some(ids) = ids else {
        return Ok(None);
    };
    let more = ids.len() > offset.saturating_add(limit);
    let page: Vec<&str> = ids
        .iter()
        .skip(offset)
        .take(limit)
        .map(String::as_str)
        .collect();
    Ok(Some((rows_of(ex, s, &page).await?, more)))
}

/// A figure of one affiliate in the scope's period.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    clicks: i64,
    conversions: i64,
    revenue_cents: i64,
    commission_cents: i64,
    /// Any counted click, or any conversion or commission not rejected (in any currency):
    /// what puts an affiliate in the report.
    active: bool,
}

impl Figures {
    fn key(&self, order: ReportOrder) -> i64 {
        match order {
            ReportOrder::Clicks => self.clicks,
            ReportOrder::Conversions => self.conversions,
            ReportOrder::Revenue => self.revenue_cents,
            ReportOrder::Commission => self.commission_cents,
            ReportOrder::Name => 0,
        }
    }
}

/// The figures of `ids` in the period; only the sources `order` needs (`None`: all).
async fn figures<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    ids: &[&str],
    order: Option<ReportOrder>,
) -> Result<HashMap<String, Figures>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let mut out: HashMap<String, Figures> = HashMap::new();
    let wants = |o: ReportOrder| order.is_none_or(|x| x == o);
    let range = Some((
        s.from_day * super::rollups::DAY_MS,
        s.to_day * super::rollups::DAY_MS,
    ));
    if wants(ReportOrder::Clicks) {
        let found = clicks_of(ex, s.kind, s.vendor_id, ids, Some((s.from_day, s.to_day))).await?;
        for AffiliateFigure {
            affiliate_id, n, ..
        } in found
        {
            let f = out.entry(affiliate_id).or_default();
            f.clicks += n;
            f.active |= n > 0;
        }
    }
    if wants(ReportOrder::Conversions) || wants(ReportOrder::Revenue) {
        for r in revenue_of(ex, s.vendor_id, ids, range).await? {
            let f = out.entry(r.affiliate_id).or_default();
            f.conversions += r.n;
            if r.currency == s.currency {
                f.revenue_cents += r.cents;
            }
            f.active |= r.n > 0;
        }
    }
    if wants(ReportOrder::Commission) {
        for r in commission_of(ex, s.vendor_id, ids, range).await? {
            let f = out.entry(r.affiliate_id).or_default();
            if r.currency == s.currency {
                f.commission_cents += r.cents;
            }
            f.active |= r.n > 0;
        }
    }
    Ok(out)
}

/// The report's rows for `ids`, in that order (an id that is no affiliate of the vendor
/// is left out, as the grouping query's join does).
async fn rows_of<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    ids: &[&str],
) -> Result<Vec<ReportRow>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let names = names_of(ex, s.vendor_id, ids).await?;
    let figures = figures(ex, s, ids, None).await?;
    Ok(ids
        .iter()
        .filter_map(|id| {
            let (name, email) = names.get(*id)?.clone();
            let f = figures.get(*id).copied().unwrap_or_default();
            Some(ReportRow {
                id: (*id).to_owned(),
                name,
                email,
                clicks: f.clicks,
                conversions: f.conversions,
                revenue_cents: f.revenue_cents,
                commission_cents: f.commission_cents,
            })
        })
        .collect())
}

/// Where the all-time bound of a figure is read, largest first: (affiliate, bound) rows,
/// and how many of an affiliate's rows can add up to its figure.
struct Bounds<'a> {
    query: Sql<'a>,
    rows_per_affiliate: i64,
}

async fn bounds<'e, 'a, E>(
    ex: E,
    s: &ReportScope<'a>,
    order: ReportOrder,
) -> Result<Option<Bounds<'a>>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    Ok(Some(match order {
        ReportOrder::Clicks => Bounds {
            query: Sql::new("SELECT affiliate_id, clicks FROM affiliate_click_totals WHERE vendor_id = ")
                .bind(s.vendor_id)
                .push(" AND clicks > 0 ORDER BY clicks DESC, affiliate_id DESC"),
            rows_per_affiliate: 1,
        },
        // One row per currency: the vendor-wide count is at most `currencies ×` the
        // largest of an affiliate's rows.
        ReportOrder::Conversions => Bounds {
            query: Sql::new(
                "SELECT affiliate_id, conversions FROM conversion_affiliate_totals WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .push(" AND conversions > 0 ORDER BY conversions DESC, affiliate_id DESC, currency DESC"),
            rows_per_affiliate: currencies(ex, s.vendor_id).await?,
        },
        ReportOrder::Revenue => Bounds {
            query: Sql::new(
                "SELECT affiliate_id, net_cents FROM conversion_affiliate_totals WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and("currency = ", s.currency)
            .push(" AND net_cents > 0 ORDER BY net_cents DESC, affiliate_id DESC"),
            rows_per_affiliate: 1,
        },
        // One row per program: at most `programs ×` the largest.
        ReportOrder::Commission => Bounds {
            query: Sql::new(
                "SELECT affiliate_id, earned_cents FROM commission_affiliate_totals WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and("currency = ", s.currency)
            .push(" AND earned_cents > 0 ORDER BY earned_cents DESC, affiliate_id DESC, program_id DESC"),
            rows_per_affiliate: Sql::new("SELECT COUNT(*) FROM programs WHERE vendor_id = ")
                .bind(s.vendor_id)
                .fetch_count(ex)
                .await?
                .max(1),
        },
        ReportOrder::Name => return Ok(None),
    }))
}

/// How many currencies the vendor's conversions are in: one index probe per currency.
async fn currencies<'e, E>(ex: E, vendor_id: &str) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let mut n = 0;
    let mut after = String::new();
    loop {
        let next: Option<String> =
            Sql::new("SELECT MIN(currency) FROM conversion_affiliate_totals WHERE vendor_id = ")
                .bind(vendor_id)
                .and("currency > ", after.as_str())
                .build_as::<(Option<String>,)>()
                .fetch_one(ex)
                .await?
                .0;
        match next {
            Some(c) => {
                n += 1;
                after = c;
            }
            None => return Ok(n.max(1)),
        }
    }
}

/// The first `want` affiliates by `order`, largest first (ties by id), when all of them
/// have more than zero; `None` to group instead.
async fn largest<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    order: ReportOrder,
    want: usize,
) -> Result<Option<Vec<String>>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let Some(Bounds {
        query,
        rows_per_affiliate,
    }) = bounds(ex, s, order).await?
    else {
        return Ok(None);
    };
    // All-time rows, largest first, read a page at a time.
    let mut rows: Vec<(String, i64)> = Vec::new();
    let mut complete = false;
    let mut next = 0;
    // Affiliates looked up (or in the batch being looked up).
    let mut asked: HashSet<String> = HashSet::new();
    // Affiliates with more than zero in the period, and how much.
    let mut exact: Vec<(String, i64)> = Vec::new();
    loop {
        let size = if asked.is_empty() {
            want.saturating_add(2)
        } else {
            BATCH
        };
        let mut batch: Vec<String> = Vec::new();
        while batch.len() < size {
            if next == rows.len() {
                if complete || rows.len() >= BUDGET {
                    break;
                }
                let page: Vec<(String, i64)> = query
                    .clone()
                    .push(" LIMIT ")
                    .bind(PAGE)
                    .push(" OFFSET ")
                    .bind(rows.len() as i64)
                    .fetch_all(ex)
                    .await?;
                complete = (page.len() as i64) < PAGE;
                rows.extend(page);
                continue;
            }
            // An affiliate is asked for once, whichever of its rows comes first.
            let a = &rows[next].0;
            if asked.insert(a.clone()) {
                batch.push(a.clone());
            }
            next += 1;
        }
        if !batch.is_empty() {
            let ids: Vec<&str> = batch.iter().map(String::as_str).collect();
            let found = figures(ex, s, &ids, Some(order)).await?;
            // Only those that can still enter the page are checked against the vendor's
            // affiliates (as the grouping joins them): once the page is full, a figure
            // below its last row's cannot (one equal still can: ties go by id, which the
            // sort below compares). Checking every batch cost a name lookup of 200
            // affiliates per batch, most of a search that ends up giving up.
            let floor = if exact.len() >= want {
                exact[want - 1].1
            } else {
                0
            };
            let contenders: Vec<(String, i64)> = found
                .into_iter()
                .map(|(id, f)| (id, f.key(order)))
                .filter(|(_, key)| *key > 0 && *key >= floor)
                .collect();
            let ids: Vec<&str> = contenders.iter().map(|(id, _)| id.as_str()).collect();
            let names = names_of(ex, s.vendor_id, &ids).await?;
            exact.extend(
                contenders
                    .into_iter()
                    .filter(|(id, _)| names.contains_key(id)),
            );
            exact.sort_by(|(ia, ka), (ib, kb)| kb.cmp(ka).then_with(|| ia.cmp(ib)));
            exact.truncate(want);
        }
        // The largest figure an affiliate not looked up yet could have.
        let pending = rows[next..]
            .iter()
            .find(|(a, _)| !asked.contains(a))
            .map(|(_, bound)| bound.saturating_mul(rows_per_affiliate));
        match pending {
            // Everyone with a figure above zero was looked up.
            None if complete => {
                // Fewer than the page needs: the rest are affiliates with nothing in this
                // figure, ordered by id, which only the grouping knows.
                return Ok((exact.len() >= want).then(|| ids(exact)));
            }
            None => return Ok(None),
            // Strictly more: a candidate equal to the last could still come first by id.
            Some(bound) if exact.len() >= want && exact[want - 1].1 > bound => {
                return Ok(Some(ids(exact)));
            }
            Some(_) => {}
        }
    }
}

/// The first `want` affiliates by `order`, largest first (ties by id), from grouping only
/// the rows of that one figure in the period, when at least `want` affiliates have more
/// than zero of it; `None` otherwise (the rest are the active affiliates with nothing in
/// this figure, ordered by id, which only grouping every source knows).
///
/// For the pages the threshold search gives up on: a deep page, or a period whose figures
/// are a small part of the all-time bounds (page 20 of 90 days by revenue at 100k
/// affiliates ran out of candidates). Grouping every source instead (click-days included)
/// took 2.8 s there on SQLite, and its memory went from 320 to 555 MB.
pub async fn ranked<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    order: ReportOrder,
    want: usize,
) -> Result<Option<Vec<String>>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let Ok(limit) = i64::try_from(want) else {
        return Ok(None);
    };
    let (start, end) = (
        s.from_day * super::rollups::DAY_MS,
        s.to_day * super::rollups::DAY_MS,
    );
    // The figure's expression appears twice: PostgreSQL's HAVING cannot name an output
    // column. Each source is read as the grouping query reads it (`reports::money_joins`).
    let (q, figure) = match order {
        ReportOrder::Clicks => (
            Sql::new("SELECT affiliate_id, CAST(SUM(clicks) AS BIGINT) AS n FROM click_rollup_affiliate_days WHERE vendor_id = ")
                .bind(s.vendor_id)
                .and("day >= ", s.from_day)
                .and("day < ", s.to_day),
            "SUM(clicks)",
        ),
        ReportOrder::Conversions => (
            Sql::new("SELECT affiliate_id, COUNT(*) AS n FROM conversions WHERE vendor_id = ")
                .bind(s.vendor_id)
                .and("occurred_at >= ", start)
                .and("occurred_at < ", end)
                .push(" AND status <> 'rejected'"),
            "COUNT(*)",
        ),
        ReportOrder::Revenue => (
            Sql::new("SELECT affiliate_id, CAST(SUM(amount_cents - refunded_cents) AS BIGINT) AS n FROM conversions WHERE vendor_id = ")
                .bind(s.vendor_id)
                .and("occurred_at >= ", start)
                .and("occurred_at < ", end)
                .push(" AND status <> 'rejected'")
                .and("currency = ", s.currency),
            "SUM(amount_cents - refunded_cents)",
        ),
        ReportOrder::Commission => (
            Sql::new("SELECT affiliate_id, CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS n FROM commissions WHERE vendor_id = ")
                .bind(s.vendor_id)
                .and("created_at >= ", start)
                .and("created_at < ", end)
                .and("currency = ", s.currency)
                .push(" AND status <> 'rejected'"),
            "SUM(amount_cents - reversed_cents)",
        ),
        ReportOrder::Name => return Ok(None),
    };
    let rows: Vec<(String, i64)> = q
        .push(" GROUP BY affiliate_id HAVING ")
        .push(figure)
        .push(" > 0 ORDER BY n DESC, affiliate_id LIMIT ")
        .bind(limit)
        .fetch_all(ex)
        .await?;
    if rows.len() < want {
        return Ok(None);
    }
    // The grouping query joins the vendor's affiliates: a row of no affiliate of the
    // vendor would be left out there and shift the pages, so grouping decides then.
    let found = ids(rows);
    let mut known = 0;
    for chunk in found.chunks(BATCH) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        known += names_of(ex, s.vendor_id, &chunk).await?.len();
    }
    Ok((known == found.len()).then_some(found))
}

fn ids(rows: Vec<(String, i64)>) -> Vec<String> {
    rows.into_iter().map(|(id, _)| id).collect()
}

/// The first `want` active affiliates by name (then by id, always ascending, as the
/// grouping query orders them); `None` to group instead.
async fn by_name<'e, E>(
    ex: E,
    s: &ReportScope<'_>,
    descending: bool,
    want: usize,
) -> Result<Option<Vec<String>>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let mut kept: Vec<String> = Vec::new();
    let mut read = 0usize;
    while read < BUDGET {
        let page: Vec<(String,)> = Sql::new("SELECT id FROM affiliates WHERE vendor_id = ")
            .bind(s.vendor_id)
            .push(if descending {
                " ORDER BY name DESC, id LIMIT "
            } else {
                " ORDER BY name, id LIMIT "
            })
            .bind(PAGE)
            .push(" OFFSET ")
            .bind(read as i64)
            .fetch_all(ex)
            .await?;
        read += page.len();
        let done = (page.len() as i64) < PAGE;
        for chunk in page.chunks(BATCH) {
            let ids: Vec<&str> = chunk.iter().map(|(id,)| id.as_str()).collect();
            let found = figures(ex, s, &ids, None).await?;
            for id in ids {
                if found.get(id).is_some_and(|f| f.active) {
                    kept.push(id.to_owned());
                    if kept.len() >= want {
                        return Ok(Some(kept));
                    }
                }
            }
        }
        if done {
            return Ok(Some(kept));
        }
    }
    Ok(None)
}

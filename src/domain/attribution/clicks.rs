//! Click reports for the vendor: raw clicks of a period and their per-day counts.

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

use crate::db::{self, Db, clicks::ClickRow, clicks::Range};
use crate::domain::attribution::tracking::Tracker;
use crate::error::{AppError, AppResult};

const DAY_MS: i64 = 86_400_000;
/// Longest period one report covers.
pub const MAX_DAYS: i64 = 366;
/// Period when none is given.
pub const DEFAULT_DAYS: i64 = 30;

/// A click in API responses.
#[derive(Debug, Serialize)]
pub struct Click {
    /// The click id (`aff_sess`).
    pub id: String,
    /// Program.
    pub program_id: String,
    /// Affiliate.
    pub affiliate_id: String,
    /// Extra link, if any.
    pub link_id: Option<String>,
    /// Code used.
    pub code: String,
    /// Destination / landing page.
    pub landing_url: String,
    /// Referrer.
    pub referrer: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Crawler or script.
    pub is_bot: bool,
    /// Repeat within 30 s.
    pub is_duplicate: bool,
    /// Counted in stats (neither bot nor duplicate).
    pub counted: bool,
    /// `redirect`, `snippet` or `api`.
    pub source: String,
    /// Click time.
    pub created_at: String,
}

impl From<ClickRow> for Click {
    fn from(r: ClickRow) -> Self {
        Self {
            counted: r.is_bot == 0 && r.is_duplicate == 0,
            is_bot: r.is_bot == 1,
            is_duplicate: r.is_duplicate == 1,
            id: r.id,
            program_id: r.program_id,
            affiliate_id: r.affiliate_id,
            link_id: r.link_id,
            code: r.code,
            landing_url: r.landing_url,
            referrer: r.referrer,
            user_agent: r.user_agent,
            source: r.source,
            created_at: db::rfc3339(r.created_at),
        }
    }
}

/// Counts of one UTC day.
#[derive(Debug, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Counted clicks.
    pub clicks: i64,
    /// Bot clicks.
    pub bots: i64,
    /// Repeat clicks.
    pub duplicates: i64,
}

/// Totals of the period and per day (days without clicks included as zeros).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Start of the period (inclusive).
    pub from: String,
    /// End of the period (exclusive).
    pub to: String,
    /// Counted clicks.
    pub clicks: i64,
    /// Bot clicks.
    pub bots: i64,
    /// Repeat clicks.
    pub duplicates: i64,
    /// Every recorded click.
    pub recorded: i64,
    /// Per UTC day, oldest first.
    pub by_day: Vec<Day>,
}

/// Parses `from`/`to` (`YYYY-MM-DD`, whole UTC days, `to` inclusive; or RFC 3339 instants,
/// `to` exclusive) into `[from, to)` unix ms. Defaults: the last 30 days.
pub fn parse_period(from: Option<&str>, to: Option<&str>, now: i64) -> AppResult<(i64, i64)> {
    let to_ms = match to.filter(|s| !s.is_empty()) {
        Some(s) => parse_instant("to", s, true)?,
        None => now + 1,
    };
    let from_ms = match from.filter(|s| !s.is_empty()) {
        Some(s) => parse_instant("from", s, false)?,
        None => to_ms - DEFAULT_DAYS * DAY_MS,
    };
    if from_ms >= to_ms {
        return Err(AppError::invalid("from", "from must be before to"));
    }
    if to_ms - from_ms > MAX_DAYS * DAY_MS {
        return Err(AppError::invalid(
            "from",
            format!("a period covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from_ms, to_ms))
}

/// Parses one bound of a period for `field`: a date (`YYYY-MM-DD`, its start, or with `end`
/// the start of the next day, so an end date is inclusive) or an RFC 3339 instant.
pub fn parse_instant(field: &str, raw: &str, end: bool) -> AppResult<i64> {
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let start = date.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
        return Ok(if end { start + DAY_MS } else { start });
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            AppError::invalid(
                field,
                format!("{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

/// One page of clicks in a period, with the period's summary. Clicks of the last moments
/// may still be queued in this process, so the queue is drained first.
pub async fn report(
    tracker: &Tracker,
    db: &Db,
    range: &Range<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Click>, Summary)> {
    tracker.clicks.flush().await;
    let days = db::clicks::per_day(db.pool(), range).await?;
    let rows = db::clicks::page(db.pool(), range, limit, offset).await?;
    let first_day = range.from.div_euclid(DAY_MS);
    let last_day = (range.to - 1).div_euclid(DAY_MS);
    let mut by_day = Vec::new();
    let mut stored = days.iter().peekable();
    let (mut clicks, mut bots, mut duplicates, mut recorded) = (0, 0, 0, 0);
    for day in first_day..=last_day {
        let mut d = Day {
            date: db::from_ms(day * DAY_MS).format("%Y-%m-%d").to_string(),
            clicks: 0,
            bots: 0,
            duplicates: 0,
        };
        if let Some(s) = stored.next_if(|s| s.day == day) {
            d.clicks = s.clicks;
            d.bots = s.bots;
            d.duplicates = s.duplicates;
            recorded += s.recorded;
        }
        clicks += d.clicks;
        bots += d.bots;
        duplicates += d.duplicates;
        by_day.push(d);
    }
    let summary = Summary {
        from: db::rfc3339(range.from),
        to: db::rfc3339(range.to),
        clicks,
        bots,
        duplicates,
        recorded,
        by_day,
    };
    Ok((rows.into_iter().map(Click::from).collect(), summary))
}

/// Recomputes every vendor's click rollups from the click log, one vendor per
/// transaction; returns how many vendors were rebuilt. Clicks written meanwhile wait for
/// the vendor's transaction (SQLite's write lock, PostgreSQL's row locks on the rollups).
pub async fn rebuild_rollups(db: &Db) -> AppResult<usize> {
    let vendors = db::vendors::all_ids(db.pool()).await?;
    for vendor in &vendors {
        rebuild_rollups_of(db, vendor).await?;
    }
    Ok(vendors.len())
}

/// Recomputes one vendor's click rollups in one transaction (see [`rebuild_rollups`]).
pub async fn rebuild_rollups_of(db: &Db, vendor_id: &str) -> AppResult<()> {
    let mut tx = db.begin().await?;
    db::rollups::rebuild(&mut tx, vendor_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Where a vendor's click rollups disagree with its click log (at most 20 buckets of each
/// rollup), worded for `affilia ledger verify`.
pub async fn rollup_mismatches(db: &Db, vendor_id: &str) -> AppResult<Vec<String>> {
    Ok(db::rollups::mismatches(db.pool(), vendor_id, 20)
        .await?
        .into_iter()
        .map(|(table, bucket)| {
            format!("click rollup ({table}) differs from the click log at {bucket}; run `affilia rollups rebuild`")
        })
        .collect())
}

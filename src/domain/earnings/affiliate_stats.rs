//! An affiliate's own figures: clicks, referrals, conversions and earnings over a period,
//! with a series for charts, and when their next payout comes. Read by the portal
//! dashboard, its embed, and `GET /api/v1/me/stats`.
//!
//! Periods are whole UTC days. A period comes either from a preset (`?period=7d|30d|90d|12m`,
//! see [`Period::preset`]) or from explicit `from`/`to` (see [`Period::parse`], which
//! accepts both and uses [`crate::domain::attribution::clicks::parse_period`] for the explicit form).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::db::{self, Db, affiliate_stats::Scope};
use crate::domain::attribution::clicks;
use crate::domain::earnings::ledger::Balance;
use crate::error::{AppError, AppResult};

const DAY_MS: i64 = 86_400_000;
/// Longest span still charted per day when `from`/`to` are explicit; longer spans are
/// charted per week.
const DAILY_MAX_DAYS: i64 = 92;

/// The period presets, in the order a selector shows them.
pub const PRESETS: [&str; 4] = ["7d", "30d", "90d", "12m"];
/// The preset used when none is given.
pub const DEFAULT_PRESET: &str = "30d";

/// The width of one point of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// One UTC day.
    Day,
    /// Monday to Sunday (UTC).
    Week,
    /// A calendar month (UTC).
    Month,
}

impl Bucket {
    /// Parses `day`, `week` or `month` (`None` when empty).
    pub fn parse(raw: Option<&str>) -> AppResult<Option<Self>> {
        Ok(
            match crate::domain::values::text::choice("bucket", raw, &["day", "week", "month"])? {
                Some("day") => Some(Self::Day),
                Some("week") => Some(Self::Week),
                Some("month") => Some(Self::Month),
                _ => None,
            },
        )
    }

    /// The natural bucket of a span: days up to 92 days, weeks beyond.
    pub fn for_span(from: i64, to: i64) -> Self {
        if to - from <= DAILY_MAX_DAYS * DAY_MS {
            Self::Day
        } else {
            Self::Week
        }
    }

    /// The first day (days since 1970-01-01) of the bucket holding `day`.
    fn start(self, day: i64) -> i64 {
        match self {
            Self::Day => day,
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            Self::Week => day - (day + 3).rem_euclid(7),
            Self::Month => {
                let date = date_of(day);
                date.with_day(1).map_or(day, day_of)
            }
        }
    }
}

fn date_of(day: i64) -> NaiveDate {
    db::from_ms(day * DAY_MS).date_naive()
}

fn day_of(date: NaiveDate) -> i64 {
    date.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
        .div_euclid(DAY_MS)
}

/// A resolved period: `[from, to)` in unix ms and how its series is bucketed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The preset it came from (`7d`, `30d`, `90d`, `12m`), `None` for explicit dates.
    pub preset: Option<&'static str>,
    /// Inclusive start, unix ms.
    pub from: i64,
    /// Exclusive end, unix ms.
    pub to: i64,
    /// Series bucket.
    pub bucket: Bucket,
}

impl Period {
    /// A preset period ending with today (UTC), `now` being unix ms:
    /// * `7d`, `30d`, `90d`: that many whole days, today included, one point per day;
    /// * `12m`: the current calendar month and the 11 before it, one point per month.
    ///
    /// Empty or absent means [`DEFAULT_PRESET`]; anything else → 422 on `period`.
    pub fn preset(raw: Option<&str>, now: i64) -> AppResult<Self> {
        let key =
            crate::domain::values::text::choice("period", raw, &PRESETS)?.unwrap_or(DEFAULT_PRESET);
        let today = now.div_euclid(DAY_MS);
        let days = |n: i64| Self {
            preset: Some(key),
            from: (today + 1 - n) * DAY_MS,
            to: (today + 1) * DAY_MS,
            bucket: Bucket::Day,
        };
        Ok(match key {
            "7d" => days(7),
            "90d" => days(90),
            "12m" => {
                let first = Bucket::Month.start(today);
                let date = date_of(first);
                let (y, m) = (date.year(), date.month0() as i32);
                let month = |offset: i32| {
                    let total = y * 12 + m + offset;
                    NaiveDate::from_ymd_opt(
                        total.div_euclid(12),
                        total.rem_euclid(12) as u32 + 1,
                        1,
                    )
                    .map_or(first, day_of)
                };
                Self {
                    preset: Some(key),
                    from: month(-11) * DAY_MS,
                    to: month(1) * DAY_MS,
                    bucket: Bucket::Month,
                }
            }
            _ => days(30),
        })
    }

    /// The period of a query: explicit `from`/`to` when either is given (`YYYY-MM-DD`,
    /// whole UTC days with `to` inclusive, or RFC 3339 instants with `to` exclusive; at
    /// most 366 days; see [`clicks::parse_period`]), else the `period` preset. `bucket`
    /// overrides the series bucket (default: the preset's, or [`Bucket::for_span`]).
    pub fn parse(
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        bucket: Option<&str>,
        now: i64,
    ) -> AppResult<Self> {
        let given = |s: Option<&str>| s.is_some_and(|s| !s.trim().is_empty());
        let mut p = if given(from) || given(to) {
            let (from, to) = clicks::parse_period(from, to, now)?;
            Self {
                preset: None,
                from,
                to,
                bucket: Bucket::for_span(from, to),
            }
        } else {
            Self::preset(period, now)?
        };
        if let Some(b) = Bucket::parse(bucket)? {
            p.bucket = b;
        }
        Ok(p)
    }
}

/// Earnings in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Earnings {
    /// ISO 4217.
    pub currency: String,
    /// Commissions earned less refunds (rejected ones count nothing), minor units.
    pub earned_cents: i64,
    /// How many commissions (rejected ones excluded).
    pub commissions: i64,
}

/// One point of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    /// `YYYY-MM-DD` of the bucket's first day (a Monday for weeks, the 1st for months;
    /// it may precede the period's start).
    pub date: String,
    /// Counted clicks.
    pub clicks: i64,
    /// Referred customers.
    pub referrals: i64,
    /// Conversions not rejected.
    pub conversions: i64,
    /// Earnings per currency (currencies with earnings in the bucket only).
    pub earned_cents: BTreeMap<String, i64>,
}

/// An affiliate's figures for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffiliateStats {
    /// Start of the period (inclusive), RFC 3339.
    pub from: String,
    /// End of the period (exclusive), RFC 3339.
    pub to: String,
    /// Width of the series' points.
    pub bucket: Bucket,
    /// Counted clicks (no bots, no repeats within 30 s).
    pub clicks: i64,
    /// Customers referred.
    pub referrals: i64,
    /// Conversions that were not rejected.
    pub conversions: i64,
    /// Earnings per currency, by currency code.
    pub earnings: Vec<Earnings>,
    /// One point per bucket, oldest first, empty buckets included.
    pub series: Vec<Point>,
}

/// An affiliate's all-time headline figures in one currency (seed 003's `stats`, seed 001's
/// `totalEarned`), read from the journal: `total_earned_cents = pending_cents +
/// approved_cents + paid_cents` always holds. Other currencies are left to the
/// per-currency balances given beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// ISO 4217: the payout currency (see [`totals`]).
    pub currency: String,
    /// Commissions in `currency` that still count: pending, available or paid (all
    /// levels; rejected and wholly reversed ones excluded).
    pub total_commissions: i64,
    /// Everything earned and kept in `currency`, net of refunds and rejections.
    pub total_earned_cents: i64,
    /// In the holding period.
    pub pending_cents: i64,
    /// Approved and not paid yet: available (negative after a clawback) plus in payouts.
    pub approved_cents: i64,
    /// Settled by paid payouts, before the platform fee (the balances show the fee apart).
    pub paid_cents: i64,
}

impl Totals {
    /// The figures of `currency` from an affiliate's balances (zero when it has none).
    pub fn from_balances(currency: &str, balances: &[Balance], total_commissions: i64) -> Self {
        let b = balances
            .iter()
            .find(|b| b.currency == currency)
            .cloned()
            .unwrap_or_default();
        // Saturating: bounded amounts never approach i64, but old unbounded rows must not
        // panic a debug build.
        let pending_cents = b.pending_cents;
        let approved_cents = b.available_cents.saturating_add(b.in_payout_cents);
        let paid_cents = b.paid_cents.saturating_add(b.fees_cents);
        Self {
            currency: currency.to_owned(),
            total_commissions,
            total_earned_cents: pending_cents
                .saturating_add(approved_cents)
                .saturating_add(paid_cents),
            pending_cents,
            approved_cents,
            paid_cents,
        }
    }
}

/// The headline figures of an affiliate whose per-currency `balances` were read already:
/// in the currency of the program of its first enrollment, else the vendor's default
/// currency.
pub async fn totals(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    balances: &[Balance],
) -> AppResult<Totals> {
    let currency = db::affiliate_stats::payout_currency(db.pool(), vendor_id, affiliate_id)
        .await?
        .unwrap_or_default();
    let n =
        db::affiliate_stats::counting_commissions(db.pool(), vendor_id, affiliate_id, &currency)
            .await?;
    Ok(Totals::from_balances(&currency, balances, n))
}

/// The affiliate's figures over `[from, to)` (unix ms), optionally for one of their
/// programs, with the series bucketed by [`Bucket::for_span`]. Times are when things were
/// recorded. The program must be one the affiliate is enrolled in (else 422 on
/// `program_id`); the period is at most 366 days (422 on `from`).
pub async fn summary(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
    from: i64,
    to: i64,
) -> AppResult<AffiliateStats> {
    summary_by(
        db,
        vendor_id,
        affiliate_id,
        program_id,
        from,
        to,
        Bucket::for_span(from, to),
    )
    .await
}

/// [`summary`] for a [`Period`] (its bucket included).
pub async fn for_period(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
    period: &Period,
) -> AppResult<AffiliateStats> {
    summary_by(
        db,
        vendor_id,
        affiliate_id,
        program_id,
        period.from,
        period.to,
        period.bucket,
    )
    .await
}

/// [`summary`] with a chosen bucket.
pub async fn summary_by(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
    from: i64,
    to: i64,
    bucket: Bucket,
) -> AppResult<AffiliateStats> {
    if from >= to {
        return Err(AppError::invalid("from", "from must be before to"));
    }
    if to - from > (clicks::MAX_DAYS + 1) * DAY_MS {
        return Err(AppError::invalid(
            "from",
            format!("a period covers at most {} days", clicks::MAX_DAYS),
        ));
    }
    if let Some(p) = program_id {
        let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id).await?;
        if !enrollments.iter().any(|e| e.program_id == p) {
            return Err(AppError::invalid(
                "program_id",
                "you are not enrolled in this program",
            ));
        }
    }
    let scope = Scope {
        vendor_id,
        affiliate_id,
        program_id,
        from,
        to,
    };
    let pool = db.pool();
    let clicks = db::affiliate_stats::clicks(pool, &scope).await?;
    let referrals = db::affiliate_stats::referrals(pool, &scope).await?;
    let conversions = db::affiliate_stats::conversions(pool, &scope).await?;
    let earned = db::affiliate_stats::earnings(pool, &scope).await?;

    let skeleton = Series::new(from, to, bucket);
    let point = |day: i64| skeleton.point(day);
    let mut series = skeleton.points.clone();
    let mut totals = (0, 0, 0);
    for c in &clicks {
        totals.0 += c.n;
        if let Some(i) = point(c.day) {
            series[i].clicks += c.n;
        }
    }
    for r in &referrals {
        totals.1 += r.n;
        if let Some(i) = point(r.day) {
            series[i].referrals += r.n;
        }
    }
    for c in &conversions {
        totals.2 += c.n;
        if let Some(i) = point(c.day) {
            series[i].conversions += c.n;
        }
    }
    let mut earnings: BTreeMap<String, Earnings> = BTreeMap::new();
    for e in earned {
        let total = earnings
            .entry(e.currency.clone())
            .or_insert_with(|| Earnings {
                currency: e.currency.clone(),
                earned_cents: 0,
                commissions: 0,
            });
        total.earned_cents += e.earned_cents;
        total.commissions += e.commissions;
        if let Some(i) = point(e.day) {
            *series[i].earned_cents.entry(e.currency).or_insert(0) += e.earned_cents;
        }
    }
    Ok(AffiliateStats {
        from: db::rfc3339(from),
        to: db::rfc3339(to),
        bucket,
        clicks: totals.0,
        referrals: totals.1,
        conversions: totals.2,
        earnings: earnings.into_values().collect(),
        series,
    })
}

/// The empty points of a period's series, one per bucket (oldest first, empty buckets
/// included), and which point a UTC day falls in. Shared by the affiliate's figures and the
/// vendor overview so both chart the same buckets.
#[derive(Debug, Clone)]
pub struct Series {
    /// The points, every figure zero.
    pub points: Vec<Point>,
    index: HashMap<i64, usize>,
    bucket: Bucket,
}

impl Series {
    /// The points of `[from, to)` (unix ms) in buckets of `bucket`.
    pub fn new(from: i64, to: i64, bucket: Bucket) -> Self {
        let mut points: Vec<Point> = Vec::new();
        let mut index: HashMap<i64, usize> = HashMap::new();
        for day in from.div_euclid(DAY_MS)..=(to - 1).div_euclid(DAY_MS) {
            let start = bucket.start(day);
            index.entry(start).or_insert_with(|| {
                points.push(Point {
                    date: date_of(start).format("%Y-%m-%d").to_string(),
                    clicks: 0,
                    referrals: 0,
                    conversions: 0,
                    earned_cents: BTreeMap::new(),
                });
                points.len() - 1
            });
        }
        Self {
            points,
            index,
            bucket,
        }
    }

    /// The index of the point holding `day` (days since 1970-01-01), if in the period.
    pub fn point(&self, day: i64) -> Option<usize> {
        self.index.get(&self.bucket.start(day)).copied()
    }
}

/// Earnings figures, derived from the journal (balances) and the conversions.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Conversions attributed to the affiliate (any status).
    pub conversions: i64,
    /// Commissions earned (all levels, any status).
    pub commissions: i64,
    /// Headline figures in the payout currency (seed 003): `currency`,
    /// `total_commissions`, `total_earned_cents`, `pending_cents`, `approved_cents`,
    /// `paid_cents`.
    #[serde(flatten)]
    pub totals: Totals,
    /// Balances per currency: pending, available, paid, earned.
    pub balances: Vec<Balance>,
}

/// Earnings of an affiliate: balances from the journal, counts from conversions and
/// commissions.
pub async fn of_affiliate(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Stats> {
    let conversions = db::conversions::count(
        db.pool(),
        &db::conversions::Filter {
            vendor_id,
            affiliate_id: Some(affiliate_id),
            program_id: None,
            status: None,
            customer_id: None,
        },
    )
    .await?;
    let commissions = db::commissions::count(
        db.pool(),
        &db::commissions::Filter {
            vendor_id,
            affiliate_id: Some(affiliate_id),
            program_id: None,
            status: None,
            conversion_id: None,
        },
    )
    .await?;
    let balances = crate::domain::earnings::ledger::balances(db, vendor_id, affiliate_id).await?;
    let totals = totals(db, vendor_id, affiliate_id, &balances).await?;
    Ok(Stats {
        conversions,
        commissions,
        totals,
        balances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .unwrap()
    }

    #[test]
    fn presets_cover_whole_days_up_to_today() {
        let now = at("2026-11-21T12:30:00Z");
        let p = Period::preset(None, now).unwrap();
        assert_eq!(p.preset, Some("30d"));
        assert_eq!(db::rfc3339(p.from), "2026-10-23T00:00:00.000Z");
        assert_eq!(db::rfc3339(p.to), "2026-11-22T00:00:00.000Z");
        assert_eq!(p.bucket, Bucket::Day);
        let p = Period::preset(Some("7d"), now).unwrap();
        assert_eq!(db::rfc3339(p.from), "2026-11-15T00:00:00.000Z");
        let p = Period::preset(Some("12m"), now).unwrap();
        assert_eq!(db::rfc3339(p.from), "2025-12-01T00:00:00.000Z");
        assert_eq!(db::rfc3339(p.to), "2026-12-01T00:00:00.000Z");
        assert_eq!(p.bucket, Bucket::Month);
        let p = Period::preset(Some("12m"), at("2026-12-31T23:00:00Z")).unwrap();
        assert_eq!(db::rfc3339(p.from), "2026-01-01T00:00:00.000Z");
        assert_eq!(db::rfc3339(p.to), "2027-01-01T00:00:00.000Z");
        assert!(Period::preset(Some("1y"), now).is_err());
    }

    #[test]
    fn explicit_dates_win_over_the_preset() {
        let now = at("2026-11-21T12:30:00Z");
        let p = Period::parse(
            Some("7d"),
            Some("2026-01-01"),
            Some("2026-06-30"),
            None,
            now,
        )
        .unwrap();
        assert_eq!(p.preset, None);
        assert_eq!(db::rfc3339(p.to), "2026-07-01T00:00:00.000Z");
        assert_eq!(p.bucket, Bucket::Week);
        let p = Period::parse(None, Some("2026-11-01"), None, Some("month"), now).unwrap();
        assert_eq!(p.bucket, Bucket::Month);
        assert!(Period::parse(None, None, None, Some("year"), now).is_err());
    }

    #[test]
    fn buckets_start_on_days_mondays_and_firsts() {
        let day = |s: &str| day_of(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        // 2026-11-19 is a Thursday.
        assert_eq!(Bucket::Week.start(day("2026-11-19")), day("2026-11-16"));
        assert_eq!(Bucket::Week.start(day("2026-11-16")), day("2026-11-16"));
        assert_eq!(Bucket::Week.start(day("2026-11-22")), day("2026-11-16"));
        assert_eq!(Bucket::Month.start(day("2026-11-19")), day("2026-11-01"));
        assert_eq!(Bucket::Day.start(day("2026-11-19")), day("2026-11-19"));
    }
}

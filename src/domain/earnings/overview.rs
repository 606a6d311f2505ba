//! The vendor overview: the figures of a period beside those of the period before it (same
//! length, ending where it starts), a per-bucket series for the chart, and the top
//! affiliates. The totals are [`super::analytics::totals`], the very figures
//! `GET /api/v1/analytics` reports, so the page and the API never disagree.

use std::collections::BTreeMap;

use crate::db::{self, Db, analytics::Scope};
use crate::domain::earnings::affiliate_stats::{AffiliateStats, Earnings, Period, Series};
use crate::domain::earnings::analytics::{self, Totals};
use crate::domain::values::status::CommissionStatus;
use crate::error::AppResult;

/// Affiliates in the overview's top list.
const TOP: i64 = 10;

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// ISO 4217.
    pub currency: String,
    /// Minor units.
    pub cents: i64,
}

fn amounts(v: Vec<(String, i64)>) -> Vec<Amount> {
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    for (currency, cents) in v {
        *by.entry(currency).or_insert(0) += cents;
    }
    by.into_iter()
        .map(|(currency, cents)| Amount { currency, cents })
        .collect()
}

/// The figures of one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Counted clicks.
    pub clicks: i64,
    /// Referred customers.
    pub referrals: i64,
    /// Conversions not rejected.
    pub conversions: i64,
    /// Net revenue (less refunds) per currency.
    pub revenue: Vec<Amount>,
    /// Commissions of the period still in their holding period.
    pub pending: Vec<Amount>,
    /// Commissions of the period approved and matured, not paid yet.
    pub available: Vec<Amount>,
    /// Commissions of the period paid out.
    pub paid: Vec<Amount>,
    /// Payouts created in the period and not paid yet (pending or sent), net.
    pub payouts_due: Vec<Amount>,
    /// How many such payouts.
    pub payouts_due_count: i64,
}

impl Figures {
    fn of(t: &Totals, payouts: Vec<(String, i64, i64)>) -> Self {
        Self {
            clicks: t.clicks,
            referrals: t.referrals,
            conversions: t.conversions(),
            revenue: amounts(t.net_revenue()),
            pending: amounts(t.commission(CommissionStatus::Pending)),
            available: amounts(t.commission(CommissionStatus::Available)),
            paid: amounts(t.commission(CommissionStatus::Paid)),
            payouts_due_count: payouts.iter().map(|p| p.1).sum(),
            payouts_due: amounts(payouts.into_iter().map(|(c, _, a)| (c, a)).collect()),
        }
    }

    /// Whether nothing at all happened in the period.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How a figure moved against the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Up by this many percent (rounded half up).
    Up(i64),
    /// Down by this many percent.
    Down(i64),
    /// The same.
    Same,
    /// Something now, nothing before: no percentage means anything.
    New,
}

impl Change {
    /// The change from `previous` to `current`. Integer arithmetic (i128: no overflow for
    /// any bounded amount), rounded half away from zero.
    pub fn of(current: i64, previous: i64) -> Self {
        if current == previous {
            return Self::Same;
        }
        if previous == 0 {
            return Self::New;
        }
        let (c, p) = (i128::from(current), i128::from(previous));
        let pct = ((c - p).abs() * 200 / p.abs() + 1) / 2;
        let pct = i64::try_from(pct).unwrap_or(i64::MAX);
        if c > p {
            Self::Up(pct)
        } else {
            Self::Down(pct)
        }
    }

    /// In words for a page: "↑ 12 %", "↓ 3 %", "no change", "new".
    pub fn describe(self) -> String {
        match self {
            Self::Up(p) => format!("↑ {p} %"),
            Self::Down(p) => format!("↓ {p} %"),
            Self::Same => "no change".to_owned(),
            Self::New => "new".to_owned(),
        }
    }

    /// `up`, `down`, `same` or `new`, for styling.
    pub fn direction(self) -> &'static str {
        match self {
            Self::Up(_) => "up",
            Self::Down(_) => "down",
            Self::Same => "same",
            Self::New => "new",
        }
    }
}

/// The change of one currency's amount between two lists (missing means zero).
pub fn amount_change(current: &[Amount], previous: &[Amount], currency: &str) -> Change {
    let of = |v: &[Amount]| {
        v.iter()
            .find(|a| a.currency == currency)
            .map_or(0, |a| a.cents)
    };
    Change::of(of(current), of(previous))
}

/// One of the period's top affiliates, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The affiliate.
    pub affiliate_id: String,
    /// Name (may be empty).
    pub name: String,
    /// Email.
    pub email: String,
    /// Counted clicks in the period.
    pub clicks: i64,
    /// Conversions in the period, not rejected (every currency).
    pub conversions: i64,
    /// Net revenue of those conversions in `currency`.
    pub revenue_cents: i64,
    /// Commission earned and kept in `currency`.
    pub commission_cents: i64,
    /// ISO 4217.
    pub currency: String,
}

/// The overview of a period.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The period shown.
    pub period: Period,
    /// Start of the period it is compared with (it ends at `period.from`).
    pub previous_from: i64,
    /// Its figures.
    pub current: Figures,
    /// The previous period's figures.
    pub previous: Figures,
    /// Clicks, conversions and revenue per bucket (`earnings` hold the revenue), for the
    /// chart.
    pub series: AffiliateStats,
    /// Top affiliates by commission.
    pub leaders: Vec<Leader>,
}

async fn figures(db: &Db, scope: &Scope<'_>) -> AppResult<Figures> {
    let t = analytics::totals(db, scope).await?;
    let payouts =
        db::reports::open_payouts(db.pool(), scope.vendor_id, None, scope.from, scope.to).await?;
    Ok(Figures::of(&t, payouts))
}

/// The overview of `vendor_id` for `period`.
pub async fn overview(db: &Db, vendor_id: &str, period: &Period) -> AppResult<Overview> {
    let pool = db.pool();
    let scope = Scope {
        vendor_id,
        program_id: None,
        from: period.from,
        to: period.to,
    };
    let previous_from = period.from - (period.to - period.from);
    let current = figures(db, &scope).await?;
    let previous = figures(
        db,
        &Scope {
            from: previous_from,
            to: period.from,
            ..scope
        },
    )
    .await?;

    let skeleton = Series::new(period.from, period.to, period.bucket);
    let mut points = skeleton.points.clone();
    let clicks = db::rollups::per_day(
        pool,
        &db::rollups::Scope {
            vendor_id,
            affiliate_id: None,
            program_id: None,
            from: period.from,
            to: period.to,
        },
    )
    .await?;
    for (day, c) in clicks {
        if let Some(i) = skeleton.point(day) {
            points[i].clicks += c.clicks;
        }
    }
    let whole = Scope {
        vendor_id,
        program_id: None,
        from: period.from,
        to: period.to,
    };
    for r in db::money_rollups::revenue_per_day(pool, &whole).await? {
        if let Some(i) = skeleton.point(r.day) {
            points[i].conversions += r.conversions;
            *points[i].earned_cents.entry(r.currency).or_insert(0) += r.net_cents;
        }
    }
    let series = AffiliateStats {
        from: db::rfc3339(period.from),
        to: db::rfc3339(period.to),
        bucket: period.bucket,
        clicks: current.clicks,
        referrals: current.referrals,
        conversions: current.conversions,
        earnings: current
            .revenue
            .iter()
            .map(|a| Earnings {
                currency: a.currency.clone(),
                earned_cents: a.cents,
                commissions: 0,
            })
            .collect(),
        series: points,
    };

    let leaders = top_affiliates(db, &scope).await?;
    Ok(Overview {
        period: period.clone(),
        previous_from,
        current,
        previous,
        series,
        leaders,
    })
}

/// The top affiliates by commission (the API's leaderboard), with their clicks,
/// conversions and revenue of the period.
async fn top_affiliates(db: &Db, scope: &Scope<'_>) -> AppResult<Vec<Leader>> {
    let pool = db.pool();
    let board = db::analytics::leaderboard(pool, scope, TOP).await?;
    let ids: Vec<&str> = board.iter().map(|l| l.affiliate_id.as_str()).collect();
    let day = db::rollups::DAY_MS;
    // Whole days of the rollup; the overview's periods are whole UTC days.
    let days = (
        scope.from.div_euclid(day),
        (scope.to + day - 1).div_euclid(day),
    );
    let clicks = db::reports::clicks_of(pool, db.kind(), scope.vendor_id, &ids, Some(days)).await?;
    let revenue =
        db::reports::revenue_of(pool, scope.vendor_id, &ids, Some((scope.from, scope.to))).await?;
    Ok(board
        .into_iter()
        .map(|l| {
            let clicks = clicks
                .iter()
                .filter(|c| c.affiliate_id == l.affiliate_id)
                .map(|c| c.n)
                .sum();
            let mine = revenue.iter().filter(|r| r.affiliate_id == l.affiliate_id);
            let conversions = mine.clone().map(|r| r.n).sum();
            let revenue_cents = mine
                .filter(|r| r.currency == l.currency)
                .map(|r| r.cents)
                .sum();
            Leader {
                clicks,
                conversions,
                revenue_cents,
                commission_cents: l.earned_cents,
                affiliate_id: l.affiliate_id,
                name: l.name,
                email: l.email,
                currency: l.currency,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_rounded_percentages_or_new() {
        assert_eq!(Change::of(0, 0), Change::Same);
        assert_eq!(Change::of(5, 0), Change::New);
        assert_eq!(Change::of(0, 5), Change::Down(100));
        assert_eq!(Change::of(150, 100), Change::Up(50));
        assert_eq!(Change::of(1, 3), Change::Down(67));
        assert_eq!(Change::of(2, 3), Change::Down(33));
        assert_eq!(Change::of(-50, 100), Change::Down(150));
        assert_eq!(Change::of(i64::MAX, 1), Change::Up(i64::MAX));
        assert_eq!(Change::Up(12).describe(), "↑ 12 %");
        assert_eq!(Change::New.describe(), "new");
    }
}

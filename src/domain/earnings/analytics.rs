//! Program analytics (seed 002): totals for a period and the affiliate leaderboard.

use serde_json::{Value, json};

use crate::db::{self, Db, analytics::Scope};
use crate::domain::attribution::clicks::parse_period;
use crate::domain::values::status::CommissionStatus;
use crate::error::{AppError, AppResult};

/// Affiliates on the leaderboard.
const LEADERS: i64 = 10;

/// Totals of a vendor (or one program) between `from` and `to` (dates or RFC 3339; the last
/// 30 days by default): clicks, referrals, conversions and revenue per currency,
/// commissions by status, and the top affiliates.
pub async fn report(
    db: &Db,
    vendor_id: &str,
    program_id: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> AppResult<Value> {
    if let Some(p) = program_id {
        db::programs::by_id(db.pool(), vendor_id, p)
            .await?
            .ok_or_else(|| AppError::invalid("program_id", "no such program"))?;
    }
    let (from, to) = parse_period(from, to, db::now_ms())?;
    let scope = Scope {
        vendor_id,
        program_id,
        from,
        to,
    };
    let t = totals(db, &scope).await?;
    let revenue: Vec<Value> = t
        .revenue
        .iter()
        .map(|(currency, n, gross, refunded)| {
            json!({"currency": currency, "conversions": n, "gross_cents": gross,
                   "refunded_cents": refunded, "net_cents": gross - refunded})
        })
        .collect();
    let conversions: i64 = revenue
        .iter()
        .filter_map(|r| r["conversions"].as_i64())
        .sum();
    let commissions: Vec<Value> = t
        .commissions
        .iter()
        .map(|(status, currency, n, amount, reversed)| {
            json!({"status": status, "currency": currency, "count": n,
                   "amount_cents": amount, "reversed_cents": reversed,
                   "net_cents": if CommissionStatus::Rejected.is(status) { 0 } else { amount - reversed }})
        })
        .collect();
    let leaderboard: Vec<Value> = db::analytics::leaderboard(db.pool(), &scope, LEADERS)
        .await?
        .into_iter()
        .map(|l| {
            json!({"affiliate_id": l.affiliate_id, "name": l.name, "email": l.email,
                   "currency": l.currency, "commissions": l.commissions,
                   "earned_cents": l.earned_cents})
        })
        .collect();
    Ok(json!({
        "program_id": program_id,
        "from": db::rfc3339(from),
        "to": db::rfc3339(to),
        "totals": {
            "clicks": t.clicks,
            "referrals": t.referrals,
            "conversions": conversions,
            "revenue": revenue,
            "commissions": commissions,
        },
        "leaderboard": leaderboard,
    }))
}

/// The totals of a period as the database gives them; [`report`] and the vendor overview
/// both read them here, so the two always agree.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Counted clicks (no bots, no repeats).
    pub clicks: i64,
    /// Referred customers bound.
    pub referrals: i64,
    /// Per currency: (currency, conversions, gross, refunded), rejected conversions left out.
    pub revenue: Vec<(String, i64, i64, i64)>,
    /// Per status and currency: (status, currency, count, amount, reversed).
    pub commissions: Vec<(String, String, i64, i64, i64)>,
}

impl Totals {
    /// Conversions not rejected, every currency.
    pub fn conversions(&self) -> i64 {
        self.revenue.iter().map(|r| r.1).sum()
    }

    /// Net revenue (gross less refunds) per currency.
    pub fn net_revenue(&self) -> Vec<(String, i64)> {
        self.revenue
            .iter()
            .map(|(c, _, gross, refunded)| (c.clone(), gross - refunded))
            .collect()
    }

    /// Commission kept (amount less reversals) of one status, per currency.
    pub fn commission(&self, status: CommissionStatus) -> Vec<(String, i64)> {
        self.commissions
            .iter()
            .filter(|c| status.is(&c.0))
            .map(|(_, currency, _, amount, reversed)| (currency.clone(), amount - reversed))
            .collect()
    }
}

/// The totals of `scope`, one query per figure over a rollup or a covering index.
pub async fn totals(db: &Db, scope: &Scope<'_>) -> AppResult<Totals> {
    let pool = db.pool();
    Ok(Totals {
        clicks: db::analytics::clicks(pool, scope).await?,
        referrals: db::analytics::referrals(pool, scope).await?,
        revenue: db::analytics::revenue(pool, scope).await?,
        commissions: db::analytics::commissions_by_status(pool, scope).await?,
    })
}

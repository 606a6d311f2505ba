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
    let pool = db.pool();
    let clicks = db::analytics::clicks(pool, &scope).await?;
    let referrals = db::analytics::referrals(pool, &scope).await?;
    let revenue: Vec<Value> = db::analytics::revenue(pool, &scope)
        .await?
        .into_iter()
        .map(|(currency, n, gross, refunded)| {
            json!({"currency": currency, "conversions": n, "gross_cents": gross,
                   "refunded_cents": refunded, "net_cents": gross - refunded})
        })
        .collect();
    let conversions: i64 = revenue
        .iter()
        .filter_map(|r| r["conversions"].as_i64())
        .sum();
    let commissions: Vec<Value> = db::analytics::commissions_by_status(pool, &scope)
        .await?
        .into_iter()
        .map(|(status, currency, n, amount, reversed)| {
            json!({"status": status, "currency": currency, "count": n,
                   "amount_cents": amount, "reversed_cents": reversed,
                   "net_cents": if CommissionStatus::Rejected.is(&status) { 0 } else { amount - reversed }})
        })
        .collect();
    let leaderboard: Vec<Value> = db::analytics::leaderboard(pool, &scope, LEADERS)
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
            "clicks": clicks,
            "referrals": referrals,
            "conversions": conversions,
            "revenue": revenue,
            "commissions": commissions,
        },
        "leaderboard": leaderboard,
    }))
}

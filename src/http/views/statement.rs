//! The payout statement as both the dashboard and the portal show it: what a payout settles
//! (its commissions by conversion), adjustments, the platform fee and the net amount.

use crate::domain::partners::terms::{format_bps, format_money};
use crate::domain::payouts::Statement;
use crate::http::pages::day;

/// One commission a payout settles, for statements (dashboard and portal).
pub struct CommissionLine {
    /// The conversion it comes from.
    pub conversion_id: String,
    /// When the conversion happened.
    pub converted: String,
    /// `direct`, or the upline level.
    pub level: String,
    /// How it was computed.
    pub rule: String,
    /// What it is worth.
    pub amount: String,
    /// Taken back by refunds before the payout (empty when none).
    pub reversed: String,
}

/// A payout's statement as text for people: its commissions, then the adjustments, the
/// fee and the net.
pub struct StatementView {
    /// The commissions settled.
    pub lines: Vec<CommissionLine>,
    /// What the commissions are worth.
    pub commissions_total: String,
    /// Clawbacks netted (negative), empty when none.
    pub adjustments: String,
    /// Amount settled.
    pub amount: String,
    /// Platform fee with its rate, empty when none.
    pub fee: String,
    /// What the affiliate receives.
    pub net: String,
}

/// Builds the statement shown by the dashboard and the portal.
pub fn statement_view(s: &Statement) -> StatementView {
    let p = &s.payout;
    let mut lines = Vec::with_capacity(s.commissions.len());
    for c in &s.commissions {
        lines.push(CommissionLine {
            conversion_id: c.conversion_id.clone(),
            converted: s
                .converted_at
                .get(&c.conversion_id)
                .map(|at| day(*at))
                .unwrap_or_default(),
            level: if c.level == 0 {
                "direct".into()
            } else {
                format!("upline {}", c.level)
            },
            rule: c.rule.clone(),
            amount: format_money(c.net_cents(), &c.currency),
            reversed: if c.reversed_cents > 0 {
                format_money(c.reversed_cents, &c.currency)
            } else {
                String::new()
            },
        });
    }
    let adjustments = s.adjustments_cents();
    StatementView {
        lines,
        commissions_total: format_money(p.commissions_cents, &p.currency),
        adjustments: if adjustments == 0 {
            String::new()
        } else {
            format_money(adjustments, &p.currency)
        },
        amount: format_money(p.amount_cents, &p.currency),
        fee: if p.fee_cents == 0 {
            String::new()
        } else {
            format!(
                "{} ({})",
                format_money(p.fee_cents, &p.currency),
                format_bps(p.fee_bps)
            )
        },
        net: format_money(p.net_cents, &p.currency),
    }
}

//! Applying a program's caps to the converting affiliate's commission (level 0; uplines are
//! not capped). A capped commission is recorded reduced, down to nothing, and its
//! conversion says which cap took how much (`capped_by`, `capped_cents`).
//!
//! - `customer_total_cents`: the level-0 commissions from one referred customer (by the
//!   vendor's customer id) add up to at most this, net of refunds;
//! - `customer_months`: sales more than this many calendar months after the customer's first
//!   commissioned sale earn nothing;
//! - `affiliate_month_cents`: one affiliate's level-0 commissions from sales in one calendar
//!   month (UTC) add up to at most this.
//!
//! Caps are amounts in the program's currency and count commissions in it; a commission in
//! another currency (a percentage of a sale in another currency) is not capped.
//!
//! Why the totals hold under concurrency: the caller locks the enrollment row
//! ([`db::caps::lock_enrollment`]) before reading them, inside the recording transaction,
//! so another transaction for the same affiliate (another ingest lane, another instance)
//! waits until this one committed and then reads its commission. A customer's sales go to
//! one enrollment, so the per-customer totals are covered by the same lock.

use chrono::{Months, TimeZone, Utc};

use crate::db::{self, Conn, programs::ProgramRow};
use crate::domain::earnings::commission_rules::Earned;
use crate::domain::partners::caps::Caps;
use crate::domain::partners::terms::format_money;
use crate::error::AppResult;

use super::bonuses::month_of;

/// What a cap took off a commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// `customer_total`, `customer_months` or `affiliate_month`.
    pub by: &'static str,
    /// Minor units taken off.
    pub cut_cents: i64,
    /// For people, appended to the commission's rule.
    pub detail: String,
}

/// The facts of the sale the caps look at.
#[derive(Debug, Clone, Copy)]
pub struct Sale<'a> {
    /// The converting affiliate.
    pub affiliate_id: &'a str,
    /// The vendor's customer, if known.
    pub customer_id: Option<&'a str>,
    /// When the sale happened.
    pub occurred_at: i64,
    /// The commission's currency.
    pub currency: &'a str,
}

/// `at` plus `months` calendar months.
fn plus_months(at: i64, months: i64) -> i64 {
    let Some(t) = Utc.timestamp_millis_opt(at).single() else {
        return i64::MAX;
    };
    u32::try_from(months)
        .ok()
        .and_then(|m| t.checked_add_months(Months::new(m)))
        .map_or(i64::MAX, |d| d.timestamp_millis())
}

/// The amount the caps leave of `amount` (the level-0 commission of `sale`), and the cap
/// that cut it, if any. Reads totals in `conn`; the caller holds the enrollment lock.
pub async fn apply(
    conn: &mut Conn,
    program: &ProgramRow,
    caps: &Caps,
    sale: &Sale<'_>,
    amount: i64,
) -> AppResult<(i64, Option<Cut>)> {
    if !caps.any() || amount <= 0 || sale.currency != program.currency {
        return Ok((amount, None));
    }
    let mut left = amount;
    let mut cut: Option<(&'static str, String)> = None;
    if let (Some(months), Some(customer)) = (caps.customer_months, sale.customer_id) {
        let first =
            db::caps::customer_first_commission_at(&mut *conn, &program.id, customer).await?;
        if let Some(first) = first
            && sale.occurred_at >= plus_months(first, months)
        {
            left = 0;
            cut = Some((
                "customer_months",
                format!("the customer's first {months} months have passed"),
            ));
        }
    }
    if let (Some(cap), Some(customer)) = (caps.customer_total_cents, sale.customer_id)
        && left > 0
    {
        let spent =
            db::caps::customer_total(&mut *conn, &program.id, customer, sale.currency).await?;
        let room = (cap - spent).max(0);
        if left > room {
            left = room;
            cut = Some((
                "customer_total",
                format!("{} per customer", format_money(cap, &program.currency)),
            ));
        }
    }
    if let Some(cap) = caps.affiliate_month_cents
        && left > 0
    {
        let (from, to, month) = month_of(sale.occurred_at);
        let spent = db::caps::affiliate_total_between(
            &mut *conn,
            &program.id,
            sale.affiliate_id,
            sale.currency,
            from,
            to,
        )
        .await?;
        let room = (cap - spent).max(0);
        if left > room {
            left = room;
            cut = Some((
                "affiliate_month",
                format!(
                    "{} per affiliate in {month}",
                    format_money(cap, &program.currency)
                ),
            ));
        }
    }
    Ok((
        left,
        cut.map(|(by, why)| Cut {
            by,
            cut_cents: amount - left,
            detail: format!(
                "capped by {by} ({why}): {} taken off",
                format_money(amount - left, &program.currency)
            ),
        }),
    ))
}

/// Caps the converting affiliate's computed commission in place: its amount reduced and its
/// rule saying by which cap. Returns the cut, and the conversion's reason when nothing is
/// left (`capped: ...`).
pub async fn cap_direct(
    conn: &mut Conn,
    program: &ProgramRow,
    caps: &Caps,
    sale: &Sale<'_>,
    direct: &mut Earned,
) -> AppResult<(Option<Cut>, Option<String>)> {
    let (left, cut) = apply(conn, program, caps, sale, direct.amount_cents).await?;
    let Some(c) = cut else {
        return Ok((None, None));
    };
    direct.amount_cents = left;
    direct.rule = format!("{}; {}", direct.rule, c.detail);
    let reason = (left == 0 && c.cut_cents > 0).then(|| format!("capped: {}", c.detail));
    Ok((Some(c), reason))
}

#[cfg(test)]
mod tests {
    use super::plus_months;

    #[test]
    fn calendar_months_later() {
        // 2026-01-31 → 2026-02-28 (chrono clamps to the month's last day).
        let jan31 = 1_769_817_600_000;
        assert_eq!(plus_months(jan31, 1), 1_772_236_800_000);
    }
}

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

use std::collections::HashMap;

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

/// What the caps count before a sale: the totals the rule compares with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    /// When the customer's first commissioned sale in the program happened (unix ms).
    pub customer_first_at: Option<i64>,
    /// Level-0 commissions kept from the customer so far, net of refunds, in the sale's
    /// currency.
    pub customer_kept: i64,
    /// Level-0 commissions the affiliate kept from its sales in the sale's calendar month
    /// (UTC), net of refunds, in the sale's currency.
    pub affiliate_month_kept: i64,
}

/// Whether any cap can cut `amount` of `sale` at all (caps count only the program's
/// currency, and only a positive commission).
pub fn can_cut(program_currency: &str, caps: &Caps, sale: &Sale<'_>, amount: i64) -> bool {
    caps.any() && amount > 0 && sale.currency == program_currency
}

/// The one cap rule, shared by live ingest ([`apply`], totals read from the database) and
/// the terms backtest (totals kept in memory while it replays): the amount the caps leave
/// of `amount` (the level-0 commission of `sale`) given what was `counted` before it, and
/// the cap that cut it, if any.
pub fn rule(
    program_currency: &str,
    caps: &Caps,
    sale: &Sale<'_>,
    amount: i64,
    counted: &Counted,
) -> (i64, Option<Cut>) {
    if !can_cut(program_currency, caps, sale, amount) {
        return (amount, None);
    }
    let mut left = amount;
    let mut cut: Option<(&'static str, String)> = None;
    if let (Some(months), Some(_)) = (caps.customer_months, sale.customer_id)
        && let Some(first) = counted.customer_first_at
        && sale.occurred_at >= plus_months(first, months)
    {
        left = 0;
        cut = Some((
            "customer_months",
            format!("the customer's first {months} months have passed"),
        ));
    }
    if let (Some(cap), Some(_)) = (caps.customer_total_cents, sale.customer_id)
        && left > 0
    {
        let room = (cap - counted.customer_kept).max(0);
        if left > room {
            left = room;
            cut = Some((
                "customer_total",
                format!("{} per customer", format_money(cap, program_currency)),
            ));
        }
    }
    if let Some(cap) = caps.affiliate_month_cents
        && left > 0
    {
        let (_, _, month) = month_of(sale.occurred_at);
        let room = (cap - counted.affiliate_month_kept).max(0);
        if left > room {
            left = room;
            cut = Some((
                "affiliate_month",
                format!(
                    "{} per affiliate in {month}",
                    format_money(cap, program_currency)
                ),
            ));
        }
    }
    (
        left,
        cut.map(|(by, why)| Cut {
            by,
            cut_cents: amount - left,
            detail: format!(
                "capped by {by} ({why}): {} taken off",
                format_money(amount - left, program_currency)
            ),
        }),
    )
}

/// The amount the caps leave of `amount` (the level-0 commission of `sale`), and the cap
/// that cut it, if any: [`rule`] with the totals read in `conn` (only those a configured cap
/// needs); the caller holds the enrollment lock.
pub async fn apply(
    conn: &mut Conn,
    program: &ProgramRow,
    caps: &Caps,
    sale: &Sale<'_>,
    amount: i64,
) -> AppResult<(i64, Option<Cut>)> {
    if !can_cut(&program.currency, caps, sale, amount) {
        return Ok((amount, None));
    }
    let mut counted = Counted::default();
    if let Some(customer) = sale.customer_id {
        if caps.customer_months.is_some() {
            counted.customer_first_at =
                db::caps::customer_first_commission_at(&mut *conn, &program.id, customer).await?;
        }
        if caps.customer_total_cents.is_some() {
            counted.customer_kept =
                db::caps::customer_total(&mut *conn, &program.id, customer, sale.currency).await?;
        }
    }
    if caps.affiliate_month_cents.is_some() {
        let (from, to, _) = month_of(sale.occurred_at);
        counted.affiliate_month_kept = db::caps::affiliate_total_between(
            &mut *conn,
            &program.id,
            sale.affiliate_id,
            sale.currency,
            from,
            to,
        )
        .await?;
    }
    Ok(rule(&program.currency, caps, sale, amount, &counted))
}

/// The caps' totals kept in memory while the terms backtest replays a period in event
/// order: seeded with what was recorded before the period (the history the replay does not
/// redo), then counting each replayed level-0 commission as live ingest would have counted
/// it once recorded. Cuts go through the same [`rule`] as live ingest.
#[derive(Debug, Default)]
pub struct Replay {
    /// Per customer: first commissioned sale, commissions kept in the program's currency.
    customers: HashMap<String, (Option<i64>, i64)>,
    /// Per (affiliate, start of the calendar month): commissions kept in that month.
    months: HashMap<(String, i64), i64>,
}

impl Replay {
    /// The totals as they stood at `from` (unix ms) in `program`, read in `conn`; empty
    /// (and never read) when the program has no caps.
    pub async fn start(
        conn: &mut Conn,
        program: &ProgramRow,
        caps: &Caps,
        from: i64,
    ) -> AppResult<Self> {
        let mut replay = Self::default();
        if !caps.any() {
            return Ok(replay);
        }
        let (vendor, id, currency) = (&program.vendor_id, &program.id, &program.currency);
        for (customer, first, kept) in
            db::backtest::cap_customers_before(&mut *conn, vendor, id, currency, from).await?
        {
            replay
                .customers
                .insert(customer, (first, kept.unwrap_or(0)));
        }
        let (month_start, _, _) = month_of(from);
        for (affiliate, kept) in db::backtest::cap_affiliates_between(
            &mut *conn,
            vendor,
            id,
            currency,
            month_start,
            from,
        )
        .await?
        {
            replay
                .months
                .insert((affiliate, month_start), kept.unwrap_or(0));
        }
        Ok(replay)
    }

    /// What the caps leave of `amount`, the level-0 commission of `sale`, given what was
    /// counted so far.
    pub fn cap(
        &self,
        program_currency: &str,
        caps: &Caps,
        sale: &Sale<'_>,
        amount: i64,
    ) -> (i64, Option<Cut>) {
        let (month_start, _, _) = month_of(sale.occurred_at);
        let (first, kept) = sale
            .customer_id
            .and_then(|c| self.customers.get(c))
            .copied()
            .unwrap_or((None, 0));
        let counted = Counted {
            customer_first_at: first,
            customer_kept: kept,
            affiliate_month_kept: self
                .months
                .get(&(sale.affiliate_id.to_owned(), month_start))
                .copied()
                .unwrap_or(0),
        };
        rule(program_currency, caps, sale, amount, &counted)
    }

    /// Counts a replayed level-0 commission of `sale` that exists (not cut to nothing, its
    /// conversion not rejected), worth `kept` after refunds.
    pub fn count(&mut self, program_currency: &str, sale: &Sale<'_>, kept: i64) {
        let same = sale.currency == program_currency;
        if let Some(customer) = sale.customer_id {
            let entry = self
                .customers
                .entry(customer.to_owned())
                .or_insert((None, 0));
            entry.0 = Some(
                entry
                    .0
                    .map_or(sale.occurred_at, |f| f.min(sale.occurred_at)),
            );
            if same {
                entry.1 += kept;
            }
        }
        if same {
            let (month_start, _, _) = month_of(sale.occurred_at);
            *self
                .months
                .entry((sale.affiliate_id.to_owned(), month_start))
                .or_insert(0) += kept;
        }
    }
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
    use super::*;

    #[test]
    fn one_rule_cuts_by_the_counted_totals() {
        let caps = Caps {
            customer_total_cents: Some(1000),
            customer_months: Some(2),
            affiliate_month_cents: Some(1500),
        };
        let sale = Sale {
            affiliate_id: "aff_1",
            customer_id: Some("cus_1"),
            occurred_at: 1_769_817_600_000,
            currency: "JPY",
        };
        let none = Counted::default();
        assert_eq!(rule("JPY", &caps, &sale, 800, &none), (800, None));
        let (left, cut) = rule(
            "JPY",
            &caps,
            &sale,
            800,
            &Counted {
                customer_kept: 600,
                ..none
            },
        );
        assert_eq!(left, 400);
        let cut = cut.unwrap();
        assert_eq!((cut.by, cut.cut_cents), ("customer_total", 400));
        assert!(
            cut.detail.contains("1000 JPY per customer"),
            "{}",
            cut.detail
        );
        let (left, cut) = rule(
            "JPY",
            &caps,
            &sale,
            800,
            &Counted {
                affiliate_month_kept: 1200,
                ..none
            },
        );
        assert_eq!((left, cut.unwrap().by), (300, "affiliate_month"));
        let (left, cut) = rule(
            "JPY",
            &caps,
            &sale,
            800,
            &Counted {
                customer_first_at: Some(1_700_000_000_000),
                ..none
            },
        );
        assert_eq!((left, cut.unwrap().by), (0, "customer_months"));
        // Another currency than the program's is not capped.
        assert_eq!(
            rule(
                "USD",
                &caps,
                &sale,
                800,
                &Counted {
                    customer_kept: 5000,
                    ..none
                }
            ),
            (800, None)
        );
    }

    #[test]
    fn calendar_months_later() {
        // 2026-01-31 → 2026-02-28 (chrono clamps to the month's last day).
        let jan31 = 1_769_817_600_000;
        assert_eq!(plus_months(jan31, 1), 1_772_236_800_000);
    }
}

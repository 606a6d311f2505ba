//! The double-entry ledger: every money movement as balanced journal lines, balances as
//! sums of lines, and the invariants `affilia ledger verify` checks.
//!
//! Accounts, per affiliate and currency: `pending` (earned, in the holding period),
//! `available` (payable; negative after a clawback), `in_payout` (in a payout not yet paid
//! or failed), `paid` (received), `fees` (platform fees deducted from payouts). The
//! vendor's side is `commission_expense` per currency. Payout lines carry their program, so
//! balances can be read per program. Signs: a line adds its amount to its
//! account's balance, so crediting an affiliate is `+x` on one of its accounts and `-x` on
//! the vendor's expense account, and the lines of every transaction sum to zero.
//!
//! | movement | lines |
//! |---|---|
//! | commission earned | pending +x, expense −x |
//! | matured / approved early | pending −x, available +x |
//! | rejected while pending | pending −x, expense +x |
//! | refund (proportional) | pending or available −x, expense +x |
//! | payout created | available −x, in_payout +x |
//! | payout paid (fee f) | in_payout −x, paid +(x − f), fees +f |
//! | payout failed | in_payout −x, available +x |
//! | opening balance (imported) | expense −x, then pending / available +x; paid history also available −x, paid +x |
//! | bonus granted | pending +x, expense −x |
//! | bonus matured | pending −x, available +x |
//!
//! A bonus is an earning without a sale: its lines name the bonus (`bonus_id`) instead of a
//! commission, and from `available` on it is paid like any commission.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::{self, Conn, Db, commissions::CommissionRow, ledger::NewEntry};
use crate::domain::values::status::{CommissionStatus, PayoutStatus};
use crate::error::{AppError, AppResult};

/// Affiliate account: earned, in the holding period.
pub const PENDING: &str = "pending";
/// Affiliate account: payable.
pub const AVAILABLE: &str = "available";
/// Affiliate account: in a payout that is not paid or failed yet.
pub const IN_PAYOUT: &str = "in_payout";
/// Affiliate account: paid out.
pub const PAID: &str = "paid";
/// Affiliate account: platform fees deducted from payouts.
pub const FEES: &str = "fees";
/// Vendor account: what commissions cost.
pub const EXPENSE: &str = "commission_expense";

/// Posts one balanced transaction; refuses (without writing) lines that do not sum to zero
/// per currency, so an unbalanced posting can never reach the journal.
async fn post(
    conn: &mut Conn,
    vendor_id: &str,
    kind: &str,
    memo: &str,
    lines: &[NewEntry<'_>],
) -> AppResult<String> {
    check_balanced(kind, lines)?;
    let txn = db::new_id("ltx");
    db::ledger::insert(conn, vendor_id, &txn, kind, memo, db::now_ms(), lines).await?;
    Ok(txn)
}

/// Refuses a posting whose lines do not sum to zero in every currency.
fn check_balanced(kind: &str, lines: &[NewEntry<'_>]) -> AppResult<()> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for l in lines {
        let sum = sums.entry(l.currency).or_default();
        // Checked: an overflowing posting is refused below like an unbalanced one.
        *sum = sum.checked_add(l.amount_cents).unwrap_or(i64::MAX);
    }
    if sums.values().any(|s| *s != 0) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "refusing an unbalanced {kind} posting: {sums:?}"
        )));
    }
    Ok(())
}

/// The two lines moving `amount` of a commission from `from` to `to` (an affiliate account
/// or the vendor's expense account).
fn movement<'a>(
    c: &'a CommissionRow,
    from: &'a str,
    to: &'a str,
    amount: i64,
) -> [NewEntry<'a>; 2] {
    let line = |account: &'a str, amount_cents: i64| NewEntry {
        account,
        affiliate_id: (account != EXPENSE).then_some(c.affiliate_id.as_str()),
        currency: &c.currency,
        amount_cents,
        program_id: Some(&c.program_id),
        conversion_id: Some(&c.conversion_id),
        commission_id: Some(&c.id),
        payout_id: None,
        bonus_id: None,
    };
    [line(from, -amount), line(to, amount)]
}

/// Records earned commissions (one transaction for all levels of a conversion).
pub async fn earned(
    conn: &mut Conn,
    vendor_id: &str,
    commissions: &[CommissionRow],
) -> AppResult<()> {
    let lines: Vec<NewEntry<'_>> = commissions
        .iter()
        .filter(|c| c.amount_cents != 0)
        .flat_map(|c| movement(c, EXPENSE, PENDING, c.amount_cents))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    post(conn, vendor_id, "commission", "commission earned", &lines).await?;
    Ok(())
}

/// Moves what is left of a pending commission to available (`kind`: `maturation` after the
/// holding period, `approval` by hand).
pub async fn made_available(
    conn: &mut Conn,
    vendor_id: &str,
    c: &CommissionRow,
    kind: &str,
) -> AppResult<()> {
    let net = c.amount_cents - c.reversed_cents;
    if net == 0 {
        return Ok(());
    }
    let memo = if kind == "approval" {
        "approved by hand"
    } else {
        "holding period ended"
    };
    post(
        conn,
        vendor_id,
        kind,
        memo,
        &movement(c, PENDING, AVAILABLE, net),
    )
    .await?;
    Ok(())
}

/// Takes what is left of a pending commission back to the vendor (rejected by hand).
pub async fn rejected(conn: &mut Conn, vendor_id: &str, c: &CommissionRow) -> AppResult<()> {
    let net = c.amount_cents - c.reversed_cents;
    if net == 0 {
        return Ok(());
    }
    post(
        conn,
        vendor_id,
        "rejection",
        "conversion rejected",
        &movement(c, PENDING, EXPENSE, net),
    )
    .await?;
    Ok(())
}

/// Takes `amount` of a commission back after a refund: from pending while it is held,
/// else from available (which may go negative: a clawback the next payout nets off).
pub async fn reversed(
    conn: &mut Conn,
    vendor_id: &str,
    c: &CommissionRow,
    amount: i64,
) -> AppResult<()> {
    if amount == 0 {
        return Ok(());
    }
    let from = if CommissionStatus::Pending.is(&c.status) {
        PENDING
    } else {
        AVAILABLE
    };
    post(
        conn,
        vendor_id,
        "reversal",
        "refund",
        &movement(c, from, EXPENSE, amount),
    )
    .await?;
    Ok(())
}

/// Opening balances of one affiliate in one currency, brought from another tool
/// (`affilia import <tool>`): one transaction for all of them. Each commission enters as
/// earned (expense −x) and lands on the account of its status: `pending` (matured by the
/// holding period like any other), `available` (payable by the next run), or `paid`
/// (history: it passes through available and out to paid in the same transaction, with no
/// payout, so no run can ever pay it again). Commissions of other statuses are refused.
pub async fn opening_balance(
    conn: &mut Conn,
    vendor_id: &str,
    commissions: &[CommissionRow],
) -> AppResult<()> {
    let mut lines: Vec<NewEntry<'_>> = Vec::new();
    for c in commissions {
        let status = CommissionStatus::of(&c.status);
        let settled_into = match status {
            Some(CommissionStatus::Pending) => PENDING,
            Some(CommissionStatus::Available | CommissionStatus::Paid) => AVAILABLE,
            _ => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "an opening balance cannot be a {} commission",
                    c.status
                )));
            }
        };
        lines.extend(movement(c, EXPENSE, settled_into, c.amount_cents));
        if status == Some(CommissionStatus::Paid) {
            // Not tied to the commission: like a payout's lines, they move money between
            // the affiliate's accounts, and the commission's own lines stay what it is worth.
            let line = |account: &'static str, amount_cents: i64| NewEntry {
                account,
                affiliate_id: Some(c.affiliate_id.as_str()),
                currency: &c.currency,
                amount_cents,
                program_id: Some(&c.program_id),
                conversion_id: Some(&c.conversion_id),
                commission_id: None,
                payout_id: None,
                bonus_id: None,
            };
            lines.push(line(AVAILABLE, -c.amount_cents));
            lines.push(line(PAID, c.amount_cents));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    post(
        conn,
        vendor_id,
        "opening_balance",
        "opening balance imported",
        &lines,
    )
    .await?;
    Ok(())
}

/// The two lines moving `amount` of a bonus from `from` to `to`.
fn bonus_movement<'a>(
    b: &'a db::bonuses::BonusRow,
    from: &'a str,
    to: &'a str,
) -> [NewEntry<'a>; 2] {
    let line = |account: &'a str, amount_cents: i64| NewEntry {
        account,
        affiliate_id: (account != EXPENSE).then_some(b.affiliate_id.as_str()),
        currency: &b.currency,
        amount_cents,
        program_id: Some(&b.program_id),
        conversion_id: b.conversion_id.as_deref(),
        commission_id: None,
        payout_id: None,
        bonus_id: Some(&b.id),
    };
    [line(from, -b.amount_cents), line(to, b.amount_cents)]
}

/// A bonus was granted: it is pending until its holding period ends.
pub async fn bonus_granted(
    conn: &mut Conn,
    vendor_id: &str,
    b: &db::bonuses::BonusRow,
) -> AppResult<()> {
    post(
        conn,
        vendor_id,
        "bonus",
        "bonus granted",
        &bonus_movement(b, EXPENSE, PENDING),
    )
    .await?;
    Ok(())
}

/// A bonus's holding period ended: it is payable.
pub async fn bonus_matured(
    conn: &mut Conn,
    vendor_id: &str,
    b: &db::bonuses::BonusRow,
) -> AppResult<()> {
    post(
        conn,
        vendor_id,
        "maturation",
        "bonus holding period ended",
        &bonus_movement(b, PENDING, AVAILABLE),
    )
    .await?;
    Ok(())
}

/// The lines of a payout's movement between affiliate accounts.
fn payout_lines<'a>(p: &'a db::payouts::PayoutRow, moves: &[(&'a str, i64)]) -> Vec<NewEntry<'a>> {
    moves
        .iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(account, amount_cents)| NewEntry {
            account,
            affiliate_id: Some(&p.affiliate_id),
            currency: &p.currency,
            amount_cents: *amount_cents,
            program_id: Some(&p.program_id),
            conversion_id: None,
            commission_id: None,
            payout_id: Some(&p.id),
            bonus_id: None,
        })
        .collect()
}

/// Payouts of a vendor were created: each one's amount leaves available (so no other run
/// can take it), one journal transaction per payout, written in as few statements as the
/// parameter limits allow.
pub async fn payouts_opened(
    conn: &mut Conn,
    vendor_id: &str,
    payouts: &[db::payouts::PayoutRow],
) -> AppResult<()> {
    if payouts.is_empty() {
        return Ok(());
    }
    let lines: Vec<Vec<NewEntry<'_>>> = payouts
        .iter()
        .map(|p| {
            payout_lines(
                p,
                &[(AVAILABLE, -p.amount_cents), (IN_PAYOUT, p.amount_cents)],
            )
        })
        .collect();
    for l in &lines {
        check_balanced("payout", l)?;
    }
    let txns: Vec<String> = payouts.iter().map(|_| db::new_id("ltx")).collect();
    let posted: Vec<(&str, &[NewEntry<'_>])> = txns
        .iter()
        .zip(&lines)
        .map(|(t, l)| (t.as_str(), l.as_slice()))
        .collect();
    db::ledger::insert_txns(
        conn,
        vendor_id,
        "payout",
        "payout created",
        db::now_ms(),
        &posted,
    )
    .await?;
    Ok(())
}

/// A payout was paid: the affiliate received its net, the platform fee is recorded.
pub async fn payout_paid(conn: &mut Conn, p: &db::payouts::PayoutRow) -> AppResult<()> {
    let lines = payout_lines(
        p,
        &[
            (IN_PAYOUT, -p.amount_cents),
            (PAID, p.net_cents),
            (FEES, p.fee_cents),
        ],
    );
    post(conn, &p.vendor_id, "payout_paid", "payout paid", &lines).await?;
    Ok(())
}

/// A payout failed: its amount is available again.
pub async fn payout_failed(conn: &mut Conn, p: &db::payouts::PayoutRow) -> AppResult<()> {
    let lines = payout_lines(
        p,
        &[(IN_PAYOUT, -p.amount_cents), (AVAILABLE, p.amount_cents)],
    );
    post(conn, &p.vendor_id, "payout_failed", "payout failed", &lines).await?;
    Ok(())
}

/// An affiliate's balances in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// ISO 4217.
    pub currency: String,
    /// In the holding period.
    pub pending_cents: i64,
    /// Payable now (negative after a clawback).
    pub available_cents: i64,
    /// In payouts not paid yet.
    pub in_payout_cents: i64,
    /// Paid out so far (after fees).
    pub paid_cents: i64,
    /// Platform fees deducted from payouts.
    pub fees_cents: i64,
    /// Everything earned and kept: pending + available + in payouts + paid + fees.
    pub earned_cents: i64,
}

/// An affiliate's balances per currency, from the journal.
pub async fn balances(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Vec<Balance>> {
    let rows = db::ledger::balances(db.pool(), vendor_id, affiliate_id).await?;
    let mut by_currency: BTreeMap<String, Balance> = BTreeMap::new();
    for (currency, account, sum) in rows {
        let b = by_currency
            .entry(currency.clone())
            .or_insert_with(|| Balance {
                currency,
                ..Balance::default()
            });
        match account.as_str() {
            PENDING => b.pending_cents = sum,
            AVAILABLE => b.available_cents = sum,
            IN_PAYOUT => b.in_payout_cents = sum,
            PAID => b.paid_cents = sum,
            FEES => b.fees_cents = sum,
            _ => {}
        }
    }
    Ok(by_currency
        .into_values()
        .map(|mut b| {
            // Saturating: bounded amounts never get near i64, but a database holding rows
            // from before the bound must not panic a debug build.
            b.earned_cents = [
                b.available_cents,
                b.in_payout_cents,
                b.paid_cents,
                b.fees_cents,
            ]
            .iter()
            .fold(b.pending_cents, |acc, x| acc.saturating_add(*x));
            b
        })
        .collect())
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Tenant.
    pub vendor_id: String,
    /// What is wrong.
    pub message: String,
}

/// Checks every invariant of one vendor's journal against its commissions:
/// 1. the lines of every transaction sum to zero per currency;
/// 2. each commission's (and each bonus's) lines on pending + available equal what it is
///    still worth;
/// 3. per affiliate and currency, pending equals the worth of pending commissions and
///    bonuses, and available + in payouts + paid + fees equals the worth of the others;
///    paid, fees and in payouts are never negative;
/// 4. no commission lost more to refunds than it earned, none is negative;
/// 5. the vendor's expense account mirrors the affiliates' accounts;
/// 6. each payout holds its amount in `in_payout` while open and nothing once paid or
///    failed, and a paid payout's `paid` and `fees` lines are its net and fee; a payout
///    claims only existing commissions of its affiliate, program and currency, and a paid
///    commission's payout is paid;
/// 7. the click rollups equal the click log they summarise (checked first), the kept
///    ledger line count equals the journal, and the money rollups equal the conversions
///    and commissions they summarise.
pub async fn verify_vendor(db: &Db, vendor_id: &str) -> AppResult<Vec<Violation>> {
    let mut out = Vec::new();
    let mut fail = |message: String| {
        out.push(Violation {
            vendor_id: vendor_id.to_owned(),
            message,
        })
    };
    for m in crate::domain::attribution::clicks::rollup_mismatches(db, vendor_id).await? {
        fail(m);
    }
    let (kept, counted) = (
        db::ledger::kept_count(db.pool(), vendor_id).await?,
        db::ledger::counted(db.pool(), vendor_id).await?,
    );
    if kept != counted {
        fail(format!(
            "the kept ledger line count is {kept} but the journal holds {counted} lines; run `affilia rollups rebuild`"
        ));
    }
    for bucket in db::money_rollups::mismatches(db.pool(), vendor_id, 20)
        .await?
        .into_iter()
        .chain(db::referral_rollups::mismatches(db.pool(), vendor_id, 20).await?)
    {
        fail(format!(
            "the {bucket} differs from its rows; run `affilia rollups rebuild`"
        ));
    }
    for (txn, currency, sum) in db::ledger::unbalanced(db.pool(), vendor_id).await? {
        fail(format!(
            "transaction {txn} sums to {sum} {currency}, not zero"
        ));
    }
    let commissions = db::commissions::all_for_vendor(db.pool(), vendor_id).await?;
    let journal: BTreeMap<String, i64> = db::ledger::per_commission(db.pool(), vendor_id)
        .await?
        .into_iter()
        .collect();
    // (affiliate, currency) → (worth of pending commissions, worth of the others)
    let mut expected: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for c in &commissions {
        if c.amount_cents < 0 || c.reversed_cents < 0 || c.reversed_cents > c.amount_cents {
            fail(format!(
                "commission {} has amount {} and reversed {}",
                c.id, c.amount_cents, c.reversed_cents
            ));
        }
        let net = c.net_cents();
        let posted = journal.get(&c.id).copied().unwrap_or(0);
        if posted != net {
            fail(format!(
                "commission {} is worth {net} but its journal lines hold {posted}",
                c.id
            ));
        }
        let e = expected
            .entry((c.affiliate_id.clone(), c.currency.clone()))
            .or_default();
        if CommissionStatus::Pending.is(&c.status) {
            e.0 += net;
        } else {
            e.1 += net;
        }
    }
    let bonus_journal: BTreeMap<String, i64> = db::ledger::per_bonus(db.pool(), vendor_id)
        .await?
        .into_iter()
        .collect();
    for b in db::bonuses::all_for_vendor(db.pool(), vendor_id).await? {
        if b.amount_cents <= 0 {
            fail(format!("bonus {} has amount {}", b.id, b.amount_cents));
        }
        let posted = bonus_journal.get(&b.id).copied().unwrap_or(0);
        if posted != b.amount_cents {
            fail(format!(
                "bonus {} is worth {} but its journal lines hold {posted}",
                b.id, b.amount_cents
            ));
        }
        let e = expected.entry((b.affiliate_id, b.currency)).or_default();
        if b.status == "pending" {
            e.0 += b.amount_cents;
        } else {
            e.1 += b.amount_cents;
        }
    }
    // (affiliate, currency) → [pending, available, in payouts, paid, fees] from the journal.
    let mut actual: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
    let mut affiliates_total: BTreeMap<String, i64> = BTreeMap::new();
    let mut expense: BTreeMap<String, i64> = BTreeMap::new();
    for (affiliate, currency, account, sum) in
        db::ledger::all_balances(db.pool(), vendor_id).await?
    {
        match affiliate {
            Some(a) => {
                *affiliates_total.entry(currency.clone()).or_default() += sum;
                let slot = actual.entry((a, currency)).or_default();
                match account.as_str() {
                    PENDING => slot[0] = sum,
                    AVAILABLE => slot[1] = sum,
                    IN_PAYOUT => slot[2] = sum,
                    PAID => slot[3] = sum,
                    FEES => slot[4] = sum,
                    other => fail(format!("unknown affiliate account {other}")),
                }
            }
            None if account == EXPENSE => *expense.entry(currency).or_default() += sum,
            None => fail(format!("unknown vendor account {account}")),
        }
    }
    let keys: std::collections::BTreeSet<_> =
        expected.keys().chain(actual.keys()).cloned().collect();
    for key in keys {
        let (pending_worth, settled_worth) = expected.get(&key).copied().unwrap_or_default();
        let [pending, available, in_payout, paid, fees] =
            actual.get(&key).copied().unwrap_or_default();
        if pending != pending_worth {
            fail(format!(
                "affiliate {} {}: pending balance {pending} but pending commissions are worth {pending_worth}",
                key.0, key.1
            ));
        }
        if available + in_payout + paid + fees != settled_worth {
            fail(format!(
                "affiliate {} {}: available {available} + in payouts {in_payout} + paid {paid} + fees {fees} but matured commissions are worth {settled_worth}",
                key.0, key.1
            ));
        }
        for (name, value) in [("paid", paid), ("fees", fees), ("in payouts", in_payout)] {
            if value < 0 {
                fail(format!(
                    "affiliate {} {}: {name} balance is negative ({value})",
                    key.0, key.1
                ));
            }
        }
    }
    let lines = db::ledger::per_payout(db.pool(), vendor_id).await?;
    for p in db::payouts::all_for_vendor(db.pool(), vendor_id).await? {
        let sum = |account: &str| {
            lines
                .get(&(p.id.clone(), account.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let open = PayoutStatus::of(&p.status).is_some_and(PayoutStatus::is_open);
        let held = sum(IN_PAYOUT);
        if held != if open { p.amount_cents } else { 0 } {
            fail(format!(
                "payout {} ({}) holds {held} in in_payout, amount {}",
                p.id, p.status, p.amount_cents
            ));
        }
        let (paid, fees) = (sum(PAID), sum(FEES));
        let want = if PayoutStatus::Paid.is(&p.status) {
            (p.net_cents, p.fee_cents)
        } else {
            (0, 0)
        };
        if (paid, fees) != want || p.net_cents + p.fee_cents != p.amount_cents {
            fail(format!(
                "payout {} ({}): paid {paid} and fees {fees} lines, net {} fee {} amount {}",
                p.id, p.status, p.net_cents, p.fee_cents, p.amount_cents
            ));
        }
    }
    for (commission, payout) in db::payouts::misplaced_claims(db.pool(), vendor_id).await? {
        fail(format!(
            "commission {commission} is claimed by payout {payout}: one of them is missing, \
             or the payout pays another affiliate, program or currency, or is not paid while \
             the commission is"
        ));
    }
    let currencies: std::collections::BTreeSet<_> = expense
        .keys()
        .chain(affiliates_total.keys())
        .cloned()
        .collect();
    for cur in currencies {
        let e = expense.get(&cur).copied().unwrap_or(0);
        let a = affiliates_total.get(&cur).copied().unwrap_or(0);
        if e + a != 0 {
            fail(format!(
                "{cur}: commission expense {e} does not mirror affiliate accounts {a}"
            ));
        }
    }
    Ok(out)
}

/// Checks every vendor; see [`verify_vendor`].
pub async fn verify(db: &Db) -> AppResult<Vec<Violation>> {
    let mut out = Vec::new();
    for vendor in db::vendors::all_ids(db.pool()).await? {
        out.extend(verify_vendor(db, &vendor).await?);
    }
    Ok(out)
}

/// Recounts one vendor's journal lines into the count the ledger list reads for its
/// `total`, and rebuilds its money rollups from its conversions and commissions and its
/// referral rollup from its referrals (`affilia rollups rebuild`), in one transaction.
pub async fn recount_lines_of(db: &Db, vendor_id: &str) -> AppResult<()> {
    let mut tx = db.begin().await?;
    db::ledger::recount(&mut tx, vendor_id).await?;
    db::money_rollups::rebuild(&mut tx, vendor_id).await?;
    db::referral_rollups::rebuild(&mut tx, vendor_id).await?;
    tx.commit().await?;
    Ok(())
}

/// One page of journal lines, newest first, and the total.
pub async fn entries(
    db: &Db,
    filter: &db::ledger::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<db::ledger::EntryRow>, i64)> {
    let rows = db::ledger::page(db.pool(), filter, limit, offset).await?;
    let total = db::ledger::count(db.pool(), filter).await?;
    Ok((rows, total))
}

/// An affiliate's statement: its balances and one page of its journal lines, optionally in
/// one currency.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The affiliate.
    pub affiliate: db::affiliates::AffiliateRow,
    /// Balances per currency.
    pub balances: Vec<Balance>,
    /// The page of lines.
    pub entries: Vec<db::ledger::EntryRow>,
    /// Lines across all pages.
    pub total: i64,
}

/// The statement of one of the vendor's affiliates; another vendor's is 404.
pub async fn statement(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    currency: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<Statement> {
    let affiliate = db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let filter = db::ledger::Filter {
        vendor_id,
        affiliate_id: Some(&affiliate.id),
        currency,
    };
    let (entries, total) = entries(db, &filter, limit, offset).await?;
    let balances = balances(db, vendor_id, &affiliate.id)
        .await?
        .into_iter()
        .filter(|b| currency.is_none_or(|c| b.currency == c))
        .collect();
    Ok(Statement {
        affiliate,
        balances,
        entries,
        total,
    })
}

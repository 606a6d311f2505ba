//! Payouts: paying affiliates their available balance (seeds 001, 002, 003).
//!
//! A payout run, for one program, selects every active affiliate whose available balance in
//! a currency is at least the program's minimum and has payout details, and creates one
//! payout per (affiliate, currency) with the commissions it settles. The balance leaves
//! `available` for `in_payout` in the same transaction, so a second run (another instance
//! included) finds nothing left to pay: runs of one program also queue on the program's
//! row lock. A payout then goes `pending` → `processing` (exported or sent) → `paid` (the
//! affiliate received `net` = amount − platform fee) or `failed` (the amount is available
//! again and its commissions can be paid by a later run). Every step posts its ledger lines
//! in the transaction of the state change; see [`crate::domain::earnings::ledger`].

pub mod accounting;
pub mod export;
pub mod schedule;
pub mod stripe_connect;

use crate::domain::partners::groups::{self, settings::GroupOverrides};
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::db::{
    self, Conn, Db,
    commissions::CommissionRow,
    payouts::{NewPayout, NewRun, PayoutRow, RunRow},
    programs::ProgramRow,
    vendors::VendorRow,
};
use crate::domain::earnings::commission_rules::apply_bps;
use crate::domain::partners::payout_settings::{PayoutSettings, method_label};
use crate::domain::partners::terms::format_money;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::values::status::{self, PayoutStatus};
use crate::domain::{earnings::ledger, values::Currency, values::text};
use crate::error::{AppError, AppResult};

/// Payout statuses.
pub const STATUSES: &[&str] = PayoutStatus::ALL_TEXT;
/// Longest reference or failure reason.
const NOTE_MAX: usize = 500;

/// Statuses from which a payout can still be paid or fail (conditional updates).
const OPEN: [&str; 2] = [
    PayoutStatus::Pending.as_str(),
    PayoutStatus::Processing.as_str(),
];

/// Whether a payout is still open: not paid and not failed (see [`PayoutStatus::is_open`]).
pub fn is_open(p: &PayoutRow) -> bool {
    PayoutStatus::of(&p.status).is_some_and(PayoutStatus::is_open)
}

/// Whether a payout can be handed to a provider now.
pub fn can_process(p: &PayoutRow) -> bool {
    PayoutStatus::of(&p.status).is_some_and(PayoutStatus::can_process)
}

/// Parses the `status` filter of payout lists.
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    text::choice("status", raw, STATUSES)
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The dashboard button.
    Dashboard,
    /// `POST /api/v1/payouts/run`.
    Api,
    /// The program's monthly schedule, for this month (`YYYY-MM`).
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Api => "api",
            Self::Schedule => "schedule",
        }
    }
}

/// A payout a run creates (or, dry, would create).
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// Who is paid.
    pub affiliate_id: String,
    /// Their email.
    pub affiliate_email: String,
    /// Their name.
    pub affiliate_name: String,
    /// ISO 4217.
    pub currency: String,
    /// Available balance settled.
    pub amount_cents: i64,
    /// Platform fee rate.
    pub fee_bps: i64,
    /// Platform fee.
    pub fee_cents: i64,
    /// What the affiliate receives.
    pub net_cents: i64,
    /// Payout method.
    pub method: String,
    /// Where the money goes.
    pub destination: String,
}

/// An affiliate with money available that a run does not pay, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Affiliate.
    pub affiliate_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Available balance.
    pub amount_cents: i64,
    /// `below_minimum`, `no_payout_method`, `affiliate_inactive` or `tax_details_missing`
    /// (the program requires tax details and the affiliate has not given them).
    pub reason: &'static str,
}

/// What a run did (or would do) for one program.
#[derive(Debug, Clone)]
pub struct ProgramRun {
    /// The program.
    pub program: ProgramRow,
    /// The stored run (`None` for a dry run, or a scheduled run that had run already).
    pub run: Option<RunRow>,
    /// The payouts created, with their planned figures.
    pub payouts: Vec<(Option<PayoutRow>, Planned)>,
    /// Balances left alone.
    pub skipped: Vec<Skipped>,
}

/// A run request.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// One program; every active program of the vendor when `None`.
    pub program_id: Option<String>,
    /// One currency.
    pub currency: Option<String>,
    /// Show the payouts without creating them.
    pub dry_run: bool,
}

/// Decides what a run pays, reading on `conn` (inside the run's transaction, after the
/// program lock, or on a plain connection for a dry run).
async fn plan(
    conn: &mut Conn,
    program: &ProgramRow,
    currency: Option<&str>,
) -> AppResult<(Vec<Planned>, Vec<Skipped>)> {
    let balances = db::affiliates::with_available_balance(
        &mut *conn,
        &program.vendor_id,
        &program.id,
        currency,
    )
    .await?;
    // Read once per run, and only when the program asks for them.
    let with_tax_details = if program.require_tax_details != 0 {
        Some(db::tax_details::affiliates_with(&mut *conn, &program.vendor_id).await?)
    } else {
        None
    };
    // Members of a group with its own minimum payout (`groups::settings`).
    let group_minimums: std::collections::HashMap<String, i64> =
        db::groups::min_payouts_of_program(&mut *conn, &program.vendor_id, &program.id)
            .await?
            .into_iter()
            .collect();
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for b in balances {
        let (a, currency, amount) = (b.affiliate, b.balance_currency, b.balance_cents);
        let skip = |reason| Skipped {
            affiliate_id: a.id.clone(),
            currency: currency.clone(),
            amount_cents: amount,
            reason,
        };
        if !status::is_active(&a.status) {
            skipped.push(skip("affiliate_inactive"));
            continue;
        }
        let group = GroupOverrides {
            min_payout_cents: group_minimums.get(&a.id).copied(),
            ..GroupOverrides::default()
        };
        if amount < groups::settings::min_payout_cents(program, &group) {
            skipped.push(skip("below_minimum"));
            continue;
        }
        let s = PayoutSettings::of(&a);
        let (Some(method), Some(destination)) = (s.method.clone(), s.destination()) else {
            skipped.push(skip("no_payout_method"));
            continue;
        };
        if with_tax_details
            .as_ref()
            .is_some_and(|given| !given.contains(&a.id))
        {
            skipped.push(skip("tax_details_missing"));
            continue;
        }
        let fee = apply_bps(amount, program.platform_fee_bps);
        planned.push(Planned {
            affiliate_id: a.id.clone(),
            affiliate_email: a.email.clone(),
            affiliate_name: a.name.clone(),
            currency: currency.clone(),
            amount_cents: amount,
            fee_bps: program.platform_fee_bps,
            fee_cents: fee,
            net_cents: amount - fee,
            method,
            destination: destination.to_owned(),
        });
    }
    Ok((planned, skipped))
}

/// Runs payouts (see the module docs); one result per program.
pub async fn run(
    db: &Db,
    vendor_id: &str,
    req: &RunRequest,
    trigger: Trigger,
    actor: &Actor,
) -> AppResult<Vec<ProgramRun>> {
    let currency = Currency::parse_optional("currency", req.currency.as_deref())?;
    let programs = match req.program_id.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(id) => vec![
            db::programs::by_id(db.pool(), vendor_id, id.trim())
                .await?
                .ok_or_else(|| AppError::invalid("program_id", "no such program"))?,
        ],
        None => crate::domain::partners::programs::all(db, vendor_id)
            .await?
            .into_iter()
            .map(|p| p.row)
            .filter(|p| status::program_is_open(&p.status))
            .collect(),
    };
    let mut out = Vec::new();
    for program in programs {
        out.push(if req.dry_run {
            let mut conn = db.pool().acquire().await?;
            let (planned, skipped) = plan(&mut conn, &program, currency.as_deref()).await?;
            ProgramRun {
                program,
                run: None,
                payouts: planned.into_iter().map(|p| (None, p)).collect(),
                skipped,
            }
        } else {
            run_program(db, program, currency.as_deref(), trigger, None, actor).await?
        });
    }
    Ok(out)
}

/// Creates the payouts of one program in one transaction. A scheduled run names its month;
/// if that month's run exists (another instance did it), nothing happens.
pub(crate) async fn run_program(
    db: &Db,
    program: ProgramRow,
    currency: Option<&str>,
    trigger: Trigger,
    schedule_key: Option<&str>,
    actor: &Actor,
) -> AppResult<ProgramRun> {
    let vendor_id = program.vendor_id.clone();
    let mut tx = db.begin().await?;
    if !db::programs::lock_for_payouts(&mut *tx, &vendor_id, &program.id).await? {
        return Err(AppError::NotFound);
    }
    let created_by = actor.label();
    let Some(run_id) = db::payouts::insert_run(
        &mut *tx,
        &NewRun {
            vendor_id: &vendor_id,
            program_id: &program.id,
            currency,
            trigger_source: trigger.as_str(),
            schedule_key,
            created_by: Some(&created_by),
        },
    )
    .await?
    else {
        return Ok(ProgramRun {
            program,
            run: None,
            payouts: Vec::new(),
            skipped: Vec::new(),
        });
    };
    let (planned, skipped) = plan(&mut tx, &program, currency).await?;
    // A few statements per chunk of payouts, not six per payout: at 10,000 payouts the
    // round trips were most of a run's time on PostgreSQL.
    let mut payouts = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(db::payouts::RUN_CHUNK) {
        let new: Vec<NewPayout<'_>> = chunk
            .iter()
            .map(|p| NewPayout {
                vendor_id: &vendor_id,
                program_id: &program.id,
                run_id: &run_id,
                affiliate_id: &p.affiliate_id,
                currency: &p.currency,
                amount_cents: p.amount_cents,
                fee_bps: p.fee_bps,
                fee_cents: p.fee_cents,
                method: &p.method,
                destination: &p.destination,
            })
            .collect();
        let created = db::payouts::insert_many(&mut tx, &new).await?;
        let created = db::payouts::claim_commissions(&mut tx, created).await?;
        ledger::payouts_opened(&mut tx, &vendor_id, &created).await?;
        let announced: Vec<String> = created.iter().map(|p| payout_json(p).to_string()).collect();
        db::events::insert_many(&mut tx, &vendor_id, "payout.created", &announced).await?;
        payouts.extend(created.into_iter().map(Some).zip(chunk.iter().cloned()));
    }
    let count = i64::try_from(payouts.len()).unwrap_or(i64::MAX);
    db::payouts::set_run_count(&mut *tx, &run_id, count).await?;
    audit::record(
        &mut *tx,
        &vendor_id,
        actor,
        "payout_run.created",
        ("payout_run", Some(&run_id)),
        json!({"program_id": program.id, "currency": currency, "payouts": count,
               "trigger": trigger.as_str()}),
    )
    .await?;
    let run = db::payouts::run_by_id(&mut *tx, &vendor_id, &run_id).await?;
    tx.commit().await?;
    Ok(ProgramRun {
        program,
        run,
        payouts,
        skipped,
    })
}

/// One payout of a vendor; another vendor's is 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<PayoutRow> {
    db::payouts::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A payout with what it covers: its commissions, and the clawbacks it netted.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The payout.
    pub payout: PayoutRow,
    /// The affiliate paid.
    pub affiliate: db::affiliates::AffiliateRow,
    /// The commissions it settles.
    pub commissions: Vec<CommissionRow>,
    /// When each of their conversions happened (unix ms), by conversion id.
    pub converted_at: HashMap<String, i64>,
}

impl Statement {
    /// Refunds of earlier paid commissions netted by this payout (≤ 0): its amount minus
    /// what its commissions are worth.
    pub fn adjustments_cents(&self) -> i64 {
        self.payout.amount_cents - self.payout.commissions_cents
    }
}

/// The statement of a payout. With `affiliate_id`, only that affiliate's (the portal).
pub async fn statement(
    db: &Db,
    vendor_id: &str,
    id: &str,
    affiliate_id: Option<&str>,
) -> AppResult<Statement> {
    let payout = get(db, vendor_id, id).await?;
    if affiliate_id.is_some_and(|a| a != payout.affiliate_id) {
        return Err(AppError::NotFound);
    }
    let affiliate = db::affiliates::by_id(db.pool(), vendor_id, &payout.affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let commissions = db::commissions::for_payout(db.pool(), vendor_id, &payout.id).await?;
    let converted_at =
        crate::domain::earnings::conversions::converted_at(db, vendor_id, &commissions).await?;
    Ok(Statement {
        payout,
        affiliate,
        commissions,
        converted_at,
    })
}

/// The vendor's affiliates with these ids, by id (payout lists and files name who is paid).
pub async fn affiliates_of<'a>(
    db: &Db,
    vendor_id: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> AppResult<HashMap<String, db::affiliates::AffiliateRow>> {
    let mut out = HashMap::new();
    for id in ids {
        if !out.contains_key(id)
            && let Some(a) = db::affiliates::by_id(db.pool(), vendor_id, id).await?
        {
            out.insert(a.id.clone(), a);
        }
    }
    Ok(out)
}

/// A page of payouts and the total.
pub async fn list(
    db: &Db,
    filter: &db::payouts::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<PayoutRow>, i64)> {
    let rows = db::payouts::page(db.pool(), filter, limit, offset).await?;
    let total = db::payouts::count(db.pool(), filter).await?;
    Ok((rows, total))
}

/// A page of runs and the total.
pub async fn runs(
    db: &Db,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<RunRow>, i64)> {
    let rows = db::payouts::runs(db.pool(), vendor_id, limit, offset).await?;
    let total = db::payouts::count_runs(db.pool(), vendor_id).await?;
    Ok((rows, total))
}

/// One run of a vendor with its payouts.
pub async fn run_detail(db: &Db, vendor_id: &str, id: &str) -> AppResult<(RunRow, Vec<PayoutRow>)> {
    let run = run_of(db, vendor_id, id).await?;
    // Every payout of the run: no page size may cut a run short.
    let payouts = db::payouts::page(db.pool(), &run_filter(vendor_id, id), i64::MAX, 0).await?;
    Ok((run, payouts))
}

/// A vendor's run; 404 for another vendor's.
async fn run_of(db: &Db, vendor_id: &str, id: &str) -> AppResult<RunRow> {
    db::payouts::run_by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The payouts of one run of a vendor.
fn run_filter<'a>(vendor_id: &'a str, run_id: &'a str) -> db::payouts::Filter<'a> {
    db::payouts::Filter {
        vendor_id,
        run_id: Some(run_id),
        ..db::payouts::Filter::default()
    }
}

/// What a run's payouts add up to, read from their counts by status, method and currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Net still to pay per currency (open payouts), in minor units.
    pub open_totals: Vec<(String, i64)>,
    /// Payouts still pending.
    pub pending: i64,
    /// Payouts still open (pending or processing).
    pub open: i64,
    /// Currencies of the open PayPal payouts (one PayPal file each), sorted.
    pub paypal_currencies: Vec<String>,
    /// Every payout of the run.
    pub total: i64,
}

impl RunSummary {
    /// Adds up a run's tally (see [`db::payouts::tally`]).
    pub fn of(tally: &[db::payouts::Tally]) -> Self {
        let mut s = Self::default();
        for t in tally {
            s.total += t.payouts;
            let status = PayoutStatus::of(&t.status);
            if status == Some(PayoutStatus::Pending) {
                s.pending += t.payouts;
            }
            if !status.is_some_and(PayoutStatus::is_open) {
                continue;
            }
            s.open += t.payouts;
            match s.open_totals.iter_mut().find(|(c, _)| *c == t.currency) {
                Some((_, sum)) => *sum = sum.saturating_add(t.net_cents),
                None => s.open_totals.push((t.currency.clone(), t.net_cents)),
            }
            if export::goes_in_paypal_file(&t.method, &t.status)
                && !s.paypal_currencies.contains(&t.currency)
            {
                s.paypal_currencies.push(t.currency.clone());
            }
        }
        s.paypal_currencies.sort_unstable();
        s
    }
}

/// A run and what its payouts add up to (its page's summary), without reading the
/// payouts; 404 for another vendor's run.
pub async fn run_summary(db: &Db, vendor_id: &str, id: &str) -> AppResult<(RunRow, RunSummary)> {
    let run = run_of(db, vendor_id, id).await?;
    let tally = db::payouts::tally(db.pool(), &run_filter(vendor_id, id)).await?;
    Ok((run, RunSummary::of(&tally)))
}

/// One page of a run's payouts with their affiliates, newest first.
pub async fn run_payouts_page(
    db: &Db,
    vendor_id: &str,
    run_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<db::payouts::ExportRow>> {
    let filter = run_filter(vendor_id, run_id);
    Ok(db::payouts::page_with_affiliates(db.pool(), &filter, limit, offset).await?)
}

/// 409 for a payout that is not in a state the action starts from; 404 if there is none.
async fn refuse(conn: &mut Conn, vendor_id: &str, id: &str, action: &str) -> AppError {
    match db::payouts::by_id(&mut *conn, vendor_id, id).await {
        Ok(Some(p)) => AppError::wrong_state(format!(
            "this payout is {}; it cannot be {action}",
            p.status
        )),
        Ok(None) => AppError::NotFound,
        Err(e) => e.into(),
    }
}

/// Checks a payment reference as marking paid would, so a form can refuse a bad one before
/// its confirmation step.
pub fn payment_reference(raw: Option<&str>) -> AppResult<Option<String>> {
    note("reference", raw, false)
}

fn note(field: &str, raw: Option<&str>, required: bool) -> AppResult<Option<String>> {
    match (text::optional(field, raw, NOTE_MAX)?, required) {
        (None, true) => Err(AppError::invalid(field, format!("{field} is required"))),
        (v, _) => Ok(v),
    }
}

/// `pending` → `processing`: handed to the payment provider (exported, or a transfer sent).
pub async fn mark_processing(
    db: &Db,
    vendor_id: &str,
    id: &str,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let mut tx = db.begin().await?;
    let p = processing_in(&mut tx, vendor_id, id, actor).await?;
    tx.commit().await?;
    Ok(p)
}

async fn processing_in(
    conn: &mut Conn,
    vendor_id: &str,
    id: &str,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let Some(p) = db::payouts::transition(
        &mut *conn,
        vendor_id,
        id,
        &["pending"],
        "processing",
        None,
        None,
    )
    .await?
    else {
        return Err(refuse(conn, vendor_id, id, "marked as processing").await);
    };
    audit::record(
        &mut *conn,
        vendor_id,
        actor,
        "payout.processing",
        ("payout", Some(id)),
        json!({}),
    )
    .await?;
    Ok(p)
}

/// `pending`/`processing` → `paid` with the payment's reference: the ledger moves the
/// amount to `paid` (net) and `fees`, the commissions become paid, the affiliate is emailed.
pub async fn mark_paid(
    db: &Db,
    sender: &Sender,
    vendor_id: &str,
    id: &str,
    reference: Option<&str>,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let reference = note("reference", reference, false)?;
    let vendor = vendor(db, vendor_id).await?;
    let mut tx = db.begin().await?;
    let p = paid_in(&mut tx, sender, &vendor, id, reference.as_deref(), actor).await?;
    tx.commit().await?;
    Ok(p)
}

async fn paid_in(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    reference: Option<&str>,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let Some(p) =
        db::payouts::transition(&mut *conn, &vendor.id, id, &OPEN, "paid", reference, None).await?
    else {
        return Err(refuse(conn, &vendor.id, id, "marked as paid").await);
    };
    ledger::payout_paid(conn, &p).await?;
    db::payouts::commissions_paid(&mut *conn, &p.id).await?;
    db::events::insert(
        &mut *conn,
        &vendor.id,
        "payout.paid",
        &payout_json(&p).to_string(),
    )
    .await?;
    audit::record(
        &mut *conn,
        &vendor.id,
        actor,
        "payout.paid",
        ("payout", Some(id)),
        json!({"reference": reference, "net_cents": p.net_cents, "currency": p.currency}),
    )
    .await?;
    paid_email(conn, sender, vendor, &p).await?;
    Ok(p)
}

/// `pending`/`processing` → `failed` with the reason: the amount is available again and
/// its commissions can be paid by a later run.
pub async fn mark_failed(
    db: &Db,
    sender: &Sender,
    vendor_id: &str,
    id: &str,
    reason: Option<&str>,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let reason = note("reason", reason, true)?;
    let vendor = vendor(db, vendor_id).await?;
    let mut tx = db.begin().await?;
    let p = failed_in(
        &mut tx,
        sender,
        &vendor,
        id,
        reason.as_deref().unwrap_or(""),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

pub(crate) async fn failed_in(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    reason: &str,
    actor: &Actor,
) -> AppResult<PayoutRow> {
    let Some(p) = db::payouts::transition(
        &mut *conn,
        &vendor.id,
        id,
        &OPEN,
        "failed",
        None,
        Some(reason),
    )
    .await?
    else {
        return Err(refuse(conn, &vendor.id, id, "marked as failed").await);
    };
    ledger::payout_failed(conn, &p).await?;
    db::payouts::release_commissions(&mut *conn, &p.id).await?;
    db::events::insert(
        &mut *conn,
        &vendor.id,
        "payout.failed",
        &payout_json(&p).to_string(),
    )
    .await?;
    audit::record(
        &mut *conn,
        &vendor.id,
        actor,
        "payout.failed",
        ("payout", Some(id)),
        json!({"reason": reason}),
    )
    .await?;
    failed_email(conn, sender, vendor, &p).await?;
    Ok(p)
}

/// What a run-level action did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkResult {
    /// Payouts changed.
    pub changed: Vec<String>,
    /// Payouts left alone (already past that state).
    pub unchanged: Vec<String>,
}

/// Marks every pending payout of a run as processing (e.g. after uploading its file).
pub async fn run_processing(
    db: &Db,
    vendor_id: &str,
    run_id: &str,
    actor: &Actor,
) -> AppResult<BulkResult> {
    let (_, payouts) = run_detail(db, vendor_id, run_id).await?;
    let mut out = BulkResult::default();
    let mut tx = db.begin().await?;
    for p in payouts {
        if PayoutStatus::Pending.is(&p.status) {
            processing_in(&mut tx, vendor_id, &p.id, actor).await?;
            out.changed.push(p.id);
        } else {
            out.unchanged.push(p.id);
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Marks every open payout of a run as paid with one reference (a PayPal batch id).
pub async fn run_paid(
    db: &Db,
    sender: &Sender,
    vendor_id: &str,
    run_id: &str,
    reference: Option<&str>,
    actor: &Actor,
) -> AppResult<BulkResult> {
    let reference = note("reference", reference, false)?;
    let vendor = vendor(db, vendor_id).await?;
    let (_, payouts) = run_detail(db, vendor_id, run_id).await?;
    let mut out = BulkResult::default();
    let mut tx = db.begin().await?;
    for p in payouts {
        if is_open(&p) {
            paid_in(&mut tx, sender, &vendor, &p.id, reference.as_deref(), actor).await?;
            out.changed.push(p.id);
        } else {
            out.unchanged.push(p.id);
        }
    }
    tx.commit().await?;
    Ok(out)
}

async fn vendor(db: &Db, vendor_id: &str) -> AppResult<VendorRow> {
    db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn affiliate_of(conn: &mut Conn, p: &PayoutRow) -> AppResult<db::affiliates::AffiliateRow> {
    db::affiliates::by_id(&mut *conn, &p.vendor_id, &p.affiliate_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The `payout_paid` email (copy in `templates/emails/payout_paid.*`).
#[derive(Debug, Clone)]
struct PayoutPaidEmail {
    vendor_name: String,
    /// What the affiliate received, formatted.
    net: String,
    method: String,
    /// The platform fee, when one was taken.
    fee: Option<PayoutFee>,
    reference: Option<String>,
    statement_url: String,
}
mail::email_kind!(
    PayoutPaidEmail,
    "payout_paid",
    "emails/payout_paid.txt",
    "emails/payout_paid.html"
);

/// The commissions and platform fee of a payout, formatted.
#[derive(Debug, Clone)]
struct PayoutFee {
    commissions: String,
    fee: String,
    rate: String,
}

/// The `payout_failed` email (copy in `templates/emails/payout_failed.*`).
#[derive(Debug, Clone)]
struct PayoutFailedEmail {
    vendor_name: String,
    net: String,
    method: String,
    failure_reason: Option<String>,
    settings_url: String,
}
mail::email_kind!(
    PayoutFailedEmail,
    "payout_failed",
    "emails/payout_failed.txt",
    "emails/payout_failed.html"
);

async fn paid_email(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    p: &PayoutRow,
) -> AppResult<()> {
    let a = affiliate_of(conn, p).await?;
    // Through the one portal-URL rule: the vendor's own portal domain when it has one.
    let portal =
        crate::domain::tenancy::vendors::portal_url(conn, &sender.base_url, vendor).await?;
    let message = PayoutPaidEmail {
        vendor_name: vendor.name.clone(),
        net: format_money(p.net_cents, &p.currency),
        method: method_label(&p.method).to_string(),
        fee: (p.fee_cents > 0).then(|| PayoutFee {
            commissions: format_money(p.amount_cents, &p.currency),
            fee: format_money(p.fee_cents, &p.currency),
            rate: crate::domain::values::bps::format_bps(p.fee_bps),
        }),
        reference: p.reference.clone(),
        statement_url: format!("{portal}payouts/{}", p.id),
    };
    mail::enqueue(
        conn,
        sender,
        vendor,
        Recipient {
            email: &a.email,
            name: Some(a.name.as_str()).filter(|n| !n.is_empty()),
        },
        &message,
    )
    .await?;
    Ok(())
}

async fn failed_email(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    p: &PayoutRow,
) -> AppResult<()> {
    let a = affiliate_of(conn, p).await?;
    let portal =
        crate::domain::tenancy::vendors::portal_url(conn, &sender.base_url, vendor).await?;
    let message = PayoutFailedEmail {
        vendor_name: vendor.name.clone(),
        net: format_money(p.net_cents, &p.currency),
        method: method_label(&p.method).to_string(),
        failure_reason: p.failure_reason.clone(),
        settings_url: format!("{portal}payout-settings"),
    };
    mail::enqueue(
        conn,
        sender,
        vendor,
        Recipient {
            email: &a.email,
            name: Some(a.name.as_str()).filter(|n| !n.is_empty()),
        },
        &message,
    )
    .await?;
    Ok(())
}

/// A payout as API JSON.
pub fn payout_json(p: &PayoutRow) -> Value {
    json!({
        "id": p.id,
        "program_id": p.program_id,
        "run_id": p.run_id,
        "affiliate_id": p.affiliate_id,
        "currency": p.currency,
        "amount_cents": p.amount_cents,
        "commissions_cents": p.commissions_cents,
        "adjustments_cents": p.amount_cents - p.commissions_cents,
        "fee_bps": p.fee_bps,
        "fee_cents": p.fee_cents,
        "net_cents": p.net_cents,
        "method": p.method,
        "destination": p.destination,
        "status": p.status,
        "reference": p.reference,
        "failure_reason": p.failure_reason,
        "provider_error": p.provider_error,
        "created_at": db::rfc3339(p.created_at),
        "processing_at": p.processing_at.map(db::rfc3339),
        "paid_at": p.paid_at.map(db::rfc3339),
        "failed_at": p.failed_at.map(db::rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_payout_emails_render_their_copy() {
        for full in [true, false] {
            let r = render(
                &PayoutPaidEmail {
                    vendor_name: "Acme & Co".into(),
                    net: "€95.00".into(),
                    method: "PayPal".into(),
                    fee: full.then(|| PayoutFee {
                        commissions: "€100.00".into(),
                        fee: "€5.00".into(),
                        rate: "5%".into(),
                    }),
                    reference: full.then(|| "ref<1>".into()),
                    statement_url: "https://x.test/p/acme/payouts/po_1".into(),
                },
                full,
            );
            assert_eq!(r.subject, "You've been paid €95.00 by Acme & Co");
            assert!(
                r.text
                    .contains("\n\nAcme & Co sent you €95.00 via PayPal.\n\n")
            );
            assert_eq!(
                r.text.contains("Commissions €100.00, platform fee €5.00 (5%).\n\nPayment reference: ref<1>.\n\n"),
                full
            );
            assert!(
                r.text
                    .contains("See the statement: https://x.test/p/acme/payouts/po_1\n\n")
            );

            let r = render(
                &PayoutFailedEmail {
                    vendor_name: "Acme & Co".into(),
                    net: "€95.00".into(),
                    method: "PayPal".into(),
                    failure_reason: full.then(|| "account closed".into()),
                    settings_url: "https://x.test/p/acme/payout-settings".into(),
                },
                full,
            );
            assert_eq!(r.subject, "A payout from Acme & Co did not go through");
            let reason = if full {
                "account closed"
            } else {
                "no reason given"
            };
            assert!(r.text.contains(&format!(
                "Your payout of €95.00 via PayPal failed: {reason}.\n\n"
            )));
            assert!(r.html.contains(">Check payout details</a>"));
        }
    }
}

//! Conversions and their commissions: who earns from a billing event, how much, and every
//! later state change (maturation, approval, rejection, refunds), each posting its ledger
//! lines in the same transaction.
//!
//! A conversion is found by any id of its payment (invoice, payment intent, charge) or by
//! its external id, so the same sale arriving through several events or doors is one
//! conversion. Commissions are unique per (conversion, level).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::{
    self, Conn, Db,
    commissions::{CommissionRow, NewCommission},
    conversions::{ConversionRow, NewConversion},
    programs::ProgramRow,
};
use crate::domain::attribution::referrals::{self, Touch};
use crate::domain::attribution::tracking::Tracker;
use crate::domain::earnings::billing::{
    self, Door, Ingested, Kind, Normalized, Processed, RefundAmount,
};
use crate::domain::earnings::commission_rules::{self, Facts};
use crate::domain::partners::terms::{Commission, Rate};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::status::{self, CommissionStatus, ConversionStatus};
use crate::domain::{
    earnings::ledger, partners::affiliates, values::Currency, values::Email, values::Money,
    values::money, values::text,
};
use crate::error::{AppError, AppResult};

/// Conversion statuses.
pub const STATUSES: &[&str] = ConversionStatus::ALL_TEXT;
/// Commission statuses.
pub const COMMISSION_STATUSES: &[&str] = CommissionStatus::ALL_TEXT;
const DAY_MS: i64 = 86_400_000;

/// Who earns from an event.
struct Earner {
    enrollment: db::affiliates::EnrollmentRow,
    referral_id: Option<String>,
    /// The enrollment's affiliate, when attribution read it already.
    affiliate: Option<db::affiliates::AffiliateRow>,
}

/// Finds the enrollment that earns from `event` in `program`: the touch in the event's
/// metadata (binding the customer per the attribution rules), else the customer's
/// existing referral. `Err(reason)` when nobody does.
async fn attribute(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
    click: Option<&db::clicks::ClickRow>,
) -> AppResult<Result<Earner, &'static str>> {
    let vendor_id = program.vendor_id.as_str();
    if let Some(id) = &event.enrollment_id {
        let enrollment = db::affiliates::enrollment_by_id(&mut *conn, vendor_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok(Ok(Earner {
            enrollment,
            referral_id: None,
            affiliate: None,
        }));
    }
    let now = db::now_ms();
    let email = event
        .email
        .as_deref()
        .and_then(|e| Email::parse("email", e).ok());
    let touch = match click {
        Some(c) if c.program_id == program.id => Some(Touch::click(c)),
        _ => match (&event.hints.code, &event.hints.affiliate_id) {
            (Some(code), _) => Some(Touch::code(code, now)),
            (None, Some(affiliate_id)) => {
                db::affiliates::enrollment_in(&mut *conn, vendor_id, affiliate_id, &program.id)
                    .await?
                    .map(|e| Touch::code(&e.code, now))
            }
            (None, None) => None,
        },
    };
    let mut refusal = None;
    if let Some(touch) = touch {
        let found = match &event.customer_id {
            Some(customer) => referrals::bind_in(
                conn,
                vendor_id,
                Some(program),
                customer,
                email.as_ref(),
                &touch,
                now,
            )
            .await?
            .map(|b| {
                (
                    b.referral.enrollment_id,
                    Some(b.referral.id),
                    b.referral.program_id,
                    b.affiliate,
                )
            }),
            None => referrals::check_touch(
                conn,
                vendor_id,
                Some(program),
                None,
                email.as_ref(),
                &touch,
                now,
            )
            .await?
            .map(|c| {
                (
                    c.target.enrollment_id,
                    None,
                    c.target.program_id,
                    c.affiliate,
                )
            }),
        };
        match found {
            // A code of another program of the vendor does not attribute here.
            Ok((_, _, p, _)) if p != program.id => refusal = Some("code_of_another_program"),
            Ok((enrollment_id, referral_id, _, affiliate)) => {
                let enrollment =
                    db::affiliates::enrollment_by_id(&mut *conn, vendor_id, &enrollment_id)
                        .await?
                        .ok_or(AppError::NotFound)?;
                return Ok(Ok(Earner {
                    enrollment,
                    referral_id,
                    affiliate: Some(affiliate),
                }));
            }
            Err(reason) => refusal = Some(reason),
        }
    }
    if let Some(customer) = &event.customer_id
        && let Some(r) =
            db::referrals::by_customer(&mut *conn, vendor_id, &program.id, customer).await?
    {
        let enrollment = db::affiliates::enrollment_by_id(&mut *conn, vendor_id, &r.enrollment_id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok(Ok(Earner {
            enrollment,
            referral_id: Some(r.id),
            affiliate: None,
        }));
    }
    Ok(Err(refusal.unwrap_or("not_attributed")))
}

/// Whether the event counts as a conversion under the program's definition; `Err` says why
/// not.
async fn qualifies(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
) -> AppResult<Result<(), String>> {
    if event.event_type == "manual" {
        return Ok(Ok(()));
    }
    match program.conversion_kind.as_str() {
        "event" => {
            let wanted = program.conversion_event.as_deref().unwrap_or("");
            if event.event_type == wanted {
                Ok(Ok(()))
            } else {
                Ok(Err(format!(
                    "the program converts on {wanted}, not {}",
                    event.event_type
                )))
            }
        }
        _ if event.kind != Kind::Payment => Ok(Err(format!(
            "{} is not a payment; the program converts on payments",
            event.event_type
        ))),
        "first_payment" => match &event.customer_id {
            Some(c) if db::conversions::customer_has_any(&mut *conn, &program.id, c).await? => Ok(
                Err("the program converts on a customer's first payment only".into()),
            ),
            _ => Ok(Ok(())),
        },
        _ => Ok(Ok(())),
    }
}

/// A payment, a named event or a customer/subscription that binds: the conversion (new or
/// matched) and its commissions.
pub async fn on_event(
    conn: &mut Conn,
    program: &ProgramRow,
    source: &str,
    event: &Normalized,
    click: Option<&db::clicks::ClickRow>,
) -> AppResult<Processed> {
    // The same money, seen before through another event or door?
    let ids = PaymentIds::linked(conn, &program.id, event).await?;
    let mut found = if ids.refs().is_empty() {
        Vec::new()
    } else {
        db::conversions::by_refs(&mut *conn, &program.id, &ids.refs()).await?
    };
    if found.is_empty()
        && let Some(ext) = &event.external_id
    {
        found.extend(db::conversions::by_external_id(&mut *conn, &program.id, ext).await?);
    }
    if found.is_empty() && event.kind == Kind::Payment {
        found.extend(pair(conn, program, event, false).await?);
    }
    if let Some(c) = settle(conn, program, found, &ids).await? {
        return Ok(Processed {
            status: "processed",
            result: json!({"matched_conversion": c.id, "note": "the same payment, already converted"}),
            conversion_id: Some(c.id),
        });
    }
    let earner = match attribute(conn, program, event, click).await? {
        Ok(e) => e,
        Err(reason) => {
            return Ok(Processed::ignored(
                reason,
                json!({"customer_id": event.customer_id}),
            ));
        }
    };
    if let Err(why) = qualifies(conn, program, event).await? {
        let bound = json!({"referral_id": earner.referral_id, "why": why});
        return Ok(match event.kind {
            // Binding the customer was the point of these.
            Kind::SubscriptionStarted | Kind::Customer if earner.referral_id.is_some() => {
                Processed {
                    status: "processed",
                    result: bound,
                    conversion_id: None,
                }
            }
            _ => Processed::ignored("not_qualifying", bound),
        });
    }
    if event.kind == Kind::Payment && event.amount_cents <= 0 {
        return Ok(Processed::ignored("zero_amount", json!({})));
    }
    let currency = event
        .currency
        .clone()
        .unwrap_or_else(|| program.currency.clone());
    let created = record(conn, program, source, event, &ids, &earner, &currency).await?;
    // The converting affiliate's commission (seed 004's commission_cents); uplines are listed
    // in `commissions`.
    let commission_cents = direct_commission_cents(&created.1);
    Ok(Processed {
        status: "processed",
        result: json!({
            "conversion_id": created.0.id,
            "status": created.0.status,
            "reason": created.0.reason,
            "affiliate_id": created.0.affiliate_id,
            "commission_cents": commission_cents,
            "commissions": created.1.iter().map(commission_json).collect::<Vec<_>>(),
        }),
        conversion_id: Some(created.0.id),
    })
}

/// Why the earner earns nothing, if so.
fn refusal(
    program: &ProgramRow,
    enrollment: &db::affiliates::EnrollmentRow,
    affiliate: &db::affiliates::AffiliateRow,
    event: &Normalized,
) -> Option<&'static str> {
    if !status::program_is_open(&program.status) {
        return Some("program_inactive");
    }
    if !status::is_active(&enrollment.status) || !status::is_active(&affiliate.status) {
        return Some("affiliate_inactive");
    }
    if program.allow_self_referral == 0
        && affiliates::is_self_referral(
            affiliate,
            event.customer_id.as_deref(),
            event.email.as_deref(),
        )
    {
        return Some("self_referral");
    }
    None
}

/// Inserts the conversion, its commissions and their ledger lines.
async fn record(
    conn: &mut Conn,
    program: &ProgramRow,
    source: &str,
    event: &Normalized,
    ids: &PaymentIds,
    earner: &Earner,
    currency: &str,
) -> AppResult<(ConversionRow, Vec<CommissionRow>)> {
    let vendor_id = program.vendor_id.as_str();
    let e = &earner.enrollment;
    let affiliate = match &earner.affiliate {
        Some(a) => a.clone(),
        None => db::affiliates::by_id(&mut *conn, vendor_id, &e.affiliate_id)
            .await?
            .ok_or(AppError::NotFound)?,
    };
    let terms = affiliates::enrollment_terms(e)?;
    let (own_terms, version_terms) = (terms.own, terms.version);
    // Facts counted before this conversion exists.
    let cycle = match (&own_terms.rate, &event.subscription_id) {
        (Rate::Recurring { .. }, Some(sub)) => {
            db::conversions::count_for_subscription(&mut *conn, &program.id, sub).await? + 1
        }
        _ => 1,
    };
    let prior_approved = match &own_terms.rate {
        Rate::Tiered { .. } => {
            db::conversions::count_approved(&mut *conn, &program.id, &e.affiliate_id).await?
        }
        _ => 0,
    };
    let facts = Facts {
        gross_cents: event.amount_cents,
        cycle,
        prior_approved,
    };
    let refused = refusal(program, e, &affiliate, event);
    let direct = commission_rules::direct(&own_terms.rate, &facts);
    let reason = refused.map(str::to_owned).or_else(|| direct.clone().err());
    let available_at = event.occurred_at + program.holding_period_days * DAY_MS;
    let new = NewConversion {
        vendor_id,
        program_id: &program.id,
        enrollment_id: &e.id,
        affiliate_id: &e.affiliate_id,
        referral_id: earner.referral_id.as_deref(),
        customer_id: event.customer_id.as_deref(),
        source,
        trigger_type: &event.event_type,
        external_id: event.external_id.as_deref(),
        refs: ids.refs(),
        subscription_id: event.subscription_id.as_deref(),
        amount_cents: event.amount_cents,
        currency,
        status: if refused.is_some() {
            "rejected"
        } else {
            "pending"
        },
        reason: reason.as_deref(),
        occurred_at: event.occurred_at,
        available_at,
    };
    let conversion = db::conversions::insert(&mut *conn, &new).await?;
    let id = conversion.id.clone();
    let mut earned = Vec::new();
    if refused.is_none() {
        if let Ok(d) = direct {
            earned.push((0, e.affiliate_id.clone(), d));
        }
        for (level, ancestor) in
            uplines(conn, vendor_id, &program.id, &affiliate, &version_terms).await?
        {
            let l = &version_terms.multi_level[usize::try_from(level - 1).unwrap_or(0)];
            earned.push((
                level,
                ancestor,
                commission_rules::upline(l, event.amount_cents),
            ));
        }
    }
    let mut commissions = Vec::new();
    for (level, affiliate_id, line) in earned {
        if line.amount_cents <= 0 {
            continue;
        }
        let commission_currency = if line.in_program_currency {
            program.currency.as_str()
        } else {
            currency
        };
        let nc = NewCommission {
            vendor_id,
            program_id: &program.id,
            conversion_id: &id,
            affiliate_id: &affiliate_id,
            level,
            currency: commission_currency,
            amount_cents: line.amount_cents,
            bps: line.bps,
            rule: &line.rule,
            status: "pending",
            available_at,
        };
        let Some(cid) = db::commissions::insert(&mut *conn, &nc).await? else {
            continue;
        };
        let now = db::now_ms();
        commissions.push(CommissionRow {
            id: cid,
            vendor_id: vendor_id.to_owned(),
            program_id: program.id.clone(),
            conversion_id: id.clone(),
            affiliate_id,
            level,
            currency: commission_currency.to_owned(),
            amount_cents: line.amount_cents,
            reversed_cents: 0,
            bps: line.bps,
            rule: line.rule,
            status: "pending".into(),
            available_at,
            payout_id: None,
            created_at: now,
            updated_at: now,
        });
    }
    ledger::earned(conn, vendor_id, &commissions).await?;
    db::events::insert(
        &mut *conn,
        vendor_id,
        "conversion.created",
        &conversion_json(&conversion, &commissions).to_string(),
    )
    .await?;
    Ok((conversion, commissions))
}

/// The active ancestors that earn a level of the ladder: (level, affiliate id). An inactive
/// or unenrolled ancestor's level is skipped (no compression); cycles end the walk.
async fn uplines(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    converter: &db::affiliates::AffiliateRow,
    terms: &Commission,
) -> AppResult<Vec<(i64, String)>> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::from([converter.id.clone()]);
    let mut next = converter.parent_affiliate_id.clone();
    for level in &terms.multi_level {
        let Some(id) = next.take() else { break };
        if !seen.insert(id.clone()) {
            break;
        }
        let Some(parent) = db::affiliates::by_id(&mut *conn, vendor_id, &id).await? else {
            break;
        };
        next = parent.parent_affiliate_id.clone();
        let enrolled = db::affiliates::enrollment_in(&mut *conn, vendor_id, &id, program_id)
            .await?
            .is_some_and(|e| status::is_active(&e.status));
        if status::is_active(&parent.status) && enrolled {
            out.push((level.level, id));
        }
    }
    Ok(out)
}

/// The ids of one payment: the event's, completed by a recorded invoice-payment link.
#[derive(Debug, Clone, Default)]
struct PaymentIds {
    invoice_id: Option<String>,
    payment_intent_id: Option<String>,
    charge_id: Option<String>,
}

impl PaymentIds {
    /// The event's ids; when it knows only one half of its payment (an invoice, or a charge
    /// or payment intent), the other half from an `invoice_payment.paid` seen before.
    async fn linked(conn: &mut Conn, program_id: &str, event: &Normalized) -> AppResult<Self> {
        let mut ids = Self {
            invoice_id: event.invoice_id.clone(),
            payment_intent_id: event.payment_intent_id.clone(),
            charge_id: event.charge_id.clone(),
        };
        let has_payment = ids.payment_intent_id.is_some() || ids.charge_id.is_some();
        if ids.invoice_id.is_some() != has_payment
            && let Some(link) = db::payment_links::find(&mut *conn, program_id, &ids.refs()).await?
        {
            ids.invoice_id.get_or_insert(link.invoice_id);
            if let Some(pi) = link.payment_intent_id {
                ids.payment_intent_id.get_or_insert(pi);
            }
            if let Some(ch) = link.charge_id {
                ids.charge_id.get_or_insert(ch);
            }
        }
        Ok(ids)
    }

    fn refs(&self) -> db::conversions::PaymentRefs<'_> {
        db::conversions::PaymentRefs {
            invoice_id: self.invoice_id.as_deref(),
            payment_intent_id: self.payment_intent_id.as_deref(),
            charge_id: self.charge_id.as_deref(),
        }
    }
}

/// A Stripe payment is paid at about the same moment on its invoice and its charge.
const PAIR_SLACK_MS: i64 = 3_600_000;
/// A charge by bank debit is created days before it succeeds and its invoice is paid.
const PAIR_DEBIT_MS: i64 = 14 * DAY_MS;

/// The sale times a conversion recorded from the other half of the payment may have:
/// around the payment's time, or for a refund (which knows the charge's creation time) up to
/// two weeks after it.
fn pair_window(at: i64, refund: bool) -> (i64, i64) {
    let after = if refund { PAIR_DEBIT_MS } else { PAIR_SLACK_MS };
    (at.saturating_sub(PAIR_SLACK_MS), at.saturating_add(after))
}

/// For an event that knows one half of its payment's ids (basil and later Stripe shapes):
/// the conversion recorded from the other half, by the same customer, currency and amount
/// paid in the window. `refund`: the event is a `charge.refunded`, whose amount is the
/// charge's.
async fn pair(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
    refund: bool,
) -> AppResult<Option<ConversionRow>> {
    let (Some(pairing), Some(customer_id), Some(currency)) =
        (&event.pairing, &event.customer_id, &event.currency)
    else {
        return Ok(None);
    };
    if event.amount_cents <= 0 {
        return Ok(None);
    }
    let (from, to) = pair_window(pairing.at, refund);
    let known_by = match pairing.knows {
        billing::Half::Invoice => db::conversions::KnownBy::PaymentOnly,
        billing::Half::Payment => db::conversions::KnownBy::InvoiceOnly,
    };
    let q = db::conversions::PairQuery {
        program_id: &program.id,
        customer_id,
        currency,
        amount_cents: event.amount_cents,
        known_by,
        from,
        to,
        near: pairing.at,
    };
    Ok(db::conversions::pair_candidate(&mut *conn, &q).await?)
}

/// The one conversion of a payment among `found` (oldest first), with every id of the
/// payment recorded on it. Conversions recorded apart from two halves of the payment before
/// an event named both are folded into the oldest: their commissions are reversed and their
/// ids move to it.
async fn settle(
    conn: &mut Conn,
    program: &ProgramRow,
    found: Vec<ConversionRow>,
    ids: &PaymentIds,
) -> AppResult<Option<ConversionRow>> {
    let mut found = found.into_iter();
    let Some(keep) = found.next() else {
        return Ok(None);
    };
    let mut ids = ids.clone();
    for dup in found.filter(|d| d.id != keep.id) {
        fold_duplicate(conn, program, &keep, &dup).await?;
        ids.invoice_id = ids.invoice_id.or(dup.invoice_id);
        ids.payment_intent_id = ids.payment_intent_id.or(dup.payment_intent_id);
        ids.charge_id = ids.charge_id.or(dup.charge_id);
    }
    db::conversions::add_refs(&mut *conn, &keep.id, &ids.refs()).await?;
    Ok(Some(keep))
}

/// Reverses a conversion that turned out to be a second record of `keep`'s payment.
async fn fold_duplicate(
    conn: &mut Conn,
    program: &ProgramRow,
    keep: &ConversionRow,
    dup: &ConversionRow,
) -> AppResult<()> {
    db::conversions::clear_refs(&mut *conn, &dup.id).await?;
    let reason = format!("duplicate of {}: the same payment", keep.id);
    reverse_share(conn, &program.vendor_id, dup, dup.amount_cents).await?;
    for from in ["pending", "approved"] {
        db::conversions::transition(&mut *conn, &dup.id, from, "reversed", Some(&reason)).await?;
    }
    db::events::insert(
        &mut *conn,
        &program.vendor_id,
        "conversion.reversed",
        &json!({"conversion_id": dup.id, "duplicate_of": keep.id}).to_string(),
    )
    .await?;
    Ok(())
}

/// Reverses the conversion's commissions in proportion to `refunded` of its amount; returns
/// the amount reversed now.
async fn reverse_share(
    conn: &mut Conn,
    vendor_id: &str,
    c: &ConversionRow,
    refunded: i64,
) -> AppResult<i64> {
    let fully = refunded >= c.amount_cents;
    let mut reversed_total = 0;
    for m in db::commissions::for_conversion(&mut *conn, vendor_id, &c.id).await? {
        if CommissionStatus::Rejected.is(&m.status) {
            continue;
        }
        let target = commission_rules::reversed_total(m.amount_cents, refunded, c.amount_cents);
        let delta = target - m.reversed_cents;
        if delta <= 0 {
            continue;
        }
        if !db::commissions::add_reversed(&mut *conn, &m.id, m.reversed_cents, target, fully)
            .await?
        {
            return Err(AppError::Internal(anyhow::anyhow!(
                "commission {} changed concurrently",
                m.id
            )));
        }
        ledger::reversed(conn, vendor_id, &m, delta).await?;
        reversed_total += delta;
    }
    Ok(reversed_total)
}

/// `invoice_payment.paid`: records which payment paid an invoice, and joins the conversion
/// recorded from either half (folding two into one if both halves were recorded apart).
pub async fn on_link(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
) -> AppResult<Processed> {
    let refs = event.refs();
    let Some(invoice_id) = refs
        .invoice_id
        .filter(|_| refs.payment_intent_id.is_some() || refs.charge_id.is_some())
    else {
        return Ok(Processed::ignored(
            "no_link",
            json!({"note": "the invoice payment does not name an invoice and a payment"}),
        ));
    };
    db::payment_links::record(
        &mut *conn,
        &program.vendor_id,
        &program.id,
        invoice_id,
        refs.payment_intent_id,
        refs.charge_id,
    )
    .await?;
    let ids = PaymentIds::linked(conn, &program.id, event).await?;
    let found = db::conversions::by_refs(&mut *conn, &program.id, &ids.refs()).await?;
    let linked = json!({"invoice_id": ids.invoice_id, "payment_intent_id": ids.payment_intent_id,
                        "charge_id": ids.charge_id});
    Ok(match settle(conn, program, found, &ids).await? {
        Some(c) => Processed {
            status: "processed",
            result: json!({"matched_conversion": c.id, "linked": linked}),
            conversion_id: Some(c.id),
        },
        None => Processed {
            status: "processed",
            result: json!({"linked": linked, "note": "no conversion yet; later events of this payment use the link"}),
            conversion_id: None,
        },
    })
}

/// A refund: reverses the conversion's commissions in proportion to the refunded share of
/// the sale. Each refund counts once under its key, however often and through whichever
/// events it arrives; the refunded total is the larger of the single refunds' sum and the
/// charges' cumulative totals, so the parts add up exactly.
pub async fn on_refund(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
    amount: RefundAmount,
) -> AppResult<Processed> {
    let ids = PaymentIds::linked(conn, &program.id, event).await?;
    let mut found = db::conversions::by_refs(&mut *conn, &program.id, &ids.refs()).await?;
    if found.is_empty() && matches!(amount, RefundAmount::Cumulative(_)) {
        found.extend(pair(conn, program, event, true).await?);
    }
    let Some(c) = settle(conn, program, found, &ids).await? else {
        return Ok(Processed::ignored(
            "no_conversion",
            json!({"note": "no conversion of this program has this payment"}),
        ));
    };
    let vendor_id = program.vendor_id.as_str();
    let (key, cumulative, cents) = match amount {
        RefundAmount::Increment(a) => (
            event
                .refund_id
                .clone()
                .unwrap_or_else(|| db::new_id("refund")),
            false,
            a,
        ),
        RefundAmount::Cumulative(total) => {
            let charge = ids
                .charge_id
                .as_deref()
                .or(ids.payment_intent_id.as_deref());
            (format!("charge:{}", charge.unwrap_or("")), true, total)
        }
    };
    db::conversions::record_refund(&mut *conn, vendor_id, &c.id, &key, cumulative, cents).await?;
    let (single, whole) = db::conversions::refund_sums(&mut *conn, &c.id).await?;
    let refunded = c.refunded_cents.max(single).max(whole).min(c.amount_cents);
    if refunded == c.refunded_cents {
        return Ok(Processed::ignored(
            "already_refunded",
            json!({"conversion_id": c.id, "refunded_cents": refunded}),
        ));
    }
    if !db::conversions::set_refunded(&mut *conn, &c.id, c.refunded_cents, refunded).await? {
        return Err(AppError::Internal(anyhow::anyhow!(
            "conversion {} changed concurrently",
            c.id
        )));
    }
    let reversed_total = reverse_share(conn, vendor_id, &c, refunded).await?;
    if refunded >= c.amount_cents {
        for from in ["pending", "approved"] {
            db::conversions::transition(&mut *conn, &c.id, from, "reversed", Some("refunded"))
                .await?;
        }
    }
    let after = db::conversions::by_id(&mut *conn, vendor_id, &c.id)
        .await?
        .ok_or(AppError::NotFound)?;
    db::events::insert(
        &mut *conn,
        vendor_id,
        "conversion.refunded",
        &json!({"conversion_id": c.id, "refunded_cents": refunded, "reversed_cents": reversed_total}).to_string(),
    )
    .await?;
    Ok(Processed {
        status: "processed",
        result: json!({
            "conversion_id": c.id,
            "refunded_cents": refunded,
            "reversed_cents": reversed_total,
            "status": after.status,
        }),
        conversion_id: Some(c.id),
    })
}

/// Matures every conversion whose holding period ended by `now`: approved, and its pending
/// commissions move to available. Each conversion in its own transaction; a conversion
/// another worker took first is skipped. Returns how many matured.
pub async fn mature_due(db: &Db, now: i64) -> AppResult<usize> {
    let mut matured = 0;
    loop {
        let due = db::conversions::due(db.pool(), now, 200).await?;
        if due.is_empty() {
            return Ok(matured);
        }
        let mut progressed = false;
        for c in due {
            let mut tx = db.begin().await?;
            if !db::conversions::transition(&mut *tx, &c.id, "pending", "approved", None).await? {
                continue;
            }
            release_commissions(&mut tx, &c, "maturation", None).await?;
            db::events::insert(
                &mut *tx,
                &c.vendor_id,
                "conversion.approved",
                &json!({"conversion_id": c.id, "by": "holding_period"}).to_string(),
            )
            .await?;
            tx.commit().await?;
            matured += 1;
            progressed = true;
        }
        if !progressed {
            return Ok(matured);
        }
    }
}

/// Moves the pending commissions of a conversion to available.
async fn release_commissions(
    conn: &mut Conn,
    c: &ConversionRow,
    kind: &str,
    at: Option<i64>,
) -> AppResult<()> {
    for m in db::commissions::for_conversion(&mut *conn, &c.vendor_id, &c.id).await? {
        if !CommissionStatus::Pending.is(&m.status) {
            continue;
        }
        let moved = match at {
            Some(at) => db::commissions::make_available(&mut *conn, &m.id, at).await?,
            None => db::commissions::transition(&mut *conn, &m.id, "pending", "available").await?,
        };
        if moved {
            ledger::made_available(conn, &c.vendor_id, &m, kind).await?;
        }
    }
    Ok(())
}

/// Approves a pending conversion now: its commissions become available at once.
pub async fn approve(
    db: &Db,
    vendor_id: &str,
    id: &str,
    actor: &Actor,
) -> AppResult<ConversionRow> {
    let mut tx = db.begin().await?;
    let c = db::conversions::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !db::conversions::transition(&mut *tx, id, "pending", "approved", None).await? {
        return Err(AppError::wrong_state(format!(
            "only a pending conversion can be approved; this one is {}",
            c.status
        )));
    }
    release_commissions(&mut tx, &c, "approval", Some(db::now_ms())).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "conversion.approved",
        ("conversion", Some(id)),
        json!({}),
    )
    .await?;
    db::events::insert(
        &mut *tx,
        vendor_id,
        "conversion.approved",
        &json!({"conversion_id": id, "by": "hand"}).to_string(),
    )
    .await?;
    tx.commit().await?;
    get_row(db, vendor_id, id).await
}

/// Rejects a pending conversion: its commissions are taken back.
pub async fn reject(
    db: &Db,
    vendor_id: &str,
    id: &str,
    reason: Option<&str>,
    actor: &Actor,
) -> AppResult<ConversionRow> {
    let reason =
        text::optional("reason", reason, 500)?.unwrap_or_else(|| "rejected by the vendor".into());
    let mut tx = db.begin().await?;
    let c = db::conversions::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !db::conversions::transition(&mut *tx, id, "pending", "rejected", Some(&reason)).await? {
        return Err(AppError::wrong_state(format!(
            "only a pending conversion can be rejected; this one is {}",
            c.status
        )));
    }
    for m in db::commissions::for_conversion(&mut *tx, vendor_id, id).await? {
        if CommissionStatus::Pending.is(&m.status)
            && db::commissions::transition(&mut *tx, &m.id, "pending", "rejected").await?
        {
            ledger::rejected(&mut tx, vendor_id, &m).await?;
        }
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "conversion.rejected",
        ("conversion", Some(id)),
        json!({"reason": reason}),
    )
    .await?;
    db::events::insert(
        &mut *tx,
        vendor_id,
        "conversion.rejected",
        &json!({"conversion_id": id, "reason": reason}).to_string(),
    )
    .await?;
    tx.commit().await?;
    get_row(db, vendor_id, id).await
}

async fn get_row(db: &Db, vendor_id: &str, id: &str) -> AppResult<ConversionRow> {
    db::conversions::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A conversion with its commissions, by level.
pub async fn with_commissions(
    db: &Db,
    vendor_id: &str,
    id: &str,
) -> AppResult<(ConversionRow, Vec<CommissionRow>)> {
    let c = get_row(db, vendor_id, id).await?;
    let commissions = db::commissions::for_conversion(db.pool(), vendor_id, id).await?;
    Ok((c, commissions))
}

/// A conversion with its commissions, as API JSON.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Value> {
    let (c, commissions) = with_commissions(db, vendor_id, id).await?;
    Ok(conversion_json(&c, &commissions))
}

/// The body of `POST /api/v1/conversions` (seed 004).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualInput {
    /// The affiliate to credit (or `code`).
    pub affiliate_id: Option<String>,
    /// A referral code (instead of `affiliate_id`).
    pub code: Option<String>,
    /// Sale amount: 1 ..= 10^11 minor units (see [`crate::domain::values::money`]).
    #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
    pub amount_cents: i64,
    /// ISO 4217; the program's currency when absent.
    pub currency: Option<String>,
    /// Your order or invoice id: the idempotency key within the program.
    pub external_id: Option<String>,
    /// The program, when the affiliate is in several.
    pub program_id: Option<String>,
    /// The customer, if known (self-referral check, reports).
    pub customer_id: Option<String>,
    /// The payment's invoice, payment intent and charge ids, if it was a Stripe payment (or
    /// one sent through the events API): a later event of the same payment then finds this
    /// conversion instead of recording another.
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// See `invoice_id`.
    #[serde(default)]
    pub payment_intent_id: Option<String>,
    /// See `invoice_id`.
    #[serde(default)]
    pub charge_id: Option<String>,
}

/// Records a manual conversion through the billing pipeline (source `manual`). A repeated
/// `external_id` is a 409 naming the existing conversion.
pub async fn record_manual(
    db: &Db,
    tracker: &Tracker,
    writer: &billing::IngestWriter,
    vendor_id: &str,
    input: &ManualInput,
    actor: &Actor,
) -> AppResult<(ConversionRow, i64)> {
    // Checked before anything is looked up, so a refused amount writes nothing.
    money::positive("amount_cents", input.amount_cents)?;
    let external_id = text::optional("external_id", input.external_id.as_deref(), 200)?;
    let customer_id = text::optional("customer_id", input.customer_id.as_deref(), 200)?;
    let enrollment = manual_enrollment(db, vendor_id, input).await?;
    let program = db::programs::by_id(db.pool(), vendor_id, &enrollment.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let currency = match &input.currency {
        Some(c) => Currency::parse("currency", c)?,
        None => Currency::parse("currency", &program.currency)?,
    };
    let amount = Money::payment("amount_cents", input.amount_cents, currency)?;
    if let Some(ext) = &external_id
        && let Some(c) = db::conversions::by_external_id(db.pool(), &program.id, ext).await?
    {
        return Err(duplicate_external_id(c.id));
    }
    let ids = PaymentIds {
        invoice_id: text::optional("invoice_id", input.invoice_id.as_deref(), 200)?,
        payment_intent_id: text::optional(
            "payment_intent_id",
            input.payment_intent_id.as_deref(),
            200,
        )?,
        charge_id: text::optional("charge_id", input.charge_id.as_deref(), 200)?,
    };
    if !ids.refs().is_empty()
        && let Some(c) = db::conversions::by_refs(db.pool(), &program.id, &ids.refs())
            .await?
            .into_iter()
            .next()
    {
        let field = if c.invoice_id.is_some() && c.invoice_id == ids.invoice_id {
            "invoice_id"
        } else if c.payment_intent_id.is_some() && c.payment_intent_id == ids.payment_intent_id {
            "payment_intent_id"
        } else {
            "charge_id"
        };
        return Err(AppError::AlreadyExists {
            field,
            message: format!("this payment is already recorded as conversion {}", c.id),
            id: c.id,
        });
    }
    let event = Normalized {
        kind: Kind::Payment,
        event_type: "manual".into(),
        customer_id,
        email: None,
        amount_cents: amount.cents(),
        currency: Some(amount.currency().as_str().to_owned()),
        invoice_id: ids.invoice_id,
        payment_intent_id: ids.payment_intent_id,
        charge_id: ids.charge_id,
        subscription_id: None,
        external_id: external_id.clone(),
        occurred_at: db::now_ms(),
        hints: billing::Hints::default(),
        enrollment_id: Some(enrollment.id.clone()),
        refund_id: None,
        pairing: None,
    };
    let payload = serde_json::to_string(&event)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("serialising a conversion: {e}")))?;
    let event_id = external_id.clone().unwrap_or_else(|| db::new_id("man"));
    let door = Door {
        source: "manual",
        event_id: &event_id,
        event_type: "manual",
        payload: &payload,
    };
    let ingested: Ingested = billing::ingest(db, tracker, writer, &program, &door, &event).await?;
    match (ingested.duplicate, ingested.conversion_id) {
        (true, Some(id)) => Err(duplicate_external_id(id)),
        (false, Some(id)) => {
            let c = get_row(db, vendor_id, &id).await?;
            let commission_cents = ingested.result["commission_cents"].as_i64().unwrap_or(0);
            audit::record(
                db.pool(),
                vendor_id,
                actor,
                "conversion.recorded",
                ("conversion", Some(&id)),
                json!({"amount_cents": c.amount_cents, "external_id": external_id}),
            )
            .await?;
            Ok((c, commission_cents))
        }
        _ => Err(AppError::Internal(anyhow::anyhow!(
            "manual conversion produced no conversion: {}",
            ingested.result
        ))),
    }
}

fn duplicate_external_id(id: String) -> AppError {
    AppError::AlreadyExists {
        field: "external_id",
        message: format!("a conversion with this external_id is already recorded: {id}"),
        id,
    }
}

/// The enrollment a manual conversion credits: by code, or the affiliate's enrollment in
/// `program_id`, else in the default program, else its only enrollment. 404 when the
/// affiliate or code is unknown.
async fn manual_enrollment(
    db: &Db,
    vendor_id: &str,
    input: &ManualInput,
) -> AppResult<db::affiliates::EnrollmentRow> {
    let program_id = input.program_id.as_deref().filter(|s| !s.is_empty());
    if let Some(code) = input.code.as_deref().filter(|s| !s.trim().is_empty()) {
        let code = affiliates::parse_code("code", code)?;
        let t = db::links::resolve_code(db.pool(), &code)
            .await?
            .filter(|t| t.vendor_id == vendor_id)
            .ok_or(AppError::NotFound)?;
        if program_id.is_some_and(|p| p != t.program_id) {
            return Err(AppError::invalid(
                "code",
                "this code belongs to another program",
            ));
        }
        return db::affiliates::enrollment_by_id(db.pool(), vendor_id, &t.enrollment_id)
            .await?
            .ok_or(AppError::NotFound);
    }
    let affiliate_id = input
        .affiliate_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AppError::invalid("affiliate_id", "affiliate_id or code is required"))?;
    let enrollments =
        db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id.trim()).await?;
    if enrollments.is_empty() {
        return Err(AppError::NotFound);
    }
    if let Some(p) = program_id {
        return enrollments
            .into_iter()
            .find(|e| e.program_id == p)
            .ok_or_else(|| {
                AppError::invalid("program_id", "the affiliate is not in this program")
            });
    }
    let default = db::programs::default_for(db.pool(), vendor_id)
        .await?
        .map(|p| p.id);
    let pick = enrollments
        .iter()
        .position(|e| Some(&e.program_id) == default.as_ref())
        .unwrap_or(0);
    enrollments.into_iter().nth(pick).ok_or(AppError::NotFound)
}

/// A commission as API JSON.
pub fn commission_json(c: &CommissionRow) -> Value {
    json!({
        "id": c.id,
        "conversion_id": c.conversion_id,
        "program_id": c.program_id,
        "affiliate_id": c.affiliate_id,
        "level": c.level,
        "amount_cents": c.amount_cents,
        "reversed_cents": c.reversed_cents,
        "net_cents": c.net_cents(),
        "currency": c.currency,
        "bps": c.bps,
        "rule": c.rule,
        "status": c.status,
        "available_at": db::rfc3339(c.available_at),
        "payout_id": c.payout_id,
        "created_at": db::rfc3339(c.created_at),
    })
}

/// What the converting affiliate keeps of a conversion: its level-0 commission, net of
/// refunds (uplines' levels are separate).
pub fn direct_commission_cents(commissions: &[CommissionRow]) -> i64 {
    commissions
        .iter()
        .filter(|m| m.level == 0)
        .map(CommissionRow::net_cents)
        .fold(0, i64::saturating_add)
}

/// A conversion as API JSON, with its commissions.
pub fn conversion_json(c: &ConversionRow, commissions: &[CommissionRow]) -> Value {
    let commission_cents = direct_commission_cents(commissions);
    json!({
        "id": c.id,
        "program_id": c.program_id,
        "affiliate_id": c.affiliate_id,
        "enrollment_id": c.enrollment_id,
        "referral_id": c.referral_id,
        "customer_id": c.customer_id,
        "source": c.source,
        "trigger": c.trigger_type,
        "external_id": c.external_id,
        "invoice_id": c.invoice_id,
        "payment_intent_id": c.payment_intent_id,
        "charge_id": c.charge_id,
        "subscription_id": c.subscription_id,
        "amount_cents": c.amount_cents,
        "refunded_cents": c.refunded_cents,
        "currency": c.currency,
        "commission_cents": commission_cents,
        "status": c.status,
        "reason": c.reason,
        "occurred_at": db::rfc3339(c.occurred_at),
        "available_at": db::rfc3339(c.available_at),
        "decided_at": c.decided_at.map(db::rfc3339),
        "created_at": db::rfc3339(c.created_at),
        "commissions": commissions.iter().map(commission_json).collect::<Vec<_>>(),
    })
}

/// Parses a conversion `?status=` filter.
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    text::choice("status", raw, STATUSES)
}

/// Parses a commission `?status=` filter.
pub fn parse_commission_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    text::choice("status", raw, COMMISSION_STATUSES)
}

/// One page of commissions and the total.
pub async fn commissions(
    db: &Db,
    filter: &db::commissions::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<CommissionRow>, i64)> {
    commissions_between(db, filter, (None, None), limit, offset).await
}

/// One page of the commissions created in `[from, to)` (unix ms, either bound optional)
/// and the total.
pub async fn commissions_between(
    db: &Db,
    filter: &db::commissions::Filter<'_>,
    (from, to): (Option<i64>, Option<i64>),
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<CommissionRow>, i64)> {
    let rows = db::commissions::page_between(db.pool(), filter, from, to, limit, offset).await?;
    let total = db::commissions::count_between(db.pool(), filter, from, to).await?;
    Ok((rows, total))
}

/// When the conversions of these commissions happened (unix ms), by conversion id.
pub async fn converted_at(
    db: &Db,
    vendor_id: &str,
    commissions: &[CommissionRow],
) -> AppResult<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::new();
    for c in commissions {
        if !out.contains_key(&c.conversion_id)
            && let Some(cv) = db::conversions::by_id(db.pool(), vendor_id, &c.conversion_id).await?
        {
            out.insert(cv.id, cv.occurred_at);
        }
    }
    Ok(out)
}

/// One page of conversions, each with its commissions, and the total.
pub async fn page(
    db: &Db,
    filter: &db::conversions::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<(ConversionRow, Vec<CommissionRow>)>, i64)> {
    let rows = db::conversions::page(db.pool(), filter, limit, offset).await?;
    let total = db::conversions::count(db.pool(), filter).await?;
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let commissions = db::commissions::for_conversion(db.pool(), &c.vendor_id, &c.id).await?;
        out.push((c, commissions));
    }
    Ok((out, total))
}

/// One page of conversions as API JSON, and the total.
pub async fn list(
    db: &Db,
    filter: &db::conversions::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Value>, i64)> {
    let (rows, total) = page(db, filter, limit, offset).await?;
    Ok((
        rows.iter().map(|(c, m)| conversion_json(c, m)).collect(),
        total,
    ))
}

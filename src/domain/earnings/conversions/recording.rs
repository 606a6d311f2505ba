//! Recording a conversion: the entry point for payments and binding events, the conversion
//! row, its commissions (direct and the upline ladder) and their ledger lines.

use std::collections::HashSet;

use serde_json::json;

use crate::db::{
    self, Conn,
    commissions::{CommissionRow, NewCommission},
    conversions::{ConversionRow, NewConversion},
    programs::ProgramRow,
};
use crate::domain::earnings::billing::{Kind, Normalized, Processed};
use crate::domain::earnings::commission_rules::{self, Facts};
use crate::domain::earnings::{bonuses, caps, fraud};
use crate::domain::partners::caps::{Caps, GoalBonuses};
use crate::domain::partners::fraud_rules::Action;
use crate::domain::partners::groups::settings;
use crate::domain::partners::terms::{Commission, Rate};
use crate::domain::values::status::{self};
use crate::domain::{earnings::ledger, partners::affiliates};
use crate::error::{AppError, AppResult};

use super::DAY_MS;
use super::attribution::{Earner, attribute, qualifies, refusal};
use super::matching::{PaymentIds, pair, settle};
use super::reads::{commission_json, conversion_json, direct_commission_cents};

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
            // The promotion code is named so a vendor can tell which code (or Stripe
            // promotion code id) to link to an affiliate before replaying the event.
            let mut detail = json!({"customer_id": event.customer_id});
            if let Some(code) = &event.hints.promo_code {
                detail["promo_code"] = json!(code);
            }
            return Ok(Processed::ignored(reason, detail));
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
    let sale = Sale {
        source,
        event,
        ids: &ids,
        earner: &earner,
        currency: &currency,
        click,
    };
    let created = record(conn, program, &sale).await?;
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

/// What [`record`] records: the event, where it came from and who earns.
#[derive(Clone, Copy)]
pub(super) struct Sale<'a> {
    source: &'a str,
    event: &'a Normalized,
    ids: &'a PaymentIds,
    earner: &'a Earner,
    currency: &'a str,
    /// The click the event named (fraud signals compare it with the sale).
    click: Option<&'a db::clicks::ClickRow>,
}

/// Inserts the conversion, its commissions and their ledger lines, then screens it for
/// fraud (same transaction: a retried event finds the conversion and screens nothing).
pub(super) async fn record(
    conn: &mut Conn,
    program: &ProgramRow,
    sale: &Sale<'_>,
) -> AppResult<(ConversionRow, Vec<CommissionRow>)> {
    let Sale {
        source,
        event,
        ids,
        earner,
        currency,
        click,
    } = *sale;
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
    let facts = facts(
        conn,
        &program.id,
        &own_terms.rate,
        &e.affiliate_id,
        event.subscription_id.as_deref(),
        event.amount_cents,
        None,
    )
    .await?;
    let refused = refusal(program, e, &affiliate, event);
    let ancestors = if refused.is_none() {
        uplines(conn, vendor_id, &program.id, &affiliate, &version_terms).await?
    } else {
        Vec::new()
    };
    let (mut earned, mut reason) = commission_rules::conversion_lines(
        &own_terms.rate,
        &version_terms,
        &facts,
        &e.affiliate_id,
        &ancestors,
        refused,
    );
    let (caps, goals) = (
        Caps::from_stored(&program.caps)?,
        GoalBonuses::from_stored(&program.goal_bonuses)?,
    );
    if caps.any() || goals.any() {
        // Held to commit: the totals read below stay true (see `earnings::caps`).
        db::caps::lock_enrollment(&mut *conn, &e.id).await?;
    }
    // Caps cut only the converting affiliate's own line (level 0); upline lines are not
    // capped. A line cut to nothing is left out like any line of zero.
    let mut cut = None;
    if let Some(direct) = earned.iter_mut().find(|l| l.level == 0) {
        let d = &mut direct.earned;
        let sale = caps::Sale {
            affiliate_id: &e.affiliate_id,
            customer_id: event.customer_id.as_deref(),
            occurred_at: event.occurred_at,
            currency: if d.in_program_currency {
                &program.currency
            } else {
                currency
            },
        };
        let (c, capped_out) = caps::cap_direct(conn, program, &caps, &sale, d).await?;
        cut = c;
        reason = reason.or(capped_out);
        earned.retain(|l| l.earned.amount_cents > 0);
    }
    let holding =
        settings::holding_period_days(program, &settings::GroupOverrides::of_enrollment(e));
    let available_at = event.occurred_at + holding * DAY_MS;
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
    let mut conversion = db::conversions::insert(&mut *conn, &new).await?;
    if let Some(c) = &cut {
        db::conversions::set_capped(&mut *conn, &conversion.id, c.cut_cents, c.by).await?;
        conversion.capped_cents = c.cut_cents;
        conversion.capped_by = Some(c.by.to_owned());
    }
    let id = conversion.id.clone();
    let mut commissions = Vec::new();
    for commission_rules::Line {
        level,
        affiliate_id,
        earned: line,
    } in earned
    {
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
    bonuses::award_goals(conn, program, &goals, &conversion).await?;
    let mut events = vec![(
        "conversion.created",
        conversion_json(&conversion, &commissions).to_string(),
    )];
    events.extend(
        commissions
            .iter()
            .map(|m| ("commission.created", commission_json(m).to_string())),
    );
    db::events::insert_all(conn, vendor_id, &events).await?;
    if refused.is_none()
        && fraud::screen(conn, program, &affiliate, event, click, &conversion).await?
            == Some(Action::Reject)
    {
        // Rejected by a rule: answer with what the rejection left.
        conversion = db::conversions::by_id(&mut *conn, vendor_id, &id)
            .await?
            .ok_or(AppError::NotFound)?;
        commissions = db::commissions::for_conversion(&mut *conn, vendor_id, &id).await?;
    }
    Ok((conversion, commissions))
}

/// The point in the history a backtest reads the facts at: a recorded conversion's
/// creation time and id (the facts then were what had been recorded before it).
#[derive(Debug, Clone, Copy)]
pub(super) struct AsOf<'a> {
    /// The conversion's `created_at`, unix ms.
    pub created_at: i64,
    /// The conversion's id (orders conversions created in the same millisecond).
    pub id: &'a str,
}

/// The facts a rate reads for a payment: which payment of its subscription it is (recurring
/// rates) and the affiliate's approved conversions before it (tiered rates). Live ingest
/// reads them now (`as_of` None, before the conversion exists); a backtest reads them as
/// they were when the recorded conversion was made.
pub(super) async fn facts(
    conn: &mut Conn,
    program_id: &str,
    rate: &Rate,
    affiliate_id: &str,
    subscription_id: Option<&str>,
    gross_cents: i64,
    as_of: Option<AsOf<'_>>,
) -> AppResult<Facts> {
    let cycle = match (rate, subscription_id, as_of) {
        (Rate::Recurring { .. }, Some(sub), None) => {
            db::conversions::count_for_subscription(&mut *conn, program_id, sub).await? + 1
        }
        (Rate::Recurring { .. }, Some(sub), Some(at)) => {
            db::backtest::count_for_subscription_before(
                &mut *conn,
                program_id,
                sub,
                at.created_at,
                at.id,
            )
            .await?
                + 1
        }
        _ => 1,
    };
    let prior_approved = match (rate, as_of) {
        (Rate::Tiered { .. }, None) => {
            db::conversions::count_approved(&mut *conn, program_id, affiliate_id).await?
        }
        (Rate::Tiered { .. }, Some(at)) => {
            db::backtest::count_approved_before(&mut *conn, program_id, affiliate_id, at.created_at)
                .await?
        }
        _ => 0,
    };
    Ok(Facts {
        gross_cents,
        cycle,
        prior_approved,
    })
}

/// The active ancestors that earn a level of the ladder: (level, affiliate id). An inactive
/// or unenrolled ancestor's level is skipped (no compression); cycles end the walk.
pub(super) async fn uplines(
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

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
use crate::domain::earnings::{bonuses, caps};
use crate::domain::partners::caps::{Caps, GoalBonuses};
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

/// Inserts the conversion, its commissions and their ledger lines.
pub(super) async fn record(
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
    let mut direct = commission_rules::direct(&own_terms.rate, &facts);
    let (caps, goals) = (
        Caps::from_stored(&program.caps)?,
        GoalBonuses::from_stored(&program.goal_bonuses)?,
    );
    if caps.any() || goals.any() {
        // Held to commit: the totals read below stay true (see `earnings::caps`).
        db::caps::lock_enrollment(&mut *conn, &e.id).await?;
    }
    let (cut, capped_out) = match (refused, direct.as_mut()) {
        (None, Ok(d)) => {
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
            caps::cap_direct(conn, program, &caps, &sale, d).await?
        }
        _ => (None, None),
    };
    let reason = refused
        .map(str::to_owned)
        .or_else(|| direct.clone().err())
        .or(capped_out);
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
    let mut conversion = db::conversions::insert(&mut *conn, &new).await?;
    if let Some(c) = &cut {
        db::conversions::set_capped(&mut *conn, &conversion.id, c.cut_cents, c.by).await?;
        conversion.capped_cents = c.cut_cents;
        conversion.capped_by = Some(c.by.to_owned());
    }
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
    Ok((conversion, commissions))
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

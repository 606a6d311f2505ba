//! Refunds: each counted once under its key; commissions reversed in proportion to the
//! refunded share.

use serde_json::json;

use crate::db::{self, Conn, conversions::ConversionRow, programs::ProgramRow};
use crate::domain::earnings::billing::{Normalized, Processed, RefundAmount};
use crate::domain::earnings::commission_rules;
use crate::domain::earnings::ledger;
use crate::domain::values::status::CommissionStatus;
use crate::error::{AppError, AppResult};

use super::matching::{PaymentIds, pair, settle};
use super::reads::emit_commission_events;

/// Reverses the conversion's commissions in proportion to `refunded` of its amount; returns
/// the amount reversed now.
pub(super) async fn reverse_share(
    conn: &mut Conn,
    vendor_id: &str,
    c: &ConversionRow,
    refunded: i64,
) -> AppResult<i64> {
    let fully = refunded >= c.amount_cents;
    let mut reversed_total = 0;
    let mut reversed = Vec::new();
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
        reversed.push(m.id);
    }
    emit_commission_events(conn, vendor_id, &c.id, "commission.reversed", &reversed).await?;
    Ok(reversed_total)
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
    // A partial refund shows as `commission.reversed` events; the conversion itself is
    // reversed only once the whole sale is refunded.
    if after.status == "reversed" && c.status != "reversed" {
        db::events::insert(
            &mut *conn,
            vendor_id,
            "conversion.reversed",
            &json!({"conversion_id": c.id, "reason": "refunded", "refunded_cents": refunded, "reversed_cents": reversed_total}).to_string(),
        )
        .await?;
    }
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

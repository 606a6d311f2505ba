//! Reading conversions and commissions: lists, one conversion with its commissions, and their
//! JSON (the API's shape and the outgoing events' payload).

use serde_json::{Value, json};

use crate::db::{self, Db, commissions::CommissionRow, conversions::ConversionRow};
use crate::domain::values::text;
use crate::error::AppResult;

use super::lifecycle::get_row;
use super::{COMMISSION_STATUSES, STATUSES};

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

/// Writes a `commission.*` event (the commission's API JSON, as stored now) for each of
/// `ids` among the conversion's commissions, in the caller's transaction.
pub(super) async fn emit_commission_events(
    conn: &mut crate::db::Conn,
    vendor_id: &str,
    conversion_id: &str,
    kind: &str,
    ids: &[String],
) -> crate::error::AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for m in db::commissions::for_conversion(&mut *conn, vendor_id, conversion_id).await? {
        if ids.contains(&m.id) {
            db::events::insert(
                &mut *conn,
                vendor_id,
                kind,
                &commission_json(&m).to_string(),
            )
            .await?;
        }
    }
    Ok(())
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
        "capped": c.capped_by.as_ref().map(|by| json!({"by": by, "cut_cents": c.capped_cents})),
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
    let mut ids: Vec<&str> = commissions
        .iter()
        .map(|c| c.conversion_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(db::conversions::occurred_at_of(db.pool(), vendor_id, &ids)
        .await?
        .into_iter()
        .collect())
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
    // The page's commissions in one statement, not one per conversion.
    let ids: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
    let mut by_conversion: std::collections::HashMap<String, Vec<CommissionRow>> =
        std::collections::HashMap::new();
    for m in db::commissions::for_conversions(db.pool(), filter.vendor_id, &ids).await? {
        by_conversion
            .entry(m.conversion_id.clone())
            .or_default()
            .push(m);
    }
    let out = rows
        .into_iter()
        .map(|c| {
            let commissions = by_conversion.remove(&c.id).unwrap_or_default();
            (c, commissions)
        })
        .collect();
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

//! After recording: maturation at the end of the holding period, approval and rejection.

use serde_json::json;

use crate::db::{self, Conn, Db, conversions::ConversionRow};
use crate::domain::partners::groups;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::status::CommissionStatus;
use crate::domain::{earnings::ledger, values::text};
use crate::error::{AppError, AppResult};

use super::reads::emit_commission_events;

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
            if !db::conversions::transition(&mut tx, &c.id, "pending", "approved", None).await? {
                continue;
            }
            release_commissions(&mut tx, &c, "maturation", None).await?;
            promote_on_approval(&mut tx, &c, now).await?;
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

/// Applies the program's promotion rules to the converting affiliate, in the approving
/// transaction, so this approval counts and a move commits with it.
async fn promote_on_approval(conn: &mut Conn, c: &ConversionRow, now: i64) -> AppResult<()> {
    groups::promotion::on_approval(conn, &c.vendor_id, &c.program_id, &c.affiliate_id, now).await?;
    Ok(())
}

/// Moves the pending commissions of a conversion to available.
async fn release_commissions(
    conn: &mut Conn,
    c: &ConversionRow,
    kind: &str,
    at: Option<i64>,
) -> AppResult<()> {
    let mut released = Vec::new();
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
            released.push(m.id);
        }
    }
    emit_commission_events(conn, &c.vendor_id, &c.id, "commission.approved", &released).await
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
    // The hold rule (see `db::conversions::due`): a held conversion is decided in the review.
    if db::fraud_reviews::is_held(&mut *tx, id).await? {
        return Err(AppError::wrong_state(
            "this conversion is held for fraud review: approve or reject its review item",
        ));
    }
    if !db::conversions::transition(&mut tx, id, "pending", "approved", None).await? {
        return Err(AppError::wrong_state(format!(
            "only a pending conversion can be approved; this one is {}",
            c.status
        )));
    }
    release_commissions(&mut tx, &c, "approval", Some(db::now_ms())).await?;
    promote_on_approval(&mut tx, &c, db::now_ms()).await?;
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
    reject_in(&mut tx, &c, &reason, actor).await?;
    tx.commit().await?;
    get_row(db, vendor_id, id).await
}

/// The rejection path inside the caller's transaction (a vendor's rejection, a fraud rule,
/// a fraud review's decision): the conversion moves from pending to rejected, its pending
/// commissions are taken back in the ledger; audited and announced.
pub async fn reject_in(
    conn: &mut Conn,
    c: &ConversionRow,
    reason: &str,
    actor: &Actor,
) -> AppResult<()> {
    let (vendor_id, id) = (c.vendor_id.as_str(), c.id.as_str());
    if !db::conversions::transition(&mut *conn, id, "pending", "rejected", Some(reason)).await? {
        return Err(AppError::wrong_state(format!(
            "only a pending conversion can be rejected; this one is {}",
            c.status
        )));
    }
    let mut taken_back = Vec::new();
    for m in db::commissions::for_conversion(&mut *conn, vendor_id, id).await? {
        if CommissionStatus::Pending.is(&m.status)
            && db::commissions::transition(&mut *conn, &m.id, "pending", "rejected").await?
        {
            ledger::rejected(conn, vendor_id, &m).await?;
            taken_back.push(m.id);
        }
    }
    emit_commission_events(conn, vendor_id, id, "commission.reversed", &taken_back).await?;
    // A rejected conversion leaves the fraud review queue, however it was rejected.
    db::fraud_reviews::close_for_conversion(&mut *conn, id, &actor.label()).await?;
    audit::record(
        &mut *conn,
        vendor_id,
        actor,
        "conversion.rejected",
        ("conversion", Some(id)),
        json!({"reason": reason}),
    )
    .await?;
    db::events::insert(
        &mut *conn,
        vendor_id,
        "conversion.rejected",
        &json!({"conversion_id": id, "reason": reason}).to_string(),
    )
    .await?;
    Ok(())
}

pub(super) async fn get_row(db: &Db, vendor_id: &str, id: &str) -> AppResult<ConversionRow> {
    db::conversions::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

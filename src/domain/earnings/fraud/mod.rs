//! Fraud review: the signals on each sale (see [`signals`]), what a program's rules do with
//! them, and the review queue where held and flagged sales wait for a person.
//!
//! Screening runs inside the transaction that records the conversion (every provider door
//! goes through `conversions::recording`), and a conversion has at most one review item
//! (a unique key), so a retried billing event never makes a second. The rule's action:
//!
//! - `flag`: a pending review item; the conversion is paid as usual.
//! - `hold`: a pending review item; the conversion does not mature, and cannot be approved
//!   by hand, until the item is approved (`db::fraud_reviews::is_held` and the same
//!   condition in `db::conversions::due` are the one rule). Approving releases it to its
//!   normal holding period; rejecting rejects the conversion.
//! - `reject`: the conversion is rejected at once through the rejection path (its
//!   commissions reversed in the ledger); the item is recorded already decided.
//!
//! When several signals fire the strongest action wins. Affiliates see a held sale as
//! "under review" and never which rule fired.

pub mod signals;

use serde_json::{Value, json};

use crate::db::{
    self, Conn, Db,
    affiliates::AffiliateRow,
    clicks::ClickRow,
    conversions::ConversionRow,
    fraud_reviews::{Filter, NewReview, ReviewRow},
    programs::ProgramRow,
};
use crate::domain::earnings::billing::Normalized;
use crate::domain::earnings::conversions;
use crate::domain::partners::fraud_rules::{Action, FraudRules};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// Review statuses a list can be filtered by.
pub const STATUSES: [&str; 3] = ["pending", "approved", "rejected"];

/// Screens a conversion just recorded (in its transaction): runs the program's rules and,
/// when a signal fires, writes the review item and applies the strongest action. Returns
/// that action (`None`: nothing fired, or the conversion has its item already).
pub async fn screen(
    conn: &mut Conn,
    program: &ProgramRow,
    affiliate: &AffiliateRow,
    event: &Normalized,
    click: Option<&ClickRow>,
    conversion: &ConversionRow,
) -> AppResult<Option<Action>> {
    let rules = FraudRules::from_stored(&program.fraud_rules)?;
    if !rules.any() || conversion.status != "pending" {
        return Ok(None);
    }
    let sale = signals::Sale {
        program,
        affiliate,
        event,
        click,
    };
    let fired = signals::detect(conn, &rules, &sale).await?;
    let Some(action) = fired.iter().map(|s| s.action).max() else {
        return Ok(None);
    };
    let evidence: Vec<Value> = fired
        .iter()
        .map(|s| json!({"rule": s.rule, "action": s.action.as_str(), "evidence": s.evidence}))
        .collect();
    let signals_json = Value::from(evidence.clone()).to_string();
    let Some(review) = db::fraud_reviews::insert(
        &mut *conn,
        &NewReview {
            vendor_id: &program.vendor_id,
            program_id: &program.id,
            conversion_id: &conversion.id,
            affiliate_id: &conversion.affiliate_id,
            action: action.as_str(),
            signals: &signals_json,
            status: if action == Action::Reject {
                "rejected"
            } else {
                "pending"
            },
        },
    )
    .await?
    else {
        return Ok(None);
    };
    db::events::insert(
        &mut *conn,
        &program.vendor_id,
        "conversion.flagged",
        &json!({"conversion_id": conversion.id, "review_id": review.id,
                "action": action.as_str(), "signals": evidence})
        .to_string(),
    )
    .await?;
    if action == Action::Reject {
        let rules: Vec<&str> = fired
            .iter()
            .filter(|s| s.action == Action::Reject)
            .map(|s| s.rule)
            .collect();
        let reason = format!("rejected by fraud rule: {}", rules.join(", "));
        conversions::reject_in(conn, conversion, &reason, &Actor::System).await?;
    }
    Ok(Some(action))
}

/// A review item with the sale it is about.
#[derive(Debug, Clone)]
pub struct Review {
    /// The stored item.
    pub row: ReviewRow,
    /// Its conversion.
    pub conversion: ConversionRow,
}

impl Review {
    /// The signals that fired: `{rule, action, evidence}`.
    pub fn signals(&self) -> Vec<Value> {
        serde_json::from_str::<Vec<Value>>(&self.row.signals).unwrap_or_default()
    }

    /// The API's JSON.
    pub fn to_json(&self) -> Value {
        let r = &self.row;
        json!({
            "id": r.id,
            "program_id": r.program_id,
            "conversion_id": r.conversion_id,
            "affiliate_id": r.affiliate_id,
            "action": r.action,
            "status": r.status,
            "signals": self.signals(),
            "amount_cents": self.conversion.amount_cents,
            "currency": self.conversion.currency,
            "conversion_status": self.conversion.status,
            "decided_by": r.decided_by,
            "decided_at": r.decided_at.map(db::rfc3339),
            "note": r.note,
            "created_at": db::rfc3339(r.created_at),
            "updated_at": db::rfc3339(r.updated_at),
        })
    }
}

async fn with_conversion(conn: &mut Conn, row: ReviewRow) -> AppResult<Review> {
    let conversion = db::conversions::by_id(&mut *conn, &row.vendor_id, &row.conversion_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Review { row, conversion })
}

/// Reads a status filter (`None` or empty: every status).
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => STATUSES
            .iter()
            .find(|x| **x == s)
            .map(|x| Some(*x))
            .ok_or_else(|| {
                AppError::invalid(
                    "status",
                    "status must be one of: pending, approved, rejected",
                )
            }),
    }
}

/// One page of a vendor's review items (oldest first) and how many match.
pub async fn list(
    db: &Db,
    filter: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Review>, i64)> {
    let mut conn = db.pool().acquire().await?;
    let rows = db::fraud_reviews::page(&mut *conn, filter, limit, offset).await?;
    let total = db::fraud_reviews::count(&mut *conn, filter).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(with_conversion(&mut conn, row).await?);
    }
    Ok((out, total))
}

/// How many items wait for a decision (the dashboard's badge).
pub async fn pending_count(db: &Db, vendor_id: &str) -> AppResult<i64> {
    Ok(db::fraud_reviews::count(
        db.pool(),
        &Filter {
            vendor_id,
            status: Some("pending"),
            program_id: None,
        },
    )
    .await?)
}

/// One review item of the vendor; another vendor's is 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Review> {
    let mut conn = db.pool().acquire().await?;
    let row = db::fraud_reviews::by_id(&mut *conn, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    with_conversion(&mut conn, row).await
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The sale is fine: a held conversion goes back to its holding period.
    Approve,
    /// The sale is fraud: the conversion is rejected (commissions reversed).
    Reject,
}

/// Decides a pending review item; audited. 409 when it was decided already, or when
/// rejecting a conversion that is no longer pending (it matured or was refunded).
pub async fn decide(
    db: &Db,
    vendor_id: &str,
    id: &str,
    decision: Decision,
    note: Option<&str>,
    actor: &Actor,
) -> AppResult<Review> {
    let note = text::optional("note", note, 500)?;
    let mut tx = db.begin().await?;
    let row = db::fraud_reviews::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.status != "pending" {
        return Err(AppError::wrong_state(format!(
            "this review was decided already: {}",
            row.status
        )));
    }
    let review = with_conversion(&mut tx, row).await?;
    let (status, event) = match decision {
        Decision::Approve => ("approved", "fraud_review.approved"),
        Decision::Reject => ("rejected", "fraud_review.rejected"),
    };
    if decision == Decision::Reject && review.conversion.status != "pending" {
        return Err(AppError::wrong_state(format!(
            "the conversion is {} already; only a pending conversion can be rejected here \
             (a paid one is taken back by a refund)",
            review.conversion.status
        )));
    }
    if !db::fraud_reviews::decide(
        &mut *tx,
        vendor_id,
        id,
        status,
        &actor.label(),
        note.as_deref(),
    )
    .await?
    {
        return Err(AppError::wrong_state("this review was decided already"));
    }
    if decision == Decision::Reject {
        let reason = note
            .clone()
            .unwrap_or_else(|| "rejected in fraud review".into());
        conversions::reject_in(&mut tx, &review.conversion, &reason, actor).await?;
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        event,
        ("fraud_review", Some(id)),
        json!({"conversion_id": review.row.conversion_id, "action": review.row.action,
               "note": note}),
    )
    .await?;
    tx.commit().await?;
    get(db, vendor_id, id).await
}

/// The conversions of an affiliate held for review (shown to it as "under review").
pub async fn held_for(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Vec<String>> {
    Ok(db::fraud_reviews::held_conversions(db.pool(), vendor_id, affiliate_id).await?)
}

//! Referrals: binding a referred customer to an enrollment, the attribution rules
//! (first/last touch within the window, self-referral, accepted deals) in one place.
//!
//! Which touch counts:
//! 1. `aff_sess` — a stored click (its time is the touch time);
//! 2. else `code` — a touch now;
//! 3. else (or when neither attributes) an accepted, not yet converted deal for `email`.
//!
//! A customer is bound at most once per program. With first-touch the first binding stays;
//! with last-touch a later touch of another enrollment moves it. Reporting the same
//! customer again is idempotent.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Db, referrals::Binding, referrals::ReferralRow};
use crate::domain::affiliates;
use crate::domain::tracking::{Tracker, is_click_id, track::stored_click};
use crate::domain::{Email, text};
use crate::error::{AppError, AppResult};

/// Longest customer id.
const CUSTOMER_ID_MAX: usize = 200;
const DAY_MS: i64 = 86_400_000;

/// The request body of `POST /api/v1/referrals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralInput {
    /// The vendor's id of the customer (e.g. Stripe `cus_...`).
    pub customer_id: String,
    /// The customer's email (self-referral check, deal matching).
    pub email: Option<String>,
    /// The click id kept by the tracking snippet.
    pub aff_sess: Option<String>,
    /// The referral code, when no click id is known.
    pub code: Option<String>,
}

/// What happened to the binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new binding.
    Created,
    /// The same binding was reported again.
    Unchanged,
    /// First touch: the customer stays with the earlier enrollment.
    KeptFirstTouch,
    /// Last touch: the customer moved to the newer touch's enrollment.
    Moved,
    /// Nothing bound; see the reason.
    NotAttributed,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct Attribution {
    /// Whether the customer is (now) bound to an affiliate in the touch's program.
    pub attributed: bool,
    /// What happened.
    pub outcome: Outcome,
    /// Why nothing was bound: `unknown_click`, `unknown_code`, `outside_window`,
    /// `self_referral`, `affiliate_inactive`, `program_inactive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The binding, when there is one (see [`referral_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<serde_json::Value>,
}

impl Attribution {
    fn refused(reason: &'static str) -> Self {
        Self {
            attributed: false,
            outcome: Outcome::NotAttributed,
            reason: Some(reason),
            referral: None,
        }
    }
}

/// One candidate touch.
#[derive(Debug, Clone)]
struct Touch {
    enrollment_code: String,
    click_id: Option<String>,
    at: i64,
    source: &'static str,
    deal_id: Option<String>,
}

/// Binds a customer per the program's attribution rules.
pub async fn bind(
    tracker: &Tracker,
    db: &Db,
    vendor_id: &str,
    input: &ReferralInput,
) -> AppResult<Attribution> {
    let customer_id = text::required("customer_id", &input.customer_id, CUSTOMER_ID_MAX)?;
    let email = input
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| Email::parse("email", e))
        .transpose()?;
    let aff_sess = input.aff_sess.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = aff_sess
        && !is_click_id(s)
    {
        return Err(AppError::invalid("aff_sess", "aff_sess is not a click id"));
    }
    let code = match input.code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(affiliates::parse_code("code", c)?),
        None => None,
    };
    if aff_sess.is_none() && code.is_none() && email.is_none() {
        return Err(AppError::invalid(
            "aff_sess",
            "give aff_sess or code (or the email of an accepted deal)",
        ));
    }
    let now = db::now_ms();

    // The explicit touch first; the reason it failed is reported if no deal applies.
    let mut refusal = None;
    if let Some(click_id) = aff_sess {
        match stored_click(tracker, db, vendor_id, click_id).await? {
            Some(c) => {
                let touch = Touch {
                    enrollment_code: c.code,
                    click_id: Some(c.id),
                    at: c.created_at,
                    source: "click",
                    deal_id: None,
                };
                match attempt(db, vendor_id, &customer_id, email.as_ref(), &touch, now).await? {
                    Ok(a) => return Ok(a),
                    Err(reason) => refusal = Some(reason),
                }
            }
            None if code.is_none() => refusal = Some("unknown_click"),
            None => {}
        }
    }
    if refusal.is_none()
        && let Some(code) = &code
    {
        let touch = Touch {
            enrollment_code: code.clone(),
            click_id: None,
            at: now,
            source: "code",
            deal_id: None,
        };
        match attempt(db, vendor_id, &customer_id, email.as_ref(), &touch, now).await? {
            Ok(a) => return Ok(a),
            Err(reason) => refusal = Some(reason),
        }
    }
    if let Some(email) = &email
        && let Some(deal) =
            db::deals::open_accepted_for_email(db.pool(), vendor_id, email.as_str()).await?
    {
        let code = enrollment_code(db, vendor_id, &deal.enrollment_id).await?;
        let touch = Touch {
            enrollment_code: code,
            click_id: None,
            at: now,
            source: "deal",
            deal_id: Some(deal.id),
        };
        match attempt(db, vendor_id, &customer_id, Some(email), &touch, now).await? {
            Ok(a) => return Ok(a),
            Err(reason) => refusal = refusal.or(Some(reason)),
        }
    }
    Ok(Attribution::refused(refusal.unwrap_or("no_touch")))
}

async fn enrollment_code(db: &Db, vendor_id: &str, enrollment_id: &str) -> AppResult<String> {
    db::links::enrollment_code(db.pool(), vendor_id, enrollment_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Applies the rules to one touch: `Err(reason)` when it cannot attribute.
async fn attempt(
    db: &Db,
    vendor_id: &str,
    customer_id: &str,
    email: Option<&Email>,
    touch: &Touch,
    now: i64,
) -> AppResult<Result<Attribution, &'static str>> {
    let Some(t) = db::links::resolve_code(db.pool(), &touch.enrollment_code).await? else {
        return Ok(Err("unknown_code"));
    };
    if t.vendor_id != vendor_id {
        return Ok(Err("unknown_code"));
    }
    if matches!(t.enrollment_status.as_str(), "banned" | "deactivated") {
        return Ok(Err("affiliate_inactive"));
    }
    if t.program_status != "active" {
        return Ok(Err("program_inactive"));
    }
    let program = db::programs::by_id(db.pool(), vendor_id, &t.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if now - touch.at > program.attribution_window_days * DAY_MS {
        return Ok(Err("outside_window"));
    }
    if program.allow_self_referral == 0 {
        let affiliate = db::affiliates::by_id(db.pool(), vendor_id, &t.affiliate_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let same_email = email.is_some_and(|e| e.as_str().eq_ignore_ascii_case(&affiliate.email));
        let same_customer = affiliate.customer_id.as_deref() == Some(customer_id);
        if same_email || same_customer {
            return Ok(Err("self_referral"));
        }
    }
    let binding = Binding {
        vendor_id,
        program_id: &t.program_id,
        enrollment_id: &t.enrollment_id,
        affiliate_id: &t.affiliate_id,
        customer_id,
        email: email.map(Email::as_str),
        click_id: touch.click_id.as_deref(),
        code: &touch.enrollment_code,
        source: touch.source,
        touched_at: touch.at,
    };
    let first_touch = program.attribution_model == "first_touch";
    let mut tx = db.begin().await?;
    let existing =
        db::referrals::by_customer(&mut *tx, vendor_id, &t.program_id, customer_id).await?;
    let outcome = match existing {
        None => match db::referrals::insert(&mut *tx, &binding).await? {
            Some(id) => {
                if let Some(deal) = &touch.deal_id {
                    db::deals::set_referral(&mut *tx, vendor_id, deal, &id).await?;
                }
                (id, Outcome::Created)
            }
            // Lost a race with a concurrent report; that one's binding stands.
            None => {
                let r = db::referrals::by_customer(&mut *tx, vendor_id, &t.program_id, customer_id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                (r.id, Outcome::Unchanged)
            }
        },
        Some(r) if r.enrollment_id == t.enrollment_id => (r.id, Outcome::Unchanged),
        Some(r) if first_touch => (r.id, Outcome::KeptFirstTouch),
        Some(r) => {
            if db::referrals::rebind(&mut *tx, &r.id, &binding).await? {
                if let Some(deal) = &touch.deal_id {
                    db::deals::set_referral(&mut *tx, vendor_id, deal, &r.id).await?;
                }
                (r.id, Outcome::Moved)
            } else {
                // The stored touch is newer than this one: last touch already holds.
                (r.id, Outcome::Unchanged)
            }
        }
    };
    let referral = db::referrals::by_id(&mut *tx, vendor_id, &outcome.0)
        .await?
        .ok_or(AppError::NotFound)?;
    let event = match outcome.1 {
        Outcome::Created => Some("referral.created"),
        Outcome::Moved => Some("referral.moved"),
        _ => None,
    };
    if let Some(kind) = event {
        db::events::insert(
            &mut *tx,
            vendor_id,
            kind,
            &referral_json(&referral).to_string(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(Attribution {
        attributed: true,
        outcome: outcome.1,
        reason: None,
        referral: Some(referral_json(&referral)),
    }))
}

/// A referral as JSON (API responses and event payloads).
pub fn referral_json(r: &ReferralRow) -> serde_json::Value {
    json!({
        "id": r.id,
        "program_id": r.program_id,
        "affiliate_id": r.affiliate_id,
        "customer_id": r.customer_id,
        "email": r.email,
        "code": r.code,
        "click_id": r.click_id,
        "source": r.source,
        "touched_at": db::rfc3339(r.touched_at),
        "created_at": db::rfc3339(r.created_at),
        "updated_at": db::rfc3339(r.updated_at),
    })
}

/// One page of referrals (as JSON) and the total.
pub async fn list(
    db: &Db,
    filter: &db::referrals::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<serde_json::Value>, i64)> {
    let total = db::referrals::count(db.pool(), filter).await?;
    let rows = db::referrals::page(db.pool(), filter, limit, offset).await?;
    Ok((rows.iter().map(referral_json).collect(), total))
}

/// One referral of the vendor (as JSON).
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<serde_json::Value> {
    db::referrals::by_id(db.pool(), vendor_id, id)
        .await?
        .map(|r| referral_json(&r))
        .ok_or(AppError::NotFound)
}

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
use crate::domain::attribution::tracking::{Tracker, is_click_id, track::stored_click};
use crate::domain::partners::affiliates;
use crate::domain::values::status;
use crate::domain::{values::Email, values::text};
use crate::error::{AppError, AppResult};

/// Longest customer id.
const CUSTOMER_ID_MAX: usize = 200;
const DAY_MS: i64 = 86_400_000;

/// The request body of `POST /api/v1/referrals`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// One candidate touch: a stored click, a code used now, or an accepted deal.
#[derive(Debug, Clone)]
pub struct Touch {
    enrollment_code: String,
    click_id: Option<String>,
    at: i64,
    source: &'static str,
    deal_id: Option<String>,
}

impl Touch {
    /// A stored click (its time is the touch time).
    pub fn click(c: &db::clicks::ClickRow) -> Self {
        Self {
            enrollment_code: c.code.clone(),
            click_id: Some(c.id.clone()),
            at: c.created_at,
            source: "click",
            deal_id: None,
        }
    }

    /// A referral code used at `now` (normalised, lower case).
    pub fn code(code: &str, now: i64) -> Self {
        Self {
            enrollment_code: code.to_owned(),
            click_id: None,
            at: now,
            source: "code",
            deal_id: None,
        }
    }

    /// A promotion code named by a sale at `now`: a touch of the code's enrollment
    /// (`enrollment_code`, its referral code) at sale time.
    pub fn promo_code(enrollment_code: &str, now: i64) -> Self {
        Self {
            source: "promo_code",
            ..Self::code(enrollment_code, now)
        }
    }
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
    // Before the transaction: finding a click may wait for the click writer, which needs the
    // (SQLite) write lock a transaction would hold.
    let click = match aff_sess {
        Some(id) => stored_click(tracker, db, vendor_id, id).await?,
        None => None,
    };

    let mut tx = db.begin().await?;
    let email = email.as_ref();
    // The explicit touch first; the reason it failed is reported if no deal applies.
    let mut refusal = None;
    if let Some(c) = &click {
        match bind_in(
            &mut tx,
            vendor_id,
            None,
            &customer_id,
            email,
            &Touch::click(c),
            now,
        )
        .await?
        {
            Ok(done) => return finish(tx, done).await,
            Err(reason) => refusal = Some(reason),
        }
    } else if aff_sess.is_some() && code.is_none() {
        refusal = Some("unknown_click");
    }
    if refusal.is_none()
        && let Some(code) = &code
    {
        match bind_in(
            &mut tx,
            vendor_id,
            None,
            &customer_id,
            email,
            &Touch::code(code, now),
            now,
        )
        .await?
        {
            Ok(done) => return finish(tx, done).await,
            Err(reason) => refusal = Some(reason),
        }
    }
    if let Some(email) = email
        && let Some(deal) =
            db::deals::open_accepted_for_email(&mut *tx, vendor_id, email.as_str()).await?
    {
        let code = db::links::enrollment_code(&mut *tx, vendor_id, &deal.enrollment_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let touch = Touch {
            enrollment_code: code,
            click_id: None,
            at: now,
            source: "deal",
            deal_id: Some(deal.id),
        };
        match bind_in(
            &mut tx,
            vendor_id,
            None,
            &customer_id,
            Some(email),
            &touch,
            now,
        )
        .await?
        {
            Ok(done) => return finish(tx, done).await,
            Err(reason) => refusal = refusal.or(Some(reason)),
        }
    }
    Ok(Attribution::refused(refusal.unwrap_or("no_touch")))
}

async fn finish(
    tx: db::Tx,
    Bound {
        referral, outcome, ..
    }: Bound,
) -> AppResult<Attribution> {
    tx.commit().await?;
    Ok(Attribution {
        attributed: true,
        outcome,
        reason: None,
        referral: Some(referral_json(&referral)),
    })
}

/// A touch that may attribute: what its code resolved to.
#[derive(Debug)]
pub struct Checked {
    /// The code's enrollment and program.
    pub target: db::links::CodeTarget,
    /// The program.
    pub program: db::programs::ProgramRow,
    /// The enrollment's affiliate.
    pub affiliate: db::affiliates::AffiliateRow,
}

/// A customer bound by [`bind_in`].
#[derive(Debug)]
pub struct Bound {
    /// The binding as stored.
    pub referral: ReferralRow,
    /// What changed.
    pub outcome: Outcome,
    /// The affiliate it attributes to.
    pub affiliate: db::affiliates::AffiliateRow,
}

/// Whether a touch may attribute `customer_id` (or an anonymous payment when `None`) now:
/// the code's enrollment and program are active, the touch is inside the program's window,
/// and it is not a self-referral (unless allowed). `Err(reason)` when it may not. `known` is
/// a program the caller has loaded already, used when the code is of that program.
pub async fn check_touch(
    conn: &mut db::Conn,
    vendor_id: &str,
    known: Option<&db::programs::ProgramRow>,
    customer_id: Option<&str>,
    email: Option<&Email>,
    touch: &Touch,
    now: i64,
) -> AppResult<Result<Checked, &'static str>> {
    let Some(t) = db::links::resolve_code(&mut *conn, &touch.enrollment_code).await? else {
        return Ok(Err("unknown_code"));
    };
    if t.vendor_id != vendor_id {
        return Ok(Err("unknown_code"));
    }
    if matches!(t.enrollment_status.as_str(), "banned" | "deactivated") {
        return Ok(Err("affiliate_inactive"));
    }
    if !status::program_is_open(&t.program_status) {
        return Ok(Err("program_inactive"));
    }
    let program = match known {
        Some(p) if p.id == t.program_id && p.vendor_id == vendor_id => p.clone(),
        _ => db::programs::by_id(&mut *conn, vendor_id, &t.program_id)
            .await?
            .ok_or(AppError::NotFound)?,
    };
    if now - touch.at > program.attribution_window_days * DAY_MS {
        return Ok(Err("outside_window"));
    }
    let affiliate = db::affiliates::by_id(&mut *conn, vendor_id, &t.affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if program.allow_self_referral == 0
        && affiliates::is_self_referral(&affiliate, customer_id, email.map(Email::as_str))
    {
        return Ok(Err("self_referral"));
    }
    Ok(Ok(Checked {
        target: t,
        program,
        affiliate,
    }))
}

/// Applies the rules to one touch in the caller's transaction and binds the customer:
/// `Err(reason)` when the touch cannot attribute. With first touch an existing binding
/// stays; with last touch a newer touch moves it. `known` as in [`check_touch`].
pub async fn bind_in(
    conn: &mut db::Conn,
    vendor_id: &str,
    known: Option<&db::programs::ProgramRow>,
    customer_id: &str,
    email: Option<&Email>,
    touch: &Touch,
    now: i64,
) -> AppResult<Result<Bound, &'static str>> {
    let Checked {
        target: t,
        program,
        affiliate,
    } = match check_touch(conn, vendor_id, known, Some(customer_id), email, touch, now).await? {
        Ok(found) => found,
        Err(reason) => return Ok(Err(reason)),
    };
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
    let existing =
        db::referrals::by_customer(&mut *conn, vendor_id, &t.program_id, customer_id).await?;
    // A binding that stays is answered with the row already read, a new one with the row
    // the insert returned; a moved one is read back as stored.
    enum Row {
        Read(Box<ReferralRow>),
        Written(String),
    }
    let (row, outcome) = match existing {
        None => match db::referrals::insert(&mut *conn, &binding).await? {
            Some(r) => {
                if let Some(deal) = &touch.deal_id {
                    db::deals::set_referral(&mut *conn, vendor_id, deal, &r.id).await?;
                }
                (Row::Read(Box::new(r)), Outcome::Created)
            }
            // Lost a race with a concurrent report; that one's binding stands.
            None => {
                let r =
                    db::referrals::by_customer(&mut *conn, vendor_id, &t.program_id, customer_id)
                        .await?
                        .ok_or(AppError::NotFound)?;
                (Row::Read(Box::new(r)), Outcome::Unchanged)
            }
        },
        Some(r) if r.enrollment_id == t.enrollment_id => {
            (Row::Read(Box::new(r)), Outcome::Unchanged)
        }
        Some(r) if first_touch => (Row::Read(Box::new(r)), Outcome::KeptFirstTouch),
        Some(r) => {
            if db::referrals::rebind(&mut *conn, &r.id, &binding).await? {
                if let Some(deal) = &touch.deal_id {
                    db::deals::set_referral(&mut *conn, vendor_id, deal, &r.id).await?;
                }
                (Row::Written(r.id), Outcome::Moved)
            } else {
                // The stored touch is newer than this one: last touch already holds.
                (Row::Read(Box::new(r)), Outcome::Unchanged)
            }
        }
    };
    let referral = match row {
        Row::Read(r) => *r,
        Row::Written(id) => db::referrals::by_id(&mut *conn, vendor_id, &id)
            .await?
            .ok_or(AppError::NotFound)?,
    };
    let event = match outcome {
        Outcome::Created => Some("referral.created"),
        Outcome::Moved => Some("referral.moved"),
        _ => None,
    };
    if let Some(kind) = event {
        db::events::insert(
            &mut *conn,
            vendor_id,
            kind,
            &referral_json(&referral).to_string(),
        )
        .await?;
    }
    Ok(Ok(Bound {
        referral,
        outcome,
        affiliate,
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

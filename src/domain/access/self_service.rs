//! What an affiliate reads about itself through the self-service API (`/api/v1/me`):
//! profile, programs with their referral links, and payout settings. Every function takes
//! the affiliate from the caller's credential; none can reach another affiliate.

use serde_json::{Value, json};

use crate::db::{self, Db, affiliates::EnrollmentRow};
use crate::domain::attribution::links::portal_domain;
use crate::domain::attribution::promo_codes;
use crate::domain::partners::affiliates::{self, effective_commission};
use crate::domain::partners::payout_settings::{self, PayoutInput, PayoutSettings};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::mail::Sender;
use crate::domain::{attribution::tracking, partners::programs};
use crate::error::{AppError, AppResult};

/// The affiliate's profile and the vendor it belongs to.
pub async fn profile(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Value> {
    let a = affiliates::get(db, vendor_id, affiliate_id).await?;
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(json!({
        "id": a.row.id,
        "email": a.row.email,
        "name": a.row.name,
        "company": a.row.company,
        "website": a.row.website,
        "status": a.row.status,
        "vendor": {"id": vendor.id, "name": vendor.display_name()},
        "created_at": db::rfc3339(a.row.created_at),
    }))
}

fn enrollment_json(
    e: &EnrollmentRow,
    program: Option<&programs::Program>,
    base_url: &str,
    domain: Option<&str>,
) -> AppResult<Value> {
    let (commission, overridden) = effective_commission(e)?;
    Ok(json!({
        "program_id": e.program_id,
        "program_name": e.program_name,
        "status": e.status,
        "code": e.code,
        "referral_url": tracking::referral_url(base_url, domain, &e.code, None),
        "commission": commission,
        // A program always exists for an enrollment; its currency sets the decimals.
        "commission_description": commission.describe(program.map_or("", |p| p.row.currency.as_str())),
        "commission_is_override": overridden,
        "currency": program.map(|p| p.row.currency.clone()),
        "cookie_duration_days": program.map(|p| p.row.cookie_duration_days),
        "holding_period_days": program.map(|p| p.row.holding_period_days),
        "min_payout_cents": program.map(|p| p.row.min_payout_cents),
        "joined_at": db::rfc3339(e.created_at),
    }))
}

/// The programs the affiliate is enrolled in, with code, referral URL and the commission
/// it earns (its override when it has one).
pub async fn programs(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<Vec<Value>> {
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id).await?;
    let domain = portal_domain(db, vendor_id).await?;
    let mut out = Vec::with_capacity(enrollments.len());
    for e in &enrollments {
        let program = programs::get(db, vendor_id, &e.program_id).await.ok();
        out.push(enrollment_json(
            e,
            program.as_ref(),
            base_url,
            domain.as_deref(),
        )?);
    }
    Ok(out)
}

/// The code and referral link for one program: `program_id`, or the only enrollment when
/// omitted (422 when there are several, or when not enrolled in that program).
pub async fn referral(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
) -> AppResult<Value> {
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id).await?;
    let e = match program_id {
        Some(p) => enrollments
            .iter()
            .find(|e| e.program_id == p)
            .ok_or_else(|| {
                AppError::invalid("program_id", "you are not enrolled in this program")
            })?,
        None if enrollments.len() == 1 => &enrollments[0],
        None if enrollments.is_empty() => {
            return Err(AppError::wrong_state("you are not enrolled in any program"));
        }
        None => {
            return Err(AppError::invalid(
                "program_id",
                "you are enrolled in several programs: say which with program_id",
            ));
        }
    };
    let domain = portal_domain(db, vendor_id).await?;
    let program = programs::get(db, vendor_id, &e.program_id).await.ok();
    let mut v = enrollment_json(e, program.as_ref(), base_url, domain.as_deref())?;
    // The enrollment's active promo codes, shared beside the link (podcasts, videos).
    let codes: Vec<String> = promo_codes::list_unchecked(db, vendor_id, affiliate_id)
        .await?
        .into_iter()
        .filter(|c| c.active && c.enrollment_id == e.id)
        .map(|c| c.code)
        .collect();
    v["promo_codes"] = json!(codes);
    Ok(v)
}

/// The affiliate's payout settings, as they see them (their own: not masked).
pub async fn payout_settings(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Value> {
    let row = db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(payout_settings_json(&PayoutSettings::of(&row)))
}

/// Changes the affiliate's own payout settings (validated per method, audited as the
/// affiliate, confirmed by email) and returns them.
pub async fn set_payout_settings(
    db: &Db,
    sender: &Sender,
    vendor_id: &str,
    affiliate_id: &str,
    input: &PayoutInput,
) -> AppResult<Value> {
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = payout_settings::update(
        db,
        sender,
        &vendor,
        affiliate_id,
        input,
        &Actor::Affiliate(affiliate_id.to_owned()),
    )
    .await?;
    Ok(payout_settings_json(&PayoutSettings::of(&row)))
}

fn payout_settings_json(s: &PayoutSettings) -> Value {
    json!({
        "payout_method": s.method,
        "payout_email": s.email,
        "payout_details": s.details,
        "stripe_account_id": s.stripe_account_id,
    })
}

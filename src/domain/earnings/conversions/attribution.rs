//! Who earns from an event: the touch in its metadata, the promotion code it names (a
//! touch at sale time, ordered by the program's attribution model) or the customer's
//! referral; whether the event qualifies under the program's conversion definition; and
//! why an earner earns nothing (inactive, self-referral).

use crate::db::{self, Conn, programs::ProgramRow};
use crate::domain::attribution::promo_codes;
use crate::domain::attribution::referrals::{self, Touch};
use crate::domain::earnings::billing::{Kind, Normalized};
use crate::domain::values::status::{self};
use crate::domain::{partners::affiliates, values::Email};
use crate::error::{AppError, AppResult};

/// Who earns from an event.
pub(super) struct Earner {
    pub(super) enrollment: db::affiliates::EnrollmentRow,
    pub(super) referral_id: Option<String>,
    /// The enrollment's affiliate, when attribution read it already.
    pub(super) affiliate: Option<db::affiliates::AffiliateRow>,
}

/// Finds the enrollment that earns from `event` in `program`: the touch in the event's
/// metadata (binding the customer per the attribution rules), else the customer's
/// existing referral. `Err(reason)` when nobody does.
pub(super) async fn attribute(
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
    let metadata_touch = match click {
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
    // A promotion code is a touch at sale time, so it is the latest touch: with last
    // touch it is tried first, with first touch after the metadata's own touch.
    let promo_touch = match &event.hints.promo_code {
        Some(code) => match promo_codes::resolve(conn, vendor_id, code).await? {
            Some(t) => Some(Touch::promo_code(&t.enrollment_code, now)),
            None => {
                refusal = Some("unknown_promo_code");
                None
            }
        },
        None => None,
    };
    let touches = if program.attribution_model == "first_touch" {
        [metadata_touch, promo_touch]
    } else {
        [promo_touch, metadata_touch]
    };
    for touch in touches.into_iter().flatten() {
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
            Ok((_, _, p, _)) if p != program.id => {
                refusal = refusal.or(Some("code_of_another_program"));
            }
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
            Err(reason) => refusal = refusal.or(Some(reason)),
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
pub(super) async fn qualifies(
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

/// The reasons [`refusal`] gives: a conversion recorded `rejected` with one of these earned
/// nothing from the start (rather than being rejected by hand later).
pub(super) const REFUSALS: [&str; 3] = ["program_inactive", "affiliate_inactive", "self_referral"];

/// Why the earner earns nothing, if so.
pub(super) fn refusal(
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

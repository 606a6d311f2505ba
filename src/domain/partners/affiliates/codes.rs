//! Referral codes of enrollments: validating a requested code, generating a free one,
//! changing one.

use serde_json::json;

use crate::db::{self, Db};
use crate::domain::partners::affiliates::{Affiliate, get};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::slug;
use crate::error::{AppError, AppResult};

/// Validates a referral code: lower-cased, then 3-40 of `[a-z0-9-_]`.
pub fn parse_code(field: &str, raw: &str) -> AppResult<String> {
    slug::normalize_code(raw)
        .ok_or_else(|| AppError::invalid(field, "codes are 3-40 characters of a-z, 0-9, - and _"))
}

/// A free, readable code such as `jane-smith-7g2k`.
pub async fn generate_code(conn: &mut db::Conn, base: &str) -> AppResult<String> {
    let stem = slug::slugify(base, 24, "partner");
    for _ in 0..10 {
        let candidate = format!("{stem}-{}", slug::random_suffix(4));
        if !db::affiliates::code_taken(&mut *conn, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free referral code for {stem}"
    )))
}

/// Changes the referral code of one of an affiliate's enrollments: the one in `program_id`,
/// or the only one (with several, `program_id` is required). From then on `/r/{new}` leads
/// where the old code did and the old code is unknown (a "Link not found" page): on this
/// instance at once, on the others within the referral-link cache's lifetime
/// (`tracking::cache::TTL`). The old code becomes free for anyone to take. Clicks, referrals
/// and conversions already recorded stay with the enrollment. Audited with both codes.
pub async fn change_code(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
    raw_code: &str,
    actor: &Actor,
) -> AppResult<Affiliate> {
    let code = parse_code("code", raw_code)?;
    let affiliate = get(db, vendor_id, affiliate_id).await?;
    let enrollment = match program_id {
        Some(p) => affiliate
            .enrollments
            .iter()
            .find(|e| e.program_id == p)
            .ok_or_else(|| {
                AppError::invalid(
                    "program_id",
                    "the affiliate is not enrolled in this program",
                )
            })?,
        None => match affiliate.enrollments.as_slice() {
            [only] => only,
            [] => return Err(AppError::invalid("code", "the affiliate has no enrollment")),
            _ => {
                return Err(AppError::invalid(
                    "program_id",
                    "the affiliate is enrolled in several programs: name one with program_id",
                ));
            }
        },
    };
    if enrollment.code == code {
        return Ok(affiliate);
    }
    let mut tx = db.begin().await?;
    let changed = db::affiliates::set_code(&mut *tx, vendor_id, &enrollment.id, &code)
        .await
        .map_err(|e| match db::unique_violation_field(&e).as_deref() {
            Some("code") => AppError::duplicate("code", "this referral code is taken"),
            _ => e.into(),
        })?;
    if !changed {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "affiliate.code_changed",
        ("affiliate", Some(affiliate_id)),
        json!({"enrollment_id": enrollment.id, "program_id": enrollment.program_id,
               "before": enrollment.code, "after": code}),
    )
    .await?;
    tx.commit().await?;
    get(db, vendor_id, affiliate_id).await
}

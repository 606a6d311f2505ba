//! Promotion codes: discount codes (`JANE20`) of an enrollment. A sale naming one is
//! attributed to that enrollment without a click: the code is a touch at sale time (see the
//! conversions' attribution step and the README's "Promo codes").
//!
//! A code is unique per vendor whatever its case, an enrollment may carry several, and a
//! disabled code no longer attributes (it stays listed). A code may name the Stripe
//! promotion code that carries it (`promo_...`), so a Stripe event that names only that id
//! finds it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Db, promo_codes::NewPromoCode, promo_codes::PromoCodeRow};
use crate::domain::partners::affiliates;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::slug;
use crate::error::{AppError, AppResult};

/// Codes one affiliate may hold.
const CODES_MAX: i64 = 50;
/// Shortest and longest code.
const CODE_LEN: std::ops::RangeInclusive<usize> = 3..=40;
/// Longest Stripe promotion code id.
const STRIPE_ID_MAX: usize = 100;

/// The body of `POST /api/v1/affiliates/{id}/promo-codes` and the dashboard form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodeInput {
    /// The code: 3-40 of `A-Z a-z 0-9 - _`, unique per vendor whatever its case; generated
    /// from the affiliate's name (`JANE20`) when absent.
    #[schema(pattern = "^[A-Za-z0-9_-]{3,40}$")]
    pub code: Option<String>,
    /// The program whose enrollment earns; optional when the affiliate has one enrollment.
    pub program_id: Option<String>,
    /// The Stripe promotion code (`promo_...`) that carries this code, if any.
    #[schema(pattern = "^(|promo_[A-Za-z0-9]{1,94})$")]
    pub stripe_promotion_code_id: Option<String>,
}

/// The body of `PATCH /api/v1/promo-codes/{id}`: an absent field stays as it is.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodeUpdate {
    /// `false` disables the code (sales naming it are no longer attributed); `true`
    /// enables it again.
    pub active: Option<bool>,
    /// The Stripe promotion code id; `null` or empty clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<String>, pattern = "^(|promo_[A-Za-z0-9]{1,94})$")]
    pub stripe_promotion_code_id: Option<Option<String>>,
}

/// A promotion code as shown to the vendor and its affiliate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PromoCode {
    /// `pcd_...`
    pub id: String,
    /// The affiliate it attributes to.
    pub affiliate_id: String,
    /// The program.
    pub program_id: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The code, as spelled when created.
    pub code: String,
    /// Whether a sale naming it is attributed.
    pub active: bool,
    /// The Stripe promotion code id, when known.
    pub stripe_promotion_code_id: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// When it was disabled (RFC 3339), `null` when active.
    pub disabled_at: Option<String>,
}

impl From<PromoCodeRow> for PromoCode {
    fn from(r: PromoCodeRow) -> Self {
        Self {
            id: r.id,
            affiliate_id: r.affiliate_id,
            program_id: r.program_id,
            enrollment_id: r.enrollment_id,
            code: r.code,
            active: r.disabled_at.is_none(),
            stripe_promotion_code_id: r.stripe_promotion_code_id,
            created_at: db::rfc3339(r.created_at),
            disabled_at: r.disabled_at.map(db::rfc3339),
        }
    }
}

/// A code as typed: trimmed, 3-40 of `A-Z a-z 0-9 - _`; its case is kept.
pub fn parse_code(field: &str, raw: &str) -> AppResult<String> {
    let code = raw.trim();
    let ok = CODE_LEN.contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(code.to_owned())
    } else {
        Err(AppError::invalid(
            field,
            "promo codes are 3-40 characters of A-Z, a-z, 0-9, - and _",
        ))
    }
}

/// What a sale's promotion code names, as read from a payload: trimmed, nothing when
/// empty or longer than any code or Stripe id can be.
pub fn normalize_hint(raw: &str) -> Option<String> {
    let s = raw.trim();
    (!s.is_empty() && s.len() <= STRIPE_ID_MAX).then(|| s.to_owned())
}

fn parse_stripe_id(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s)
            if s.starts_with("promo_")
                && s.len() <= STRIPE_ID_MAX
                && s[6..].chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(AppError::invalid(
            "stripe_promotion_code_id",
            "a Stripe promotion code id starts with promo_",
        )),
    }
}

/// A free code from the affiliate's first name, `JANE20` style: the name's letters and
/// digits upper-cased (at most 12) and a number, `20` first.
async fn generate(conn: &mut db::Conn, vendor_id: &str, first_name: &str) -> AppResult<String> {
    let mut stem: String = first_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_ascii_uppercase();
    if stem.len() < 2 {
        stem = "PARTNER".into();
    }
    let numbered = [20, 10, 15, 25, 30].map(|n| format!("{stem}{n}"));
    let random = (0..5).map(|_| format!("{stem}{}", slug::random_suffix(4).to_ascii_uppercase()));
    for candidate in numbered.into_iter().chain(random) {
        if !db::promo_codes::code_taken(&mut *conn, vendor_id, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free promo code for {stem}"
    )))
}

/// Maps a unique violation on the codes table to a 409 naming the field.
fn taken(e: sqlx::Error) -> AppError {
    match db::unique_violation_field(&e).as_deref() {
        Some("code") => AppError::duplicate("code", "this promo code is already in use"),
        Some("stripe_promotion_code_id") => AppError::duplicate(
            "stripe_promotion_code_id",
            "this Stripe promotion code is already linked to a promo code",
        ),
        _ => e.into(),
    }
}

/// Creates a promotion code for one of the affiliate's enrollments: the one in
/// `program_id`, or the only one. 404 for an unknown affiliate; 409 for a code taken in
/// the vendor (any case).
pub async fn create(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    input: &PromoCodeInput,
    actor: &Actor,
) -> AppResult<PromoCode> {
    let code = match input.code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(parse_code("code", c)?),
        None => None,
    };
    let stripe_id = parse_stripe_id(input.stripe_promotion_code_id.as_deref())?;
    let affiliate = affiliates::get(db, vendor_id, affiliate_id).await?;
    let program_id = input.program_id.as_deref().filter(|s| !s.is_empty());
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
            [] => {
                return Err(AppError::invalid(
                    "program_id",
                    "the affiliate has no enrollment",
                ));
            }
            _ => {
                return Err(AppError::invalid(
                    "program_id",
                    "the affiliate is enrolled in several programs: name one with program_id",
                ));
            }
        },
    };
    let mut tx = db.begin().await?;
    if db::promo_codes::count_for_affiliate(&mut *tx, vendor_id, affiliate_id).await? >= CODES_MAX {
        return Err(AppError::invalid(
            "code",
            format!("an affiliate holds at most {CODES_MAX} promo codes"),
        ));
    }
    let code = match code {
        Some(c) => c,
        None => generate(&mut tx, vendor_id, &affiliate.row.first_name).await?,
    };
    let id = db::promo_codes::insert(
        &mut *tx,
        &NewPromoCode {
            vendor_id,
            program_id: &enrollment.program_id,
            enrollment_id: &enrollment.id,
            affiliate_id,
            code: &code,
            stripe_promotion_code_id: stripe_id.as_deref(),
        },
    )
    .await
    .map_err(taken)?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "promo_code.created",
        ("affiliate", Some(affiliate_id)),
        json!({"promo_code_id": id, "code": code, "program_id": enrollment.program_id}),
    )
    .await?;
    let row = db::promo_codes::by_id(&mut *tx, vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// The codes of an affiliate of the vendor (404 for another vendor's affiliate).
pub async fn list(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Vec<PromoCode>> {
    db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    list_unchecked(db, vendor_id, affiliate_id).await
}

/// The codes of an affiliate whose credential already proved it belongs to the vendor
/// (the affiliate's own self-service).
pub async fn list_unchecked(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<Vec<PromoCode>> {
    Ok(
        db::promo_codes::for_affiliate(db.pool(), vendor_id, affiliate_id)
            .await?
            .into_iter()
            .map(PromoCode::from)
            .collect(),
    )
}

/// One code of the vendor.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<PromoCode> {
    db::promo_codes::by_id(db.pool(), vendor_id, id)
        .await?
        .map(PromoCode::from)
        .ok_or(AppError::NotFound)
}

/// Enables or disables a code, or sets its Stripe id. Another vendor's code is a 404.
pub async fn update(
    db: &Db,
    vendor_id: &str,
    id: &str,
    patch: &PromoCodeUpdate,
    actor: &Actor,
) -> AppResult<PromoCode> {
    let mut tx = db.begin().await?;
    let row = db::promo_codes::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let disabled_at = match patch.active {
        None => row.disabled_at,
        Some(true) => None,
        Some(false) => row.disabled_at.or(Some(db::now_ms())),
    };
    let stripe_id = match &patch.stripe_promotion_code_id {
        None => row.stripe_promotion_code_id.clone(),
        Some(v) => parse_stripe_id(v.as_deref())?,
    };
    if !db::promo_codes::update(&mut *tx, vendor_id, id, disabled_at, stripe_id.as_deref())
        .await
        .map_err(taken)?
    {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "promo_code.updated",
        ("affiliate", Some(&row.affiliate_id)),
        json!({"promo_code_id": id, "code": row.code, "active": disabled_at.is_none(),
               "stripe_promotion_code_id": stripe_id}),
    )
    .await?;
    let row = db::promo_codes::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Deletes a code (it stops attributing and becomes free for another affiliate). Sales
/// already attributed through it keep their referral. Another vendor's code is a 404.
pub async fn delete(db: &Db, vendor_id: &str, id: &str, actor: &Actor) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let row = db::promo_codes::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !db::promo_codes::delete(&mut *tx, vendor_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "promo_code.deleted",
        ("affiliate", Some(&row.affiliate_id)),
        json!({"promo_code_id": id, "code": row.code}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The enabled code of the vendor that a sale's `code` names (its text, any case, or its
/// Stripe promotion code id), in the caller's transaction.
pub async fn resolve(
    conn: &mut db::Conn,
    vendor_id: &str,
    code: &str,
) -> AppResult<Option<db::promo_codes::PromoTarget>> {
    Ok(db::promo_codes::resolve(&mut *conn, vendor_id, code).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_case_and_refuse_other_characters() {
        assert_eq!(parse_code("code", " Jane20 ").unwrap(), "Jane20");
        assert!(parse_code("code", "ab").is_err());
        assert!(parse_code("code", "JANE 20").is_err());
        assert!(parse_code("code", &"A".repeat(41)).is_err());
        assert_eq!(
            parse_stripe_id(Some("promo_1AbC")).unwrap().as_deref(),
            Some("promo_1AbC")
        );
        assert!(parse_stripe_id(Some("coupon_1")).is_err());
        assert_eq!(parse_stripe_id(Some(" ")).unwrap(), None);
        assert_eq!(normalize_hint("  JANE20 ").as_deref(), Some("JANE20"));
        assert_eq!(normalize_hint(""), None);
    }
}

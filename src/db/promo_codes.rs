//! Promotion codes of enrollments: a sale naming one is attributed to its enrollment.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A promotion code as stored.
#[derive(Debug, Clone, FromRow)]
pub struct PromoCodeRow {
    /// `pcd_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The program of the enrollment.
    pub program_id: String,
    /// The enrollment a sale naming the code is attributed to.
    pub enrollment_id: String,
    /// Its affiliate.
    pub affiliate_id: String,
    /// The code as the vendor spelled it (`JANE20`); matched case-insensitively.
    pub code: String,
    /// The Stripe promotion code (`promo_...`) that carries it, when known.
    pub stripe_promotion_code_id: Option<String>,
    /// When it was disabled (it no longer attributes), unix ms.
    pub disabled_at: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// Columns of a new promotion code.
#[derive(Debug, Clone)]
pub struct NewPromoCode<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Enrollment.
    pub enrollment_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// The code.
    pub code: &'a str,
    /// The Stripe promotion code id.
    pub stripe_promotion_code_id: Option<&'a str>,
}

/// A promotion code an active sale can resolve to: the code row and its enrollment's
/// referral code (the touch attribution binds with).
#[derive(Debug, Clone, FromRow)]
pub struct PromoTarget {
    /// `pcd_...`
    pub id: String,
    /// The code as stored.
    pub code: String,
    /// The program.
    pub program_id: String,
    /// The enrollment.
    pub enrollment_id: String,
    /// The enrollment's referral code (lower case).
    pub enrollment_code: String,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, enrollment_id, affiliate_id, code, \
         stripe_promotion_code_id, disabled_at, created_at, updated_at FROM promo_codes "
    };
}

/// Inserts a code; a code (case-insensitively) or Stripe id taken in the vendor is a unique
/// violation.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &NewPromoCode<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id("pcd");
    sqlx::query(
        "INSERT INTO promo_codes (id, vendor_id, program_id, enrollment_id, affiliate_id, code, \
         stripe_promotion_code_id, disabled_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(p.vendor_id)
    .bind(p.program_id)
    .bind(p.enrollment_id)
    .bind(p.affiliate_id)
    .bind(p.code)
    .bind(p.stripe_promotion_code_id)
    .bind(None::<i64>)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(id)
}

/// One code of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<PromoCodeRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The codes of one affiliate, oldest first.
pub async fn for_affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<PromoCodeRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND affiliate_id = $2 ORDER BY created_at, id"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// Number of codes of one affiliate.
pub async fn count_for_affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM promo_codes WHERE vendor_id = $1 AND affiliate_id = $2",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Whether a code is taken in the vendor (case-insensitively).
pub async fn code_taken<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM promo_codes WHERE vendor_id = $1 AND LOWER(code) = LOWER($2)",
    )
    .bind(vendor_id)
    .bind(code)
    .fetch_optional(ex)
    .await?;
    Ok(row.is_some())
}

/// Sets or clears `disabled_at` and the Stripe id of a code of the vendor; `false` when it
/// is not the vendor's.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    disabled_at: Option<i64>,
    stripe_promotion_code_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE promo_codes SET disabled_at = $1, stripe_promotion_code_id = $2, updated_at = $3 \
         WHERE vendor_id = $4 AND id = $5",
    )
    .bind(disabled_at)
    .bind(stripe_promotion_code_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes a code of the vendor; `false` when it is not the vendor's.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM promo_codes WHERE vendor_id = $1 AND id = $2")
            .bind(vendor_id)
            .bind(id)
            .execute(ex)
            .await?
            .rows_affected()
            == 1,
    )
}

/// The enabled code of the vendor named `code` (case-insensitively) or whose Stripe
/// promotion code id is `code`.
pub async fn resolve<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    code: &str,
) -> Result<Option<PromoTarget>, sqlx::Error> {
    sqlx::query_as(
        "SELECT pc.id, pc.code, pc.program_id, pc.enrollment_id, e.code AS enrollment_code \
         FROM promo_codes pc JOIN enrollments e ON e.id = pc.enrollment_id \
         WHERE pc.vendor_id = $1 AND pc.disabled_at IS NULL \
         AND (LOWER(pc.code) = LOWER($2) OR pc.stripe_promotion_code_id = $2) \
         ORDER BY pc.created_at LIMIT 1",
    )
    .bind(vendor_id)
    .bind(code)
    .fetch_optional(ex)
    .await
}

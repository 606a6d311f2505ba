//! Deals: leads registered by affiliates and reviewed by the vendor.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A deal as stored, with its affiliate's name and email for lists.
#[derive(Debug, Clone, FromRow)]
pub struct DealRow {
    /// `deal_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// Enrollment that registered it.
    pub enrollment_id: String,
    /// Affiliate that registered it.
    pub affiliate_id: String,
    /// The affiliate's display name.
    pub affiliate_name: String,
    /// The affiliate's email.
    pub affiliate_email: String,
    /// The lead's email.
    pub lead_email: String,
    /// The lead's name.
    pub lead_name: String,
    /// The lead's company.
    pub company: Option<String>,
    /// The affiliate's notes.
    pub notes: Option<String>,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// The referral it became, once the customer was reported.
    pub referral_id: Option<String>,
    /// Reviewing staff member or API key.
    pub reviewed_by: Option<String>,
    /// Review time, unix ms.
    pub reviewed_at: Option<i64>,
    /// Registration time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// Columns of a new deal.
#[derive(Debug, Clone)]
pub struct NewDeal<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Enrollment.
    pub enrollment_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// Lead email.
    pub lead_email: &'a str,
    /// Lead name.
    pub lead_name: &'a str,
    /// Company.
    pub company: Option<&'a str>,
    /// Notes.
    pub notes: Option<&'a str>,
}

macro_rules! select {
    () => {
        "SELECT d.id, d.vendor_id, d.program_id, d.enrollment_id, d.affiliate_id, \
         a.name AS affiliate_name, a.email AS affiliate_email, d.lead_email, d.lead_name, \
         d.company, d.notes, d.status, d.rejection_reason, d.referral_id, d.reviewed_by, \
         d.reviewed_at, d.created_at, d.updated_at \
         FROM deals d JOIN affiliates a ON a.id = d.affiliate_id "
    };
}

/// Inserts a pending deal; an open deal for the same lead in the program is a unique
/// violation on `lead_email`.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &NewDeal<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id("deal");
    sqlx::query(
        "INSERT INTO deals (id, vendor_id, program_id, enrollment_id, affiliate_id, lead_email, \
         lead_name, company, notes, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10)",
    )
    .bind(&id)
    .bind(d.vendor_id)
    .bind(d.program_id)
    .bind(d.enrollment_id)
    .bind(d.affiliate_id)
    .bind(d.lead_email)
    .bind(d.lead_name)
    .bind(d.company)
    .bind(d.notes)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(id)
}

/// One deal of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<DealRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE d.vendor_id = $1 AND d.id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Accepts or rejects a pending deal; `false` if it is not pending (any more).
pub async fn decide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    status: &str,
    rejection_reason: Option<&str>,
    reviewed_by: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE deals SET status = $1, rejection_reason = $2, reviewed_by = $3, reviewed_at = $4, \
         updated_at = $4 WHERE vendor_id = $5 AND id = $6 AND status = 'pending'",
    )
    .bind(status)
    .bind(rejection_reason)
    .bind(reviewed_by)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The oldest accepted deal for a lead email that has not become a referral yet.
pub async fn open_accepted_for_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
) -> Result<Option<DealRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE d.vendor_id = $1 AND LOWER(d.lead_email) = LOWER($2) AND d.status = 'accepted' \
         AND d.referral_id IS NULL ORDER BY d.reviewed_at, d.id LIMIT 1"
    ))
    .bind(vendor_id)
    .bind(email)
    .fetch_optional(ex)
    .await
}

/// Links a deal to the referral it became.
pub async fn set_referral<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    referral_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deals SET referral_id = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(referral_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// List filters.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only this affiliate's deals.
    pub affiliate_id: Option<&'a str>,
}

macro_rules! filter {
    () => {
        "WHERE d.vendor_id = $1 AND ($2 IS NULL OR d.status = $2) \
         AND ($3 IS NULL OR d.affiliate_id = $3) "
    };
}

/// One page of deals, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<DealRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        filter!(),
        "ORDER BY d.created_at DESC, d.id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(f.vendor_id)
    .bind(f.status)
    .bind(f.affiliate_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many deals match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) FROM deals d ", filter!()))
        .bind(f.vendor_id)
        .bind(f.status)
        .bind(f.affiliate_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

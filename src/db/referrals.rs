//! Referred customers bound to enrollments.

use super::sql::Sql;
use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A referral as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ReferralRow {
    /// `ref_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// Enrollment the customer is bound to.
    pub enrollment_id: String,
    /// Its affiliate.
    pub affiliate_id: String,
    /// The vendor's customer id.
    pub customer_id: String,
    /// The customer's email, if reported.
    pub email: Option<String>,
    /// The click that won the binding.
    pub click_id: Option<String>,
    /// The referral code.
    pub code: String,
    /// `click`, `code` or `deal`.
    pub source: String,
    /// Time of the winning touch, unix ms.
    pub touched_at: i64,
    /// First binding, unix ms.
    pub created_at: i64,
    /// Last re-binding, unix ms.
    pub updated_at: i64,
}

/// The binding to write.
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Enrollment.
    pub enrollment_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// Customer.
    pub customer_id: &'a str,
    /// Customer email.
    pub email: Option<&'a str>,
    /// Click.
    pub click_id: Option<&'a str>,
    /// Code.
    pub code: &'a str,
    /// `click`, `code` or `deal`.
    pub source: &'a str,
    /// Touch time.
    pub touched_at: i64,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, enrollment_id, affiliate_id, customer_id, email, \
         click_id, code, source, touched_at, created_at, updated_at FROM referrals "
    };
}

/// Inserts a binding unless the customer is already bound in the program; returns the new
/// row as stored, or `None` when another binding exists (a concurrent request may have
/// won). A new binding is counted in the referral rollup on the same connection (give one
/// inside a transaction).
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    b: &Binding<'_>,
) -> Result<Option<ReferralRow>, sqlx::Error> {
    let now = now_ms();
    // The row comes back with the insert: one round trip less per new binding on ingest.
    let row: Option<ReferralRow> = sqlx::query_as(
        "INSERT INTO referrals (id, vendor_id, program_id, enrollment_id, affiliate_id, \
         customer_id, email, click_id, code, source, touched_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (program_id, customer_id) DO NOTHING RETURNING id, vendor_id, \
         program_id, enrollment_id, affiliate_id, customer_id, email, click_id, code, source, \
         touched_at, created_at, updated_at",
    )
    .bind(new_id("ref"))
    .bind(b.vendor_id)
    .bind(b.program_id)
    .bind(b.enrollment_id)
    .bind(b.affiliate_id)
    .bind(b.customer_id)
    .bind(b.email)
    .bind(b.click_id)
    .bind(b.code)
    .bind(b.source)
    .bind(b.touched_at)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        super::referral_rollups::added(conn, b.vendor_id, b.program_id, now).await?;
    }
    Ok(row)
}

/// Moves an existing binding to a newer touch (last-touch attribution). Conditional on the
/// stored touch being older, so two racing reports settle on the latest touch.
pub async fn rebind<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    b: &Binding<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE referrals SET enrollment_id = $1, affiliate_id = $2, click_id = $3, code = $4, \
         source = $5, touched_at = $6, email = COALESCE($7, email), updated_at = $8 \
         WHERE vendor_id = $9 AND id = $10 AND touched_at < $6",
    )
    .bind(b.enrollment_id)
    .bind(b.affiliate_id)
    .bind(b.click_id)
    .bind(b.code)
    .bind(b.source)
    .bind(b.touched_at)
    .bind(b.email)
    .bind(now_ms())
    .bind(b.vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The binding of a customer in a program.
pub async fn by_customer<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    customer_id: &str,
) -> Result<Option<ReferralRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND program_id = $2 AND customer_id = $3"
    ))
    .bind(vendor_id)
    .bind(program_id)
    .bind(customer_id)
    .fetch_optional(ex)
    .await
}

/// One referral of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ReferralRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// List filters.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this affiliate's referrals.
    pub affiliate_id: Option<&'a str>,
    /// Only this program's.
    pub program_id: Option<&'a str>,
    /// Only this customer's.
    pub customer_id: Option<&'a str>,
}

/// `<head> WHERE` with only the filters given.
fn filtered<'a>(head: &'static str, f: &Filter<'a>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(f.vendor_id)
        .and_eq("affiliate_id", f.affiliate_id)
        .and_eq("program_id", f.program_id)
        .and_eq("customer_id", f.customer_id)
}

/// One page of referrals, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ReferralRow>, sqlx::Error> {
    filtered(select!(), f)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many referrals match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    filtered("SELECT COUNT(*) FROM referrals", f)
        .fetch_count(ex)
        .await
}

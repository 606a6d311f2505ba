//! Extra referral links of an enrollment, and the lookup behind `/r/{code}[/{slug}]`.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A link as stored.
#[derive(Debug, Clone, FromRow)]
pub struct LinkRow {
    /// `lnk_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The enrollment whose code the link carries.
    pub enrollment_id: String,
    /// Its affiliate.
    pub affiliate_id: String,
    /// Its program.
    pub program_id: String,
    /// The enrollment's referral code.
    pub code: String,
    /// Last path segment: `/r/{code}/{slug}`.
    pub slug: String,
    /// Campaign name.
    pub name: String,
    /// Where the link leads; `None`: the program's landing URL.
    pub destination_url: Option<String>,
    /// The affiliate's own tracking id.
    pub sub_id: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// Columns of a new link.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Enrollment.
    pub enrollment_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Path segment.
    pub slug: &'a str,
    /// Campaign name.
    pub name: &'a str,
    /// Destination.
    pub destination_url: Option<&'a str>,
    /// Sub-id.
    pub sub_id: Option<&'a str>,
}

macro_rules! select {
    () => {
        "SELECT l.id, l.vendor_id, l.enrollment_id, l.affiliate_id, l.program_id, e.code, \
         l.slug, l.name, l.destination_url, l.sub_id, l.created_at \
         FROM links l JOIN enrollments e ON e.id = l.enrollment_id "
    };
}

/// Inserts a link; a slug taken in the enrollment is a unique violation.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    l: &NewLink<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id("lnk");
    sqlx::query(
        "INSERT INTO links (id, vendor_id, enrollment_id, affiliate_id, program_id, slug, name, \
         destination_url, sub_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(l.vendor_id)
    .bind(l.enrollment_id)
    .bind(l.affiliate_id)
    .bind(l.program_id)
    .bind(l.slug)
    .bind(l.name)
    .bind(l.destination_url)
    .bind(l.sub_id)
    .bind(now_ms())
    .execute(ex)
    .await?;
    super::routing_changed();
    Ok(id)
}

/// One link of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE l.vendor_id = $1 AND l.id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The links of an affiliate, newest first.
pub async fn for_affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE l.vendor_id = $1 AND l.affiliate_id = $2 ORDER BY l.created_at DESC, l.id DESC"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// How many links an affiliate holds.
pub async fn count_for_affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM links WHERE vendor_id = $1 AND affiliate_id = $2")
            .bind(vendor_id)
            .bind(affiliate_id)
            .fetch_one(ex)
            .await?;
    Ok(n)
}

/// The link `slug` of the enrollment with `code` (any vendor: codes are global).
pub async fn by_code_and_slug<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    code: &str,
    slug: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE e.code = $1 AND l.slug = $2"))
        .bind(code)
        .bind(slug)
        .fetch_optional(ex)
        .await
}

/// Everything a referral code resolves to, read in one query.
#[derive(Debug, Clone, FromRow)]
pub struct CodeTarget {
    /// Tenant.
    pub vendor_id: String,
    /// Enrollment.
    pub enrollment_id: String,
    /// Enrollment status.
    pub enrollment_status: String,
    /// Affiliate.
    pub affiliate_id: String,
    /// Program.
    pub program_id: String,
    /// Program status.
    pub program_status: String,
    /// Program landing URL.
    pub landing_url: Option<String>,
    /// JSON array of extra hosts.
    pub allowed_domains: String,
    /// Cookie lifetime.
    pub cookie_duration_days: i64,
    /// `first_touch` or `last_touch`.
    pub attribution_model: String,
    /// The vendor's slug (for the portal fallback URL).
    pub vendor_slug: String,
    /// The vendor's site origins (JSON array): pages there may report clicks too.
    pub vendor_site_origins: String,
}

/// Resolves a referral code (lower case) across the installation.
pub async fn resolve_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    code: &str,
) -> Result<Option<CodeTarget>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.vendor_id, e.id AS enrollment_id, e.status AS enrollment_status, e.affiliate_id, \
         p.id AS program_id, p.status AS program_status, p.landing_url, p.allowed_domains, \
         p.cookie_duration_days, p.attribution_model, v.slug AS vendor_slug, \
         v.site_origins AS vendor_site_origins \
         FROM enrollments e JOIN programs p ON p.id = e.program_id \
         JOIN vendors v ON v.id = e.vendor_id WHERE e.code = $1",
    )
    .bind(code)
    .fetch_optional(ex)
    .await
}

/// The referral code of one enrollment of a vendor.
pub async fn enrollment_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    enrollment_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT code FROM enrollments WHERE vendor_id = $1 AND id = $2")
            .bind(vendor_id)
            .bind(enrollment_id)
            .fetch_optional(ex)
            .await?;
    Ok(row.map(|(c,)| c))
}

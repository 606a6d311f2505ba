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
    /// When it was archived (hidden from lists, still redirecting), unix ms.
    pub archived_at: Option<i64>,
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
         l.slug, l.name, l.destination_url, l.sub_id, l.created_at, l.archived_at \
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

/// Changes a link's name, destination and sub-id (its slug, and so its URL, never
/// changes). Scoped by vendor and affiliate: `false` when it is not theirs.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
    name: &str,
    destination_url: Option<&str>,
    sub_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE links SET name = $1, destination_url = $2, sub_id = $3, updated_at = $4 \
         WHERE vendor_id = $5 AND affiliate_id = $6 AND id = $7",
    )
    .bind(name)
    .bind(destination_url)
    .bind(sub_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(id)
    .execute(ex)
    .await?
    .rows_affected()
        == 1;
    // The redirect caches each link's destination.
    super::routing_changed();
    Ok(done)
}

/// Archives (`Some(time)`) or restores (`None`) a link of an affiliate; `false` when it is
/// not theirs.
pub async fn set_archived<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
    archived_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE links SET archived_at = $1, updated_at = $2 \
         WHERE vendor_id = $3 AND affiliate_id = $4 AND id = $5",
    )
    .bind(archived_at)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(id)
    .execute(ex)
    .await?
    .rows_affected()
        == 1)
}

/// One link of an affiliate.
pub async fn of_affiliate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE l.vendor_id = $1 AND l.affiliate_id = $2 AND l.id = $3"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// A count per link: (link id, count).
pub type LinkCount = (String, i64);

/// Counted clicks (neither bot nor repeat) per link of an affiliate. One range of
/// `ix_clicks__link`: only this affiliate's link clicks are read.
pub async fn click_counts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<LinkCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT link_id, COUNT(*) FROM clicks \
         WHERE vendor_id = $1 AND affiliate_id = $2 AND link_id IS NOT NULL \
         AND is_bot = 0 AND is_duplicate = 0 GROUP BY link_id",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// Referred customers per link of an affiliate: referrals whose winning click came
/// through the link (the affiliate's referrals, each joined to its click by key).
pub async fn referral_counts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<LinkCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.link_id, COUNT(*) FROM referrals r JOIN clicks k ON k.id = r.click_id \
         WHERE r.vendor_id = $1 AND r.affiliate_id = $2 AND k.link_id IS NOT NULL \
         GROUP BY k.link_id",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// Conversions (pending or approved) per link of an affiliate, through their referral's
/// click.
pub async fn conversion_counts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<LinkCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.link_id, COUNT(*) FROM conversions c \
         JOIN referrals r ON r.id = c.referral_id JOIN clicks k ON k.id = r.click_id \
         WHERE c.vendor_id = $1 AND c.affiliate_id = $2 AND k.link_id IS NOT NULL \
         AND c.status IN ('pending', 'approved') GROUP BY k.link_id",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// The affiliate's own (level 0) commissions per link and currency, net of reversals,
/// rejected ones left out: (link id, currency, cents).
pub async fn commission_sums<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.link_id, m.currency, CAST(SUM(m.amount_cents - m.reversed_cents) AS BIGINT) \
         FROM commissions m JOIN conversions c ON c.id = m.conversion_id \
         JOIN referrals r ON r.id = c.referral_id JOIN clicks k ON k.id = r.click_id \
         WHERE m.vendor_id = $1 AND m.affiliate_id = $2 AND m.level = 0 \
         AND m.status IN ('pending', 'available', 'paid') AND k.link_id IS NOT NULL \
         GROUP BY k.link_id, m.currency ORDER BY m.currency",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
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
    /// The landing URL of the enrollment's partner group, if it sets one.
    pub group_landing_url: Option<String>,
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
         p.id AS program_id, p.status AS program_status, p.landing_url, \
         g.landing_url AS group_landing_url, p.allowed_domains, \
         p.cookie_duration_days, p.attribution_model, v.slug AS vendor_slug, \
         v.site_origins AS vendor_site_origins \
         FROM enrollments e JOIN programs p ON p.id = e.program_id \
         LEFT JOIN partner_groups g ON g.id = e.group_id \
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

//! Affiliates and their enrollments.

use super::sql::Sql;
use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// An affiliate as stored.
#[derive(Debug, Clone, FromRow)]
pub struct AffiliateRow {
    /// `aff_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Unique per vendor, case-insensitive.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// `invited`, `active`, `paused`, `banned` or `deactivated`.
    pub status: String,
    /// The vendor's own customer id for this person.
    pub customer_id: Option<String>,
    /// Integration that provisioned the affiliate.
    pub external_source: Option<String>,
    /// Id in that integration.
    pub external_id: Option<String>,
    /// `paypal`, `wise`, `bank_transfer`, `stripe_connect` or `crypto`.
    pub payout_method: Option<String>,
    /// PayPal or Wise email.
    pub payout_email: Option<String>,
    /// Bank transfer details or crypto wallet, free text.
    pub payout_details: Option<String>,
    /// Stripe Connect account (`acct_...`).
    pub stripe_account_id: Option<String>,
    /// Arbitrary JSON object.
    pub metadata: String,
    /// First sign-in or explicit activation, unix ms.
    pub activated_at: Option<i64>,
    /// The affiliate who recruited this one (multi-level commissions).
    pub parent_affiliate_id: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// Columns written on insert and update.
#[derive(Debug, Clone)]
pub struct AffiliateColumns<'a> {
    /// Email.
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Company.
    pub company: Option<&'a str>,
    /// Website.
    pub website: Option<&'a str>,
    /// Customer id in the vendor's system.
    pub customer_id: Option<&'a str>,
    /// Provisioning integration.
    pub external_source: Option<&'a str>,
    /// Id there.
    pub external_id: Option<&'a str>,
    /// JSON object.
    pub metadata: &'a str,
    /// Recruiting affiliate.
    pub parent_affiliate_id: Option<&'a str>,
}

/// An enrollment as stored, with its program's name.
#[derive(Debug, Clone, FromRow)]
pub struct EnrollmentRow {
    /// `enr_...`
    pub id: String,
    /// The affiliate.
    pub affiliate_id: String,
    /// The program.
    pub program_id: String,
    /// The program's name.
    pub program_name: String,
    /// Referral code, lower case.
    pub code: String,
    /// Mirrors the affiliate's status.
    pub status: String,
    /// Commission JSON replacing the program terms, if set.
    pub commission_override: Option<String>,
    /// Program terms version the enrollment joined under.
    pub terms_version: i64,
    /// The commission JSON of that terms version (of its group's terms when the group
    /// has its own).
    pub terms_commission: Option<String>,
    /// Its partner group in the program.
    pub group_id: Option<String>,
    /// The group's name.
    pub group_name: Option<String>,
    /// The group's own holding period, if it sets one.
    pub group_holding_period_days: Option<i64>,
    /// The group's own minimum payout, if it sets one.
    pub group_min_payout_cents: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// Sort orders of the affiliate list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first (default).
    Newest,
    /// Oldest first.
    Oldest,
    /// By email.
    Email,
    /// By name.
    Name,
}

impl Sort {
    fn order_by(self) -> &'static str {
        match self {
            Self::Newest => "a.created_at DESC, a.id DESC",
            Self::Oldest => "a.created_at ASC, a.id ASC",
            Self::Email => "LOWER(a.email) ASC, a.id ASC",
            Self::Name => "LOWER(a.name) ASC, a.id ASC",
        }
    }
}

/// Filters of the affiliate list; `search` is matched against email, name and codes.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only affiliates enrolled in this program.
    pub program_id: Option<&'a str>,
    /// Case-insensitive substring.
    pub search: Option<&'a str>,
}

macro_rules! cols {
    () => {
        "a.id, a.vendor_id, a.email, a.name, a.first_name, a.last_name, a.company, a.website, \
         a.status, a.customer_id, a.external_source, a.external_id, a.payout_method, \
         a.payout_email, a.payout_details, a.stripe_account_id, a.metadata, a.activated_at, a.parent_affiliate_id, a.created_at, \
         a.updated_at"
    };
}

/// `<head> WHERE ...` with only the filters given (shared by the page and the count so they
/// always agree). A search term that is a whole email address and is matched exactly
/// (case-insensitive) through the `(vendor_id, LOWER(email))` index; any other term is a
/// substring of the email, the name or a referral code.
fn filtered<'a>(
    head: &'static str,
    vendor_id: &'a str,
    filter: &Filter<'a>,
    pattern: Option<&'a str>,
) -> Sql<'a> {
    let mut q = Sql::new(head)
        .push(" WHERE a.vendor_id = ")
        .bind(vendor_id)
        .and_eq("a.status", filter.status)
        .and_opt(
            "EXISTS (SELECT 1 FROM enrollments e WHERE e.affiliate_id = a.id AND e.program_id = ",
            filter.program_id,
        );
    if filter.program_id.is_some() {
        q = q.push(")");
    }
    match (filter.search, pattern) {
        (Some(term), _) if is_whole_email(term) => q.push(" AND LOWER(a.email) = LOWER(").bind(term).push(")"),
        (_, Some(p)) => q
            .push(" AND (LOWER(a.email) LIKE ")
            .bind(p)
            .push(" ESCAPE '\\' OR LOWER(a.name) LIKE ")
            .bind(p)
            // The codes are matched once, not once per affiliate: an uncorrelated IN is
            // computed a single time (SQLite builds an index of it, PostgreSQL hashes it),
            // where a correlated EXISTS looked up every affiliate's enrollments (1.2 s
            // over 100k affiliates).
            .push(" ESCAPE '\\' OR a.id IN (SELECT e.affiliate_id FROM enrollments e WHERE e.vendor_id = ")
            .bind(vendor_id)
            .push(" AND e.code LIKE ")
            .bind(p)
            .push(" ESCAPE '\\'))"),
        _ => q,
    }
}

/// Whether a search term is a whole email address (`local@domain.tld`), matched exactly.
fn is_whole_email(term: &str) -> bool {
    term.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.ends_with('.')
    })
}

/// `%term%` for LIKE, lower case, with LIKE's wildcards escaped.
fn like_pattern(term: &str) -> String {
    let escaped = term
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Inserts an affiliate with `status`; returns its id.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    c: &AffiliateColumns<'_>,
    status: &str,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    let id = new_id("aff");
    sqlx::query(
        "INSERT INTO affiliates (id, vendor_id, email, name, first_name, last_name, company, website, \
         status, customer_id, external_source, external_id, metadata, \
         parent_affiliate_id, activated_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(c.email)
    .bind(c.name)
    .bind(c.first_name)
    .bind(c.last_name)
    .bind(c.company)
    .bind(c.website)
    .bind(status)
    .bind(c.customer_id)
    .bind(c.external_source)
    .bind(c.external_id)
    .bind(c.metadata)
    .bind(c.parent_affiliate_id)
    .bind((status == "active").then_some(now))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(id)
}

/// Rewrites an affiliate's profile columns; `false` if there is no such affiliate.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    c: &AffiliateColumns<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE affiliates SET email = $1, name = $2, first_name = $3, last_name = $4, company = $5, \
         website = $6, customer_id = $7, external_source = $8, external_id = $9, \
         metadata = $10, parent_affiliate_id = $11, updated_at = $12 \
         WHERE vendor_id = $13 AND id = $14",
    )
    .bind(c.email)
    .bind(c.name)
    .bind(c.first_name)
    .bind(c.last_name)
    .bind(c.company)
    .bind(c.website)
    .bind(c.customer_id)
    .bind(c.external_source)
    .bind(c.external_id)
    .bind(c.metadata)
    .bind(c.parent_affiliate_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Where an affiliate is paid: the method and the one destination field it uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayoutColumns<'a> {
    /// Method.
    pub method: Option<&'a str>,
    /// PayPal or Wise email.
    pub email: Option<&'a str>,
    /// Bank details or wallet.
    pub details: Option<&'a str>,
    /// Stripe Connect account.
    pub stripe_account_id: Option<&'a str>,
}

/// Rewrites an affiliate's payout settings.
pub async fn set_payout<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    p: &PayoutColumns<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE affiliates SET payout_method = $1, payout_email = $2, payout_details = $3, \
         stripe_account_id = $4, updated_at = $5 WHERE vendor_id = $6 AND id = $7",
    )
    .bind(p.method)
    .bind(p.email)
    .bind(p.details)
    .bind(p.stripe_account_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the status of an affiliate and all its enrollments. With `only_from`, only an
/// affiliate currently in that status changes (e.g. activate only invited ones); returns
/// whether it changed.
pub async fn set_status(
    conn: &mut Conn,
    vendor_id: &str,
    id: &str,
    status: &str,
    only_from: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE affiliates SET status = $1, updated_at = $2, \
         activated_at = CASE WHEN $1 = 'active' AND activated_at IS NULL THEN $2 ELSE activated_at END \
         WHERE vendor_id = $3 AND id = $4 AND ($5 IS NULL OR status = $5)",
    )
    .bind(status)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .bind(only_from)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE enrollments SET status = $1, updated_at = $2 WHERE vendor_id = $3 AND affiliate_id = $4")
        .bind(status)
        .bind(now)
        .bind(vendor_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    super::routing_changed();
    Ok(true)
}

/// One affiliate of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<AffiliateRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliates a WHERE a.vendor_id = $1 AND a.id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The affiliate with this email (case-insensitive) at a vendor.
pub async fn by_email<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    email: &str,
) -> Result<Option<AffiliateRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliates a WHERE a.vendor_id = $1 AND LOWER(a.email) = LOWER($2)"
    ))
    .bind(vendor_id)
    .bind(email)
    .fetch_optional(ex)
    .await
}

/// The affiliate that is the vendor's customer `customer_id` (the newest, if several).
pub async fn by_customer<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    customer_id: &str,
) -> Result<Option<AffiliateRow>, sqlx::Error> {
    // `+a.created_at`: no index can give that order, so SQLite looks the customer up in
    // `ix_affiliates__customer` and sorts its few rows. With the plain column it walked
    // the vendor's affiliates newest first through `ix_affiliates__vendor_created` for
    // the sort it saves (its statistics count every NULL customer as one value shared
    // by all affiliates): 105 ms at 100k affiliates for a customer that is none of them.
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliates a WHERE a.vendor_id = $1 AND a.customer_id = $2 \
          ORDER BY +a.created_at DESC LIMIT 1"
    ))
    .bind(vendor_id)
    .bind(customer_id)
    .fetch_optional(ex)
    .await
}

/// One page of a vendor's affiliates matching `filter`, in `sort` order.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    filter: &Filter<'_>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<Vec<AffiliateRow>, sqlx::Error> {
    let pattern = filter.search.map(like_pattern);
    // The page's ids first, then their rows: the skipped affiliates of a deep page are
    // index entries (`ix_affiliates__vendor_created` holds the id), not table rows. Only
    // the ORDER BY varies, and it comes from the closed `Sort` enum, never from input.
    filtered(
        concat!(
            "SELECT ",
            cols!(),
            " FROM affiliates a WHERE a.id IN (SELECT a.id FROM affiliates a"
        ),
        vendor_id,
        filter,
        pattern.as_deref(),
    )
    .push(" ORDER BY ")
    .push(sort.order_by())
    .push(" LIMIT ")
    .bind(limit)
    .push(" OFFSET ")
    .bind(offset)
    .push(") ORDER BY ")
    .push(sort.order_by())
    .fetch_all(ex)
    .await
}

/// A positive available balance of one program with its affiliate, for payout runs.
#[derive(Debug, Clone, FromRow)]
pub struct AvailableBalance {
    /// ISO 4217.
    pub balance_currency: String,
    /// Sum of the affiliate's `available` lines in the program and currency.
    pub balance_cents: i64,
    /// The affiliate.
    #[sqlx(flatten)]
    pub affiliate: AffiliateRow,
}

/// Every positive available balance of a program per (affiliate, currency), optionally in
/// one currency, with its affiliate: one statement, where a run used to look each
/// affiliate up on its own (47,315 look-ups at 100k affiliates). The sums are read from
/// the covering `ix_ledger_entries__program_available`.
pub async fn with_available_balance<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    currency: Option<&str>,
) -> Result<Vec<AvailableBalance>, sqlx::Error> {
    Sql::new(concat!(
        "SELECT b.currency AS balance_currency, b.total AS balance_cents, ",
        cols!(),
        " FROM (SELECT affiliate_id, currency, CAST(SUM(amount_cents) AS BIGINT) AS total \
         FROM ledger_entries WHERE vendor_id = "
    ))
    .bind(vendor_id)
    .and("program_id = ", program_id)
    .push(" AND account = 'available' AND affiliate_id IS NOT NULL")
    .and_eq("currency", currency)
    .push(
        " GROUP BY affiliate_id, currency HAVING SUM(amount_cents) > 0) b \
         JOIN affiliates a ON a.id = b.affiliate_id AND a.vendor_id = ",
    )
    .bind(vendor_id)
    .push(" ORDER BY a.id, b.currency")
    .fetch_all(ex)
    .await
}

/// Whether a vendor has any affiliate: one index probe (counting them to compare with zero
/// read all 100k of a large program, 61 ms on SQLite, on every overview).
pub async fn any<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM affiliates WHERE vendor_id = $1 LIMIT 1")
            .bind(vendor_id)
            .fetch_optional(ex)
            .await?;
    Ok(found.is_some())
}

/// How many of a vendor's affiliates match `filter`.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    filter: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    let pattern = filter.search.map(like_pattern);
    filtered(
        "SELECT COUNT(*) FROM affiliates a",
        vendor_id,
        filter,
        pattern.as_deref(),
    )
    .fetch_count(ex)
    .await
}

/// Enrolls an affiliate in a program; a taken code is a unique violation on `code`.
#[allow(clippy::too_many_arguments)]
pub async fn enroll<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: &str,
    code: &str,
    status: &str,
    commission_override: Option<&str>,
    terms_version: i64,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    let id = new_id("enr");
    sqlx::query(
        "INSERT INTO enrollments (id, vendor_id, affiliate_id, program_id, code, status, \
         commission_override, terms_version, created_at, updated_at, group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, \
         (SELECT g.id FROM partner_groups g WHERE g.program_id = $4 AND g.is_default = 1))",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(program_id)
    .bind(code)
    .bind(status)
    .bind(commission_override)
    .bind(terms_version)
    .bind(now)
    .execute(ex)
    .await?;
    // A code that was unknown a moment ago (and cached as such) now resolves.
    super::routing_changed();
    Ok(id)
}

/// Changes the referral code of one enrollment of a vendor; `false` when there is no such
/// enrollment. A code taken by any enrollment is a unique violation (`code`).
pub async fn set_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    enrollment_id: &str,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE enrollments SET code = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(code)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(enrollment_id)
    .execute(ex)
    .await?;
    // The old code is cached as resolving, the new one perhaps as unknown.
    super::routing_changed();
    Ok(done.rows_affected() == 1)
}

/// Sets (or clears) the commission override of all of an affiliate's enrollments.
pub async fn set_override<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    commission_override: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enrollments SET commission_override = $1, updated_at = $2 \
         WHERE vendor_id = $3 AND affiliate_id = $4",
    )
    .bind(commission_override)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(affiliate_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Moves enrollments to their program's current terms version: all of one program's
/// (`program_id`), or all of one affiliate's (`affiliate_id`). Returns how many moved.
pub async fn adopt_current_terms<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: Option<&str>,
    affiliate_id: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE enrollments SET terms_version = COALESCE(\
         (SELECT g.current_terms_version FROM partner_groups g WHERE g.id = enrollments.group_id \
         AND g.is_default = 0), \
         (SELECT p.current_terms_version FROM programs p WHERE p.id = enrollments.program_id)), \
         updated_at = $1 \
         WHERE vendor_id = $2 AND ($3 IS NULL OR program_id = $3) AND ($4 IS NULL OR affiliate_id = $4) \
         AND terms_version <> COALESCE(\
         (SELECT g.current_terms_version FROM partner_groups g WHERE g.id = enrollments.group_id \
         AND g.is_default = 0), \
         (SELECT p.current_terms_version FROM programs p WHERE p.id = enrollments.program_id))",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(program_id)
    .bind(affiliate_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a referral code is taken anywhere in the installation.
pub async fn code_taken<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM enrollments WHERE code = $1")
        .bind(code)
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

/// Enrollment rows with their program's name and the commission of their terms version
/// (terms versions are never changed once written, so reading them along is always right).
macro_rules! select_enrollment {
    () => {
        "SELECT e.id, e.affiliate_id, e.program_id, p.name AS program_name, e.code, e.status, \
         e.commission_override, e.terms_version, \
         CASE WHEN g.is_default = 0 THEN gt.commission ELSE t.commission END AS terms_commission, \
         e.group_id, g.name AS group_name, g.holding_period_days AS group_holding_period_days, \
         g.min_payout_cents AS group_min_payout_cents, e.created_at \
         FROM enrollments e JOIN programs p ON p.id = e.program_id \
         LEFT JOIN partner_groups g ON g.id = e.group_id \
         LEFT JOIN group_terms gt ON gt.group_id = e.group_id AND gt.version = e.terms_version \
         LEFT JOIN program_terms t ON t.vendor_id = e.vendor_id \
         AND t.program_id = e.program_id AND t.version = e.terms_version "
    };
}

/// The enrollments of some affiliates of a vendor, oldest first.
pub async fn enrollments<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_enrollment!(),
        "WHERE e.vendor_id = $1 AND e.affiliate_id = $2 ORDER BY e.created_at, e.id"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// The enrollments of several affiliates of a vendor in one statement (a list page or an
/// export chunk), oldest first, in affiliate order of appearance.
pub async fn enrollments_of_many<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_ids: &[&str],
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    if affiliate_ids.is_empty() {
        return Ok(Vec::new());
    }
    Sql::new(select_enrollment!())
        .push("WHERE e.vendor_id = ")
        .bind(vendor_id)
        .and_in("e.affiliate_id", affiliate_ids)
        .push(" ORDER BY e.created_at, e.id")
        .fetch_all(ex)
        .await
}

/// One enrollment of a vendor.
pub async fn enrollment_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_enrollment!(),
        "WHERE e.vendor_id = $1 AND e.id = $2"
    ))
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// An affiliate's enrollment in one program.
pub async fn enrollment_in<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: &str,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select_enrollment!(),
        "WHERE e.vendor_id = $1 AND e.affiliate_id = $2 AND e.program_id = $3"
    ))
    .bind(vendor_id)
    .bind(affiliate_id)
    .bind(program_id)
    .fetch_optional(ex)
    .await
}

/// The affiliate a provisioning integration knows as `external_id` (kernel provisioning).
pub async fn by_external<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    external_source: &str,
    external_id: &str,
) -> Result<Option<AffiliateRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM affiliates a WHERE a.vendor_id = $1 AND a.external_source = $2 \
          AND a.external_id = $3"
    ))
    .bind(vendor_id)
    .bind(external_source)
    .bind(external_id)
    .fetch_optional(ex)
    .await
}

/// Stamps an integration's ids onto an affiliate that has no external id yet; `false` when
/// it has one by now (a concurrent call stamped it first).
pub async fn stamp_external<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    external_source: &str,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE affiliates SET external_source = $1, external_id = $2, updated_at = $3 \
         WHERE vendor_id = $4 AND id = $5 AND external_id IS NULL",
    )
    .bind(external_source)
    .bind(external_id)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

//! Programs and their versioned commission terms.

use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// A program as stored, with the JSON of its current terms.
#[derive(Debug, Clone, FromRow)]
pub struct ProgramRow {
    /// `prg_...`
    pub id: String,
    /// Owning vendor.
    pub vendor_id: String,
    /// Display name.
    pub name: String,
    /// URL-safe name, unique per vendor.
    pub slug: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Where referral links land by default.
    pub landing_url: Option<String>,
    /// `active`, `paused` or `archived`.
    pub status: String,
    /// 1 for the vendor's default program.
    pub is_default: i64,
    /// Days a commission stays pending before it becomes payable.
    pub holding_period_days: i64,
    /// Smallest balance paid out, minor units.
    pub min_payout_cents: i64,
    /// Lifetime of the referral cookie.
    pub cookie_duration_days: i64,
    /// `first_touch` or `last_touch`.
    pub attribution_model: String,
    /// Days after a click in which a signup is attributed.
    pub attribution_window_days: i64,
    /// 1 when applications are approved on submission.
    pub auto_approve: i64,
    /// 1 when affiliates may refer themselves.
    pub allow_self_referral: i64,
    /// Terms shown on the application form.
    pub terms_text: String,
    /// Version of the current commission terms.
    pub current_terms_version: i64,
    /// JSON array of extra host names links may point to (`*.` prefix: any subdomain).
    pub allowed_domains: String,
    /// `every_payment`, `first_payment` or `event`.
    pub conversion_kind: String,
    /// The event type that converts when `conversion_kind` is `event`.
    pub conversion_event: Option<String>,
    /// Stripe's webhook signing secret; write-only, never rendered.
    pub stripe_webhook_secret: Option<String>,
    /// Stripe secret key for Connect transfers (never shown).
    pub stripe_secret_key: Option<String>,
    /// Paddle Billing's notification secret; write-only, never rendered.
    pub paddle_webhook_secret: Option<String>,
    /// Lemon Squeezy's webhook signing secret; write-only, never rendered.
    pub lemonsqueezy_webhook_secret: Option<String>,
    /// Polar's webhook secret; write-only, never rendered.
    pub polar_webhook_secret: Option<String>,
    /// The basic-auth user name Chargebee's webhook sends; write-only, never rendered.
    pub chargebee_webhook_username: Option<String>,
    /// The basic-auth password Chargebee's webhook sends; write-only, never rendered.
    pub chargebee_webhook_password: Option<String>,
    /// Platform fee per payout, basis points.
    pub platform_fee_bps: i64,
    /// Monthly payout day (1-28), if payouts run on a schedule.
    pub payout_day: Option<i64>,
    /// 1 when payouts wait for the affiliate's tax details.
    pub require_tax_details: i64,
    /// Caps JSON (`{}`: none; see `domain::partners::caps`).
    pub caps: String,
    /// Goal bonuses JSON (`{}`: none).
    pub goal_bonuses: String,
    /// Fraud rules JSON (`{}`: every rule off; see `domain::partners::fraud_rules`).
    pub fraud_rules: String,
    /// The current terms' JSON.
    pub commission: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// The settings columns written on insert and update.
#[derive(Debug, Clone)]
pub struct ProgramColumns<'a> {
    /// Display name.
    pub name: &'a str,
    /// URL-safe name.
    pub slug: &'a str,
    /// ISO 4217 currency.
    pub currency: &'a str,
    /// Default landing page.
    pub landing_url: Option<&'a str>,
    /// `active`, `paused` or `archived`.
    pub status: &'a str,
    /// Holding period.
    pub holding_period_days: i64,
    /// Payout threshold.
    pub min_payout_cents: i64,
    /// Cookie lifetime.
    pub cookie_duration_days: i64,
    /// Attribution model.
    pub attribution_model: &'a str,
    /// Attribution window.
    pub attribution_window_days: i64,
    /// Auto-approve applications.
    pub auto_approve: bool,
    /// Allow self-referrals.
    pub allow_self_referral: bool,
    /// Application-form terms.
    pub terms_text: &'a str,
    /// JSON array of extra link host names.
    pub allowed_domains: &'a str,
    /// What counts as a conversion.
    pub conversion_kind: &'a str,
    /// The converting event type (`conversion_kind` `event`).
    pub conversion_event: Option<&'a str>,
    /// Platform fee per payout, basis points.
    pub platform_fee_bps: i64,
    /// Monthly payout day.
    pub payout_day: Option<i64>,
    /// Caps JSON.
    pub caps: &'a str,
    /// Goal bonuses JSON.
    pub goal_bonuses: &'a str,
}

macro_rules! select {
    () => {
        "SELECT p.id, p.vendor_id, p.name, p.slug, p.currency, p.landing_url, p.status, \
         p.is_default, p.holding_period_days, p.min_payout_cents, p.cookie_duration_days, \
         p.attribution_model, p.attribution_window_days, p.auto_approve, p.allow_self_referral, \
         p.terms_text, p.current_terms_version, p.allowed_domains, p.conversion_kind, \
         p.conversion_event, p.stripe_webhook_secret, p.stripe_secret_key, p.platform_fee_bps, \
         p.payout_day, p.caps, p.goal_bonuses, p.fraud_rules, p.require_tax_details, p.paddle_webhook_secret, p.lemonsqueezy_webhook_secret, \
         p.polar_webhook_secret, p.chargebee_webhook_username, p.chargebee_webhook_password, \
         t.commission, p.created_at, p.updated_at \
         FROM programs p JOIN program_terms t \
         ON t.program_id = p.id AND t.version = p.current_terms_version "
    };
}

/// Inserts a program with version 1 of its terms; returns its id.
pub async fn insert(
    conn: &mut Conn,
    vendor_id: &str,
    c: &ProgramColumns<'_>,
    is_default: bool,
    commission: &str,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    let id = new_id("prg");
    sqlx::query(
        "INSERT INTO programs (id, vendor_id, name, slug, currency, landing_url, status, is_default, \
         holding_period_days, min_payout_cents, cookie_duration_days, attribution_model, \
         attribution_window_days, auto_approve, allow_self_referral, terms_text, allowed_domains, \
         conversion_kind, conversion_event, platform_fee_bps, payout_day, current_terms_version, \
         created_at, updated_at, caps, goal_bonuses) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, 1, $22, $22, $23, $24)",
    )
    .bind(&id)
    .bind(vendor_id)
    .bind(c.name)
    .bind(c.slug)
    .bind(c.currency)
    .bind(c.landing_url)
    .bind(c.status)
    .bind(i64::from(is_default))
    .bind(c.holding_period_days)
    .bind(c.min_payout_cents)
    .bind(c.cookie_duration_days)
    .bind(c.attribution_model)
    .bind(c.attribution_window_days)
    .bind(i64::from(c.auto_approve))
    .bind(i64::from(c.allow_self_referral))
    .bind(c.terms_text)
    .bind(c.allowed_domains)
    .bind(c.conversion_kind)
    .bind(c.conversion_event)
    .bind(c.platform_fee_bps)
    .bind(c.payout_day)
    .bind(now)
    .bind(c.caps)
    .bind(c.goal_bonuses)
    .execute(&mut *conn)
    .await?;
    insert_terms(conn, vendor_id, &id, 1, commission).await?;
    // Everybody enrolled in the program starts in its default group.
    super::groups::insert_default(conn, vendor_id, &id, now).await?;
    Ok(id)
}

async fn insert_terms(
    conn: &mut Conn,
    vendor_id: &str,
    program_id: &str,
    version: i64,
    commission: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO program_terms (program_id, version, vendor_id, commission, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(program_id)
    .bind(version)
    .bind(vendor_id)
    .bind(commission)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the settings columns of a vendor's program; `false` if there is no such program.
pub async fn update(
    conn: &mut Conn,
    vendor_id: &str,
    id: &str,
    c: &ProgramColumns<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE programs SET name = $1, slug = $2, currency = $3, landing_url = $4, status = $5, \
         holding_period_days = $6, min_payout_cents = $7, cookie_duration_days = $8, \
         attribution_model = $9, attribution_window_days = $10, auto_approve = $11, \
         allow_self_referral = $12, terms_text = $13, allowed_domains = $14, \
         conversion_kind = $15, conversion_event = $16, platform_fee_bps = $17, \
         payout_day = $18, updated_at = $19, caps = $22, goal_bonuses = $23 \
         WHERE vendor_id = $20 AND id = $21",
    )
    .bind(c.name)
    .bind(c.slug)
    .bind(c.currency)
    .bind(c.landing_url)
    .bind(c.status)
    .bind(c.holding_period_days)
    .bind(c.min_payout_cents)
    .bind(c.cookie_duration_days)
    .bind(c.attribution_model)
    .bind(c.attribution_window_days)
    .bind(i64::from(c.auto_approve))
    .bind(i64::from(c.allow_self_referral))
    .bind(c.terms_text)
    .bind(c.allowed_domains)
    .bind(c.conversion_kind)
    .bind(c.conversion_event)
    .bind(c.platform_fee_bps)
    .bind(c.payout_day)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .bind(c.caps)
    .bind(c.goal_bonuses)
    .execute(&mut *conn)
    .await?;
    super::routing_changed();
    Ok(done.rows_affected() == 1)
}

/// Replaces the fraud rules (JSON) of a vendor's program.
pub async fn set_fraud_rules<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    rules: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE programs SET fraud_rules = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(rules)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Sets whether payouts of the program wait for the affiliate's tax details.
pub async fn set_require_tax_details<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    required: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE programs SET require_tax_details = $1, updated_at = $2 \
         WHERE vendor_id = $3 AND id = $4",
    )
    .bind(i64::from(required))
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Takes the program's payout lock for the caller's transaction: concurrent runs of one
/// program (several instances on PostgreSQL) wait here and then see each other's postings.
/// SQLite's write transaction is exclusive already.
pub async fn lock_for_payouts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE programs SET updated_at = updated_at WHERE vendor_id = $1 AND id = $2")
            .bind(vendor_id)
            .bind(program_id)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Programs with a payout day, across vendors (the scheduler).
pub async fn scheduled_programs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor_id, id, payout_day FROM programs \
         WHERE payout_day IS NOT NULL AND status = 'active' ORDER BY id",
    )
    .fetch_all(ex)
    .await
}

/// Sets or removes a program's Stripe secret key (Connect payouts).
pub async fn set_stripe_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    key: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE programs SET stripe_secret_key = $1, updated_at = $2 WHERE vendor_id = $3 AND id = $4",
    )
    .bind(key)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Adds the next version of a program's terms and makes it current; returns the version.
/// The increment happens in the UPDATE, so concurrent edits get distinct versions.
pub async fn add_terms_version(
    conn: &mut Conn,
    vendor_id: &str,
    id: &str,
    commission: &str,
) -> Result<i64, sqlx::Error> {
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE programs SET current_terms_version = current_terms_version + 1, updated_at = $1 \
         WHERE vendor_id = $2 AND id = $3 RETURNING current_terms_version",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    insert_terms(conn, vendor_id, id, version, commission).await?;
    Ok(version)
}

/// One program of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE p.vendor_id = $1 AND p.id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The program of one of the vendor's referral codes (lower case): what
/// `links::resolve_code` then [`by_id`] find, in one statement (billing events name their
/// program by the code in their metadata, once per event).
pub async fn by_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    code: &str,
) -> Result<Option<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "JOIN enrollments e ON e.program_id = p.id \
         WHERE e.code = $1 AND e.vendor_id = $2 AND p.vendor_id = $2"
    ))
    .bind(code)
    .bind(vendor_id)
    .fetch_optional(ex)
    .await
}

/// One program of a vendor by slug.
pub async fn by_slug<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    slug: &str,
) -> Result<Option<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE p.vendor_id = $1 AND p.slug = $2"))
        .bind(vendor_id)
        .bind(slug)
        .fetch_optional(ex)
        .await
}

/// The vendor's default program.
pub async fn default_for<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Option<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE p.vendor_id = $1 ORDER BY p.is_default DESC, p.created_at LIMIT 1"
    ))
    .bind(vendor_id)
    .fetch_optional(ex)
    .await
}

/// One page of the vendor's programs, default first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE p.vendor_id = $1 ORDER BY p.is_default DESC, p.created_at, p.id LIMIT $2 OFFSET $3"
    ))
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// Every program of the vendor, default first (no page size: for filters, menus and runs).
pub async fn all<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE p.vendor_id = $1 ORDER BY p.is_default DESC, p.created_at, p.id"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// How many programs a vendor has.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM programs WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// Landing URLs and extra domains of every active program (all vendors): the origins a
/// browser may call the public click API from.
pub async fn active_link_domains<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(Option<String>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT landing_url, allowed_domains FROM programs WHERE status = 'active'")
        .fetch_all(ex)
        .await
}

/// Sets or clears the program's Stripe webhook signing secret.
pub async fn set_stripe_secret<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    secret: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE programs SET stripe_webhook_secret = $1, updated_at = $2 \
         WHERE vendor_id = $3 AND id = $4",
    )
    .bind(secret)
    .bind(now_ms())
    .bind(vendor_id)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A write-only credential column of a billing provider's webhook door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderCredential {
    /// `paddle_webhook_secret`.
    PaddleSecret,
    /// `lemonsqueezy_webhook_secret`.
    LemonSqueezySecret,
    /// `polar_webhook_secret`.
    PolarSecret,
    /// `chargebee_webhook_username`.
    ChargebeeUsername,
    /// `chargebee_webhook_password`.
    ChargebeePassword,
}

/// Sets or clears one provider credential of a program.
pub async fn set_provider_credential<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    column: ProviderCredential,
    value: Option<&str>,
) -> Result<bool, sqlx::Error> {
    // One static statement per column (no column name is ever spliced into SQL).
    let sql = match column {
        ProviderCredential::PaddleSecret => {
            "UPDATE programs SET paddle_webhook_secret = $1, updated_at = $2 \
             WHERE vendor_id = $3 AND id = $4"
        }
        ProviderCredential::LemonSqueezySecret => {
            "UPDATE programs SET lemonsqueezy_webhook_secret = $1, updated_at = $2 \
             WHERE vendor_id = $3 AND id = $4"
        }
        ProviderCredential::PolarSecret => {
            "UPDATE programs SET polar_webhook_secret = $1, updated_at = $2 \
             WHERE vendor_id = $3 AND id = $4"
        }
        ProviderCredential::ChargebeeUsername => {
            "UPDATE programs SET chargebee_webhook_username = $1, updated_at = $2 \
             WHERE vendor_id = $3 AND id = $4"
        }
        ProviderCredential::ChargebeePassword => {
            "UPDATE programs SET chargebee_webhook_password = $1, updated_at = $2 \
             WHERE vendor_id = $3 AND id = $4"
        }
    };
    let done = sqlx::query(sql)
        .bind(value)
        .bind(now_ms())
        .bind(vendor_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A program by id alone (the Stripe webhook URL carries only the program id; the program
/// names its vendor).
pub async fn by_id_any_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

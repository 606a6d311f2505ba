//! Vendors (tenants), their portal domains and the installation's first-run claim.

use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// A vendor as stored.
#[derive(Debug, Clone, FromRow)]
pub struct VendorRow {
    /// `ven_...`
    pub id: String,
    /// Display name.
    pub name: String,
    /// URL-safe unique name, used in `/p/{slug}`.
    pub slug: String,
    /// ISO 4217 currency of new programs.
    pub default_currency: String,
    /// Brand colour as `#rrggbb`.
    pub primary_color: String,
    /// Reply-To of vendor emails, if set.
    pub support_email: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Name shown on the portal and in emails; the vendor name when `None`.
    pub portal_name: Option<String>,
    /// When the current logo was stored (unix ms; also its cache-buster); `None` without one.
    pub logo_version: Option<i64>,
    /// JSON array of origins allowed to frame the embeds.
    pub embed_origins: String,
    /// JSON array of origins allowed to call the publishable-key endpoints from a browser.
    pub site_origins: String,
}

impl VendorRow {
    /// The name the portal and emails show.
    pub fn display_name(&self) -> &str {
        self.portal_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.name)
    }

    /// The affiliate program named mid-sentence: the portal name when the vendor set one
    /// ("Acme Partners" already names the program), else "the {name} partner program".
    /// Sentences use it after "to", "of", "join" so no article has to be guessed for a
    /// name ("a Acme Partners partner").
    pub fn program_phrase(&self) -> String {
        match self.portal_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => format!("the {} partner program", self.name),
        }
    }

    /// Origins allowed to frame the embeds (validated when stored).
    pub fn embed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.embed_origins).unwrap_or_default()
    }

    /// Origins allowed to call the publishable-key endpoints (validated when stored).
    pub fn site_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.site_origins).unwrap_or_default()
    }
}

macro_rules! cols {
    () => {
        "id, name, slug, default_currency, primary_color, support_email, created_at, \
         portal_name, logo_version, embed_origins, site_origins"
    };
}

/// Inserts a vendor and returns it.
pub async fn insert(
    conn: &mut Conn,
    name: &str,
    slug: &str,
    currency: &str,
) -> Result<VendorRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO vendors (id, name, slug, default_currency, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
        cols!()
    ))
    .bind(new_id("ven"))
    .bind(name)
    .bind(slug)
    .bind(currency)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The vendor with this id.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", cols!(), " FROM vendors WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The vendor with this slug (slugs are stored lower case).
pub async fn by_slug<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    slug: &str,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", cols!(), " FROM vendors WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(ex)
        .await
}

/// A vendor read together with one of its portal domains.
#[derive(Debug, Clone, FromRow)]
struct VendorOnHost {
    #[sqlx(flatten)]
    vendor: VendorRow,
    host_last_seen_at: Option<i64>,
}

/// The vendor whose portal is served on `host` (lower case, no port), and when a request
/// for that host was last recorded. Only a verified domain serves a portal: a pending
/// claim answers nothing.
pub async fn by_portal_host<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    host: &str,
) -> Result<Option<(VendorRow, Option<i64>)>, sqlx::Error> {
    let row: Option<VendorOnHost> = sqlx::query_as(
        "SELECT v.id, v.name, v.slug, v.default_currency, v.primary_color, v.support_email, \
         v.created_at, v.portal_name, v.logo_version, v.embed_origins, v.site_origins, \
         d.last_seen_at AS host_last_seen_at \
         FROM vendors v JOIN vendor_domains d ON d.vendor_id = v.id \
         WHERE d.host = $1 AND d.verified_at IS NOT NULL",
    )
    .bind(host)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| (r.vendor, r.host_last_seen_at)))
}

/// Records that a request for `host` arrived at `now` (the dashboard shows it, so a vendor
/// can tell that its DNS record works).
pub async fn touch_domain<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    host: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vendor_domains SET last_seen_at = $1 WHERE host = $2 AND verified_at IS NOT NULL",
    )
    .bind(now)
    .bind(host)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether any vendor exists yet.
pub async fn any_exists<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM vendors LIMIT 1")
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

/// Whether a slug is taken.
pub async fn slug_taken(conn: &mut Conn, slug: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM vendors WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Claims the installation for the first-run setup; `false` if it was claimed before.
/// The unique primary key makes two concurrent setups end with exactly one winner.
pub async fn claim_installation(conn: &mut Conn) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO installation (id, setup_at) VALUES (1, $1) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(now_ms())
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Adds a portal host name for a vendor with its verification token; `verified_at` set
/// means it serves at once (an operator vouched for it). The vendor already listing the
/// host, or another vendor holding it verified, is a unique violation.
pub async fn add_domain(
    conn: &mut Conn,
    vendor_id: &str,
    host: &str,
    token: &str,
    verified_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vendor_domains (id, vendor_id, host, created_at, verification_token, \
         verified_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id("dom"))
    .bind(vendor_id)
    .bind(host)
    .bind(now_ms())
    .bind(token)
    .bind(verified_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The verified portal host names of a vendor: the ones that serve its portal and that
/// links and emails may point at.
pub async fn domains<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT host FROM vendor_domains WHERE vendor_id = $1 AND verified_at IS NOT NULL \
         ORDER BY host",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// Every portal host name a vendor lists, pending ones included (its settings).
pub async fn all_domains<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT host FROM vendor_domains WHERE vendor_id = $1 ORDER BY host")
            .bind(vendor_id)
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// Every vendor's id (installation-wide tasks such as `affilia ledger verify`).
pub async fn all_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM vendors ORDER BY id")
        .fetch_all(ex)
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The branding and origin columns of a vendor, as [`update_settings`] writes them.
#[derive(Debug, Clone)]
pub struct SettingsColumns<'a> {
    /// Name shown on the portal and in emails; `None`: the vendor name.
    pub portal_name: Option<&'a str>,
    /// `#rrggbb`.
    pub primary_color: &'a str,
    /// Reply-To of vendor emails.
    pub support_email: Option<&'a str>,
    /// JSON array of normalised origins that may frame the embeds.
    pub embed_origins: &'a str,
    /// JSON array of normalised origins that may call the publishable-key endpoints.
    pub site_origins: &'a str,
}

/// Writes a vendor's branding and origins.
pub async fn update_settings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    s: &SettingsColumns<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vendors SET portal_name = $1, primary_color = $2, support_email = $3, \
         embed_origins = $4, site_origins = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(s.portal_name)
    .bind(s.primary_color)
    .bind(s.support_email)
    .bind(s.embed_origins)
    .bind(s.site_origins)
    .bind(now_ms())
    .bind(vendor_id)
    .execute(ex)
    .await?;
    // Site origins are part of what the click API checks for a code.
    super::routing_changed();
    Ok(())
}

/// A portal domain with its bookkeeping.
#[derive(Debug, Clone, FromRow)]
pub struct DomainRow {
    /// Host name, lower case, no port.
    pub host: String,
    /// When it was added, unix ms.
    pub created_at: i64,
    /// When a request for it was last recorded (at most once a minute), unix ms.
    pub last_seen_at: Option<i64>,
    /// The token its TXT record must carry; `None` for domains verified before tokens
    /// existed.
    pub verification_token: Option<String>,
    /// When its owner proved control (or an operator vouched for it), unix ms; `None`
    /// while pending.
    pub verified_at: Option<i64>,
    /// When the server last looked for its TXT record, unix ms.
    pub checked_at: Option<i64>,
}

/// The portal domains of a vendor, pending ones included, in host order.
pub async fn domain_rows<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT host, created_at, last_seen_at, verification_token, verified_at, checked_at \
         FROM vendor_domains WHERE vendor_id = $1 ORDER BY host",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// The vendor holding a portal host verified, if any (pending claims hold nothing).
pub async fn domain_owner<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    host: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT vendor_id FROM vendor_domains WHERE host = $1 AND verified_at IS NOT NULL",
    )
    .bind(host)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(v,)| v))
}

/// One of the vendor's portal domains, pending or verified.
pub async fn domain_row<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    host: &str,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT host, created_at, last_seen_at, verification_token, verified_at, checked_at \
         FROM vendor_domains WHERE vendor_id = $1 AND host = $2",
    )
    .bind(vendor_id)
    .bind(host)
    .fetch_optional(ex)
    .await
}

/// Marks the vendor's pending claim on `host` verified at `now` and drops other vendors'
/// pending claims on it (they can never verify now). `false` when the vendor has no
/// pending claim; another vendor verifying first is a unique violation.
pub async fn mark_verified(
    conn: &mut Conn,
    vendor_id: &str,
    host: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE vendor_domains SET verified_at = $1, checked_at = $1 \
         WHERE vendor_id = $2 AND host = $3 AND verified_at IS NULL",
    )
    .bind(now)
    .bind(vendor_id)
    .bind(host)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    drop_other_claims(conn, vendor_id, host).await?;
    Ok(true)
}

/// Deletes other vendors' pending claims on `host` (once it is verified they can never
/// verify).
pub async fn drop_other_claims(
    conn: &mut Conn,
    vendor_id: &str,
    host: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM vendor_domains WHERE host = $1 AND vendor_id <> $2 AND verified_at IS NULL",
    )
    .bind(host)
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that the TXT record of the vendor's pending `host` was looked for at `now`.
pub async fn mark_checked<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    host: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vendor_domains SET checked_at = $1 \
         WHERE vendor_id = $2 AND host = $3 AND verified_at IS NULL",
    )
    .bind(now)
    .bind(vendor_id)
    .bind(host)
    .execute(ex)
    .await?;
    Ok(())
}

/// The vendors with a pending claim on `host`.
pub async fn pending_claims<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    host: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT vendor_id FROM vendor_domains WHERE host = $1 AND verified_at IS NULL \
         ORDER BY vendor_id",
    )
    .bind(host)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

/// A pending claim the worker may re-check.
#[derive(Debug, Clone, FromRow)]
pub struct PendingDomain {
    /// The claiming vendor.
    pub vendor_id: String,
    /// Host name.
    pub host: String,
    /// The token its TXT record must carry.
    pub verification_token: Option<String>,
}

/// Pending claims added after `added_after` and not looked at since `checked_before`,
/// oldest check first, at most `limit` (installation-wide: the worker's re-check).
pub async fn pending_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    added_after: i64,
    checked_before: i64,
    limit: i64,
) -> Result<Vec<PendingDomain>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vendor_id, host, verification_token FROM vendor_domains \
         WHERE verified_at IS NULL AND created_at > $1 \
         AND (checked_at IS NULL OR checked_at < $2) \
         ORDER BY checked_at NULLS FIRST, created_at LIMIT $3",
    )
    .bind(added_after)
    .bind(checked_before)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Makes `hosts` the vendor's portal domains: dropped ones are deleted (a released domain
/// must be proven again by whoever claims it next), new ones inserted pending with a token
/// from `new_token`, kept ones left alone (so their times and verification stay).
pub async fn replace_domains(
    conn: &mut Conn,
    vendor_id: &str,
    hosts: &[String],
    new_token: impl Fn() -> String,
) -> Result<(), sqlx::Error> {
    let current = all_domains(&mut *conn, vendor_id).await?;
    for host in current.iter().filter(|h| !hosts.contains(h)) {
        sqlx::query("DELETE FROM vendor_domains WHERE vendor_id = $1 AND host = $2")
            .bind(vendor_id)
            .bind(host)
            .execute(&mut *conn)
            .await?;
    }
    for host in hosts.iter().filter(|h| !current.contains(h)) {
        add_domain(conn, vendor_id, host, &new_token(), None).await?;
    }
    Ok(())
}

/// A stored logo.
#[derive(Debug, Clone, FromRow)]
pub struct LogoRow {
    /// `image/png`, `image/jpeg` or `image/svg+xml`.
    pub content_type: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub data: String,
    /// When it was stored, unix ms; equals `vendors.logo_version`.
    pub updated_at: i64,
}

/// The vendor's logo, if it has one.
pub async fn logo<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Option<LogoRow>, sqlx::Error> {
    sqlx::query_as("SELECT content_type, data, updated_at FROM vendor_logos WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_optional(ex)
        .await
}

/// Stores (or replaces) the vendor's logo and sets `vendors.logo_version` to its time,
/// which always moves forward so a cached old logo is never served under the new URL.
/// Returns the new version.
pub async fn put_logo(
    conn: &mut Conn,
    vendor_id: &str,
    content_type: &str,
    data_base64: &str,
) -> Result<i64, sqlx::Error> {
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE vendors SET logo_version = CASE WHEN logo_version IS NOT NULL \
         AND logo_version >= $1 THEN logo_version + 1 ELSE $1 END, updated_at = $1 \
         WHERE id = $2 RETURNING logo_version",
    )
    .bind(now_ms())
    .bind(vendor_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO vendor_logos (vendor_id, content_type, data, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (vendor_id) DO UPDATE SET \
         content_type = excluded.content_type, data = excluded.data, \
         updated_at = excluded.updated_at",
    )
    .bind(vendor_id)
    .bind(content_type)
    .bind(data_base64)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(version)
}

/// Removes the vendor's logo and clears `vendors.logo_version`; `false` if it had none.
pub async fn delete_logo(conn: &mut Conn, vendor_id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM vendor_logos WHERE vendor_id = $1")
        .bind(vendor_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE vendors SET logo_version = NULL, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(vendor_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether any vendor lists `origin` (normalised, as stored) among its site origins. The
/// JSON text is matched with `LIKE` first and confirmed exactly by the caller's parse; a
/// normalised origin holds no `%`, `_` or quote, so the pattern cannot match wider.
pub async fn site_origin_candidates<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    origin: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT site_origins FROM vendors WHERE site_origins LIKE $1 LIMIT 20")
            .bind(format!("%\"{origin}\"%"))
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|(s,)| s).collect())
}

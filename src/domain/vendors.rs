//! Creating vendors (first-run setup and `affilia admin create-vendor`) and their portal
//! domains.

use serde_json::json;

use crate::db::{self, Db, users::UserRow, vendors::VendorRow};
use crate::domain::audit::{self, Actor};
use crate::domain::{Currency, Email, password, programs, slug, text};
use crate::error::{AppError, AppResult};

/// What a new vendor needs, as typed by a person (validated by [`create`]).
#[derive(Debug, Clone, Default)]
pub struct NewVendor {
    /// Vendor (company or product) name.
    pub name: String,
    /// The owner's sign-in email.
    pub owner_email: String,
    /// The owner's password.
    pub owner_password: String,
    /// ISO 4217 currency of the default program; empty means USD.
    pub currency: String,
}

/// Where a vendor is being created from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The first-run setup page: allowed only while the installation has no vendor.
    FirstRunSetup,
    /// The command line: allowed any time (several vendors may share an installation).
    Cli,
}

/// The vendor, its owner and its default program.
#[derive(Debug, Clone)]
pub struct CreatedVendor {
    /// The vendor.
    pub vendor: VendorRow,
    /// Its owner account.
    pub owner: UserRow,
    /// Id of its default program (20 % of each payment).
    pub program_id: String,
}

const SLUG_MAX: usize = 40;

/// Creates a vendor, its owner and a default program with 20 % percentage terms, in one
/// transaction. The setup origin fails with 409 once the installation has been set up.
pub async fn create(db: &Db, input: NewVendor, origin: Origin) -> AppResult<CreatedVendor> {
    let name = text::required("name", &input.name, text::NAME_MAX)?;
    let email = Email::parse("owner_email", &input.owner_email)?;
    password::check_policy("owner_password", &input.owner_password)?;
    let currency = if input.currency.trim().is_empty() {
        Currency::parse("currency", "USD")?
    } else {
        Currency::parse("currency", &input.currency)?
    };
    // Hash before the transaction: it takes tens of milliseconds and holds no lock.
    let password_hash = password::hash(input.owner_password).await?;

    let mut tx = db.begin().await?;
    let claimed = db::vendors::claim_installation(&mut tx).await?;
    if origin == Origin::FirstRunSetup && !claimed {
        return Err(AppError::wrong_state(
            "this installation has already been set up",
        ));
    }
    if db::users::by_email(&mut *tx, email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::duplicate(
            "owner_email",
            "a staff account with this email already exists",
        ));
    }
    let slug = free_slug(&mut tx, &name).await?;
    let vendor = db::vendors::insert(&mut tx, &name, &slug, currency.as_str()).await?;
    let owner = db::users::insert(
        &mut *tx,
        &vendor.id,
        email.as_str(),
        "",
        &password_hash,
        "owner",
    )
    .await?;
    let program_id =
        programs::create_default(&mut tx, &vendor.id, &name, currency.as_str()).await?;
    let actor = match origin {
        Origin::FirstRunSetup => Actor::User(owner.id.clone()),
        Origin::Cli => Actor::Cli,
    };
    audit::record(
        &mut *tx,
        &vendor.id,
        &actor,
        "vendor.created",
        ("vendor", Some(&vendor.id)),
        json!({"name": name, "slug": slug, "owner_email": email.as_str(), "program_id": program_id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(vendor_id = %vendor.id, slug = %vendor.slug, "vendor created");
    Ok(CreatedVendor {
        vendor,
        owner,
        program_id,
    })
}

/// A slug derived from the name, with a random suffix when the plain one is taken.
async fn free_slug(conn: &mut db::Conn, name: &str) -> AppResult<String> {
    let base = slug::slugify(name, SLUG_MAX, "vendor");
    if !db::vendors::slug_taken(conn, &base).await? {
        return Ok(base);
    }
    for _ in 0..8 {
        let candidate = format!("{base}-{}", slug::random_suffix(4));
        if !db::vendors::slug_taken(conn, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::duplicate(
        "name",
        "could not find a free slug for this name",
    ))
}

/// Looks a vendor up by id or slug (command-line convenience).
pub async fn find(db: &Db, id_or_slug: &str) -> AppResult<VendorRow> {
    let found = match db::vendors::by_id(db.pool(), id_or_slug).await? {
        Some(v) => Some(v),
        None => db::vendors::by_slug(db.pool(), &id_or_slug.to_ascii_lowercase()).await?,
    };
    found.ok_or(AppError::NotFound)
}

/// Validates a portal host name: lower-case DNS labels, at least one dot, no port.
pub fn parse_host(field: &str, raw: &str) -> AppResult<String> {
    let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(host)
    } else {
        Err(AppError::invalid(
            field,
            "not a valid host name, e.g. affiliates.example.com",
        ))
    }
}

/// Serves the vendor's portal on `host` as well. A host used by another vendor or
/// configured as a dashboard host is refused.
pub async fn add_portal_domain(
    db: &Db,
    dashboard_hosts: &[String],
    vendor_id: &str,
    host: &str,
    actor: &Actor,
) -> AppResult<String> {
    let host = parse_host("host", host)?;
    if dashboard_hosts.contains(&host) {
        return Err(AppError::invalid("host", "this host serves the dashboard"));
    }
    let mut tx = db.begin().await?;
    db::vendors::add_domain(&mut tx, vendor_id, &host)
        .await
        .map_err(|e| match db::unique_violation_field(&e) {
            Some(_) => AppError::duplicate("host", "this host is already in use"),
            None => e.into(),
        })?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.domain_added",
        ("vendor", Some(vendor_id)),
        json!({"host": host}),
    )
    .await?;
    tx.commit().await?;
    Ok(host)
}

/// The root URL of a vendor's portal, ending in `/`: its first custom domain if it has
/// one, else `{base}/p/{slug}/` on the main host.
pub async fn portal_url(
    conn: &mut db::Conn,
    base_url: &str,
    vendor: &VendorRow,
) -> AppResult<String> {
    let domains = db::vendors::domains(&mut *conn, &vendor.id).await?;
    Ok(portal_url_from(
        base_url,
        &vendor.slug,
        domains.first().map(String::as_str),
    ))
}

/// [`portal_url`] from already loaded parts.
pub fn portal_url_from(base_url: &str, slug: &str, domain: Option<&str>) -> String {
    match domain {
        Some(_) => format!("{}/", site_root(base_url, domain)),
        None => format!("{}/p/{slug}/", site_root(base_url, None)),
    }
}

/// `scheme://host` of the vendor's portal domain when it has one (same scheme, and same
/// explicit port, as the base URL: one server answers every host on its port), else the
/// base URL without a trailing slash.
pub fn site_root(base_url: &str, domain: Option<&str>) -> String {
    let base = base_url.trim_end_matches('/');
    match domain {
        Some(host) => {
            let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
            let authority = rest.split('/').next().unwrap_or_default();
            // An explicit port follows the last ':' unless that is inside an IPv6 literal.
            let port = authority
                .rsplit_once(':')
                .filter(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .map(|(_, p)| p);
            match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_root_keeps_scheme_and_explicit_port() {
        let d = Some("affiliates.acme.com");
        assert_eq!(
            site_root("https://app.example.com/", d),
            "https://affiliates.acme.com"
        );
        assert_eq!(
            site_root("http://localhost:8080", d),
            "http://affiliates.acme.com:8080"
        );
        assert_eq!(
            site_root("http://[::1]:9000", d),
            "http://affiliates.acme.com:9000"
        );
        assert_eq!(site_root("http://[::1]", d), "http://affiliates.acme.com");
        assert_eq!(
            site_root("https://app.example.com/", None),
            "https://app.example.com"
        );
    }
}

//! Vendors: looking one up, and their portal domains and URLs. Creating one (with its
//! owner and default program) is `partners::onboarding`.

use serde_json::json;

use crate::db::{self, Db, vendors::VendorRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::domain_verification;
use crate::domain::values::host;
use crate::error::{AppError, AppResult};

/// Looks a vendor up by id or slug (command-line convenience).
pub async fn find(db: &Db, id_or_slug: &str) -> AppResult<VendorRow> {
    let found = match db::vendors::by_id(db.pool(), id_or_slug).await? {
        Some(v) => Some(v),
        None => db::vendors::by_slug(db.pool(), &id_or_slug.to_ascii_lowercase()).await?,
    };
    found.ok_or(AppError::NotFound)
}

/// Adds `host` to the vendor's portal domains: pending (it serves once its TXT record is
/// verified) or, with `verified`, at once (an operator vouching for it from the command
/// line). IP addresses, local names and the dashboard's hosts are refused; a host the
/// vendor already lists or another vendor holds verified is 409.
pub async fn add_portal_domain(
    db: &Db,
    dashboard_hosts: &[String],
    vendor_id: &str,
    host: &str,
    verified: bool,
    actor: &Actor,
) -> AppResult<String> {
    let host = host::parse_portal_host("host", host)?;
    if dashboard_hosts.contains(&host) {
        return Err(AppError::invalid("host", "this host serves the dashboard"));
    }
    let in_use = || AppError::duplicate("host", "this host is already in use");
    let mut tx = db.begin().await?;
    if db::vendors::domain_owner(&mut *tx, &host).await?.is_some() {
        return Err(in_use());
    }
    let now = db::now_ms();
    db::vendors::add_domain(
        &mut tx,
        vendor_id,
        &host,
        &domain_verification::new_token(),
        verified.then_some(now),
    )
    .await
    .map_err(|e| match db::unique_violation_field(&e) {
        Some(_) => in_use(),
        None => e.into(),
    })?;
    if verified {
        // A verified host is one vendor's: the other claims on it can never verify.
        db::vendors::drop_other_claims(&mut tx, vendor_id, &host).await?;
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.domain_added",
        ("vendor", Some(vendor_id)),
        json!({"host": host, "verified": verified}),
    )
    .await?;
    tx.commit().await?;
    Ok(host)
}

/// The root URL of a vendor's portal, ending in `/`: its first verified custom domain if
/// it has one, else `{base}/p/{slug}/` on the main host.
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

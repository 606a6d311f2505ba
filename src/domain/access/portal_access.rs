//! Ways into the portal that the vendor's backend hands out: signed portal links (the
//! vendor's app sends its users straight into the portal, signed in) and iframe embeds
//! (a surface of the portal inside the vendor's app, authenticated by a token in the URL
//! because browsers block third-party cookies in iframes).

use crate::db::{self, Db};
use crate::domain::access::affiliate_tokens::{self, Signer};
use crate::domain::tenancy::audit::Actor;
use crate::domain::{attribution::links, tenancy::vendors};
use crate::error::{AppError, AppResult};

/// The portal surfaces that can be embedded (`/embed/{surface}`).
pub const EMBED_SURFACES: [&str; 3] = ["dashboard", "links", "payouts"];

/// Parses an embed surface name (default `dashboard`).
pub fn parse_surface(raw: Option<&str>) -> AppResult<&'static str> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty());
    match raw {
        None => Ok("dashboard"),
        Some(s) => EMBED_SURFACES
            .iter()
            .find(|x| **x == s)
            .copied()
            .ok_or_else(|| {
                AppError::invalid(
                    "surface",
                    format!("surface must be one of: {}", EMBED_SURFACES.join(", ")),
                )
            }),
    }
}

/// What issuing access needs: the database, the token signer and the public base URL.
#[derive(Debug, Clone, Copy)]
pub struct Issuer<'a> {
    /// The database.
    pub db: &'a Db,
    /// Signs the tokens.
    pub signer: &'a Signer,
    /// Public base URL of the installation.
    pub base_url: &'a str,
}

impl Issuer<'_> {
    /// The vendor's portal root (`…/` on its first custom domain, else `/p/{slug}/`) and
    /// the scheme + host it is served on.
    async fn portal_roots(&self, vendor_id: &str) -> AppResult<(String, String)> {
        let vendor = db::vendors::by_id(self.db.pool(), vendor_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let domain = links::portal_domain(self.db, vendor_id).await?;
        let domain = domain.as_deref();
        Ok((
            vendors::portal_url_from(self.base_url, &vendor.slug, domain),
            vendors::site_root(self.base_url, domain),
        ))
    }

    /// A signed portal link for the affiliate, valid 24 hours: `(url, expires_at ms)`.
    /// Opening it signs the affiliate in on the portal's own host.
    pub async fn portal_link(
        &self,
        vendor_id: &str,
        affiliate_id: &str,
        actor: &Actor,
    ) -> AppResult<(String, i64)> {
        let (token, expires_at) = affiliate_tokens::issue_portal_link(
            self.db,
            self.signer,
            vendor_id,
            affiliate_id,
            actor,
        )
        .await?;
        let (portal, _) = self.portal_roots(vendor_id).await?;
        Ok((format!("{portal}login/portal/{token}"), expires_at))
    }

    /// An embed of one surface for the affiliate: `(token, url, expires_at ms)`. The token
    /// is an access token (it also works on `/api/v1/me`), `ttl_secs` as for those.
    pub async fn embed(
        &self,
        vendor_id: &str,
        affiliate_id: &str,
        surface: &str,
        ttl_secs: Option<i64>,
        actor: &Actor,
    ) -> AppResult<(String, String, i64)> {
        let (token, expires_at) = affiliate_tokens::issue(
            self.db,
            self.signer,
            vendor_id,
            affiliate_id,
            ttl_secs,
            "embed",
            actor,
        )
        .await?;
        let (_, site) = self.portal_roots(vendor_id).await?;
        let url = format!("{site}/embed/{surface}?token={token}");
        Ok((token, url, expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_parse() {
        assert_eq!(parse_surface(None).unwrap(), "dashboard");
        assert_eq!(parse_surface(Some("links")).unwrap(), "links");
        assert!(parse_surface(Some("admin")).is_err());
    }
}

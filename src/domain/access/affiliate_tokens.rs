//! Affiliate access tokens: short-lived, HMAC-signed bearer tokens for one affiliate of one
//! vendor, in two kinds that cannot stand in for each other:
//!
//! * **access tokens** (`afft_`, ≤ 1 h) let an affiliate, or the vendor's app acting for
//!   one, call the self-service API under `/api/v1/me` and open the iframe embeds;
//! * **portal links** (`afpl_`, 24 h, seed 001) sign the affiliate in to the portal when
//!   opened, so the vendor's app can send its users straight into it.
//!
//! Stateless: prefix + base64url(`tag|vendor|affiliate|expiry ms`) + `.` + base64url(HMAC-
//! SHA256), the tag naming the kind. The key derives from the installation secret, so every
//! instance verifies every token, and rotating the secret revokes them all. The affiliate is
//! re-read on every use, so a deactivated or banned affiliate's token stops working at once.
//! Long-lived personal tokens are stored instead (see `domain::access::personal_tokens`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::domain::partners::affiliates::can_sign_in;
use crate::domain::tenancy::audit::{self, Actor};
use crate::error::{AppError, AppResult};

/// Access-token prefix, so a leaked token is recognisable (and never mistaken for an API key).
pub const PREFIX: &str = "afft_";
/// Default and longest access-token lifetime, seconds.
pub const MAX_TTL_SECS: i64 = 3600;
/// Shortest access-token lifetime, seconds.
pub const MIN_TTL_SECS: i64 = 60;
/// Portal-link token prefix.
pub const PORTAL_LINK_PREFIX: &str = "afpl_";
/// How long a signed portal link works (seed 001: 24 hours).
pub const PORTAL_LINK_TTL_MS: i64 = 24 * 3600 * 1000;

/// The kinds of signed token: prefix and the tag signed into the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    PortalLink,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Access => PREFIX,
            Kind::PortalLink => PORTAL_LINK_PREFIX,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Kind::Access => "v1",
            Kind::PortalLink => "portal-link-v1",
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks tokens with a key derived from the installation secret.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Tenant.
    pub vendor_id: String,
    /// The affiliate.
    pub affiliate_id: String,
    /// Expiry, unix ms.
    pub expires_at: i64,
}

impl Signer {
    /// A signer for `secret` (the installation's secret key).
    pub fn new(secret: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"affilia affiliate token v1\0")
            .chain_update(secret)
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Self { key }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload);
        mac
    }

    /// An access token for the affiliate, valid until `expires_at` (unix ms).
    pub fn mint(&self, vendor_id: &str, affiliate_id: &str, expires_at: i64) -> String {
        self.sign(Kind::Access, vendor_id, affiliate_id, expires_at)
    }

    /// The claims of a genuine, unexpired access token.
    pub fn verify(&self, token: &str, now_ms: i64) -> Option<Claims> {
        self.decode(token).filter(|c| c.expires_at > now_ms)
    }

    /// The claims of a genuine access token, expired or not: enough to know whose page to
    /// show an "expired" message on, never enough to grant access.
    pub fn decode(&self, token: &str) -> Option<Claims> {
        self.open(Kind::Access, token)
    }

    /// A portal link token, valid until `expires_at` (unix ms).
    pub fn mint_portal_link(&self, vendor_id: &str, affiliate_id: &str, expires_at: i64) -> String {
        self.sign(Kind::PortalLink, vendor_id, affiliate_id, expires_at)
    }

    /// The claims of a genuine, unexpired portal link token.
    pub fn verify_portal_link(&self, token: &str, now_ms: i64) -> Option<Claims> {
        self.open(Kind::PortalLink, token)
            .filter(|c| c.expires_at > now_ms)
    }

    fn sign(&self, kind: Kind, vendor_id: &str, affiliate_id: &str, expires_at: i64) -> String {
        let payload = format!("{}|{vendor_id}|{affiliate_id}|{expires_at}", kind.tag());
        let sig = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}{}.{}",
            kind.prefix(),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    fn open(&self, kind: Kind, token: &str) -> Option<Claims> {
        let (payload_b64, sig_b64) = token.strip_prefix(kind.prefix())?.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).ok()?;
        // Constant-time comparison inside `verify_slice`.
        self.mac(&payload).verify_slice(&sig).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.split('|');
        // The tag is signed too, so one kind never verifies as the other.
        if parts.next()? != kind.tag() {
            return None;
        }
        let vendor_id = parts.next()?.to_owned();
        let affiliate_id = parts.next()?.to_owned();
        let expires_at: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Claims {
            vendor_id,
            affiliate_id,
            expires_at,
        })
    }
}

/// Issues an access token for an affiliate of the vendor that may sign in; `ttl_secs`
/// within [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`] (default the maximum). `purpose` names the
/// use in the audit log (`api`, `embed`). Returns the token and its expiry.
pub async fn issue(
    db: &Db,
    signer: &Signer,
    vendor_id: &str,
    affiliate_id: &str,
    ttl_secs: Option<i64>,
    purpose: &str,
    actor: &Actor,
) -> AppResult<(String, i64)> {
    let ttl = ttl_secs.unwrap_or(MAX_TTL_SECS);
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
        return Err(AppError::invalid(
            "ttl_seconds",
            format!("ttl_seconds must be between {MIN_TTL_SECS} and {MAX_TTL_SECS}"),
        ));
    }
    let expires_at = db::now_ms() + ttl * 1000;
    let token = signer.mint(vendor_id, affiliate_id, expires_at);
    record_issue(db, vendor_id, affiliate_id, purpose, expires_at, actor).await?;
    Ok((token, expires_at))
}

/// Issues a signed portal link token (24 h) for an affiliate of the vendor that may sign in.
pub async fn issue_portal_link(
    db: &Db,
    signer: &Signer,
    vendor_id: &str,
    affiliate_id: &str,
    actor: &Actor,
) -> AppResult<(String, i64)> {
    let expires_at = db::now_ms() + PORTAL_LINK_TTL_MS;
    let token = signer.mint_portal_link(vendor_id, affiliate_id, expires_at);
    record_issue(
        db,
        vendor_id,
        affiliate_id,
        "portal_link",
        expires_at,
        actor,
    )
    .await?;
    Ok((token, expires_at))
}

/// Checks the affiliate may sign in and audits the issue.
async fn record_issue(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    purpose: &str,
    expires_at: i64,
    actor: &Actor,
) -> AppResult<()> {
    let affiliate = db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !can_sign_in(&affiliate.status) {
        return Err(AppError::wrong_state(format!(
            "a {} affiliate cannot get a token",
            affiliate.status
        )));
    }
    audit::record(
        db.pool(),
        vendor_id,
        actor,
        "affiliate.token_issued",
        ("affiliate", Some(affiliate_id)),
        json!({"purpose": purpose, "expires_at": db::rfc3339(expires_at)}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_resist_tampering() {
        let s = Signer::new(b"secret");
        let t = s.mint("ven_1", "aff_1", 10_000);
        let claims = s.verify(&t, 9_999).unwrap();
        assert_eq!(claims.affiliate_id, "aff_1");
        assert_eq!(claims.vendor_id, "ven_1");
        assert!(s.verify(&t, 10_000).is_none());
        assert!(Signer::new(b"other").verify(&t, 0).is_none());
        let forged = s.mint("ven_1", "aff_2", 10_000);
        let (payload, _) = forged.split_once('.').unwrap();
        let (_, sig) = t.split_once('.').unwrap();
        assert!(s.verify(&format!("{payload}.{sig}"), 0).is_none());
        assert!(s.verify("afft_garbage", 0).is_none());
        assert!(s.verify("", 0).is_none());
        assert_eq!(s.decode(&t).unwrap().expires_at, 10_000);
    }

    #[test]
    fn portal_links_and_access_tokens_are_not_interchangeable() {
        let s = Signer::new(b"secret");
        let link = s.mint_portal_link("ven_1", "aff_1", 10_000);
        assert_eq!(
            s.verify_portal_link(&link, 0).unwrap().affiliate_id,
            "aff_1"
        );
        assert!(s.verify_portal_link(&link, 10_000).is_none());
        assert!(s.verify(&link, 0).is_none());
        let access = s.mint("ven_1", "aff_1", 10_000);
        assert!(s.verify_portal_link(&access, 0).is_none());
        // Same payload under the other prefix still fails: the kind is signed.
        let swapped = access.replacen(PREFIX, PORTAL_LINK_PREFIX, 1);
        assert!(s.verify_portal_link(&swapped, 0).is_none());
    }
}

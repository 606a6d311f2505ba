//! Affiliate access tokens: short-lived, HMAC-signed bearer tokens that let an affiliate
//! (or the vendor's app acting for one) call the self-service API under `/api/v1/me`.
//!
//! Stateless: `afft_` + base64url(`v1|vendor|affiliate|expiry ms`) + `.` + base64url(HMAC-
//! SHA256). The key derives from the installation secret, so every instance verifies every
//! token, and rotating the secret revokes them all. The affiliate is re-read on every call,
//! so a deactivated or banned affiliate's token stops working at once. Portal-issued
//! personal tokens and iframe embed tokens (portal issue) build on the same signer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::domain::affiliates::can_sign_in;
use crate::domain::audit::{self, Actor};
use crate::error::{AppError, AppResult};

/// Token prefix, so a leaked token is recognisable (and never mistaken for an API key).
pub const PREFIX: &str = "afft_";
/// Default and longest lifetime, seconds.
pub const MAX_TTL_SECS: i64 = 3600;
/// Shortest lifetime, seconds.
pub const MIN_TTL_SECS: i64 = 60;

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

    /// A token for the affiliate, valid until `expires_at` (unix ms).
    pub fn mint(&self, vendor_id: &str, affiliate_id: &str, expires_at: i64) -> String {
        let payload = format!("v1|{vendor_id}|{affiliate_id}|{expires_at}");
        let sig = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// The claims of a genuine, unexpired token.
    pub fn verify(&self, token: &str, now_ms: i64) -> Option<Claims> {
        let (payload_b64, sig_b64) = token.strip_prefix(PREFIX)?.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).ok()?;
        // Constant-time comparison inside `verify_slice`.
        self.mac(&payload).verify_slice(&sig).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.split('|');
        if parts.next()? != "v1" {
            return None;
        }
        let vendor_id = parts.next()?.to_owned();
        let affiliate_id = parts.next()?.to_owned();
        let expires_at: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || expires_at <= now_ms {
            return None;
        }
        Some(Claims {
            vendor_id,
            affiliate_id,
            expires_at,
        })
    }
}

/// Issues a token for an affiliate of the vendor that may sign in; `ttl_secs` within
/// [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`] (default the maximum). Returns the token and its expiry.
pub async fn issue(
    db: &Db,
    signer: &Signer,
    vendor_id: &str,
    affiliate_id: &str,
    ttl_secs: Option<i64>,
    actor: &Actor,
) -> AppResult<(String, i64)> {
    let ttl = ttl_secs.unwrap_or(MAX_TTL_SECS);
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
        return Err(AppError::invalid(
            "ttl_seconds",
            format!("ttl_seconds must be between {MIN_TTL_SECS} and {MAX_TTL_SECS}"),
        ));
    }
    let affiliate = db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !can_sign_in(&affiliate.status) {
        return Err(AppError::wrong_state(format!(
            "a {} affiliate cannot get a token",
            affiliate.status
        )));
    }
    let expires_at = db::now_ms() + ttl * 1000;
    audit::record(
        db.pool(),
        vendor_id,
        actor,
        "affiliate.token_issued",
        ("affiliate", Some(affiliate_id)),
        json!({"expires_at": db::rfc3339(expires_at)}),
    )
    .await?;
    Ok((signer.mint(vendor_id, affiliate_id, expires_at), expires_at))
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
    }
}

//! Signing secrets and the two signature schemes every delivery carries.
//!
//! - `Affilia-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">` (Stripe's scheme),
//!   keyed by the whole secret string (`whsec_...`) as Stripe does.
//! - Standard Webhooks: `webhook-id`, `webhook-timestamp` and
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`, keyed by the
//!   base64-decoded part of the secret after `whsec_`, so the official `standardwebhooks`
//!   libraries verify it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::fill(&mut key[..]);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The headers that sign one request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// `Affilia-Signature` value.
    pub affilia: String,
    /// `webhook-id` value.
    pub webhook_id: String,
    /// `webhook-timestamp` value (unix seconds).
    pub webhook_timestamp: String,
    /// `webhook-signature` value.
    pub webhook_signature: String,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Signs `body` of the message `msg_id` at `timestamp` (unix seconds) with `secret`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Signatures {
    let t = timestamp.to_string();
    let affilia = hex::encode(hmac(
        secret.as_bytes(),
        &[t.as_bytes(), b".", body.as_bytes()],
    ));
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|k| STANDARD.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let standard = STANDARD.encode(hmac(
        &key,
        &[msg_id.as_bytes(), b".", t.as_bytes(), b".", body.as_bytes()],
    ));
    Signatures {
        affilia: format!("t={t},v1={affilia}"),
        webhook_id: msg_id.to_owned(),
        webhook_timestamp: t,
        webhook_signature: format!("v1,{standard}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_32_bytes() {
        let s = new_secret();
        let key = STANDARD
            .decode(s.strip_prefix(SECRET_PREFIX).unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(s, new_secret());
    }

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification and its libraries' tests.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.webhook_signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(sig.webhook_timestamp, "1614265330");
    }

    #[test]
    fn affilia_signature_is_hex_hmac_of_t_dot_body() {
        let sig = sign("whsec_abc", "evt_1", 10, "{}");
        let expected = hex::encode(hmac(b"whsec_abc", &[b"10.{}"]));
        assert_eq!(sig.affilia, format!("t=10,v1={expected}"));
    }
}

//! What the webhook doors of Paddle, Lemon Squeezy, Polar and Chargebee share: the read
//! event, MACs compared in constant time, amounts and times in the providers' notations.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Normalized;
use crate::domain::values::Currency;

/// A provider's body read into its identity and normalized event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The key the event is stored and deduplicated under (the provider's event id, or
    /// what identifies the event when the provider sends none; see each door).
    pub event_id: String,
    /// The provider's own type, as received (`transaction.completed`, `order_created`, ...).
    pub event_type: String,
    /// The event in the pipeline's shape.
    pub event: Normalized,
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Whether any candidate equals `expected`, in constant time, comparing every candidate
/// (no early exit on the first match or miss).
pub fn any_matches(candidates: &[Vec<u8>], expected: &[u8]) -> bool {
    candidates
        .iter()
        .fold(0u8, |ok, c| ok | c.as_slice().ct_eq(expected).unwrap_u8())
        == 1
}

/// Whether two secrets are equal, in constant time: their SHA-256 digests are compared, so
/// not even the length of the stored one shows in the timing.
pub fn secret_eq(a: &str, b: &str) -> bool {
    use sha2::Digest;
    Sha256::digest(a.as_bytes())
        .as_slice()
        .ct_eq(Sha256::digest(b.as_bytes()).as_slice())
        .into()
}

/// An amount in minor units written as a JSON string (Paddle) or integer (the others).
/// Figures too large for 64 bits saturate, so the pipeline keeps the event and refuses it as
/// out of range (as it does Stripe's); anything else that is not a whole number is an error.
pub fn cents(v: Option<&Value>, what: &str) -> Result<Option<i64>, String> {
    let parse = |s: &str| -> Result<i64, String> {
        let t = s.trim();
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{what} {s:?} is not a whole number of minor units"));
        }
        Ok(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        }))
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse(s).map(Some),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(c) => Ok(Some(c)),
            // A fraction is not minor units; a huge integer saturates.
            None if n.is_u64() => Ok(Some(i64::MAX)),
            None => parse(&n.to_string()).map(Some),
        },
        Some(other) => Err(format!("{what} {other} is not an amount")),
    }
}

/// An ISO 4217 code in any case, upper-cased; unknown codes are an error.
pub fn currency(code: Option<&str>) -> Result<Option<String>, String> {
    match code {
        Some(c) if !c.trim().is_empty() => Currency::parse("currency", c.trim())
            .map(|c| Some(c.as_str().to_owned()))
            .map_err(|_| format!("unknown currency {c:?}")),
        _ => Ok(None),
    }
}

/// An RFC 3339 time as unix ms.
pub fn rfc3339_ms(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A string or number field as text (providers send ids both ways).
pub fn id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-blank string field.
pub fn text(v: Option<&Value>) -> Option<String> {
    v?.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_in_every_notation() {
        assert_eq!(cents(Some(&json!("65215")), "a"), Ok(Some(65215)));
        assert_eq!(cents(Some(&json!(999)), "a"), Ok(Some(999)));
        assert_eq!(cents(None, "a"), Ok(None));
        assert_eq!(
            cents(Some(&json!("99999999999999999999999")), "a"),
            Ok(Some(i64::MAX))
        );
        assert_eq!(cents(Some(&json!(1e30)), "a").ok(), None);
        assert_eq!(
            cents(Some(&json!(18446744073709551615u64)), "a"),
            Ok(Some(i64::MAX))
        );
        assert_eq!(cents(Some(&json!("-5")), "a"), Ok(Some(-5)));
        assert!(cents(Some(&json!("12.50")), "a").is_err());
        assert!(cents(Some(&json!(12.5)), "a").is_err());
        assert!(cents(Some(&json!(true)), "a").is_err());
    }

    #[test]
    fn constant_time_matching() {
        let e = hmac_sha256(b"k", &[b"a", b"b"]);
        assert_eq!(e, hmac_sha256(b"k", &[b"ab"]));
        assert!(any_matches(&[vec![1], e.clone()], &e));
        assert!(!any_matches(&[vec![1]], &e));
        assert!(!any_matches(&[], &e));
        assert!(secret_eq("abc", "abc") && !secret_eq("abc", "abd") && !secret_eq("ab", "abc"));
    }
}

/// Writes what this crate's signers produce to the file named by
/// `AFFILIA_PROVIDER_VECTORS`, for tests/providers/check.mjs to verify with the providers'
/// official libraries (`cargo test --lib write_provider_sdk_vectors -- --ignored`).
#[cfg(test)]
mod sdk_vectors {
    use serde_json::json;

    use super::super::{paddle, polar};

    #[test]
    #[ignore = "run by tests/providers/run.sh"]
    fn write_provider_sdk_vectors() {
        let out = std::env::var("AFFILIA_PROVIDER_VECTORS").unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let read = |p: &str| std::fs::read_to_string(format!("{dir}/{p}")).unwrap();
        // Paddle's SDK refuses a timestamp more than 5 s old; the check runs right after
        // this, and a timestamp ahead of the clock is not refused.
        let ts = chrono::Utc::now().timestamp() + 30;
        let paddle_secret =
            "pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I";
        let paddle: Vec<_> = [
            "paddle/transaction.completed.event.paddle-node-sdk.json",
            "paddle/adjustment.created.event.paddle-node-sdk.json",
            "paddle/customer.created.signed.special-chars.paddle-python-sdk.json",
        ]
        .iter()
        .map(|f| {
            let body = read(f);
            let header = paddle::sign(body.as_bytes(), paddle_secret, ts);
            json!({"file": f, "body": body, "signature": header})
        })
        .collect();
        let polar_secret = "polar_whs_Xk2pQ9s8vT1mN4bR7cY0zL5wH3dF6gJ";
        let polar_body = json!({"type": "order.paid", "timestamp": "2025-06-01T12:00:00Z",
            "data": {"id": "0b3c2d4e-0000-4000-8000-000000000001", "currency": "eur",
                     "total_amount": 1999, "metadata": {"affiliate_code": "jürgen"}}})
        .to_string();
        let id = "msg_2yZwbHgnl8XY6KHc4LRnLmb0Y0A";
        let polar = json!({"secret": polar_secret, "body": polar_body, "headers": {
            "webhook-id": id, "webhook-timestamp": ts.to_string(),
            "webhook-signature": polar::sign(id, ts, polar_body.as_bytes(), polar_secret)}});
        let vectors = json!({"paddle": {"secret": paddle_secret, "cases": paddle}, "polar": polar});
        std::fs::write(out, vectors.to_string()).unwrap();
    }
}

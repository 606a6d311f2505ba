//! Polar webhooks: the Standard Webhooks signature as Polar's SDKs check it, and the
//! mapping of Polar's order events onto [`Normalized`] events.
//!
//! Headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`
//! (`v1,<base64>` entries separated by spaces): each signature is the base64 HMAC-SHA256 of
//! `"{id}.{timestamp}.{raw body}"`. The key: Polar's SDKs hand the secret string shown in
//! Polar's dashboard (`polar_whs_...`) to the Standard Webhooks library base64-*encoded*, so
//! the key is that whole string's UTF-8 bytes; a Standard Webhooks secret `whsec_<base64>`
//! is also accepted with its decoded bytes as the key. Timestamps more than 300 s away from
//! now (either way) are refused, and the `webhook-id` is the event's key in the log, so a
//! captured delivery replayed later is refused and one replayed soon changes nothing.
//!
//! Events (`{type, timestamp, data: Order}`; amounts are integers in minor units):
//! - `order.paid`: a payment of `total_amount` (net after discount, plus tax), keyed by the
//!   order id, whatever its billing reason (purchase, subscription start or renewal);
//! - `order.refunded`: the order's refunded amount so far, tax included (cumulative).
//!
//! The referral travels in the checkout's `metadata`, which Polar copies onto the order;
//! the customer's own `metadata` is read after it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::provider::{ProviderEvent, any_matches, cents, currency, hmac_sha256, rfc3339_ms, text};
use super::{Hints, Kind, Normalized, RefundAmount};

/// Seconds a timestamp may be away from now (the Standard Webhooks libraries' tolerance).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// A header is missing, or no `v1` signature is in it.
    Malformed,
    /// The timestamp is more than the tolerance away from now.
    OutOfTolerance,
    /// No signature matches.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => {
                "webhook-id, webhook-timestamp or webhook-signature is missing or malformed"
            }
            Self::OutOfTolerance => "webhook-timestamp is more than 300 s away from now",
            Self::Mismatch => "no webhook-signature v1 signature matches the body",
        })
    }
}

/// The Standard Webhooks headers of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// The HMAC keys a secret may stand for (see the module docs).
fn keys(secret: &str) -> Vec<Vec<u8>> {
    let mut keys = vec![secret.as_bytes().to_vec()];
    if let Some(b64) = secret.strip_prefix("whsec_")
        && let Ok(k) = STANDARD.decode(b64)
    {
        keys.push(k);
    }
    keys
}

fn signed(id: &str, ts: i64, body: &[u8], key: &[u8]) -> Vec<u8> {
    hmac_sha256(
        key,
        &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body],
    )
}

/// Verifies a delivery's headers for `body` at unix time `now_secs`; returns its
/// `webhook-id`.
pub fn verify<'a>(
    h: &Headers<'a>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<&'a str, SignatureError> {
    let id =
        h.id.map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SignatureError::Malformed)?;
    let ts = h
        .timestamp
        .and_then(|t| t.trim().parse::<i64>().ok())
        .ok_or(SignatureError::Malformed)?;
    let candidates: Vec<Vec<u8>> = h
        .signature
        .unwrap_or("")
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutOfTolerance);
    }
    // Every key is tried (no early exit), each against every candidate.
    let matched = keys(secret).iter().fold(false, |ok, key| {
        ok | any_matches(&candidates, &signed(id, ts, body, key))
    });
    if matched {
        Ok(id)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs `body` like Polar does with a dashboard secret (tests and local tooling): the
/// `webhook-signature` value.
pub fn sign(id: &str, ts: i64, body: &[u8], secret: &str) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(signed(id, ts, body, secret.as_bytes()))
    )
}

/// Reads a Polar webhook body delivered as `event_id` (its `webhook-id`). Unknown types come
/// back as [`Kind::Unhandled`]; a malformed body is an error.
pub fn normalize(raw: &str, event_id: &str) -> Result<ProviderEvent, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("body is not JSON: {e}"))?;
    let event_type = text(v.get("type")).ok_or("webhook has no type")?;
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or("webhook has no data")?;
    let occurred_at = rfc3339_ms(v.get("timestamp"))
        .or_else(|| rfc3339_ms(data.get("created_at")))
        .ok_or("webhook has no RFC 3339 timestamp")?;
    let mut event = Normalized {
        kind: Kind::Unhandled,
        event_type: event_type.clone(),
        customer_id: text(data.get("customer_id")),
        email: text(data.pointer("/customer/email")),
        amount_cents: 0,
        currency: currency(data.get("currency").and_then(Value::as_str))?,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
        subscription_id: text(data.get("subscription_id")),
        external_id: None,
        occurred_at,
        hints: Hints::default(),
        enrollment_id: None,
        refund_id: None,
        pairing: None,
    };
    match event_type.as_str() {
        "order.paid" => {
            event.kind = Kind::Payment;
            event.event_type = if event.subscription_id.is_some() {
                "invoice.paid".into()
            } else {
                "charge.succeeded".into()
            };
            event.charge_id = Some(text(data.get("id")).ok_or("order has no id")?);
            event.amount_cents = order_total(data)?;
            for key in ["metadata", "custom_field_data"] {
                if let Some(m) = data.get(key).filter(|m| m.is_object()) {
                    event.hints.read(m);
                }
            }
            if let Some(m) = data.pointer("/customer/metadata").filter(|m| m.is_object()) {
                event.hints.read(m);
            }
            event.hints.promo_code = text(data.pointer("/discount/code"))
                .as_deref()
                .and_then(crate::domain::attribution::promo_codes::normalize_hint);
        }
        "order.refunded" => {
            event.charge_id = Some(text(data.get("id")).ok_or("order has no id")?);
            event.amount_cents = order_total(data)?;
            let refunded = cents(data.get("refunded_amount"), "refunded_amount")?
                .ok_or("order has no refunded_amount")?;
            let tax = cents(data.get("refunded_tax_amount"), "refunded_tax_amount")?.unwrap_or(0);
            event.kind = Kind::Refund(RefundAmount::Cumulative(refunded.saturating_add(tax)));
            event.event_type = "refund.processed".into();
        }
        _ => {}
    }
    Ok(ProviderEvent {
        event_id: event_id.to_owned(),
        event_type,
        event,
    })
}

/// What the customer paid: `total_amount`, or (older orders) `amount` plus `tax_amount`.
fn order_total(data: &Value) -> Result<i64, String> {
    if let Some(total) = cents(data.get("total_amount"), "total_amount")? {
        return Ok(total);
    }
    let net = cents(data.get("amount"), "amount")?.ok_or("order has no total_amount")?;
    let tax = cents(data.get("tax_amount"), "tax_amount")?.unwrap_or(0);
    Ok(net.saturating_add(tax))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/polar");

    #[test]
    fn the_standard_webhooks_vector_verifies() {
        let body = std::fs::read(format!(
            "{FIXTURES}/standard-webhooks.test-vector.signed.json"
        ))
        .unwrap();
        let h = Headers {
            id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            timestamp: Some("1614265330"),
            signature: Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        };
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(
            verify(&h, &body, secret, 1_614_265_330),
            Ok("msg_p5jXN8AQM9LWM0D4loKWxJek")
        );
        // Both directions of the tolerance.
        assert_eq!(verify(&h, &body, secret, 1_614_265_630).map(|_| ()), Ok(()));
        assert_eq!(
            verify(&h, &body, secret, 1_614_265_631),
            Err(SignatureError::OutOfTolerance)
        );
        assert_eq!(
            verify(&h, &body, secret, 1_614_265_029),
            Err(SignatureError::OutOfTolerance)
        );
        // Another id or secret, or a tampered body: mismatch.
        let other = Headers {
            id: Some("msg_other"),
            ..h
        };
        assert_eq!(
            verify(&other, &body, secret, 1_614_265_330),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&h, b"{\"test\": 2432232315}", secret, 1_614_265_330),
            Err(SignatureError::Mismatch)
        );
        // Several entries: any v1 may match; v2 entries are not read.
        let rolled = Headers {
            signature: Some("v2,abcd v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            ..h
        };
        assert!(verify(&rolled, &body, secret, 1_614_265_330).is_ok());
        let missing = Headers { id: None, ..h };
        assert_eq!(
            verify(&missing, &body, secret, 1_614_265_330),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_polar_dashboard_secret_is_the_key_itself() {
        let secret = "polar_whs_0123456789abcdefghijklmnopqrstuvwxyz";
        let sig = sign("msg_1", 1000, b"{}", secret);
        let h = Headers {
            id: Some("msg_1"),
            timestamp: Some("1000"),
            signature: Some(&sig),
        };
        assert_eq!(verify(&h, b"{}", secret, 1000), Ok("msg_1"));
        assert_eq!(
            verify(&h, b"{}", "polar_whs_another", 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn orders_normalize() {
        let order = serde_json::json!({"type": "order.paid", "timestamp": "2025-01-02T03:04:05Z",
            "data": {"id": "6b6f1f9c-0000-4000-8000-000000000001", "customer_id": "cus-1",
                     "currency": "usd", "total_amount": 9720, "net_amount": 9000, "tax_amount": 720,
                     "subscription_id": null, "metadata": {"affiliate_code": "Jane"},
                     "discount": {"code": "SPRING"}, "customer": {"email": "a@b.test"}}});
        let e = normalize(&order.to_string(), "msg_1").unwrap();
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(
            (e.event.amount_cents, e.event.currency.as_deref()),
            (9720, Some("USD"))
        );
        assert_eq!(e.event.hints.code.as_deref(), Some("jane"));
        assert_eq!(e.event.hints.promo_code.as_deref(), Some("SPRING"));
        assert_eq!(e.event_id, "msg_1");
        let mut refunded = order.clone();
        refunded["type"] = "order.refunded".into();
        refunded["data"]["refunded_amount"] = 4500.into();
        refunded["data"]["refunded_tax_amount"] = 360.into();
        let e = normalize(&refunded.to_string(), "msg_2").unwrap();
        assert_eq!(e.event.kind, Kind::Refund(RefundAmount::Cumulative(4860)));
        let mut old = order;
        old["data"].as_object_mut().unwrap().remove("total_amount");
        old["data"]["amount"] = 9000.into();
        assert_eq!(
            normalize(&old.to_string(), "m").unwrap().event.amount_cents,
            9720
        );
        assert!(normalize(r#"{"type":"order.paid"}"#, "m").is_err());
    }
}

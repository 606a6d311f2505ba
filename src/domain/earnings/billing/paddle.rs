//! Paddle Billing webhooks: the `Paddle-Signature` check as Paddle's SDKs do it, and the
//! mapping of Paddle's events onto [`Normalized`] events.
//!
//! `Paddle-Signature: ts=1710498758;h1=<hex>[;h1=<hex>]`: each `h1` is the hex HMAC-SHA256
//! of `"{ts}:{raw body}"` keyed with the destination's whole secret (`pdl_ntfset_...`). Any
//! matching `h1` is accepted (Paddle sends several while a secret is rotated); timestamps
//! older than the tolerance are refused (replay protection); the comparison is
//! constant-time.
//!
//! Events (`{event_id, event_type, occurred_at, data}`; amounts are strings in minor units):
//! - `transaction.completed`: a payment of `details.totals.grand_total` (what was charged
//!   after credit), keyed by the transaction id;
//! - `subscription.created`: a subscription began (the sum of its items' unit prices);
//! - `adjustment.created` / `adjustment.updated`: a refund or chargeback of a transaction,
//!   counted once by the adjustment id, and only once Paddle has `approved` it (a refund
//!   waits in `pending_approval`; a rejected one gave nothing back).
//!
//! The referral travels in `custom_data` (Paddle.js `Checkout.open({customData: {...}})`),
//! read with the same keys as Stripe metadata.

use serde_json::Value;

use super::provider::{ProviderEvent, any_matches, cents, currency, hmac_sha256, rfc3339_ms, text};
use super::{Hints, Kind, Normalized, RefundAmount};

/// Seconds an old signature stays acceptable. Paddle's SDKs default to 5 s; this door
/// allows Stripe's 300 s for clock skew between Paddle and the installation.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or no `ts` / `h1` in it.
    Malformed,
    /// The timestamp is older than the tolerance.
    TooOld,
    /// No `h1` matches.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "Paddle-Signature header is missing or malformed",
            Self::TooOld => "Paddle-Signature timestamp is outside the 300 s tolerance",
            Self::Mismatch => "no Paddle-Signature h1 signature matches the body",
        })
    }
}

/// Verifies a `Paddle-Signature` header for `body` at unix time `now_secs`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut ts = None;
    let mut candidates = Vec::new();
    for part in header.split(';') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "ts" => ts = v.trim().parse::<i64>().ok(),
            "h1" => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let ts = ts.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if ts < now_secs - TOLERANCE_SECS {
        return Err(SignatureError::TooOld);
    }
    let expected = hmac_sha256(secret.as_bytes(), &[ts.to_string().as_bytes(), b":", body]);
    if any_matches(&candidates, &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs `body` like Paddle does (tests and local tooling): the header value.
pub fn sign(body: &[u8], secret: &str, ts: i64) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[ts.to_string().as_bytes(), b":", body]);
    format!("ts={ts};h1={}", hex::encode(mac))
}

fn blank(event_type: &str, occurred_at: i64) -> Normalized {
    Normalized {
        kind: Kind::Unhandled,
        event_type: event_type.to_owned(),
        customer_id: None,
        email: None,
        amount_cents: 0,
        currency: None,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
        subscription_id: None,
        external_id: None,
        occurred_at,
        hints: Hints::default(),
        enrollment_id: None,
        refund_id: None,
        pairing: None,
    }
}

/// Reads a Paddle notification body. Unknown types come back as [`Kind::Unhandled`]; a
/// malformed body is an error.
pub fn normalize(raw: &str) -> Result<ProviderEvent, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("body is not JSON: {e}"))?;
    let event_id = text(v.get("event_id")).ok_or("notification has no event_id")?;
    let event_type = text(v.get("event_type")).ok_or("notification has no event_type")?;
    let occurred_at =
        rfc3339_ms(v.get("occurred_at")).ok_or("notification has no RFC 3339 occurred_at")?;
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or("notification has no data")?;
    let mut event = blank(&event_type, occurred_at);
    event.customer_id = text(data.get("customer_id"));
    event.currency = currency(data.get("currency_code").and_then(Value::as_str))?;
    match event_type.as_str() {
        "transaction.completed" => transaction(data, &mut event)?,
        "subscription.created" => subscription(data, &mut event)?,
        "adjustment.created" | "adjustment.updated" => adjustment(data, &mut event)?,
        _ => {}
    }
    Ok(ProviderEvent {
        event_id,
        event_type,
        event,
    })
}

fn read_custom_data(data: &Value, event: &mut Normalized) {
    if let Some(custom) = data.get("custom_data").filter(|c| c.is_object()) {
        event.hints.read(custom);
    }
    // Only API responses that include the discount name its code; webhooks carry its id.
    if event.hints.promo_code.is_none() {
        event.hints.promo_code = text(data.pointer("/discount/code"))
            .as_deref()
            .and_then(crate::domain::attribution::promo_codes::normalize_hint);
    }
}

fn transaction(data: &Value, event: &mut Normalized) -> Result<(), String> {
    let totals = data.pointer("/details/totals");
    let amount = cents(totals.and_then(|t| t.get("grand_total")), "grand_total")?
        .or(cents(totals.and_then(|t| t.get("total")), "total")?)
        .ok_or("transaction has no details.totals.grand_total")?;
    event.kind = Kind::Payment;
    event.amount_cents = amount;
    event.charge_id = text(data.get("id"));
    event.invoice_id = text(data.get("invoice_id"));
    event.subscription_id = text(data.get("subscription_id"));
    event.event_type = if event.subscription_id.is_some() {
        "invoice.paid".into()
    } else {
        "charge.succeeded".into()
    };
    if event.currency.is_none() {
        event.currency = currency(
            totals
                .and_then(|t| t.get("currency_code"))
                .and_then(Value::as_str),
        )?;
    }
    if let Some(at) = rfc3339_ms(data.get("billed_at")) {
        event.occurred_at = at;
    }
    read_custom_data(data, event);
    Ok(())
}

fn subscription(data: &Value, event: &mut Normalized) -> Result<(), String> {
    event.kind = Kind::SubscriptionStarted;
    event.subscription_id = text(data.get("id"));
    let mut total: i64 = 0;
    for item in data
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let unit = cents(item.pointer("/price/unit_price/amount"), "unit_price")?.unwrap_or(0);
        let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        total = total.saturating_add(unit.saturating_mul(quantity));
    }
    event.amount_cents = total;
    event.external_id = event
        .subscription_id
        .as_ref()
        .map(|s| format!("subscription.created:{s}"));
    read_custom_data(data, event);
    Ok(())
}

/// Refunds and chargebacks move money once approved; everything else (credits, a
/// chargeback warning or reversal, a pending or rejected refund) is logged and ignored.
fn adjustment(data: &Value, event: &mut Normalized) -> Result<(), String> {
    let action = data.get("action").and_then(Value::as_str).unwrap_or("");
    let status = data.get("status").and_then(Value::as_str).unwrap_or("");
    event.charge_id = text(data.get("transaction_id"));
    event.subscription_id = text(data.get("subscription_id"));
    event.refund_id = text(data.get("id"));
    let total = cents(data.pointer("/totals/total"), "totals.total")?;
    if matches!(action, "refund" | "chargeback") && status == "approved" {
        let total = total.ok_or("adjustment has no totals.total")?;
        event.kind = Kind::Refund(RefundAmount::Increment(total));
        event.event_type = "refund.processed".into();
    } else {
        event.event_type = format!("adjustment.{action}.{status}");
    }
    if event.currency.is_none() {
        event.currency = currency(
            data.pointer("/totals/currency_code")
                .and_then(Value::as_str),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/paddle");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    #[test]
    fn the_sdk_signed_vectors_verify_with_the_clock_fixed() {
        let secret = "pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I";
        for (file, header, ts) in [
            (
                "customer.created.signed.standard.paddle-python-sdk.json",
                "ts=1710498758;h1=558bf93944dbeb4790c7a8af6cb2ea435c8ca9c8396aafc1a4e37424ac132744",
                1_710_498_758,
            ),
            (
                "customer.created.signed.special-chars.paddle-python-sdk.json",
                "ts=1710498288;h1=38219b3ba1578184e625c29d201a27cd25bd69e2ec9c3ab87dcb90d87ff73a41",
                1_710_498_288,
            ),
        ] {
            let body = std::fs::read(format!("{FIXTURES}/{file}")).unwrap();
            assert_eq!(verify(Some(header), &body, secret, ts), Ok(()));
            assert_eq!(verify(Some(header), &body, secret, ts + 300), Ok(()));
            assert_eq!(
                verify(Some(header), &body, secret, ts + 301),
                Err(SignatureError::TooOld)
            );
            assert_eq!(sign(&body, secret, ts), header);
            let mut tampered = body.clone();
            tampered[50] ^= 1;
            assert_eq!(
                verify(Some(header), &tampered, secret, ts),
                Err(SignatureError::Mismatch)
            );
            assert_eq!(
                verify(Some(header), &body, "pdl_ntfset_other", ts),
                Err(SignatureError::Mismatch)
            );
            let e = normalize(std::str::from_utf8(&body).unwrap()).unwrap();
            assert_eq!(e.event_type, "customer.created");
            assert_eq!(e.event.kind, Kind::Unhandled);
        }
        // The PHP/Python SDKs' toy vector: a second h1 (rotation) after a dummy one.
        let header = "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";
        let secret = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh";
        assert_eq!(
            verify(Some(header), b"hello-world", secret, 1_696_195_954),
            Ok(())
        );
        assert_eq!(
            verify(None, b"x", secret, 0),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("h1=00"), b"x", secret, 0),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("ts=1"), b"x", secret, 0),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn fixtures_normalize() {
        let e = normalize(&fixture("transaction.completed.event.paddle-node-sdk.json")).unwrap();
        assert_eq!(e.event_id, "evt_01h8e1jxjnw9ra6zarhnz1a7y1");
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(e.event.event_type, "charge.succeeded");
        assert_eq!(
            (e.event.amount_cents, e.event.currency.as_deref()),
            (65215, Some("USD"))
        );
        assert_eq!(
            e.event.charge_id.as_deref(),
            Some("txn_01h8dzxgkvdwemdhbpcapj2tbj")
        );
        assert_eq!(
            e.event.customer_id.as_deref(),
            Some("ctm_01h8e18bxp9hby49dnm8ewf0m0")
        );

        let e = normalize(&fixture(
            "transaction.completed.event-api.paddle-python-sdk.json",
        ))
        .unwrap();
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(e.event.event_type, "invoice.paid");
        assert!(e.event.subscription_id.is_some());

        let e = normalize(&fixture("subscription.created.event.paddle-node-sdk.json")).unwrap();
        assert_eq!(e.event.kind, Kind::SubscriptionStarted);
        assert_eq!(e.event.event_type, "subscription.created");
        assert!(e.event.amount_cents > 0);

        // Paddle's refund waits for approval: logged, no money yet.
        let e = normalize(&fixture("adjustment.created.event.paddle-node-sdk.json")).unwrap();
        assert_eq!(e.event.kind, Kind::Unhandled);
        assert_eq!(e.event.event_type, "adjustment.refund.pending_approval");
        let mut v: Value =
            serde_json::from_str(&fixture("adjustment.created.event.paddle-node-sdk.json"))
                .unwrap();
        v["data"]["status"] = "approved".into();
        let e = normalize(&v.to_string()).unwrap();
        assert_eq!(e.event.kind, Kind::Refund(RefundAmount::Increment(100)));
        assert_eq!(
            e.event.charge_id.as_deref(),
            Some("txn_01h8bxpvx398a7zbawb77y0kp5")
        );
        assert_eq!(
            e.event.refund_id.as_deref(),
            Some("adj_01h8c6tbrkpdd7vx61w7b1r0ap")
        );
        let e = normalize(&fixture(
            "adjustment.created.notification-payload.paddle-python-sdk.json",
        ))
        .unwrap();
        assert_eq!(e.event.kind, Kind::Unhandled);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(normalize("nope").is_err());
        assert!(normalize(r#"{"event_id":"evt_1","event_type":"x","data":{}}"#).is_err());
        let bad_amount = r#"{"event_id":"evt_1","event_type":"transaction.completed","occurred_at":"2024-01-01T00:00:00Z","data":{"details":{"totals":{"grand_total":"1.5"}}}}"#;
        assert!(normalize(bad_amount).is_err());
        let huge = r#"{"event_id":"evt_1","event_type":"transaction.completed","occurred_at":"2024-01-01T00:00:00Z","data":{"id":"txn_1","currency_code":"USD","details":{"totals":{"grand_total":"99999999999999999999"}}}}"#;
        assert_eq!(normalize(huge).unwrap().event.amount_cents, i64::MAX);
    }
}

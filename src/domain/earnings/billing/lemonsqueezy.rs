//! Lemon Squeezy webhooks: the `X-Signature` check and the mapping of Lemon Squeezy's
//! events onto [`Normalized`] events.
//!
//! `X-Signature` is the hex HMAC-SHA256 of the raw body keyed with the webhook's signing
//! secret, compared in constant time. It carries no timestamp and the body no event id, so
//! replay protection is idempotency: each event is stored under a key built from what it
//! is about (`order_created:<order id>`, `subscription_payment_success:<invoice id>`,
//! `order_refunded:<order id>:<refunded amount>`), and a delivery seen before (a retry, or a
//! captured body sent again) changes nothing.
//!
//! Events (`{meta: {event_name, custom_data}, data: {type, id, attributes}}`; amounts are
//! integers in minor units):
//! - `order_created`: a paid order is a payment of its `total` (a subscription's first
//!   payment included);
//! - `subscription_payment_success`: a renewal is a payment of the invoice's `total`; the
//!   `initial` invoice is the first order's payment, already counted by `order_created`, so
//!   it only binds the customer;
//! - `order_refunded` / `subscription_payment_refunded`: the `refunded_amount` so far
//!   (cumulative), reversing commissions in proportion.
//!
//! The referral travels in `meta.custom_data` (checkout `checkout[custom][affiliate_code]`).

use serde_json::Value;

use super::provider::{
    ProviderEvent, any_matches, cents, currency, hmac_sha256, id, rfc3339_ms, text,
};
use super::{Hints, Kind, Normalized, RefundAmount};

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or not hex.
    Malformed,
    /// It does not match.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "X-Signature header is missing or not hex",
            Self::Mismatch => "X-Signature does not match the body",
        })
    }
}

/// Verifies an `X-Signature` header for `body`.
pub fn verify(header: Option<&str>, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    let given = header
        .and_then(|h| hex::decode(h.trim()).ok())
        .ok_or(SignatureError::Malformed)?;
    let expected = hmac_sha256(secret.as_bytes(), &[body]);
    if any_matches(&[given], &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs `body` like Lemon Squeezy does (tests and local tooling): the header value.
pub fn sign(body: &[u8], secret: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// Reads a Lemon Squeezy webhook body. Unknown event names come back as
/// [`Kind::Unhandled`]; a malformed body is an error.
pub fn normalize(raw: &str) -> Result<ProviderEvent, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("body is not JSON: {e}"))?;
    let name = text(v.pointer("/meta/event_name")).ok_or("webhook has no meta.event_name")?;
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or("webhook has no data")?;
    let object_id = id(data.get("id")).ok_or("webhook has no data.id")?;
    let object_type = text(data.get("type")).unwrap_or_default();
    let a = data
        .get("attributes")
        .filter(|a| a.is_object())
        .ok_or("webhook has no data.attributes")?;
    let occurred_at = rfc3339_ms(a.get("updated_at"))
        .or_else(|| rfc3339_ms(a.get("created_at")))
        .ok_or("webhook has no data.attributes.created_at")?;
    let mut event = Normalized {
        kind: Kind::Unhandled,
        event_type: name.clone(),
        customer_id: id(a.get("customer_id")),
        email: text(a.get("user_email")),
        amount_cents: cents(a.get("total"), "total")?.unwrap_or(0),
        currency: currency(a.get("currency").and_then(Value::as_str))?,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
        subscription_id: id(a.get("subscription_id")),
        external_id: None,
        occurred_at,
        hints: Hints::default(),
        enrollment_id: None,
        refund_id: None,
        pairing: None,
    };
    if let Some(custom) = v.pointer("/meta/custom_data").filter(|c| c.is_object()) {
        event.hints.read(custom);
    }
    // What the money is keyed by: the order, or the subscription invoice.
    let payment_ref = match object_type.as_str() {
        "subscription-invoices" => format!("lemonsqueezy_invoice_{object_id}"),
        _ => format!("lemonsqueezy_order_{object_id}"),
    };
    let paid = a.get("status").and_then(Value::as_str) == Some("paid");
    let mut event_id = format!("{name}:{object_id}");
    match name.as_str() {
        "order_created" => {
            event.charge_id = Some(payment_ref);
            event.event_type = "charge.succeeded".into();
            // A pending or failed order binds the customer; its money is not in.
            event.kind = if paid { Kind::Payment } else { Kind::Customer };
        }
        "subscription_payment_success" => {
            let initial = a.get("billing_reason").and_then(Value::as_str) == Some("initial");
            event.charge_id = Some(payment_ref);
            if initial {
                event.kind = Kind::Customer;
                event.event_type = "subscription_payment_success.initial".into();
            } else {
                event.kind = Kind::Payment;
                event.event_type = "invoice.paid".into();
            }
        }
        "order_refunded" | "subscription_payment_refunded" => {
            // Older payloads say only `refunded: true` (then the whole total).
            let refunded = match cents(a.get("refunded_amount"), "refunded_amount")? {
                Some(r) => r,
                None if a.get("refunded").and_then(Value::as_bool) == Some(true) => {
                    event.amount_cents
                }
                None => 0,
            };
            event.charge_id = Some(payment_ref);
            event.kind = Kind::Refund(RefundAmount::Cumulative(refunded));
            event.event_type = "refund.processed".into();
            // Each new refunded total is a new event; a resend of the same one is not.
            event_id = format!("{name}:{object_id}:{refunded}");
        }
        _ => {}
    }
    Ok(ProviderEvent {
        event_id,
        event_type: name,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lemonsqueezy");

    #[test]
    fn the_sdk_signed_vector_verifies() {
        let body = std::fs::read(format!(
            "{FIXTURES}/order_created.signed.lemonsqueezy-go.json"
        ))
        .unwrap();
        let header = "743c0dcfaab3a3d06198183501fb92cc82e548febc80937f3fb236a4932f748f";
        assert_eq!(verify(Some(header), &body, "signing-secret"), Ok(()));
        assert_eq!(sign(&body, "signing-secret"), header);
        assert_eq!(
            verify(Some(header), &body, "another-secret"),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify(Some(header), &tampered, "signing-secret"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(None, &body, "s"), Err(SignatureError::Malformed));
        assert_eq!(
            verify(Some("zz"), &body, "s"),
            Err(SignatureError::Malformed)
        );

        let e = normalize(std::str::from_utf8(&body).unwrap()).unwrap();
        assert_eq!(e.event_id, "order_created:1");
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(
            (e.event.amount_cents, e.event.currency.as_deref()),
            (1859, Some("EUR"))
        );
        assert_eq!(e.event.charge_id.as_deref(), Some("lemonsqueezy_order_1"));
        assert_eq!(e.event.customer_id.as_deref(), Some("1"));
        assert_eq!(e.event.email.as_deref(), Some("dan@lemonsqueezy.com"));
    }

    #[test]
    fn subscription_invoices_and_refunds() {
        let api: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{FIXTURES}/subscription-invoice.api-get-response.lemonsqueezy-go.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let webhook = |name: &str, data: &Value| {
            serde_json::json!({"meta": {"event_name": name, "custom_data": {"affiliate_code": "Jane"}}, "data": data})
                .to_string()
        };
        let e = normalize(&webhook("subscription_payment_success", &api["data"])).unwrap();
        assert_eq!(e.event.kind, Kind::Customer);
        assert_eq!(e.event.hints.code.as_deref(), Some("jane"));
        let mut renewal = api["data"].clone();
        renewal["attributes"]["billing_reason"] = "renewal".into();
        let e = normalize(&webhook("subscription_payment_success", &renewal)).unwrap();
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(
            (e.event.amount_cents, e.event.currency.as_deref()),
            (999, Some("USD"))
        );
        assert_eq!(e.event.subscription_id.as_deref(), Some("1"));
        assert_eq!(e.event.charge_id.as_deref(), Some("lemonsqueezy_invoice_1"));

        let order: Value = serde_json::from_slice(
            &std::fs::read(format!(
                "{FIXTURES}/order_created.signed.lemonsqueezy-go.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let mut refunded = order["data"].clone();
        refunded["attributes"]["refunded"] = true.into();
        refunded["attributes"]["refunded_amount"] = 500.into();
        let e = normalize(&webhook("order_refunded", &refunded)).unwrap();
        assert_eq!(e.event.kind, Kind::Refund(RefundAmount::Cumulative(500)));
        assert_eq!(e.event_id, "order_refunded:1:500");
        refunded["attributes"]
            .as_object_mut()
            .unwrap()
            .remove("refunded_amount");
        let e = normalize(&webhook("order_refunded", &refunded)).unwrap();
        assert_eq!(e.event.kind, Kind::Refund(RefundAmount::Cumulative(1859)));
        assert!(normalize(r#"{"meta":{}}"#).is_err());
    }
}

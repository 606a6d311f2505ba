//! Chargebee webhooks: HTTP basic authentication (Chargebee signs nothing) and the mapping
//! of Chargebee's events onto [`Normalized`] events.
//!
//! The webhook is set in Chargebee with "Protect webhook URL with basic authentication":
//! the user name and password stored on the program are compared in constant time, both
//! always. There is no timestamp to check, so replay protection is idempotency on the
//! event's `id` (`ev_...`): a retried or replayed delivery changes nothing.
//!
//! Events (`{id, event_type, occurred_at, content: {...}}`; amounts are integers in minor
//! units, times unix seconds):
//! - `payment_succeeded`: a payment of `content.transaction.amount`, keyed by the
//!   transaction id and its invoice;
//! - `payment_refunded`: one refund transaction, counted once by its id, against the payment
//!   transaction it refunds (`refunded_txn_id`) or the invoice;
//! - `subscription_created`: a subscription began (its items' amounts).
//!
//! The referral: Chargebee carries no free metadata through its checkout, so it is read from
//! custom fields named like the metadata keys with Chargebee's `cf_` prefix
//! (`cf_affiliate_code`, `cf_ref`, `cf_via`, `cf_referral_code`, `cf_aff_sess`,
//! `cf_affiliate_id`), on the subscription first and then the customer, and after those from
//! their `meta_data` JSON (set through the API).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::provider::{ProviderEvent, cents, currency, id, secret_eq, text};
use super::{Hints, Kind, Normalized, RefundAmount};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Basic ...` header that decodes to `user:password`.
    Missing,
    /// The user name or password is wrong.
    Mismatch,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "basic authentication is required on this endpoint",
            Self::Mismatch => "the basic authentication user name or password is wrong",
        })
    }
}

/// Checks an `Authorization` header against the stored user name and password.
pub fn verify(header: Option<&str>, username: &str, password: &str) -> Result<(), AuthError> {
    let encoded = header
        .and_then(|h| {
            h.trim()
                .strip_prefix("Basic ")
                .or_else(|| h.trim().strip_prefix("basic "))
        })
        .ok_or(AuthError::Missing)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| AuthError::Missing)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Missing)?;
    let (user, pass) = decoded.split_once(':').ok_or(AuthError::Missing)?;
    // Both compared whatever the first answer.
    let ok = u8::from(secret_eq(user, username)) & u8::from(secret_eq(pass, password));
    if ok == 1 {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The `Authorization` header Chargebee sends (tests and local tooling).
pub fn basic_auth(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

/// The referral keys of a resource: its `cf_` custom fields without the prefix, then its
/// `meta_data` object.
fn read_referral(resource: Option<&Value>, hints: &mut Hints) {
    let Some(r) = resource.and_then(Value::as_object) else {
        return;
    };
    let custom: Map<String, Value> = r
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("cf_").map(|k| (k.to_owned(), v.clone())))
        .collect();
    hints.read(&Value::Object(custom));
    if let Some(meta) = r.get("meta_data") {
        // The API returns it as an object; older payloads as a JSON string.
        match meta {
            Value::String(s) => {
                if let Ok(m) = serde_json::from_str::<Value>(s) {
                    hints.read(&m);
                }
            }
            m => hints.read(m),
        }
    }
}

/// A coupon the subscription or invoice names.
fn coupon(content: &Value) -> Option<String> {
    let from_subscription = content
        .pointer("/subscription/coupons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| text(c.get("coupon_code")).or_else(|| text(c.get("coupon_id"))));
    from_subscription.or_else(|| {
        content
            .pointer("/invoice/discounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|d| {
                d.get("entity_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("_coupon"))
            })
            .find_map(|d| text(d.get("entity_id")))
    })
}

fn field<'a>(r: Option<&'a Value>, k: &str) -> Option<&'a Value> {
    r.and_then(|r| r.get(k))
}

/// Reads a Chargebee event body. Unknown types come back as [`Kind::Unhandled`]; a
/// malformed body is an error.
pub fn normalize(raw: &str) -> Result<ProviderEvent, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("body is not JSON: {e}"))?;
    let event_id = text(v.get("id")).ok_or("event has no id")?;
    let event_type = text(v.get("event_type")).ok_or("event has no event_type")?;
    let occurred_at = v
        .get("occurred_at")
        .and_then(Value::as_i64)
        .ok_or("event has no occurred_at")?
        .saturating_mul(1000);
    let content = v
        .get("content")
        .filter(|c| c.is_object())
        .ok_or("event has no content")?;
    let transaction = content.get("transaction");
    let invoice = content.get("invoice");
    let subscription = content.get("subscription");
    let currency_code = [transaction, invoice, subscription]
        .into_iter()
        .find_map(|r| field(r, "currency_code").and_then(Value::as_str));
    let mut event = Normalized {
        kind: Kind::Unhandled,
        event_type: event_type.clone(),
        customer_id: text(content.pointer("/customer/id"))
            .or_else(|| text(field(transaction, "customer_id")))
            .or_else(|| text(field(subscription, "customer_id"))),
        email: text(content.pointer("/customer/email")),
        amount_cents: 0,
        currency: currency(currency_code)?,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
        subscription_id: text(field(subscription, "id"))
            .or_else(|| text(field(transaction, "subscription_id")))
            .or_else(|| text(field(invoice, "subscription_id"))),
        external_id: None,
        occurred_at,
        hints: Hints::default(),
        enrollment_id: None,
        refund_id: None,
        pairing: None,
    };
    read_referral(subscription, &mut event.hints);
    read_referral(content.get("customer"), &mut event.hints);
    event.hints.promo_code = coupon(content)
        .as_deref()
        .and_then(crate::domain::attribution::promo_codes::normalize_hint);
    match event_type.as_str() {
        "payment_succeeded" => {
            let t = transaction.ok_or("payment_succeeded has no content.transaction")?;
            event.kind = Kind::Payment;
            event.event_type = if event.subscription_id.is_some() {
                "invoice.paid".into()
            } else {
                "charge.succeeded".into()
            };
            event.charge_id = Some(id(t.get("id")).ok_or("transaction has no id")?);
            event.invoice_id = id(field(invoice, "id")).or_else(|| id(t.get("invoice_id")));
            event.amount_cents =
                cents(t.get("amount"), "transaction.amount")?.ok_or("transaction has no amount")?;
        }
        "payment_refunded" => {
            let t = transaction.ok_or("payment_refunded has no content.transaction")?;
            let amount =
                cents(t.get("amount"), "transaction.amount")?.ok_or("transaction has no amount")?;
            event.kind = Kind::Refund(RefundAmount::Increment(amount));
            event.event_type = "refund.processed".into();
            event.refund_id = id(t.get("id"));
            event.charge_id =
                id(t.get("refunded_txn_id")).or_else(|| id(t.get("reference_transaction_id")));
            event.invoice_id = id(field(invoice, "id")).or_else(|| {
                t.pointer("/linked_invoices/0/invoice_id")
                    .and_then(|i| id(Some(i)))
            });
        }
        "subscription_created" => {
            let s = subscription.ok_or("subscription_created has no content.subscription")?;
            event.kind = Kind::SubscriptionStarted;
            event.event_type = "subscription.created".into();
            event.amount_cents = subscription_amount(s)?;
            event.external_id = event
                .subscription_id
                .as_ref()
                .map(|s| format!("subscription.created:{s}"));
        }
        _ => {}
    }
    Ok(ProviderEvent {
        event_id,
        event_type,
        event,
    })
}

/// A subscription's recurring amount: its items (Product Catalog 2.0) or its plan (1.0).
fn subscription_amount(s: &Value) -> Result<i64, String> {
    if let Some(items) = s.get("subscription_items").and_then(Value::as_array) {
        let mut total: i64 = 0;
        for item in items {
            let amount = match cents(item.get("amount"), "amount")? {
                Some(a) => a,
                None => {
                    let unit = cents(item.get("unit_price"), "unit_price")?.unwrap_or(0);
                    unit.saturating_mul(item.get("quantity").and_then(Value::as_i64).unwrap_or(1))
                }
            };
            total = total.saturating_add(amount);
        }
        return Ok(total);
    }
    if let Some(a) = cents(s.get("plan_amount"), "plan_amount")? {
        return Ok(a);
    }
    let unit = cents(s.get("plan_unit_price"), "plan_unit_price")?.unwrap_or(0);
    Ok(unit.saturating_mul(s.get("plan_quantity").and_then(Value::as_i64).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chargebee");

    #[test]
    fn basic_auth_is_checked() {
        let h = basic_auth("affilia", "s3cret-pass");
        assert_eq!(verify(Some(&h), "affilia", "s3cret-pass"), Ok(()));
        assert_eq!(
            verify(Some(&h), "affilia", "other-pass"),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(Some(&h), "someone", "s3cret-pass"),
            Err(AuthError::Mismatch)
        );
        assert_eq!(verify(None, "a", "b"), Err(AuthError::Missing));
        assert_eq!(verify(Some("Bearer x"), "a", "b"), Err(AuthError::Missing));
        assert_eq!(verify(Some("Basic !!!"), "a", "b"), Err(AuthError::Missing));
        // A password may contain colons: only the first separates.
        let h = basic_auth("u", "a:b");
        assert_eq!(verify(Some(&h), "u", "a:b"), Ok(()));
    }

    #[test]
    fn the_sdk_event_normalizes() {
        let raw = std::fs::read_to_string(format!(
            "{FIXTURES}/payment_succeeded.event.chargebee-go.json"
        ))
        .unwrap();
        let e = normalize(&raw).unwrap();
        assert_eq!(e.event_id, "ev_HoR7OrcNacEsxgT");
        assert_eq!(e.event.kind, Kind::Payment);
        assert_eq!(e.event.amount_cents, 900);
        assert_eq!(e.event.currency, None);
        assert_eq!(e.event.charge_id.as_deref(), Some("txn_HoR7OrcNacEsxKR"));
        assert_eq!(e.event.invoice_id.as_deref(), Some("3"));
        assert_eq!(e.event.customer_id.as_deref(), Some("8avPlNabxST86"));
        assert_eq!(e.event.occurred_at, 1_339_951_249_000);

        let mut v: Value = serde_json::from_str(&raw).unwrap();
        v["content"]["subscription"]["cf_affiliate_code"] = "Jane".into();
        v["content"]["customer"]["meta_data"] =
            serde_json::json!({"aff_sess": "x", "affiliate_id": "aff_01"});
        v["content"]["subscription"]["coupons"] = serde_json::json!([{"coupon_id": "SPRING"}]);
        let e = normalize(&v.to_string()).unwrap();
        assert_eq!(e.event.hints.code.as_deref(), Some("jane"));
        assert_eq!(e.event.hints.affiliate_id.as_deref(), Some("aff_01"));
        assert_eq!(e.event.hints.promo_code.as_deref(), Some("SPRING"));

        v["event_type"] = "payment_refunded".into();
        v["content"]["transaction"] = serde_json::json!({"id": "txn_refund1", "type": "refund",
            "amount": 300, "currency_code": "usd", "refunded_txn_id": "txn_HoR7OrcNacEsxKR"});
        let e = normalize(&v.to_string()).unwrap();
        assert_eq!(e.event.kind, Kind::Refund(RefundAmount::Increment(300)));
        assert_eq!(e.event.charge_id.as_deref(), Some("txn_HoR7OrcNacEsxKR"));
        assert_eq!(e.event.refund_id.as_deref(), Some("txn_refund1"));
        assert_eq!(e.event.currency.as_deref(), Some("USD"));

        v["event_type"] = "subscription_created".into();
        let e = normalize(&v.to_string()).unwrap();
        assert_eq!(e.event.kind, Kind::SubscriptionStarted);
        assert_eq!(e.event.subscription_id.as_deref(), Some("8avPlNabxST86"));
        assert!(normalize(r#"{"id":"ev_1"}"#).is_err());
    }
}

//! Stripe webhooks: signature verification exactly as Stripe's libraries do it, and the
//! mapping of Stripe events onto [`Normalized`] events.
//!
//! `Stripe-Signature: t=1591264652,v1=<hex>,v1=<hex>,v0=<hex>`: each `v1` is the hex
//! HMAC-SHA256 of `"{t}.{raw body}"` keyed with the whole `whsec_...` secret. Any matching
//! `v1` is accepted (Stripe sends two while a secret is being rolled); `v0` and unknown
//! schemes are ignored; timestamps older than the tolerance are refused (replay
//! protection); the comparison is constant-time.
//!
//! One payment reaches Stripe webhooks several times (`checkout.session.completed`,
//! `invoice.paid` / `invoice.payment_succeeded`, `charge.succeeded`, `invoice_payment.paid`):
//! each carries the ids it knows (invoice, payment intent, charge) and the pipeline matches
//! them to one conversion. Every place an id has had since API version 2019 is read:
//!
//! - up to 2025-02-24 ("acacia") an invoice names its `charge` and `payment_intent`, and a
//!   charge names its `invoice`;
//! - from 2025-03-31 ("basil", then "clover", "dahlia") the invoice's payments are listed
//!   under `payments.data[].payment` (only when expanded; webhooks leave it out), its
//!   subscription under `parent.subscription_details`, and a charge no longer names its
//!   invoice. `invoice_payment.paid` names both halves; without it, an event that knows one
//!   half carries a [`Pairing`] so the pipeline can find the other half's conversion.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{Half, Hints, Kind, Normalized, Pairing, RefundAmount};
use crate::domain::attribution::promo_codes;
use crate::domain::values::Currency;

/// Seconds an old signature stays acceptable (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or no `t` / `v1` in it.
    Malformed,
    /// The timestamp is older than the tolerance.
    TooOld,
    /// No `v1` matches.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "Stripe-Signature header is missing or malformed",
            Self::TooOld => "Stripe-Signature timestamp is outside the 300 s tolerance",
            Self::Mismatch => "no Stripe-Signature v1 signature matches the body",
        })
    }
}

/// Verifies a `Stripe-Signature` header for `body` at unix time `now_secs`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(v) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t < now_secs - TOLERANCE_SECS {
        return Err(SignatureError::TooOld);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Every candidate is compared (no early exit on the first miss).
    let matched = candidates
        .iter()
        .fold(false, |ok, c| ok | constant_time_eq(c, &expected));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs `body` like Stripe does (tests and local tooling): the header value.
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The envelope fields every Stripe event has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `evt_...`
    pub id: String,
    /// e.g. `invoice.paid`.
    pub r#type: String,
    /// The API version the event was rendered in (`2025-03-31.basil`), when it says.
    pub api_version: Option<String>,
}

/// The first API version whose charges no longer name their invoice.
const BASIL: &str = "2025-03-31";

/// Whether the event is rendered in the "basil" shapes or later. Versions are dates, so
/// they compare as text.
fn basil_or_later(api_version: Option<&str>) -> bool {
    api_version.is_some_and(|v| v.get(..BASIL.len()).is_some_and(|d| d >= BASIL))
}

fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(x)) if !x.is_empty() => Some(x.clone()),
        // Expanded objects carry their id.
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn i(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn currency(v: &Value) -> Result<Option<String>, String> {
    match v.get("currency").and_then(Value::as_str) {
        Some(c) => Currency::parse("currency", c)
            .map(|c| Some(c.as_str().to_owned()))
            .map_err(|_| format!("unknown currency {c:?}")),
        None => Ok(None),
    }
}

/// An amount in Stripe's API unit as minor units of ISO 4217 (what Affilia stores). Stripe
/// sends the ISO minor unit for every currency (yen for JPY, as stored; fils for BHD) but
/// two: ISK, which Stripe keeps two-decimal in its API (100 = 1 króna, "amounts must be
/// evenly divisible by 100", docs.stripe.com/currencies#special-cases) while ISO 4217 has
/// no minor unit, and MGA, which Stripe lists as zero-decimal while ISO 4217 gives it two.
pub fn from_stripe_units(amount: i64, currency: &str) -> i64 {
    match currency {
        // Fractional króna have not been chargeable since April 2023: nothing is lost.
        "ISK" => amount / 100,
        // Saturates: an amount that large is refused by the money range check.
        "MGA" => amount.saturating_mul(100),
        _ => amount,
    }
}

/// Minor units of ISO 4217 as Stripe's API unit: the inverse of [`from_stripe_units`], for
/// amounts Affilia sends to Stripe (Connect transfers).
pub fn to_stripe_units(minor: i64, currency: &str) -> i64 {
    match currency {
        "ISK" => minor.saturating_mul(100),
        // Stripe has no fraction of an ariary: the payout rounds down to whole ariary.
        "MGA" => minor / 100,
        _ => minor,
    }
}

/// Reads a Stripe event body into its envelope and normalized event. Unknown types come
/// back as [`Kind::Unhandled`]; a malformed body is an error.
pub fn normalize(raw: &str) -> Result<(Envelope, Normalized), String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("body is not JSON: {e}"))?;
    let id = s(&v, "id").ok_or("event has no id")?;
    let r#type = s(&v, "type").ok_or("event has no type")?;
    let created = i(&v, "created").ok_or("event has no created time")?;
    let object = v
        .get("data")
        .and_then(|d| d.get("object"))
        .ok_or("event has no data.object")?;
    let mut event = Normalized {
        kind: Kind::Unhandled,
        event_type: r#type.clone(),
        customer_id: s(object, "customer"),
        email: None,
        amount_cents: 0,
        currency: currency(object)?,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
        subscription_id: None,
        external_id: None,
        occurred_at: created.saturating_mul(1000),
        hints: Hints::default(),
        enrollment_id: None,
        refund_id: None,
        pairing: None,
    };
    let api_version = s(&v, "api_version");
    let basil = basil_or_later(api_version.as_deref());
    let metadata = |key: &str| object.get(key).cloned().unwrap_or(Value::Null);
    match r#type.as_str() {
        "checkout.session.completed" => checkout_session(object, &mut event),
        "invoice.paid" | "invoice.payment_succeeded" => invoice(object, basil, &mut event),
        "invoice_payment.paid" => invoice_payment(object, &mut event),
        "charge.succeeded" => {
            event.kind = Kind::Payment;
            event.amount_cents = i(object, "amount").unwrap_or(0);
            charge_ids(object, &mut event);
            event.pairing = charge_pairing(object, basil, &event, event.occurred_at);
            event.hints.read(&metadata("metadata"));
        }
        "charge.refunded" => {
            let refunded = i(object, "amount_refunded").ok_or("charge has no amount_refunded")?;
            event.kind = Kind::Refund(RefundAmount::Cumulative(refunded));
            event.event_type = "refund.processed".into();
            event.amount_cents = i(object, "amount").unwrap_or(0);
            charge_ids(object, &mut event);
            // The sale is matched by the charge's own time: the event is the refund's.
            let charged_at = i(object, "created").map_or(event.occurred_at, |t| t * 1000);
            event.pairing = charge_pairing(object, basil, &event, charged_at);
        }
        "refund.created" | "refund.updated" | "charge.refund.updated" => {
            refund(object, &mut event)?
        }
        "customer.subscription.created" => {
            event.kind = Kind::SubscriptionStarted;
            event.event_type = "subscription.created".into();
            event.subscription_id = s(object, "id");
            event.amount_cents = subscription_amount(object);
            if event.currency.is_none() {
                event.currency = object
                    .pointer("/items/data/0/price")
                    .map(currency)
                    .transpose()?
                    .flatten();
            }
            event.external_id = event
                .subscription_id
                .as_ref()
                .map(|s| format!("subscription.created:{s}"));
            event.hints.read(&metadata("metadata"));
            read_promo_code(object, &mut event);
        }
        "customer.subscription.deleted" => {
            event.kind = Kind::SubscriptionCanceled;
            event.event_type = "subscription.canceled".into();
            event.subscription_id = s(object, "id");
        }
        "customer.created" | "customer.updated" => {
            event.kind = Kind::Customer;
            event.customer_id = s(object, "id");
            event.email = s(object, "email");
            event.external_id = event
                .customer_id
                .as_ref()
                .map(|c| format!("customer.created:{c}"));
            event.hints.read(&metadata("metadata"));
        }
        _ => {}
    }
    if let Some(code) = event.currency.as_deref() {
        event.amount_cents = from_stripe_units(event.amount_cents, code);
        if let Kind::Refund(RefundAmount::Increment(a) | RefundAmount::Cumulative(a)) =
            &mut event.kind
        {
            *a = from_stripe_units(*a, code);
        }
    }
    Ok((
        Envelope {
            id,
            r#type,
            api_version,
        },
        event,
    ))
}

/// A paid invoice (`invoice.paid` and `invoice.payment_succeeded`, sent together for the
/// same invoice, so they are one conversion by its id).
fn invoice(object: &Value, basil: bool, event: &mut Normalized) {
    event.kind = Kind::Payment;
    event.event_type = "invoice.paid".into();
    read_promo_code(object, event);
    event.amount_cents = i(object, "amount_paid").unwrap_or(0);
    event.invoice_id = s(object, "id");
    event.payment_intent_id = s(object, "payment_intent");
    event.charge_id = s(object, "charge");
    if event.payment_intent_id.is_none() && event.charge_id.is_none() {
        // Basil and later, when the payments list is expanded: the paid payment.
        let payments = object.pointer("/payments/data").and_then(Value::as_array);
        let paid = payments.and_then(|list| {
            list.iter()
                .find(|p| p.get("status").and_then(Value::as_str) == Some("paid"))
                .or_else(|| list.first())
        });
        if let Some(payment) = paid.and_then(|p| p.get("payment")) {
            event.payment_intent_id = s(payment, "payment_intent");
            event.charge_id = s(payment, "charge");
        }
    }
    event.email = s(object, "customer_email");
    let parent_sub = object.pointer("/parent/subscription_details").cloned();
    event.subscription_id = s(object, "subscription")
        .or_else(|| parent_sub.as_ref().and_then(|p| s(p, "subscription")));
    let shape_without_payment = basil || object.get("charge").is_none();
    if event.payment_intent_id.is_none() && event.charge_id.is_none() && shape_without_payment {
        let paid_at = object
            .pointer("/status_transitions/paid_at")
            .and_then(Value::as_i64)
            .map_or(event.occurred_at, |t| t.saturating_mul(1000));
        event.pairing = Some(Pairing {
            knows: Half::Invoice,
            at: paid_at,
        });
    }
    event
        .hints
        .read(&object.get("metadata").cloned().unwrap_or(Value::Null));
    if let Some(m) = object.pointer("/subscription_details/metadata") {
        event.hints.read(m);
    }
    if let Some(m) = parent_sub.as_ref().and_then(|p| p.get("metadata")) {
        event.hints.read(m);
    }
    if let Some(lines) = object.pointer("/lines/data").and_then(Value::as_array) {
        for line in lines {
            event
                .hints
                .read(&line.get("metadata").cloned().unwrap_or(Value::Null));
        }
    }
}

/// `invoice_payment.paid` (basil and later): which payment intent or charge paid an invoice.
fn invoice_payment(object: &Value, event: &mut Normalized) {
    event.kind = Kind::Link;
    event.invoice_id = s(object, "invoice");
    event.amount_cents = i(object, "amount_paid").unwrap_or(0);
    if let Some(payment) = object.get("payment") {
        event.payment_intent_id = s(payment, "payment_intent");
        event.charge_id = s(payment, "charge");
    }
}

/// A charge that does not name an invoice: in basil and later shapes (where the field is
/// gone) it may still have paid one, so it carries a [`Pairing`]; in older shapes
/// `invoice: null` means it paid none.
fn charge_pairing(object: &Value, basil: bool, event: &Normalized, at: i64) -> Option<Pairing> {
    let shape_without_invoice = basil || object.get("invoice").is_none();
    (event.invoice_id.is_none() && shape_without_invoice).then_some(Pairing {
        knows: Half::Payment,
        at,
    })
}

/// `refund.created` / `refund.updated`: one refund, counted once by its id however often it
/// is sent. A failed or canceled refund gave nothing back and changes nothing.
fn refund(object: &Value, event: &mut Normalized) -> Result<(), String> {
    let amount = i(object, "amount").ok_or("refund has no amount")?;
    let status = object.get("status").and_then(Value::as_str).unwrap_or("");
    event.event_type = "refund.processed".into();
    event.refund_id = s(object, "id");
    event.charge_id = s(object, "charge");
    event.payment_intent_id = s(object, "payment_intent");
    event.kind = match status {
        "failed" | "canceled" => {
            event.event_type = format!("refund.{status}");
            Kind::Unhandled
        }
        _ => Kind::Refund(RefundAmount::Increment(amount)),
    };
    Ok(())
}

fn charge_ids(object: &Value, event: &mut Normalized) {
    event.charge_id = s(object, "id");
    event.payment_intent_id = s(object, "payment_intent");
    event.invoice_id = s(object, "invoice");
    event.email = object
        .pointer("/billing_details/email")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| s(object, "receipt_email"));
}

/// A completed Checkout Session. In payment mode it is the payment (keyed by its payment
/// intent, which `charge.succeeded` shares). In subscription mode the money is the first
/// invoice: with the invoice id (newer API versions) it is the same conversion as
/// `invoice.paid`; without it the session only binds the customer, so the payment is never
/// counted twice. Unpaid sessions (delayed payment methods) bind the customer too.
fn checkout_session(object: &Value, event: &mut Normalized) {
    event
        .hints
        .read(&object.get("metadata").cloned().unwrap_or(Value::Null));
    read_promo_code(object, event);
    if let Some(r) = object.get("client_reference_id").and_then(Value::as_str) {
        event
            .hints
            .read(&serde_json::json!({"aff_sess": r, "ref": r}));
    }
    event.email = s(object, "customer_email").or_else(|| {
        object
            .pointer("/customer_details/email")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    event.payment_intent_id = s(object, "payment_intent");
    event.invoice_id = s(object, "invoice");
    event.subscription_id = s(object, "subscription");
    let paid = object
        .get("payment_status")
        .and_then(Value::as_str)
        .is_none_or(|p| p == "paid");
    event.amount_cents = i(object, "amount_total").unwrap_or_else(|| display_items_total(object));
    if event.currency.is_none() {
        event.currency = object
            .pointer("/display_items/0/currency")
            .and_then(Value::as_str)
            .and_then(|c| Currency::parse("currency", c).ok())
            .map(|c| c.as_str().to_owned());
    }
    if event.invoice_id.is_some() && event.payment_intent_id.is_none() {
        // A subscription's first invoice: its charge (basil and later) cannot name it.
        event.pairing = Some(Pairing {
            knows: Half::Invoice,
            at: event.occurred_at,
        });
    }
    let keyed = event.payment_intent_id.is_some() || event.invoice_id.is_some();
    event.kind = if paid && keyed {
        Kind::Payment
    } else {
        Kind::Customer
    };
}

/// The promotion code a Checkout Session or invoice names through its discounts, in every
/// shape since 2019: the single `discount` (up to 2025-02-24), the `discounts` list (each
/// an expanded discount, a Checkout Session's `{coupon, promotion_code}`, or a `di_...` id),
/// `total_discount_amounts[].discount`, a session's `total_details.breakdown.discounts[]`
/// and the same on invoice lines. A discount's `promotion_code` is an id (`promo_...`) or
/// the expanded object with its `code`; the code is preferred, else the id (matched against
/// the Stripe id stored on a promo code). A bare discount id (`di_...`, how basil and later
/// list an invoice's discounts in webhooks) names no code and is not read.
fn read_promo_code(object: &Value, event: &mut Normalized) {
    if event.hints.promo_code.is_some() {
        return;
    }
    let mut discounts: Vec<&Value> = Vec::new();
    collect_discounts(object, &mut discounts);
    for line in object
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_discounts(line, &mut discounts);
    }
    let mut id = None;
    for d in discounts {
        match d.get("promotion_code") {
            Some(Value::Object(p)) => {
                if let Some(code) = p.get("code").and_then(Value::as_str) {
                    event.hints.promo_code = promo_codes::normalize_hint(code);
                    if event.hints.promo_code.is_some() {
                        return;
                    }
                }
                id = id.or_else(|| p.get("id").and_then(Value::as_str));
            }
            Some(Value::String(p)) => id = id.or(Some(p.as_str())),
            _ => {}
        }
    }
    event.hints.promo_code = id.and_then(promo_codes::normalize_hint);
}

/// The discounts one object (a session, invoice or invoice line) lists, in any shape.
fn collect_discounts<'a>(holder: &'a Value, out: &mut Vec<&'a Value>) {
    if let Some(d) = holder.get("discount").filter(|d| d.is_object()) {
        out.push(d);
    }
    for key in ["discounts", "total_discount_amounts", "discount_amounts"] {
        for item in holder
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match item.get("discount") {
                Some(d) if d.is_object() => out.push(d),
                _ => out.push(item),
            }
        }
    }
    if let Some(list) = holder
        .pointer("/total_details/breakdown/discounts")
        .and_then(Value::as_array)
    {
        out.extend(list.iter().filter_map(|b| b.get("discount")));
    }
}

/// Old Checkout Sessions (API 2019) list `display_items` instead of `amount_total`.
fn display_items_total(object: &Value) -> i64 {
    object
        .get("display_items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|it| {
                    i(it, "amount")
                        .unwrap_or(0)
                        .saturating_mul(i(it, "quantity").unwrap_or(1))
                })
                .sum()
        })
        .unwrap_or(0)
}

fn subscription_amount(object: &Value) -> i64 {
    object
        .pointer("/items/data")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|it| {
                    let price = it.get("price").or_else(|| it.get("plan"));
                    let unit = price
                        .and_then(|p| i(p, "unit_amount").or_else(|| i(p, "amount")))
                        .unwrap_or(0);
                    unit.saturating_mul(i(it, "quantity").unwrap_or(1))
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stripe");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    #[test]
    fn the_signed_odoo_vector_verifies_with_the_clock_fixed() {
        let body = std::fs::read(format!(
            "{FIXTURES}/checkout.session.completed.event.odoo.signed.json"
        ))
        .unwrap();
        let header = "t=1591264652,v1=1f0d3e035d8de956396b1d91727267fbbf483253e7702e46357b4d2bfa078ba4,v0=20d76342f4704d49f8f89db03acff7cf04afa48ca70a22d608b4649b332c1f51";
        let secret = "whsec_vG1fL6CMUouQ7cObF2VJprLVXT5jBLxB";
        assert_eq!(verify(Some(header), &body, secret, 1_591_264_652), Ok(()));
        // 300 s later it still verifies; one second more and it is too old.
        assert_eq!(verify(Some(header), &body, secret, 1_591_264_952), Ok(()));
        assert_eq!(
            verify(Some(header), &body, secret, 1_591_264_953),
            Err(SignatureError::TooOld)
        );
        // Today's clock refuses the old vector.
        assert_eq!(
            verify(Some(header), &body, secret, chrono::Utc::now().timestamp()),
            Err(SignatureError::TooOld)
        );
        // Any byte changed, or another secret: mismatch.
        let mut tampered = body.clone();
        tampered[100] ^= 1;
        assert_eq!(
            verify(Some(header), &tampered, secret, 1_591_264_652),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(header), &body, "whsec_other", 1_591_264_652),
            Err(SignatureError::Mismatch)
        );
        // A second v1 (secret rolling) is accepted in any position; v0 alone is not enough.
        let rolled = "t=1591264652,v1=00ff,v1=1f0d3e035d8de956396b1d91727267fbbf483253e7702e46357b4d2bfa078ba4";
        assert_eq!(verify(Some(rolled), &body, secret, 1_591_264_652), Ok(()));
        let v0_only =
            "t=1591264652,v0=20d76342f4704d49f8f89db03acff7cf04afa48ca70a22d608b4649b332c1f51";
        assert_eq!(
            verify(Some(v0_only), &body, secret, 1_591_264_652),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(None, &body, secret, 0),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("garbage"), &body, secret, 0),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_signed_basil_vector_verifies_with_the_clock_fixed() {
        // Raw bytes with a non-ASCII character: the MAC is over bytes, not characters.
        let body = std::fs::read(format!(
            "{FIXTURES}/invoice.payment_succeeded.event.clearstats.signed.json"
        ))
        .unwrap();
        let header = "t=1746757390,v1=bc889a3926c751e3ea753efc027f6adbb11d224b57ebae9e86c0da62461e9f35,v0=537d1b7f8ebf0452111cafdcd6ee4cf80eb1b1ba62bc2ded7569289edfa0a2b0";
        let secret = "whsec_750e601a79a762e75cf1ec30b41b2e6f88daafcc644b3a9f29e735b4453ebb9a";
        assert_eq!(verify(Some(header), &body, secret, 1_746_757_390), Ok(()));
        assert_eq!(
            sign(&body, secret, 1_746_757_390),
            header[..header.find(",v0").unwrap()]
        );
    }

    #[test]
    fn sign_matches_verify() {
        let header = sign(b"{}", "whsec_x", 1000);
        assert_eq!(verify(Some(&header), b"{}", "whsec_x", 1100), Ok(()));
    }

    #[test]
    fn fixtures_normalize() {
        let (env, e) = normalize(&fixture(
            "checkout.session.completed.event.odoo.signed.json",
        ))
        .unwrap();
        assert_eq!(env.id, "evt_1GqFpHAlCFm536g8NYSLoccF");
        assert_eq!(e.kind, Kind::Payment);
        assert_eq!(e.amount_cents, 3000); // 2 × 15.00 display items
        assert_eq!(e.currency.as_deref(), Some("USD"));
        assert_eq!(
            e.payment_intent_id.as_deref(),
            Some("pi_1GqFpCAlCFm536g8HsBSvSEt")
        );
        assert_eq!(e.customer_id.as_deref(), Some("cus_HP3xLqXMIwBfTg"));

        let (_, e) = normalize(&fixture("charge.succeeded.event.lago.json")).unwrap();
        assert_eq!(e.kind, Kind::Payment);
        assert_eq!((e.amount_cents, e.currency.as_deref()), (100, Some("EUR")));
        assert_eq!(e.charge_id.as_deref(), Some("ch_3L7z2aDu4p87RxPw290ERIXH"));
        assert_eq!(e.customer_id, None);

        let (_, e) = normalize(&fixture("invoice.paid.event.gitpay.json")).unwrap();
        assert_eq!(e.kind, Kind::Payment);
        assert_eq!(e.amount_cents, 10800);
        assert_eq!(e.invoice_id.as_deref(), Some("in_1Q2fh8BrSjgsps2DUqQsGLDj"));
        assert_eq!(e.charge_id.as_deref(), Some("ch_3Q2fhABrSjgsps2D2NnVRPLa"));
        assert_eq!(e.email.as_deref(), Some("alexanmtz@gmail.com"));
    }

    #[test]
    fn data_only_fixtures_normalize_inside_an_envelope() {
        let wrap = |t: &str, data: &str| {
            format!(
                r#"{{"id":"evt_test","object":"event","created":1700000000,"type":"{t}","data":{data}}}"#
            )
        };
        let (_, e) = normalize(&wrap(
            "charge.refunded",
            &fixture("charge.refunded.data.pay-rails.json"),
        ))
        .unwrap();
        assert_eq!(e.kind, Kind::Refund(RefundAmount::Cumulative(500)));
        assert_eq!(e.amount_cents, 1500);
        assert_eq!(e.charge_id.as_deref(), Some("ch_chargeid"));
        assert_eq!(e.payment_intent_id.as_deref(), Some("pm_1234"));

        let (_, e) = normalize(&wrap(
            "customer.subscription.created",
            &fixture("customer.subscription.created.data.pay-rails.json"),
        ))
        .unwrap();
        assert_eq!(e.kind, Kind::SubscriptionStarted);
        assert_eq!(e.subscription_id.as_deref(), Some("sub_00000000000000"));
        assert_eq!(e.amount_cents, 600);
        assert_eq!(e.currency.as_deref(), Some("USD"));
        assert_eq!(e.occurred_at, 1_700_000_000_000);
    }

    #[test]
    fn basil_and_later_shapes_name_every_id_they_can() {
        // clearstats' signed basil invoice: subscription under `parent`, no payment named.
        let (env, e) = normalize(&fixture(
            "invoice.payment_succeeded.event.clearstats.signed.json",
        ))
        .unwrap();
        assert_eq!(env.api_version.as_deref(), Some("2025-03-31.basil"));
        assert_eq!(e.kind, Kind::Payment);
        assert_eq!(e.event_type, "invoice.paid");
        assert_eq!((e.amount_cents, e.currency.as_deref()), (4999, Some("CAD")));
        assert_eq!(
            e.subscription_id.as_deref(),
            Some("sub_1RMgafCMHTTliF5imBKfvfyV")
        );
        assert_eq!(
            (e.payment_intent_id.as_ref(), e.charge_id.as_ref()),
            (None, None)
        );
        assert_eq!(
            e.pairing,
            Some(Pairing {
                knows: Half::Invoice,
                at: 1_746_757_388_000
            })
        );

        // The basil Checkout Session of a subscription names its invoice only.
        let (_, e) =
            normalize(&fixture("checkout.session.completed.event.clearstats.json")).unwrap();
        assert_eq!(e.kind, Kind::Payment);
        assert_eq!(e.invoice_id.as_deref(), Some("in_1RMcdRCMHTTliF5i3unGNWXV"));
        assert_eq!(e.pairing.map(|p| p.knows), Some(Half::Invoice));

        let wrap = |version: &str, t: &str, object: Value| {
            serde_json::json!({"id": "evt_x", "object": "event", "api_version": version,
                               "created": 1_700_000_000, "type": t, "data": {"object": object}})
            .to_string()
        };
        // An expanded payments list names the paid payment, not a failed attempt.
        let invoice = serde_json::json!({"id": "in_1", "customer": "cus_1", "amount_paid": 500,
            "currency": "usd", "payments": {"data": [
                {"status": "failed", "payment": {"type": "payment_intent", "payment_intent": "pi_failed"}},
                {"status": "paid", "payment": {"type": "charge", "charge": "ch_paid"}}]}});
        let (_, e) = normalize(&wrap("2025-09-30.clover", "invoice.paid", invoice)).unwrap();
        assert_eq!(e.charge_id.as_deref(), Some("ch_paid"));
        assert_eq!(e.payment_intent_id, None);
        assert_eq!(e.pairing, None);

        // A basil charge cannot name its invoice; an old one with `invoice: null` paid none.
        let charge = serde_json::json!({"id": "ch_1", "customer": "cus_1", "amount": 500,
            "currency": "usd", "payment_intent": "pi_1", "created": 1_699_999_990});
        let (_, e) = normalize(&wrap(
            "2025-03-31.basil",
            "charge.succeeded",
            charge.clone(),
        ))
        .unwrap();
        assert_eq!(e.pairing.map(|p| p.knows), Some(Half::Payment));
        let mut old = charge.clone();
        old["invoice"] = Value::Null;
        let (_, e) = normalize(&wrap("2020-08-27", "charge.succeeded", old)).unwrap();
        assert_eq!(e.pairing, None);
        // A refunded charge is paired by the charge's own time, not the refund's.
        let mut refunded = charge;
        refunded["amount_refunded"] = serde_json::json!(200);
        let (_, e) = normalize(&wrap("2025-03-31.basil", "charge.refunded", refunded)).unwrap();
        assert_eq!(e.kind, Kind::Refund(RefundAmount::Cumulative(200)));
        assert_eq!(e.pairing.map(|p| p.at), Some(1_699_999_990_000));

        // invoice_payment.paid links the halves and moves no money.
        let link = serde_json::json!({"id": "inpay_1", "object": "invoice_payment",
            "invoice": "in_1", "amount_paid": 500, "currency": "usd", "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": "pi_1"}});
        let (_, e) = normalize(&wrap("2025-03-31.basil", "invoice_payment.paid", link)).unwrap();
        assert_eq!(e.kind, Kind::Link);
        assert_eq!(
            (e.invoice_id.as_deref(), e.payment_intent_id.as_deref()),
            (Some("in_1"), Some("pi_1"))
        );

        // Stripe's own refund fixture (dahlia): one refund, keyed by its id; a failed one
        // changes nothing.
        let refund: Value =
            serde_json::from_str(&fixture("refund.object.stripe-openapi-fixtures3.json")).unwrap();
        let (_, e) =
            normalize(&wrap("2026-07-29.dahlia", "refund.created", refund.clone())).unwrap();
        assert_eq!(e.kind, Kind::Refund(RefundAmount::Increment(100)));
        assert_eq!(e.refund_id.as_deref(), Some("re_1Pgc72B7WZ01zgkWqPvrRrPE"));
        assert_eq!(e.charge_id.as_deref(), Some("ch_1PgafuB7WZ01zgkWXYmPNZs8"));
        let mut failed = refund;
        failed["status"] = serde_json::json!("failed");
        let (_, e) = normalize(&wrap("2026-07-29.dahlia", "refund.updated", failed)).unwrap();
        assert_eq!(e.kind, Kind::Unhandled);
        assert_eq!(e.event_type, "refund.failed");
    }

    #[test]
    fn malformed_bodies_are_errors_and_unknown_types_unhandled() {
        assert!(normalize("not json").is_err());
        assert!(normalize(r#"{"id":"evt_1"}"#).is_err());
        let (_, e) =
            normalize(r#"{"id":"evt_1","type":"payout.paid","created":1,"data":{"object":{}}}"#)
                .unwrap();
        assert_eq!(e.kind, Kind::Unhandled);
    }

    #[test]
    fn stripe_units_become_iso_minor_units() {
        let paid = |currency: &str, amount: i64| {
            let body = serde_json::json!({"id": "evt_1", "type": "charge.succeeded",
                "created": 1_700_000_000, "data": {"object": {"id": "ch_1",
                "amount": amount, "currency": currency, "customer": "cus_1"}}});
            let (_, e) = normalize(&body.to_string()).unwrap();
            (e.amount_cents, e.currency.unwrap())
        };
        // JPY arrives in yen, KWD in fils, USD in cents: stored as given.
        assert_eq!(paid("jpy", 1500), (1500, "JPY".to_owned()));
        assert_eq!(paid("kwd", 1500), (1500, "KWD".to_owned()));
        assert_eq!(paid("usd", 1500), (1500, "USD".to_owned()));
        // The two currencies whose Stripe unit is not the ISO minor unit.
        assert_eq!(paid("isk", 150_000), (1500, "ISK".to_owned()));
        assert_eq!(paid("mga", 1500), (150_000, "MGA".to_owned()));
        assert_eq!(to_stripe_units(1500, "ISK"), 150_000);
        assert_eq!(to_stripe_units(150_000, "MGA"), 1500);
        assert_eq!(to_stripe_units(1500, "JPY"), 1500);
    }
}

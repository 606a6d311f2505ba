//! The billing events API (seed 000): `POST /api/v1/events`.
//!
//! `{id, type, customer_id, amount_cents, currency, subscription_id?, charge_id?,
//! invoice_id?, payment_intent_id?, occurred_at?, metadata?, email?, program_id?}` with type
//! `subscription.created`, `charge.succeeded`, `refund.processed` (partial refunds
//! included: `amount_cents` is this refund's amount) or `subscription.canceled`.
//!
//! The program is `program_id`, else the program of a referral code in the metadata, else
//! that of the promotion code (`coupon_code`, or `promo_code` / `coupon_code` in the
//! metadata), else the vendor's default program: decided by the body alone, so a resent event always lands
//! on the same key. A payment without charge, invoice or payment intent id is named by its
//! event id (`charge_id` = `id`), which is what a later refund refers to.
//!
//! Amounts are bounded (see [`crate::domain::values::money`]): a payment or refund is
//! 1 ..= 10^11 minor units, a subscription's price 0 ..= 10^11; anything else is a 422 on
//! `amount_cents` and nothing is stored. `occurred_at` defaults to the time the event is
//! received; that time is written into the stored body, so a replay reads the same time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Door, Hints, IngestWriter, Ingested, Kind, Normalized, RefundAmount};
use crate::db::{self, Db, programs::ProgramRow};
use crate::domain::attribution::{promo_codes, tracking::Tracker};
use crate::domain::{values::Currency, values::Email, values::Money, values::money, values::text};
use crate::error::{AppError, AppResult};

/// Types the API takes.
pub const TYPES: [&str; 4] = [
    "subscription.created",
    "charge.succeeded",
    "refund.processed",
    "subscription.canceled",
];
const ID_MAX: usize = 200;
/// Furthest in the future an event may claim to have happened (clock skew).
const FUTURE_SKEW_MS: i64 = 3_600_000;
/// Largest metadata object.
const METADATA_MAX_BYTES: usize = 8 * 1024;

/// The request body.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiEvent {
    /// Your event id: the idempotency key.
    pub id: String,
    /// One of [`TYPES`].
    #[schema(
        pattern = "^(subscription\\.created|charge\\.succeeded|refund\\.processed|subscription\\.canceled)$"
    )]
    pub r#type: String,
    /// Your customer id.
    pub customer_id: String,
    /// Minor units: the payment, this refund, or the subscription's price. Any JSON
    /// integer is read, so an out-of-range one is a 422 naming the field.
    #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub amount_cents: i64,
    /// ISO 4217.
    pub currency: Option<String>,
    /// Subscription (recurring commissions count its payments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// Charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    /// Invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// Payment intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent_id: Option<String>,
    /// RFC 3339; the time received when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// `affiliate_code`, `aff_sess`, `ref`, `affiliate_id` are read for attribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The customer's email (self-referral check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The program; see the module docs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
    /// The promotion code the customer used (`JANE20`): attributes the sale to the
    /// affiliate holding it, as a touch at sale time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    /// The buyer's IP address as your checkout saw it: compared (hashed, like a click's)
    /// with the click's for the `same_ip` fraud rule. Never stored: the event log keeps the
    /// body without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[ \\t]*[0-9A-Fa-f:.]{2,45}[ \\t]*$")]
    pub ip: Option<String>,
}

/// The buyer's address in the form the tracker hashes a click's (`IpAddr` text when it
/// reads as one); 422 on anything but an address's characters.
pub fn parse_ip(raw: &str) -> AppResult<String> {
    let t = raw.trim_matches([' ', '\t']);
    let shaped = (2..=45).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    if !shaped {
        return Err(AppError::invalid(
            "ip",
            "ip must be an IPv4 or IPv6 address",
        ));
    }
    Ok(t.parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| t.to_owned()))
}

fn opt_id(field: &str, v: &Option<String>) -> AppResult<Option<String>> {
    text::optional(field, v.as_deref(), ID_MAX)
}

/// Validates the body into a normalized event.
pub fn normalize(e: &ApiEvent, now: i64) -> AppResult<Normalized> {
    let id = text::required("id", &e.id, ID_MAX)?;
    let Some(r#type) = TYPES.iter().find(|t| **t == e.r#type) else {
        return Err(AppError::invalid(
            "type",
            format!("type must be one of: {}", TYPES.join(", ")),
        ));
    };
    let customer_id = text::required("customer_id", &e.customer_id, ID_MAX)?;
    let currency = e
        .currency
        .as_deref()
        .map(|c| Currency::parse("currency", c))
        .transpose()?;
    let is_money = matches!(*r#type, "charge.succeeded" | "refund.processed");
    let amount_cents = match currency {
        Some(c) if is_money => Money::payment("amount_cents", e.amount_cents, c)?.cents(),
        Some(c) => Money::amount("amount_cents", e.amount_cents, c)?.cents(),
        None if is_money => {
            return Err(AppError::invalid("currency", "currency is required"));
        }
        // A subscription without a currency: its price is informational.
        None => money::non_negative("amount_cents", e.amount_cents)?,
    };
    let currency = currency.map(|c| c.as_str().to_owned());
    let occurred_at = match e.occurred_at.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| AppError::invalid("occurred_at", "occurred_at must be an RFC 3339 time"))?
            .timestamp_millis(),
    };
    if occurred_at > now + FUTURE_SKEW_MS {
        return Err(AppError::invalid(
            "occurred_at",
            "occurred_at is in the future",
        ));
    }
    let mut hints = Hints::default();
    if let Some(m) = &e.metadata {
        if !m.is_object() {
            return Err(AppError::invalid("metadata", "metadata must be an object"));
        }
        if m.to_string().len() > METADATA_MAX_BYTES {
            return Err(AppError::invalid(
                "metadata",
                "metadata is larger than 8 KiB",
            ));
        }
        hints.read(m);
    }
    if let Some(c) = e.coupon_code.as_deref().filter(|c| !c.trim().is_empty()) {
        hints.promo_code = Some(promo_codes::parse_code("coupon_code", c)?);
    }
    let email = e
        .email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Email::parse("email", s).map(|e| e.as_str().to_owned()))
        .transpose()?;
    let mut event = Normalized {
        kind: match *r#type {
            "charge.succeeded" => Kind::Payment,
            "refund.processed" => Kind::Refund(RefundAmount::Increment(amount_cents)),
            "subscription.created" => Kind::SubscriptionStarted,
            _ => Kind::SubscriptionCanceled,
        },
        event_type: (*r#type).to_owned(),
        customer_id: Some(customer_id),
        email,
        amount_cents,
        currency,
        invoice_id: opt_id("invoice_id", &e.invoice_id)?,
        payment_intent_id: opt_id("payment_intent_id", &e.payment_intent_id)?,
        charge_id: opt_id("charge_id", &e.charge_id)?,
        subscription_id: opt_id("subscription_id", &e.subscription_id)?,
        external_id: None,
        occurred_at,
        hints,
        enrollment_id: None,
        // Each refund is counted once under its event id.
        refund_id: (*r#type == "refund.processed").then(|| id.clone()),
        pairing: None,
    };
    match event.kind {
        Kind::Payment if event.refs().is_empty() => event.charge_id = Some(id),
        Kind::Refund(_) if event.refs().is_empty() => {
            return Err(AppError::invalid(
                "charge_id",
                "a refund names the payment: charge_id, invoice_id or payment_intent_id \
                 (a payment sent without them is named by its event id)",
            ));
        }
        Kind::SubscriptionStarted => {
            event.external_id = event
                .subscription_id
                .as_ref()
                .map(|s| format!("subscription.created:{s}"));
        }
        _ => {}
    }
    Ok(event)
}

/// Re-reads a stored API event (replays).
pub fn normalize_stored(payload: &str) -> AppResult<Normalized> {
    let e: ApiEvent = serde_json::from_str(payload)
        .map_err(|e| AppError::BadRequest(format!("stored API event: {e}")))?;
    normalize(&e, i64::MAX / 2)
}

/// The program an API event is for; see the module docs.
async fn program_for(
    db: &Db,
    vendor_id: &str,
    e: &ApiEvent,
    hints: &Hints,
) -> AppResult<ProgramRow> {
    if let Some(id) = e.program_id.as_deref().filter(|s| !s.is_empty()) {
        return db::programs::by_id(db.pool(), vendor_id, id)
            .await?
            .ok_or_else(|| AppError::invalid("program_id", "no such program"));
    }
    if let Some(code) = &hints.code
        && let Some(p) = db::programs::by_code(db.pool(), vendor_id, code).await?
    {
        return Ok(p);
    }
    if let Some(code) = &hints.promo_code
        && let Some(t) = db::promo_codes::resolve(db.pool(), vendor_id, code).await?
        && let Some(p) = db::programs::by_id(db.pool(), vendor_id, &t.program_id).await?
    {
        return Ok(p);
    }
    db::programs::default_for(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The event's meaning and its program, or why it is refused.
async fn validate(
    db: &Db,
    vendor_id: &str,
    body: &ApiEvent,
    now: i64,
) -> AppResult<(Normalized, ProgramRow)> {
    let event = normalize(body, now)?;
    // Checked here with the other fields; hashed by `receive`, which has the tracker's salt.
    if let Some(ip) = &body.ip {
        parse_ip(ip)?;
    }
    let program = program_for(db, vendor_id, body, &event.hints).await?;
    Ok((event, program))
}

/// Validates, stores and processes one API event.
pub async fn receive(
    db: &Db,
    tracker: &Tracker,
    writer: &IngestWriter,
    vendor_id: &str,
    body: &ApiEvent,
) -> AppResult<Ingested> {
    let now = db::now_ms();
    let (mut event, program) = match validate(db, vendor_id, body, now).await {
        Ok(found) => found,
        Err(e) => {
            // A database failure while looking the program up is not the sender's fault.
            if matches!(e, AppError::Internal(_)) {
                crate::monitoring::count_ingest("api", "error");
            } else {
                super::count_rejected("api");
            }
            return Err(e);
        }
    };
    // A body without a time is stored with the time it was received, so a replay reads
    // the same time; a given time is stored exactly as sent.
    let mut body = body.clone();
    if let Some(ip) = body.ip.take() {
        let ip = parse_ip(&ip)?;
        event.hints.ip_hash = Some(tracker.visitors.ip_hash(&ip, event.occurred_at));
    }
    if body
        .occurred_at
        .as_deref()
        .is_none_or(|t| t.trim().is_empty())
    {
        body.occurred_at = Some(db::rfc3339(event.occurred_at));
    }
    let payload = serde_json::to_string(&body)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("serialising an event: {e}")))?;
    let door = Door {
        source: "api",
        event_id: body.id.trim(),
        event_type: &event.event_type,
        payload: &payload,
    };
    super::ingest(db, tracker, writer, &program, &door, &event).await
}

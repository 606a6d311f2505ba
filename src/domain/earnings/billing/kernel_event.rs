//! Billing events from a kernel consumer (seed 000): `POST /api/v1/kernel/events`.
//!
//! The body is the events API's ([`ApiEvent`]: `subscription.created`, `charge.succeeded`,
//! `refund.processed`, `subscription.canceled`) plus two optional fields:
//!
//! - `vendor_id`: when present it must be the consumer's vendor (403 otherwise);
//! - `affiliate_external_id`: the provisioned affiliate (the consumer's `external_source` +
//!   this id) who referred the customer. It is turned into that affiliate's referral code
//!   in `metadata.affiliate_code` (its membership in `program_id`, else in the default
//!   program, else its first one), so the event attributes exactly as a code would.
//!
//! The event then goes through the same door as `POST /api/v1/events` (source `api`): it
//! is stored once in the billing event log, idempotent on its `id`, with the same outcomes.

use serde::Deserialize;
use serde_json::Value;

use super::api_event::{self, ApiEvent};
use super::{IngestWriter, Ingested};
use crate::db::{self, Db};
use crate::domain::attribution::tracking::Tracker;
use crate::domain::tenancy::consumers::ConsumerPrincipal;
use crate::error::{AppError, AppResult};

/// The request body: an [`ApiEvent`] with `vendor_id` and `affiliate_external_id`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KernelEvent {
    /// The consumer's vendor (optional; checked when present).
    pub vendor_id: Option<String>,
    /// A provisioned affiliate's external id: who referred the customer.
    pub affiliate_external_id: Option<String>,
    /// Event id: the idempotency key.
    #[schema(max_length = 200)]
    pub id: String,
    /// See [`api_event::TYPES`].
    #[schema(
        pattern = "^(subscription\\.created|charge\\.succeeded|refund\\.processed|subscription\\.canceled)$"
    )]
    pub r#type: String,
    /// The consumer's customer id.
    #[schema(max_length = 200)]
    pub customer_id: String,
    /// Minor units.
    #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub amount_cents: i64,
    /// ISO 4217.
    pub currency: Option<String>,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Charge.
    pub charge_id: Option<String>,
    /// Invoice.
    pub invoice_id: Option<String>,
    /// Payment intent.
    pub payment_intent_id: Option<String>,
    /// RFC 3339; the time received when absent.
    pub occurred_at: Option<String>,
    /// Attribution keys, as on the events API.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The customer's email (self-referral check).
    pub email: Option<String>,
    /// The program.
    pub program_id: Option<String>,
}

/// Checks the vendor, names the affiliate by its code, and ingests the event as an API
/// event of the consumer's vendor.
pub async fn receive(
    db: &Db,
    tracker: &Tracker,
    writer: &IngestWriter,
    consumer: &ConsumerPrincipal,
    body: KernelEvent,
) -> AppResult<Ingested> {
    let vendor_id = consumer.vendor_id.as_str();
    if let Some(v) = body.vendor_id.as_deref().map(str::trim)
        && v != vendor_id
    {
        return Err(AppError::Forbidden(
            "vendor_id is not the vendor this consumer belongs to".into(),
        ));
    }
    let mut metadata = body.metadata;
    if let Some(ext) = body
        .affiliate_external_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let field = "affiliate_external_id";
        let affiliate =
            db::affiliates::by_external(db.pool(), vendor_id, &consumer.external_source, ext)
                .await?
                .ok_or_else(|| {
                    AppError::invalid(field, "no affiliate was provisioned with this external id")
                })?;
        let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, &affiliate.id).await?;
        let program_id = match body.program_id.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(p) => Some(p.trim().to_owned()),
            None => db::programs::default_for(db.pool(), vendor_id)
                .await?
                .map(|p| p.id),
        };
        let enrollment = enrollments
            .iter()
            .find(|e| Some(&e.program_id) == program_id.as_ref())
            .or_else(|| {
                // Without a program named, the affiliate's only (or first) membership.
                body.program_id
                    .is_none()
                    .then(|| enrollments.first())
                    .flatten()
            })
            .ok_or_else(|| {
                AppError::invalid(field, "this affiliate is not a member of the program")
            })?;
        let mut m = match metadata {
            None => serde_json::Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(AppError::invalid("metadata", "metadata must be an object")),
        };
        m.insert(
            "affiliate_code".into(),
            Value::String(enrollment.code.clone()),
        );
        metadata = Some(Value::Object(m));
    }
    let event = ApiEvent {
        id: body.id,
        r#type: body.r#type,
        customer_id: body.customer_id,
        amount_cents: body.amount_cents,
        currency: body.currency,
        subscription_id: body.subscription_id,
        charge_id: body.charge_id,
        invoice_id: body.invoice_id,
        payment_intent_id: body.payment_intent_id,
        occurred_at: body.occurred_at,
        metadata,
        email: body.email,
        program_id: body.program_id,
        coupon_code: None,
        ip: None,
    };
    api_event::receive(db, tracker, writer, vendor_id, &event).await
}

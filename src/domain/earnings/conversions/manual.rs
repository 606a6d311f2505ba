//! Manual conversions (seed 004): recorded by hand or through the API, through the same
//! pipeline.

use serde::Deserialize;
use serde_json::json;

use crate::db::{self, Db, conversions::ConversionRow};
use crate::domain::attribution::{promo_codes, tracking::Tracker};
use crate::domain::earnings::billing::{self, Door, Ingested, Kind, Normalized};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::{
    partners::affiliates, values::Currency, values::Money, values::money, values::text,
};
use crate::error::{AppError, AppResult};

use super::lifecycle::get_row;
use super::matching::PaymentIds;

/// The body of `POST /api/v1/conversions` (seed 004).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualInput {
    /// The affiliate to credit (or `code`).
    pub affiliate_id: Option<String>,
    /// A referral code (instead of `affiliate_id`).
    pub code: Option<String>,
    /// A promotion code the customer used (instead of `affiliate_id` or `code`): credits
    /// the enrollment holding it, if it is enabled.
    #[serde(default)]
    pub coupon_code: Option<String>,
    /// Sale amount: 1 ..= 10^11 minor units (see [`crate::domain::values::money`]).
    #[serde(deserialize_with = "crate::domain::values::money::lenient_cents")]
    #[schema(minimum = 1, maximum = 100_000_000_000_i64)]
    pub amount_cents: i64,
    /// ISO 4217; the program's currency when absent.
    pub currency: Option<String>,
    /// Your order or invoice id: the idempotency key within the program.
    pub external_id: Option<String>,
    /// The program, when the affiliate is in several.
    pub program_id: Option<String>,
    /// The customer, if known (self-referral check, reports).
    pub customer_id: Option<String>,
    /// The payment's invoice, payment intent and charge ids, if it was a Stripe payment (or
    /// one sent through the events API): a later event of the same payment then finds this
    /// conversion instead of recording another.
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// See `invoice_id`.
    #[serde(default)]
    pub payment_intent_id: Option<String>,
    /// See `invoice_id`.
    #[serde(default)]
    pub charge_id: Option<String>,
}

/// Records a manual conversion through the billing pipeline (source `manual`). A repeated
/// `external_id` is a 409 naming the existing conversion.
pub async fn record_manual(
    db: &Db,
    tracker: &Tracker,
    writer: &billing::IngestWriter,
    vendor_id: &str,
    input: &ManualInput,
    actor: &Actor,
) -> AppResult<(ConversionRow, i64)> {
    // Checked before anything is looked up, so a refused amount writes nothing.
    money::positive("amount_cents", input.amount_cents)?;
    let external_id = text::optional("external_id", input.external_id.as_deref(), 200)?;
    let customer_id = text::optional("customer_id", input.customer_id.as_deref(), 200)?;
    let (enrollment, promo_code) = manual_enrollment(db, vendor_id, input).await?;
    let program = db::programs::by_id(db.pool(), vendor_id, &enrollment.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let currency = currency_of(input, &program.currency)?;
    let amount = Money::payment("amount_cents", input.amount_cents, currency)?;
    if let Some(ext) = &external_id
        && let Some(c) = db::conversions::by_external_id(db.pool(), &program.id, ext).await?
    {
        return Err(duplicate_external_id(c.id));
    }
    let ids = PaymentIds {
        invoice_id: text::optional("invoice_id", input.invoice_id.as_deref(), 200)?,
        payment_intent_id: text::optional(
            "payment_intent_id",
            input.payment_intent_id.as_deref(),
            200,
        )?,
        charge_id: text::optional("charge_id", input.charge_id.as_deref(), 200)?,
    };
    if !ids.refs().is_empty()
        && let Some(c) = db::conversions::by_refs(db.pool(), &program.id, &ids.refs())
            .await?
            .into_iter()
            .next()
    {
        let field = if c.invoice_id.is_some() && c.invoice_id == ids.invoice_id {
            "invoice_id"
        } else if c.payment_intent_id.is_some() && c.payment_intent_id == ids.payment_intent_id {
            "payment_intent_id"
        } else {
            "charge_id"
        };
        return Err(AppError::AlreadyExists {
            field,
            message: format!("this payment is already recorded as conversion {}", c.id),
            id: c.id,
        });
    }
    let event = Normalized {
        kind: Kind::Payment,
        event_type: "manual".into(),
        customer_id,
        email: None,
        amount_cents: amount.cents(),
        currency: Some(amount.currency().as_str().to_owned()),
        invoice_id: ids.invoice_id,
        payment_intent_id: ids.payment_intent_id,
        charge_id: ids.charge_id,
        subscription_id: None,
        external_id: external_id.clone(),
        occurred_at: db::now_ms(),
        hints: billing::Hints {
            promo_code,
            ..billing::Hints::default()
        },
        enrollment_id: Some(enrollment.id.clone()),
        refund_id: None,
        pairing: None,
    };
    let payload = serde_json::to_string(&event)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("serialising a conversion: {e}")))?;
    let event_id = external_id.clone().unwrap_or_else(|| db::new_id("man"));
    let door = Door {
        source: "manual",
        event_id: &event_id,
        event_type: "manual",
        payload: &payload,
    };
    let ingested: Ingested = billing::ingest(db, tracker, writer, &program, &door, &event).await?;
    match (ingested.duplicate, ingested.conversion_id) {
        (true, Some(id)) => Err(duplicate_external_id(id)),
        (false, Some(id)) => {
            let c = get_row(db, vendor_id, &id).await?;
            let commission_cents = ingested.result["commission_cents"].as_i64().unwrap_or(0);
            audit::record(
                db.pool(),
                vendor_id,
                actor,
                "conversion.recorded",
                ("conversion", Some(&id)),
                json!({"amount_cents": c.amount_cents, "external_id": external_id}),
            )
            .await?;
            Ok((c, commission_cents))
        }
        _ => Err(AppError::Internal(anyhow::anyhow!(
            "manual conversion produced no conversion: {}",
            ingested.result
        ))),
    }
}

fn duplicate_external_id(id: String) -> AppError {
    AppError::AlreadyExists {
        field: "external_id",
        message: format!("a conversion with this external_id is already recorded: {id}"),
        id,
    }
}

/// The currency of a manual conversion: the one named, else the program's.
fn currency_of(input: &ManualInput, program_currency: &str) -> AppResult<Currency> {
    match &input.currency {
        Some(c) => Currency::parse("currency", c),
        None => Currency::parse("currency", program_currency),
    }
}

/// The currency `input` will be recorded in (the one it names, else its program's), so a
/// form can read a typed decimal amount in that currency's minor units before recording.
/// 404 like [`record_manual`] when the affiliate, code or promotion code is unknown.
pub async fn manual_currency(db: &Db, vendor_id: &str, input: &ManualInput) -> AppResult<Currency> {
    if let Some(c) = &input.currency {
        return Currency::parse("currency", c);
    }
    let (enrollment, _) = manual_enrollment(db, vendor_id, input).await?;
    let program = db::programs::by_id(db.pool(), vendor_id, &enrollment.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    currency_of(input, &program.currency)
}

/// The enrollment a manual conversion credits: by code, by promotion code (returned too,
/// to be kept with the event), or the affiliate's enrollment in `program_id`, else in the
/// default program, else its only enrollment. 404 when the affiliate or code is unknown,
/// or the promotion code unknown or disabled.
async fn manual_enrollment(
    db: &Db,
    vendor_id: &str,
    input: &ManualInput,
) -> AppResult<(db::affiliates::EnrollmentRow, Option<String>)> {
    let program_id = input.program_id.as_deref().filter(|s| !s.is_empty());
    if let Some(raw) = input
        .coupon_code
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        let coupon = promo_codes::parse_code("coupon_code", raw)?;
        let t = db::promo_codes::resolve(db.pool(), vendor_id, &coupon)
            .await?
            .ok_or(AppError::NotFound)?;
        if program_id.is_some_and(|p| p != t.program_id) {
            return Err(AppError::invalid(
                "coupon_code",
                "this promo code belongs to another program",
            ));
        }
        let enrollment = db::affiliates::enrollment_by_id(db.pool(), vendor_id, &t.enrollment_id)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok((enrollment, Some(t.code)));
    }
    enrollment_by_affiliate_or_code(db, vendor_id, input, program_id)
        .await
        .map(|e| (e, None))
}

/// [`manual_enrollment`] without a promotion code.
async fn enrollment_by_affiliate_or_code(
    db: &Db,
    vendor_id: &str,
    input: &ManualInput,
    program_id: Option<&str>,
) -> AppResult<db::affiliates::EnrollmentRow> {
    if let Some(code) = input.code.as_deref().filter(|s| !s.trim().is_empty()) {
        let code = affiliates::parse_code("code", code)?;
        let t = db::links::resolve_code(db.pool(), &code)
            .await?
            .filter(|t| t.vendor_id == vendor_id)
            .ok_or(AppError::NotFound)?;
        if program_id.is_some_and(|p| p != t.program_id) {
            return Err(AppError::invalid(
                "code",
                "this code belongs to another program",
            ));
        }
        return db::affiliates::enrollment_by_id(db.pool(), vendor_id, &t.enrollment_id)
            .await?
            .ok_or(AppError::NotFound);
    }
    let affiliate_id = input
        .affiliate_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            AppError::invalid(
                "affiliate_id",
                "affiliate_id, code or coupon_code is required",
            )
        })?;
    let enrollments =
        db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id.trim()).await?;
    if enrollments.is_empty() {
        return Err(AppError::NotFound);
    }
    if let Some(p) = program_id {
        return enrollments
            .into_iter()
            .find(|e| e.program_id == p)
            .ok_or_else(|| {
                AppError::invalid("program_id", "the affiliate is not in this program")
            });
    }
    let default = db::programs::default_for(db.pool(), vendor_id)
        .await?
        .map(|p| p.id);
    let pick = enrollments
        .iter()
        .position(|e| Some(&e.program_id) == default.as_ref())
        .unwrap_or(0);
    enrollments.into_iter().nth(pick).ok_or(AppError::NotFound)
}

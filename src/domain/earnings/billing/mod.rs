//! Billing events: many doors (the events API, Stripe, Paddle, Lemon Squeezy, Polar and
//! Chargebee webhooks, manual conversions), one pipeline.
//!
//! Each door turns its input into a [`Normalized`] event. [`ingest`] stores the exact input
//! in the immutable `billing_events` log, unique per (vendor, source, program, event id),
//! and processes it in the same transaction into conversions, commissions and ledger
//! lines. A repeated event is acknowledged and changes nothing. If processing fails, the
//! transaction rolls back and the event is stored on its own as `failed`, so nothing is
//! lost and the dashboard can [`replay`] it.

pub mod api_event;
pub mod chargebee;
pub mod kernel_event;
pub mod lemonsqueezy;
pub mod paddle;
pub mod polar;
pub mod provider;
pub mod stripe;
pub mod writer;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db::{
    self, Db, billing_events::NewEvent, conversions::PaymentRefs, programs::ProgramRow,
};
use crate::domain::attribution::promo_codes;
use crate::domain::attribution::tracking::{
    Tracker, is_click_id, normalize_code, track::stored_click,
};
use crate::domain::values::status::EventStatus;
use crate::domain::{earnings::conversions, values::money};
use crate::error::{AppError, AppResult};
pub use writer::IngestWriter;
use writer::Job;

/// Metadata keys that carry a click id (`aff_sess` from our snippet; seed 004's name).
const CLICK_KEYS: [&str; 2] = ["aff_sess", "affiliate_session_id"];
/// Metadata keys that carry a referral code.
const CODE_KEYS: [&str; 4] = ["affiliate_code", "ref", "via", "referral_code"];
/// Metadata key that carries a code or our `aff_...` affiliate id (seed 004).
const AFFILIATE_KEY: &str = "affiliate_id";
/// Metadata keys that carry a promotion code the customer used.
const PROMO_KEYS: [&str; 2] = ["promo_code", "coupon_code"];

/// Who the input says referred the customer, read from metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    /// A click id (`aff_sess`).
    pub click_id: Option<String>,
    /// A referral code (normalised).
    pub code: Option<String>,
    /// Our affiliate id.
    pub affiliate_id: Option<String>,
    /// A promotion code the sale names (`JANE20`), or the id of the Stripe promotion code
    /// (`promo_...`) when that is all the payload says; a touch at sale time (see
    /// `conversions::attribution`).
    #[serde(default)]
    pub promo_code: Option<String>,
    /// The buyer's IP address as the events API received it, hashed like a click's (the
    /// day's salt), so the `same_ip` fraud signal can compare; the address itself is never
    /// stored.
    #[serde(default)]
    pub ip_hash: Option<String>,
}

impl Hints {
    /// Takes the attribution keys of a metadata object; keys already found are kept (the
    /// caller reads the most specific metadata first).
    pub fn read(&mut self, metadata: &Value) {
        let get = |k: &str| {
            metadata
                .get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        if self.click_id.is_none() {
            self.click_id = CLICK_KEYS
                .iter()
                .filter_map(|k| get(k))
                .find(|v| is_click_id(v))
                .map(str::to_owned);
        }
        if self.code.is_none() {
            self.code = CODE_KEYS
                .iter()
                .filter_map(|k| get(k))
                .find_map(normalize_code);
        }
        if self.promo_code.is_none() {
            self.promo_code = PROMO_KEYS
                .iter()
                .filter_map(|k| get(k))
                .find_map(promo_codes::normalize_hint);
        }
        if let Some(v) = get(AFFILIATE_KEY) {
            if v.starts_with("aff_") {
                if self.affiliate_id.is_none() {
                    self.affiliate_id = Some(v.to_owned());
                }
            } else if self.code.is_none() {
                self.code = normalize_code(v);
            }
        }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.click_id.is_none()
            && self.code.is_none()
            && self.affiliate_id.is_none()
            && self.promo_code.is_none()
    }
}

/// How a refund states its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "cents")]
pub enum RefundAmount {
    /// This refund's amount (API `refund.processed`).
    Increment(i64),
    /// Everything refunded on the payment so far (Stripe `charge.refunded`).
    Cumulative(i64),
}

/// What an event means for money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Money received.
    Payment,
    /// Money given back.
    Refund(RefundAmount),
    /// A subscription began (binds the customer; a conversion under an event definition).
    SubscriptionStarted,
    /// A subscription ended; later payments stop by themselves.
    SubscriptionCanceled,
    /// The customer was created or changed (binds the customer from its metadata).
    Customer,
    /// Names which payment paid an invoice (Stripe `invoice_payment.paid`): joins the ids of
    /// one payment, moves no money.
    Link,
    /// A type this pipeline does not handle; acknowledged and logged.
    Unhandled,
}

/// The half of a payment's ids an event can know. From Stripe API version 2025-03-31
/// ("basil") a charge no longer names its invoice, and an invoice names its payment only in
/// an expanded `payments` list that webhooks leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Half {
    /// An invoice that does not say which payment paid it.
    Invoice,
    /// A charge or payment intent that cannot say which invoice it paid.
    Payment,
}

/// How an event that knows one half of a payment finds the conversion recorded from the
/// other half: the same customer, currency and amount, paid at about the same time (see
/// `conversions::pair_window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// The half this event knows.
    pub knows: Half,
    /// When this event says the payment happened, unix ms (a refund: the charge's time).
    pub at: i64,
}

/// An input from any door, in one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Normalized {
    /// What it means.
    pub kind: Kind,
    /// Canonical type: `charge.succeeded`, `invoice.paid`, `checkout.session.completed`,
    /// `refund.processed`, `subscription.created`, `subscription.canceled`,
    /// `customer.created`, `manual`, ...
    pub event_type: String,
    /// The vendor's customer.
    pub customer_id: Option<String>,
    /// The customer's email, when the input names it.
    pub email: Option<String>,
    /// Gross amount, minor units (payments, named events).
    pub amount_cents: i64,
    /// ISO 4217, upper case.
    pub currency: Option<String>,
    /// Invoice.
    pub invoice_id: Option<String>,
    /// Payment intent.
    pub payment_intent_id: Option<String>,
    /// Charge.
    pub charge_id: Option<String>,
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Idempotency key of manual conversions (and named-event conversions).
    pub external_id: Option<String>,
    /// When it happened, unix ms.
    pub occurred_at: i64,
    /// Who referred the customer, per the input's metadata.
    pub hints: Hints,
    /// Manual conversions: the enrollment that earns, chosen by the request.
    pub enrollment_id: Option<String>,
    /// Refunds: the key this refund is counted once under (Stripe `re_...`, the events
    /// API's `refund_id` or event id); `None` for a charge's cumulative total.
    #[serde(default)]
    pub refund_id: Option<String>,
    /// Set when the event knows only one half of its payment's ids.
    #[serde(default)]
    pub pairing: Option<Pairing>,
}

impl Normalized {
    /// The payment ids.
    pub fn refs(&self) -> PaymentRefs<'_> {
        PaymentRefs {
            invoice_id: self.invoice_id.as_deref(),
            payment_intent_id: self.payment_intent_id.as_deref(),
            charge_id: self.charge_id.as_deref(),
        }
    }
}

/// The door an input came through.
#[derive(Debug, Clone, Copy)]
pub struct Door<'a> {
    /// `api`, `stripe`, `manual`, `paddle`, `lemonsqueezy`, `polar` or `chargebee`.
    pub source: &'a str,
    /// The sender's event id.
    pub event_id: &'a str,
    /// The sender's type, as received.
    pub event_type: &'a str,
    /// The exact body.
    pub payload: &'a str,
}

/// What processing made of an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Processed {
    /// `processed` (money or a binding changed) or `ignored` (nothing to do; see result).
    pub status: &'static str,
    /// Details: the conversion, commissions, the reason nothing happened.
    pub result: Value,
    /// The conversion created or matched.
    pub conversion_id: Option<String>,
}

impl Processed {
    /// Nothing to do, for `reason`.
    pub fn ignored(reason: &str, detail: Value) -> Self {
        Self {
            status: "ignored",
            result: json!({"reason": reason, "detail": detail}),
            conversion_id: None,
        }
    }
}

/// The answer of [`ingest`].
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    /// The stored event.
    pub id: String,
    /// `processed`, `ignored` or `failed`.
    pub status: String,
    /// What it produced.
    pub result: Value,
    /// Its conversion, if any.
    pub conversion_id: Option<String>,
    /// True when the event had been received before (nothing changed now).
    pub duplicate: bool,
}

impl Ingested {
    fn from_row(r: db::billing_events::BillingEventRow, duplicate: bool) -> Self {
        Self {
            id: r.id,
            status: r.status,
            result: serde_json::from_str(&r.result).unwrap_or(Value::Null),
            conversion_id: r.conversion_id,
            duplicate,
        }
    }
}

/// Whether an error is a unique-index race another transaction won (PostgreSQL: two doors
/// delivering the same payment at once); processing again then finds its result.
fn is_race(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Conflict {
            code: "duplicate",
            ..
        }
    )
}

/// Stores and processes one event; see the module docs. The work is done by the
/// [`IngestWriter`], which commits concurrent events together.
pub async fn ingest(
    db: &Db,
    tracker: &Tracker,
    writer: &IngestWriter,
    program: &ProgramRow,
    door: &Door<'_>,
    event: &Normalized,
) -> AppResult<Ingested> {
    let done = ingest_uncounted(db, tracker, writer, program, door, event).await;
    count(door.source, &done);
    done
}

/// Counts what became of an event (`affilia_ingest_events_total`).
fn count(source: &str, done: &AppResult<Ingested>) {
    let outcome = match done {
        Ok(d) if d.duplicate => "duplicate",
        Ok(d) if EventStatus::Processed.is(&d.status) => "processed",
        Ok(d) if EventStatus::Ignored.is(&d.status) => "ignored",
        Ok(_) => "failed",
        Err(_) => "error",
    };
    crate::monitoring::count_ingest(source, outcome);
}

/// Counts an event refused before it reached the pipeline (invalid fields, no such
/// program, a bad Stripe signature).
pub fn count_rejected(source: &str) {
    crate::monitoring::count_ingest(source, "rejected");
}

async fn ingest_uncounted(
    db: &Db,
    tracker: &Tracker,
    writer: &IngestWriter,
    program: &ProgramRow,
    door: &Door<'_>,
    event: &Normalized,
) -> AppResult<Ingested> {
    // A repeat is answered from the log without queueing (a read beside the writer).
    if let Some(row) = db::billing_events::by_key(
        db.pool(),
        &program.vendor_id,
        door.source,
        &program.id,
        door.event_id,
    )
    .await?
    {
        return Ok(Ingested::from_row(row, true));
    }
    let click = prefetch_click(db, tracker, &program.vendor_id, event).await?;
    writer
        .submit(Job {
            program: program.clone(),
            source: door.source.to_owned(),
            event_id: door.event_id.to_owned(),
            event_type: door.event_type.to_owned(),
            payload: door.payload.to_owned(),
            event: event.clone(),
            click,
        })
        .await
}

/// Stores and processes one event in the caller's transaction. A repeat is answered from
/// the log.
///
/// `Guard::None` (batches): a processing failure is returned as `Err`, and the caller rolls
/// back and retries the events one by one. `Guard::Savepoint`: the event runs inside a
/// savepoint; a processing failure rolls back to it (after one retry of a unique-index
/// race) and the event is stored as `failed`. `Err` then only when the database itself
/// fails, and the caller's transaction is unusable.
async fn store_and_process(conn: &mut db::Conn, job: &Job, guard: Guard) -> AppResult<Ingested> {
    let program = &job.program;
    let new = NewEvent {
        vendor_id: &program.vendor_id,
        program_id: &program.id,
        source: &job.source,
        event_id: &job.event_id,
        r#type: &job.event_type,
        payload: &job.payload,
        occurred_at: job.event.occurred_at,
    };
    if guard == Guard::None {
        return process_then_store(conn, job, &new).await;
    }
    let mut last_error = None;
    for _ in 0..2 {
        let mut sp = sqlx::Connection::begin(&mut *conn).await?;
        // The event's counter moves are written at its end, inside its savepoint and in the
        // order a batch writes its own (`db::deferred`): two writers then never take the
        // shared counter rows in opposite orders (a deadlock would store this event as
        // failed), and a rolled-back event never writes its moves.
        let (done, moves) = db::deferred::collect(claim_and_process(&mut sp, job, &new)).await;
        let done = match done {
            Ok(d) => moves
                .write(&mut sp)
                .await
                .map(|()| d)
                .map_err(AppError::from),
            Err(e) => Err(e),
        };
        match done {
            Ok(done) => {
                sp.commit().await?;
                return Ok(done);
            }
            Err(e) => {
                sp.rollback().await?;
                let retry = is_race(&e) && last_error.is_none();
                last_error = Some(e);
                if !retry {
                    break;
                }
            }
        }
    }
    let error = last_error.unwrap_or_else(|| AppError::Internal(anyhow::anyhow!("no attempt")));
    store_failed(conn, &new, &error).await
}

/// How [`store_and_process`] contains a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Not at all: the error ends the caller's transaction.
    None,
    /// A savepoint per event; the event is stored as `failed`.
    Savepoint,
}

/// Processes the event, then stores it with its result: one statement less than claiming
/// the key first, for batches. [`ingest`] found the key free before queueing; if it has been
/// taken since (a resend in the same batch, another instance), the insert finds it and the
/// `duplicate` error rolls the batch back, to be retried event by event with
/// [`claim_and_process`], which answers the repeat from the log.
async fn process_then_store(
    conn: &mut db::Conn,
    job: &Job,
    new: &NewEvent<'_>,
) -> AppResult<Ingested> {
    let p = process(
        conn,
        &job.program,
        &job.source,
        &job.event,
        job.click.as_ref(),
    )
    .await?;
    let result = p.result.to_string();
    let stored = db::billing_events::insert(
        &mut *conn,
        new,
        p.status,
        &result,
        p.conversion_id.as_deref(),
    )
    .await?;
    let Some(id) = stored else {
        return Err(AppError::duplicate(
            "id",
            "this event was stored while it was being processed",
        ));
    };
    Ok(Ingested {
        id,
        status: p.status.to_owned(),
        result: p.result,
        conversion_id: p.conversion_id,
        duplicate: false,
    })
}

/// Claims the event's key in the log and processes it; a known key is a repeat.
async fn claim_and_process(
    conn: &mut db::Conn,
    job: &Job,
    new: &NewEvent<'_>,
) -> AppResult<Ingested> {
    let Some(id) = db::billing_events::insert(&mut *conn, new, "processed", "{}", None).await?
    else {
        return Ok(Ingested::from_row(by_key(conn, new).await?, true));
    };
    let p = process(
        conn,
        &job.program,
        &job.source,
        &job.event,
        job.click.as_ref(),
    )
    .await?;
    db::billing_events::set_result(
        &mut *conn,
        &id,
        p.status,
        &p.result.to_string(),
        p.conversion_id.as_deref(),
        false,
    )
    .await?;
    Ok(Ingested {
        id,
        status: p.status.to_owned(),
        result: p.result,
        conversion_id: p.conversion_id,
        duplicate: false,
    })
}

async fn by_key(
    conn: &mut db::Conn,
    new: &NewEvent<'_>,
) -> AppResult<db::billing_events::BillingEventRow> {
    db::billing_events::by_key(
        &mut *conn,
        new.vendor_id,
        new.source,
        new.program_id,
        new.event_id,
    )
    .await?
    .ok_or(AppError::NotFound)
}

/// Keeps an event whose processing failed, with the error, for a later replay.
async fn store_failed(
    conn: &mut db::Conn,
    new: &NewEvent<'_>,
    error: &AppError,
) -> AppResult<Ingested> {
    error.log();
    let message = match error {
        AppError::Internal(e) => format!("{e:#}"),
        other => other.to_string(),
    };
    let result = json!({"error": message});
    let stored =
        db::billing_events::insert(&mut *conn, new, "failed", &result.to_string(), None).await?;
    let Some(id) = stored else {
        return Ok(Ingested::from_row(by_key(conn, new).await?, true));
    };
    Ok(Ingested {
        id,
        status: "failed".into(),
        result,
        conversion_id: None,
        duplicate: false,
    })
}

/// Keeps an authentic input that could not be read (a Stripe body with an unexpected
/// shape) as `failed`, so it shows in the event log and can be replayed after a fix.
pub async fn store_unreadable(
    db: &Db,
    program: &ProgramRow,
    door: &Door<'_>,
    occurred_at: i64,
    message: &str,
) -> AppResult<Ingested> {
    let new = NewEvent {
        vendor_id: &program.vendor_id,
        program_id: &program.id,
        source: door.source,
        event_id: door.event_id,
        r#type: door.event_type,
        payload: door.payload,
        occurred_at,
    };
    let stored = async {
        let mut tx = db.begin().await?;
        let stored = store_failed(&mut tx, &new, &AppError::BadRequest(message.to_owned())).await?;
        tx.commit().await?;
        Ok(stored)
    }
    .await;
    count(door.source, &stored);
    stored
}

/// Clicks are written asynchronously; look one up before the transaction (waiting for the
/// click writer inside it would deadlock on SQLite's single writer).
async fn prefetch_click(
    db: &Db,
    tracker: &Tracker,
    vendor_id: &str,
    event: &Normalized,
) -> AppResult<Option<db::clicks::ClickRow>> {
    match &event.hints.click_id {
        Some(id) => Ok(stored_click(tracker, db, vendor_id, id).await?),
        None => Ok(None),
    }
}

/// Processes one event in the caller's transaction.
async fn process(
    conn: &mut db::Conn,
    program: &ProgramRow,
    source: &str,
    event: &Normalized,
    click: Option<&db::clicks::ClickRow>,
) -> AppResult<Processed> {
    // Every door passes here, so no out-of-range amount becomes money whichever door it
    // came through (the API doors refuse them earlier with a 422; this catches provider
    // events, which are authentic and must be kept, not refused).
    if let Some(detail) = amount_out_of_range(event) {
        return Ok(Processed::ignored("amount_out_of_range", detail));
    }
    match event.kind {
        Kind::Payment | Kind::SubscriptionStarted | Kind::Customer => {
            let mut p = conversions::on_event(conn, program, source, event, click).await?;
            note_currency(&mut p, program, event);
            Ok(p)
        }
        Kind::Refund(amount) => conversions::on_refund(conn, program, event, amount).await,
        Kind::Link => conversions::on_link(conn, program, event).await,
        Kind::SubscriptionCanceled => Ok(Processed {
            status: "processed",
            result: json!({"subscription_canceled": event.subscription_id}),
            conversion_id: None,
        }),
        Kind::Unhandled => Ok(Processed::ignored(
            "unhandled_type",
            json!({"type": event.event_type}),
        )),
    }
}

/// Why the amounts of `event` cannot be money, if so: an amount, or a refund's amount,
/// outside 0 ..= [`money::MAX_CENTS`]. The check providers' doors (Stripe) share with the
/// pipeline; the detail names the field and the range.
pub fn amount_out_of_range(event: &Normalized) -> Option<Value> {
    let refund = match event.kind {
        Kind::Refund(RefundAmount::Increment(c) | RefundAmount::Cumulative(c)) => Some(c),
        _ => None,
    };
    let (field, cents) = match refund {
        Some(c) if !money::in_range(c) => ("refund_amount_cents", c),
        _ if !money::in_range(event.amount_cents) => ("amount_cents", event.amount_cents),
        _ => return None,
    };
    Some(json!({
        "field": field,
        "amount_cents": cents,
        "message": format!(
            "{field} {cents} is outside the money range 0 to {} minor units; \
             nothing was recorded",
            money::MAX_CENTS
        ),
    }))
}

/// Says in the event's answer when a new conversion is in another currency than its
/// program (see the README's multi-currency section): nothing is converted, so the
/// client must not read the amounts as the program's currency.
fn note_currency(p: &mut Processed, program: &ProgramRow, event: &Normalized) {
    let Some(currency) = event.currency.as_deref() else {
        return;
    };
    if currency == program.currency || p.result.get("commissions").is_none() {
        return;
    }
    let pc = program.currency.as_str();
    p.result["currency"] = json!(currency);
    p.result["program_currency"] = json!(pc);
    p.result["currency_note"] = json!(format!(
        "the sale is in {currency}, the program in {pc}: the conversion is recorded in \
         {currency} without exchange; percentage and upline commissions are in {currency}, \
         flat commissions in {pc}; balances and payouts are kept per currency"
    ));
}

/// Turns a stored payload back into its event.
fn renormalize(row: &db::billing_events::BillingEventRow) -> AppResult<Normalized> {
    match row.source.as_str() {
        "stripe" => stripe::normalize(&row.payload)
            .map(|(_, e)| e)
            .map_err(|e| AppError::BadRequest(format!("stored Stripe payload: {e}"))),
        "api" => api_event::normalize_stored(&row.payload),
        "paddle" => paddle::normalize(&row.payload)
            .map(|p| p.event)
            .map_err(|e| AppError::BadRequest(format!("stored Paddle payload: {e}"))),
        "lemonsqueezy" => lemonsqueezy::normalize(&row.payload)
            .map(|p| p.event)
            .map_err(|e| AppError::BadRequest(format!("stored Lemon Squeezy payload: {e}"))),
        "polar" => polar::normalize(&row.payload, &row.event_id)
            .map(|p| p.event)
            .map_err(|e| AppError::BadRequest(format!("stored Polar payload: {e}"))),
        "chargebee" => chargebee::normalize(&row.payload)
            .map(|p| p.event)
            .map_err(|e| AppError::BadRequest(format!("stored Chargebee payload: {e}"))),
        "manual" => serde_json::from_str(&row.payload)
            .map_err(|e| AppError::BadRequest(format!("stored manual conversion: {e}"))),
        other => Err(AppError::BadRequest(format!("unknown source {other}"))),
    }
}

/// Processes a stored event again (events that failed or were ignored: e.g. the referral
/// was reported after the payment arrived). A processed event is a 409: its effects exist.
pub async fn replay(db: &Db, tracker: &Tracker, vendor_id: &str, id: &str) -> AppResult<Ingested> {
    let row = get(db, vendor_id, id).await?;
    if EventStatus::Processed.is(&row.status) {
        return Err(AppError::wrong_state(
            "this event was processed; replaying it would change nothing",
        ));
    }
    let program = db::programs::by_id(db.pool(), vendor_id, &row.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (status, result, conversion_id) = match renormalize(&row) {
        Ok(event) => {
            let click = prefetch_click(db, tracker, vendor_id, &event).await?;
            let mut tx = db.begin().await?;
            match process(&mut tx, &program, &row.source, &event, click.as_ref()).await {
                Ok(p) => {
                    db::billing_events::set_result(
                        &mut *tx,
                        &row.id,
                        p.status,
                        &p.result.to_string(),
                        p.conversion_id.as_deref(),
                        true,
                    )
                    .await?;
                    tx.commit().await?;
                    (p.status.to_owned(), p.result, p.conversion_id)
                }
                Err(e) => {
                    drop(tx);
                    e.log();
                    ("failed".to_owned(), json!({"error": e.to_string()}), None)
                }
            }
        }
        Err(e) => ("failed".to_owned(), json!({"error": e.to_string()}), None),
    };
    if EventStatus::Failed.is(&status) {
        db::billing_events::set_result(
            db.pool(),
            &row.id,
            "failed",
            &result.to_string(),
            None,
            true,
        )
        .await?;
    }
    Ok(Ingested {
        id: row.id,
        status,
        result,
        conversion_id,
        duplicate: false,
    })
}

/// Billing events of a vendor, newest first.
pub async fn list(
    db: &Db,
    filter: &db::billing_events::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<db::billing_events::BillingEventRow>, i64)> {
    let rows = db::billing_events::page(db.pool(), filter, limit, offset).await?;
    let total = db::billing_events::count(db.pool(), filter).await?;
    Ok((rows, total))
}

/// Statuses of a stored event.
pub const STATUSES: &[&str] = EventStatus::ALL_TEXT;
/// The doors.
pub const SOURCES: [&str; 7] = [
    "api",
    "stripe",
    "manual",
    "paddle",
    "lemonsqueezy",
    "polar",
    "chargebee",
];

/// Parses the `status` filter of event lists.
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    crate::domain::values::text::choice("status", raw, STATUSES)
}

/// Parses the `source` filter of event lists.
pub fn parse_source(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    crate::domain::values::text::choice("source", raw, &SOURCES)
}

/// One stored event of a vendor.
pub async fn get(
    db: &Db,
    vendor_id: &str,
    id: &str,
) -> AppResult<db::billing_events::BillingEventRow> {
    db::billing_events::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_read_every_documented_key() {
        let mut h = Hints::default();
        h.read(&json!({"affiliate_code": "Jane-20", "aff_sess": "not-a-click"}));
        assert_eq!(h.code.as_deref(), Some("jane-20"));
        assert_eq!(h.click_id, None);
        let mut h = Hints::default();
        h.read(&json!({"affiliate_id": "aff_01ABC"}));
        assert_eq!(h.affiliate_id.as_deref(), Some("aff_01ABC"));
        let mut h = Hints::default();
        h.read(&json!({"affiliate_id": "jane"}));
        assert_eq!(h.code.as_deref(), Some("jane"));
        let mut h = Hints::default();
        h.read(&json!({"ref": ""}));
        assert!(h.is_empty());
        let mut h = Hints::default();
        h.read(&json!({"coupon_code": " JANE20 "}));
        assert_eq!(h.promo_code.as_deref(), Some("JANE20"));
        assert!(!h.is_empty());
    }
}

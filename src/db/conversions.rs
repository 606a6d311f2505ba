//! Conversions: qualifying sales bound to an enrollment.

use super::sql::Sql;
use sqlx::{Any, Executor, FromRow};

use super::money_rollups::ConversionFacts;
use super::{new_id, now_ms};

/// A stored conversion.
#[derive(Debug, Clone, FromRow)]
pub struct ConversionRow {
    /// `cnv_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// The converting enrollment.
    pub enrollment_id: String,
    /// The converting affiliate.
    pub affiliate_id: String,
    /// The referral that attributed it, if any.
    pub referral_id: Option<String>,
    /// The vendor's customer.
    pub customer_id: Option<String>,
    /// `api`, `stripe` or `manual`.
    pub source: String,
    /// The event type that created it.
    pub trigger_type: String,
    /// Manual conversions' external id.
    pub external_id: Option<String>,
    /// Invoice id of the payment.
    pub invoice_id: Option<String>,
    /// Payment intent id.
    pub payment_intent_id: Option<String>,
    /// Charge id.
    pub charge_id: Option<String>,
    /// Subscription the payment belongs to.
    pub subscription_id: Option<String>,
    /// Gross sale, minor units.
    pub amount_cents: i64,
    /// Refunded so far.
    pub refunded_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// `pending`, `approved`, `rejected` or `reversed`.
    pub status: String,
    /// Why it earns nothing, or was rejected.
    pub reason: Option<String>,
    /// When the sale happened.
    pub occurred_at: i64,
    /// End of the holding period.
    pub available_at: i64,
    /// When it was approved, rejected or reversed.
    pub decided_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// What a cap took off the converting affiliate's commission.
    pub capped_cents: i64,
    /// Which cap: `customer_total`, `customer_months` or `affiliate_month`.
    pub capped_by: Option<String>,
}

macro_rules! columns {
    () => {
        "id, vendor_id, program_id, enrollment_id, affiliate_id, referral_id, customer_id, \
         source, trigger_type, external_id, invoice_id, payment_intent_id, charge_id, \
         subscription_id, amount_cents, refunded_cents, currency, status, reason, occurred_at, \
         available_at, decided_at, created_at, updated_at, capped_cents, capped_by"
    };
}

macro_rules! select {
    () => {
        concat!("SELECT ", columns!(), " FROM conversions ")
    };
}

/// The ids that name one payment.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentRefs<'a> {
    /// Invoice.
    pub invoice_id: Option<&'a str>,
    /// Payment intent.
    pub payment_intent_id: Option<&'a str>,
    /// Charge.
    pub charge_id: Option<&'a str>,
}

impl<'a> PaymentRefs<'a> {
    /// Whether no id is known.
    pub fn is_empty(&self) -> bool {
        self.invoice_id.is_none() && self.payment_intent_id.is_none() && self.charge_id.is_none()
    }

    /// Appends to `q` the condition "the program's row naming any of these ids": one arm
    /// per id given, `(program_id = $n AND invoice_id = $m) OR …`; `None` when no id is
    /// given (nothing can match).
    ///
    /// Only the ids given: a single statement with `col = NULL` arms could not be planned
    /// once. PostgreSQL found the generic plan of the three-arm OR dearer than a plan for
    /// the values and planned it again on every event (120 µs of its CPU per event in
    /// `bench/ingest.sh`); each combination of ids is now its own prepared statement with
    /// the indexes of its arms only. `program_id` is repeated in each arm: SQLite then
    /// searches the unique indexes (a multi-index OR); with it factored out it scans the
    /// program's rows.
    pub(super) fn where_any(&self, mut q: Sql<'a>, program_id: &'a str) -> Option<Sql<'a>> {
        let arms = [
            (" AND invoice_id = ", self.invoice_id),
            (" AND payment_intent_id = ", self.payment_intent_id),
            (" AND charge_id = ", self.charge_id),
        ];
        let mut any = false;
        for (col, id) in arms {
            let Some(id) = id else { continue };
            q = q
                .push(if any {
                    " OR (program_id = "
                } else {
                    "(program_id = "
                })
                .bind(program_id)
                .push(col)
                .bind(id)
                .push(")");
            any = true;
        }
        any.then_some(q)
    }
}

/// A new conversion.
#[derive(Debug, Clone)]
pub struct NewConversion<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Enrollment.
    pub enrollment_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// Referral.
    pub referral_id: Option<&'a str>,
    /// Customer.
    pub customer_id: Option<&'a str>,
    /// Door.
    pub source: &'a str,
    /// Trigger event type.
    pub trigger_type: &'a str,
    /// External id (manual conversions).
    pub external_id: Option<&'a str>,
    /// Payment ids.
    pub refs: PaymentRefs<'a>,
    /// Subscription.
    pub subscription_id: Option<&'a str>,
    /// Gross.
    pub amount_cents: i64,
    /// Currency.
    pub currency: &'a str,
    /// `pending` or `rejected`.
    pub status: &'a str,
    /// Reason when it earns nothing.
    pub reason: Option<&'a str>,
    /// Sale time.
    pub occurred_at: i64,
    /// End of the holding period.
    pub available_at: i64,
}

/// Inserts a conversion; returns it as stored. Adds it to the money rollup in the same
/// transaction.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    c: &NewConversion<'_>,
) -> Result<ConversionRow, sqlx::Error> {
    let now = now_ms();
    let id = new_id("cnv");
    let decided = (c.status != "pending").then_some(now);
    let row: ConversionRow = sqlx::query_as(concat!(
        "INSERT INTO conversions (id, vendor_id, program_id, enrollment_id, affiliate_id, \
         referral_id, customer_id, source, trigger_type, external_id, invoice_id, \
         payment_intent_id, charge_id, subscription_id, amount_cents, currency, status, reason, \
         occurred_at, available_at, decided_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $22) RETURNING ",
        columns!()
    ))
    .bind(&id)
    .bind(c.vendor_id)
    .bind(c.program_id)
    .bind(c.enrollment_id)
    .bind(c.affiliate_id)
    .bind(c.referral_id)
    .bind(c.customer_id)
    .bind(c.source)
    .bind(c.trigger_type)
    .bind(c.external_id)
    .bind(c.refs.invoice_id)
    .bind(c.refs.payment_intent_id)
    .bind(c.refs.charge_id)
    .bind(c.subscription_id)
    .bind(c.amount_cents)
    .bind(c.currency)
    .bind(c.status)
    .bind(c.reason)
    .bind(c.occurred_at)
    .bind(c.available_at)
    .bind(decided)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    super::money_rollups::conversions_changed(conn, &[], &[facts(&row)]).await?;
    Ok(row)
}

/// What a stored conversion contributes to the money rollup.
fn facts(c: &ConversionRow) -> ConversionFacts {
    ConversionFacts {
        vendor_id: c.vendor_id.clone(),
        program_id: c.program_id.clone(),
        affiliate_id: c.affiliate_id.clone(),
        currency: c.currency.clone(),
        occurred_at: c.occurred_at,
        status: c.status.clone(),
        amount_cents: c.amount_cents,
        refunded_cents: c.refunded_cents,
    }
}

/// The program's conversions for a payment, found by any of its ids, oldest first. More
/// than one only when two events of one payment were recorded apart before an event naming
/// both ids arrived (the caller folds them into the oldest).
pub async fn by_refs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    r: &PaymentRefs<'_>,
) -> Result<Vec<ConversionRow>, sqlx::Error> {
    let Some(q) = r.where_any(Sql::new(concat!(select!(), "WHERE ")), program_id) else {
        return Ok(Vec::new());
    };
    q.push(" ORDER BY created_at, id LIMIT 3")
        .build_as()
        .fetch_all(ex)
        .await
}

/// Which half of a payment a conversion is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownBy {
    /// Its invoice only (no payment intent or charge yet).
    InvoiceOnly,
    /// Its payment intent or charge only (no invoice).
    PaymentOnly,
}

/// What [`pair_candidate`] looks for: the other half of one Stripe payment.
#[derive(Debug, Clone, Copy)]
pub struct PairQuery<'a> {
    /// Program.
    pub program_id: &'a str,
    /// The paying customer.
    pub customer_id: &'a str,
    /// Currency of the payment.
    pub currency: &'a str,
    /// Gross amount, minor units.
    pub amount_cents: i64,
    /// The half the candidate must be known by.
    pub known_by: KnownBy,
    /// Earliest sale time, unix ms.
    pub from: i64,
    /// Latest sale time, unix ms.
    pub to: i64,
    /// The sale time the nearest candidate is chosen by.
    pub near: i64,
}

/// A Stripe conversion of the customer with the same amount and currency, known by the other
/// half of its ids only, whose sale time is in the window: the nearest one.
pub async fn pair_candidate<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    q: &PairQuery<'_>,
) -> Result<Option<ConversionRow>, sqlx::Error> {
    let invoice_only = q.known_by == KnownBy::InvoiceOnly;
    sqlx::query_as(concat!(
        select!(),
        "WHERE program_id = $1 AND customer_id = $2 AND currency = $3 AND amount_cents = $4 \
         AND occurred_at >= $5 AND occurred_at <= $6 AND source = 'stripe' \
         AND ((1 = $7 AND invoice_id IS NOT NULL AND payment_intent_id IS NULL \
               AND charge_id IS NULL) \
           OR (0 = $7 AND invoice_id IS NULL \
               AND (payment_intent_id IS NOT NULL OR charge_id IS NOT NULL))) \
         ORDER BY ABS(occurred_at - $8), created_at LIMIT 1"
    ))
    .bind(q.program_id)
    .bind(q.customer_id)
    .bind(q.currency)
    .bind(q.amount_cents)
    .bind(q.from)
    .bind(q.to)
    .bind(i32::from(invoice_only))
    .bind(q.near)
    .fetch_optional(ex)
    .await
}

/// Takes every payment id off a conversion (it was folded into another conversion of the
/// same payment, which takes the ids).
pub async fn clear_refs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversions SET invoice_id = NULL, payment_intent_id = NULL, charge_id = NULL, \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Records one refund (or a charge's cumulative refunded total) of a conversion under its
/// key; a key seen before keeps the larger amount.
pub async fn record_refund<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    conversion_id: &str,
    key: &str,
    cumulative: bool,
    amount_cents: i64,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO conversion_refunds (id, vendor_id, conversion_id, refund_key, cumulative, \
         amount_cents, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (conversion_id, refund_key) DO UPDATE SET \
         amount_cents = CASE WHEN excluded.amount_cents > conversion_refunds.amount_cents \
           THEN excluded.amount_cents ELSE conversion_refunds.amount_cents END, \
         updated_at = excluded.updated_at",
    )
    .bind(new_id("rfd"))
    .bind(vendor_id)
    .bind(conversion_id)
    .bind(key)
    .bind(i32::from(cumulative))
    .bind(amount_cents)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The refunds recorded for a conversion: (sum of single refunds, sum of cumulative totals).
pub async fn refund_sums<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    conversion_id: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT CAST(SUM(CASE WHEN cumulative = 0 THEN amount_cents ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN cumulative = 1 THEN amount_cents ELSE 0 END) AS BIGINT) \
         FROM conversion_refunds WHERE conversion_id = $1",
    )
    .bind(conversion_id)
    .fetch_one(ex)
    .await?;
    Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
}

/// Fills in payment ids a conversion did not know yet (a later event of the same payment
/// carries more of them, e.g. the charge of an invoice).
pub async fn add_refs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    r: &PaymentRefs<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversions SET invoice_id = COALESCE(invoice_id, $1), \
         payment_intent_id = COALESCE(payment_intent_id, $2), \
         charge_id = COALESCE(charge_id, $3), updated_at = $4 WHERE id = $5",
    )
    .bind(r.invoice_id)
    .bind(r.payment_intent_id)
    .bind(r.charge_id)
    .bind(now_ms())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// The program's conversion with this external id.
pub async fn by_external_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    external_id: &str,
) -> Result<Option<ConversionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE program_id = $1 AND external_id = $2"
    ))
    .bind(program_id)
    .bind(external_id)
    .fetch_optional(ex)
    .await
}

/// One conversion of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<ConversionRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Ids a statement lists at most: far under SQLite's 32,766 and PostgreSQL's 65,535
/// placeholders.
const IDS_PER_STATEMENT: usize = 1_000;

/// When each of the vendor's conversions `ids` happened (unix ms): (id, occurred_at), in
/// no order; ids of no conversion of the vendor are left out. One statement per 1,000 ids
/// (a payout statement lists thousands of commissions: they were looked up one by one).
pub async fn occurred_at_of<'e, E>(
    ex: E,
    vendor_id: &str,
    ids: &[&str],
) -> Result<Vec<(String, i64)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        // `vendor_id || ''` keeps SQLite off the vendor's indexes: with a plain
        // `vendor_id =` it walked `ix_conversions__vendor_status`, the vendor's million
        // conversions, for 500 ids (2.1 s) instead of looking each id up (2 ms).
        let found: Vec<(String, i64)> =
            Sql::new("SELECT id, occurred_at FROM conversions WHERE vendor_id || '' = ")
                .bind(vendor_id)
                .and_in("id", chunk)
                .fetch_all(ex)
                .await?;
        out.extend(found);
    }
    Ok(out)
}

/// Earlier conversions of a subscription in a program (its billing cycle so far).
pub async fn count_for_subscription<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    subscription_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions WHERE program_id = $1 AND subscription_id = $2",
    )
    .bind(program_id)
    .bind(subscription_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Whether a customer already has a conversion in a program.
pub async fn customer_has_any<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    customer_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM conversions WHERE program_id = $1 AND customer_id = $2 LIMIT 1",
    )
    .bind(program_id)
    .bind(customer_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.is_some())
}

/// Approved conversions of an affiliate in a program (tiered rates).
pub async fn count_approved<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    affiliate_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM conversions WHERE program_id = $1 AND affiliate_id = $2 \
         AND status = 'approved'",
    )
    .bind(program_id)
    .bind(affiliate_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Moves a conversion from `from` to `to`; `false` when it was not in `from`. Moves it
/// between money-rollup buckets in the same transaction.
pub async fn transition(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let moved: Option<ConversionFacts> = sqlx::query_as(concat!(
        "UPDATE conversions SET status = $1, reason = COALESCE($2, reason), decided_at = $3, \
         updated_at = $3 WHERE id = $4 AND status = $5 RETURNING ",
        crate::conversion_facts!()
    ))
    .bind(to)
    .bind(reason)
    .bind(now)
    .bind(id)
    .bind(from)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(after) = moved else {
        return Ok(false);
    };
    let before = ConversionFacts {
        status: from.to_owned(),
        ..after.clone()
    };
    super::money_rollups::conversions_changed(conn, &[before], &[after]).await?;
    Ok(true)
}

/// Records the refunded total of a conversion; `false` if it changed concurrently. Adds the
/// difference to the money rollup in the same transaction.
pub async fn set_refunded(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    before: i64,
    after: i64,
) -> Result<bool, sqlx::Error> {
    let now: Option<ConversionFacts> = sqlx::query_as(concat!(
        "UPDATE conversions SET refunded_cents = $1, updated_at = $2 \
         WHERE id = $3 AND refunded_cents = $4 RETURNING ",
        crate::conversion_facts!()
    ))
    .bind(after)
    .bind(now_ms())
    .bind(id)
    .bind(before)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(now) = now else {
        return Ok(false);
    };
    let then = ConversionFacts {
        refunded_cents: before,
        ..now.clone()
    };
    super::money_rollups::conversions_changed(conn, &[then], &[now]).await?;
    Ok(true)
}

/// Pending conversions whose holding period has ended and that no fraud review holds (the
/// condition of `fraud_reviews::is_held`), oldest first.
pub async fn due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> Result<Vec<ConversionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE status = 'pending' AND available_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM fraud_reviews r WHERE r.conversion_id = conversions.id \
         AND r.action = 'hold' AND r.status = 'pending') \
         ORDER BY available_at, id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// List filters.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this affiliate's.
    pub affiliate_id: Option<&'a str>,
    /// Only this program's.
    pub program_id: Option<&'a str>,
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only this customer's (the vendor's customer id).
    pub customer_id: Option<&'a str>,
}

/// `<head> WHERE` with only the filters of `f` that were given.
fn filtered<'a>(head: &'static str, f: &Filter<'a>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(f.vendor_id)
        .and_eq("affiliate_id", f.affiliate_id)
        .and_eq("program_id", f.program_id)
        .and_eq("status", f.status)
        .and_eq("customer_id", f.customer_id)
}

/// One page of conversions, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ConversionRow>, sqlx::Error> {
    filtered(select!(), f)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many conversions match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    filtered("SELECT COUNT(*) FROM conversions", f)
        .fetch_count(ex)
        .await
}

/// Records what a cap took off the conversion's direct commission (in its own transaction).
pub async fn set_capped<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    cut_cents: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE conversions SET capped_cents = $1, capped_by = $2 WHERE id = $3")
        .bind(cut_cents)
        .bind(by)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// The conversions of a program that happened in `[from, to)`, oldest first, at most
/// `limit` (the terms backtest asks for one more than it accepts, to refuse rather than cut
/// short).
pub async fn of_program_in_period<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<ConversionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND program_id = $2 AND occurred_at >= $3 AND occurred_at < $4 \
         ORDER BY occurred_at, created_at, id LIMIT $5"
    ))
    .bind(vendor_id)
    .bind(program_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(ex)
    .await
}

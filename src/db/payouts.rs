//! Payout runs and payouts.

use sqlx::{Any, Executor, FromRow};

use super::{new_id, now_ms};

/// A stored payout.
#[derive(Debug, Clone, FromRow)]
pub struct PayoutRow {
    /// `pay_...` (30 characters: PayPal's limit for a customer id).
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// The run that created it.
    pub run_id: String,
    /// Who is paid.
    pub affiliate_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Available balance settled.
    pub amount_cents: i64,
    /// What its commissions are worth (amount − this = clawbacks netted).
    pub commissions_cents: i64,
    /// Platform fee rate.
    pub fee_bps: i64,
    /// Platform fee.
    pub fee_cents: i64,
    /// What the affiliate receives.
    pub net_cents: i64,
    /// Payout method at creation.
    pub method: String,
    /// Destination at creation.
    pub destination: String,
    /// `pending`, `processing`, `paid` or `failed`.
    pub status: String,
    /// Payment reference (PayPal batch, bank reference, Stripe transfer).
    pub reference: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Last error of a provider call that may be retried.
    pub provider_error: Option<String>,
    /// Created, unix ms.
    pub created_at: i64,
    /// Sent, unix ms.
    pub processing_at: Option<i64>,
    /// Paid, unix ms.
    pub paid_at: Option<i64>,
    /// Failed, unix ms.
    pub failed_at: Option<i64>,
    /// Last change, unix ms.
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "id, vendor_id, program_id, run_id, affiliate_id, currency, amount_cents, \
         commissions_cents, fee_bps, fee_cents, net_cents, method, destination, status, \
         reference, failure_reason, provider_error, created_at, processing_at, paid_at, \
         failed_at, updated_at"
    };
}

macro_rules! select {
    () => {
        concat!("SELECT ", columns!(), " FROM payouts ")
    };
}

/// A stored payout run.
#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    /// `prun_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// Only this currency, if the run asked.
    pub currency: Option<String>,
    /// `dashboard`, `api` or `schedule`.
    pub trigger_source: String,
    /// Month of a scheduled run.
    pub schedule_key: Option<String>,
    /// Payouts created.
    pub payouts: i64,
    /// Actor, e.g. `user:usr_...`.
    pub created_by: Option<String>,
    /// When.
    pub created_at: i64,
}

/// A new run.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Currency filter.
    pub currency: Option<&'a str>,
    /// Trigger.
    pub trigger_source: &'a str,
    /// Month of a scheduled run.
    pub schedule_key: Option<&'a str>,
    /// Actor.
    pub created_by: Option<&'a str>,
}

/// Inserts a run; `None` when a scheduled run of that program and month exists already.
pub async fn insert_run<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    r: &NewRun<'_>,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "INSERT INTO payout_runs (id, vendor_id, program_id, currency, trigger_source, \
         schedule_key, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (program_id, schedule_key) DO NOTHING RETURNING id",
    )
    .bind(new_id("prun"))
    .bind(r.vendor_id)
    .bind(r.program_id)
    .bind(r.currency)
    .bind(r.trigger_source)
    .bind(r.schedule_key)
    .bind(r.created_by)
    .bind(now_ms())
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Records how many payouts a run created.
pub async fn set_run_count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    payouts: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payout_runs SET payouts = $1 WHERE id = $2")
        .bind(payouts)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// One run of a vendor.
pub async fn run_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, program_id, currency, trigger_source, schedule_key, payouts, \
         created_by, created_at FROM payout_runs WHERE vendor_id = $1 AND id = $2",
    )
    .bind(vendor_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// A vendor's runs, newest first.
pub async fn runs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<RunRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, program_id, currency, trigger_source, schedule_key, payouts, \
         created_by, created_at FROM payout_runs WHERE vendor_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(vendor_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many runs a vendor has.
pub async fn count_runs<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM payout_runs WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// A new payout.
#[derive(Debug, Clone, Copy)]
pub struct NewPayout<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Run.
    pub run_id: &'a str,
    /// Affiliate.
    pub affiliate_id: &'a str,
    /// Currency.
    pub currency: &'a str,
    /// Amount settled.
    pub amount_cents: i64,
    /// Fee rate.
    pub fee_bps: i64,
    /// Fee.
    pub fee_cents: i64,
    /// Method.
    pub method: &'a str,
    /// Destination.
    pub destination: &'a str,
}

/// Inserts a pending payout (its commissions are attached afterwards); returns it.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &NewPayout<'_>,
) -> Result<PayoutRow, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(concat!(
        "INSERT INTO payouts (id, vendor_id, program_id, run_id, affiliate_id, currency, \
         amount_cents, commissions_cents, fee_bps, fee_cents, net_cents, method, destination, \
         status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, 'pending', $13, $13) \
         RETURNING ",
        columns!()
    ))
    .bind(new_id("pay"))
    .bind(p.vendor_id)
    .bind(p.program_id)
    .bind(p.run_id)
    .bind(p.affiliate_id)
    .bind(p.currency)
    .bind(p.amount_cents)
    .bind(p.fee_bps)
    .bind(p.fee_cents)
    .bind(p.amount_cents - p.fee_cents)
    .bind(p.method)
    .bind(p.destination)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Attaches the affiliate's unclaimed available commissions of the program and currency to
/// a payout; returns what they are worth.
pub async fn claim_commissions(
    conn: &mut super::Conn,
    payout: &PayoutRow,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "UPDATE commissions SET payout_id = $1, updated_at = $2 \
         WHERE vendor_id = $3 AND program_id = $4 AND affiliate_id = $5 AND currency = $6 \
         AND status = 'available' AND payout_id IS NULL",
    )
    .bind(&payout.id)
    .bind(now_ms())
    .bind(&payout.vendor_id)
    .bind(&payout.program_id)
    .bind(&payout.affiliate_id)
    .bind(&payout.currency)
    .execute(&mut *conn)
    .await?;
    let (worth,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(amount_cents - reversed_cents) AS BIGINT) FROM commissions \
         WHERE payout_id = $1",
    )
    .bind(&payout.id)
    .fetch_one(&mut *conn)
    .await?;
    let worth = worth.unwrap_or(0);
    sqlx::query("UPDATE payouts SET commissions_cents = $1 WHERE id = $2")
        .bind(worth)
        .bind(&payout.id)
        .execute(&mut *conn)
        .await?;
    Ok(worth)
}

/// Commissions of a paid payout become `paid`.
pub async fn commissions_paid<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    payout_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE commissions SET status = 'paid', updated_at = $1 \
         WHERE payout_id = $2 AND status = 'available'",
    )
    .bind(now_ms())
    .bind(payout_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Commissions of a failed payout can be paid by a later one.
pub async fn release_commissions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    payout_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE commissions SET payout_id = NULL, updated_at = $1 \
         WHERE payout_id = $2 AND status = 'available'",
    )
    .bind(now_ms())
    .bind(payout_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Moves a payout from one of `from` to `to`, setting the matching time and the given
/// reference / reason; `None` when it was not in one of `from` (the caller answers 409).
pub async fn transition<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
    from: &[&str],
    to: &str,
    reference: Option<&str>,
    reason: Option<&str>,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    let now = now_ms();
    // Two `from` states at most; the second repeats the first when only one is given.
    let from_a = from.first().copied().unwrap_or("");
    let from_b = from.get(1).copied().unwrap_or(from_a);
    sqlx::query_as(concat!(
        "UPDATE payouts SET status = $1, \
         reference = COALESCE($2, reference), failure_reason = COALESCE($3, failure_reason), \
         processing_at = CASE WHEN $1 = 'processing' THEN $4 ELSE processing_at END, \
         paid_at = CASE WHEN $1 = 'paid' THEN $4 ELSE paid_at END, \
         failed_at = CASE WHEN $1 = 'failed' THEN $4 ELSE failed_at END, \
         provider_error = NULL, updated_at = $4 \
         WHERE vendor_id = $5 AND id = $6 AND status IN ($7, $8) RETURNING ",
        columns!()
    ))
    .bind(to)
    .bind(reference)
    .bind(reason)
    .bind(now)
    .bind(vendor_id)
    .bind(id)
    .bind(from_a)
    .bind(from_b)
    .fetch_optional(ex)
    .await
}

/// Keeps the error of a provider call that may be retried.
pub async fn set_provider_error<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payouts SET provider_error = $1, updated_at = $2 WHERE id = $3")
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// One payout of a vendor.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    id: &str,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as(concat!(select!(), "WHERE vendor_id = $1 AND id = $2"))
        .bind(vendor_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// List filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Tenant (always set).
    pub vendor_id: &'a str,
    /// One affiliate.
    pub affiliate_id: Option<&'a str>,
    /// One run.
    pub run_id: Option<&'a str>,
    /// One status.
    pub status: Option<&'a str>,
    /// One currency.
    pub currency: Option<&'a str>,
}

macro_rules! filter {
    () => {
        "WHERE vendor_id = $1 AND ($2 IS NULL OR affiliate_id = $2) AND ($3 IS NULL OR run_id = $3) \
         AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR currency = $5) "
    };
}

/// A page of payouts, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        filter!(),
        "ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(f.vendor_id)
    .bind(f.affiliate_id)
    .bind(f.run_id)
    .bind(f.status)
    .bind(f.currency)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await
}

/// How many payouts match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) FROM payouts ", filter!()))
        .bind(f.vendor_id)
        .bind(f.affiliate_id)
        .bind(f.run_id)
        .bind(f.status)
        .bind(f.currency)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// Every payout of a vendor (ledger verification).
pub async fn all_for_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 ORDER BY created_at, id"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Whether a program's scheduled run for a month exists.
pub async fn schedule_done<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    schedule_key: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM payout_runs WHERE program_id = $1 AND schedule_key = $2")
            .bind(program_id)
            .bind(schedule_key)
            .fetch_optional(ex)
            .await?;
    Ok(row.is_some())
}

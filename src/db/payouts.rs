//! Payout runs and payouts.

use sqlx::{Any, Executor, FromRow};

use std::collections::HashMap;

use super::sql::Sql;
use super::{new_id, now_ms};

/// A stored payout.
#[derive(Debug, Clone, Default, FromRow)]
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
#[derive(Debug, Clone, Default, FromRow)]
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

/// Payouts per statement when a run writes them (13 bound values each: far below both
/// engines' parameter limits).
pub const RUN_CHUNK: usize = 250;

/// Inserts pending payouts (their commissions are attached afterwards by
/// [`claim_commissions`]) in one statement; returns them in the order given. Give at most
/// [`RUN_CHUNK`].
pub async fn insert_many(
    conn: &mut super::Conn,
    payouts: &[NewPayout<'_>],
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    if payouts.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let ids: Vec<String> = payouts.iter().map(|_| new_id("pay")).collect();
    let mut sql = Sql::new(
        "INSERT INTO payouts (id, vendor_id, program_id, run_id, affiliate_id, currency, \
         amount_cents, commissions_cents, fee_bps, fee_cents, net_cents, method, destination, \
         status, created_at, updated_at) VALUES ",
    );
    for (i, (id, p)) in ids.iter().zip(payouts).enumerate() {
        sql = sql
            .push(if i == 0 { "(" } else { ", (" })
            .bind(id.as_str())
            .push(", ")
            .bind(p.vendor_id)
            .push(", ")
            .bind(p.program_id)
            .push(", ")
            .bind(p.run_id)
            .push(", ")
            .bind(p.affiliate_id)
            .push(", ")
            .bind(p.currency)
            .push(", ")
            .bind(p.amount_cents)
            .push(", 0, ")
            .bind(p.fee_bps)
            .push(", ")
            .bind(p.fee_cents)
            .push(", ")
            .bind(p.amount_cents - p.fee_cents)
            .push(", ")
            .bind(p.method)
            .push(", ")
            .bind(p.destination)
            .push(", 'pending', ")
            .bind(now)
            .push(", ")
            .bind(now)
            .push(")");
    }
    let rows: Vec<PayoutRow> = sql
        .push(concat!(" RETURNING ", columns!()))
        .fetch_all(&mut *conn)
        .await?;
    // RETURNING's order is not promised for a multi-row insert: put them back in ours.
    let mut by_id: HashMap<String, PayoutRow> =
        rows.into_iter().map(|r| (r.id.clone(), r)).collect();
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .ok_or_else(|| sqlx::Error::Protocol(format!("payout {id} was not returned")))
        })
        .collect()
}

/// Claims for each payout its affiliate's unclaimed available commissions of the program
/// and currency (`payout_claims`) and records what they are worth (`commissions_cents`);
/// returns the payouts with that figure. Two statements for all of them (the payouts are
/// one run's: one program, one payout per affiliate and currency). Give at most
/// [`RUN_CHUNK`].
pub async fn claim_commissions(
    conn: &mut super::Conn,
    payouts: Vec<PayoutRow>,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    let Some(first) = payouts.first() else {
        return Ok(payouts);
    };
    // A claim is an insert beside the commission, which is not rewritten (migration 0041:
    // on PostgreSQL each rewritten commission was a new row version in every index).
    // The chunk's payouts (by primary key) lead the join, so each reads its affiliate's
    // commissions through `(vendor_id, affiliate_id)`; `status || ''` keeps the planner
    // off the status index, whose range holds the vendor's whole backlog (SQLite 3.51,
    // with the approximate statistics of `analysis_limit`, otherwise walked every
    // available commission of the vendor for each chunk).
    let ids: Vec<&str> = payouts.iter().map(|p| p.id.as_str()).collect();
    Sql::new(
        "INSERT INTO payout_claims (commission_id, vendor_id, payout_id) \
         SELECT m.id, m.vendor_id, p.id FROM payouts p JOIN commissions m \
         ON m.vendor_id = p.vendor_id AND m.affiliate_id = p.affiliate_id \
         AND m.program_id = p.program_id AND m.currency = p.currency \
         WHERE m.status || '' = 'available' AND NOT EXISTS (SELECT 1 FROM payout_claims c \
         WHERE c.commission_id = m.id) AND p.vendor_id = ",
    )
    .bind(first.vendor_id.as_str())
    .and_in("p.id", &ids)
    .build()
    .execute(&mut *conn)
    .await?;
    // Each payout's claims through their index.
    let worth: HashMap<String, i64> = Sql::new(
        "UPDATE payouts SET commissions_cents = COALESCE((SELECT \
         CAST(SUM(m.amount_cents - m.reversed_cents) AS BIGINT) FROM payout_claims c \
         JOIN commissions m ON m.id = c.commission_id WHERE c.payout_id = payouts.id), 0) \
         WHERE vendor_id = ",
    )
    .bind(first.vendor_id.as_str())
    .and_in("id", &ids)
    .push(" RETURNING id, commissions_cents")
    .fetch_all::<_, (String, i64)>(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(payouts
        .into_iter()
        .map(|p| PayoutRow {
            commissions_cents: worth.get(&p.id).copied().unwrap_or(0),
            ..p
        })
        .collect())
}

/// Commissions of a paid payout become `paid`; they move to the `paid` buckets of the
/// money rollups in the same transaction.
pub async fn commissions_paid(
    conn: &mut sqlx::AnyConnection,
    payout_id: &str,
) -> Result<(), sqlx::Error> {
    let paid: Vec<super::money_rollups::CommissionFacts> = sqlx::query_as(concat!(
        "UPDATE commissions SET status = 'paid', updated_at = $1 \
         WHERE id IN (SELECT commission_id FROM payout_claims WHERE payout_id = $2) \
         AND status = 'available' RETURNING ",
        crate::commission_facts!()
    ))
    .bind(now_ms())
    .bind(payout_id)
    .fetch_all(&mut *conn)
    .await?;
    let before: Vec<_> = paid
        .iter()
        .map(|c| super::money_rollups::CommissionFacts {
            status: "available".to_owned(),
            ..c.clone()
        })
        .collect();
    super::money_rollups::commissions_changed(conn, &before, &paid).await
}

/// Claims that break the rules of a claim (ledger verification): `(commission, payout)`
/// where either is missing or another vendor's, the payout pays another affiliate,
/// program or currency than the commission's, or the commission is paid and its payout
/// is not.
pub async fn misplaced_claims<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.commission_id, c.payout_id FROM payout_claims c \
         LEFT JOIN commissions m ON m.id = c.commission_id AND m.vendor_id = $1 \
         LEFT JOIN payouts p ON p.id = c.payout_id AND p.vendor_id = $1 \
         WHERE c.vendor_id = $1 AND (m.id IS NULL OR p.id IS NULL \
         OR m.affiliate_id <> p.affiliate_id OR m.program_id <> p.program_id \
         OR m.currency <> p.currency OR (m.status = 'paid' AND p.status <> 'paid')) \
         ORDER BY c.commission_id",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Commissions of a failed payout can be paid by a later one: its claims on those still
/// available are deleted (a claim on a commission refunded since stays, as the payout's
/// record).
pub async fn release_commissions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    payout_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM payout_claims WHERE payout_id = $1 AND EXISTS (SELECT 1 \
         FROM commissions m WHERE m.id = payout_claims.commission_id AND m.status = 'available')",
    )
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

impl<'a> Filter<'a> {
    /// `<head> WHERE vendor_id = $1` and only the filters given (see [`super::sql`]).
    fn apply(&self, head: &'static str) -> Sql<'a> {
        Sql::new(head)
            .push(" WHERE vendor_id = ")
            .bind(self.vendor_id)
            .and_eq("affiliate_id", self.affiliate_id)
            .and_eq("run_id", self.run_id)
            .and_eq("status", self.status)
            .and_eq("currency", self.currency)
    }
}

/// A page of payouts, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    f.apply(select!())
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// A payout with the email and name of the affiliate it pays (export files).
#[derive(Debug, Clone, FromRow)]
pub struct ExportRow {
    /// The payout.
    #[sqlx(flatten)]
    pub payout: PayoutRow,
    /// Its affiliate's email.
    pub affiliate_email: String,
    /// Its affiliate's name.
    pub affiliate_name: String,
}

/// `SELECT` of payouts joined with their affiliates, `WHERE` the filters of `f`.
fn with_affiliates<'a>(f: &Filter<'a>) -> Sql<'a> {
    Sql::new(
        "SELECT p.id, p.vendor_id, p.program_id, p.run_id, p.affiliate_id, p.currency, \
         p.amount_cents, p.commissions_cents, p.fee_bps, p.fee_cents, p.net_cents, p.method, \
         p.destination, p.status, p.reference, p.failure_reason, p.provider_error, \
         p.created_at, p.processing_at, p.paid_at, p.failed_at, p.updated_at, \
         a.email AS affiliate_email, a.name AS affiliate_name \
         FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id AND a.vendor_id = p.vendor_id",
    )
    .push(" WHERE p.vendor_id = ")
    .bind(f.vendor_id)
    .and_eq("p.affiliate_id", f.affiliate_id)
    .and_eq("p.run_id", f.run_id)
    .and_eq("p.status", f.status)
    .and_eq("p.currency", f.currency)
}

/// The next `limit` payouts matching `f`, newest first, after the payout `after` (its
/// `created_at` and id; `None`: from the newest), each with its affiliate in the same
/// statement. Keyset paging: an export reads its rows in chunks, each an index range,
/// instead of all of them at once and one affiliate lookup per payout.
pub async fn export_chunk<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    let mut q = with_affiliates(f);
    if let Some((at, id)) = after {
        q = q
            .push(" AND (p.created_at < ")
            .bind(at)
            .push(" OR (p.created_at = ")
            .bind(at)
            .push(" AND p.id < ")
            .bind(id)
            .push("))");
    }
    q.push(" ORDER BY p.created_at DESC, p.id DESC LIMIT ")
        .bind(limit)
        .fetch_all(ex)
        .await
}

/// A page of payouts matching `f` with their affiliates, newest first (a run's page: one
/// statement for the page instead of the whole run and a lookup of every affiliate).
pub async fn page_with_affiliates<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    with_affiliates(f)
        .push(" ORDER BY p.created_at DESC, p.id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// Payouts matching `f` counted by status, method and currency, with their net total.
#[derive(Debug, Clone, FromRow)]
pub struct Tally {
    /// Status of the payouts counted.
    pub status: String,
    /// Their method.
    pub method: String,
    /// Their currency.
    pub currency: String,
    /// How many.
    pub payouts: i64,
    /// Their net amounts added up, in minor units.
    pub net_cents: i64,
}

/// What a run's page sums up (open count, amounts still to pay, PayPal files) without
/// reading its payouts.
pub async fn tally<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<Vec<Tally>, sqlx::Error> {
    f.apply(
        "SELECT status, method, currency, COUNT(*) AS payouts, \
         CAST(SUM(net_cents) AS BIGINT) AS net_cents FROM payouts",
    )
    .push(" GROUP BY status, method, currency ORDER BY currency, status, method")
    .fetch_all(ex)
    .await
}

/// The currencies of the open PayPal payouts matching `f` (a PayPal file takes one).
pub async fn open_paypal_currencies<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = f
        .apply("SELECT DISTINCT currency FROM payouts")
        .push(" AND method = 'paypal' AND status IN ('pending', 'processing') ORDER BY currency")
        .fetch_all(ex)
        .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// How many payouts match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    f.apply("SELECT COUNT(*) FROM payouts")
        .fetch_count(ex)
        .await
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

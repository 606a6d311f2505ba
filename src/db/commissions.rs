//! Commissions: what one affiliate earns from one conversion.

use super::sql::Sql;
use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::money_rollups::CommissionFacts;

use super::{new_id, now_ms};

/// A stored commission.
#[derive(Debug, Clone, FromRow)]
pub struct CommissionRow {
    /// `com_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// The conversion it comes from.
    pub conversion_id: String,
    /// Who earns it.
    pub affiliate_id: String,
    /// 0 = the converting affiliate, n = its n-th upline.
    pub level: i64,
    /// ISO 4217.
    pub currency: String,
    /// Earned, minor units.
    pub amount_cents: i64,
    /// Taken back by refunds.
    pub reversed_cents: i64,
    /// Rate applied.
    pub bps: Option<i64>,
    /// How it was computed.
    pub rule: String,
    /// `pending`, `available`, `paid`, `rejected` or `reversed`.
    pub status: String,
    /// End of the holding period.
    pub available_at: i64,
    /// The payout that settles it (its claim in `payout_claims`).
    pub payout_id: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl CommissionRow {
    /// What it is still worth: nothing once rejected, else the amount less refunds.
    pub fn net_cents(&self) -> i64 {
        if self.status == "rejected" {
            0
        } else {
            self.amount_cents - self.reversed_cents
        }
    }
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, program_id, conversion_id, affiliate_id, level, currency, \
         amount_cents, reversed_cents, bps, rule, status, available_at, \
         (SELECT c.payout_id FROM payout_claims c WHERE c.commission_id = commissions.id) \
         AS payout_id, created_at, updated_at FROM commissions "
    };
}

/// A new commission.
#[derive(Debug, Clone)]
pub struct NewCommission<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Program.
    pub program_id: &'a str,
    /// Conversion.
    pub conversion_id: &'a str,
    /// Earner.
    pub affiliate_id: &'a str,
    /// Level.
    pub level: i64,
    /// Currency.
    pub currency: &'a str,
    /// Amount.
    pub amount_cents: i64,
    /// Rate.
    pub bps: Option<i64>,
    /// Description.
    pub rule: &'a str,
    /// `pending` (or `available` with no holding period).
    pub status: &'a str,
    /// End of the holding period.
    pub available_at: i64,
}

/// Inserts a commission; `None` if the conversion already has one at this level (the
/// unique index makes a second commission for the same conversion impossible). Adds it to
/// the money rollups in the same transaction.
pub async fn insert(
    conn: &mut AnyConnection,
    c: &NewCommission<'_>,
) -> Result<Option<String>, sqlx::Error> {
    #[derive(FromRow)]
    struct Inserted {
        id: String,
        #[sqlx(flatten)]
        facts: CommissionFacts,
    }
    let now = now_ms();
    let row: Option<Inserted> = sqlx::query_as(concat!(
        "INSERT INTO commissions (id, vendor_id, program_id, conversion_id, affiliate_id, level, \
         currency, amount_cents, bps, rule, status, available_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
         ON CONFLICT (conversion_id, level) DO NOTHING RETURNING id, ",
        crate::commission_facts!()
    ))
    .bind(new_id("com"))
    .bind(c.vendor_id)
    .bind(c.program_id)
    .bind(c.conversion_id)
    .bind(c.affiliate_id)
    .bind(c.level)
    .bind(c.currency)
    .bind(c.amount_cents)
    .bind(c.bps)
    .bind(c.rule)
    .bind(c.status)
    .bind(c.available_at)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    super::money_rollups::commissions_changed(conn, &[], std::slice::from_ref(&row.facts)).await?;
    Ok(Some(row.id))
}

/// The commissions of a conversion, by level.
pub async fn for_conversion<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    conversion_id: &str,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND conversion_id = $2 ORDER BY level"
    ))
    .bind(vendor_id)
    .bind(conversion_id)
    .fetch_all(ex)
    .await
}

/// The commissions of the vendor's conversions `conversion_ids` (at most a page of them:
/// one statement), by conversion and level.
pub async fn for_conversions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    conversion_ids: &[&str],
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    if conversion_ids.is_empty() {
        return Ok(Vec::new());
    }
    Sql::new(concat!(select!(), "WHERE vendor_id = "))
        .bind(vendor_id)
        .and_in("conversion_id", conversion_ids)
        .push(" ORDER BY conversion_id, level")
        .fetch_all(ex)
        .await
}

/// The commissions a payout settles, oldest first.
pub async fn for_payout<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    payout_id: &str,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 AND id IN (SELECT commission_id FROM payout_claims \
         WHERE payout_id = $2) ORDER BY created_at, id"
    ))
    .bind(vendor_id)
    .bind(payout_id)
    .fetch_all(ex)
    .await
}

/// Moves a commission from `from` to `to`; `false` when it was not in `from`. Moves it
/// between money-rollup buckets in the same transaction.
pub async fn transition(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, sqlx::Error> {
    let moved: Option<CommissionFacts> = sqlx::query_as(concat!(
        "UPDATE commissions SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 \
         RETURNING ",
        crate::commission_facts!()
    ))
    .bind(to)
    .bind(now_ms())
    .bind(id)
    .bind(from)
    .fetch_optional(&mut *conn)
    .await?;
    moved_from(conn, moved, from).await
}

/// Rolls a commission that a conditional update moved out of status `from` over to its
/// new bucket; `false` when the update changed nothing.
async fn moved_from(
    conn: &mut AnyConnection,
    moved: Option<CommissionFacts>,
    from: &str,
) -> Result<bool, sqlx::Error> {
    let Some(after) = moved else {
        return Ok(false);
    };
    let before = CommissionFacts {
        status: from.to_owned(),
        ..after.clone()
    };
    super::money_rollups::commissions_changed(conn, &[before], &[after]).await?;
    Ok(true)
}

/// Makes a pending commission available now (approved early).
pub async fn make_available(
    conn: &mut AnyConnection,
    id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let moved: Option<CommissionFacts> = sqlx::query_as(concat!(
        "UPDATE commissions SET status = 'available', available_at = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'pending' RETURNING ",
        crate::commission_facts!()
    ))
    .bind(at)
    .bind(now_ms())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    moved_from(conn, moved, "pending").await
}

/// Records a refund reversal; `false` if the commission changed concurrently.
pub async fn add_reversed(
    conn: &mut AnyConnection,
    id: &str,
    before: i64,
    after: i64,
    fully: bool,
) -> Result<bool, sqlx::Error> {
    // The status it had is part of the condition: the rollups move it out of that bucket.
    let was: Option<(String,)> = sqlx::query_as("SELECT status FROM commissions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((was,)) = was else {
        return Ok(false);
    };
    let now: Option<CommissionFacts> = sqlx::query_as(concat!(
        "UPDATE commissions SET reversed_cents = $1, \
         status = CASE WHEN $2 = 1 AND status IN ('pending', 'available') THEN 'reversed' ELSE status END, \
         updated_at = $3 WHERE id = $4 AND reversed_cents = $5 AND status = $6 RETURNING ",
        crate::commission_facts!()
    ))
    .bind(after)
    .bind(i64::from(fully))
    .bind(now_ms())
    .bind(id)
    .bind(before)
    .bind(&was)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(now) = now else {
        return Ok(false);
    };
    let then = CommissionFacts {
        status: was,
        reversed_cents: before,
        ..now.clone()
    };
    super::money_rollups::commissions_changed(conn, &[then], &[now]).await?;
    Ok(true)
}

/// Every commission of a vendor (ledger verification).
pub async fn all_for_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 ORDER BY created_at, id"
    ))
    .bind(vendor_id)
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
    /// Only this conversion's.
    pub conversion_id: Option<&'a str>,
}

/// `<head> WHERE` with only the filters given.
fn filtered<'a>(head: &'static str, f: &Filter<'a>, from: Option<i64>, to: Option<i64>) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(f.vendor_id)
        .and_eq("affiliate_id", f.affiliate_id)
        .and_eq("program_id", f.program_id)
        .and_eq("status", f.status)
        .and_eq("conversion_id", f.conversion_id)
        .and_opt("created_at >= ", from)
        .and_opt("created_at < ", to)
}

/// One page of commissions, newest first.
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    page_between(ex, f, None, None, limit, offset).await
}

/// One page of the commissions created in `[from, to)` (unix ms; either bound optional),
/// newest first.
pub async fn page_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    from: Option<i64>,
    to: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    filtered(select!(), f, from, to)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many commissions match.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    count_between(ex, f, None, None).await
}

/// How many commissions created in `[from, to)` match.
pub async fn count_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<i64, sqlx::Error> {
    filtered("SELECT COUNT(*) FROM commissions", f, from, to)
        .fetch_count(ex)
        .await
}

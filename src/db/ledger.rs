//! The double-entry journal. Rows are only ever inserted.

use sqlx::{Any, AssertSqlSafe, Executor, FromRow};

use super::sql::Sql;
use super::{Conn, new_id};

/// One journal line.
#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    /// `led_...`
    pub id: String,
    /// Tenant.
    pub vendor_id: String,
    /// The transaction it belongs to (`ltx_...`).
    pub txn_id: String,
    /// What moved the money.
    pub kind: String,
    /// `pending`, `available`, `paid` or `commission_expense`.
    pub account: String,
    /// The affiliate whose account it is (NULL for the vendor's accounts).
    pub affiliate_id: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Signed minor units; the lines of a transaction sum to zero.
    pub amount_cents: i64,
    /// Program.
    pub program_id: Option<String>,
    /// Conversion.
    pub conversion_id: Option<String>,
    /// Commission.
    pub commission_id: Option<String>,
    /// Payout.
    pub payout_id: Option<String>,
    /// Note for people.
    pub memo: String,
    /// Posting time, unix ms.
    pub created_at: i64,
}

macro_rules! select {
    () => {
        "SELECT id, vendor_id, txn_id, kind, account, affiliate_id, currency, amount_cents, \
         program_id, conversion_id, commission_id, payout_id, memo, created_at FROM ledger_entries "
    };
}

/// A line to post.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Account.
    pub account: &'a str,
    /// Affiliate (None for vendor accounts).
    pub affiliate_id: Option<&'a str>,
    /// Currency.
    pub currency: &'a str,
    /// Signed amount.
    pub amount_cents: i64,
    /// Program.
    pub program_id: Option<&'a str>,
    /// Conversion.
    pub conversion_id: Option<&'a str>,
    /// Commission.
    pub commission_id: Option<&'a str>,
    /// Payout.
    pub payout_id: Option<&'a str>,
    /// Bonus.
    pub bonus_id: Option<&'a str>,
}

/// Columns shared by every line of a statement, bound once: vendor, kind, memo, time.
const SHARED: usize = 4;
/// Columns bound per line: the transaction, then the line's own.
const PER_LINE: usize = 11;

/// Writes the lines of one transaction (the caller checked they balance), in one statement:
/// a transaction is all its lines or none, and one round trip instead of one per line
/// matters on the ingest path.
pub async fn insert(
    conn: &mut Conn,
    vendor_id: &str,
    txn_id: &str,
    kind: &str,
    memo: &str,
    at: i64,
    lines: &[NewEntry<'_>],
) -> Result<(), sqlx::Error> {
    insert_txns(conn, vendor_id, kind, memo, at, &[(txn_id, lines)]).await
}

/// Writes several transactions of one kind (each balanced by the caller) in as few
/// statements as the parameter limits allow: a payout run posts thousands of them, and one
/// round trip per transaction was most of its time on PostgreSQL. The vendor's line count
/// moves with them (inside an ingest batch, with the batch: `db::deferred`).
pub async fn insert_txns(
    conn: &mut Conn,
    vendor_id: &str,
    kind: &str,
    memo: &str,
    at: i64,
    txns: &[(&str, &[NewEntry<'_>])],
) -> Result<(), sqlx::Error> {
    let lines: Vec<(&str, &NewEntry<'_>)> = txns
        .iter()
        .flat_map(|(txn, lines)| lines.iter().map(move |l| (*txn, l)))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    for chunk in lines.chunks(MAX_LINES) {
        insert_lines(conn, [vendor_id, kind, memo], at, chunk).await?;
    }
    let lines = lines.len() as i64;
    if super::deferred::add(|p| *p.ledger_lines.entry(vendor_id.to_owned()).or_default() += lines) {
        return Ok(());
    }
    add_to_count(conn, vendor_id, lines).await
}

/// Slots of a vendor's line count (see `migrations/0034_ledger_line_counts.sql`).
const COUNT_SLOTS: u64 = 16;
/// The slots `0..LANE_SLOTS` are the ingest lanes' (see [`in_lane`]); every other writer
/// takes one of the rest.
const LANE_SLOTS: u64 = 8;

tokio::task_local! {
    static LANE: u64;
}

/// Runs `work` (an ingest lane's writer loop) with the count slot of lane `lane`. The
/// lanes' slot rows are then their own: two lanes (up to [`LANE_SLOTS`] of them) never
/// queue on one slot row, and a lane never shares one with a writer outside the lanes
/// (an approval, a refund through the API, a background job), whose rows it would
/// otherwise lock in another order (`db::deferred`).
pub async fn in_lane<F: std::future::Future>(lane: usize, work: F) -> F::Output {
    LANE.scope(lane as u64 % LANE_SLOTS, work).await
}

/// The count slot of the calling task: the same for every statement a task runs, so one
/// transaction (run by one task) only ever locks one slot row. An ingest lane has its own
/// ([`in_lane`]); other tasks hash to one of the other slots, so concurrent writers mostly
/// update different rows. The money rollups' and the referral rollup's buckets use the
/// same slots (`db::money_rollups`, `db::referral_rollups`).
pub(crate) fn count_slot() -> i64 {
    use std::hash::{Hash, Hasher};
    if let Ok(lane) = LANE.try_with(|l| *l) {
        // Below LANE_SLOTS: the cast cannot truncate.
        return lane as i64;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match tokio::task::try_id() {
        Some(id) => id.hash(&mut h),
        None => std::thread::current().id().hash(&mut h),
    }
    // Below COUNT_SLOTS: the cast cannot truncate.
    (LANE_SLOTS + h.finish() % (COUNT_SLOTS - LANE_SLOTS)) as i64
}

/// Adds `lines` to the vendor's line count, in the caller's transaction.
pub(super) async fn add_to_count(
    conn: &mut Conn,
    vendor_id: &str,
    lines: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_line_counts (vendor_id, slot, lines) VALUES ($1, $2, $3) \
         ON CONFLICT (vendor_id, slot) DO UPDATE SET lines = ledger_line_counts.lines + excluded.lines",
    )
    .bind(vendor_id)
    .bind(count_slot())
    .bind(lines)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The vendor's line count as kept beside the journal (one read of at most 16 rows).
pub async fn kept_count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(lines) AS BIGINT) FROM ledger_line_counts WHERE vendor_id = $1",
    )
    .bind(vendor_id)
    .fetch_one(ex)
    .await?;
    Ok(n.unwrap_or(0))
}

/// The vendor's lines counted in the journal itself.
pub async fn counted<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM ledger_entries WHERE vendor_id = $1")
        .bind(vendor_id)
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// Recounts the vendor's lines from the journal into its kept count (after a bulk load,
/// or `affilia rollups rebuild`); run it in a transaction.
pub async fn recount(conn: &mut Conn, vendor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ledger_line_counts WHERE vendor_id = $1")
        .bind(vendor_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO ledger_line_counts (vendor_id, slot, lines) \
         SELECT vendor_id, 0, COUNT(*) FROM ledger_entries WHERE vendor_id = $1 GROUP BY vendor_id",
    )
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lines per statement at most (bound parameters stay far below both engines' limits).
const MAX_LINES: usize = 500;

async fn insert_lines(
    conn: &mut Conn,
    [vendor_id, kind, memo]: [&str; 3],
    at: i64,
    lines: &[(&str, &NewEntry<'_>)],
) -> Result<(), sqlx::Error> {
    // Only placeholders are generated here; every value is bound.
    let mut sql = String::from(
        "INSERT INTO ledger_entries (vendor_id, kind, memo, created_at, txn_id, id, account, \
         affiliate_id, currency, amount_cents, program_id, conversion_id, commission_id, \
         payout_id, bonus_id) VALUES ",
    );
    for i in 0..lines.len() {
        sql.push_str(if i == 0 {
            "($1, $2, $3, $4"
        } else {
            ", ($1, $2, $3, $4"
        });
        for c in 0..PER_LINE {
            sql.push_str(", $");
            sql.push_str(&(SHARED + i * PER_LINE + c + 1).to_string());
        }
        sql.push(')');
    }
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(vendor_id)
        .bind(kind)
        .bind(memo)
        .bind(at);
    for (txn_id, l) in lines {
        q = q
            .bind(*txn_id)
            .bind(new_id("led"))
            .bind(l.account)
            .bind(l.affiliate_id)
            .bind(l.currency)
            .bind(l.amount_cents)
            .bind(l.program_id)
            .bind(l.conversion_id)
            .bind(l.commission_id)
            .bind(l.payout_id)
            .bind(l.bonus_id);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Balance of each account of an affiliate: (currency, account, sum).
pub async fn balances<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, account, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 AND affiliate_id = $2 GROUP BY currency, account \
         ORDER BY currency, account",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_all(ex)
    .await
}

/// Every account balance of a vendor: (affiliate or NULL, currency, account, sum).
pub async fn all_balances<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(Option<String>, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT affiliate_id, currency, account, CAST(SUM(amount_cents) AS BIGINT) \
         FROM ledger_entries WHERE vendor_id = $1 GROUP BY affiliate_id, currency, account",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Transactions whose lines do not sum to zero in some currency: (txn, currency, sum).
pub async fn unbalanced<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT txn_id, currency, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 GROUP BY txn_id, currency HAVING SUM(amount_cents) <> 0",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// What the journal holds for each commission on affiliate accounts: (commission, sum).
pub async fn per_commission<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT commission_id, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 AND commission_id IS NOT NULL AND affiliate_id IS NOT NULL \
         AND account IN ('pending', 'available') GROUP BY commission_id",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// Sum per (payout, account) of a vendor's payout lines.
pub async fn per_payout<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<std::collections::HashMap<(String, String), i64>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT payout_id, account, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 AND payout_id IS NOT NULL GROUP BY payout_id, account",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(p, a, s)| ((p, a), s)).collect())
}

/// One affiliate's available balance in one program and currency.
pub async fn available_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    affiliate_id: &str,
    currency: &str,
) -> Result<i64, sqlx::Error> {
    let (sum,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 AND program_id = $2 AND account = 'available' \
         AND affiliate_id = $3 AND currency = $4",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(affiliate_id)
    .bind(currency)
    .fetch_one(ex)
    .await?;
    Ok(sum.unwrap_or(0))
}

/// Every line of a vendor in posting order (replay comparisons).
pub async fn all_for_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        select!(),
        "WHERE vendor_id = $1 ORDER BY created_at, txn_id, id"
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
    /// Only this affiliate's accounts.
    pub affiliate_id: Option<&'a str>,
    /// Only this currency.
    pub currency: Option<&'a str>,
}

impl<'a> Filter<'a> {
    /// `WHERE` with only the given filters (see [`super::sql`]: SQLite plans without the
    /// values, so `($n IS NULL OR ...)` made it read the vendor's whole ledger).
    fn apply(&self, head: &'static str) -> Sql<'a> {
        Sql::new(head)
            .push(" WHERE vendor_id = ")
            .bind(self.vendor_id)
            .and_eq("affiliate_id", self.affiliate_id)
            .and_eq("currency", self.currency)
    }
}

/// One page of lines, newest first (`ix_ledger_entries__vendor_time` or the affiliate's
/// index give the order without sorting the vendor's ledger).
pub async fn page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    f.apply(select!())
        .push(" ORDER BY created_at DESC, txn_id DESC, id DESC LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset)
        .fetch_all(ex)
        .await
}

/// How many lines match. Unfiltered, the vendor's kept count (exact: it is written in the
/// transaction of every insert); filtered, a count over the affiliate's or currency's range.
pub async fn count<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &Filter<'_>,
) -> Result<i64, sqlx::Error> {
    if f.affiliate_id.is_none() && f.currency.is_none() {
        return kept_count(ex, f.vendor_id).await;
    }
    f.apply("SELECT COUNT(*) FROM ledger_entries")
        .fetch_count(ex)
        .await
}

/// What the journal holds for each bonus on affiliate accounts: (bonus, sum).
pub async fn per_bonus<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT bonus_id, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entries \
         WHERE vendor_id = $1 AND bonus_id IS NOT NULL AND affiliate_id IS NOT NULL \
         AND account IN ('pending', 'available') GROUP BY bonus_id",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lanes_have_their_own_slots_and_other_writers_the_rest() {
        for lane in 0..20 {
            let slot = in_lane(lane, async { count_slot() }).await;
            assert_eq!(slot, (lane as u64 % LANE_SLOTS) as i64);
            // The same for everything the lane runs, however deep.
            let deeper = async { count_slot() };
            let again = in_lane(lane, async move { (deeper.await, count_slot()) }).await;
            assert_eq!(again, (slot, slot));
        }
        for _ in 0..50 {
            let slot = tokio::spawn(async { count_slot() }).await.unwrap();
            assert!(
                (LANE_SLOTS as i64..COUNT_SLOTS as i64).contains(&slot),
                "a writer outside the lanes took slot {slot}"
            );
        }
    }
}

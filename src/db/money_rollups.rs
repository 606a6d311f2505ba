//! Money rollups (`migrations/0037_money_rollups.sql`, `0040_affiliate_report_totals.sql`):
//! conversions and commissions summed per (program, UTC day, status, currency), and each
//! affiliate's all-time earnings and conversions. Kept in step by every write that changes
//! those figures, in its transaction ([`commissions_changed`], [`conversions_changed`],
//! called only when the conditional write changed a row), rebuilt from the rows by
//! [`rebuild`] and compared with them by [`mismatches`].
//!
//! A period is answered from whole days of the rollups plus the raw rows of its partial
//! edge days (see [`Split`]), so the figures equal grouping the rows themselves.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::analytics::{Leader, Scope};
use super::rollups::{DAY_MS, Split};
use super::sql::{Arg, Sql};

/// What a commission contributes to the rollups.
#[derive(Debug, Clone, FromRow)]
pub struct CommissionFacts {
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// Earner.
    pub affiliate_id: String,
    /// Currency.
    pub currency: String,
    /// Creation time (the day it counts on).
    pub created_at: i64,
    /// Status.
    pub status: String,
    /// Amount.
    pub amount_cents: i64,
    /// Reversed by refunds.
    pub reversed_cents: i64,
}

/// The columns of [`CommissionFacts`], for `RETURNING` and `SELECT`.
#[macro_export]
macro_rules! commission_facts {
    () => {
        "vendor_id, program_id, affiliate_id, currency, created_at, status, amount_cents, \
         reversed_cents"
    };
}

/// What a conversion contributes to the rollups.
#[derive(Debug, Clone, FromRow)]
pub struct ConversionFacts {
    /// Tenant.
    pub vendor_id: String,
    /// Program.
    pub program_id: String,
    /// The referring affiliate (its all-time totals).
    pub affiliate_id: String,
    /// Currency.
    pub currency: String,
    /// Sale time (the day it counts on).
    pub occurred_at: i64,
    /// Status.
    pub status: String,
    /// Gross.
    pub amount_cents: i64,
    /// Refunded so far.
    pub refunded_cents: i64,
}

/// The columns of [`ConversionFacts`], for `RETURNING` and `SELECT`.
#[macro_export]
macro_rules! conversion_facts {
    () => {
        "vendor_id, program_id, affiliate_id, currency, occurred_at, status, amount_cents, \
         refunded_cents"
    };
}

/// Buckets per statement (at most 9 values each: far below both parameter limits).
const CHUNK: usize = 400;

/// A day bucket: vendor, program, UTC day, status, currency.
type DayKey = (String, String, i64, String, String);
/// Vendor, affiliate, currency.
type TotalsKey = (String, String, String);
/// Vendor, program, affiliate, currency.
type CommissionTotalsKey = (String, String, String, String);

/// Moves of the money rollups, summed per bucket and per affiliate total, to be written
/// by [`Deltas::write`]. Several writes' moves can be summed into one (the ingest batch,
/// `db::deferred`): the rollups are sums, so the total move is the sum of the moves.
#[derive(Debug, Default)]
pub struct Deltas {
    conversion_days: BTreeMap<DayKey, [i64; 3]>,
    commission_days: BTreeMap<DayKey, [i64; 3]>,
    /// Vendor, affiliate, currency → conversions, net cents.
    conversion_totals: BTreeMap<TotalsKey, [i64; 2]>,
    /// Vendor, program, affiliate, currency → commissions, earned cents.
    commission_totals: BTreeMap<CommissionTotalsKey, [i64; 2]>,
}

impl Deltas {
    /// Adds the move of commissions: each of `before` (as it was) leaves its buckets and
    /// each of `after` (as it is now) enters them.
    pub fn commissions(&mut self, before: &[CommissionFacts], after: &[CommissionFacts]) {
        for (rows, sign) in [(before, -1), (after, 1)] {
            for c in rows {
                let d = self
                    .commission_days
                    .entry((
                        c.vendor_id.clone(),
                        c.program_id.clone(),
                        c.created_at.div_euclid(DAY_MS),
                        c.status.clone(),
                        c.currency.clone(),
                    ))
                    .or_default();
                d[0] += sign;
                d[1] += sign * c.amount_cents;
                d[2] += sign * c.reversed_cents;
                if c.status != "rejected" {
                    let t = self
                        .commission_totals
                        .entry((
                            c.vendor_id.clone(),
                            c.program_id.clone(),
                            c.affiliate_id.clone(),
                            c.currency.clone(),
                        ))
                        .or_default();
                    t[0] += sign;
                    t[1] += sign * (c.amount_cents - c.reversed_cents);
                }
            }
        }
    }

    /// Adds the move of conversions, as [`Deltas::commissions`] does commissions.
    pub fn conversions(&mut self, before: &[ConversionFacts], after: &[ConversionFacts]) {
        for (rows, sign) in [(before, -1), (after, 1)] {
            for c in rows {
                if c.status != "rejected" {
                    let t = self
                        .conversion_totals
                        .entry((
                            c.vendor_id.clone(),
                            c.affiliate_id.clone(),
                            c.currency.clone(),
                        ))
                        .or_default();
                    t[0] += sign;
                    t[1] += sign * (c.amount_cents - c.refunded_cents);
                }
                let d = self
                    .conversion_days
                    .entry((
                        c.vendor_id.clone(),
                        c.program_id.clone(),
                        c.occurred_at.div_euclid(DAY_MS),
                        c.status.clone(),
                        c.currency.clone(),
                    ))
                    .or_default();
                d[0] += sign;
                d[1] += sign * c.amount_cents;
                d[2] += sign * c.refunded_cents;
            }
        }
    }

    /// Writes the moves (those that are not all zero) in the caller's transaction: the
    /// day buckets, then the affiliates' totals ([`Deltas::write_days`],
    /// [`Totals::write`]).
    pub async fn write(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        self.write_days(conn).await?.write(conn).await
    }

    /// Writes the day buckets (conversions, then commissions; each table's rows in key
    /// order, in the caller's slot) and returns the totals, for the caller to write with
    /// [`Totals::write`] in the same transaction. An ingest batch writes them last, just
    /// before its commit (`db::deferred`): an affiliate's totals row is the one row every
    /// lane writing its sales shares, and it is held from its upsert to the commit.
    pub async fn write_days(self, conn: &mut AnyConnection) -> Result<Totals, sqlx::Error> {
        let slot = super::ledger::count_slot();
        let conversion_days = nonzero(self.conversion_days);
        upsert(
            conn,
            "INSERT INTO conversion_rollup_days (vendor_id, program_id, day, status, currency, \
             slot, conversions, amount_cents, refunded_cents) VALUES ",
            " ON CONFLICT (vendor_id, day, program_id, status, currency, slot) DO UPDATE SET \
             conversions = conversion_rollup_days.conversions + excluded.conversions, \
             amount_cents = conversion_rollup_days.amount_cents + excluded.amount_cents, \
             refunded_cents = conversion_rollup_days.refunded_cents + excluded.refunded_cents",
            &day_values(&conversion_days, slot),
        )
        .await?;
        let commission_days = nonzero(self.commission_days);
        upsert(
            conn,
            "INSERT INTO commission_rollup_days (vendor_id, program_id, day, status, currency, \
             slot, commissions, amount_cents, reversed_cents) VALUES ",
            " ON CONFLICT (vendor_id, day, program_id, status, currency, slot) DO UPDATE SET \
             commissions = commission_rollup_days.commissions + excluded.commissions, \
             amount_cents = commission_rollup_days.amount_cents + excluded.amount_cents, \
             reversed_cents = commission_rollup_days.reversed_cents + excluded.reversed_cents",
            &day_values(&commission_days, slot),
        )
        .await?;
        Ok(Totals {
            conversions: nonzero(self.conversion_totals),
            commissions: nonzero(self.commission_totals),
        })
    }
}

/// The affiliates' all-time totals moved by a [`Deltas`], not yet written.
#[derive(Debug)]
#[must_use = "the totals must be written in the same transaction"]
pub struct Totals {
    conversions: Vec<(TotalsKey, [i64; 2])>,
    commissions: Vec<(CommissionTotalsKey, [i64; 2])>,
}

impl Totals {
    /// Writes the totals in the caller's transaction: conversions, then commissions, each
    /// table's rows in key order, so two transactions writing the same rows lock them in
    /// the same order.
    pub async fn write(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let rows: Vec<Vec<Arg<'_>>> = self
            .conversions
            .iter()
            .map(|((vendor, affiliate, currency), t)| {
                vec![
                    vendor.as_str().into(),
                    affiliate.as_str().into(),
                    currency.as_str().into(),
                    t[0].into(),
                    t[1].into(),
                ]
            })
            .collect();
        upsert(
            conn,
            "INSERT INTO conversion_affiliate_totals (vendor_id, affiliate_id, currency, \
             conversions, net_cents) VALUES ",
            " ON CONFLICT (vendor_id, affiliate_id, currency) DO UPDATE SET \
             conversions = conversion_affiliate_totals.conversions + excluded.conversions, \
             net_cents = conversion_affiliate_totals.net_cents + excluded.net_cents",
            &rows,
        )
        .await?;
        let rows: Vec<Vec<Arg<'_>>> = self
            .commissions
            .iter()
            .map(|((vendor, program, affiliate, currency), t)| {
                vec![
                    vendor.as_str().into(),
                    program.as_str().into(),
                    affiliate.as_str().into(),
                    currency.as_str().into(),
                    t[0].into(),
                    t[1].into(),
                ]
            })
            .collect();
        upsert(
            conn,
            "INSERT INTO commission_affiliate_totals (vendor_id, program_id, affiliate_id, \
             currency, commissions, earned_cents) VALUES ",
            " ON CONFLICT (vendor_id, program_id, affiliate_id, currency) DO UPDATE SET \
             commissions = commission_affiliate_totals.commissions + excluded.commissions, \
             earned_cents = commission_affiliate_totals.earned_cents + excluded.earned_cents",
            &rows,
        )
        .await
    }
}

/// The entries of `moves` that change something, in key order.
fn nonzero<K, const N: usize>(moves: BTreeMap<K, [i64; N]>) -> Vec<(K, [i64; N])> {
    moves
        .into_iter()
        .filter(|(_, d)| d.iter().any(|v| *v != 0))
        .collect()
}

/// Moves commissions in the rollups: each of `before` (as it was) leaves its buckets and
/// each of `after` (as it is now) enters them. Call it in the transaction of the write,
/// only with rows the write actually changed. Inside an ingest batch the move is added to
/// the batch's and written with it (`db::deferred`).
pub async fn commissions_changed(
    conn: &mut AnyConnection,
    before: &[CommissionFacts],
    after: &[CommissionFacts],
) -> Result<(), sqlx::Error> {
    if super::deferred::add(|p| p.money.commissions(before, after)) {
        return Ok(());
    }
    let mut moves = Deltas::default();
    moves.commissions(before, after);
    moves.write(conn).await
}

/// Moves conversions in the rollup and in their affiliates' all-time totals
/// (`conversion_affiliate_totals`, migration 0040), as [`commissions_changed`] does
/// commissions.
pub async fn conversions_changed(
    conn: &mut AnyConnection,
    before: &[ConversionFacts],
    after: &[ConversionFacts],
) -> Result<(), sqlx::Error> {
    if super::deferred::add(|p| p.money.conversions(before, after)) {
        return Ok(());
    }
    let mut moves = Deltas::default();
    moves.conversions(before, after);
    moves.write(conn).await
}

/// The values of day-bucket rows, in the caller's `slot`: the columns of both day tables.
fn day_values(days: &[(DayKey, [i64; 3])], slot: i64) -> Vec<Vec<Arg<'_>>> {
    days.iter()
        .map(|((vendor, program, day, status, currency), d)| {
            vec![
                vendor.as_str().into(),
                program.as_str().into(),
                (*day).into(),
                status.as_str().into(),
                currency.as_str().into(),
                slot.into(),
                d[0].into(),
                d[1].into(),
                d[2].into(),
            ]
        })
        .collect()
}

/// Runs `head` + up to [`CHUNK`] rows of `VALUES` + `tail` (an `ON CONFLICT` that adds the
/// moves) for every chunk of `rows`.
async fn upsert(
    conn: &mut AnyConnection,
    head: &'static str,
    tail: &'static str,
    rows: &[Vec<Arg<'_>>],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::new(head);
        for (i, row) in chunk.iter().enumerate() {
            q = q.row(i == 0, row);
        }
        q.push(tail).build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Recomputes one vendor's money rollups from its conversions and commissions (run it in a
/// transaction: after a bulk load, an import, or by `affilia rollups rebuild`).
pub async fn rebuild(conn: &mut AnyConnection, vendor_id: &str) -> Result<(), sqlx::Error> {
    for table in [
        "DELETE FROM commission_rollup_days WHERE vendor_id = $1",
        "DELETE FROM conversion_rollup_days WHERE vendor_id = $1",
        "DELETE FROM commission_affiliate_totals WHERE vendor_id = $1",
        "DELETE FROM conversion_affiliate_totals WHERE vendor_id = $1",
        "INSERT INTO commission_rollup_days (vendor_id, program_id, day, status, currency, slot, \
         commissions, amount_cents, reversed_cents) \
         SELECT vendor_id, program_id, created_at / 86400000, status, currency, 0, COUNT(*), \
         CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(reversed_cents) AS BIGINT) \
         FROM commissions WHERE vendor_id = $1 \
         GROUP BY vendor_id, program_id, created_at / 86400000, status, currency",
        "INSERT INTO conversion_rollup_days (vendor_id, program_id, day, status, currency, slot, \
         conversions, amount_cents, refunded_cents) \
         SELECT vendor_id, program_id, occurred_at / 86400000, status, currency, 0, COUNT(*), \
         CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(refunded_cents) AS BIGINT) \
         FROM conversions WHERE vendor_id = $1 \
         GROUP BY vendor_id, program_id, occurred_at / 86400000, status, currency",
        "INSERT INTO commission_affiliate_totals (vendor_id, program_id, affiliate_id, currency, \
         commissions, earned_cents) \
         SELECT vendor_id, program_id, affiliate_id, currency, COUNT(*), \
         CAST(SUM(amount_cents - reversed_cents) AS BIGINT) \
         FROM commissions WHERE vendor_id = $1 AND status <> 'rejected' \
         GROUP BY vendor_id, program_id, affiliate_id, currency",
        "INSERT INTO conversion_affiliate_totals (vendor_id, affiliate_id, currency, \
         conversions, net_cents) \
         SELECT vendor_id, affiliate_id, currency, COUNT(*), \
         CAST(SUM(amount_cents - refunded_cents) AS BIGINT) \
         FROM conversions WHERE vendor_id = $1 AND status <> 'rejected' \
         GROUP BY vendor_id, affiliate_id, currency",
    ] {
        sqlx::query(table)
            .bind(vendor_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A daily rollup and the rows it sums: the same check for both.
struct DailyRollup {
    /// The rows' table.
    rows: &'static str,
    /// The rows' time column (the day a row counts on).
    time: &'static str,
    /// The rollup table.
    rollup: &'static str,
    /// The rollup's count column.
    count: &'static str,
    /// The amount taken back (`reversed_cents`, `refunded_cents`), in both tables.
    back: &'static str,
}

const COMMISSION_DAYS: DailyRollup = DailyRollup {
    rows: "commissions",
    time: "created_at",
    rollup: "commission_rollup_days",
    count: "commissions",
    back: "reversed_cents",
};

const CONVERSION_DAYS: DailyRollup = DailyRollup {
    rows: "conversions",
    time: "occurred_at",
    rollup: "conversion_rollup_days",
    count: "conversions",
    back: "refunded_cents",
};

/// (program, day, status, currency) of the buckets where `r` and its rows disagree.
async fn bucket_mismatches<'e, E>(
    ex: E,
    vendor_id: &str,
    limit: i64,
    r: &DailyRollup,
) -> Result<Vec<(String, i64, String, String)>, sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    // Stored buckets are summed over their slots; one whose rows cancel out is no bucket.
    Sql::new("WITH raw AS (SELECT program_id, ")
        .push(r.time)
        .push(" / 86400000 AS day, status, currency, COUNT(*) AS n, CAST(SUM(amount_cents) AS BIGINT) AS a, CAST(SUM(")
        .push(r.back)
        .push(") AS BIGINT) AS b FROM ")
        .push(r.rows)
        .push(" WHERE vendor_id = ")
        .bind(vendor_id)
        .push(" GROUP BY program_id, ")
        .push(r.time)
        .push(" / 86400000, status, currency), kept AS (SELECT program_id, day, status, currency, CAST(SUM(")
        .push(r.count)
        .push(") AS BIGINT) AS n, CAST(SUM(amount_cents) AS BIGINT) AS a, CAST(SUM(")
        .push(r.back)
        .push(") AS BIGINT) AS b FROM ")
        .push(r.rollup)
        .push(" WHERE vendor_id = ")
        .bind(vendor_id)
        .push(" GROUP BY program_id, day, status, currency HAVING SUM(")
        .push(r.count)
        .push(") <> 0 OR SUM(amount_cents) <> 0 OR SUM(")
        .push(r.back)
        .push(
            ") <> 0) SELECT program_id, day, status, currency FROM \
             (SELECT * FROM raw EXCEPT SELECT * FROM kept) d \
             UNION SELECT program_id, day, status, currency FROM \
             (SELECT * FROM kept EXCEPT SELECT * FROM raw) s ORDER BY 2, 1, 3, 4 LIMIT ",
        )
        .bind(limit)
        .fetch_all(ex)
        .await
}

/// Buckets of one vendor where a money rollup and the rows disagree (a bucket missing on
/// either side or with any figure different), described; at most `limit` of each rollup.
pub async fn mismatches<'e, E>(
    ex: E,
    vendor_id: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let commissions = bucket_mismatches(ex, vendor_id, limit, &COMMISSION_DAYS).await?;
    let conversions = bucket_mismatches(ex, vendor_id, limit, &CONVERSION_DAYS).await?;
    let totals: Vec<(String, String, String)> = sqlx::query_as(
        "WITH raw AS (SELECT program_id, affiliate_id, currency, COUNT(*) AS n, \
           CAST(SUM(amount_cents - reversed_cents) AS BIGINT) AS e \
           FROM commissions WHERE vendor_id = $1 AND status <> 'rejected' \
           GROUP BY program_id, affiliate_id, currency), \
         kept AS (SELECT program_id, affiliate_id, currency, commissions AS n, earned_cents AS e \
           FROM commission_affiliate_totals WHERE vendor_id = $1 \
           AND (commissions <> 0 OR earned_cents <> 0)) \
         SELECT program_id, affiliate_id, currency FROM \
           (SELECT * FROM raw EXCEPT SELECT * FROM kept) d \
         UNION SELECT program_id, affiliate_id, currency FROM \
           (SELECT * FROM kept EXCEPT SELECT * FROM raw) s \
         ORDER BY 2, 1, 3 LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    let conversion_totals: Vec<(String, String)> = sqlx::query_as(
        "WITH raw AS (SELECT affiliate_id, currency, COUNT(*) AS n, \
           CAST(SUM(amount_cents - refunded_cents) AS BIGINT) AS e \
           FROM conversions WHERE vendor_id = $1 AND status <> 'rejected' \
           GROUP BY affiliate_id, currency), \
         kept AS (SELECT affiliate_id, currency, conversions AS n, net_cents AS e \
           FROM conversion_affiliate_totals WHERE vendor_id = $1 \
           AND (conversions <> 0 OR net_cents <> 0)) \
         SELECT affiliate_id, currency FROM (SELECT * FROM raw EXCEPT SELECT * FROM kept) d \
         UNION SELECT affiliate_id, currency FROM (SELECT * FROM kept EXCEPT SELECT * FROM raw) s \
         ORDER BY 1, 2 LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    let mut out: Vec<String> = commissions
        .into_iter()
        .map(|(p, d, s, c)| {
            format!("commission rollup of program {p}, day {d}, status {s}, currency {c}")
        })
        .collect();
    out.extend(conversions.into_iter().map(|(p, d, s, c)| {
        format!("conversion rollup of program {p}, day {d}, status {s}, currency {c}")
    }));
    out.extend(
        totals.into_iter().map(|(p, a, c)| {
            format!("all-time earnings of affiliate {a}, program {p}, currency {c}")
        }),
    );
    out.extend(
        conversion_totals
            .into_iter()
            .map(|(a, c)| format!("all-time conversions of affiliate {a}, currency {c}")),
    );
    Ok(out)
}

/// `<head> WHERE vendor_id = $1 [AND program_id = $n] AND day >= $n AND day < $n`.
fn days<'a>(head: &'static str, s: &Scope<'a>, first: i64, end: i64) -> Sql<'a> {
    Sql::new(head)
        .push(" WHERE vendor_id = ")
        .bind(s.vendor_id)
        .and("day >= ", first)
        .and("day < ", end)
        .and_eq("program_id", s.program_id)
}

/// The raw edges of a period: the same scope over `[from, to)`.
pub(super) fn edges(s: &Scope<'_>) -> (Split, Vec<(i64, i64)>) {
    let split = Split::of(s.from, s.to, DAY_MS);
    let edges = [split.head, split.tail].into_iter().flatten().collect();
    (split, edges)
}

/// Conversions per currency, rejected ones left out: (currency, count, gross, refunded),
/// by currency; the same figures as grouping the conversions of the period.
pub async fn revenue<'e, E>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let (split, edges) = edges(s);
    let mut rows: Vec<(String, i64, i64, i64)> = Vec::new();
    if split.first < split.end {
        rows.extend(
            days(
                "SELECT currency, CAST(SUM(conversions) AS BIGINT), \
                 CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(refunded_cents) AS BIGINT) \
                 FROM conversion_rollup_days",
                s,
                split.first,
                split.end,
            )
            .push(" AND status <> 'rejected' GROUP BY currency")
            .fetch_all::<_, (String, i64, i64, i64)>(ex)
            .await?,
        );
    }
    for (from, to) in edges {
        let edge = Scope { from, to, ..*s };
        rows.extend(super::analytics::revenue_raw(ex, &edge).await?);
    }
    let mut by: BTreeMap<String, [i64; 3]> = BTreeMap::new();
    for (currency, n, gross, refunded) in rows {
        let f = by.entry(currency).or_default();
        f[0] += n;
        f[1] += gross;
        f[2] += refunded;
    }
    Ok(by
        .into_iter()
        .filter(|(_, f)| f[0] != 0)
        .map(|(c, f)| (c, f[0], f[1], f[2]))
        .collect())
}

/// Revenue per UTC day and currency (the overview's chart), rejected conversions left out,
/// days without conversions absent, oldest first: whole days from the daily rollup, the
/// period's partial edge days from the rows; the same figures as
/// [`super::reports::revenue_per_day`] grouping the conversions of the period.
pub async fn revenue_per_day<'e, E>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<super::reports::DayRevenue>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    use super::reports::DayRevenue;
    let (split, edges) = edges(s);
    let mut rows: Vec<DayRevenue> = Vec::new();
    if split.first < split.end {
        rows.extend(
            days(
                "SELECT day, currency, CAST(SUM(conversions) AS BIGINT) AS conversions, \
                 CAST(SUM(amount_cents - refunded_cents) AS BIGINT) AS net_cents \
                 FROM conversion_rollup_days",
                s,
                split.first,
                split.end,
            )
            .push(" AND status <> 'rejected' GROUP BY day, currency")
            .fetch_all::<_, DayRevenue>(ex)
            .await?,
        );
    }
    for (from, to) in edges {
        rows.extend(
            super::reports::revenue_per_day(ex, s.vendor_id, s.program_id, from, to).await?,
        );
    }
    let mut by: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for r in rows {
        let f = by.entry((r.day, r.currency)).or_default();
        f.0 += r.conversions;
        f.1 += r.net_cents;
    }
    // A bucket whose conversions all moved to another status stays as a row of zeros.
    Ok(by
        .into_iter()
        .filter(|(_, f)| f.0 != 0)
        .map(|((day, currency), (conversions, net_cents))| DayRevenue {
            day,
            currency,
            conversions,
            net_cents,
        })
        .collect())
}

/// How many of a vendor's conversions are in `status` now, every day and currency: the
/// sum of the daily rollup's rows (a few per day) instead of an index range over the
/// conversions themselves (the overview's "conversions to approve" badge counted every
/// pending conversion on each view).
pub async fn conversions_in_status<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    status: &str,
) -> Result<i64, sqlx::Error> {
    Sql::new(
        "SELECT COALESCE(CAST(SUM(conversions) AS BIGINT), 0) FROM conversion_rollup_days \
         WHERE vendor_id = ",
    )
    .bind(vendor_id)
    .and("status = ", status)
    .fetch_count(ex)
    .await
}

/// Commissions per status and currency: (status, currency, count, amount, reversed), by
/// status and currency; the same figures as grouping the commissions of the period.
pub async fn commissions_by_status<'e, E>(
    ex: E,
    s: &Scope<'_>,
) -> Result<Vec<(String, String, i64, i64, i64)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let (split, edges) = edges(s);
    let mut rows: Vec<(String, String, i64, i64, i64)> = Vec::new();
    if split.first < split.end {
        rows.extend(
            days(
                "SELECT status, currency, CAST(SUM(commissions) AS BIGINT), \
                 CAST(SUM(amount_cents) AS BIGINT), CAST(SUM(reversed_cents) AS BIGINT) \
                 FROM commission_rollup_days",
                s,
                split.first,
                split.end,
            )
            .push(" GROUP BY status, currency")
            .fetch_all::<_, (String, String, i64, i64, i64)>(ex)
            .await?,
        );
    }
    for (from, to) in edges {
        let edge = Scope { from, to, ..*s };
        rows.extend(super::analytics::commissions_by_status_raw(ex, &edge).await?);
    }
    let mut by: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
    for (status, currency, n, amount, reversed) in rows {
        let f = by.entry((status, currency)).or_default();
        f[0] += n;
        f[1] += amount;
        f[2] += reversed;
    }
    Ok(by
        .into_iter()
        .filter(|(_, f)| f[0] != 0)
        .map(|((s, c), f)| (s, c, f[0], f[1], f[2]))
        .collect())
}

/// Below this many commissions in the period (by the day rollup, rounded out to whole
/// days), grouping them all is cheaper than the threshold search.
pub const LEADERBOARD_PLAIN_BELOW: i64 = 5_000;
/// All-time rows read per page of candidates.
const LEADERBOARD_PAGE: i64 = 200;
/// The search is tried only when the period holds at least one commission in this many of
/// all time (rounded out to whole days): with a smaller share the bound from all-time
/// earnings is loose and the search would read its whole budget of candidates, then group
/// the period anyway.
const LEADERBOARD_MIN_SHARE: i64 = 16;
/// Candidate rows read at most; a search that needs more groups the period instead.
const LEADERBOARD_CANDIDATES: i64 = 2_000;
/// Affiliates whose exact sums are looked up together after the first batch.
const LEADERBOARD_BATCH: usize = 50;

/// The `limit` affiliates (per currency) who earned most in the period — non-rejected
/// commissions, amount less reversed, ties by affiliate id then currency: exactly what
/// grouping the period's commissions gives ([`super::analytics::leaderboard_raw`]).
///
/// An affiliate's all-time earnings in a program bound what they earned there in any
/// period (and `programs ×` the largest of them bounds their vendor-wide sum), so
/// affiliates are taken in order of all-time earnings (an index range), their exact sums
/// looked up by index a batch at a time, until the last of the top `limit` earned more
/// than the next one could have. That ends quickly when the period holds most of the
/// all-time figures (a year of a young program); a period with few commissions, or a small
/// share of them, is grouped directly.
pub async fn leaderboard<'e, E>(
    ex: E,
    s: &Scope<'_>,
    limit: i64,
) -> Result<Vec<Leader>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    leaderboard_with(ex, s, limit, LEADERBOARD_PLAIN_BELOW).await
}

/// [`leaderboard`] grouping the period directly only below `plain_below` commissions or
/// below a sixteenth of the all-time ones (tests give 0 to exercise the search on small
/// data).
pub async fn leaderboard_with<'e, E>(
    ex: E,
    s: &Scope<'_>,
    limit: i64,
    plain_below: i64,
) -> Result<Vec<Leader>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    if limit <= 0 {
        return Ok(Vec::new());
    }
    if plain_below > 0 {
        let (first, end) = (
            s.from.div_euclid(DAY_MS),
            s.to.saturating_add(DAY_MS - 1).div_euclid(DAY_MS),
        );
        let (within, all): (Option<i64>, Option<i64>) =
            Sql::new("SELECT CAST(SUM(CASE WHEN day >= ")
                .bind(first)
                .push(" AND day < ")
                .bind(end)
                .push(
                    " THEN commissions ELSE 0 END) AS BIGINT), CAST(SUM(commissions) AS BIGINT) \
             FROM commission_rollup_days WHERE vendor_id = ",
                )
                .bind(s.vendor_id)
                .and_eq("program_id", s.program_id)
                .push(" AND status <> 'rejected'")
                .build_as()
                .fetch_one(ex)
                .await?;
        let (within, all) = (within.unwrap_or(0), all.unwrap_or(0));
        if within < plain_below || within.saturating_mul(LEADERBOARD_MIN_SHARE) < all {
            return super::analytics::leaderboard_raw(ex, s, limit).await;
        }
    }
    // Vendor-wide, an affiliate's sum over programs is at most `programs` times its
    // largest program row.
    let programs = match s.program_id {
        Some(_) => 1,
        None => Sql::new("SELECT COUNT(*) FROM programs WHERE vendor_id = ")
            .bind(s.vendor_id)
            .fetch_count(ex)
            .await?
            .max(1),
    };
    let limit_n = usize::try_from(limit).unwrap_or(usize::MAX);
    // All-time rows, largest first: (affiliate, currency, earned), read a page at a time.
    let mut rows: Vec<(String, String, i64)> = Vec::new();
    let mut complete = false;
    // (affiliate, currency) → (commissions, earned) in the period, for every affiliate asked.
    let mut exact: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    let mut next = 0;
    let best = loop {
        let want = if asked.is_empty() {
            limit_n.saturating_add(2)
        } else {
            LEADERBOARD_BATCH
        };
        let mut batch: Vec<String> = Vec::new();
        loop {
            while next < rows.len() && batch.len() < want {
                let a = &rows[next].0;
                if !asked.contains(a) && !batch.contains(a) {
                    batch.push(a.clone());
                }
                next += 1;
            }
            if batch.len() >= want || complete {
                break;
            }
            let read = rows.len() as i64;
            if read >= LEADERBOARD_CANDIDATES {
                break;
            }
            let page: Vec<(String, String, i64)> = Sql::new(
                "SELECT affiliate_id, currency, earned_cents FROM commission_affiliate_totals \
                 WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and_eq("program_id", s.program_id)
            .push(" AND commissions > 0 ORDER BY earned_cents DESC LIMIT ")
            .bind(LEADERBOARD_PAGE)
            .push(" OFFSET ")
            .bind(read)
            .fetch_all(ex)
            .await?;
            complete = (page.len() as i64) < LEADERBOARD_PAGE;
            rows.extend(page);
        }
        if !batch.is_empty() {
            let ids: Vec<&str> = batch.iter().map(String::as_str).collect();
            let found: Vec<(String, String, i64, i64)> = Sql::new(
                "SELECT affiliate_id, currency, COUNT(*), \
                 CAST(SUM(amount_cents - reversed_cents) AS BIGINT) \
                 FROM commissions WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and_in("affiliate_id", &ids)
            .and("created_at >= ", s.from)
            .and("created_at < ", s.to)
            .push(" AND status <> 'rejected'")
            .and_eq("program_id", s.program_id)
            .push(" GROUP BY affiliate_id, currency")
            .fetch_all(ex)
            .await?;
            for (a, c, n, e) in found {
                exact.insert((a, c), (n, e));
            }
            asked.extend(batch);
        }
        let mut best: Vec<((String, String), (i64, i64))> =
            exact.iter().map(|(k, v)| (k.clone(), *v)).collect();
        best.sort_by(|(ka, va), (kb, vb)| vb.1.cmp(&va.1).then_with(|| ka.cmp(kb)));
        best.truncate(limit_n);
        // The largest all-time row of an affiliate not looked up yet.
        let pending = rows[next.min(rows.len())..]
            .iter()
            .find(|(a, _, _)| !asked.contains(a))
            .map(|(_, _, earned)| earned.saturating_mul(programs));
        match pending {
            None if complete => break best,
            // More candidates than are read: group the period instead.
            None if rows.len() as i64 >= LEADERBOARD_CANDIDATES => {
                return super::analytics::leaderboard_raw(ex, s, limit).await;
            }
            // Strictly more: a candidate equal to the last could still win on its id.
            Some(bound) if best.len() == limit_n && best[limit_n - 1].1.1 > bound => break best,
            _ => {}
        }
    };
    if best.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = best.iter().map(|((a, _), _)| a.as_str()).collect();
    let names = super::reports::names_of(ex, s.vendor_id, &ids).await?;
    Ok(best
        .into_iter()
        .filter_map(|((affiliate_id, currency), (commissions, earned_cents))| {
            let (name, email) = names.get(&affiliate_id)?.clone();
            Some(Leader {
                affiliate_id,
                name,
                email,
                currency,
                commissions,
                earned_cents,
            })
        })
        .collect())
}

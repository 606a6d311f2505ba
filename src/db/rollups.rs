//! Click rollups: counts per (program, UTC hour) and per (affiliate, program, UTC day), and
//! each affiliate's all-time counted clicks (migration 0040), kept in step with the click
//! log by the click insert ([`add_clicks`], same transaction), rebuilt from the log by
//! [`rebuild`] and compared with it by [`mismatches`].
//!
//! A period that does not start and end on bucket boundaries is answered from whole
//! buckets plus the raw clicks of its partial edges (see [`Split`]), so the figures are
//! the same as counting the log.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::clicks::ClickRow;
use super::sql::Sql;

/// Milliseconds in an hour bucket.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day bucket.
pub const DAY_MS: i64 = 86_400_000;

/// Counts of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct Counts {
    /// Every recorded click.
    pub recorded: i64,
    /// Counted clicks (neither bot nor repeat).
    pub clicks: i64,
    /// Bot clicks.
    pub bots: i64,
    /// Repeats (not bots) within 30 s.
    pub duplicates: i64,
}

impl Counts {
    fn add(&mut self, c: &ClickRow) {
        self.recorded += 1;
        if c.is_bot != 0 {
            self.bots += 1;
        } else if c.is_duplicate != 0 {
            self.duplicates += 1;
        } else {
            self.clicks += 1;
        }
    }
}

/// Adds freshly inserted clicks to both rollups. Call it in the transaction that inserted
/// them, with only the rows that were actually inserted (a retried batch skips the ids it
/// stored before).
pub async fn add_clicks(conn: &mut AnyConnection, rows: &[&ClickRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut hours: BTreeMap<(&str, &str, i64), Counts> = BTreeMap::new();
    let mut days: BTreeMap<(&str, &str, &str, i64), Counts> = BTreeMap::new();
    for r in rows {
        hours
            .entry((
                &r.vendor_id,
                &r.program_id,
                r.created_at.div_euclid(HOUR_MS),
            ))
            .or_default()
            .add(r);
        days.entry((
            &r.vendor_id,
            &r.affiliate_id,
            &r.program_id,
            r.created_at.div_euclid(DAY_MS),
        ))
        .or_default()
        .add(r);
    }
    // Bounded statements: 7-8 values per bucket, far below both parameter limits.
    let hours: Vec<_> = hours.into_iter().collect();
    for chunk in hours.chunks(500) {
        let mut q = Sql::new(
            "INSERT INTO click_rollup_hours (vendor_id, program_id, hour, recorded, clicks, \
             bots, duplicates) VALUES ",
        );
        for (i, ((vendor, program, hour), c)) in chunk.iter().enumerate() {
            if i > 0 {
                q = q.push(", ");
            }
            q = q
                .push("(")
                .bind(*vendor)
                .push(", ")
                .bind(*program)
                .push(", ")
                .bind(*hour)
                .push(", ")
                .bind(c.recorded)
                .push(", ")
                .bind(c.clicks)
                .push(", ")
                .bind(c.bots)
                .push(", ")
                .bind(c.duplicates)
                .push(")");
        }
        q.push(
            " ON CONFLICT (vendor_id, hour, program_id) DO UPDATE SET \
             recorded = click_rollup_hours.recorded + excluded.recorded, \
             clicks = click_rollup_hours.clicks + excluded.clicks, \
             bots = click_rollup_hours.bots + excluded.bots, \
             duplicates = click_rollup_hours.duplicates + excluded.duplicates",
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    let mut totals: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for ((vendor, affiliate, _, _), c) in &days {
        *totals.entry((vendor, affiliate)).or_default() += c.clicks;
    }
    let days: Vec<_> = days.into_iter().collect();
    for chunk in days.chunks(500) {
        let mut q = Sql::new(
            "INSERT INTO click_rollup_affiliate_days (vendor_id, affiliate_id, program_id, day, \
             recorded, clicks, bots, duplicates) VALUES ",
        );
        for (i, ((vendor, affiliate, program, day), c)) in chunk.iter().enumerate() {
            if i > 0 {
                q = q.push(", ");
            }
            q = q
                .push("(")
                .bind(*vendor)
                .push(", ")
                .bind(*affiliate)
                .push(", ")
                .bind(*program)
                .push(", ")
                .bind(*day)
                .push(", ")
                .bind(c.recorded)
                .push(", ")
                .bind(c.clicks)
                .push(", ")
                .bind(c.bots)
                .push(", ")
                .bind(c.duplicates)
                .push(")");
        }
        q.push(
            " ON CONFLICT (vendor_id, affiliate_id, day, program_id) DO UPDATE SET \
             recorded = click_rollup_affiliate_days.recorded + excluded.recorded, \
             clicks = click_rollup_affiliate_days.clicks + excluded.clicks, \
             bots = click_rollup_affiliate_days.bots + excluded.bots, \
             duplicates = click_rollup_affiliate_days.duplicates + excluded.duplicates",
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    // All-time counted clicks per affiliate (the per-affiliate report's bound); a batch of
    // bots and repeats only adds nothing.
    let totals: Vec<_> = totals.into_iter().filter(|(_, n)| *n != 0).collect();
    for chunk in totals.chunks(500) {
        let mut q = Sql::new(
            "INSERT INTO affiliate_click_totals (vendor_id, affiliate_id, clicks) VALUES ",
        );
        for (i, ((vendor, affiliate), n)) in chunk.iter().enumerate() {
            q = q
                .push(if i == 0 { "(" } else { ", (" })
                .bind(*vendor)
                .push(", ")
                .bind(*affiliate)
                .push(", ")
                .bind(*n)
                .push(")");
        }
        q.push(
            " ON CONFLICT (vendor_id, affiliate_id) DO UPDATE SET \
             clicks = affiliate_click_totals.clicks + excluded.clicks",
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The counting expressions shared by the rebuild, the check and the raw edges.
macro_rules! counts {
    () => {
        "COUNT(*) AS recorded, \
         CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate = 0 THEN 1 ELSE 0 END) AS BIGINT) AS clicks, \
         CAST(SUM(CASE WHEN is_bot <> 0 THEN 1 ELSE 0 END) AS BIGINT) AS bots, \
         CAST(SUM(CASE WHEN is_bot = 0 AND is_duplicate <> 0 THEN 1 ELSE 0 END) AS BIGINT) AS duplicates"
    };
}

/// The first instant of a vendor's click log still kept (0 when nothing was pruned); the
/// rollup buckets before it hold the counts of deleted clicks (see `db::retention`).
macro_rules! horizon {
    () => {
        "COALESCE((SELECT pruned_before FROM click_horizons WHERE vendor_id = $1), 0)"
    };
}

/// Recomputes one vendor's rollups from its click log (run it in a transaction). Buckets
/// before the vendor's click horizon are left alone: their clicks were pruned and the
/// rollups are all that remains of them.
pub async fn rebuild(conn: &mut AnyConnection, vendor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "DELETE FROM click_rollup_hours WHERE vendor_id = $1 AND hour >= ",
        horizon!(),
        " / 3600000"
    ))
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(concat!(
        "DELETE FROM click_rollup_affiliate_days WHERE vendor_id = $1 AND day >= ",
        horizon!(),
        " / 86400000"
    ))
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(concat!(
        "INSERT INTO click_rollup_hours (vendor_id, program_id, hour, recorded, clicks, bots, \
         duplicates) SELECT vendor_id, program_id, created_at / 3600000, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY vendor_id, program_id, created_at / 3600000"
    ))
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(concat!(
        "INSERT INTO click_rollup_affiliate_days (vendor_id, affiliate_id, program_id, day, \
         recorded, clicks, bots, duplicates) SELECT vendor_id, affiliate_id, program_id, \
         created_at / 86400000, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY vendor_id, affiliate_id, program_id, created_at / 86400000"
    ))
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    rebuild_totals(conn, vendor_id).await
}

/// Recomputes one vendor's all-time clicks per affiliate from its daily rollup (which
/// still holds the buckets of pruned clicks). [`rebuild`] ends with it; an import, which
/// brings the rollup along, calls it alone.
pub async fn rebuild_totals(conn: &mut AnyConnection, vendor_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM affiliate_click_totals WHERE vendor_id = $1")
        .bind(vendor_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO affiliate_click_totals (vendor_id, affiliate_id, clicks) \
         SELECT vendor_id, affiliate_id, CAST(SUM(clicks) AS BIGINT) \
         FROM click_rollup_affiliate_days WHERE vendor_id = $1 \
         GROUP BY vendor_id, affiliate_id",
    )
    .bind(vendor_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Buckets of one vendor where a rollup and the click log disagree, as
/// (`hours`, `affiliate_days` or `affiliate_totals`, bucket key); at most `limit` of each
/// kind. The totals are compared with the daily rollup, which they sum.
pub async fn mismatches<'e, E>(
    ex: E,
    vendor_id: &str,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    // Symmetric difference of (recomputed) and (stored): a bucket missing on either side or
    // with any count different appears. Only from the click horizon on: earlier buckets
    // stand for pruned clicks.
    let hours: Vec<(String, i64)> = sqlx::query_as(concat!(
        "SELECT program_id, hour FROM ( \
           SELECT program_id, created_at / 3600000 AS hour, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY program_id, created_at / 3600000 \
           EXCEPT SELECT program_id, hour, recorded, clicks, bots, duplicates \
           FROM click_rollup_hours WHERE vendor_id = $1 AND hour >= ",
        horizon!(),
        " / 3600000) d \
         UNION SELECT program_id, hour FROM ( \
           SELECT program_id, hour, recorded, clicks, bots, duplicates \
           FROM click_rollup_hours WHERE vendor_id = $1 AND hour >= ",
        horizon!(),
        " / 3600000 \
           EXCEPT SELECT program_id, created_at / 3600000, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY program_id, created_at / 3600000) s \
         ORDER BY 2, 1 LIMIT $2"
    ))
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    let days: Vec<(String, String, i64)> = sqlx::query_as(concat!(
        "SELECT affiliate_id, program_id, day FROM ( \
           SELECT affiliate_id, program_id, created_at / 86400000 AS day, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY affiliate_id, program_id, created_at / 86400000 \
           EXCEPT SELECT affiliate_id, program_id, day, recorded, clicks, bots, duplicates \
           FROM click_rollup_affiliate_days WHERE vendor_id = $1 AND day >= ",
        horizon!(),
        " / 86400000) d \
         UNION SELECT affiliate_id, program_id, day FROM ( \
           SELECT affiliate_id, program_id, day, recorded, clicks, bots, duplicates \
           FROM click_rollup_affiliate_days WHERE vendor_id = $1 AND day >= ",
        horizon!(),
        " / 86400000 \
           EXCEPT SELECT affiliate_id, program_id, created_at / 86400000, ",
        counts!(),
        " FROM clicks WHERE vendor_id = $1 AND created_at >= ",
        horizon!(),
        " GROUP BY affiliate_id, program_id, created_at / 86400000) s \
         ORDER BY 3, 1, 2 LIMIT $2"
    ))
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    // The all-time totals against the whole daily rollup (pruned buckets included).
    let totals: Vec<(String,)> = sqlx::query_as(
        "WITH raw AS (SELECT affiliate_id, CAST(SUM(clicks) AS BIGINT) AS n \
           FROM click_rollup_affiliate_days WHERE vendor_id = $1 GROUP BY affiliate_id \
           HAVING SUM(clicks) <> 0), \
         kept AS (SELECT affiliate_id, clicks AS n FROM affiliate_click_totals \
           WHERE vendor_id = $1 AND clicks <> 0) \
         SELECT affiliate_id FROM (SELECT * FROM raw EXCEPT SELECT * FROM kept) d \
         UNION SELECT affiliate_id FROM (SELECT * FROM kept EXCEPT SELECT * FROM raw) s \
         ORDER BY 1 LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    let mut out: Vec<(String, String)> = hours
        .into_iter()
        .map(|(p, h)| ("hours".to_owned(), format!("program {p}, hour {h}")))
        .collect();
    out.extend(days.into_iter().map(|(a, p, d)| {
        (
            "affiliate_days".to_owned(),
            format!("affiliate {a}, program {p}, day {d}"),
        )
    }));
    out.extend(totals.into_iter().map(|(a,)| {
        (
            "affiliate_totals".to_owned(),
            format!("affiliate {a}'s all-time clicks (the sum of its days)"),
        )
    }));
    Ok(out)
}

/// A period `[from, to)` cut at bucket boundaries: whole buckets `[first, end)` (bucket
/// numbers) answered by a rollup, and the raw edges before and after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// First whole bucket.
    pub first: i64,
    /// One past the last whole bucket (`first == end`: none).
    pub end: i64,
    /// Raw part before the buckets, `[from, first * size)`, if any.
    pub head: Option<(i64, i64)>,
    /// Raw part after the buckets, `[end * size, to)`, if any.
    pub tail: Option<(i64, i64)>,
}

impl Split {
    /// Cuts `[from, to)` into buckets of `size` ms.
    pub fn of(from: i64, to: i64, size: i64) -> Self {
        let first = from.div_euclid(size) + i64::from(from.rem_euclid(size) != 0);
        let end = to.div_euclid(size);
        if first >= end {
            return Self {
                first: 0,
                end: 0,
                head: (from < to).then_some((from, to)),
                tail: None,
            };
        }
        Self {
            first,
            end,
            head: (from < first * size).then_some((from, first * size)),
            tail: (end * size < to).then_some((end * size, to)),
        }
    }
}

/// What a rollup read covers.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Tenant.
    pub vendor_id: &'a str,
    /// Only this affiliate (reads the per-affiliate rollup).
    pub affiliate_id: Option<&'a str>,
    /// Only this program.
    pub program_id: Option<&'a str>,
    /// Inclusive start, unix ms.
    pub from: i64,
    /// Exclusive end, unix ms.
    pub to: i64,
}

/// Counts per UTC day of a period (days since 1970-01-01, oldest first, days without
/// clicks absent), from the rollups and the raw edges of the period.
pub async fn per_day<'e, E>(ex: E, s: &Scope<'_>) -> Result<Vec<(i64, Counts)>, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    #[derive(FromRow)]
    struct Row {
        day: i64,
        recorded: i64,
        clicks: i64,
        bots: i64,
        duplicates: i64,
    }
    let size = if s.affiliate_id.is_some() {
        DAY_MS
    } else {
        HOUR_MS
    };
    let split = Split::of(s.from, s.to, size);
    let mut rows: Vec<Row> = Vec::new();
    if split.first < split.end {
        let q = match s.affiliate_id {
            Some(a) => Sql::new(
                "SELECT day, CAST(SUM(recorded) AS BIGINT) AS recorded, \
                 CAST(SUM(clicks) AS BIGINT) AS clicks, CAST(SUM(bots) AS BIGINT) AS bots, \
                 CAST(SUM(duplicates) AS BIGINT) AS duplicates \
                 FROM click_rollup_affiliate_days WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and("affiliate_id = ", a)
            .and("day >= ", split.first)
            .and("day < ", split.end)
            .and_eq("program_id", s.program_id)
            .push(" GROUP BY day"),
            None => Sql::new(
                "SELECT hour / 24 AS day, CAST(SUM(recorded) AS BIGINT) AS recorded, \
                 CAST(SUM(clicks) AS BIGINT) AS clicks, CAST(SUM(bots) AS BIGINT) AS bots, \
                 CAST(SUM(duplicates) AS BIGINT) AS duplicates \
                 FROM click_rollup_hours WHERE vendor_id = ",
            )
            .bind(s.vendor_id)
            .and("hour >= ", split.first)
            .and("hour < ", split.end)
            .and_eq("program_id", s.program_id)
            .push(" GROUP BY hour / 24"),
        };
        rows.extend(q.fetch_all::<_, Row>(ex).await?);
    }
    for (from, to) in [split.head, split.tail].into_iter().flatten() {
        let q = Sql::new(concat!(
            "SELECT created_at / 86400000 AS day, ",
            counts!(),
            " FROM clicks WHERE vendor_id = "
        ))
        .bind(s.vendor_id)
        .and_eq("affiliate_id", s.affiliate_id)
        .and_eq("program_id", s.program_id)
        .and("created_at >= ", from)
        .and("created_at < ", to)
        .push(" GROUP BY created_at / 86400000");
        rows.extend(q.fetch_all::<_, Row>(ex).await?);
    }
    let mut by_day: BTreeMap<i64, Counts> = BTreeMap::new();
    for r in rows {
        let c = by_day.entry(r.day).or_default();
        c.recorded += r.recorded;
        c.clicks += r.clicks;
        c.bots += r.bots;
        c.duplicates += r.duplicates;
    }
    Ok(by_day.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_split_at_bucket_boundaries() {
        let h = HOUR_MS;
        // Aligned both ends: buckets only.
        assert_eq!(
            Split::of(2 * h, 5 * h, h),
            Split {
                first: 2,
                end: 5,
                head: None,
                tail: None
            }
        );
        // Ragged both ends.
        assert_eq!(
            Split::of(2 * h + 1, 5 * h + 7, h),
            Split {
                first: 3,
                end: 5,
                head: Some((2 * h + 1, 3 * h)),
                tail: Some((5 * h, 5 * h + 7))
            }
        );
        // Inside one bucket: raw only.
        assert_eq!(
            Split::of(2 * h + 1, 2 * h + 9, h),
            Split {
                first: 0,
                end: 0,
                head: Some((2 * h + 1, 2 * h + 9)),
                tail: None
            }
        );
    }
}

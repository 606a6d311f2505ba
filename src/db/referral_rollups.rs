//! Referral rollups (`migrations/0039_referral_rollups.sql`): referred customers counted
//! per (program, UTC day of `created_at`). Kept in step by [`added`] in the transaction of
//! every new binding, rebuilt from the rows by [`rebuild`] and compared with them by
//! [`mismatches`]. A period is answered from whole days of the rollup plus the raw rows of
//! its partial edge days, so [`count`] equals counting the rows themselves.

use sqlx::{Any, AnyConnection, Executor};

use super::analytics::Scope;
use super::rollups::DAY_MS;
use super::sql::Sql;

/// Counts one new referral of `program_id` created at `created_at` (unix ms), in the
/// caller's slot. Call it in the transaction of the insert, only when a row was inserted.
/// Inside an ingest batch the count is added to the batch's (`db::deferred`).
pub async fn added(
    conn: &mut AnyConnection,
    vendor_id: &str,
    program_id: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    let day = created_at.div_euclid(DAY_MS);
    let deferred = super::deferred::add(|p| {
        *p.referral_days
            .entry((vendor_id.to_owned(), program_id.to_owned(), day))
            .or_default() += 1;
    });
    if deferred {
        return Ok(());
    }
    add(conn, vendor_id, program_id, day, 1).await
}

/// Adds `n` referrals to one day of the rollup, in the caller's slot.
pub(super) async fn add(
    conn: &mut AnyConnection,
    vendor_id: &str,
    program_id: &str,
    day: i64,
    n: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO referral_rollup_days (vendor_id, program_id, day, slot, referrals) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vendor_id, day, program_id, slot) \
         DO UPDATE SET referrals = referral_rollup_days.referrals + excluded.referrals",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(day)
    .bind(super::ledger::count_slot())
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}

/// Referred customers bound in the scope's period: whole days from the rollup, the
/// partial edge days from the rows.
pub async fn count<'e, E>(ex: E, s: &Scope<'_>) -> Result<i64, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let (split, edges) = super::money_rollups::edges(s);
    let mut n = 0;
    if split.first < split.end {
        n += Sql::new(
            "SELECT COALESCE(CAST(SUM(referrals) AS BIGINT), 0) FROM referral_rollup_days \
             WHERE vendor_id = ",
        )
        .bind(s.vendor_id)
        .and("day >= ", split.first)
        .and("day < ", split.end)
        .and_eq("program_id", s.program_id)
        .fetch_count(ex)
        .await?;
    }
    for (from, to) in edges {
        n += super::analytics::referrals_raw(ex, &Scope { from, to, ..*s }).await?;
    }
    Ok(n)
}

/// Recomputes one vendor's referral rollup from its referrals (in a transaction: after a
/// bulk load, an import, or by `affilia rollups rebuild`).
pub async fn rebuild(conn: &mut AnyConnection, vendor_id: &str) -> Result<(), sqlx::Error> {
    for statement in [
        "DELETE FROM referral_rollup_days WHERE vendor_id = $1",
        "INSERT INTO referral_rollup_days (vendor_id, program_id, day, slot, referrals) \
         SELECT vendor_id, program_id, created_at / 86400000, 0, COUNT(*) FROM referrals \
         WHERE vendor_id = $1 GROUP BY vendor_id, program_id, created_at / 86400000",
    ] {
        sqlx::query(statement)
            .bind(vendor_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The (program, day) buckets of one vendor where the rollup and the rows disagree,
/// described; at most `limit`.
pub async fn mismatches<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    // Stored days are summed over their slots; a day of zero is no day.
    let found: Vec<(String, i64)> = sqlx::query_as(
        "WITH raw AS (SELECT program_id, created_at / 86400000 AS day, COUNT(*) AS n \
           FROM referrals WHERE vendor_id = $1 GROUP BY program_id, created_at / 86400000), \
         kept AS (SELECT program_id, day, CAST(SUM(referrals) AS BIGINT) AS n \
           FROM referral_rollup_days WHERE vendor_id = $1 GROUP BY program_id, day \
           HAVING SUM(referrals) <> 0) \
         SELECT program_id, day FROM (SELECT * FROM raw EXCEPT SELECT * FROM kept) d \
         UNION SELECT program_id, day FROM (SELECT * FROM kept EXCEPT SELECT * FROM raw) s \
         ORDER BY 2, 1 LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(found
        .into_iter()
        .map(|(p, d)| format!("referral rollup of program {p}, day {d}"))
        .collect())
}

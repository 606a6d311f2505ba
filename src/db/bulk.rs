//! Bulk loading for the dataset loader (`affilia admin load-dataset`): generated rows
//! written with multi-row INSERTs, the statistics refresh after a load, and the few reads
//! the loader needs.
//!
//! Only the table and column names below (constants) and placeholders are ever put into
//! SQL text; every value is bound.

use sqlx::{Any, AssertSqlSafe, Executor};

use super::{Conn, DbKind};

/// One bound value of a generated row. NULLs are typed: PostgreSQL refuses a text NULL in a
/// BIGINT column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// TEXT.
    Text(String),
    /// A `'static` TEXT constant (statuses, account names, ...), not copied per row.
    Str(&'static str),
    /// BIGINT / INTEGER.
    Int(i64),
    /// A NULL TEXT.
    NullText,
    /// A NULL BIGINT.
    NullInt,
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}

impl From<&'static str> for Val {
    fn from(s: &'static str) -> Self {
        Val::Str(s)
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        s.map_or(Val::NullText, Val::Text)
    }
}

impl From<Option<i64>> for Val {
    fn from(i: Option<i64>) -> Self {
        i.map_or(Val::NullInt, Val::Int)
    }
}

/// A table the loader writes, with the columns it fills (in bind order).
#[derive(Debug)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// Column names, in the order of each row's values.
    pub columns: &'static [&'static str],
}

/// `affiliates`.
pub const AFFILIATES: Table = Table {
    name: "affiliates",
    columns: &[
        "id",
        "vendor_id",
        "email",
        "name",
        "first_name",
        "last_name",
        "company",
        "website",
        "status",
        "payout_method",
        "payout_email",
        "metadata",
        "activated_at",
        "created_at",
        "updated_at",
    ],
};

/// `enrollments`.
pub const ENROLLMENTS: Table = Table {
    name: "enrollments",
    columns: &[
        "id",
        "vendor_id",
        "affiliate_id",
        "program_id",
        "code",
        "status",
        "terms_version",
        "created_at",
        "updated_at",
        "group_id",
    ],
};

/// `links`.
pub const LINKS: Table = Table {
    name: "links",
    columns: &[
        "id",
        "vendor_id",
        "enrollment_id",
        "affiliate_id",
        "program_id",
        "slug",
        "name",
        "destination_url",
        "sub_id",
        "created_at",
        "updated_at",
    ],
};

/// `applications`.
pub const APPLICATIONS: Table = Table {
    name: "applications",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "email",
        "name",
        "company",
        "website",
        "reason",
        "status",
        "rejection_reason",
        "source",
        "reviewed_at",
        "created_at",
        "updated_at",
    ],
};

/// `deals`.
pub const DEALS: Table = Table {
    name: "deals",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "enrollment_id",
        "affiliate_id",
        "lead_email",
        "lead_name",
        "company",
        "notes",
        "status",
        "rejection_reason",
        "reviewed_at",
        "created_at",
        "updated_at",
    ],
};

/// `clicks`.
pub const CLICKS: Table = Table {
    name: "clicks",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "enrollment_id",
        "affiliate_id",
        "link_id",
        "code",
        "landing_url",
        "referrer",
        "user_agent",
        "ip_hash",
        "is_bot",
        "is_duplicate",
        "source",
        "created_at",
    ],
};

/// `referrals`.
pub const REFERRALS: Table = Table {
    name: "referrals",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "enrollment_id",
        "affiliate_id",
        "customer_id",
        "email",
        "click_id",
        "code",
        "source",
        "touched_at",
        "created_at",
        "updated_at",
    ],
};

/// `conversions`.
pub const CONVERSIONS: Table = Table {
    name: "conversions",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "enrollment_id",
        "affiliate_id",
        "referral_id",
        "customer_id",
        "source",
        "trigger_type",
        "invoice_id",
        "payment_intent_id",
        "charge_id",
        "subscription_id",
        "amount_cents",
        "refunded_cents",
        "currency",
        "status",
        "reason",
        "occurred_at",
        "available_at",
        "decided_at",
        "created_at",
        "updated_at",
    ],
};

/// `conversion_refunds`.
pub const CONVERSION_REFUNDS: Table = Table {
    name: "conversion_refunds",
    columns: &[
        "id",
        "vendor_id",
        "conversion_id",
        "refund_key",
        "cumulative",
        "amount_cents",
        "created_at",
        "updated_at",
    ],
};

/// `commissions`.
pub const COMMISSIONS: Table = Table {
    name: "commissions",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "conversion_id",
        "affiliate_id",
        "level",
        "currency",
        "amount_cents",
        "reversed_cents",
        "bps",
        "rule",
        "status",
        "available_at",
        "created_at",
        "updated_at",
    ],
};

/// `payout_claims`.
pub const PAYOUT_CLAIMS: Table = Table {
    name: "payout_claims",
    columns: &["commission_id", "vendor_id", "payout_id"],
};

/// `payout_runs`.
pub const PAYOUT_RUNS: Table = Table {
    name: "payout_runs",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "trigger_source",
        "payouts",
        "created_by",
        "created_at",
    ],
};

/// `payouts`.
pub const PAYOUTS: Table = Table {
    name: "payouts",
    columns: &[
        "id",
        "vendor_id",
        "program_id",
        "run_id",
        "affiliate_id",
        "currency",
        "amount_cents",
        "commissions_cents",
        "fee_bps",
        "fee_cents",
        "net_cents",
        "method",
        "destination",
        "status",
        "reference",
        "failure_reason",
        "created_at",
        "processing_at",
        "paid_at",
        "failed_at",
        "updated_at",
    ],
};

/// `ledger_entries`.
pub const LEDGER_ENTRIES: Table = Table {
    name: "ledger_entries",
    columns: &[
        "id",
        "vendor_id",
        "txn_id",
        "kind",
        "account",
        "affiliate_id",
        "currency",
        "amount_cents",
        "program_id",
        "conversion_id",
        "commission_id",
        "payout_id",
        "memo",
        "created_at",
    ],
};

/// Bound parameters per statement at most: below SQLite's 32766 and PostgreSQL's 65535,
/// and large enough that the per-statement round trip is negligible.
const MAX_PARAMS: usize = 12_000;
/// Rows per statement at most.
const MAX_ROWS: usize = 1_000;

/// Rows of `table` per INSERT statement. Every full chunk has the same SQL text, so each
/// connection prepares it once and reuses it from sqlx's statement cache.
pub fn rows_per_statement(table: &Table) -> usize {
    (MAX_PARAMS / table.columns.len()).clamp(1, MAX_ROWS)
}

/// The INSERT text for `rows` rows of `table`. SQLite gets anonymous `?` placeholders
/// (positional binding; sqlx-sqlite resolves `$n` names one by one, quadratic in the
/// number of parameters), PostgreSQL `$n`.
fn insert_sql(kind: DbKind, table: &Table, rows: usize) -> String {
    let cols = table.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        table.name,
        table.columns.join(", ")
    );
    sql.reserve(rows * cols * 7);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            match kind {
                DbKind::Sqlite => sql.push('?'),
                DbKind::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Inserts rows of `table`, given as one flat list of values (`columns.len()` per row),
/// in as few statements as the parameter limits allow; returns the rows written.
pub async fn insert(
    conn: &mut Conn,
    kind: DbKind,
    table: &Table,
    values: &[Val],
) -> Result<u64, sqlx::Error> {
    let cols = table.columns.len();
    if !values.len().is_multiple_of(cols) {
        return Err(sqlx::Error::Protocol(format!(
            "{} values for {} rows of {cols} columns",
            values.len(),
            table.name
        )));
    }
    let per = rows_per_statement(table);
    let mut written = 0;
    for chunk in values.chunks(per * cols) {
        let sql = insert_sql(kind, table, chunk.len() / cols);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in chunk {
            q = match v {
                Val::Text(s) => q.bind(s.as_str()),
                Val::Str(s) => q.bind(*s),
                Val::Int(i) => q.bind(*i),
                Val::NullText => q.bind(None::<&str>),
                Val::NullInt => q.bind(None::<i64>),
            };
        }
        written += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(written)
}

/// Makes one connection fast for a bulk load. SQLite: a 512 MiB page cache (the indexes of
/// a 10M-row table stay in memory while rows arrive in another order) and no fsync per
/// commit (a crash mid-load leaves a consistent database with part of the data; reload it).
/// PostgreSQL: no wait for the WAL flush at each commit.
pub async fn tune_for_load(conn: &mut Conn, kind: DbKind) -> Result<(), sqlx::Error> {
    let sql = match kind {
        DbKind::Sqlite => "PRAGMA cache_size = -524288; PRAGMA synchronous = OFF;",
        DbKind::Postgres => "SET synchronous_commit = off",
    };
    conn.execute(sql).await?;
    Ok(())
}

/// Undoes [`tune_for_load`] (the connection goes back to the pool).
pub async fn untune(conn: &mut Conn, kind: DbKind) -> Result<(), sqlx::Error> {
    let sql = match kind {
        // Back to the pool's settings (`Db::connect`).
        DbKind::Sqlite => concat!(
            "PRAGMA cache_size = ",
            sqlite_cache_size!(),
            "; PRAGMA synchronous = NORMAL;"
        ),
        DbKind::Postgres => "SET synchronous_commit = on",
    };
    conn.execute(sql).await?;
    Ok(())
}

/// Refreshes the planner's statistics after a bulk load. SQLite never gathers them by
/// itself; `analysis_limit` keeps ANALYZE to a sample of each index so it takes seconds on
/// a 10M-row table. PostgreSQL's autovacuum would get there eventually; do it now, with
/// `VACUUM`: until a table is vacuumed its visibility map is empty and every "index-only"
/// read (the covering indexes the lists and analytics rely on) also fetches each row from
/// the heap (a year's analytics at 100k conversions: 30–50 ms before, 25–35 ms after).
/// Call it outside a transaction (`VACUUM` refuses to run in one).
pub async fn analyze(conn: &mut Conn, kind: DbKind) -> Result<(), sqlx::Error> {
    let sql = match kind {
        DbKind::Sqlite => "PRAGMA analysis_limit = 2000; ANALYZE; PRAGMA optimize;",
        DbKind::Postgres => "VACUUM (ANALYZE)",
    };
    conn.execute(sql).await?;
    Ok(())
}

/// Whether a vendor has any affiliate yet (the loader only fills an empty vendor).
pub async fn vendor_has_affiliates<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM affiliates WHERE vendor_id = $1 LIMIT 1")
            .bind(vendor_id)
            .fetch_optional(ex)
            .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_engine() {
        let t = Table {
            name: "t",
            columns: &["a", "b"],
        };
        assert_eq!(
            insert_sql(DbKind::Sqlite, &t, 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            insert_sql(DbKind::Postgres, &t, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn statements_stay_below_both_parameter_limits() {
        for t in [
            &AFFILIATES,
            &ENROLLMENTS,
            &CLICKS,
            &CONVERSIONS,
            &COMMISSIONS,
            &LEDGER_ENTRIES,
            &PAYOUTS,
        ] {
            assert!(
                rows_per_statement(t) * t.columns.len() <= 32_766,
                "{}",
                t.name
            );
        }
    }
}

//! Generic row access for the vendor export and import (`crate::portability`): which
//! tables carry a `vendor_id`, their columns as the live schema has them, and reading or
//! writing whole rows as JSON values.
//!
//! The SQL text here is built from table names out of the fixed lists in
//! `crate::portability` and column names read from the database's own catalogue, both
//! checked to be plain identifiers ([`ident`]); every value is a bound placeholder. That
//! is what makes the `AssertSqlSafe` below sound.

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::DbKind;

/// The storage class of a column (the only types the portable migrations use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// BIGINT / INTEGER.
    Int,
    /// DOUBLE PRECISION.
    Float,
    /// TEXT (and anything else, read as text).
    Text,
}

/// A column of a live table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its storage class.
    pub kind: ColKind,
}

/// Makes the open transaction read one snapshot of every table (PostgreSQL: repeatable
/// read; SQLite's read transaction already does), so an export is consistent while the
/// server writes.
pub async fn snapshot(conn: &mut AnyConnection, kind: DbKind) -> Result<(), sqlx::Error> {
    if kind == DbKind::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Refuses anything but a lower-case SQL identifier, so a name can go into SQL text.
pub fn ident(name: &str) -> Result<&str, sqlx::Error> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(name)
    } else {
        Err(sqlx::Error::Protocol(format!(
            "not a plain identifier: {name:?}"
        )))
    }
}

fn kind_of(declared: &str) -> ColKind {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        ColKind::Int
    } else if t.contains("DOUBLE") || t.contains("REAL") || t.contains("FLOAT") {
        ColKind::Float
    } else {
        ColKind::Text
    }
}

/// Every table of the live schema with a `vendor_id` column, sorted.
pub async fn vendor_tables(
    conn: &mut AnyConnection,
    kind: DbKind,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = match kind {
        DbKind::Sqlite => {
            "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'vendor_id' ORDER BY m.name"
        }
        DbKind::Postgres => {
            "SELECT c.table_name::text FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema \
             AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' \
             WHERE c.table_schema = current_schema() AND c.column_name = 'vendor_id' \
             ORDER BY 1"
        }
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The columns of `table` in the live schema, in their declared order (empty: no such
/// table).
pub async fn columns(
    conn: &mut AnyConnection,
    kind: DbKind,
    table: &str,
) -> Result<Vec<Column>, sqlx::Error> {
    let sql = match kind {
        DbKind::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        DbKind::Postgres => {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, declared)| Column {
            name,
            kind: kind_of(&declared),
        })
        .collect())
}

fn column_list(cols: &[Column]) -> Result<String, sqlx::Error> {
    let mut names = Vec::with_capacity(cols.len());
    for c in cols {
        names.push(ident(&c.name)?.to_owned());
    }
    Ok(names.join(", "))
}

fn decode(row: &AnyRow, i: usize, col: &Column) -> Result<Value, sqlx::Error> {
    Ok(match col.kind {
        ColKind::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColKind::Float => row
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColKind::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::from),
    })
}

/// Streams the rows of `table` whose `key` column equals `value`, ordered by the first
/// column (the id of most tables), to `each`.
pub async fn for_each_row(
    conn: &mut AnyConnection,
    table: &str,
    cols: &[Column],
    key: &str,
    value: &str,
    mut each: impl FnMut(Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let list = column_list(cols)?;
    let sql = format!(
        "SELECT {list} FROM {} WHERE {} = $1 ORDER BY 1",
        ident(table)?,
        ident(key)?,
    );
    let mut rows = sqlx::query(AssertSqlSafe(sql))
        .bind(value)
        .fetch(&mut *conn);
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        let mut map = Map::with_capacity(cols.len());
        for (i, col) in cols.iter().enumerate() {
            map.insert(col.name.clone(), decode(&row, i, col)?);
        }
        each(map)?;
        n += 1;
    }
    Ok(n)
}

/// Placeholders one multi-row insert may use (PostgreSQL allows 65,535; SQLite 32,766).
pub const MAX_PARAMS: usize = 30_000;

/// Inserts rows in one statement: `rows[r][i]` goes to `cols[i]`, converted to the
/// column's class (already checked by the caller). Keep `rows.len() * cols.len()` within
/// [`MAX_PARAMS`].
pub async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    cols: &[Column],
    rows: &[Vec<Value>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let list = column_list(cols)?;
    let mut tuples = Vec::with_capacity(rows.len());
    let mut n = 0;
    for _ in rows {
        let marks: Vec<String> = cols
            .iter()
            .map(|_| {
                n += 1;
                format!("${n}")
            })
            .collect();
        tuples.push(format!("({})", marks.join(", ")));
    }
    let sql = format!(
        "INSERT INTO {} ({list}) VALUES {}",
        ident(table)?,
        tuples.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for values in rows {
        for (col, v) in cols.iter().zip(values) {
            q = match (col.kind, v) {
                (ColKind::Int, Value::Null) => q.bind(None::<i64>),
                (ColKind::Float, Value::Null) => q.bind(None::<f64>),
                (ColKind::Text, Value::Null) => q.bind(None::<String>),
                (ColKind::Int, v) => q.bind(v.as_i64()),
                (ColKind::Float, v) => q.bind(v.as_f64()),
                (ColKind::Text, v) => q.bind(v.as_str().map(str::to_owned)),
            };
        }
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Whether a vendor with this id or slug exists.
pub async fn vendor_exists(
    conn: &mut AnyConnection,
    id: &str,
    slug: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM vendors WHERE id = $1 OR LOWER(slug) = LOWER($2) LIMIT 1")
            .bind(id)
            .bind(slug)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

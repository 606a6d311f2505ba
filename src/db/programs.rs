//! Programs and their versioned commission terms.

use sqlx::{Any, Executor, FromRow};

use super::{Conn, new_id, now_ms};

/// A program as stored (the fields this layer reads so far).
#[derive(Debug, Clone, FromRow)]
pub struct ProgramRow {
    /// `prg_...`
    pub id: String,
    /// Owning vendor.
    pub vendor_id: String,
    /// Display name.
    pub name: String,
    /// URL-safe name, unique per vendor.
    pub slug: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// `active`, `paused` or `archived`.
    pub status: String,
    /// 1 for the vendor's default program.
    pub is_default: i64,
    /// Version of the current commission terms.
    pub current_terms_version: i64,
}

macro_rules! cols {
    () => {
        "id, vendor_id, name, slug, currency, status, is_default, current_terms_version"
    };
}

/// Inserts a program with version 1 of its commission terms (`commission` is the JSON of
/// [`crate::domain::terms::Commission`]).
pub async fn insert_with_terms(
    conn: &mut Conn,
    vendor_id: &str,
    name: &str,
    slug: &str,
    currency: &str,
    is_default: bool,
    commission: &str,
) -> Result<ProgramRow, sqlx::Error> {
    let now = now_ms();
    let program: ProgramRow = sqlx::query_as(concat!(
        "INSERT INTO programs (id, vendor_id, name, slug, currency, is_default, \
         current_terms_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
         RETURNING ",
        cols!()
    ))
    .bind(new_id("prg"))
    .bind(vendor_id)
    .bind(name)
    .bind(slug)
    .bind(currency)
    .bind(i64::from(is_default))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO program_terms (program_id, version, vendor_id, commission, created_at) \
         VALUES ($1, 1, $2, $3, $4)",
    )
    .bind(&program.id)
    .bind(vendor_id)
    .bind(commission)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(program)
}

/// The vendor's programs, default first.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<ProgramRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM programs WHERE vendor_id = $1 ORDER BY is_default DESC, created_at"
    ))
    .bind(vendor_id)
    .fetch_all(ex)
    .await
}

/// The commission JSON of one terms version of a vendor's program.
pub async fn terms<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    version: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT commission FROM program_terms WHERE vendor_id = $1 AND program_id = $2 \
         AND version = $3",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(version)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(c,)| c))
}

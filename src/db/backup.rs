//! SQLite backup and the checks of a file to restore.

use sqlx::{AnyConnection, Connection};

/// Writes a consistent copy of the whole SQLite database to `path` (`VACUUM INTO`), while
/// other connections go on reading and writing. SQLite refuses an existing non-empty file.
pub async fn vacuum_into(pool: &sqlx::AnyPool, path: &str) -> Result<(), sqlx::Error> {
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(pool)
        .await?;
    Ok(())
}

/// What a SQLite file holds, as far as restoring is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The newest migration applied to it (`None`: no migration table, not Affilia's).
    pub migration: Option<i64>,
    /// Vendors in it (0 when it has no vendors table).
    pub vendors: i64,
}

/// Opens the SQLite file at `path` read-only and reads its migration level and vendor count.
pub async fn inspect(path: &str) -> Result<Inspected, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("sqlite://{path}?mode=ro")).await?;
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name IN ('_sqlx_migrations', 'vendors')",
    )
    .fetch_all(&mut conn)
    .await?;
    let has = |t: &str| tables.iter().any(|(n,)| n == t);
    let migration = if has("_sqlx_migrations") {
        let row: (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&mut conn)
                .await?;
        row.0
    } else {
        None
    };
    let vendors = if has("vendors") {
        let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM vendors")
            .fetch_one(&mut conn)
            .await?;
        row.0
    } else {
        0
    };
    conn.close().await?;
    Ok(Inspected { migration, vendors })
}

/// Folds the write-ahead log of the SQLite file at `path` into the file itself, so the
/// file alone is the whole database (before it is moved aside).
pub async fn checkpoint(path: &str) -> Result<(), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("sqlite://{path}")).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

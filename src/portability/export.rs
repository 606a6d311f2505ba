//! Writing a vendor's export file.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use super::{EXPORTED, FORMAT, FORMAT_VERSION, PortError, REDACTED, redacted};
use crate::db::{self, Db, portable};

/// Rows written per table, in file order.
pub type Census = Vec<(&'static str, u64)>;

/// Writes everything `vendor` (id or slug) owns to a new file at `path` (an existing file
/// is refused), from one consistent snapshot of the database. Returns the rows per table.
pub async fn export_vendor(db: &Db, vendor: &str, path: &Path) -> Result<Census, PortError> {
    let found = crate::domain::tenancy::vendors::find(db, vendor)
        .await
        .map_err(|_| PortError::BadFile(format!("no vendor with id or slug {vendor:?}")))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => PortError::Conflict(format!(
                "{} already exists; choose a new file name",
                path.display()
            )),
            _ => PortError::Other(
                anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
            ),
        })?;
    let written = write_all(db, &found.id, &found.slug, &found.name, file).await;
    if written.is_err() {
        // A half-written export must not pass for a whole one.
        let _ = std::fs::remove_file(path);
    }
    written
}

async fn write_all(
    db: &Db,
    vendor_id: &str,
    slug: &str,
    name: &str,
    file: std::fs::File,
) -> Result<Census, PortError> {
    let mut out = std::io::BufWriter::new(file);
    let mut tx = db.pool().begin().await?;
    portable::snapshot(&mut tx, db.kind()).await?;
    let redacted_map: serde_json::Map<String, Value> = REDACTED
        .iter()
        .map(|(t, cols)| ((*t).to_owned(), json!(cols)))
        .collect();
    let header = json!({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "schema_migration": db.applied_migration().await?,
        "vendor": {"id": vendor_id, "slug": slug, "name": name},
        "exported_at": db::rfc3339(db::now_ms()),
        "redacted": redacted_map,
    });
    writeln!(out, "{header}")?;
    let mut census = Vec::with_capacity(EXPORTED.len());
    let mut total = 0;
    for (table, key) in EXPORTED {
        let cols = portable::columns(&mut tx, db.kind(), table).await?;
        if cols.is_empty() {
            return Err(PortError::Other(anyhow::anyhow!(
                "table {table} is missing: run `affilia migrate` first"
            )));
        }
        let hidden = redacted(table);
        let n = portable::for_each_row(&mut tx, table, &cols, key, vendor_id, |mut row| {
            for col in hidden {
                if let Some(v) = row.get_mut(*col) {
                    *v = Value::Null;
                }
            }
            let line = json!({"table": table, "row": row});
            writeln!(out, "{line}").context("writing the export")?;
            Ok(())
        })
        .await?;
        total += n;
        census.push((*table, n));
    }
    tx.commit().await?;
    writeln!(out, "{}", json!({"end": {"rows": total}}))?;
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(census)
}

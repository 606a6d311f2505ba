//! Reading an export file into this database, in one transaction.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use super::{EXPORTED, FORMAT, FORMAT_VERSION, PortError};
use crate::db::{self, Db, portable};
use crate::domain::tenancy::webhooks::signing;

/// What an import brought in.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The vendor's id.
    pub vendor_id: String,
    /// The vendor's slug.
    pub slug: String,
    /// Rows inserted.
    pub rows: u64,
    /// Webhook endpoints given a new secret and disabled.
    pub endpoints_disabled: u64,
}

/// Why an imported webhook endpoint is disabled.
pub const IMPORTED_ENDPOINT_REASON: &str =
    "imported without its signing secret: rotate the secret, then enable the endpoint";

fn bad(line: usize, what: impl std::fmt::Display) -> PortError {
    PortError::BadFile(format!("line {line}: {what}; nothing was imported"))
}

struct Header {
    vendor_id: String,
    slug: String,
}

fn parse_header(text: &str) -> Result<Header, PortError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| bad(1, format!("not a JSON header ({e})")))?;
    if v["format"] != FORMAT {
        return Err(bad(
            1,
            format!("not an Affilia vendor export (format must be {FORMAT:?})"),
        ));
    }
    match v["version"].as_i64() {
        Some(FORMAT_VERSION) => {}
        other => {
            return Err(bad(
                1,
                format!(
                    "format version {} is not supported (this build reads version {FORMAT_VERSION})",
                    other.map_or_else(|| v["version"].to_string(), |n| n.to_string())
                ),
            ));
        }
    }
    let migration = v["schema_migration"]
        .as_i64()
        .ok_or_else(|| bad(1, "schema_migration is missing"))?;
    if !Db::is_known_migration(migration) {
        return Err(bad(
            1,
            format!(
                "the file comes from schema migration {migration}, unknown to this build \
                 (newest known: {}); upgrade Affilia first",
                Db::latest_migration()
            ),
        ));
    }
    let vendor_id = v["vendor"]["id"].as_str().unwrap_or_default().to_owned();
    let slug = v["vendor"]["slug"].as_str().unwrap_or_default().to_owned();
    if vendor_id.is_empty() || slug.is_empty() {
        return Err(bad(1, "the header names no vendor id and slug"));
    }
    Ok(Header { vendor_id, slug })
}

/// Imports the export at `path`. The vendor (by id or slug) must not exist here yet. Every
/// row goes in one transaction: a bad line, an unknown table or column, a row of another
/// vendor, a file cut short or a clash with existing data leaves the database unchanged.
pub async fn import_file(db: &Db, path: &Path) -> Result<Imported, PortError> {
    let file = std::fs::File::open(path)
        .map_err(|e| PortError::BadFile(format!("cannot open {}: {e}", path.display())))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let first = match lines.next() {
        Some(l) => l?,
        None => {
            return Err(PortError::BadFile(
                "the file is empty; nothing was imported".into(),
            ));
        }
    };
    let header = parse_header(&first)?;
    let order: HashMap<&str, (usize, &str)> = EXPORTED
        .iter()
        .enumerate()
        .map(|(i, (t, k))| (*t, (i, *k)))
        .collect();

    let mut tx = db.begin().await?;
    if portable::vendor_exists(&mut tx, &header.vendor_id, &header.slug).await? {
        return Err(PortError::Conflict(format!(
            "vendor {} ({}) already exists in this database; nothing was imported",
            header.slug, header.vendor_id
        )));
    }
    let mut columns: HashMap<&str, Vec<portable::Column>> = HashMap::new();
    let mut rows = 0u64;
    let mut endpoints_disabled = 0u64;
    let mut last_table = 0usize;
    let mut ended = false;
    let mut batch = Batch::new("", Vec::new(), 0);
    let mut legacy_claims: Vec<Vec<Value>> = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line?;
        if ended {
            return Err(bad(n, "text after the end line"));
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| {
            bad(
                n,
                format!("not valid JSON, the file may be truncated ({e})"),
            )
        })?;
        if let Some(end) = v.get("end") {
            let declared = end["rows"].as_u64();
            if declared != Some(rows) {
                return Err(bad(
                    n,
                    format!("the end line counts {declared:?} rows, the file holds {rows}"),
                ));
            }
            ended = true;
            continue;
        }
        let table = v["table"].as_str().ok_or_else(|| bad(n, "no table"))?;
        let (&table, &(position, key)) = order
            .get_key_value(table)
            .ok_or_else(|| bad(n, format!("unknown table {table:?}")))?;
        if position < last_table {
            return Err(bad(
                n,
                format!("table {table} out of order (parents come first)"),
            ));
        }
        last_table = position;
        let Some(Value::Object(row)) = v.get("row") else {
            return Err(bad(n, "no row object"));
        };
        if row.get(key).and_then(Value::as_str) != Some(header.vendor_id.as_str()) {
            return Err(bad(n, format!("a {table} row of another vendor")));
        }
        if !columns.contains_key(table) {
            let cols = portable::columns(&mut tx, db.kind(), table).await?;
            columns.insert(table, cols);
        }
        let target = &columns[table];
        let mut row = row.clone();
        // A file written before migration 0041 names each commission's payout on the
        // commission itself: that is a claim now, inserted after the commissions.
        if table == "commissions"
            && let Some(payout) = row.remove("payout_id")
            && !payout.is_null()
        {
            if !payout.is_string() {
                return Err(bad(
                    n,
                    format!("commissions.payout_id holds {payout}, not a payout id"),
                ));
            }
            legacy_claims.push(vec![
                row.get("id").cloned().unwrap_or(Value::Null),
                Value::from(header.vendor_id.as_str()),
                payout,
            ]);
        }
        if table == "webhook_endpoints" {
            row.insert("secret".into(), Value::from(signing::new_secret()));
            row.insert("enabled".into(), Value::from(0));
            row.insert(
                "disabled_reason".into(),
                Value::from(IMPORTED_ENDPOINT_REASON),
            );
            endpoints_disabled += 1;
        }
        let (cols, values) = typed(n, table, target, row)?;
        if !batch.fits(table, &cols) {
            batch.flush(&mut tx).await?;
            batch = Batch::new(table, cols, n);
        }
        batch.rows.push(values);
        rows += 1;
    }
    batch.flush(&mut tx).await?;
    if !legacy_claims.is_empty() {
        let target = portable::columns(&mut tx, db.kind(), "payout_claims").await?;
        let cols: Vec<portable::Column> = ["commission_id", "vendor_id", "payout_id"]
            .iter()
            .filter_map(|name| target.iter().find(|c| c.name == *name).cloned())
            .collect();
        for chunk in legacy_claims.chunks(200) {
            portable::insert_rows(&mut tx, "payout_claims", &cols, chunk)
                .await
                .map_err(|e| {
                    PortError::Other(
                        anyhow::Error::new(e).context(
                            "claiming the commissions for the payouts their payout_id names",
                        ),
                    )
                })?;
        }
    }
    if !ended {
        return Err(PortError::BadFile(
            "the file is truncated (no end line); nothing was imported".into(),
        ));
    }
    // An installation holding a vendor is set up: the first-run setup page must not offer
    // to create another owner.
    db::vendors::claim_installation(&mut tx).await?;
    // A file written before partner groups existed has programs and enrollments without
    // them: give them the default groups the migration gave existing rows.
    db::groups::backfill_defaults(&mut tx, &header.vendor_id).await?;
    // The ledger list's `total` reads a count kept beside the journal, and analytics read
    // money and referral rollups kept beside the conversions, commissions and referrals,
    // and reports the all-time clicks summed from the (imported) daily click rollup; none
    // of them is exported.
    db::ledger::recount(&mut tx, &header.vendor_id).await?;
    db::rollups::rebuild_totals(&mut tx, &header.vendor_id).await?;
    db::money_rollups::rebuild(&mut tx, &header.vendor_id).await?;
    db::referral_rollups::rebuild(&mut tx, &header.vendor_id).await?;
    tx.commit().await?;
    db::routing_changed();
    Ok(Imported {
        vendor_id: header.vendor_id,
        slug: header.slug,
        rows,
        endpoints_disabled,
    })
}

/// Consecutive rows of one table with the same columns, inserted in one statement (one
/// round trip per few hundred rows instead of one per row).
struct Batch {
    table: &'static str,
    cols: Vec<portable::Column>,
    rows: Vec<Vec<Value>>,
    first_line: usize,
}

impl Batch {
    fn new(table: &'static str, cols: Vec<portable::Column>, first_line: usize) -> Self {
        Self {
            table,
            cols,
            rows: Vec::new(),
            first_line,
        }
    }

    /// Whether a row of `table` with `cols` can join this batch.
    fn fits(&self, table: &str, cols: &[portable::Column]) -> bool {
        self.table == table
            && self.cols == cols
            && (self.rows.len() + 1) * cols.len().max(1) <= portable::MAX_PARAMS
            && self.rows.len() < 200
    }

    async fn flush(&mut self, conn: &mut db::Conn) -> Result<(), PortError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let (table, first) = (self.table, self.first_line);
        let last = first + self.rows.len() - 1;
        portable::insert_rows(conn, table, &self.cols, &self.rows)
            .await
            .map_err(|e| match db::unique_violation_field(&e) {
                Some(field) => PortError::Conflict(format!(
                    "lines {first}-{last}: this database already has a {table} row with that \
                     {field}; nothing was imported"
                )),
                None => PortError::Other(
                    anyhow::Error::new(e)
                        .context(format!("lines {first}-{last}: inserting into {table}")),
                ),
            })?;
        self.rows.clear();
        Ok(())
    }
}

/// The row's columns and values, each checked against the target column's class.
fn typed(
    n: usize,
    table: &str,
    target: &[portable::Column],
    row: Map<String, Value>,
) -> Result<(Vec<portable::Column>, Vec<Value>), PortError> {
    let mut cols = Vec::with_capacity(row.len());
    let mut values = Vec::with_capacity(row.len());
    for (name, value) in row {
        let col = target
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| bad(n, format!("unknown column {table}.{name}")))?;
        let fits = match (col.kind, &value) {
            (_, Value::Null) => true,
            (portable::ColKind::Int, v) => v.as_i64().is_some(),
            (portable::ColKind::Float, v) => v.is_number(),
            (portable::ColKind::Text, v) => v.is_string(),
        };
        if !fits {
            return Err(bad(
                n,
                format!("{table}.{name} holds {value}, not a {:?}", col.kind),
            ));
        }
        cols.push(col.clone());
        values.push(value);
    }
    Ok((cols, values))
}

//! Payout files: PayPal Payouts' mass-payment upload and a generic CSV / JSON.
//!
//! PayPal's file has no header row and one currency; each line is recipient email, amount
//! with the currency's decimals (`money::format_amount`), currency, a unique id of at most
//! 30 characters (our payout id is exactly 30), the note to the recipient, and the wallet
//! `PAYPAL`. Every text cell of every CSV is escaped against formula injection: a value a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) gets a leading `'`.

use serde_json::Value;

use crate::db::{self, Db, affiliates::AffiliateRow, payouts::Filter, payouts::PayoutRow};
use crate::domain::partners::terms::format_amount;
use crate::domain::values::status::PayoutStatus;
use crate::error::{AppError, AppResult};

/// Export formats.
pub const FORMATS: [&str; 3] = ["paypal", "csv", "json"];

/// A payout with the affiliate it pays.
pub type Line<'a> = (&'a PayoutRow, &'a AffiliateRow);

pub use crate::domain::values::csv::{cell, row};

/// What a PayPal file holds: PayPal payouts that are not paid or failed.
fn in_paypal_file(p: &PayoutRow) -> bool {
    goes_in_paypal_file(&p.method, &p.status)
}

/// Whether a payout of this method and status belongs in a PayPal file (open PayPal ones).
pub fn goes_in_paypal_file(method: &str, status: &str) -> bool {
    method == "paypal" && PayoutStatus::of(status).is_some_and(PayoutStatus::is_open)
}

/// The currencies of the PayPal payouts a file of `payouts` would hold (one file each).
pub fn paypal_currencies<'a>(payouts: impl IntoIterator<Item = &'a PayoutRow>) -> Vec<&'a str> {
    let mut currencies: Vec<&str> = payouts
        .into_iter()
        .filter(|p| in_paypal_file(p))
        .map(|p| p.currency.as_str())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    currencies
}

/// The PayPal Payouts file of the PayPal payouts among `lines` that are not paid or failed.
/// PayPal takes one currency per file: several → 422 asking for `currency`.
pub fn paypal(lines: &[Line<'_>], note: &str) -> AppResult<String> {
    let open: Vec<&Line<'_>> = lines.iter().filter(|(p, _)| in_paypal_file(p)).collect();
    let currencies = paypal_currencies(open.iter().map(|(p, _)| *p));
    if currencies.len() > 1 {
        return Err(AppError::invalid(
            "currency",
            format!(
                "a PayPal file holds one currency; choose one of {}",
                currencies.join(", ")
            ),
        ));
    }
    Ok(open.iter().map(|(p, _)| paypal_line(p, note)).collect())
}

/// Every payout of `lines` with its affiliate, one row each, with a header.
pub fn csv(lines: &[Line<'_>]) -> String {
    let mut out = csv_header();
    for (p, a) in lines {
        out.push_str(&csv_line(p, &a.id, &a.email, &a.name));
    }
    out
}

/// The header row of the CSV file.
fn csv_header() -> String {
    row(&[
        "payout_id",
        "affiliate_id",
        "affiliate_email",
        "affiliate_name",
        "program_id",
        "method",
        "destination",
        "currency",
        "amount",
        "fee",
        "net",
        "status",
        "reference",
        "created_at",
        "paid_at",
    ])
}

/// One payout's row of the CSV file.
fn csv_line(p: &PayoutRow, affiliate_id: &str, email: &str, name: &str) -> String {
    row(&[
        &p.id,
        affiliate_id,
        email,
        name,
        &p.program_id,
        &p.method,
        &p.destination,
        &p.currency,
        &format_amount(p.amount_cents, &p.currency),
        &format_amount(p.fee_cents, &p.currency),
        &format_amount(p.net_cents, &p.currency),
        &p.status,
        p.reference.as_deref().unwrap_or(""),
        &crate::db::rfc3339(p.created_at),
        &p.paid_at.map(crate::db::rfc3339).unwrap_or_default(),
    ])
}

/// One payout's line of a PayPal Payouts file.
fn paypal_line(p: &PayoutRow, note: &str) -> String {
    row(&[
        &p.destination,
        &format_amount(p.net_cents, &p.currency),
        &p.currency,
        &p.id,
        note,
        "PAYPAL",
    ])
}

/// One payout of the JSON file: its API object with the affiliate's email and name.
fn json_item(p: &PayoutRow, email: &str, name: &str) -> Value {
    let mut v = super::payout_json(p);
    v["affiliate_email"] = Value::String(email.to_owned());
    v["affiliate_name"] = Value::String(name.to_owned());
    v
}

/// Every payout of `lines` as JSON objects with the affiliate's email and name.
pub fn json(lines: &[Line<'_>]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|(p, a)| json_item(p, &a.email, &a.name))
            .collect(),
    )
}

/// An export ready to download.
#[derive(Debug, Clone)]
pub struct File {
    /// MIME type.
    pub content_type: &'static str,
    /// Suggested file name.
    pub filename: String,
    /// Contents.
    pub body: String,
}

/// An export whose body is produced while it is sent: the rows are read in chunks of
/// [`CHUNK`] (keyset pages, each payout with its affiliate in the same statement), so the
/// server holds one chunk at a time however large the file, and the first bytes leave
/// after the first chunk instead of after the whole file.
pub struct Streamed {
    /// MIME type.
    pub content_type: &'static str,
    /// Suggested file name.
    pub filename: String,
    /// The body, chunk by chunk; the same bytes as [`csv`], [`paypal`] or [`json`] of all
    /// the rows at once.
    pub body: futures_util::stream::BoxStream<'static, Result<String, sqlx::Error>>,
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed")
            .field("content_type", &self.content_type)
            .field("filename", &self.filename)
            .finish_non_exhaustive()
    }
}

/// Payouts read per chunk of a streamed export.
pub const CHUNK: i64 = 500;

/// The filter of a streamed export, owned by the stream.
#[derive(Debug, Clone)]
struct Owned {
    vendor_id: String,
    affiliate_id: Option<String>,
    run_id: Option<String>,
    status: Option<String>,
    currency: Option<String>,
}

impl Owned {
    fn of(f: &Filter<'_>) -> Self {
        Self {
            vendor_id: f.vendor_id.to_owned(),
            affiliate_id: f.affiliate_id.map(str::to_owned),
            run_id: f.run_id.map(str::to_owned),
            status: f.status.map(str::to_owned),
            currency: f.currency.map(str::to_owned),
        }
    }

    fn filter(&self) -> Filter<'_> {
        Filter {
            vendor_id: &self.vendor_id,
            affiliate_id: self.affiliate_id.as_deref(),
            run_id: self.run_id.as_deref(),
            status: self.status.as_deref(),
            currency: self.currency.as_deref(),
        }
    }
}

/// Which file a streamed export writes.
#[derive(Debug, Clone)]
enum Kind {
    Paypal { note: String },
    Csv,
    Json,
}

/// Where a streamed export is: before the first chunk, after a payout (its time and id),
/// or finished.
#[derive(Debug, Clone)]
enum Cursor {
    Start,
    After(i64, String),
    Done,
}

/// The payouts matching `filter` in `format` (`paypal`, `csv` or `json`), streamed. Every
/// refusal (bad format, too many payouts, several PayPal currencies) happens here, before
/// the first byte is sent.
pub async fn stream(db: &Db, filter: &Filter<'_>, format: &str) -> AppResult<Streamed> {
    let format = FORMATS.iter().find(|f| **f == format).ok_or_else(|| {
        AppError::invalid(
            "format",
            format!("format must be one of: {}", FORMATS.join(", ")),
        )
    })?;
    let vendor = db::vendors::by_id(db.pool(), filter.vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    // A file never stops short silently: too many matches is an error that says so.
    let matching = db::payouts::count(db.pool(), filter).await?;
    if matching > EXPORT_MAX {
        return Err(AppError::invalid(
            "run_id",
            format!(
                "{matching} payouts match; one export holds at most {EXPORT_MAX}: \
                 export one run, status or currency at a time"
            ),
        ));
    }
    let stem = match filter.run_id {
        Some(run) => format!("payouts-{}", file_safe(run)),
        None => format!("payouts-{}", chrono::Utc::now().format("%Y%m%d")),
    };
    let (content_type, filename, kind) = match *format {
        "paypal" => {
            let currencies = db::payouts::open_paypal_currencies(db.pool(), filter).await?;
            if currencies.len() > 1 {
                return Err(AppError::invalid(
                    "currency",
                    format!(
                        "a PayPal file holds one currency; choose one of {}",
                        currencies.join(", ")
                    ),
                ));
            }
            let note = format!("Commission payout from {}", vendor.name);
            (
                "text/csv; charset=utf-8",
                format!("{stem}-paypal.csv"),
                Kind::Paypal { note },
            )
        }
        "csv" => ("text/csv; charset=utf-8", format!("{stem}.csv"), Kind::Csv),
        _ => ("application/json", format!("{stem}.json"), Kind::Json),
    };
    let state = (db.clone(), Owned::of(filter), kind, Cursor::Start, 0_i64);
    let body = futures_util::stream::try_unfold(state, |(db, f, kind, cursor, sent)| async move {
        let mut out = String::new();
        let mut cursor = cursor;
        let mut sent = sent;
        // Loops only past chunks that render to nothing (a PayPal file skips closed payouts),
        // so the stream never yields an empty piece.
        while out.is_empty() {
            let after = match &cursor {
                Cursor::Done => return Ok(None),
                Cursor::Start => None,
                Cursor::After(at, id) => Some((*at, id.as_str())),
            };
            let limit = CHUNK.min(EXPORT_MAX - sent);
            let rows = if limit > 0 {
                db::payouts::export_chunk(db.pool(), &f.filter(), after, limit).await?
            } else {
                Vec::new()
            };
            if matches!(cursor, Cursor::Start) {
                match kind {
                    Kind::Csv => out.push_str(&csv_header()),
                    Kind::Json => out.push('['),
                    Kind::Paypal { .. } => {}
                }
            }
            for r in &rows {
                let p = &r.payout;
                match &kind {
                    Kind::Csv => out.push_str(&csv_line(
                        p,
                        &p.affiliate_id,
                        &r.affiliate_email,
                        &r.affiliate_name,
                    )),
                    Kind::Json => {
                        if sent > 0 {
                            out.push(',');
                        }
                        out.push_str(
                            &json_item(p, &r.affiliate_email, &r.affiliate_name).to_string(),
                        );
                    }
                    Kind::Paypal { note } => {
                        if in_paypal_file(p) {
                            out.push_str(&paypal_line(p, note));
                        }
                    }
                }
                sent += 1;
            }
            cursor = match rows.last() {
                Some(last) if rows.len() as i64 == limit => {
                    Cursor::After(last.payout.created_at, last.payout.id.clone())
                }
                _ => {
                    if matches!(kind, Kind::Json) {
                        out.push(']');
                    }
                    Cursor::Done
                }
            };
        }
        Ok(Some((out, (db, f, kind, cursor, sent))))
    });
    Ok(Streamed {
        content_type,
        filename,
        body: Box::pin(body),
    })
}

/// `run` as it may appear in a file name (and so in a `Content-Disposition` header): a run
/// id as given by a client may hold anything, so only letters, digits, `-` and `_` are kept.
fn file_safe(run: &str) -> String {
    run.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect()
}

/// Payouts in one file at most (PayPal takes 5,000 per file; this bounds the others).
const EXPORT_MAX: i64 = 50_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_in_file_names_are_header_safe() {
        assert_eq!(file_safe("run_01H\0\"x/../é"), "run_01Hx");
        assert_eq!(file_safe(&"a".repeat(500)).len(), 64);
    }

    #[test]
    fn formulas_are_defused_and_cells_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("jane@example.com"), "jane@example.com");
        assert_eq!(cell("12.50"), "12.50");
    }
}

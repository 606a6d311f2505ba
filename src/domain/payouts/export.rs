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
use crate::error::{AppError, AppResult};

/// Export formats.
pub const FORMATS: [&str; 3] = ["paypal", "csv", "json"];

/// A payout with the affiliate it pays.
pub type Line<'a> = (&'a PayoutRow, &'a AffiliateRow);

pub use crate::domain::values::csv::{cell, row};

/// What a PayPal file holds: PayPal payouts that are not paid or failed.
fn in_paypal_file(p: &PayoutRow) -> bool {
    p.method == "paypal" && super::is_open(p)
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
    Ok(open
        .iter()
        .map(|(p, _)| {
            row(&[
                &p.destination,
                &format_amount(p.net_cents, &p.currency),
                &p.currency,
                &p.id,
                note,
                "PAYPAL",
            ])
        })
        .collect())
}

/// Every payout of `lines` with its affiliate, one row each, with a header.
pub fn csv(lines: &[Line<'_>]) -> String {
    let mut out = row(&[
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
    ]);
    for (p, a) in lines {
        out.push_str(&row(&[
            &p.id,
            &a.id,
            &a.email,
            &a.name,
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
        ]));
    }
    out
}

/// Every payout of `lines` as JSON objects with the affiliate's email and name.
pub fn json(lines: &[Line<'_>]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|(p, a)| {
                let mut v = super::payout_json(p);
                v["affiliate_email"] = Value::String(a.email.clone());
                v["affiliate_name"] = Value::String(a.name.clone());
                v
            })
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

/// The payouts matching `filter` in `format` (`paypal`, `csv` or `json`).
pub async fn file(db: &Db, filter: &Filter<'_>, format: &str) -> AppResult<File> {
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
    let payouts = db::payouts::page(db.pool(), filter, EXPORT_MAX, 0).await?;
    let affiliates = super::affiliates_of(
        db,
        filter.vendor_id,
        payouts.iter().map(|p| p.affiliate_id.as_str()),
    )
    .await?;
    let lines: Vec<Line<'_>> = payouts
        .iter()
        .filter_map(|p| affiliates.get(&p.affiliate_id).map(|a| (p, a)))
        .collect();
    let stem = match filter.run_id {
        Some(run) => format!("payouts-{}", file_safe(run)),
        None => format!("payouts-{}", chrono::Utc::now().format("%Y%m%d")),
    };
    Ok(match *format {
        "paypal" => File {
            content_type: "text/csv; charset=utf-8",
            filename: format!("{stem}-paypal.csv"),
            body: paypal(&lines, &format!("Commission payout from {}", vendor.name))?,
        },
        "csv" => File {
            content_type: "text/csv; charset=utf-8",
            filename: format!("{stem}.csv"),
            body: csv(&lines),
        },
        _ => File {
            content_type: "application/json",
            filename: format!("{stem}.json"),
            body: json(&lines).to_string(),
        },
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

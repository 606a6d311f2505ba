//! `GET /dashboard/accounting`: the accounting export for the vendor's accountant — the
//! journal (CSV or JSON, per day or month, one currency or all) and the yearly paid totals
//! with tax details — and the chart of accounts the journal maps the ledger to. The
//! downloads call the same services as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

use crate::db;
use crate::domain::payouts::accounting::{self, Account, JournalQuery};
use crate::domain::payouts::export::File;
use crate::http::AppState;
use crate::http::api::payouts::download;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};

#[derive(Template)]
#[template(path = "dashboard/accounting.html")]
struct AccountingPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    /// First day of last month, `YYYY-MM-DD`.
    from: String,
    /// Last day of last month.
    to: String,
    /// Last year.
    year: i32,
    accounts: Vec<Account>,
}

/// `GET /dashboard/accounting`.
pub async fn show(staff: Staff) -> Result<HttpResponse, HtmlError> {
    let today = db::from_ms(db::now_ms()).date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    let last_month = this_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(this_month);
    let page = AccountingPage {
        chrome: Chrome::new(&staff.session, "Accounting export".to_owned()),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        from: last_month.format("%Y-%m-%d").to_string(),
        to: this_month
            .pred_opt()
            .unwrap_or(this_month)
            .format("%Y-%m-%d")
            .to_string(),
        year: today.year() - 1,
        accounts: accounting::CHART.to_vec(),
    };
    render(StatusCode::OK, &page)
}

/// The journal download's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JournalForm {
    from: String,
    to: String,
    currency: String,
    period: String,
    format: String,
}

fn given(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// `GET /dashboard/accounting/journal?from&to&currency&period&format`: the file.
pub async fn journal(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<JournalForm>,
) -> Result<HttpResponse, HtmlError> {
    let query = JournalQuery {
        from: given(&q.from),
        to: given(&q.to),
        currency: given(&q.currency),
        period: given(&q.period),
    };
    let json = match given(&q.format) {
        None | Some("csv") => false,
        Some("json") => true,
        Some(_) => {
            return Err(crate::error::AppError::invalid(
                "format",
                "format must be one of: csv, json",
            )
            .into());
        }
    };
    let j = accounting::journal(&state.db, &staff.vendor.id, &query).await?;
    let stem = j.file_stem();
    Ok(download(if json {
        File {
            content_type: "application/json",
            filename: format!("{stem}.json"),
            body: serde_json::to_string(&j).unwrap_or_default(),
        }
    } else {
        File {
            content_type: "text/csv; charset=utf-8",
            filename: format!("{stem}.csv"),
            body: accounting::journal_csv(&j),
        }
    }))
}

/// The paid totals download's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct YearForm {
    year: String,
}

/// `GET /dashboard/accounting/paid-totals?year`: the CSV file.
pub async fn paid_totals(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<YearForm>,
) -> Result<HttpResponse, HtmlError> {
    let rows = accounting::paid_totals(&state.db, &staff.vendor.id, given(&q.year)).await?;
    Ok(download(File {
        content_type: "text/csv; charset=utf-8",
        filename: format!("paid-totals-{}.csv", q.year.trim()),
        body: accounting::paid_totals_csv(&rows),
    }))
}

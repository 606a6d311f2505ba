//! `GET /dashboard/reports`: figures per affiliate or per program over whole days, sortable
//! by each column (server-side, from a whitelist), paged, and the same rows as CSV
//! (`?format=csv`, every row).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::earnings::affiliate_stats::PRESETS;
use crate::domain::earnings::reports::{self, By, Params};
use crate::domain::partners::terms::format_money;
use crate::domain::payouts::export::File;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::payouts::download;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// The report's state, as it appears in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    by: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    format: String,
    page: Option<i64>,
}

/// A link with its text and whether it is the current choice.
pub struct Choice {
    url: String,
    label: String,
    current: bool,
}

/// A sortable column header.
pub struct Column {
    label: &'static str,
    url: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    sorted: &'static str,
    numeric: bool,
}

/// A row of the table.
pub struct RowView {
    url: String,
    name: String,
    email: String,
    clicks: i64,
    conversions: i64,
    revenue: String,
    commission: String,
}

#[derive(Template)]
#[template(path = "dashboard/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    views: Vec<Choice>,
    tabs: Vec<Choice>,
    by: &'static str,
    from: String,
    to: String,
    currency: String,
    sort: String,
    error: Option<String>,
    error_field: String,
    columns: Vec<Column>,
    rows: Vec<RowView>,
    /// "Rows 51–100" (the report is not counted: see `reports::page`).
    shown: String,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    csv_url: String,
    period_label: String,
}

fn url(
    by: By,
    range: &[(&str, String)],
    sort: &str,
    currency: &str,
    extra: &[(&str, String)],
) -> String {
    let mut pairs: Vec<(&str, String)> = vec![("by", by.as_str().to_owned())];
    pairs.extend(range.iter().cloned());
    if !sort.is_empty() {
        pairs.push(("sort", sort.to_owned()));
    }
    if !currency.is_empty() {
        pairs.push(("currency", currency.to_owned()));
    }
    pairs.extend(extra.iter().cloned());
    format!(
        "/dashboard/reports?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

fn day(ms: i64) -> String {
    db::from_ms(ms).format("%Y-%m-%d").to_string()
}

/// `GET /dashboard/reports`: the page, or with `format=csv` the file.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ReportQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let now = db::now_ms();
    let vendor_id = staff.vendor.id.as_str();
    let default_currency = staff.vendor.default_currency.clone();
    let parse = |by: &str, period: &str, from: &str, to: &str, sort: &str, currency: &str| {
        Params::parse(
            Some(by),
            Some(period),
            Some(from),
            Some(to),
            Some(sort),
            Some(currency),
            &default_currency,
            now,
        )
    };
    let parsed = parse(&q.by, &q.period, &q.from, &q.to, &q.sort, &q.currency);
    if q.format == "csv" {
        // A file request with bad input gets the page with the message, not a file.
        if let Ok(p) = &parsed {
            let body = reports::csv(&state.db, vendor_id, p).await?;
            return Ok(download(File {
                content_type: "text/csv; charset=utf-8",
                filename: format!(
                    "report-by-{}-{}-to-{}.csv",
                    p.by.as_str(),
                    day(p.period.from),
                    day(p.period.to - 1)
                ),
                body,
            }));
        }
    } else if !q.format.is_empty() {
        return Err(AppError::invalid("format", "format must be csv").into());
    }
    let (p, error) = match parsed {
        Ok(p) => (p, None),
        Err(e @ AppError::Invalid { .. }) => {
            // Keep what can be kept: show the default report beside the message.
            let by = if q.by == "program" { "program" } else { "" };
            (parse(by, "", "", "", "", "")?, Some(e))
        }
        Err(e) => return Err(e.into()),
    };
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let (found, more) =
        reports::page(&state.db, vendor_id, &p, paging.limit(), paging.offset()).await?;
    let range: Vec<(&str, String)> = match p.period.preset {
        Some(k) => vec![("period", k.to_owned())],
        None => vec![("from", day(p.period.from)), ("to", day(p.period.to - 1))],
    };
    let currency_param = if p.currency == default_currency {
        String::new()
    } else {
        p.currency.clone()
    };
    let at = |page: i64| {
        url(
            p.by,
            &range,
            &p.sort,
            &currency_param,
            &[("page", page.to_string())],
        )
    };
    let columns = [
        ("Name", "name", false),
        ("Clicks", "clicks", true),
        ("Conversions", "conversions", true),
        ("Revenue", "revenue", true),
        ("Commission", "commission", true),
    ]
    .into_iter()
    .map(|(label, key, numeric)| {
        let current = p.sort.trim_start_matches('-') == key;
        let descending = p.sort.starts_with('-');
        // A click on the current column flips it; a new column starts largest first
        // (names A to Z).
        let next = match (current, descending, numeric) {
            (true, true, _) => key.to_owned(),
            (true, false, _) => format!("-{key}"),
            (false, _, true) => format!("-{key}"),
            (false, _, false) => key.to_owned(),
        };
        Column {
            label,
            url: url(p.by, &range, &next, &currency_param, &[]),
            sorted: match (current, descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            },
            numeric,
        }
    })
    .collect();
    let shown = match found.len() as i64 {
        0 => "No rows".to_owned(),
        n => format!(
            "Rows {}–{}{}",
            paging.offset() + 1,
            paging.offset() + n,
            if more {
                " (more on the next pages)"
            } else {
                ""
            }
        ),
    };
    let rows = found
        .into_iter()
        .map(|r| RowView {
            url: match p.by {
                By::Affiliate => format!("/dashboard/affiliates/{}", r.id),
                By::Program => format!("/dashboard/programs/{}", r.id),
            },
            name: if r.name.is_empty() {
                r.email.clone()
            } else {
                r.name
            },
            email: r.email,
            clicks: r.clicks,
            conversions: r.conversions,
            revenue: format_money(r.revenue_cents, &p.currency),
            commission: format_money(r.commission_cents, &p.currency),
        })
        .collect();
    let views = [By::Affiliate, By::Program]
        .into_iter()
        .map(|b| Choice {
            url: url(b, &range, &p.sort, &currency_param, &[]),
            label: match b {
                By::Affiliate => "Per affiliate".to_owned(),
                By::Program => "Per program".to_owned(),
            },
            current: b == p.by,
        })
        .collect();
    let tabs = PRESETS
        .iter()
        .map(|k| Choice {
            url: url(
                p.by,
                &[("period", (*k).to_owned())],
                &p.sort,
                &currency_param,
                &[],
            ),
            label: match *k {
                "7d" => "7 days",
                "90d" => "90 days",
                "12m" => "12 months",
                _ => "30 days",
            }
            .to_owned(),
            current: p.period.preset == Some(*k),
        })
        .collect();
    render(
        StatusCode::OK,
        &ReportsPage {
            chrome: Chrome::new(&staff.session, "Reports"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            views,
            tabs,
            by: p.by.as_str(),
            from: if error.is_some() {
                q.from.clone()
            } else {
                day(p.period.from)
            },
            to: if error.is_some() {
                q.to.clone()
            } else {
                day(p.period.to - 1)
            },
            currency: p.currency.clone(),
            sort: p.sort.clone(),
            error_field: error
                .as_ref()
                .and_then(|e| e.field())
                .unwrap_or_default()
                .to_owned(),
            error: error.map(|e| e.public_message()),
            columns,
            shown,
            rows,
            page: paging.page,
            prev_url: paging.prev().map(at),
            next_url: more.then(|| paging.page.checked_add(1)).flatten().map(at),
            csv_url: url(
                p.by,
                &range,
                &p.sort,
                &currency_param,
                &[("format", "csv".to_owned())],
            ),
            period_label: format!(
                "{} to {}",
                db::from_ms(p.period.from).format("%-d %b %Y"),
                db::from_ms(p.period.to - 1).format("%-d %b %Y")
            ),
        },
    )
}

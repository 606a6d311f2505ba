//! Dashboard event log: every billing event (events API, Stripe and the other billing
//! providers, manual conversions),
//! newest first, with what it produced; failed and ignored events can be replayed inline
//! (HTMX).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use crate::db::{self, billing_events::BillingEventRow};
use crate::domain::earnings::billing;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;
use crate::http::{AppState, session};

const PER_PAGE: i64 = 50;

/// One event as a table row.
pub struct Row {
    id: String,
    when: String,
    source: String,
    event_type: String,
    event_id: String,
    status: String,
    attempts: i64,
    conversion_id: String,
    /// Why nothing came of it, or what went wrong.
    note: String,
}

impl From<BillingEventRow> for Row {
    fn from(e: BillingEventRow) -> Self {
        let result: Value = serde_json::from_str(&e.result).unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let note = match (text(&result["reason"]), text(&result["error"])) {
            (Some(reason), _) => match text(&result["detail"]["why"]) {
                Some(why) => format!("{reason}: {why}"),
                None => reason,
            },
            (None, Some(error)) => error,
            (None, None) => String::new(),
        };
        Self {
            when: db::from_ms(e.received_at)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            id: e.id,
            source: e.source,
            event_type: e.r#type,
            event_id: e.event_id,
            status: e.status,
            attempts: e.attempts,
            conversion_id: e.conversion_id.unwrap_or_default(),
            note,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/events.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    csrf: String,
    status: String,
    /// The `source` filter (empty: every door).
    source: String,
    /// The doors, for the source filter.
    sources: &'static [&'static str],
    rows: Vec<Row>,
    page: i64,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "dashboard/event_row_partial.html")]
struct RowPartial {
    csrf: String,
    r: Row,
}

/// `?status=&source=&page=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    source: Option<String>,
    page: Option<i64>,
}

/// `GET /dashboard/events`: the billing event log, newest first.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let status = billing::parse_status(q.status.as_deref())?;
    let source = billing::parse_source(q.source.as_deref())?;
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let filter = db::billing_events::Filter {
        vendor_id: &staff.vendor.id,
        status,
        source,
    };
    let (found, total) = billing::list(&state.db, &filter, paging.limit(), paging.offset()).await?;
    let chrome = Chrome::new(&staff.session, "Events");
    render(
        StatusCode::OK,
        &ListPage {
            csrf: chrome.csrf.clone(),
            chrome,
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            status: status.unwrap_or_default().to_owned(),
            source: source.unwrap_or_default().to_owned(),
            sources: &billing::SOURCES,
            rows: found.into_iter().map(Row::from).collect(),
            page,
            has_next: paging.has_next(total),
        },
    )
}

/// `POST /dashboard/events/{id}/replay`: processes a failed or ignored event again; HTMX
/// gets the updated row.
pub async fn replay(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let done = billing::replay(&state.db, &state.tracker, &staff.vendor.id, &id).await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other("/dashboard/events"));
    }
    let row = billing::get(&state.db, &staff.vendor.id, &done.id).await?;
    render(
        StatusCode::OK,
        &RowPartial {
            csrf: session::csrf_token(&staff.session),
            r: Row::from(row),
        },
    )
}

//! Dashboard deals: leads registered by affiliates, accepted or rejected inline (HTMX).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::attribution::deals::{self, Deal, ReviewInput};
use crate::domain::tenancy::audit::Actor;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// One row of the list.
pub struct Row {
    id: String,
    when: String,
    affiliate: String,
    affiliate_email: String,
    lead_name: String,
    lead_email: String,
    company: String,
    notes: String,
    status: String,
    rejection_reason: String,
    converted: bool,
}

impl From<Deal> for Row {
    fn from(d: Deal) -> Self {
        Self {
            when: d.created_at.get(..16).unwrap_or_default().replace('T', " "),
            id: d.id,
            affiliate: d.affiliate_name,
            affiliate_email: d.affiliate_email,
            lead_name: d.lead_name,
            lead_email: d.lead_email,
            company: d.company.unwrap_or_default(),
            notes: d.notes.unwrap_or_default(),
            status: d.status,
            rejection_reason: d.rejection_reason.unwrap_or_default(),
            converted: d.referral_id.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/deals.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    status: String,
    rows: Vec<Row>,
    page: i64,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "dashboard/deal_row_partial.html")]
struct RowPartial {
    r: Row,
}

/// `?status=&page=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
}

/// `GET /dashboard/deals` (pending first by default).
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let status = deals::parse_status(Some(q.status.as_deref().unwrap_or("pending")))?
        .unwrap_or("pending")
        .to_owned();
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let filter = db::deals::Filter {
        vendor_id: &staff.vendor.id,
        status: Some(&status),
        affiliate_id: None,
    };
    let (found, total) = deals::list(&state.db, &filter, paging.limit(), paging.offset()).await?;
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Deals"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            status,
            rows: found.into_iter().map(Row::from).collect(),
            page,
            has_next: paging.has_next(total),
        },
    )
}

/// The inline review form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    decision: String,
    reason: String,
}

/// `POST /dashboard/deals/{id}/review`: HTMX gets the decided row.
pub async fn review(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<ReviewForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let input = ReviewInput {
        decision: f.decision,
        reason: Some(f.reason).filter(|r| !r.trim().is_empty()),
    };
    let deal = deals::review(
        &state.db,
        &state.sender,
        &staff.vendor,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other("/dashboard/deals"));
    }
    render(StatusCode::OK, &RowPartial { r: Row::from(deal) })
}

//! Dashboard fraud review queue: sales a program's fraud rules flagged, held or rejected,
//! with the evidence in words; approved or rejected inline (HTMX) like deals.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::earnings::fraud::{self, Decision, Review};
use crate::domain::partners::fraud_rules::RULES;
use crate::domain::partners::terms::format_money;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// One piece of evidence, in words.
pub struct Evidence {
    rule: &'static str,
    action: String,
    words: String,
}

/// One row of the queue.
pub struct Row {
    id: String,
    when: String,
    affiliate: String,
    affiliate_email: String,
    affiliate_id: String,
    conversion_id: String,
    amount: String,
    conversion_status: String,
    /// What the rules did: "Held until reviewed", ...
    outcome: &'static str,
    evidence: Vec<Evidence>,
    status: String,
    note: String,
}

fn outcome(action: &str) -> &'static str {
    match action {
        "hold" => "Held: not paid until approved",
        "reject" => "Rejected by a rule",
        _ => "Flagged: paid as usual",
    }
}

fn rule_words(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, w)| *w)
        .unwrap_or("Fraud signal")
}

async fn row(state: &AppState, r: Review) -> AppResult<Row> {
    let a = db::affiliates::by_id(state.db.pool(), &r.row.vendor_id, &r.row.affiliate_id).await?;
    let (name, email) = a
        .map(|a| (a.name, a.email))
        .unwrap_or_else(|| (String::new(), String::new()));
    let evidence = r
        .signals()
        .iter()
        .map(|s| Evidence {
            rule: rule_words(s["rule"].as_str().unwrap_or_default()),
            action: s["action"].as_str().unwrap_or_default().to_owned(),
            words: s["evidence"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    Ok(Row {
        when: db::rfc3339(r.row.created_at)
            .get(..16)
            .unwrap_or_default()
            .replace('T', " "),
        id: r.row.id.clone(),
        affiliate: if name.is_empty() { email.clone() } else { name },
        affiliate_email: email,
        affiliate_id: r.row.affiliate_id.clone(),
        conversion_id: r.row.conversion_id.clone(),
        amount: format_money(r.conversion.amount_cents, &r.conversion.currency),
        conversion_status: r.conversion.status.clone(),
        outcome: outcome(&r.row.action),
        evidence,
        status: r.row.status.clone(),
        note: r.row.note.clone().unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "dashboard/fraud.html")]
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
#[template(path = "dashboard/fraud_row_partial.html")]
struct RowPartial {
    r: Row,
}

/// `?status=&page=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
}

/// `GET /dashboard/fraud` (the pending queue by default, oldest first).
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let status = fraud::parse_status(Some(q.status.as_deref().unwrap_or("pending")))?
        .unwrap_or("pending")
        .to_owned();
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let filter = db::fraud_reviews::Filter {
        vendor_id: &staff.vendor.id,
        status: Some(&status),
        program_id: None,
    };
    let (found, total) = fraud::list(&state.db, &filter, paging.limit(), paging.offset()).await?;
    let mut rows = Vec::with_capacity(found.len());
    for r in found {
        rows.push(row(&state, r).await?);
    }
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Fraud review"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            status,
            rows,
            page,
            has_next: paging.has_next(total),
        },
    )
}

/// The inline decision form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    note: String,
}

async fn decide(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<DecisionForm>,
    decision: Decision,
) -> Result<HttpResponse, HtmlError> {
    let note = Some(form.into_inner().note).filter(|n| !n.trim().is_empty());
    let review = fraud::decide(
        &state.db,
        &staff.vendor.id,
        &id,
        decision,
        note.as_deref(),
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other("/dashboard/fraud"));
    }
    render(
        StatusCode::OK,
        &RowPartial {
            r: row(&state, review).await?,
        },
    )
}

/// `POST /dashboard/fraud/{id}/approve`: HTMX gets the decided row.
pub async fn approve(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<DecisionForm>,
) -> Result<HttpResponse, HtmlError> {
    decide(req, staff, state, id, form, Decision::Approve).await
}

/// `POST /dashboard/fraud/{id}/reject`: the conversion is rejected; HTMX gets the row.
pub async fn reject(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<DecisionForm>,
) -> Result<HttpResponse, HtmlError> {
    decide(req, staff, state, id, form, Decision::Reject).await
}

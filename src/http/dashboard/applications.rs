//! Dashboard review queue: pending applications first, approve (optionally choosing the
//! referral code) or reject with a reason inline with HTMX (the row and the counts update in
//! place), and bulk decisions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, applications::ApplicationRow};
use crate::domain::partners::applications::{self, ReviewInput};
use crate::domain::tenancy::audit::Actor;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// One row of the queue.
pub struct Row {
    id: String,
    email: String,
    name: String,
    company: String,
    website: String,
    reason: String,
    status: String,
    rejection_reason: String,
    when: String,
    /// The group applied to, when not the default one.
    group: String,
    /// The answers to the group's questions, `(label, answer)`.
    answers: Vec<(String, String)>,
}

impl Row {
    fn new(a: ApplicationRow, w: Option<applications::Worded>) -> Self {
        let w = w.unwrap_or_default();
        Self {
            group: w.group,
            answers: w.answers,
            id: a.id,
            email: a.email,
            name: a.name,
            company: a.company.unwrap_or_default(),
            website: a.website.unwrap_or_default(),
            reason: a.reason.unwrap_or_default(),
            status: a.status,
            rejection_reason: a.rejection_reason.unwrap_or_default(),
            when: db::from_ms(a.created_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        }
    }
}

/// Counts per status, for the tabs.
pub struct Counts {
    pending: i64,
    approved: i64,
    rejected: i64,
}

#[derive(Template)]
#[template(path = "dashboard/applications.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    status: String,
    counts: Counts,
    rows: Vec<Row>,
    notice: Option<String>,
    page: i64,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "dashboard/application_review_partial.html")]
struct ReviewedPartial {
    r: Row,
    counts: Counts,
}

async fn counts(state: &AppState, vendor_id: &str) -> Result<Counts, HtmlError> {
    let pool = state.db.pool();
    Ok(Counts {
        pending: db::applications::count(pool, vendor_id, Some("pending")).await?,
        approved: db::applications::count(pool, vendor_id, Some("approved")).await?,
        rejected: db::applications::count(pool, vendor_id, Some("rejected")).await?,
    })
}

/// `?status=&page=&done=&failed=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
    done: Option<i64>,
    failed: Option<i64>,
}

/// `GET /dashboard/applications`.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let status = applications::parse_status(Some(q.status.as_deref().unwrap_or("pending")))?
        .unwrap_or("pending")
        .to_owned();
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let counts = counts(&state, &staff.vendor.id).await?;
    let total = match status.as_str() {
        "approved" => counts.approved,
        "rejected" => counts.rejected,
        _ => counts.pending,
    };
    let rows = db::applications::page(
        state.db.pool(),
        &staff.vendor.id,
        Some(&status),
        paging.limit(),
        paging.offset(),
    )
    .await?;
    let notice = match (q.done, q.failed) {
        (Some(d), Some(f)) if f > 0 => Some(format!(
            "{d} application(s) decided; {f} could not be (already reviewed, or a conflict)."
        )),
        (Some(d), _) => Some(format!("{d} application(s) decided.")),
        _ => None,
    };
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Applications"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            status,
            counts,
            rows: {
                let mut words = applications::in_words(&state.db, &staff.vendor.id, &rows).await?;
                rows.into_iter()
                    .map(|a| {
                        let w = words.remove(&a.id);
                        Row::new(a, w)
                    })
                    .collect()
            },
            notice,
            page,
            has_next: paging.has_next(total),
        },
    )
}

/// The inline review form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    action: String,
    code: String,
    rejection_reason: String,
}

/// `POST /dashboard/applications/{id}/review`: HTMX gets the decided row and fresh counts.
pub async fn review(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<ReviewForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let input = ReviewInput {
        action: f.action,
        code: Some(f.code).filter(|c| !c.trim().is_empty()),
        rejection_reason: Some(f.rejection_reason).filter(|r| !r.trim().is_empty()),
    };
    let decided = applications::review(
        &state.db,
        &state.sender,
        &staff.vendor,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other("/dashboard/applications"));
    }
    let counts = counts(&state, &staff.vendor.id).await?;
    render(
        StatusCode::OK,
        &ReviewedPartial {
            r: {
                let mut words = applications::in_words(
                    &state.db,
                    &staff.vendor.id,
                    std::slice::from_ref(&decided),
                )
                .await?;
                let w = words.remove(&decided.id);
                Row::new(decided, w)
            },
            counts,
        },
    )
}

/// `POST /dashboard/applications/bulk` with `ids` (repeated), `action` and an optional
/// `rejection_reason`: each application is decided on its own; failures are counted.
pub async fn bulk(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, HtmlError> {
    let fields = form.into_inner();
    let value = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let ids: Vec<&String> = fields
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v)
        .collect();
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "select at least one application").into());
    }
    if ids.len() > 200 {
        return Err(AppError::invalid("ids", "at most 200 applications at once").into());
    }
    let input = ReviewInput {
        action: value("action"),
        code: None,
        rejection_reason: Some(value("rejection_reason")).filter(|r| !r.trim().is_empty()),
    };
    let actor = Actor::User(staff.user.id.clone());
    let (mut done, mut failed) = (0, 0);
    for id in ids {
        match applications::review(&state.db, &state.sender, &staff.vendor, id, &input, &actor)
            .await
        {
            Ok(_) => done += 1,
            Err(AppError::Invalid { field, message }) if field == "action" => {
                return Err(AppError::Invalid { field, message }.into());
            }
            Err(AppError::Internal(e)) => return Err(AppError::Internal(e).into()),
            Err(_) => failed += 1,
        }
    }
    Ok(see_other(&format!(
        "/dashboard/applications?done={done}&failed={failed}"
    )))
}

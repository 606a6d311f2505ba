//! The outbox: every email of the vendor with its delivery status, a retry button for
//! failed ones, and, when no SMTP server is configured, the dev mailbox (rendered messages
//! with clickable links). Bodies are shown only in dev-mailbox mode: with real delivery they
//! hold other people's sign-in links, which staff must not be able to use.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, emails::EmailRow};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::mail;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// One row of the outbox table.
pub struct EmailView {
    id: String,
    to: String,
    subject: String,
    kind: String,
    status: String,
    attempts: i64,
    last_error: String,
    when: String,
    next_attempt: String,
}

impl From<&EmailRow> for EmailView {
    fn from(e: &EmailRow) -> Self {
        let fmt = |ms: i64| db::from_ms(ms).format("%Y-%m-%d %H:%M:%S UTC").to_string();
        Self {
            id: e.id.clone(),
            to: e.to_email.clone(),
            subject: e.subject.clone(),
            kind: e.kind.clone(),
            status: e.status.clone(),
            attempts: e.attempts,
            last_error: e.last_error.clone().unwrap_or_default(),
            when: fmt(e.created_at),
            next_attempt: match (e.status.as_str(), e.next_attempt_at) {
                ("pending", Some(at)) => fmt(at),
                _ => String::new(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/emails.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    dev_mailbox: bool,
    emails: Vec<EmailView>,
    page: i64,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "dashboard/email_row_partial.html")]
struct RowPartial {
    e: EmailView,
}

#[derive(Template)]
#[template(path = "dashboard/email.html")]
struct DetailPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    dev_mailbox: bool,
    e: EmailView,
    from: String,
    reply_to: String,
    message_id: String,
    body_text: String,
    links: Vec<String>,
}

/// `?page=` of the list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
}

/// `GET /dashboard/emails`.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    query: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let paging = Page::fixed(query.page, PER_PAGE)?;
    let page = paging.page;
    let pool = state.db.pool();
    let total = db::emails::count(pool, &staff.vendor.id).await?;
    let rows = db::emails::page(pool, &staff.vendor.id, paging.limit(), paging.offset()).await?;
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Emails"),
            vendor_name: staff.vendor.name,
            user_email: staff.user.email,
            dev_mailbox: state.settings.dev_mailbox(),
            emails: rows.iter().map(EmailView::from).collect(),
            page,
            has_next: paging.has_next(total),
        },
    )
}

async fn load(staff: &Staff, state: &AppState, id: &str) -> Result<EmailRow, HtmlError> {
    Ok(db::emails::by_id(state.db.pool(), &staff.vendor.id, id)
        .await?
        .ok_or(AppError::NotFound)?)
}

/// `GET /dashboard/emails/{id}`.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let email = load(&staff, &state, &id).await?;
    let dev = state.settings.dev_mailbox();
    render(
        StatusCode::OK,
        &DetailPage {
            chrome: Chrome::new(&staff.session, email.subject.clone()),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            dev_mailbox: dev,
            e: EmailView::from(&email),
            from: format!("{} <{}>", email.from_name, email.from_email),
            reply_to: email.reply_to.clone().unwrap_or_default(),
            message_id: email.message_id.clone(),
            links: if dev {
                mail::links(&email.body_text)
            } else {
                Vec::new()
            },
            body_text: if dev { email.body_text } else { String::new() },
        },
    )
}

/// `GET /dashboard/emails/{id}/html`: the HTML part, framed by the detail page. It carries
/// its own CSP: email HTML needs inline styles, and only our own pages may frame it.
pub async fn html(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    if !state.settings.dev_mailbox() {
        return Err(AppError::NotFound.into());
    }
    let email = load(&staff, &state, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            preview_csp(state.settings.base_url.as_str()),
        ))
        .insert_header((
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        ))
        .body(email.body_html))
}

/// The policy of an email preview. Images may come from `https:` and `data:`, and from the
/// installation's own base URL: emails link the vendor's logo there (see
/// [`crate::domain::tenancy::branding::logo_url`]), and on a plain-`http` base URL (local
/// use) `https:` alone blocked it. `'self'` would not do: the sandboxed frame has an opaque
/// origin, so only an explicit origin matches.
pub fn preview_csp(base_url: &str) -> String {
    let own = url::Url::parse(base_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:{own}; \
         frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )
}

/// `POST /dashboard/emails/{id}/retry`: requeue a failed email. HTMX gets the updated row.
pub async fn retry(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    mail::retry(
        &state.db,
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    if req.headers().contains_key("hx-request") {
        let email = load(&staff, &state, &id).await?;
        return render(
            StatusCode::OK,
            &RowPartial {
                e: EmailView::from(&email),
            },
        );
    }
    Ok(see_other(&format!("/dashboard/emails/{id}")))
}

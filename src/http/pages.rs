//! Shared pieces of the HTML surfaces: the page chrome every layout needs, the HTML error
//! type, and a renderer that sets the status code.

use std::fmt;

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;
use crate::http::{assets, session};

/// Data every page layout reads: title, CSRF token, asset URLs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Page title (the layout appends the product or vendor name).
    pub title: String,
    /// The session's CSRF token, for forms and the HTMX header.
    pub csrf: String,
    /// Versioned stylesheet URL.
    pub css_url: String,
    /// Versioned application script URL.
    pub js_url: String,
    /// Versioned HTMX URL.
    pub htmx_url: String,
    /// The signed-in staff member is a viewer: the dashboard layout hides every form and
    /// button that would change something (the server refuses them anyway).
    pub read_only: bool,
}

impl Chrome {
    /// Chrome for a page titled `title`, creating the CSRF token if needed.
    pub fn new(session: &Session, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            csrf: session::csrf_token(session),
            css_url: assets::url("app.css"),
            js_url: assets::url("app.js"),
            htmx_url: assets::url(assets::HTMX),
            read_only: session::staff_read_only(session),
        }
    }

    /// Versioned URL of the favicon (one neutral link icon for the dashboard and every
    /// portal: white-label portals show the vendor's logo in their header, not ours).
    pub fn favicon_url(&self) -> String {
        assets::url("favicon.svg")
    }

    /// The JSON for `hx-headers`, so every HTMX request carries the CSRF token.
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ "X-CSRF-Token": self.csrf }).to_string()
    }
}

/// An error on an HTML surface: a readable page (or a toast for HTMX requests, see
/// `middleware::htmx_errors`), or a redirect to the sign-in page.
#[derive(Debug)]
pub enum HtmlError {
    /// A domain or request error, shown as a page with its status.
    App(AppError),
    /// The page needs a signed-in staff member.
    SignIn,
    /// The page needs a signed-in staff member, who returns to this same-site path after
    /// signing in.
    SignInThen(String),
}

impl From<AppError> for HtmlError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<sqlx::Error> for HtmlError {
    fn from(e: sqlx::Error) -> Self {
        Self::App(e.into())
    }
}

impl From<anyhow::Error> for HtmlError {
    fn from(e: anyhow::Error) -> Self {
        Self::App(e.into())
    }
}

impl fmt::Display for HtmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::App(e) => write!(f, "{}", e.page_message()),
            Self::SignIn | Self::SignInThen(_) => f.write_str("please sign in"),
        }
    }
}

/// The standalone error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Status line, e.g. "404 Not Found".
    pub heading: String,
    /// What happened, for a person.
    pub message: String,
    /// Stylesheet URL.
    pub css_url: String,
}

impl HtmlError {
    /// The message shown to the person.
    pub fn message(&self) -> String {
        match self {
            Self::App(AppError::NotFound) => "This page does not exist.".into(),
            Self::App(AppError::RateLimited { retry_after_secs }) => format!(
                "Too many attempts. Please wait {} minute(s) and try again.",
                retry_after_secs.div_ceil(60)
            ),
            Self::App(AppError::Busy { retry_after_secs }) => format!(
                "The server is busy and nothing was changed. Please try again in {retry_after_secs} seconds."
            ),
            Self::App(e) => e.page_message(),
            Self::SignIn | Self::SignInThen(_) => "Please sign in.".into(),
        }
    }
}

/// The error page's heading, in words (people need no status codes).
fn heading(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "Please check what you entered",
        401 => "Please sign in",
        403 => "Not allowed",
        404 => "Page not found",
        409 => "That cannot be done now",
        413 => "That is too large",
        414 => "That address is too long",
        429 => "Too many attempts",
        503 => "Busy right now",
        s if s >= 500 => "Something went wrong",
        _ => "That did not work",
    }
}

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::App(e) => e.status_code(),
            Self::SignIn | Self::SignInThen(_) => StatusCode::SEE_OTHER,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
            Self::SignInThen(next) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login_then(next)))
                .finish(),
            Self::App(e) => {
                e.log();
                let status = e.status_code();
                let page = ErrorPage {
                    heading: heading(status).to_owned(),
                    message: self.message(),
                    css_url: assets::url("app.css"),
                };
                let mut res = HttpResponse::build(status);
                if let AppError::RateLimited { retry_after_secs }
                | AppError::Busy { retry_after_secs } = e
                {
                    res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                }
                res.content_type("text/html; charset=utf-8")
                    .body(page.render().unwrap_or_else(|_| page.message.clone()))
            }
        }
    }
}

/// The sign-in page that returns to `next` afterwards (plain `/login` when `next` is not a
/// same-site path).
pub fn login_then(next: &str) -> String {
    use crate::domain::tenancy::staff::{safe_next, urlencode};
    match safe_next(next) {
        Some(n) if n != "/dashboard" => format!("/login?next={}", urlencode(n)),
        _ => "/login".into(),
    }
}

/// A program in a chooser (list filters, forms): its id and name.
pub struct ProgramOption {
    /// `prg_...`
    pub id: String,
    /// Its name.
    pub name: String,
}

/// Every program of the vendor, oldest first, for a chooser.
pub async fn program_options(
    db: &crate::db::Db,
    vendor_id: &str,
) -> Result<Vec<ProgramOption>, AppError> {
    Ok(crate::domain::partners::programs::all(db, vendor_id)
        .await?
        .into_iter()
        .map(|p| ProgramOption {
            id: p.row.id,
            name: p.row.name,
        })
        .collect())
}

/// How a person is named on a page: the name, else the email.
pub fn person_label<'a>(name: &'a str, email: &'a str) -> &'a str {
    if name.trim().is_empty() { email } else { name }
}

/// A time (unix ms, UTC) as pages show it: `2026-11-21 12:30`.
pub fn when(ms: i64) -> String {
    crate::db::from_ms(ms).format("%Y-%m-%d %H:%M").to_string()
}

/// A date (unix ms, UTC) as pages show it: `2026-11-21`.
pub fn day(ms: i64) -> String {
    crate::db::from_ms(ms).format("%Y-%m-%d").to_string()
}

/// Renders a template with a chosen status (askama_web's responder always answers 200).
pub fn render<T: Template>(status: StatusCode, template: &T) -> Result<HttpResponse, HtmlError> {
    let body = template
        .render()
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A 303 redirect, the answer to a successful form post (HTMX follows it too).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

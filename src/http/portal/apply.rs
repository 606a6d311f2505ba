//! The public application form (`/apply`), no account needed. A hidden honeypot field
//! catches form-filling bots (they get the thank-you page and nothing is stored), and each
//! client address may submit a limited number of times per hour.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, programs::ProgramRow};
use crate::domain::partners::applications::{self, ApplicationInput, Source};
use crate::domain::values::status::{self, ApplicationStatus};
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, render};
use crate::http::portal::Portal;
use crate::http::{AppState, client};

/// The form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApplyForm {
    program: String,
    email: String,
    name: String,
    company: String,
    website: String,
    reason: String,
    accept_terms: Option<String>,
    /// Honeypot: hidden from people, filled by bots.
    nickname: String,
}

/// `?program=` (a program slug).
#[derive(Debug, Deserialize)]
pub struct ProgramQuery {
    program: Option<String>,
}

struct Choice {
    slug: String,
    name: String,
}

#[derive(Template)]
#[template(path = "portal/apply.html")]
struct ApplyPage {
    chrome: Chrome,
    vendor_name: String,
    /// Portal home and sign-in page, for the header.
    home_url: String,
    login_url: String,
    brand_css: String,
    logo_url: Option<String>,
    action: String,
    /// Other active programs to choose from when there are several.
    choices: Vec<Choice>,
    program_slug: String,
    program_name: String,
    terms_text: String,
    f: ApplyForm,
    error: Option<String>,
    error_field: String,
}

#[derive(Template)]
#[template(path = "portal/applied.html")]
struct ThanksPage {
    chrome: Chrome,
    vendor_name: String,
    /// The program named mid-sentence ([`crate::db::vendors::VendorRow::program_phrase`]).
    program_phrase: String,
    brand_css: String,
    logo_url: Option<String>,
    approved: bool,
}

async fn program(
    state: &AppState,
    portal: &Portal,
    slug: Option<&str>,
) -> Result<(ProgramRow, Vec<Choice>), HtmlError> {
    let all = crate::domain::partners::programs::all(&state.db, &portal.vendor.id).await?;
    let active: Vec<_> = all
        .into_iter()
        .filter(|p| status::program_is_open(&p.row.status))
        .collect();
    let chosen = match slug.filter(|s| !s.is_empty()) {
        Some(s) => db::programs::by_slug(state.db.pool(), &portal.vendor.id, s)
            .await?
            .filter(|p| status::program_is_open(&p.status)),
        None => active.first().map(|p| p.row.clone()),
    };
    let chosen = chosen.ok_or(AppError::NotFound)?;
    let choices = if active.len() > 1 {
        active
            .into_iter()
            .map(|p| Choice {
                slug: p.row.slug,
                name: p.row.name,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok((chosen, choices))
}

fn page(
    portal: &Portal,
    session: &Session,
    program: &ProgramRow,
    choices: Vec<Choice>,
    f: ApplyForm,
    error: Option<&AppError>,
) -> ApplyPage {
    ApplyPage {
        chrome: Chrome::new(session, format!("Apply · {}", portal.name())),
        vendor_name: portal.name().to_owned(),
        home_url: portal.url("/"),
        login_url: portal.url("/login"),
        brand_css: portal.url("/brand.css"),
        logo_url: portal.logo_url(),
        action: portal.url("/apply"),
        choices,
        program_slug: program.slug.clone(),
        program_name: program.name.clone(),
        terms_text: program.terms_text.clone(),
        error: error.map(|e| e.public_message()),
        error_field: error.and_then(|e| e.field()).unwrap_or_default().to_owned(),
        f,
    }
}

/// `GET /apply`.
pub async fn form(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    q: crate::http::extract::Query<ProgramQuery>,
) -> Result<HttpResponse, HtmlError> {
    let (program, choices) = program(&state, &portal, q.program.as_deref()).await?;
    render(
        StatusCode::OK,
        &page(
            &portal,
            &session,
            &program,
            choices,
            ApplyForm::default(),
            None,
        ),
    )
}

/// `POST /apply`.
pub async fn submit(
    req: HttpRequest,
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<ApplyForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let (program, choices) = program(&state, &portal, Some(&f.program)).await?;
    let thanks = |approved| ThanksPage {
        chrome: Chrome::new(&session, format!("Thank you · {}", portal.name())),
        vendor_name: portal.name().to_owned(),
        program_phrase: portal.vendor.program_phrase(),
        brand_css: portal.url("/brand.css"),
        logo_url: portal.logo_url(),
        approved,
    };
    if !f.nickname.is_empty() {
        tracing::info!("application form honeypot filled; dropped");
        return render(StatusCode::OK, &thanks(false));
    }
    applications::check_submission_rate(
        &state.db,
        &client::client_ip(&req, state.settings.trusted_proxy),
    )
    .await?;
    let result = if !program.terms_text.is_empty() && f.accept_terms.is_none() {
        Err(AppError::invalid(
            "accept_terms",
            "please accept the program terms",
        ))
    } else {
        let input = ApplicationInput {
            email: Some(f.email.clone()),
            name: Some(f.name.clone()),
            company: Some(f.company.clone()),
            website: Some(f.website.clone()),
            reason: Some(f.reason.clone()),
            program_id: Some(program.id.clone()),
        };
        // A known address gets the same page as a new one, and an email instead.
        applications::submit_public(
            &state.db,
            &state.sender,
            &portal.vendor,
            &input,
            Source::Portal,
        )
        .await
    };
    match result {
        Ok(done) => render(
            StatusCode::OK,
            &thanks(ApplicationStatus::Approved.is(&done.status)),
        ),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => render(
            e.status_code(),
            &page(&portal, &session, &program, choices, f, Some(&e)),
        ),
        Err(e) => Err(e.into()),
    }
}

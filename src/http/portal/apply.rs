//! The public application form (`/apply`), no account needed. A hidden honeypot field
//! catches form-filling bots (they get the thank-you page and nothing is stored), and each
//! client address may submit a limited number of times per hour.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use std::collections::{BTreeMap, HashMap};

use crate::db::{self, programs::ProgramRow};
use crate::domain::partners::applications::{self, ApplicationInput, Source};
use crate::domain::partners::groups::{self, Group};
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
    /// The partner group applied to (its id); empty: the program's default group.
    group: String,
    /// The rest: answers to the group's questions come as `answer_<key>`.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl ApplyForm {
    fn answers(&self) -> BTreeMap<String, String> {
        self.rest
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("answer_")?.to_owned(), v.clone())))
            .collect()
    }
}

/// `?program=` (a program slug), `?group=` (a partner group's id).
#[derive(Debug, Deserialize)]
pub struct ProgramQuery {
    program: Option<String>,
    group: Option<String>,
}

/// One of the group's questions on the form.
struct Question {
    name: String,
    label: String,
    required: bool,
    kind: &'static str,
    value: String,
    /// The error beside it, when its answer was refused.
    error: Option<String>,
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
    /// The group's id when one was chosen.
    group_id: String,
    questions: Vec<Question>,
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

/// The program and group of the form: the group named by `group` (another vendor's is a
/// 404), else the program named by `slug` (or the first open one) with its default group.
async fn program(
    state: &AppState,
    portal: &Portal,
    slug: Option<&str>,
    group: Option<&str>,
) -> Result<(ProgramRow, Vec<Choice>, Group), HtmlError> {
    let group = match group.filter(|g| !g.is_empty()) {
        Some(id) => Some(groups::get(&state.db, &portal.vendor.id, id).await?),
        None => None,
    };
    let all = crate::domain::partners::programs::all(&state.db, &portal.vendor.id).await?;
    let active: Vec<_> = all
        .into_iter()
        .filter(|p| status::program_is_open(&p.row.status))
        .collect();
    let chosen = match (&group, slug.filter(|s| !s.is_empty())) {
        (Some(g), _) => db::programs::by_id(state.db.pool(), &portal.vendor.id, &g.row.program_id)
            .await?
            .filter(|p| status::program_is_open(&p.status)),
        (None, Some(s)) => db::programs::by_slug(state.db.pool(), &portal.vendor.id, s)
            .await?
            .filter(|p| status::program_is_open(&p.status)),
        (None, None) => active.first().map(|p| p.row.clone()),
    };
    let chosen = chosen.ok_or(AppError::NotFound)?;
    let group = match group {
        Some(g) => g,
        None => {
            groups::get(
                &state.db,
                &portal.vendor.id,
                &db::groups::default_group_id(&chosen.id),
            )
            .await?
        }
    };
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
    Ok((chosen, choices, group))
}

fn page(
    portal: &Portal,
    session: &Session,
    (program, choices, group): (&ProgramRow, Vec<Choice>, &Group),
    f: ApplyForm,
    error: Option<&AppError>,
) -> ApplyPage {
    let answers = f.answers();
    let error_field = error.and_then(|e| e.field()).unwrap_or_default();
    let questions = group
        .application_fields()
        .into_iter()
        .map(|q| Question {
            name: format!("answer_{}", q.key),
            value: answers.get(&q.key).cloned().unwrap_or_default(),
            error: (error_field == format!("answers.{}", q.key))
                .then(|| error.map(|e| e.public_message()).unwrap_or_default()),
            label: q.label,
            required: q.required,
            kind: q.kind.as_str(),
        })
        .collect();
    ApplyPage {
        group_id: if group.is_default() {
            String::new()
        } else {
            group.row.id.clone()
        },
        questions,
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
    let (program, choices, group) =
        program(&state, &portal, q.program.as_deref(), q.group.as_deref()).await?;
    render(
        StatusCode::OK,
        &page(
            &portal,
            &session,
            (&program, choices, &group),
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
    let (program, choices, group) =
        program(&state, &portal, Some(&f.program), Some(&f.group)).await?;
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
            group_id: Some(group.row.id.clone()),
            answers: Some(f.answers()),
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
            &page(&portal, &session, (&program, choices, &group), f, Some(&e)),
        ),
        Err(e) => Err(e.into()),
    }
}

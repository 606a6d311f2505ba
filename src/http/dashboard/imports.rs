//! Dashboard: importing another tool's CSV exports (`/dashboard/import`): upload, preview
//! (the dry-run report), confirm. The work is `crate::importers`'; the preview page carries
//! the files back in hidden fields, so confirming imports exactly what was previewed and
//! nothing is stored between the two steps.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use futures_util::StreamExt;

use crate::domain::tenancy::audit::Actor;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, ProgramOption, program_options, render};
use crate::importers::{self, Files, Options, Outcome, Provider, Report};

/// Largest upload, all files together: the CSRF check reads multipart bodies up to 1 MiB.
/// Bigger exports go through `affilia import` on the command line.
pub const MAX_UPLOAD_BYTES: usize = 900 * 1024;

/// Report lines shown on the page (the rest are counted).
const SHOWN_LINES: usize = 300;

/// One report line as shown.
struct ShownLine {
    file: &'static str,
    line: usize,
    subject: &'static str,
    name: String,
    outcome: &'static str,
    detail: String,
}

/// What the form holds (as posted, to redisplay or carry to the confirmation).
#[derive(Debug, Default)]
struct Upload {
    provider: String,
    program_id: String,
    affiliates: String,
    referrals: String,
    commissions: String,
}

#[derive(Template)]
#[template(path = "dashboard/import.html")]
struct Page {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_change: bool,
    providers: Vec<(&'static str, &'static str)>,
    programs: Vec<ProgramOption>,
    upload: Upload,
    error: Option<String>,
    /// The report, once previewed or imported.
    report: Option<Report>,
    /// The report's lines worth showing (not "unchanged" without a note).
    lines: Vec<ShownLine>,
    more_lines: usize,
    max_kib: usize,
}

impl Page {
    fn new(staff: &Staff, programs: Vec<ProgramOption>, upload: Upload) -> Self {
        Self {
            chrome: Chrome::new(&staff.session, "Import from another tool"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            can_change: staff.can_change(),
            providers: Provider::ALL
                .iter()
                .map(|p| (p.as_str(), p.label()))
                .collect(),
            programs,
            upload,
            error: None,
            report: None,
            lines: Vec::new(),
            more_lines: 0,
            max_kib: MAX_UPLOAD_BYTES / 1024,
        }
    }

    fn with_report(mut self, report: Report) -> Self {
        let worth: Vec<&importers::Line> = report
            .lines
            .iter()
            .filter(|l| l.outcome != Outcome::Unchanged || l.detail.is_some())
            .collect();
        self.more_lines = worth.len().saturating_sub(SHOWN_LINES);
        self.lines = worth
            .into_iter()
            .take(SHOWN_LINES)
            .map(|l| ShownLine {
                file: l.file.as_str(),
                line: l.line,
                subject: l.subject.as_str(),
                name: l.name.clone(),
                outcome: l.outcome.as_str(),
                detail: l.detail.clone().unwrap_or_default(),
            })
            .collect();
        self.report = Some(report);
        self
    }
}

/// `GET /dashboard/import`.
pub async fn form(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let programs = program_options(&state.db, &staff.vendor.id).await?;
    render(
        StatusCode::OK,
        &Page::new(&staff, programs, Upload::default()),
    )
}

/// `POST /dashboard/import/preview` (multipart: `provider`, `program_id`, the files
/// `affiliates`, `referrals`, `commissions`): the dry-run report, with a confirm button.
pub async fn preview(
    staff: Staff,
    state: web::Data<AppState>,
    parts: Multipart,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    run(staff, state, parts, true).await
}

/// `POST /dashboard/import/confirm` (multipart, the preview's hidden fields): imports.
pub async fn confirm(
    staff: Staff,
    state: web::Data<AppState>,
    parts: Multipart,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    run(staff, state, parts, false).await
}

async fn run(
    staff: Staff,
    state: web::Data<AppState>,
    parts: Multipart,
    dry_run: bool,
) -> Result<HttpResponse, HtmlError> {
    let programs = program_options(&state.db, &staff.vendor.id).await?;
    let upload = match read_upload(parts).await {
        Ok(u) => u,
        Err(e) => {
            let mut page = Page::new(&staff, programs, Upload::default());
            page.error = Some(e.page_message());
            return render(e.status_code(), &page);
        }
    };
    let result = match Provider::parse(&upload.provider) {
        None => Err(AppError::invalid(
            "provider",
            "choose the tool the files come from",
        )),
        Some(_) if upload.affiliates.trim().is_empty() => Err(AppError::invalid(
            "affiliates",
            "choose the affiliates CSV file",
        )),
        Some(provider) => {
            let files = Files {
                affiliates: upload.affiliates.clone(),
                referrals: Some(upload.referrals.clone()).filter(|t| !t.trim().is_empty()),
                commissions: Some(upload.commissions.clone()).filter(|t| !t.trim().is_empty()),
            };
            let opts = Options {
                provider,
                program_id: Some(upload.program_id.as_str()).filter(|p| !p.is_empty()),
                dry_run,
                progress: false,
                actor: &Actor::User(staff.user.id.clone()),
            };
            importers::run(&state.db, &staff.vendor.id, &opts, &files).await
        }
    };
    match result {
        Ok(report) => render(
            StatusCode::OK,
            &Page::new(&staff, programs, upload).with_report(report),
        ),
        Err(e @ (AppError::Invalid { .. } | AppError::TooLarge { .. })) => {
            let mut page = Page::new(&staff, programs, upload);
            page.error = Some(e.page_message());
            render(e.status_code(), &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The form's fields; files and hidden fields alike are read as UTF-8 text.
async fn read_upload(mut parts: Multipart) -> Result<Upload, AppError> {
    let mut upload = Upload::default();
    let mut total = 0usize;
    while let Some(field) = parts.next().await {
        let mut field =
            field.map_err(|e| AppError::BadRequest(format!("could not read the upload: {e}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("could not read the upload: {e}")))?;
            total += chunk.len();
            if total > MAX_UPLOAD_BYTES {
                return Err(AppError::payload_too_large(format!(
                    "the files are larger than {} KiB together: import them with `affilia \
                     import` on the command line",
                    MAX_UPLOAD_BYTES / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let slot = match name.as_str() {
            "provider" => &mut upload.provider,
            "program_id" => &mut upload.program_id,
            "affiliates" => &mut upload.affiliates,
            "referrals" => &mut upload.referrals,
            "commissions" => &mut upload.commissions,
            // The CSRF token was checked by the middleware; other fields are ignored.
            _ => continue,
        };
        *slot = String::from_utf8(body).map_err(|_| {
            AppError::invalid(
                &name,
                format!(
                    "the {name} file is not UTF-8 text: save it as \"CSV UTF-8\" and try again"
                ),
            )
        })?;
    }
    Ok(upload)
}

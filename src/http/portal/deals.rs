//! Deal registration in the portal (`GET/POST /deals`): the affiliate registers a lead and
//! follows what the vendor decided. HTMX swaps the body in place; without script the form
//! posts and redirects.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::attribution::deals::{self, DealInput};
use crate::domain::partners::affiliates;
use crate::domain::values::status;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::portal::dashboard::Choice;
use crate::http::portal::layout::{FormError, SignedIn, Site, is_htmx, signed_in_page};

/// Deals listed (newest first).
const SHOWN: i64 = 100;

/// The deal form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct DealForm {
    /// Program (empty: the first enrollment).
    pub program_id: String,
    /// The lead's email.
    pub lead_email: String,
    /// The lead's name.
    pub lead_name: String,
    /// The lead's company.
    pub company: String,
    /// Context for the vendor.
    pub notes: String,
}

impl DealForm {
    fn to_input(&self) -> DealInput {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        DealInput {
            program_id: some(&self.program_id),
            lead_email: self.lead_email.clone(),
            lead_name: self.lead_name.clone(),
            company: some(&self.company),
            notes: some(&self.notes),
        }
    }
}

/// A registered deal.
#[derive(Debug, Clone)]
pub struct DealView {
    /// Lead name.
    pub lead_name: String,
    /// Lead email.
    pub lead_email: String,
    /// Lead company (may be empty).
    pub company: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// Why it was rejected (may be empty).
    pub reason: String,
    /// Registration day.
    pub created: String,
}

/// The deals body.
#[derive(Debug, Clone)]
pub struct DealsView {
    /// The affiliate's deals, newest first.
    pub deals: Vec<DealView>,
    /// Deals in all.
    pub total: i64,
    /// Programs to register in (empty with a single active one).
    pub programs: Vec<Choice>,
    /// Whether the affiliate may register deals (an active enrollment).
    pub can_register: bool,
    /// Target of the form.
    pub action: String,
    /// The form as typed (empty after a registration).
    pub f: DealForm,
    /// Why the last submission was refused.
    pub error: Option<FormError>,
    /// What just happened.
    pub notice: Option<String>,
}

impl DealsView {
    /// The field the error is about, for `aria-invalid`.
    pub fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }
}

async fn view(
    state: &AppState,
    who: &SignedIn,
    site: &Site,
    f: DealForm,
    notice: Option<String>,
    error: Option<FormError>,
) -> Result<DealsView, AppError> {
    let vendor_id = who.vendor_id();
    let filter = db::deals::Filter {
        vendor_id,
        status: None,
        affiliate_id: Some(&who.affiliate.id),
    };
    let (found, total) = deals::list(&state.db, &filter, SHOWN, 0).await?;
    let enrollments = affiliates::get(&state.db, vendor_id, &who.affiliate.id)
        .await?
        .enrollments;
    let active: Vec<_> = enrollments
        .iter()
        .filter(|e| status::is_active(&e.status))
        .collect();
    let programs = if active.len() > 1 {
        active
            .iter()
            .map(|e| Choice {
                value: e.program_id.clone(),
                label: e.program_name.clone(),
                current: f.program_id == e.program_id,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(DealsView {
        deals: found
            .into_iter()
            .map(|d| DealView {
                lead_name: d.lead_name,
                lead_email: d.lead_email,
                company: d.company.unwrap_or_default(),
                status: d.status,
                reason: d.rejection_reason.unwrap_or_default(),
                created: d.created_at.get(..10).unwrap_or_default().to_owned(),
            })
            .collect(),
        total,
        programs,
        can_register: !active.is_empty(),
        action: site.url("/deals", &[]).unwrap_or_default(),
        f,
        error,
        notice,
    })
}

signed_in_page!(
    /// The deals page.
    DealsPage,
    "portal/deals.html",
    DealsView,
    "deals"
);

#[derive(Template)]
#[template(path = "portal/deals_partial.html")]
struct DealsPartial {
    site: Site,
    v: DealsView,
}

/// `?registered=1` after a registration without HTMX.
#[derive(Debug, Default, Deserialize)]
pub struct Registered {
    registered: Option<String>,
}

/// `GET /deals`.
pub async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Registered>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Deals · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let notice = q
        .registered
        .as_ref()
        .map(|_| "Deal registered. We will email you when it has been reviewed.".to_owned());
    let v = view(&state, &who, &site, DealForm::default(), notice, None).await?;
    render(StatusCode::OK, &DealsPage::new(&who, chrome, site, v))
}

/// `POST /deals`: registers a lead. A refusal (invalid field, lead already registered)
/// is shown above the form as typed.
pub async fn submit(
    req: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<DealForm>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Deals · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let f = form.into_inner();
    let (status, v) =
        match deals::submit(&state.db, who.vendor_id(), &who.affiliate.id, &f.to_input()).await {
            Ok(deal) => {
                let notice = format!(
                    "Deal for {} registered. We will email you when it has been reviewed.",
                    deal.lead_name
                );
                let v = view(&state, &who, &site, DealForm::default(), Some(notice), None).await?;
                (StatusCode::CREATED, v)
            }
            Err(e) => match FormError::of(&e) {
                Some(err) => {
                    let v = view(&state, &who, &site, f, None, Some(err)).await?;
                    (e.status_code(), v)
                }
                None => return Err(e.into()),
            },
        };
    if is_htmx(&req) {
        return render(status, &DealsPartial { site, v });
    }
    if status.is_success() {
        return Ok(see_other(&who.portal.url("/deals?registered=1")));
    }
    render(status, &DealsPage::new(&who, chrome, site, v))
}

//! The affiliate's campaign links (`GET/POST /links` of the portal, and the `links` embed):
//! the list with copy buttons and the form that creates one (HTMX swaps the body in place;
//! without script the form posts and redirects).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{affiliates::AffiliateRow, vendors::VendorRow};
use crate::domain::attribution::links::{self, LinkInput};
use crate::domain::partners::affiliates;
use crate::domain::values::status;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::portal::dashboard::Choice;
use crate::http::portal::layout::{FormError, SignedIn, Site, is_htmx, signed_in_page};

/// The link form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    /// Program (empty: the first enrollment).
    pub program_id: String,
    /// Campaign name.
    pub name: String,
    /// Path segment (empty: derived from the name).
    pub slug: String,
    /// Destination (empty: the program's landing page).
    pub destination_url: String,
    /// The affiliate's own tracking id.
    pub sub_id: String,
}

impl LinkForm {
    fn to_input(&self) -> LinkInput {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        LinkInput {
            program_id: some(&self.program_id),
            name: self.name.clone(),
            slug: some(&self.slug),
            destination_url: some(&self.destination_url),
            sub_id: some(&self.sub_id),
        }
    }
}

/// A link in the list.
#[derive(Debug, Clone)]
pub struct LinkView {
    /// Campaign name.
    pub name: String,
    /// Program name.
    pub program: String,
    /// The shareable URL.
    pub url: String,
    /// Where it leads (empty: the program's landing page).
    pub destination: String,
    /// Sub-id (may be empty).
    pub sub_id: String,
    /// Creation day.
    pub created: String,
}

/// The links body, shared by the portal page and the embed.
#[derive(Debug, Clone)]
pub struct LinksView {
    /// The affiliate's links, newest first.
    pub links: Vec<LinkView>,
    /// Programs to create a link in (empty with a single active one).
    pub programs: Vec<Choice>,
    /// Whether the affiliate may create links (an active enrollment).
    pub can_create: bool,
    /// Target of the form.
    pub action: String,
    /// The form as typed (empty after a creation).
    pub f: LinkForm,
    /// Why the last submission was refused.
    pub error: Option<FormError>,
    /// What just happened.
    pub notice: Option<String>,
}

impl LinksView {
    /// The field the error is about, for `aria-invalid`.
    pub fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }
}

/// Builds the links body.
pub async fn view(
    state: &AppState,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    site: &Site,
    f: LinkForm,
    notice: Option<String>,
    error: Option<FormError>,
) -> Result<LinksView, AppError> {
    let enrollments = affiliates::get(&state.db, &vendor.id, &affiliate.id)
        .await?
        .enrollments;
    let program_name = |id: &str| {
        enrollments
            .iter()
            .find(|e| e.program_id == id)
            .map(|e| e.program_name.clone())
            .unwrap_or_default()
    };
    let list = links::list(&state.db, &state.sender.base_url, &vendor.id, &affiliate.id).await?;
    let links = list
        .into_iter()
        .map(|l| LinkView {
            program: program_name(&l.program_id),
            name: l.name,
            url: l.url,
            destination: l.destination_url.unwrap_or_default(),
            sub_id: l.sub_id.unwrap_or_default(),
            created: l.created_at.get(..10).unwrap_or_default().to_owned(),
        })
        .collect();
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
    Ok(LinksView {
        links,
        programs,
        can_create: !active.is_empty(),
        action: site.url("/links", &[]).unwrap_or_default(),
        f,
        error,
        notice,
    })
}

/// Creates a link from the form. A refusal the form can show comes back as the view with
/// the message, the form as typed, and the status to answer with.
pub async fn create(
    state: &AppState,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    site: &Site,
    f: LinkForm,
) -> Result<(StatusCode, LinksView), AppError> {
    match links::create(
        &state.db,
        &state.sender.base_url,
        &vendor.id,
        &affiliate.id,
        &f.to_input(),
    )
    .await
    {
        Ok(link) => {
            let notice = format!("Link “{}” created: {}", link.name, link.url);
            let v = view(
                state,
                vendor,
                affiliate,
                site,
                LinkForm::default(),
                Some(notice),
                None,
            )
            .await?;
            Ok((StatusCode::CREATED, v))
        }
        Err(e) => match FormError::of(&e) {
            Some(err) => {
                let v = view(state, vendor, affiliate, site, f, None, Some(err)).await?;
                Ok((e.status_code(), v))
            }
            None => Err(e),
        },
    }
}

signed_in_page!(
    /// The links page.
    LinksPage,
    "portal/links.html",
    LinksView,
    "links"
);

/// The links body alone, for HTMX.
#[derive(Template)]
#[template(path = "portal/links_partial.html")]
pub struct LinksPartial {
    /// Where it is shown.
    pub site: Site,
    /// The body.
    pub v: LinksView,
}

/// `?created=1` after a creation without HTMX.
#[derive(Debug, Default, Deserialize)]
pub struct Created {
    created: Option<String>,
}

/// `GET /links`.
pub async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Created>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Links · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let notice = q.created.as_ref().map(|_| "Link created.".to_owned());
    let v = view(
        &state,
        &who.portal.vendor,
        &who.affiliate,
        &site,
        LinkForm::default(),
        notice,
        None,
    )
    .await?;
    render(StatusCode::OK, &LinksPage::new(&who, chrome, site, v))
}

/// `POST /links`: creates a link. HTMX gets the refreshed body (with the message of a
/// refusal); a plain post is redirected to the list, or shown the form again.
pub async fn submit(
    req: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<LinkForm>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Links · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let (status, v) = create(
        &state,
        &who.portal.vendor,
        &who.affiliate,
        &site,
        form.into_inner(),
    )
    .await?;
    if is_htmx(&req) {
        return render(status, &LinksPartial { site, v });
    }
    if status.is_success() {
        return Ok(see_other(&who.portal.url("/links?created=1")));
    }
    render(status, &LinksPage::new(&who, chrome, site, v))
}

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
    /// Counted clicks.
    pub clicks: i64,
    /// Customers referred through it.
    pub referrals: i64,
    /// Their conversions.
    pub conversions: i64,
    /// Commission earned through it, in words ("12.50 USD").
    pub commission: String,
    /// Whether it is archived.
    pub archived: bool,
    /// Its edit page.
    pub edit_url: Option<String>,
    /// Target of its archive (or, when archived, restore) form.
    pub archive_url: Option<String>,
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
    /// Whether the archived links are listed (instead of the others).
    pub show_archived: bool,
    /// How many links are archived.
    pub archived_count: usize,
    /// The list of archived links.
    pub archived_url: Option<String>,
    /// The list of current links.
    pub current_url: Option<String>,
}

impl LinksView {
    /// The field the error is about, for `aria-invalid`.
    pub fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }
}

/// Builds the links body (the current links).
pub async fn view(
    state: &AppState,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    site: &Site,
    f: LinkForm,
    notice: Option<String>,
    error: Option<FormError>,
) -> Result<LinksView, AppError> {
    view_of(state, vendor, affiliate, site, f, notice, error, false).await
}

/// Builds the links body: the current links, or the archived ones.
#[allow(clippy::too_many_arguments)] // the view's parts, each needed once
pub async fn view_of(
    state: &AppState,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    site: &Site,
    f: LinkForm,
    notice: Option<String>,
    error: Option<FormError>,
    show_archived: bool,
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
    let list = links::list(
        &state.db,
        &state.sender.base_url,
        &vendor.id,
        &affiliate.id,
        true,
    )
    .await?;
    let archived_count = list.iter().filter(|l| l.archived).count();
    let portal_url = |path: String| site.url(&path, &[]);
    let links = list
        .into_iter()
        .filter(|l| l.archived == show_archived)
        .map(|l| LinkView {
            clicks: l.stats.clicks,
            referrals: l.stats.referrals,
            conversions: l.stats.conversions,
            commission: l.stats.commission_text(),
            archived: l.archived,
            edit_url: portal_url(format!("/links/{}", l.id)),
            archive_url: portal_url(format!(
                "/links/{}/{}",
                l.id,
                if l.archived { "restore" } else { "archive" }
            )),
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
        show_archived,
        archived_count,
        archived_url: site.url("/links", &[("archived", "1")]),
        current_url: portal_url("/links".to_owned()),
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

/// `?created=1` after a creation without HTMX, `?archived=1` for the archived links,
/// `?done=saved|archived|restored` after an edit.
#[derive(Debug, Default, Deserialize)]
pub struct Created {
    created: Option<String>,
    archived: Option<String>,
    done: Option<String>,
}

/// The list's notice after a change (`?created=1`, `?done=saved|archived|restored`).
pub fn notice(created: Option<&str>, done: Option<&str>) -> Option<String> {
    match (created, done) {
        (Some(_), _) => Some("Link created.".to_owned()),
        (_, Some("saved")) => Some("Link saved.".to_owned()),
        (_, Some("archived")) => Some(
            "Link archived: it is hidden from this list and keeps working wherever you shared it."
                .to_owned(),
        ),
        (_, Some("restored")) => Some("Link restored.".to_owned()),
        _ => None,
    }
}

/// `GET /links`.
pub async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Created>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Links · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let notice = notice(q.created.as_deref(), q.done.as_deref());
    let v = view_of(
        &state,
        &who.portal.vendor,
        &who.affiliate,
        &site,
        LinkForm::default(),
        notice,
        None,
        q.archived.is_some(),
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

/// The edit form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct EditForm {
    /// Campaign name.
    pub name: String,
    /// Destination (empty: the program's landing page).
    pub destination_url: String,
    /// Sub-id (empty: none).
    pub sub_id: String,
}

/// The edit body of one link (its figures, the edit form and the archive form), shared by
/// the portal page and the embed.
pub struct EditView {
    /// The link as stored (URL, figures).
    pub link: links::Link,
    /// Its figures' commission in words.
    pub commission: String,
    /// The form as typed.
    pub f: EditForm,
    /// Target of the edit form.
    pub action: String,
    /// Target of the archive (or restore) form.
    pub archive_url: String,
    /// The list the link is in.
    pub back_url: String,
    /// Why the last submission was refused.
    pub error: Option<FormError>,
}

impl EditView {
    /// The field the error is about, for `aria-invalid`.
    pub fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }

    fn new(site: &Site, link: links::Link, f: EditForm, error: Option<FormError>) -> Self {
        let url = |path: String, q: &[(&str, &str)]| site.url(&path, q).unwrap_or_default();
        let back_q: &[(&str, &str)] = if link.archived {
            &[("archived", "1")]
        } else {
            &[]
        };
        Self {
            commission: link.stats.commission_text(),
            action: url(format!("/links/{}", link.id), &[]),
            archive_url: url(
                format!(
                    "/links/{}/{}",
                    link.id,
                    if link.archived { "restore" } else { "archive" }
                ),
                &[],
            ),
            back_url: url("/links".to_owned(), back_q),
            link,
            f,
            error,
        }
    }
}

/// The edit page of one link.
#[derive(Template)]
#[template(path = "portal/link_edit.html")]
struct EditPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: crate::http::portal::layout::Shell,
    site: Site,
    v: EditView,
}

fn edit_page(who: &SignedIn, link: links::Link, f: EditForm, error: Option<FormError>) -> EditPage {
    let chrome = Chrome::new(
        &who.session,
        format!("{} · Links · {}", link.name, who.portal.name()),
    );
    let site = Site::portal(&who.portal, &chrome);
    EditPage {
        vendor_name: who.portal.name().to_owned(),
        brand_css: who.portal.url("/brand.css"),
        shell: crate::http::portal::layout::Shell::new(&who.portal, &who.affiliate, "links"),
        v: EditView::new(&site, link, f, error),
        chrome,
        site,
    }
}

/// The edit body of one of the affiliate's links with its stored values (the portal page
/// and the embed). Another affiliate's link is a 404.
pub async fn edit_view(
    state: &AppState,
    vendor_id: &str,
    affiliate_id: &str,
    site: &Site,
    id: &str,
) -> Result<EditView, AppError> {
    let link = links::get(
        &state.db,
        &state.sender.base_url,
        vendor_id,
        affiliate_id,
        id,
    )
    .await?;
    let f = EditForm {
        name: link.name.clone(),
        destination_url: link.destination_url.clone().unwrap_or_default(),
        sub_id: link.sub_id.clone().unwrap_or_default(),
    };
    Ok(EditView::new(site, link, f, None))
}

/// Saves an edit. `Ok(None)`: saved; `Ok(Some(..))`: a refused value, with the body to show
/// again (the form as typed, the message beside its field) and the status; nothing changed.
pub async fn save_edit(
    state: &AppState,
    vendor_id: &str,
    affiliate_id: &str,
    site: &Site,
    id: &str,
    f: EditForm,
) -> Result<Option<(StatusCode, EditView)>, AppError> {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = links::LinkUpdate {
        name: Some(f.name.clone()),
        destination_url: Some(some(&f.destination_url)),
        sub_id: Some(some(&f.sub_id)),
    };
    let (db, base) = (&state.db, state.sender.base_url.as_str());
    match links::update(db, base, vendor_id, affiliate_id, id, &input).await {
        Ok(_) => Ok(None),
        Err(e) => match FormError::of(&e) {
            Some(err) => {
                let link = links::get(db, base, vendor_id, affiliate_id, id).await?;
                Ok(Some((
                    e.status_code(),
                    EditView::new(site, link, f, Some(err)),
                )))
            }
            None => Err(e),
        },
    }
}

/// Archives (hides from the list; it keeps redirecting) or restores one of the affiliate's
/// links; returns the `done` word of the list's notice.
pub async fn set_archived(
    state: &AppState,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
    archived: bool,
) -> Result<&'static str, AppError> {
    links::set_archived(
        &state.db,
        &state.sender.base_url,
        vendor_id,
        affiliate_id,
        id,
        archived,
    )
    .await?;
    Ok(if archived { "archived" } else { "restored" })
}

/// `GET /links/{id}`: a link's figures and its edit form (the path also holds the
/// portal's vendor slug, hence the pair).
pub async fn edit(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, String::new());
    let site = Site::portal(&who.portal, &chrome);
    let v = edit_view(&state, who.vendor_id(), &who.affiliate.id, &site, &path.1).await?;
    render(StatusCode::OK, &edit_page(&who, v.link, v.f, None))
}

/// `POST /links/{id}`: saves the edit form; a refused value is shown beside its field
/// and changes nothing.
pub async fn save(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: crate::http::extract::Form<EditForm>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, String::new());
    let site = Site::portal(&who.portal, &chrome);
    let (vendor_id, affiliate_id) = (who.vendor_id(), who.affiliate.id.as_str());
    match save_edit(
        &state,
        vendor_id,
        affiliate_id,
        &site,
        &path.1,
        form.into_inner(),
    )
    .await?
    {
        None => Ok(see_other(&who.portal.url("/links?done=saved"))),
        Some((status, v)) => render(status, &edit_page(&who, v.link, v.f, v.error)),
    }
}

/// `POST /links/{id}/archive`: hides the link from the list (it keeps redirecting).
pub async fn archive(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    archive_or_restore(&who, &state, &path.1, true).await
}

/// `POST /links/{id}/restore`: brings an archived link back into the list.
pub async fn restore(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    archive_or_restore(&who, &state, &path.1, false).await
}

async fn archive_or_restore(
    who: &SignedIn,
    state: &AppState,
    id: &str,
    archived: bool,
) -> Result<HttpResponse, HtmlError> {
    let done = set_archived(state, who.vendor_id(), &who.affiliate.id, id, archived).await?;
    Ok(see_other(&who.portal.url(&format!("/links?done={done}"))))
}

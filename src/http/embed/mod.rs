//! Iframe embeds: a portal surface inside the vendor's own app.
//!
//! `GET /embed/{surface}?token=...` for `dashboard`, `links` and `payouts`;
//! `POST /embed/links` creates a link, `GET`/`POST /embed/links/{id}` shows and saves one
//! link's edit form, `POST /embed/links/{id}/archive|restore` hides or restores it (forms
//! carry the token in a hidden field). Browsers block
//! third-party cookies in iframes, so the signed, short-lived affiliate access token
//! authenticates every request instead of the session (the CSRF check exempts `/embed/`).
//! The bodies are the portal's own (`portal/*_partial.html` and the same view builders),
//! without the portal's navigation; every link and form in them carries the token.
//!
//! Every answer sets its own headers: a `Content-Security-Policy` whose `frame-ancestors`
//! lists exactly the vendor's allowed origins (`'none'` when it has none, or when the token
//! is not genuine), `Referrer-Policy: no-referrer` (the URL holds the token) and
//! `Cache-Control: no-store`. An expired token still names its vendor, so the page saying
//! so can be shown inside that vendor's app.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, Scope, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, affiliates::AffiliateRow, vendors::VendorRow};
use crate::domain::access::portal_access::EMBED_SURFACES;
use crate::domain::{partners::affiliates, tenancy::vendors};
use crate::error::AppError;
use crate::http::middleware::host_routing::PortalHost;
use crate::http::middleware::security_headers::embed_csp;
use crate::http::pages::{Chrome, HtmlError, see_other};
use crate::http::portal::dashboard::{self, DashboardQuery, DashboardView};
use crate::http::portal::layout::{Site, is_htmx};
use crate::http::portal::links::{self, EditForm, EditView, LinkForm, LinksPartial, LinksView};
use crate::http::portal::payouts::{self, PayoutsView};
use crate::http::route_table::{self, RouteTable};
use crate::http::{AppState, assets};
use crate::route;

/// The embed routes, relative to `/embed`: the one place they are declared. Every one is
/// authenticated by the affiliate access token it carries.
pub fn table() -> RouteTable {
    RouteTable {
        name: "embed",
        prefix: "/embed",
        routes: vec![
            route!(POST "/links" => create_link, route_table::Access::EmbedToken),
            route!(GET "/links/{id}" => edit_link, route_table::Access::EmbedToken),
            route!(POST "/links/{id}" => save_link, route_table::Access::EmbedToken),
            route!(POST "/links/{id}/archive" => archive_link, route_table::Access::EmbedToken),
            route!(POST "/links/{id}/restore" => restore_link, route_table::Access::EmbedToken),
            route!(GET "/{surface}" => show, route_table::Access::EmbedToken),
        ],
    }
}

/// The embed scope.
pub fn scope() -> Scope {
    let table = table();
    web::scope(table.prefix)
        .configure(|cfg| table.register(cfg))
        .default_service(web::to(unknown))
}

/// `?token=` and the surfaces' own parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmbedQuery {
    /// The affiliate access token.
    pub token: String,
    /// Dashboard period preset.
    pub period: Option<String>,
    /// Dashboard program filter.
    pub program: Option<String>,
    /// Payout history page.
    pub page: Option<i64>,
    /// Set after a link was created.
    pub created: Option<String>,
    /// After a link was saved, archived or restored (`saved`, `archived`, `restored`).
    pub done: Option<String>,
    /// Lists the archived links instead of the others.
    pub archived: Option<String>,
}

/// The link form of `POST /embed/links`, with its token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmbedLinkForm {
    /// The affiliate access token.
    pub token: String,
    /// The link.
    #[serde(flatten)]
    pub link: LinkForm,
}

/// Who an accepted token speaks for.
struct Access {
    vendor: VendorRow,
    affiliate: AffiliateRow,
    token: String,
}

/// Checks a token. `Err` carries the origins that may frame the refusal: the vendor's for
/// a genuine token (expired, or its affiliate may no longer sign in), none otherwise. On a
/// vendor's own portal domain only that vendor's tokens are accepted, so one vendor's
/// domain never shows another vendor's data.
async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<Result<Access, Vec<String>>, AppError> {
    let Some(claims) = state.affiliate_tokens.decode(token) else {
        return Ok(Err(Vec::new()));
    };
    let host_vendor = req
        .extensions()
        .get::<PortalHost>()
        .map(|h| h.vendor.id.clone());
    if host_vendor.is_some_and(|v| v != claims.vendor_id) {
        return Ok(Err(Vec::new()));
    }
    let vendor = match vendors::find(&state.db, &claims.vendor_id).await {
        Ok(v) => v,
        Err(AppError::NotFound) => return Ok(Err(Vec::new())),
        Err(e) => return Err(e),
    };
    if state.affiliate_tokens.verify(token, db::now_ms()).is_none() {
        return Ok(Err(vendor.embed_origins()));
    }
    match affiliates::signed_in(&state.db, &vendor.id, &claims.affiliate_id).await? {
        Some(affiliate) => Ok(Ok(Access {
            vendor,
            affiliate,
            token: token.to_owned(),
        })),
        None => Ok(Err(vendor.embed_origins())),
    }
}

/// Adds the embed headers to an answer.
fn finish(mut res: HttpResponse, origins: &[String]) -> HttpResponse {
    let headers = res.headers_mut();
    let set = |headers: &mut actix_web::http::header::HeaderMap, name, value: &str| {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        &embed_csp(origins),
    );
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    res
}

fn html<T: Template>(status: StatusCode, page: &T, origins: &[String]) -> HttpResponse {
    let res = match crate::http::pages::render(status, page) {
        Ok(res) => res,
        Err(e) => e.error_response(),
    };
    finish(res, origins)
}

fn error(e: AppError, origins: &[String]) -> HttpResponse {
    finish(HtmlError::App(e).error_response(), origins)
}

#[derive(Template)]
#[template(path = "embed/expired.html")]
struct ExpiredPage {
    css_url: String,
}

/// 401: the token expired, was revoked with its affiliate, or is not ours.
fn expired(origins: &[String]) -> HttpResponse {
    html(
        StatusCode::UNAUTHORIZED,
        &ExpiredPage {
            css_url: assets::url("app.css"),
        },
        origins,
    )
}

/// The chrome of an embed page: assets and title, no session (and so no cookie).
fn chrome(title: String) -> Chrome {
    Chrome {
        title,
        csrf: String::new(),
        css_url: assets::url("app.css"),
        js_url: assets::url("app.js"),
        htmx_url: assets::url(assets::HTMX),
        read_only: false,
    }
}

/// Where the vendor's portal routes (brand stylesheet, logo) are on this host: the root of
/// its own portal domain, `/p/{slug}` elsewhere.
fn brand_css(req: &HttpRequest, vendor: &VendorRow) -> String {
    match req.extensions().get::<PortalHost>() {
        Some(h) if h.vendor.id == vendor.id => "/brand.css".to_owned(),
        _ => format!("/p/{}/brand.css", vendor.slug),
    }
}

#[derive(Template)]
#[template(path = "embed/dashboard.html")]
struct DashboardEmbed {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    site: Site,
    v: DashboardView,
}

#[derive(Template)]
#[template(path = "embed/links.html")]
struct LinksEmbed {
    chrome: Chrome,
    brand_css: String,
    site: Site,
    v: LinksView,
}

#[derive(Template)]
#[template(path = "embed/link_edit.html")]
struct LinkEditEmbed {
    chrome: Chrome,
    brand_css: String,
    site: Site,
    v: EditView,
}

#[derive(Template)]
#[template(path = "embed/payouts.html")]
struct PayoutsEmbed {
    chrome: Chrome,
    brand_css: String,
    v: PayoutsView,
}

/// The origins that may frame an answer about `token` before it is checked in full.
async fn origins_of(state: &AppState, token: &str) -> Vec<String> {
    match state.affiliate_tokens.decode(token) {
        Some(c) => match vendors::find(&state.db, &c.vendor_id).await {
            Ok(v) => v.embed_origins(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    }
}

/// `GET /embed/{surface}?token=...`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    surface: web::Path<String>,
    q: crate::http::extract::Query<EmbedQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    let surface = surface.into_inner();
    if !EMBED_SURFACES.contains(&surface.as_str()) {
        return error(AppError::NotFound, &origins_of(&state, &q.token).await);
    }
    let access = match authenticate(&req, &state, &q.token).await {
        Ok(Ok(access)) => access,
        Ok(Err(origins)) => return expired(&origins),
        Err(e) => return error(e, &[]),
    };
    let origins = access.vendor.embed_origins();
    match render_surface(&req, &state, &access, &surface, q).await {
        Ok(res) => finish(res, &origins),
        Err(e) => error(e, &origins),
    }
}

/// A page with status 200.
fn ok_page<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    crate::http::pages::render(StatusCode::OK, page).map_err(|e| match e {
        HtmlError::App(e) => e,
        HtmlError::SignIn | HtmlError::SignInThen(_) => AppError::Unauthorized("sign in".into()),
    })
}

async fn render_surface(
    req: &HttpRequest,
    state: &AppState,
    access: &Access,
    surface: &str,
    q: EmbedQuery,
) -> Result<HttpResponse, AppError> {
    let (vendor, affiliate) = (&access.vendor, &access.affiliate);
    let site = Site::Embed {
        token: access.token.clone(),
    };
    let name = vendor.display_name().to_owned();
    let brand_css = brand_css(req, vendor);
    match surface {
        "dashboard" => {
            let dq = DashboardQuery {
                period: q.period,
                program: q.program,
            };
            let v = dashboard::view(state, vendor, affiliate, &site, &dq).await?;
            ok_page(&DashboardEmbed {
                chrome: chrome(format!("Dashboard · {name}")),
                vendor_name: name,
                brand_css,
                site,
                v,
            })
        }
        "links" => {
            let notice = links::notice(q.created.as_deref(), q.done.as_deref());
            let v = links::view_of(
                state,
                vendor,
                affiliate,
                &site,
                LinkForm::default(),
                notice,
                None,
                q.archived.is_some(),
            )
            .await?;
            ok_page(&LinksEmbed {
                chrome: chrome(format!("Links · {name}")),
                brand_css,
                site,
                v,
            })
        }
        _ => {
            let v = payouts::view(state, vendor, affiliate, &site, q.page).await?;
            ok_page(&PayoutsEmbed {
                chrome: chrome(format!("Payouts · {name}")),
                brand_css,
                v,
            })
        }
    }
}

/// `POST /embed/links`: creates a campaign link for the token's affiliate. HTMX gets the
/// refreshed body; a plain post is redirected to the links surface, or shown the form
/// again with the refusal.
pub async fn create_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<EmbedLinkForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let access = match authenticate(&req, &state, &form.token).await {
        Ok(Ok(access)) => access,
        Ok(Err(origins)) => return expired(&origins),
        Err(e) => return error(e, &[]),
    };
    let origins = access.vendor.embed_origins();
    let site = Site::Embed {
        token: access.token.clone(),
    };
    let created = links::create(&state, &access.vendor, &access.affiliate, &site, form.link).await;
    let (status, v) = match created {
        Ok(done) => done,
        Err(e) => return error(e, &origins),
    };
    if is_htmx(&req) {
        return html(status, &LinksPartial { site, v }, &origins);
    }
    if status.is_success() {
        let to = site
            .url("/links", &[("created", "1")])
            .unwrap_or_else(|| "/embed/links".to_owned());
        return finish(see_other(&to), &origins);
    }
    let name = access.vendor.display_name().to_owned();
    html(
        status,
        &LinksEmbed {
            chrome: chrome(format!("Links · {name}")),
            brand_css: brand_css(&req, &access.vendor),
            site,
            v,
        },
        &origins,
    )
}

/// The token of a form that posts only it (archive, restore).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    /// The affiliate access token.
    pub token: String,
}

/// The edit form of `POST /embed/links/{id}`, with its token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmbedEditForm {
    /// The affiliate access token.
    pub token: String,
    /// The link's new values.
    #[serde(flatten)]
    pub link: EditForm,
}

/// Runs `then` for an accepted token and adds the embed headers to its answer; a token
/// that is not accepted gets the expired page (framable by its vendor when genuine).
async fn with_access<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    then: F,
) -> HttpResponse
where
    F: FnOnce(Access) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, AppError>>,
{
    let access = match authenticate(req, state, token).await {
        Ok(Ok(access)) => access,
        Ok(Err(origins)) => return expired(&origins),
        Err(e) => return error(e, &[]),
    };
    let origins = access.vendor.embed_origins();
    match then(access).await {
        Ok(res) => finish(res, &origins),
        Err(e) => error(e, &origins),
    }
}

fn link_edit_page(
    req: &HttpRequest,
    access: &Access,
    status: StatusCode,
    site: Site,
    v: EditView,
) -> Result<HttpResponse, AppError> {
    let name = access.vendor.display_name();
    crate::http::pages::render(
        status,
        &LinkEditEmbed {
            chrome: chrome(format!("{} · Links · {name}", v.link.name)),
            brand_css: brand_css(req, &access.vendor),
            site,
            v,
        },
    )
    .map_err(|e| match e {
        HtmlError::App(e) => e,
        HtmlError::SignIn | HtmlError::SignInThen(_) => AppError::Unauthorized("sign in".into()),
    })
}

/// The list of links after a change, with its notice.
fn back_to_links(site: &Site, done: &str) -> HttpResponse {
    let to = site
        .url("/links", &[("done", done)])
        .unwrap_or_else(|| "/embed/links".to_owned());
    see_other(&to)
}

/// `GET /embed/links/{id}?token=...`: one link's figures and its edit form.
pub async fn edit_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<EmbedQuery>,
) -> HttpResponse {
    let token = q.into_inner().token;
    let (req, state, id) = (&req, &state, id.as_str());
    with_access(req, state, &token, |access| async move {
        let site = Site::Embed {
            token: access.token.clone(),
        };
        let (vendor_id, affiliate_id) = (&access.vendor.id, &access.affiliate.id);
        let v = links::edit_view(state, vendor_id, affiliate_id, &site, id).await?;
        link_edit_page(req, &access, StatusCode::OK, site, v)
    })
    .await
}

/// `POST /embed/links/{id}`: saves the edit form; a refused value is shown beside its field
/// and changes nothing.
pub async fn save_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<EmbedEditForm>,
) -> HttpResponse {
    let EmbedEditForm { token, link } = form.into_inner();
    let (req, state, id) = (&req, &state, id.as_str());
    with_access(req, state, &token, |access| async move {
        let site = Site::Embed {
            token: access.token.clone(),
        };
        let (vendor_id, affiliate_id) = (&access.vendor.id, &access.affiliate.id);
        match links::save_edit(state, vendor_id, affiliate_id, &site, id, link).await? {
            None => Ok(back_to_links(&site, "saved")),
            Some((status, v)) => link_edit_page(req, &access, status, site, v),
        }
    })
    .await
}

/// `POST /embed/links/{id}/archive`: hides the link from the list (it keeps redirecting).
pub async fn archive_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<TokenForm>,
) -> HttpResponse {
    set_link_archived(&req, &state, &id, &form.token, true).await
}

/// `POST /embed/links/{id}/restore`: brings an archived link back into the list.
pub async fn restore_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<TokenForm>,
) -> HttpResponse {
    set_link_archived(&req, &state, &id, &form.token, false).await
}

async fn set_link_archived(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    token: &str,
    archived: bool,
) -> HttpResponse {
    with_access(req, state, token, |access| async move {
        let site = Site::Embed {
            token: access.token.clone(),
        };
        let (vendor_id, affiliate_id) = (&access.vendor.id, &access.affiliate.id);
        let done = links::set_archived(state, vendor_id, affiliate_id, id, archived).await?;
        Ok(back_to_links(&site, done))
    })
    .await
}

/// Any other path under `/embed/`.
async fn unknown() -> HttpResponse {
    error(AppError::NotFound, &[])
}

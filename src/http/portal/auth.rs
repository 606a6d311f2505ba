//! Portal sign-in: the magic-link form, the page behind every emailed link (magic links,
//! invitations, welcome links, applicant links), signed portal links from the vendor's app,
//! the applicant's status page, and sign-out. The rules live in `domain::access::portal_login`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::access::portal_login::{self, Grant};
use crate::domain::partners::programs;
use crate::domain::tenancy::sign_ins;
use crate::domain::values::status::AffiliateStatus;
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, day, render, see_other};
use crate::http::portal::Portal;
use crate::http::{AppState, session};

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    chrome: Chrome,
    vendor_name: String,
    /// The program named mid-sentence.
    program_phrase: String,
    brand_css: String,
    logo_url: Option<String>,
    action: String,
    email: String,
    error: Option<String>,
    /// The link was asked for: show "check your email".
    sent: bool,
}

impl LoginPage {
    fn new(portal: &Portal, session: &Session) -> Self {
        Self {
            chrome: Chrome::new(session, format!("Sign in · {}", portal.name())),
            vendor_name: portal.name().to_owned(),
            program_phrase: portal.vendor.program_phrase(),
            brand_css: portal.url("/brand.css"),
            logo_url: portal.logo_url(),
            action: portal.url("/login"),
            email: String::new(),
            error: None,
            sent: false,
        }
    }
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
}

/// `GET /login`: the email form (the dashboard when already signed in).
pub async fn form(portal: Portal, session: Session) -> Result<HttpResponse, HtmlError> {
    if session::affiliate(&session, &portal.vendor.id).is_some() {
        return Ok(see_other(&portal.url("/")));
    }
    render(StatusCode::OK, &LoginPage::new(&portal, &session))
}

/// `POST /login`: emails a link when the address is known, and answers the same either
/// way. Only a malformed address is answered differently (it reveals nothing).
pub async fn request(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<LoginForm>,
) -> Result<HttpResponse, HtmlError> {
    let root = portal.absolute_url(&state.sender.base_url, "/");
    let mut page = LoginPage::new(&portal, &session);
    match portal_login::request_link(&state.db, &portal.vendor, &form.email, &root).await {
        Ok(()) => {
            page.sent = true;
            page.email = form.email.trim().to_owned();
            render(StatusCode::OK, &page)
        }
        Err(AppError::Invalid { message, .. }) => {
            page.error = Some(message);
            page.email = form.email.clone();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/link.html")]
struct LinkPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    logo_url: Option<String>,
    /// What the link does, when it still works: heading, explanation, button label.
    offer: Option<(String, String, String)>,
    /// Where the button posts.
    action: String,
    /// Where a new link can be asked for.
    login_action: String,
    /// Why the link does not work, when it does not.
    problem: String,
}

impl LinkPage {
    fn new(portal: &Portal, session: &Session, action: String) -> Self {
        Self {
            chrome: Chrome::new(session, portal.name().to_owned()),
            vendor_name: portal.name().to_owned(),
            brand_css: portal.url("/brand.css"),
            logo_url: portal.logo_url(),
            offer: None,
            action,
            login_action: portal.url("/login"),
            problem: "Sign-in links work once and expire after 15 minutes; invitations after 7 days. Enter your email to get a new link.".into(),
        }
    }

    /// The page for a link that no longer works: 410 with a form for a new one.
    fn gone(mut self, problem: Option<String>) -> Result<HttpResponse, HtmlError> {
        if let Some(p) = problem {
            self.problem = p;
        }
        self.offer = None;
        render(StatusCode::GONE, &self)
    }
}

/// `GET /login/link/{token}`: what the link will do, behind a button, so mail scanners
/// that open links do not use them up.
pub async fn confirm(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let token = &token.1;
    let mut page = LinkPage::new(
        &portal,
        &session,
        portal.url(&format!("/login/link/{token}")),
    );
    let name = portal.name().to_owned();
    page.offer = match portal_login::peek(&state.db, &portal.vendor.id, token).await? {
        None => return page.gone(None),
        Some(Grant::Affiliate(a)) if AffiliateStatus::Invited.is(&a.status) => Some((
            format!("Join the {name} partner program"),
            format!(
                "Accept the invitation for {} to start referring customers.",
                a.email
            ),
            "Accept invitation".into(),
        )),
        Some(Grant::Affiliate(a)) => Some((
            format!("Sign in to {name}"),
            format!("Continue as {}.", a.email),
            "Sign in".into(),
        )),
        Some(Grant::Applicant { email }) => Some((
            "Your application".into(),
            format!("See the status of the applications made with {email}."),
            "See my application".into(),
        )),
    };
    render(StatusCode::OK, &page)
}

/// `POST /login/link/{token}`: uses the link and signs in.
pub async fn accept(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let page = LinkPage::new(&portal, &session, String::new());
    match portal_login::redeem(&state.db, &portal.vendor.id, &token.1).await {
        Ok(Grant::Affiliate(a)) => {
            session::sign_in_affiliate(&state.db, &session, &portal.vendor.id, &a.id).await?;
            Ok(see_other(&portal.url("/")))
        }
        Ok(Grant::Applicant { email }) => {
            session::sign_in_applicant(&state.db, &session, &portal.vendor.id, &email).await?;
            Ok(see_other(&portal.url("/application")))
        }
        Err(AppError::Conflict { .. } | AppError::NotFound) => page.gone(None),
        Err(AppError::Forbidden(m)) => page.gone(Some(m)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /login/portal/{token}`: a signed portal link from the vendor's app (24 h): signs
/// in at once (the vendor's backend vouches for the person) and drops the token from the
/// address bar by redirecting to the dashboard.
pub async fn portal_link(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let page = LinkPage::new(&portal, &session, String::new());
    match portal_login::redeem_portal_link(
        &state.db,
        &state.affiliate_tokens,
        &portal.vendor.id,
        &token.1,
    )
    .await
    {
        Ok(a) => {
            session::sign_in_affiliate(&state.db, &session, &portal.vendor.id, &a.id).await?;
            Ok(see_other(&portal.url("/")))
        }
        Err(AppError::Conflict { message, .. }) => page.gone(Some(format!(
            "{message} Open the portal again from the app, or enter your email to get a sign-in link."
        ))),
        Err(AppError::Forbidden(m) | AppError::Unauthorized(m)) => page.gone(Some(m)),
        Err(AppError::NotFound) => page.gone(None),
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: this browser's portal sign-in is revoked server-side (a copy of its
/// cookie stops working); the affiliate's other devices stay signed in.
pub async fn logout(portal: Portal, state: web::Data<AppState>, session: Session) -> HttpResponse {
    session::sign_out_affiliate(&state.db, &session, &portal.vendor.id).await;
    see_other(&portal.url("/login"))
}

/// `POST /logout-everywhere`: ends every portal sign-in of this affiliate, on every
/// device, this one included.
pub async fn logout_everywhere(
    signed_in: crate::http::portal::SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    let vendor_id = signed_in.vendor_id().to_owned();
    sign_ins::end_all(
        &state.db,
        &vendor_id,
        sign_ins::AFFILIATE,
        &signed_in.affiliate.id,
    )
    .await?;
    session::sign_out_affiliate(&state.db, &signed_in.session, &vendor_id).await;
    Ok(see_other(&signed_in.portal.url("/login")))
}

struct ApplicationView {
    program: String,
    status: String,
    submitted: String,
    reviewed: Option<String>,
    rejection_reason: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/application.html")]
struct ApplicationPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    logo_url: Option<String>,
    email: String,
    applications: Vec<ApplicationView>,
    apply_url: String,
    logout_url: String,
}

/// `GET /application`: the status of a signed-in applicant's applications (pending, or
/// rejected with the reason). Affiliates go to their dashboard, strangers to sign-in.
pub async fn application(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, HtmlError> {
    let vendor_id = &portal.vendor.id;
    if session::affiliate(&session, vendor_id).is_some() {
        return Ok(see_other(&portal.url("/")));
    }
    let Some((email, token)) = session::applicant_sign_in(&session, vendor_id) else {
        return Ok(see_other(&portal.url("/login")));
    };
    if !sign_ins::is_live(&state.db, vendor_id, sign_ins::APPLICANT, &email, &token).await? {
        session::sign_out_affiliate(&state.db, &session, vendor_id).await;
        return Ok(see_other(&portal.url("/login")));
    }
    let rows = portal_login::applications_of(&state.db, vendor_id, &email).await?;
    let list = programs::all(&state.db, vendor_id).await?;
    let program_name = |id: &str| {
        list.iter()
            .find(|p| p.row.id == id)
            .map(|p| p.row.name.clone())
            .unwrap_or_default()
    };
    let applications = rows
        .into_iter()
        .map(|a| ApplicationView {
            program: program_name(&a.program_id),
            status: a.status,
            submitted: day(a.created_at),
            reviewed: a.reviewed_at.map(day),
            rejection_reason: a.rejection_reason,
        })
        .collect();
    render(
        StatusCode::OK,
        &ApplicationPage {
            chrome: Chrome::new(&session, format!("Your application · {}", portal.name())),
            vendor_name: portal.name().to_owned(),
            brand_css: portal.url("/brand.css"),
            logo_url: portal.logo_url(),
            email,
            applications,
            apply_url: portal.url("/apply"),
            logout_url: portal.url("/logout"),
        },
    )
}

//! Staff sign-in and sign-out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::tenancy::staff;
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::{AppState, client, session};

/// The sign-in form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

/// `?next=` of the sign-in pages: where to go after signing in.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// The page to go to after signing in: `next` when it is a same-site path, else the
/// dashboard (never another site).
fn landing(next: &str) -> String {
    staff::safe_next(next).unwrap_or("/dashboard").to_owned()
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    error: Option<String>,
    /// The same-site path to return to, or empty.
    next: String,
}

/// `GET /login`.
pub async fn form(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, HtmlError> {
    if session::staff(&session).is_some() {
        return Ok(see_other(&landing(&query.next)));
    }
    if !db::vendors::any_exists(state.db.pool()).await? {
        return Ok(see_other("/setup"));
    }
    render(
        StatusCode::OK,
        &LoginPage {
            chrome: Chrome::new(&session, "Sign in"),
            email: String::new(),
            error: None,
            next: staff::safe_next(&query.next).unwrap_or_default().to_owned(),
        },
    )
}

/// `POST /login`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<LoginForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    let client = client::client_ip(&req, state.settings.trusted_proxy);
    match staff::sign_in(&state.db, &form.email, &form.password, &client).await {
        Ok(user) => {
            session::sign_in_staff(
                &state.db,
                &session,
                &user.id,
                &user.vendor_id,
                user.session_epoch,
            )
            .await?;
            tracing::info!(user_id = %user.id, "staff signed in");
            Ok(see_other(&landing(&form.next)))
        }
        Err(AppError::Unauthorized(message)) => render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                chrome: Chrome::new(&session, "Sign in"),
                email: form.email,
                error: Some(message),
                next: staff::safe_next(&form.next).unwrap_or_default().to_owned(),
            },
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: this browser's sign-in is revoked server-side (a copy of its cookie
/// stops working); the person's other devices stay signed in.
pub async fn logout(state: web::Data<AppState>, session: Session) -> HttpResponse {
    session::sign_out_staff(&state.db, &session).await;
    see_other("/login")
}

/// The magic-link request form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    email: String,
    next: String,
}

#[derive(Template)]
#[template(path = "dashboard/check_email.html")]
struct CheckEmailPage {
    chrome: Chrome,
    email: String,
    dev_mailbox: bool,
}

#[derive(Template)]
#[template(path = "dashboard/magic_link.html")]
struct MagicLinkPage {
    chrome: Chrome,
    /// The account the link signs in; `None` when the link is no longer valid.
    email: Option<String>,
    action: String,
}

/// `POST /login/link`: email a sign-in link. The answer never says whether the address has
/// an account.
pub async fn request_link(
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<LinkForm>,
) -> Result<HttpResponse, HtmlError> {
    let next = Some(form.next.as_str()).filter(|n| !n.is_empty());
    staff::request_magic_link(&state.db, &form.email, next).await?;
    render(
        StatusCode::OK,
        &CheckEmailPage {
            chrome: Chrome::new(&session, "Check your email"),
            email: form.email.trim().to_owned(),
            dev_mailbox: state.settings.dev_mailbox(),
        },
    )
}

/// `GET /login/link/{token}`: a confirmation button rather than an immediate sign-in, so
/// mail scanners that prefetch links do not use them up.
pub async fn confirm_link(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, HtmlError> {
    let user = staff::peek_magic_link(&state.db, &token).await?;
    let status = if user.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    render(
        status,
        &MagicLinkPage {
            chrome: Chrome::new(&session, "Sign in"),
            email: user.map(|u| u.email),
            action: match staff::safe_next(&query.next) {
                Some(next) => format!("/login/link/{token}?next={}", staff::urlencode(next)),
                None => format!("/login/link/{token}"),
            },
        },
    )
}

/// `POST /login/link/{token}`: use the link and sign in.
pub async fn use_link(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, HtmlError> {
    match staff::consume_magic_link(&state.db, &token).await {
        Ok(user) => {
            session::sign_in_staff(
                &state.db,
                &session,
                &user.id,
                &user.vendor_id,
                user.session_epoch,
            )
            .await?;
            tracing::info!(user_id = %user.id, "staff signed in by magic link");
            Ok(see_other(&landing(&query.next)))
        }
        Err(AppError::Conflict { .. }) => render(
            StatusCode::GONE,
            &MagicLinkPage {
                chrome: Chrome::new(&session, "Sign in"),
                email: None,
                action: String::new(),
            },
        ),
        Err(e) => Err(e.into()),
    }
}

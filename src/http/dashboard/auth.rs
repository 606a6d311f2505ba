//! Staff sign-in and sign-out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::staff;
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::{AppState, client, session};

/// The sign-in form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    error: Option<String>,
}

/// `GET /login`.
pub async fn form(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, HtmlError> {
    if session::staff(&session).is_some() {
        return Ok(see_other("/dashboard"));
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
        },
    )
}

/// `POST /login`.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    let client = client::client_ip(&req, state.settings.trusted_proxy);
    match staff::sign_in(&state.db, &form.email, &form.password, &client).await {
        Ok(user) => {
            session::sign_in_staff(&session, &user.id, &user.vendor_id)?;
            tracing::info!(user_id = %user.id, "staff signed in");
            Ok(see_other("/dashboard"))
        }
        Err(AppError::Unauthorized(message)) => render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                chrome: Chrome::new(&session, "Sign in"),
                email: form.email,
                error: Some(message),
            },
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`.
pub async fn logout(session: Session) -> HttpResponse {
    session::sign_out(&session);
    see_other("/login")
}

//! First-run setup: the first visitor of a fresh installation creates the vendor, its owner
//! and a default program, and is signed in as the owner.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::partners::onboarding::{self, NewVendor, Origin};
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::{AppState, session};

/// The setup form as posted. Fields default to empty so that a missing field is reported
/// by validation (422, naming the field) rather than as a malformed request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    name: String,
    owner_email: String,
    owner_password: String,
    currency: String,
}

#[derive(Template)]
#[template(path = "dashboard/setup.html")]
struct SetupPage {
    chrome: Chrome,
    name: String,
    owner_email: String,
    currency: String,
    error: Option<String>,
    error_field: String,
}

/// `GET /setup`.
pub async fn form(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, HtmlError> {
    if db::vendors::any_exists(state.db.pool()).await? {
        return Ok(see_other("/login"));
    }
    render(
        StatusCode::OK,
        &SetupPage {
            chrome: Chrome::new(&session, "Set up Affilia"),
            name: String::new(),
            owner_email: String::new(),
            currency: "USD".into(),
            error: None,
            error_field: String::new(),
        },
    )
}

/// `POST /setup`.
pub async fn submit(
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<SetupForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    let input = NewVendor {
        name: form.name.clone(),
        owner_email: form.owner_email.clone(),
        owner_password: form.owner_password,
        currency: form.currency.clone(),
    };
    match onboarding::create(&state.db, input, Origin::FirstRunSetup).await {
        Ok(created) => {
            session::sign_in_staff(
                &state.db,
                &session,
                &created.owner.id,
                &created.vendor.id,
                created.owner.session_epoch,
            )
            .await?;
            Ok(see_other("/dashboard"))
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => render(
            e.status_code(),
            &SetupPage {
                chrome: Chrome::new(&session, "Set up Affilia"),
                error_field: e.field().unwrap_or_default().to_owned(),
                error: Some(e.page_message()),
                name: form.name,
                owner_email: form.owner_email,
                currency: form.currency,
            },
        ),
        Err(e) => Err(e.into()),
    }
}

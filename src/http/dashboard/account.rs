//! The signed-in person's own account (`/dashboard/account`), the password reset by email
//! (`/login/reset`), and joining a team from an invitation (`/join/{token}`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::tenancy::audit::role_label;
use crate::domain::tenancy::team;
use crate::error::AppError;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::{AppState, session};

#[derive(Template)]
#[template(path = "dashboard/account.html")]
struct AccountPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    name: String,
    role: &'static str,
    notice: Option<&'static str>,
    error: String,
    error_field: String,
}

/// `?done=name|password` after a change.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

fn account_page(
    staff: &Staff,
    notice: Option<&'static str>,
    error: Option<&AppError>,
) -> AccountPage {
    AccountPage {
        chrome: Chrome::new(&staff.session, "Your account"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        name: staff.user.name.clone(),
        role: role_label(&staff.user.role),
        notice,
        error: error.map(field_message).unwrap_or_default(),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A field error's message, capitalised as a sentence.
fn field_message(e: &AppError) -> String {
    let m = e.public_message();
    let mut c = m.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => m,
    }
}

/// `GET /dashboard/account`.
pub async fn show(staff: Staff, q: web::Query<Done>) -> Result<HttpResponse, HtmlError> {
    let notice = match q.done.as_str() {
        "name" => Some("Your name is saved."),
        "password" => Some("Your password is changed. Your other sessions were signed out."),
        _ => None,
    };
    render(StatusCode::OK, &account_page(&staff, notice, None))
}

/// The name form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NameForm {
    name: String,
}

/// `POST /dashboard/account/name`.
pub async fn save_name(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<NameForm>,
) -> Result<HttpResponse, HtmlError> {
    match team::rename(&state.db, &staff.user, &form.name).await {
        Ok(_) => Ok(see_other("/dashboard/account?done=name")),
        Err(e @ AppError::Invalid { .. }) => {
            let mut page = account_page(&staff, None, Some(&e));
            page.name = form.name.clone();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The password form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// `POST /dashboard/account/password`: this session stays signed in under the new epoch;
/// every other one ends.
pub async fn change_password(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<PasswordForm>,
) -> Result<HttpResponse, HtmlError> {
    match team::change_password(
        &state.db,
        &staff.user,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(epoch) => {
            session::sign_in_staff(
                &state.db,
                &staff.session,
                &staff.user.id,
                &staff.vendor.id,
                epoch,
            )
            .await?;
            Ok(see_other("/dashboard/account?done=password"))
        }
        Err(e @ AppError::Invalid { .. }) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &account_page(&staff, None, Some(&e)),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/account/sign-out-everywhere`: every session of this person ends, on
/// every instance, this one included.
pub async fn sign_out_everywhere(
    staff: Staff,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    team::sign_out_everywhere(&state.db, &staff.user).await?;
    session::sign_out(&staff.session);
    Ok(see_other("/login?signed_out=everywhere"))
}

#[derive(Template)]
#[template(path = "dashboard/reset_request.html")]
struct ResetRequestPage {
    chrome: Chrome,
    sent: bool,
    email: String,
    dev_mailbox: bool,
}

/// `GET /login/reset`: "Forgot password?".
pub async fn reset_form(session: Session) -> Result<HttpResponse, HtmlError> {
    render(
        StatusCode::OK,
        &ResetRequestPage {
            chrome: Chrome::new(&session, "Reset your password"),
            sent: false,
            email: String::new(),
            dev_mailbox: false,
        },
    )
}

/// The reset request form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetRequestForm {
    email: String,
}

/// `POST /login/reset`: the same answer whether or not the address has an account.
pub async fn reset_request(
    state: web::Data<AppState>,
    session: Session,
    form: crate::http::extract::Form<ResetRequestForm>,
) -> Result<HttpResponse, HtmlError> {
    team::request_password_reset(&state.db, &state.sender, &form.email).await?;
    render(
        StatusCode::OK,
        &ResetRequestPage {
            chrome: Chrome::new(&session, "Check your email"),
            sent: true,
            email: form.email.trim().to_owned(),
            dev_mailbox: state.settings.dev_mailbox(),
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/reset_password.html")]
struct ResetPage {
    chrome: Chrome,
    /// The account; `None` when the link no longer works.
    email: Option<String>,
    action: String,
    error: Option<String>,
}

/// `GET /login/reset/{token}`: the new-password form (nothing is used up by opening it).
pub async fn reset_page(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let user = team::peek_reset(&state.db, &token).await?;
    let status = if user.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    render(
        status,
        &ResetPage {
            chrome: Chrome::new(&session, "Choose a new password"),
            email: user.map(|u| u.email),
            action: format!("/login/reset/{token}"),
            error: None,
        },
    )
}

/// The new-password form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewPasswordForm {
    password: String,
}

/// `POST /login/reset/{token}`: sets the password, ends every session, and signs this
/// browser in.
pub async fn reset_submit(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    form: crate::http::extract::Form<NewPasswordForm>,
) -> Result<HttpResponse, HtmlError> {
    match team::reset_with_token(&state.db, &token, &form.password).await {
        Ok(user) => {
            let fresh = db::users::by_id(state.db.pool(), &user.vendor_id, &user.id)
                .await?
                .ok_or(HtmlError::SignIn)?;
            session::sign_in_staff(
                &state.db,
                &session,
                &fresh.id,
                &fresh.vendor_id,
                fresh.session_epoch,
            )
            .await?;
            Ok(see_other("/dashboard"))
        }
        Err(e @ AppError::Invalid { .. }) => {
            let user = team::peek_reset(&state.db, &token).await?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ResetPage {
                    chrome: Chrome::new(&session, "Choose a new password"),
                    email: user.map(|u| u.email),
                    action: format!("/login/reset/{token}"),
                    error: Some(field_message(&e)),
                },
            )
        }
        Err(AppError::Conflict { .. }) => render(
            StatusCode::GONE,
            &ResetPage {
                chrome: Chrome::new(&session, "Choose a new password"),
                email: None,
                action: String::new(),
                error: None,
            },
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "dashboard/join.html")]
struct JoinPage {
    chrome: Chrome,
    vendor_name: String,
    /// The invited address; `None` when the invitation no longer works.
    email: Option<String>,
    role: &'static str,
    name: String,
    action: String,
    error: String,
    error_field: String,
}

async fn join_page(
    state: &AppState,
    session: &Session,
    token: &str,
    name: String,
    error: Option<&AppError>,
) -> Result<(bool, JoinPage), HtmlError> {
    let invite = team::peek_invite(&state.db, token).await?;
    let valid = invite.is_some();
    let (email, role, vendor_name) = match invite {
        Some((user, vendor)) => (Some(user.email), role_label(&user.role), vendor.name),
        None => (None, "", String::new()),
    };
    Ok((
        valid,
        JoinPage {
            chrome: Chrome::new(session, "Join the team"),
            vendor_name,
            email,
            role,
            name,
            action: format!("/join/{token}"),
            error: error.map(field_message).unwrap_or_default(),
            error_field: error
                .and_then(AppError::field)
                .unwrap_or_default()
                .to_owned(),
        },
    ))
}

/// `GET /join/{token}`: the invitation's form (opening it uses nothing up).
pub async fn join_form(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let (valid, page) = join_page(&state, &session, &token, String::new(), None).await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    render(status, &page)
}

/// The join form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JoinForm {
    name: String,
    password: String,
}

/// `POST /join/{token}`: accepts the invitation and signs the new member in.
pub async fn join(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    form: crate::http::extract::Form<JoinForm>,
) -> Result<HttpResponse, HtmlError> {
    match team::accept(&state.db, &token, &form.name, &form.password).await {
        Ok(user) => {
            session::sign_in_staff(
                &state.db,
                &session,
                &user.id,
                &user.vendor_id,
                user.session_epoch,
            )
            .await?;
            tracing::info!(user_id = %user.id, "staff joined from an invitation");
            Ok(see_other("/dashboard"))
        }
        Err(e @ AppError::Invalid { .. }) => {
            let (_, page) =
                join_page(&state, &session, &token, form.name.clone(), Some(&e)).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AppError::Conflict { .. }) => {
            let (_, page) = join_page(&state, &session, &token, String::new(), None).await?;
            render(StatusCode::GONE, &page)
        }
        Err(e) => Err(e.into()),
    }
}

//! `/dashboard/team`: the vendor's staff and invitations. The rules (who manages whom, the
//! last owner) live in [`crate::domain::tenancy::team`]; this only shows and posts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::tenancy::audit::role_label;
use crate::domain::tenancy::team::{self, ROLES, may_manage};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};

/// A role choice in a form.
struct RoleOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct MemberView {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    invited: bool,
    last_sign_in: String,
    /// Whether the signed-in person may change or remove this member.
    manageable: bool,
    is_me: bool,
    roles: Vec<RoleOption>,
}

#[derive(Template)]
#[template(path = "dashboard/team.html")]
struct TeamPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_invite: bool,
    members: Vec<MemberView>,
    invite_roles: Vec<RoleOption>,
    invite_email: String,
    notice: Option<String>,
    error: String,
    error_field: String,
}

/// `?done=` after a change, with the person's address.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
    who: String,
}

fn when(ms: Option<i64>) -> String {
    ms.map(|ms| db::from_ms(ms).format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn role_options(actor_role: &str, current: &str) -> Vec<RoleOption> {
    ROLES
        .iter()
        .filter(|r| may_manage(actor_role, r))
        .map(|r| RoleOption {
            value: r,
            label: role_label(r),
            selected: *r == current,
        })
        .collect()
}

async fn team_page(
    staff: &Staff,
    state: &AppState,
    notice: Option<String>,
    error: Option<&AppError>,
    invite_email: String,
    invite_role: &str,
) -> Result<TeamPage, HtmlError> {
    let me = &staff.user;
    let users = db::users::for_vendor(state.db.pool(), &staff.vendor.id).await?;
    // The server refuses to demote or remove the last active owner; offering the controls
    // would only lead to that refusal, so they are not shown for that person.
    let active_owners = users
        .iter()
        .filter(|u| u.is_active() && u.role == "owner")
        .count();
    let members = users
        .into_iter()
        .map(|u| MemberView {
            manageable: may_manage(&me.role, &u.role)
                && !(u.is_active() && u.role == "owner" && active_owners <= 1),
            is_me: u.id == me.id,
            roles: role_options(&me.role, &u.role),
            invited: !u.is_active(),
            role: role_label(&u.role),
            last_sign_in: if u.is_active() {
                when(u.last_login_at)
            } else {
                when(u.invited_at)
            },
            id: u.id,
            name: u.name,
            email: u.email,
        })
        .collect();
    Ok(TeamPage {
        chrome: Chrome::new(&staff.session, "Team"),
        vendor_name: staff.vendor.name.clone(),
        user_email: me.email.clone(),
        can_invite: staff.can_change(),
        members,
        invite_roles: role_options(&me.role, invite_role),
        invite_email,
        notice,
        error: error.map(AppError::public_message).unwrap_or_default(),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// `GET /dashboard/team`.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: web::Query<Done>,
) -> Result<HttpResponse, HtmlError> {
    let who = q.who.as_str();
    let notice = match q.done.as_str() {
        "invited" => Some(format!("Invitation sent to {who}.")),
        "resent" => Some(format!("Invitation sent to {who} again.")),
        "cancelled" => Some(format!("The invitation of {who} is cancelled.")),
        "role" => Some(format!("The role of {who} is changed.")),
        "removed" => Some(format!("{who} was removed from the team.")),
        _ => None,
    };
    let page = team_page(&staff, &state, notice, None, String::new(), "viewer").await?;
    render(StatusCode::OK, &page)
}

/// The invitation form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
}

fn done(what: &str, who: &str) -> HttpResponse {
    see_other(&format!(
        "/dashboard/team?done={what}&who={}",
        crate::domain::tenancy::staff::urlencode(who)
    ))
}

/// Shows a refused change on the team page (beside the invite field when it names one);
/// a missing member stays a 404 and a forbidden change the 403 page.
async fn refused(
    staff: &Staff,
    state: &AppState,
    e: AppError,
    f: Option<&InviteForm>,
) -> Result<HttpResponse, HtmlError> {
    match e {
        AppError::Invalid { .. } | AppError::Conflict { .. } => {
            let status = e.status_code();
            let (email, role) = f.map_or((String::new(), "viewer"), |f| {
                (f.email.clone(), f.role.as_str())
            });
            let page = team_page(staff, state, None, Some(&e), email, role).await?;
            render(status, &page)
        }
        e => Err(e.into()),
    }
}

/// `POST /dashboard/team/invite`.
pub async fn invite(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<InviteForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    match team::invite(
        &state.db,
        &state.sender,
        &staff.vendor,
        &staff.user,
        &form.email,
        &form.role,
    )
    .await
    {
        Ok(user) => Ok(done("invited", &user.email)),
        Err(e) => refused(&staff, &state, e, Some(&form)).await,
    }
}

/// `POST /dashboard/team/{id}/resend`.
pub async fn resend(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    match team::resend(&state.db, &state.sender, &staff.vendor, &staff.user, &id).await {
        Ok(user) => Ok(done("resent", &user.email)),
        Err(e) => refused(&staff, &state, e, None).await,
    }
}

/// `POST /dashboard/team/{id}/cancel`.
pub async fn cancel(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    match team::cancel(&state.db, &staff.vendor.id, &staff.user, &id).await {
        Ok(user) => Ok(done("cancelled", &user.email)),
        Err(e) => refused(&staff, &state, e, None).await,
    }
}

/// The role form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

/// `POST /dashboard/team/{id}/role`.
pub async fn set_role(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<RoleForm>,
) -> Result<HttpResponse, HtmlError> {
    match team::change_role(&state.db, &staff.vendor.id, &staff.user, &id, &form.role).await {
        Ok(user) => Ok(done("role", &user.email)),
        Err(e) => refused(&staff, &state, e, None).await,
    }
}

/// `POST /dashboard/team/{id}/remove`.
pub async fn remove(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    match team::remove(&state.db, &staff.vendor.id, &staff.user, &id).await {
        Ok(user) if user.id == staff.user.id => {
            crate::http::session::sign_out(&staff.session);
            Ok(see_other("/login"))
        }
        Ok(user) => Ok(done("removed", &user.email)),
        Err(e) => refused(&staff, &state, e, None).await,
    }
}

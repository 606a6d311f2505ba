//! The vendor dashboard (server-rendered, HTMX), served on the dashboard hosts.

pub mod account;
pub mod affiliates;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod confirm;
pub mod consumers;
pub mod conversions;
pub mod deals;
pub mod developers;
pub mod emails;
pub mod events;
pub mod home;
pub mod ledger;
pub mod payout_methods;
pub mod payouts;
pub mod picker;
pub mod programs;
pub mod reports;
pub mod settings;
pub mod setup;
pub mod team;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::db::{self, users::UserRow, vendors::VendorRow};
use crate::http::pages::{HtmlError, see_other};
use crate::http::{AppState, session};

/// Registers the dashboard routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/setup", web::get().to(setup::form))
        .route("/setup", web::post().to(setup::submit))
        .route("/login", web::get().to(auth::form))
        .route("/login", web::post().to(auth::submit))
        .route("/login/link", web::post().to(auth::request_link))
        .route("/login/link/{token}", web::get().to(auth::confirm_link))
        .route("/login/link/{token}", web::post().to(auth::use_link))
        .route("/logout", web::post().to(auth::logout))
        .route("/login/reset", web::get().to(account::reset_form))
        .route("/login/reset", web::post().to(account::reset_request))
        .route("/login/reset/{token}", web::get().to(account::reset_page))
        .route(
            "/login/reset/{token}",
            web::post().to(account::reset_submit),
        )
        .route("/join/{token}", web::get().to(account::join_form))
        .route("/join/{token}", web::post().to(account::join))
        .route("/dashboard/account", web::get().to(account::show))
        .route(
            "/dashboard/account/name",
            web::post().to(account::save_name),
        )
        .route(
            "/dashboard/account/password",
            web::post().to(account::change_password),
        )
        .route(
            "/dashboard/account/sign-out-everywhere",
            web::post().to(account::sign_out_everywhere),
        )
        .route("/dashboard/team", web::get().to(team::list))
        .route("/dashboard/team/invite", web::post().to(team::invite))
        .route("/dashboard/team/{id}/role", web::post().to(team::set_role))
        .route("/dashboard/team/{id}/remove", web::post().to(team::remove))
        .route("/dashboard/team/{id}/resend", web::post().to(team::resend))
        .route("/dashboard/team/{id}/cancel", web::post().to(team::cancel))
        .route("/dashboard/audit", web::get().to(audit::list))
        .route("/dashboard/audit/export", web::get().to(audit::export))
        .route("/dashboard", web::get().to(home::show))
        .route("/dashboard/reports", web::get().to(reports::show))
        .route("/dashboard/affiliates", web::get().to(affiliates::list))
        .route("/dashboard/affiliates", web::post().to(affiliates::create))
        .route("/dashboard/affiliates/new", web::get().to(affiliates::new))
        .route(
            "/dashboard/affiliates/suggest",
            web::get().to(picker::suggest),
        )
        .route(
            "/dashboard/affiliates/{id}",
            web::get().to(affiliates::show),
        )
        .route(
            "/dashboard/affiliates/{id}/status",
            web::post().to(affiliates::set_status),
        )
        .route(
            "/dashboard/affiliates/{id}/invite",
            web::post().to(affiliates::resend),
        )
        .route(
            "/dashboard/affiliates/{id}/override",
            web::post().to(affiliates::set_override),
        )
        .route(
            "/dashboard/affiliates/{id}/ledger",
            web::get().to(ledger::show),
        )
        .route("/dashboard/applications", web::get().to(applications::list))
        .route(
            "/dashboard/applications/bulk",
            web::post().to(applications::bulk),
        )
        .route(
            "/dashboard/applications/{id}/review",
            web::post().to(applications::review),
        )
        .route("/dashboard/deals", web::get().to(deals::list))
        .route(
            "/dashboard/deals/{id}/review",
            web::post().to(deals::review),
        )
        .route("/dashboard/conversions", web::get().to(conversions::list))
        .route(
            "/dashboard/conversions",
            web::post().to(conversions::create),
        )
        .route(
            "/dashboard/conversions/{id}",
            web::get().to(conversions::show),
        )
        .route(
            "/dashboard/conversions/{id}/approve",
            web::post().to(conversions::approve),
        )
        .route(
            "/dashboard/conversions/{id}/reject",
            web::post().to(conversions::reject),
        )
        .route("/dashboard/events", web::get().to(events::list))
        .route(
            "/dashboard/events/{id}/replay",
            web::post().to(events::replay),
        )
        .route("/dashboard/payouts", web::get().to(payouts::list))
        .route("/dashboard/payouts/run", web::post().to(payouts::run))
        .route(
            "/dashboard/payouts/runs/{id}",
            web::get().to(payouts::run_show),
        )
        .route(
            "/dashboard/payouts/runs/{id}/export",
            web::get().to(payouts::run_export),
        )
        .route(
            "/dashboard/payouts/runs/{id}/processing",
            web::post().to(payouts::run_processing),
        )
        .route(
            "/dashboard/payouts/runs/{id}/paid",
            web::post().to(payouts::run_paid),
        )
        .route("/dashboard/payouts/{id}", web::get().to(payouts::show))
        .route(
            "/dashboard/payouts/{id}/processing",
            web::post().to(payouts::mark_processing),
        )
        .route(
            "/dashboard/payouts/{id}/paid",
            web::post().to(payouts::mark_paid),
        )
        .route(
            "/dashboard/payouts/{id}/failed",
            web::post().to(payouts::mark_failed),
        )
        .route("/dashboard/programs", web::get().to(programs::list))
        .route("/dashboard/programs", web::post().to(programs::create))
        .route("/dashboard/programs/new", web::get().to(programs::new))
        .route("/dashboard/programs/{id}", web::get().to(programs::edit))
        .route("/dashboard/programs/{id}", web::post().to(programs::update))
        .route(
            "/dashboard/programs/{id}/migrate",
            web::post().to(programs::migrate),
        )
        .route(
            "/dashboard/developers/webhooks",
            web::get().to(webhooks::list),
        )
        .route(
            "/dashboard/developers/webhooks",
            web::post().to(webhooks::create),
        )
        .route(
            "/dashboard/developers/webhooks/deliveries/{id}/redeliver",
            web::post().to(webhooks::redeliver),
        )
        .route(
            "/dashboard/developers/webhooks/{id}",
            web::get().to(webhooks::show),
        )
        .route(
            "/dashboard/developers/webhooks/{id}",
            web::post().to(webhooks::update),
        )
        .route(
            "/dashboard/developers/webhooks/{id}/toggle",
            web::post().to(webhooks::toggle),
        )
        .route(
            "/dashboard/developers/webhooks/{id}/delete",
            web::post().to(webhooks::delete),
        )
        .route(
            "/dashboard/developers/webhooks/{id}/test",
            web::post().to(webhooks::test),
        )
        .route("/dashboard/settings", web::get().to(settings::show))
        .route("/dashboard/settings", web::post().to(settings::save))
        .route(
            "/dashboard/settings/payout-methods",
            web::get().to(payout_methods::show),
        )
        .route(
            "/dashboard/settings/payout-methods",
            web::post().to(payout_methods::save),
        )
        .route(
            "/dashboard/settings/logo",
            web::post().to(settings::upload_logo),
        )
        .route(
            "/dashboard/settings/logo/delete",
            web::post().to(settings::delete_logo),
        )
        .route(
            "/dashboard/settings/domains/verify",
            web::post().to(settings::verify_domain),
        )
        .route("/dashboard/developers", web::get().to(developers::show))
        .route(
            "/dashboard/developers/keys",
            web::post().to(developers::create),
        )
        .route(
            "/dashboard/developers/keys/{id}/revoke",
            web::post().to(developers::revoke),
        )
        .route(
            "/dashboard/developers/rate-limits",
            web::post().to(developers::save_limits),
        )
        .route(
            "/dashboard/developers/consumers",
            web::get().to(consumers::list),
        )
        .route(
            "/dashboard/developers/consumers",
            web::post().to(consumers::create),
        )
        .route(
            "/dashboard/developers/consumers/{id}/enabled",
            web::post().to(consumers::set_enabled),
        )
        .route(
            "/dashboard/developers/consumers/{id}/limits",
            web::post().to(consumers::set_limits),
        )
        .route(
            "/dashboard/developers/consumers/{id}/rotate",
            web::post().to(consumers::rotate),
        )
        .route("/dashboard/emails", web::get().to(emails::list))
        .route("/dashboard/emails/{id}", web::get().to(emails::show))
        .route("/dashboard/emails/{id}/html", web::get().to(emails::html))
        .route(
            "/dashboard/emails/{id}/retry",
            web::post().to(emails::retry),
        );
}

/// `GET /`: the dashboard when signed in, else the first-run setup or the sign-in page.
async fn root(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, HtmlError> {
    if session::staff(&session).is_some() {
        return Ok(see_other("/dashboard"));
    }
    if db::vendors::any_exists(state.db.pool()).await? {
        Ok(see_other("/login"))
    } else {
        Ok(see_other("/setup"))
    }
}

/// A signed-in staff member and their vendor; pages that take it redirect to `/login`
/// otherwise.
pub struct Staff {
    /// The account.
    pub user: UserRow,
    /// Its vendor: every query of the page is scoped to it.
    pub vendor: VendorRow,
    /// The session, for the page chrome.
    pub session: Session,
}

impl Staff {
    /// Whether this account may change settings (see [`crate::domain::tenancy::staff::may_change`]).
    pub fn can_change(&self) -> bool {
        crate::domain::tenancy::staff::may_change(&self.user.role)
    }

    /// Refuses viewers with 403: they may look at a page but not change anything.
    pub fn require_change(&self) -> Result<(), HtmlError> {
        if self.can_change() {
            Ok(())
        } else {
            Err(HtmlError::App(crate::error::AppError::Forbidden(
                crate::http::middleware::viewers::MESSAGE.into(),
            )))
        }
    }
}

impl FromRequest for Staff {
    type Error = HtmlError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, HtmlError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let session = req.get_session();
        // A page opened while signed out comes back after sign-in; a form post does not
        // (its data is gone), so it returns to the sign-in page alone.
        let sign_in = if req.method() == Method::GET {
            let uri = req.uri();
            let path = uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
            HtmlError::SignInThen(path)
        } else {
            HtmlError::SignIn
        };
        let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let own_account = req.path().starts_with("/dashboard/account");
        Box::pin(async move {
            let state = state.ok_or(HtmlError::SignIn)?;
            let Some((user_id, vendor_id)) = session::staff(&session) else {
                return Err(sign_in);
            };
            let Some(user) = db::users::by_id(state.db.pool(), &vendor_id, &user_id).await? else {
                // Removed from the team: the session ends.
                session::sign_out(&session);
                return Err(sign_in);
            };
            // "Sign out everywhere" or a new password moved the epoch on: this session is
            // void on every instance, since the epoch is read from the database.
            if !user.is_active() || session::staff_epoch(&session) < user.session_epoch {
                session::sign_out(&session);
                return Err(sign_in);
            }
            let vendor = db::vendors::by_id(state.db.pool(), &vendor_id)
                .await?
                .ok_or(HtmlError::SignIn)?;
            session::set_staff_read_only(
                &session,
                !crate::domain::tenancy::staff::may_change(&user.role),
            );
            let staff = Staff {
                user,
                vendor,
                session,
            };
            // Viewers change nothing: every mutating dashboard route is refused here, in
            // one place, except their own account (name, password, sign out everywhere).
            if mutating && !own_account {
                staff.require_change()?;
            }
            Ok(staff)
        })
    }
}

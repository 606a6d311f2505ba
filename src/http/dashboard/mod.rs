//! The vendor dashboard (server-rendered, HTMX), served on the dashboard hosts.

pub mod account;
pub mod accounting;
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
pub mod fraud;
pub mod groups;
pub mod home;
pub mod imports;
pub mod ledger;
pub mod payout_methods;
pub mod payouts;
pub mod picker;
pub mod programs;
pub mod promo_codes;
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
use crate::domain::tenancy::sign_ins;
use crate::http::pages::{HtmlError, see_other};
use crate::http::route_table::{Access, RouteTable};
use crate::http::{AppState, session};
use crate::route;

/// The dashboard's routes: the one place they are declared (registered by [`routes`],
/// listed by the isolation matrix).
pub fn table() -> RouteTable {
    RouteTable {
        name: "dashboard",
        prefix: "",
        routes: vec![
            route!(GET "/" => root, Access::Public("redirects to the dashboard, the sign-in page or the setup")),
            route!(GET "/setup" => setup::form, Access::Public("first-run setup: refused once a vendor exists")),
            route!(POST "/setup" => setup::submit, Access::Public("first-run setup: refused once a vendor exists")),
            route!(GET "/login" => auth::form, Access::Public("sign-in and sign-out")),
            route!(POST "/login" => auth::submit, Access::Public("sign-in and sign-out")),
            route!(POST "/login/link" => auth::request_link, Access::Public("sign-in and sign-out")),
            route!(GET "/login/link/{token}" => auth::confirm_link, Access::Public("magic link: the token is the credential")),
            route!(POST "/login/link/{token}" => auth::use_link, Access::Public("magic link: the token is the credential")),
            route!(POST "/logout" => auth::logout, Access::Public("sign-in and sign-out")),
            route!(GET "/login/reset" => account::reset_form, Access::Public("sign-in and sign-out")),
            route!(POST "/login/reset" => account::reset_request, Access::Public("sign-in and sign-out")),
            route!(GET "/login/reset/{token}" => account::reset_page, Access::Public("password reset: the token is the credential")),
            route!(POST "/login/reset/{token}" => account::reset_submit, Access::Public("password reset: the token is the credential")),
            route!(GET "/join/{token}" => account::join_form, Access::Public("team invitation: the token is the credential")),
            route!(POST "/join/{token}" => account::join, Access::Public("team invitation: the token is the credential")),
            route!(GET "/dashboard/account" => account::show, Access::StaffOwnAccount),
            route!(POST "/dashboard/account/name" => account::save_name, Access::StaffOwnAccount),
            route!(POST "/dashboard/account/password" => account::change_password, Access::StaffOwnAccount),
            route!(POST "/dashboard/account/sign-out-everywhere" => account::sign_out_everywhere, Access::StaffOwnAccount),
            route!(GET "/dashboard/team" => team::list, Access::Staff),
            route!(POST "/dashboard/team/invite" => team::invite, Access::Staff),
            route!(POST "/dashboard/team/{id}/role" => team::set_role, Access::Staff),
            route!(POST "/dashboard/team/{id}/remove" => team::remove, Access::Staff),
            route!(POST "/dashboard/team/{id}/resend" => team::resend, Access::Staff),
            route!(POST "/dashboard/team/{id}/cancel" => team::cancel, Access::Staff),
            route!(GET "/dashboard/audit" => audit::list, Access::Staff),
            route!(GET "/dashboard/audit/export" => audit::export, Access::Staff),
            route!(GET "/dashboard" => home::show, Access::Staff),
            route!(GET "/dashboard/reports" => reports::show, Access::Staff),
            route!(GET "/dashboard/accounting" => accounting::show, Access::Staff),
            route!(GET "/dashboard/accounting/journal" => accounting::journal, Access::Staff),
            route!(GET "/dashboard/accounting/paid-totals" => accounting::paid_totals, Access::Staff),
            route!(GET "/dashboard/import" => imports::form, Access::Staff),
            route!(POST "/dashboard/import/preview" => imports::preview, Access::Staff),
            route!(POST "/dashboard/import/confirm" => imports::confirm, Access::Staff),
            route!(GET "/dashboard/affiliates" => affiliates::list, Access::Staff),
            route!(POST "/dashboard/affiliates" => affiliates::create, Access::Staff),
            route!(GET "/dashboard/affiliates/new" => affiliates::new, Access::Staff),
            route!(GET "/dashboard/affiliates/suggest" => picker::suggest, Access::Staff),
            route!(GET "/dashboard/affiliates/{id}" => affiliates::show, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/status" => affiliates::set_status, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/invite" => affiliates::resend, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/override" => affiliates::set_override, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/bonuses" => affiliates::grant_bonus, Access::Staff),
            route!(GET "/dashboard/affiliates/{id}/ledger" => ledger::show, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/promo-codes" => promo_codes::add, Access::Staff),
            route!(POST "/dashboard/promo-codes/{id}/active" => promo_codes::set_active, Access::Staff),
            route!(POST "/dashboard/promo-codes/{id}/delete" => promo_codes::delete, Access::Staff),
            route!(GET "/dashboard/applications" => applications::list, Access::Staff),
            route!(POST "/dashboard/applications/bulk" => applications::bulk, Access::Staff),
            route!(POST "/dashboard/applications/{id}/review" => applications::review, Access::Staff),
            route!(GET "/dashboard/deals" => deals::list, Access::Staff),
            route!(POST "/dashboard/deals/{id}/review" => deals::review, Access::Staff),
            route!(GET "/dashboard/fraud" => fraud::list, Access::Staff),
            route!(POST "/dashboard/fraud/{id}/approve" => fraud::approve, Access::Staff),
            route!(POST "/dashboard/fraud/{id}/reject" => fraud::reject, Access::Staff),
            route!(GET "/dashboard/conversions" => conversions::list, Access::Staff),
            route!(POST "/dashboard/conversions" => conversions::create, Access::Staff),
            route!(GET "/dashboard/conversions/{id}" => conversions::show, Access::Staff),
            route!(POST "/dashboard/conversions/{id}/approve" => conversions::approve, Access::Staff),
            route!(POST "/dashboard/conversions/{id}/reject" => conversions::reject, Access::Staff),
            route!(GET "/dashboard/events" => events::list, Access::Staff),
            route!(POST "/dashboard/events/{id}/replay" => events::replay, Access::Staff),
            route!(GET "/dashboard/payouts" => payouts::list, Access::Staff),
            route!(POST "/dashboard/payouts/run" => payouts::run, Access::Staff),
            route!(GET "/dashboard/payouts/runs/{id}" => payouts::run_show, Access::Staff),
            route!(GET "/dashboard/payouts/runs/{id}/export" => payouts::run_export, Access::Staff),
            route!(POST "/dashboard/payouts/runs/{id}/processing" => payouts::run_processing, Access::Staff),
            route!(POST "/dashboard/payouts/runs/{id}/paid" => payouts::run_paid, Access::Staff),
            route!(GET "/dashboard/payouts/{id}" => payouts::show, Access::Staff),
            route!(POST "/dashboard/payouts/{id}/processing" => payouts::mark_processing, Access::Staff),
            route!(POST "/dashboard/payouts/{id}/paid" => payouts::mark_paid, Access::Staff),
            route!(POST "/dashboard/payouts/{id}/failed" => payouts::mark_failed, Access::Staff),
            route!(GET "/dashboard/programs" => programs::list, Access::Staff),
            route!(POST "/dashboard/programs" => programs::create, Access::Staff),
            route!(GET "/dashboard/programs/new" => programs::new, Access::Staff),
            route!(GET "/dashboard/programs/{id}" => programs::edit, Access::Staff),
            route!(POST "/dashboard/programs/{id}" => programs::update, Access::Staff),
            route!(POST "/dashboard/programs/{id}/migrate" => programs::migrate, Access::Staff),
            route!(POST "/dashboard/programs/{id}/backtest" => programs::backtest, Access::Staff),
            route!(GET "/dashboard/programs/{id}/groups" => groups::list, Access::Staff),
            route!(POST "/dashboard/programs/{id}/groups" => groups::create, Access::Staff),
            route!(POST "/dashboard/programs/{id}/group-rules" => groups::create_rule, Access::Staff),
            route!(POST "/dashboard/group-rules/{id}/delete" => groups::delete_rule, Access::Staff),
            route!(GET "/dashboard/groups/{id}" => groups::edit, Access::Staff),
            route!(POST "/dashboard/groups/{id}" => groups::update, Access::Staff),
            route!(POST "/dashboard/affiliates/{id}/group" => groups::move_affiliate, Access::Staff),
            route!(GET "/dashboard/developers/webhooks" => webhooks::list, Access::Staff),
            route!(POST "/dashboard/developers/webhooks" => webhooks::create, Access::Staff),
            route!(POST "/dashboard/developers/webhooks/deliveries/{id}/redeliver" => webhooks::redeliver, Access::Staff),
            route!(GET "/dashboard/developers/webhooks/{id}" => webhooks::show, Access::Staff),
            route!(POST "/dashboard/developers/webhooks/{id}" => webhooks::update, Access::Staff),
            route!(POST "/dashboard/developers/webhooks/{id}/toggle" => webhooks::toggle, Access::Staff),
            route!(POST "/dashboard/developers/webhooks/{id}/delete" => webhooks::delete, Access::Staff),
            route!(POST "/dashboard/developers/webhooks/{id}/test" => webhooks::test, Access::Staff),
            route!(GET "/dashboard/settings" => settings::show, Access::Staff),
            route!(POST "/dashboard/settings" => settings::save, Access::Staff),
            route!(GET "/dashboard/settings/payout-methods" => payout_methods::show, Access::Staff),
            route!(POST "/dashboard/settings/payout-methods" => payout_methods::save, Access::Staff),
            route!(POST "/dashboard/settings/logo" => settings::upload_logo, Access::Staff),
            route!(POST "/dashboard/settings/logo/delete" => settings::delete_logo, Access::Staff),
            route!(POST "/dashboard/settings/domains/verify" => settings::verify_domain, Access::Staff),
            route!(GET "/dashboard/developers" => developers::show, Access::Staff),
            route!(POST "/dashboard/developers/keys" => developers::create, Access::Staff),
            route!(POST "/dashboard/developers/keys/{id}/revoke" => developers::revoke, Access::Staff),
            route!(POST "/dashboard/developers/rate-limits" => developers::save_limits, Access::Staff),
            route!(GET "/dashboard/developers/consumers" => consumers::list, Access::Staff),
            route!(POST "/dashboard/developers/consumers" => consumers::create, Access::Staff),
            route!(POST "/dashboard/developers/consumers/{id}/enabled" => consumers::set_enabled, Access::Staff),
            route!(POST "/dashboard/developers/consumers/{id}/limits" => consumers::set_limits, Access::Staff),
            route!(POST "/dashboard/developers/consumers/{id}/rotate" => consumers::rotate, Access::Staff),
            route!(GET "/dashboard/emails" => emails::list, Access::Staff),
            route!(GET "/dashboard/emails/{id}" => emails::show, Access::Staff),
            route!(GET "/dashboard/emails/{id}/html" => emails::html, Access::Staff),
            route!(POST "/dashboard/emails/{id}/retry" => emails::retry, Access::Staff),
        ],
    }
}

/// Registers the dashboard routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    table().register(cfg);
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
            // Signed out of this browser (or everywhere) server-side: a copy of the cookie
            // made before is refused too.
            let token = session::staff_sign_in(&session);
            if !sign_ins::is_live(&state.db, &vendor_id, sign_ins::STAFF, &user_id, &token).await? {
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

//! Viewers change nothing: every state-changing request under `/dashboard` from a signed-in
//! staff member whose role may not change anything is refused with the 403 page here, before
//! any handler or form parsing runs, so a new route cannot forget it and a half-filled form
//! gets the same answer as a full one. The person's own account (`/dashboard/account…`:
//! name, password, sign out everywhere) stays theirs to change. The `Staff` extractor checks
//! the same rule again for handlers reached another way.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::db;
use crate::domain::tenancy::staff::may_change;
use crate::error::AppError;
use crate::http::pages::HtmlError;
use crate::http::{AppState, session};

/// The refusal viewers see (also used by `Staff::require_change`).
pub const MESSAGE: &str = "Your account can view these pages but not change anything. Ask an \
                           owner or admin of your team if something needs changing.";

/// The middleware function (`middleware::from_fn(viewers_read_only)`), inside the session
/// middleware.
pub async fn viewers_read_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req.path();
    let guarded = (path == "/dashboard" || path.starts_with("/dashboard/"))
        && !path.starts_with("/dashboard/account");
    if safe || !guarded {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let ids = session::staff(&req.get_session());
    if let (Some(state), Some((user_id, vendor_id))) = (state, ids) {
        let user = db::users::by_id(state.db.pool(), &vendor_id, &user_id)
            .await
            .map_err(|e| HtmlError::App(e.into()))?;
        if user.is_some_and(|u| !may_change(&u.role)) {
            let err = HtmlError::App(AppError::Forbidden(MESSAGE.into()));
            // `ServiceResponse::new` keeps the error attached, so the HTMX middleware can
            // turn it into a toast.
            let (http_req, _) = req.into_parts();
            return Ok(ServiceResponse::new(
                http_req,
                HttpResponse::from_error(err),
            ));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

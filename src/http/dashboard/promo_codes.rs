//! Promo codes on an affiliate's dashboard page: add (typed or generated), disable or
//! enable, delete. The same services as `/api/v1/.../promo-codes`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::attribution::promo_codes::{self, PromoCodeInput, PromoCodeUpdate};
use crate::domain::tenancy::audit::Actor;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{HtmlError, see_other};

/// The add form: a code (generated when empty) and, with several enrollments, the program.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    stripe_promotion_code_id: String,
}

/// `POST /dashboard/affiliates/{id}/promo-codes`.
pub async fn add(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<AddForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = PromoCodeInput {
        code: some(f.code),
        program_id: some(f.program_id),
        stripe_promotion_code_id: some(f.stripe_promotion_code_id),
    };
    promo_codes::create(
        &state.db,
        &staff.vendor.id,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

/// The enable / disable action.
#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    /// `true` or `false`.
    #[serde(default)]
    active: String,
}

/// `POST /dashboard/promo-codes/{id}/active`.
pub async fn set_active(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<ActiveForm>,
) -> Result<HttpResponse, HtmlError> {
    // Looked up first, so another vendor's code is a 404 whatever the form says.
    promo_codes::get(&state.db, &staff.vendor.id, &id).await?;
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::invalid("active", "active is true or false").into()),
    };
    let patch = PromoCodeUpdate {
        active: Some(active),
        stripe_promotion_code_id: None,
    };
    let code = promo_codes::update(
        &state.db,
        &staff.vendor.id,
        &id,
        &patch,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!(
        "/dashboard/affiliates/{}",
        code.affiliate_id
    )))
}

/// `POST /dashboard/promo-codes/{id}/delete`.
pub async fn delete(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let code = promo_codes::get(&state.db, &staff.vendor.id, &id).await?;
    promo_codes::delete(
        &state.db,
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!(
        "/dashboard/affiliates/{}",
        code.affiliate_id
    )))
}

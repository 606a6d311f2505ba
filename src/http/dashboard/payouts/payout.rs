//! One payout: its statement and its state changes (sent, paid, failed).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::payouts::PayoutRow;
use crate::domain::payouts;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};

use super::{Done, Names, PaidForm, PayoutView, actor, program_names, some};
use crate::http::views::statement::{StatementView, statement_view};

/// What the payout page's forms hold after a refused action.
#[derive(Debug, Default)]
struct Typed {
    reference: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "dashboard/payout.html")]
struct PayoutPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    p: PayoutView,
    program: String,
    statement: StatementView,
    can_process: bool,
    can_settle: bool,
    notice: Option<String>,
    error: Option<String>,
    error_field: String,
    typed: Typed,
}

async fn payout_page(
    staff: &Staff,
    state: &AppState,
    id: &str,
    notice: Option<String>,
    error: Option<&AppError>,
    typed: Typed,
) -> Result<PayoutPage, HtmlError> {
    let s = payouts::statement(&state.db, &staff.vendor.id, id, None).await?;
    let statement = statement_view(&s);
    let programs = program_names(state, &staff.vendor.id).await?;
    let program = programs
        .into_iter()
        .find(|(pid, _)| *pid == s.payout.program_id)
        .map(|(_, name)| name)
        .unwrap_or_else(|| s.payout.program_id.clone());
    let can_process = payouts::can_process(&s.payout);
    let can_settle = payouts::is_open(&s.payout);
    let names = Names(HashMap::from([(
        s.affiliate.id.clone(),
        s.affiliate.clone(),
    )]));
    let p = names.payout(s.payout.clone());
    Ok(PayoutPage {
        chrome: Chrome::new(&staff.session, format!("Payout {}", p.id)),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        program,
        statement,
        can_process,
        can_settle,
        notice,
        error: error.map(AppError::page_message),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
        typed,
        p,
    })
}

/// `GET /dashboard/payouts/{id}`: the statement and the actions its state allows.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<Done>,
) -> Result<HttpResponse, HtmlError> {
    let notice = match q.done.as_deref() {
        Some("processing") => Some("Marked as sent.".to_owned()),
        Some("paid") => Some("Marked as paid. The affiliate was emailed.".to_owned()),
        Some("failed") => q.notice(),
        _ => None,
    };
    let page = payout_page(&staff, &state, &id, notice, None, Typed::default()).await?;
    render(StatusCode::OK, &page)
}

/// Answers a payout action: back to the payout, or the page with a readable message for a
/// refused one (a missing reason, a payout already paid).
async fn acted(
    staff: &Staff,
    state: &AppState,
    id: &str,
    done: &str,
    result: Result<PayoutRow, AppError>,
    typed: Typed,
) -> Result<HttpResponse, HtmlError> {
    match result {
        Ok(p) => Ok(see_other(&format!(
            "/dashboard/payouts/{}?done={done}",
            p.id
        ))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let page = payout_page(staff, state, id, None, Some(&e), typed).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/payouts/{id}/processing`: handed to the provider.
pub async fn mark_processing(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let result = payouts::mark_processing(&state.db, &staff.vendor.id, &id, &actor(&staff)).await;
    acted(&staff, &state, &id, "processing", result, Typed::default()).await
}

/// `POST /dashboard/payouts/{id}/paid` `reference`: paid; the affiliate is emailed.
pub async fn mark_paid(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<PaidForm>,
) -> Result<HttpResponse, HtmlError> {
    let reference = some(&form.reference);
    let result = payouts::mark_paid(
        &state.db,
        &state.sender,
        &staff.vendor.id,
        &id,
        reference.as_deref(),
        &actor(&staff),
    )
    .await;
    let typed = Typed {
        reference: form.into_inner().reference,
        reason: String::new(),
    };
    acted(&staff, &state, &id, "paid", result, typed).await
}

/// The failed form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FailedForm {
    reason: String,
}

/// `POST /dashboard/payouts/{id}/failed` `reason` (required): the amount is available again.
pub async fn mark_failed(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<FailedForm>,
) -> Result<HttpResponse, HtmlError> {
    let reason = some(&form.reason);
    let result = payouts::mark_failed(
        &state.db,
        &state.sender,
        &staff.vendor.id,
        &id,
        reason.as_deref(),
        &actor(&staff),
    )
    .await;
    let typed = Typed {
        reference: String::new(),
        reason: form.into_inner().reason,
    };
    acted(&staff, &state, &id, "failed", result, typed).await
}

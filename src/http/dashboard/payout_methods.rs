//! Dashboard: the payout methods the vendor offers its affiliates
//! (`/dashboard/settings/payout-methods`). The rule — affiliates pick only offered methods —
//! is the domain's ([`payout_settings::offered`], [`payout_settings::set_offered`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::partners::payout_settings::{self, METHODS, method_label};
use crate::domain::tenancy::audit::Actor;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};

const PATH: &str = "/dashboard/settings/payout-methods";

/// One method's checkbox.
struct MethodChoice {
    value: &'static str,
    label: &'static str,
    hint: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "dashboard/payout_methods.html")]
struct Page {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_change: bool,
    methods: Vec<MethodChoice>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn hint(method: &str) -> &'static str {
    match method {
        "paypal" => "You pay with the PayPal Payouts file of each run.",
        "wise" => "Affiliates give their Wise email; you pay from Wise.",
        "bank_transfer" => "Affiliates give their bank details; you pay by bank transfer.",
        "stripe_connect" => {
            "Paid through Stripe Connect transfers (needs the program's Stripe key)."
        }
        "crypto" => "Affiliates give a network and wallet address; you pay in crypto.",
        _ => "",
    }
}

fn page(
    staff: &Staff,
    checked: &[&str],
    notice: Option<&'static str>,
    error: Option<&AppError>,
) -> Page {
    Page {
        chrome: Chrome::new(&staff.session, "Payout methods"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        can_change: staff.can_change(),
        methods: METHODS
            .iter()
            .map(|m| MethodChoice {
                value: m,
                label: method_label(m),
                hint: hint(m),
                checked: checked.contains(m),
            })
            .collect(),
        notice,
        error: error.map(AppError::page_message),
    }
}

/// `?saved=1` after a save.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// `GET /dashboard/settings/payout-methods`.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let offered = payout_settings::offered(&state.db, &staff.vendor.id).await?;
    let notice = q.saved.is_some().then_some("Payout methods saved.");
    render(StatusCode::OK, &page(&staff, &offered, notice, None))
}

/// `POST /dashboard/settings/payout-methods`: `payout_method` once per ticked box.
pub async fn save(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let chosen: Vec<String> = form
        .into_inner()
        .into_iter()
        .filter(|(k, _)| k == "payout_method")
        .map(|(_, v)| v)
        .collect();
    let actor = Actor::User(staff.user.id.clone());
    match payout_settings::set_offered(&state.db, &staff.vendor.id, &chosen, &actor).await {
        Ok(_) => Ok(see_other(&format!("{PATH}?saved=1"))),
        Err(e @ AppError::Invalid { .. }) => {
            let typed: Vec<&str> = METHODS
                .iter()
                .copied()
                .filter(|m| chosen.iter().any(|c| c == m))
                .collect();
            render(e.status_code(), &page(&staff, &typed, None, Some(&e)))
        }
        Err(e) => Err(e.into()),
    }
}

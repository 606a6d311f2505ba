//! One payout run: its payouts, its files (PayPal, CSV, JSON) and its bulk actions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::payouts::Filter;
use crate::domain::partners::terms::format_money;
use crate::domain::payouts::{self, export};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::payouts::download_streamed;
use crate::http::dashboard::{Staff, confirm};
use crate::http::pages::{Chrome, HtmlError, render, see_other};

use super::{
    Done, PaidForm, PayoutView, RunView, actor, name_starters, program_names, run_view, some,
};

/// A download link of a run's file.
struct Download {
    label: String,
    url: String,
}

/// Payouts per page of a run: a run can pay tens of thousands of affiliates.
const RUN_PAGE_SIZE: i64 = 100;

#[derive(Template)]
#[template(path = "dashboard/payout_run.html")]
struct RunPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    run: RunView,
    /// This page's payouts.
    payouts: Vec<PayoutView>,
    /// "101–200 of 3,430" when the run has more than one page.
    showing: String,
    prev_url: Option<String>,
    next_url: Option<String>,
    /// Net to pay per currency, for the open payouts.
    open_totals: Vec<String>,
    pending: i64,
    open: i64,
    paypal: Vec<Download>,
    csv_url: String,
    json_url: String,
    notice: Option<String>,
    error: Option<String>,
    reference: String,
}

/// `?done=&n=` after a bulk action, and `?page=` (from 1) of the run's payouts.
#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    done: Option<String>,
    n: Option<usize>,
    page: Option<u32>,
}

async fn run_page(
    staff: &Staff,
    state: &AppState,
    id: &str,
    page: u32,
    notice: Option<String>,
    error: Option<&AppError>,
    reference: String,
) -> Result<RunPage, HtmlError> {
    let (run, summary) = payouts::run_summary(&state.db, &staff.vendor.id, id).await?;
    let page = i64::from(page.max(1));
    let offset = (page - 1) * RUN_PAGE_SIZE;
    let rows =
        payouts::run_payouts_page(&state.db, &staff.vendor.id, id, RUN_PAGE_SIZE, offset).await?;
    let programs = program_names(state, &staff.vendor.id).await?;
    let base = format!("/dashboard/payouts/runs/{}/export", run.id);
    let paypal = match summary.paypal_currencies.as_slice() {
        [] => Vec::new(),
        [_] => vec![Download {
            label: "PayPal Payouts file (CSV)".into(),
            url: format!("{base}?format=paypal"),
        }],
        several => several
            .iter()
            .map(|c| Download {
                label: format!("PayPal Payouts file, {c} (CSV)"),
                url: format!("{base}?format=paypal&currency={c}"),
            })
            .collect(),
    };
    let page_url = |n: i64| format!("/dashboard/payouts/runs/{}?page={n}", run.id);
    let prev_url = (page > 1).then(|| page_url(page - 1));
    let next_url = (offset + RUN_PAGE_SIZE < summary.total).then(|| page_url(page + 1));
    let showing = if summary.total <= RUN_PAGE_SIZE {
        String::new()
    } else if rows.is_empty() {
        format!(
            "Page {page} is past the last of this run's {} payouts.",
            summary.total
        )
    } else {
        format!(
            "{}–{} of {}",
            offset + 1,
            offset + rows.len() as i64,
            summary.total
        )
    };
    let payouts = rows.into_iter().map(PayoutView::joined).collect();
    let mut run = run_view(run, &programs);
    name_starters(state, &staff.vendor.id, std::slice::from_mut(&mut run)).await?;
    Ok(RunPage {
        chrome: Chrome::new(&staff.session, format!("Payout run, {}", run.created)),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        open_totals: summary
            .open_totals
            .iter()
            .map(|(c, sum)| format_money(*sum, c))
            .collect(),
        pending: summary.pending,
        open: summary.open,
        paypal,
        csv_url: format!("{base}?format=csv"),
        json_url: format!("{base}?format=json"),
        notice,
        error: error.map(AppError::page_message),
        reference,
        run,
        payouts,
        showing,
        prev_url,
        next_url,
    })
}

/// `GET /dashboard/payouts/runs/{id}?page=`: a run's summary, one page of its payouts, its
/// files and bulk actions.
pub async fn run_show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<RunQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let notice = Done {
        done: q.done,
        n: q.n,
    }
    .notice();
    let page = run_page(
        &staff,
        &state,
        &id,
        q.page.unwrap_or(1),
        notice,
        None,
        String::new(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `?format=paypal|csv|json&currency=` of a run's export.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
    #[serde(default)]
    currency: String,
}

/// `GET /dashboard/payouts/runs/{id}/export?format=&currency=`: a run's payouts as a file.
pub async fn run_export(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<ExportQuery>,
) -> Result<HttpResponse, HtmlError> {
    let vendor_id = staff.vendor.id.as_str();
    let (run, _) = payouts::run_detail(&state.db, vendor_id, &id).await?;
    let currency = crate::domain::values::Currency::parse_optional("currency", Some(&q.currency))?;
    let filter = Filter {
        vendor_id,
        affiliate_id: None,
        run_id: Some(&run.id),
        status: None,
        currency: currency.as_deref(),
    };
    let format = some(&q.format).unwrap_or_else(|| "csv".into());
    let file = export::stream(&state.db, &filter, &format).await?;
    Ok(download_streamed(file))
}

/// `POST /dashboard/payouts/runs/{id}/processing`: every pending payout of the run is
/// marked as sent (after uploading its file to the provider).
pub async fn run_processing(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let done = payouts::run_processing(&state.db, &staff.vendor.id, &id, &actor(&staff)).await?;
    Ok(see_other(&format!(
        "/dashboard/payouts/runs/{id}?done=processing&n={}",
        done.changed.len()
    )))
}

/// `POST /dashboard/payouts/runs/{id}/paid`: every open payout of the run is paid with one
/// reference; a refused reference re-renders the run with the message.
pub async fn run_paid(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<PaidForm>,
) -> Result<HttpResponse, HtmlError> {
    let reference = some(&form.reference);
    if let Err(e) = payouts::payment_reference(reference.as_deref()) {
        let status = e.status_code();
        let typed = form.into_inner().reference;
        let page = run_page(&staff, &state, &id, 1, None, Some(&e), typed).await?;
        return render(status, &page);
    }
    // Marking a whole run paid acts only after its confirmation page, on the figures shown.
    let (run, rows) = payouts::run_detail(&state.db, &staff.vendor.id, &id).await?;
    let open: Vec<_> = rows.iter().filter(|p| payouts::is_open(p)).collect();
    let mut totals: Vec<(String, i64)> = Vec::new();
    for p in &open {
        match totals.iter_mut().find(|(c, _)| *c == p.currency) {
            Some((_, sum)) => *sum = sum.saturating_add(p.net_cents),
            None => totals.push((p.currency.clone(), p.net_cents)),
        }
    }
    let mut ids: Vec<&str> = open.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let money: Vec<String> = totals.iter().map(|(c, n)| format_money(*n, c)).collect();
    let token = format!(
        "{}x{}-{}",
        open.len(),
        totals
            .iter()
            .map(|(c, n)| format!("{n}{c}"))
            .collect::<Vec<_>>()
            .join("+"),
        &crate::domain::values::tokens::sha256_hex(&ids.join(","))[..16]
    );
    if !open.is_empty() && !confirm::confirmed(&form.confirm, &token) {
        let payouts = confirm::count(open.len(), "payout", "payouts");
        let programs = program_names(&state, &staff.vendor.id).await?;
        let run = run_view(run, &programs);
        return confirm::page(
            &staff,
            confirm::Confirm {
                title: "Mark the run paid?".into(),
                lines: vec![
                    format!(
                        "This marks {payouts} of the {} run of {} as paid, totalling {} to the affiliates.",
                        run.program, run.created, money.join(" and ")
                    ),
                    match &reference {
                        Some(r) => format!("Each payout records the reference \u{201c}{r}\u{201d}."),
                        None => "No payment reference is recorded.".into(),
                    },
                    "Do this only once the money has been sent: every affiliate of the run is emailed a statement, and it cannot be undone.".into(),
                ],
                changed: (!form.confirm.is_empty()).then(|| {
                    "The run changed since you looked (a payout was paid or failed meanwhile). Check the new figures below.".to_owned()
                }),
                action: format!("/dashboard/payouts/runs/{id}/paid"),
                fields: vec![("reference".into(), form.reference.clone())],
                token,
                button: format!("Mark {payouts} paid"),
                cancel: format!("/dashboard/payouts/runs/{id}"),
            },
        );
    }
    let result = payouts::run_paid(
        &state.db,
        &state.sender,
        &staff.vendor.id,
        &id,
        reference.as_deref(),
        &actor(&staff),
    )
    .await;
    match result {
        Ok(done) => Ok(see_other(&format!(
            "/dashboard/payouts/runs/{id}?done=paid&n={}",
            done.changed.len()
        ))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let typed = form.into_inner().reference;
            let page = run_page(&staff, &state, &id, 1, None, Some(&e), typed).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

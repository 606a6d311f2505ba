//! The payouts page: the run form with its dry-run preview, the run itself, and the list of
//! runs and payouts (status and affiliate filters; HTMX swaps the table).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::payouts::{Filter, RunRow};
use crate::domain::partners::payout_settings::method_label;
use crate::domain::partners::terms::{format_bps, format_money};
use crate::domain::payouts::{self, ProgramRun, RunRequest, Trigger};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, ProgramOption, person_label, render, see_other};
use crate::http::pagination::Page;

use crate::http::dashboard::confirm;
use crate::http::dashboard::picker::{self, Picked};

use super::{
    Names, PER_PAGE, PayoutView, RUNS_SHOWN, RunView, actor, name_starters, program_names,
    run_view, some,
};

/// A payout a preview would create.
struct PlannedView {
    affiliate_id: String,
    affiliate: String,
    email: String,
    method: String,
    destination: String,
    amount: String,
    fee: String,
    net: String,
}

/// A balance a run leaves alone, and why.
struct SkippedView {
    affiliate_id: String,
    affiliate: String,
    amount: String,
    reason: String,
}

/// What a run would do for one program.
struct PreviewView {
    program: String,
    payouts: Vec<PlannedView>,
    skipped: Vec<SkippedView>,
}

fn skip_reason(reason: &str, minimum: &str) -> String {
    match reason {
        "below_minimum" => format!("below the program's minimum payout ({minimum})"),
        "no_payout_method" => "no payout method or destination set".into(),
        "tax_details_missing" => "tax details (legal name, country, tax id) not given yet".into(),
        "affiliate_inactive" => "the affiliate is not active".into(),
        other => other.replace('_', " "),
    }
}

async fn preview(
    state: &AppState,
    staff: &Staff,
    runs: Vec<ProgramRun>,
) -> Result<Vec<PreviewView>, HtmlError> {
    let skipped_ids: Vec<String> = runs
        .iter()
        .flat_map(|r| r.skipped.iter().map(|s| s.affiliate_id.clone()))
        .collect();
    let names = Names::load(
        state,
        &staff.vendor.id,
        skipped_ids.iter().map(String::as_str),
    )
    .await?;
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let mut payouts = Vec::with_capacity(r.payouts.len());
        for (_, p) in r.payouts {
            payouts.push(PlannedView {
                affiliate: person_label(&p.affiliate_name, &p.affiliate_email).to_owned(),
                email: p.affiliate_email,
                method: method_label(&p.method).to_owned(),
                destination: p.destination,
                amount: format_money(p.amount_cents, &p.currency),
                fee: format!(
                    "{} ({})",
                    format_money(p.fee_cents, &p.currency),
                    format_bps(p.fee_bps)
                ),
                net: format_money(p.net_cents, &p.currency),
                affiliate_id: p.affiliate_id,
            });
        }
        let minimum = format_money(r.program.min_payout_cents, &r.program.currency);
        let mut skipped = Vec::with_capacity(r.skipped.len());
        for s in r.skipped {
            skipped.push(SkippedView {
                affiliate: names.of(&s.affiliate_id).0,
                amount: format_money(s.amount_cents, &s.currency),
                reason: skip_reason(s.reason, &minimum),
                affiliate_id: s.affiliate_id,
            });
        }
        out.push(PreviewView {
            program: r.program.name,
            payouts,
            skipped,
        });
    }
    Ok(out)
}

/// The list's state, as it appears in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    affiliate_id: String,
    /// The picker's typed text, used when no `affiliate_id` was picked (no script).
    #[serde(default)]
    affiliate: String,
    page: Option<i64>,
    /// Payouts created by the run just made (for the notice).
    ran: Option<usize>,
}

fn list_url(q: &ListQuery, page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = [("status", &q.status), ("affiliate_id", &q.affiliate_id)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
    pairs.push(("page", page.to_string()));
    format!(
        "/dashboard/payouts?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

#[derive(Template)]
#[template(path = "dashboard/payouts_table_partial.html")]
struct Table {
    rows: Vec<PayoutView>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

/// The list query with the picker resolved to an affiliate id.
async fn picked(
    staff: &Staff,
    state: &AppState,
    mut q: ListQuery,
) -> Result<(ListQuery, Picked), HtmlError> {
    let pick = picker::resolve(state, &staff.vendor.id, &q.affiliate_id, &q.affiliate).await?;
    q.affiliate_id = pick.id.clone();
    Ok((q, pick))
}

async fn table(staff: &Staff, state: &AppState, q: &ListQuery) -> Result<Table, HtmlError> {
    let vendor_id = staff.vendor.id.as_str();
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let filter = Filter {
        vendor_id,
        affiliate_id: Some(q.affiliate_id.trim()).filter(|s| !s.is_empty()),
        run_id: None,
        status: payouts::parse_status(Some(&q.status))?,
        currency: None,
    };
    let (found, total) = payouts::list(&state.db, &filter, paging.limit(), paging.offset()).await?;
    let names = Names::load(
        state,
        vendor_id,
        found.iter().map(|p| p.affiliate_id.as_str()),
    )
    .await?;
    let rows = found.into_iter().map(|p| names.payout(p)).collect();
    Ok(Table {
        rows,
        total,
        page,
        prev_url: paging.prev().map(|n| list_url(q, n)),
        next_url: paging.next(total).map(|n| list_url(q, n)),
    })
}

/// The run form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunForm {
    program_id: String,
    currency: String,
    /// `preview` (a dry run) or `run`.
    action: String,
    /// The figures the confirmation page showed (see [`confirm`]); a run without them,
    /// or with figures that changed since, shows the confirmation instead of acting.
    confirm: String,
}

/// Payouts per currency of a dry run: (currency, count, amount, net), in first-seen order.
fn totals(runs: &[ProgramRun]) -> Vec<(String, usize, i64, i64)> {
    let mut out: Vec<(String, usize, i64, i64)> = Vec::new();
    for (_, p) in runs.iter().flat_map(|r| r.payouts.iter()) {
        match out.iter_mut().find(|(c, ..)| *c == p.currency) {
            Some((_, n, amount, net)) => {
                *n += 1;
                *amount = amount.saturating_add(p.amount_cents);
                *net = net.saturating_add(p.net_cents);
            }
            None => out.push((p.currency.clone(), 1, p.amount_cents, p.net_cents)),
        }
    }
    out
}

/// The figures a run confirmation names, as one comparable token: who is paid and how
/// much, so any change (a new conversion, a refund, a changed payout method) shows anew.
fn fingerprint(runs: &[ProgramRun]) -> String {
    let mut parts: Vec<String> = runs
        .iter()
        .flat_map(|r| r.payouts.iter())
        .map(|(_, p)| format!("{}:{}:{}", p.affiliate_id, p.currency, p.amount_cents))
        .collect();
    parts.sort();
    let total: Vec<String> = totals(runs)
        .iter()
        .map(|(c, n, amount, _)| format!("{n}x{amount}{c}"))
        .collect();
    // The readable part first (it is what the page showed); the detail keeps it honest.
    let digest = crate::domain::values::tokens::sha256_hex(&parts.join(","));
    format!("{}-{}", total.join("+"), &digest[..16])
}

/// The confirmation of a run: how many payouts, how much, for which programs and balances.
fn run_confirmation(
    f: &RunForm,
    runs: &[ProgramRun],
    token: String,
    changed: bool,
) -> confirm::Confirm {
    let totals = totals(runs);
    let count: usize = totals.iter().map(|(_, n, ..)| n).sum();
    let money: Vec<String> = totals
        .iter()
        .map(|(c, _, amount, net)| {
            if amount == net {
                format_money(*amount, c)
            } else {
                format!(
                    "{} ({} to the affiliates after fees)",
                    format_money(*amount, c),
                    format_money(*net, c)
                )
            }
        })
        .collect();
    let programs: Vec<String> = runs
        .iter()
        .filter(|r| !r.payouts.is_empty())
        .map(|r| r.program.name.clone())
        .collect();
    let scope = if f.program_id.trim().is_empty() {
        format!("every active program ({})", programs.join(", "))
    } else {
        format!("the program {}", programs.join(", "))
    };
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let payouts = confirm::count(count, "payout", "payouts");
    confirm::Confirm {
        title: "Run payouts?".into(),
        lines: vec![
            format!(
                "This creates {payouts} totalling {} for {scope}.",
                money.join(" and ")
            ),
            format!(
                "It pays the commissions whose holding period ended by now ({now}) and that \
                 reach the program's minimum payout; newer commissions wait for the next run."
            ),
            "No money moves yet: you then send it (the PayPal file or your bank) and mark \
             the run paid."
                .into(),
        ],
        changed: changed.then(|| {
            "The figures changed since you looked (new or refunded commissions, or a changed \
             payout method). Check the new figures below."
                .to_owned()
        }),
        action: "/dashboard/payouts/run".into(),
        fields: vec![
            ("program_id".into(), f.program_id.clone()),
            ("currency".into(), f.currency.clone()),
            ("action".into(), "run".into()),
        ],
        token,
        button: format!("Run {payouts}"),
        cancel: "/dashboard/payouts".into(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/payouts.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    statuses: &'static [&'static str],
    programs: Vec<ProgramOption>,
    f: RunForm,
    error: Option<String>,
    error_field: String,
    notice: Option<String>,
    preview: Option<Vec<PreviewView>>,
    runs: Vec<RunView>,
    q: ListQuery,
    /// The affiliate filter's picker.
    pick: Picked,
    pick_name: &'static str,
    table: Table,
}

async fn list_page(
    staff: &Staff,
    state: &AppState,
    q: ListQuery,
    f: RunForm,
    error: Option<&AppError>,
    preview: Option<Vec<PreviewView>>,
) -> Result<ListPage, HtmlError> {
    let (q, pick) = picked(staff, state, q).await?;
    let table = table(staff, state, &q).await?;
    let programs = program_names(state, &staff.vendor.id).await?;
    let (runs, _) = payouts::runs(&state.db, &staff.vendor.id, RUNS_SHOWN, 0).await?;
    let mut runs: Vec<RunView> = runs.into_iter().map(|r| run_view(r, &programs)).collect();
    name_starters(state, &staff.vendor.id, &mut runs).await?;
    let notice = q.ran.map(|n| match n {
        0 => "Nothing to pay: no payout was created.".to_owned(),
        1 => "Run complete: 1 payout created.".to_owned(),
        n => format!("Run complete: {n} payouts created."),
    });
    Ok(ListPage {
        chrome: Chrome::new(&staff.session, "Payouts"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        statuses: payouts::STATUSES,
        programs: programs
            .into_iter()
            .map(|(id, name)| ProgramOption { id, name })
            .collect(),
        f,
        error: error.map(AppError::page_message),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
        notice,
        preview,
        runs,
        q,
        pick,
        pick_name: "Affiliate",
        table,
    })
}

/// `GET /dashboard/payouts?status=&affiliate_id=&page=`: the run form, the runs and the
/// payouts; only the payouts table for HTMX.
pub async fn list(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    if req.headers().contains_key("hx-request") {
        let (q, _) = picked(&staff, &state, q).await?;
        return render(StatusCode::OK, &table(&staff, &state, &q).await?);
    }
    let page = list_page(&staff, &state, q, RunForm::default(), None, None).await?;
    render(StatusCode::OK, &page)
}

/// `POST /dashboard/payouts/run`: a preview shows what a run would pay and creates
/// nothing; a run creates the payouts and shows its run (or the list, for several
/// programs). A refused run re-renders the form with the message.
pub async fn run(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<RunForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let mut req = RunRequest {
        program_id: some(&f.program_id),
        currency: some(&f.currency),
        dry_run: true,
    };
    if f.action == "run" {
        // A run acts only after its confirmation page, and only on the figures it showed.
        let planned = payouts::run(
            &state.db,
            &staff.vendor.id,
            &req,
            Trigger::Dashboard,
            &actor(&staff),
        )
        .await;
        match planned {
            Ok(runs) if runs.iter().any(|r| !r.payouts.is_empty()) => {
                let token = fingerprint(&runs);
                if !confirm::confirmed(&f.confirm, &token) {
                    let changed = !f.confirm.is_empty();
                    return confirm::page(&staff, run_confirmation(&f, &runs, token, changed));
                }
                req.dry_run = false;
            }
            // Nothing to pay: running changes nothing, so it needs no confirmation.
            Ok(_) => req.dry_run = false,
            Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
                let status = e.status_code();
                let page =
                    list_page(&staff, &state, ListQuery::default(), f, Some(&e), None).await?;
                return render(status, &page);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let result = payouts::run(
        &state.db,
        &staff.vendor.id,
        &req,
        Trigger::Dashboard,
        &actor(&staff),
    )
    .await;
    match result {
        Ok(runs) if req.dry_run => {
            let shown = preview(&state, &staff, runs).await?;
            let page =
                list_page(&staff, &state, ListQuery::default(), f, None, Some(shown)).await?;
            render(StatusCode::OK, &page)
        }
        Ok(runs) => {
            let created: usize = runs.iter().map(|r| r.payouts.len()).sum();
            let stored: Vec<&RunRow> = runs.iter().filter_map(|r| r.run.as_ref()).collect();
            Ok(match stored.as_slice() {
                [one] => see_other(&format!("/dashboard/payouts/runs/{}", one.id)),
                _ => see_other(&format!("/dashboard/payouts?ran={created}")),
            })
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let page = list_page(&staff, &state, ListQuery::default(), f, Some(&e), None).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

//! Dashboard payouts: the run form (a dry-run preview, then the run itself), the runs and
//! the payouts (status and affiliate filters; HTMX swaps the table), one run with its files
//! and bulk actions, and one payout's statement with its state changes. Every rule is the
//! domain's ([`crate::domain::payouts`]); these handlers translate forms and render.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{
    affiliates::AffiliateRow,
    payouts::{Filter, PayoutRow, RunRow},
};
use crate::domain::partners::payout_settings::method_label;
use crate::domain::partners::terms::{format_bps, format_money};
use crate::domain::payouts::{self, ProgramRun, RunRequest, Statement, Trigger, export};
use crate::domain::tenancy::audit::Actor;
use crate::domain::values::status::PayoutStatus;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::payouts::download;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, day, render, see_other, when};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;
/// Runs listed on the payouts page (newest first).
const RUNS_SHOWN: i64 = 20;

fn some(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|s| !s.is_empty())
}

fn actor(staff: &Staff) -> Actor {
    Actor::User(staff.user.id.clone())
}

/// The names and emails of the affiliates a page shows.
struct Names(HashMap<String, AffiliateRow>);

impl Names {
    async fn load<'a>(
        state: &AppState,
        vendor_id: &str,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, HtmlError> {
        Ok(Self(
            payouts::affiliates_of(&state.db, vendor_id, ids).await?,
        ))
    }

    /// (display name, email); the email stands in for a missing name.
    fn of(&self, affiliate_id: &str) -> (String, String) {
        self.0
            .get(affiliate_id)
            .map(|a| {
                let name = if a.name.is_empty() { &a.email } else { &a.name };
                (name.clone(), a.email.clone())
            })
            .unwrap_or_default()
    }

    fn payout(&self, p: PayoutRow) -> PayoutView {
        let (affiliate, affiliate_email) = self.of(&p.affiliate_id);
        PayoutView {
            created: when(p.created_at),
            affiliate,
            affiliate_email,
            method: method_label(&p.method).to_owned(),
            amount: format_money(p.amount_cents, &p.currency),
            fee: if p.fee_cents == 0 {
                String::new()
            } else {
                format_money(p.fee_cents, &p.currency)
            },
            fee_rate: format_bps(p.fee_bps),
            net: format_money(p.net_cents, &p.currency),
            reference: p.reference.unwrap_or_default(),
            failure_reason: p.failure_reason.unwrap_or_default(),
            provider_error: p.provider_error.unwrap_or_default(),
            processing_at: p.processing_at.map(when).unwrap_or_default(),
            paid_at: p.paid_at.map(when).unwrap_or_default(),
            failed_at: p.failed_at.map(when).unwrap_or_default(),
            id: p.id,
            run_id: p.run_id,
            affiliate_id: p.affiliate_id,
            destination: p.destination,
            status: p.status,
        }
    }
}

/// One payout as shown in tables and on its page.
struct PayoutView {
    id: String,
    run_id: String,
    created: String,
    affiliate_id: String,
    affiliate: String,
    affiliate_email: String,
    method: String,
    destination: String,
    amount: String,
    /// Empty when there is no fee.
    fee: String,
    fee_rate: String,
    net: String,
    status: String,
    reference: String,
    failure_reason: String,
    provider_error: String,
    processing_at: String,
    paid_at: String,
    failed_at: String,
}

/// One run in the runs table.
struct RunView {
    id: String,
    created: String,
    program: String,
    currency: String,
    trigger: String,
    payouts: i64,
    created_by: String,
}

/// Program names by id, for runs.
async fn program_names(
    state: &AppState,
    vendor_id: &str,
) -> Result<Vec<(String, String)>, HtmlError> {
    let programs = crate::domain::partners::programs::all(&state.db, vendor_id).await?;
    Ok(programs
        .into_iter()
        .map(|p| (p.row.id, p.row.name))
        .collect())
}

fn run_view(r: RunRow, programs: &[(String, String)]) -> RunView {
    RunView {
        program: programs
            .iter()
            .find(|(id, _)| *id == r.program_id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| r.program_id.clone()),
        created: when(r.created_at),
        currency: r.currency.unwrap_or_default(),
        trigger: match r.schedule_key {
            Some(month) => format!("{} ({month})", r.trigger_source),
            None => r.trigger_source,
        },
        payouts: r.payouts,
        created_by: r.created_by.unwrap_or_default(),
        id: r.id,
    }
}

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
                affiliate: if p.affiliate_name.is_empty() {
                    p.affiliate_email.clone()
                } else {
                    p.affiliate_name
                },
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
}

struct ProgramOption {
    id: String,
    name: String,
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
    let table = table(staff, state, &q).await?;
    let programs = program_names(state, &staff.vendor.id).await?;
    let (runs, _) = payouts::runs(&state.db, &staff.vendor.id, RUNS_SHOWN, 0).await?;
    let runs = runs.into_iter().map(|r| run_view(r, &programs)).collect();
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
        error: error.map(AppError::public_message),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
        notice,
        preview,
        runs,
        q,
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
    let req = RunRequest {
        program_id: some(&f.program_id),
        currency: some(&f.currency),
        dry_run: f.action != "run",
    };
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

/// A download link of a run's file.
struct Download {
    label: String,
    url: String,
}

#[derive(Template)]
#[template(path = "dashboard/payout_run.html")]
struct RunPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    run: RunView,
    payouts: Vec<PayoutView>,
    /// Net to pay per currency, for the open payouts.
    open_totals: Vec<String>,
    pending: usize,
    open: usize,
    paypal: Vec<Download>,
    csv_url: String,
    json_url: String,
    notice: Option<String>,
    error: Option<String>,
    reference: String,
}

/// `?done=processing|paid&n=` after a bulk action.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
    n: Option<usize>,
}

impl Done {
    fn notice(&self) -> Option<String> {
        let n = self.n.unwrap_or(0);
        let plural = if n == 1 { "payout" } else { "payouts" };
        match self.done.as_deref()? {
            "processing" => Some(format!("{n} {plural} marked as sent.")),
            "paid" => Some(format!("{n} {plural} marked as paid.")),
            "failed" => {
                Some("Marked as failed. The amount is available to the affiliate again.".into())
            }
            _ => None,
        }
    }
}

async fn run_page(
    staff: &Staff,
    state: &AppState,
    id: &str,
    notice: Option<String>,
    error: Option<&AppError>,
    reference: String,
) -> Result<RunPage, HtmlError> {
    let (run, rows) = payouts::run_detail(&state.db, &staff.vendor.id, id).await?;
    let programs = program_names(state, &staff.vendor.id).await?;
    let is_open = payouts::is_open;
    let mut totals: Vec<(String, i64)> = Vec::new();
    for p in rows.iter().filter(|p| is_open(p)) {
        match totals.iter_mut().find(|(c, _)| *c == p.currency) {
            Some((_, sum)) => *sum = sum.saturating_add(p.net_cents),
            None => totals.push((p.currency.clone(), p.net_cents)),
        }
    }
    let paypal_currencies = export::paypal_currencies(&rows);
    let base = format!("/dashboard/payouts/runs/{}/export", run.id);
    let paypal = match paypal_currencies.as_slice() {
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
    let pending = rows
        .iter()
        .filter(|p| PayoutStatus::Pending.is(&p.status))
        .count();
    let open = rows.iter().filter(|p| is_open(p)).count();
    let names = Names::load(
        state,
        &staff.vendor.id,
        rows.iter().map(|p| p.affiliate_id.as_str()),
    )
    .await?;
    let payouts = rows.into_iter().map(|p| names.payout(p)).collect();
    let run = run_view(run, &programs);
    Ok(RunPage {
        chrome: Chrome::new(&staff.session, format!("Payout run {}", run.id)),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        open_totals: totals
            .iter()
            .map(|(c, sum)| format_money(*sum, c))
            .collect(),
        pending,
        open,
        paypal,
        csv_url: format!("{base}?format=csv"),
        json_url: format!("{base}?format=json"),
        notice,
        error: error.map(AppError::public_message),
        reference,
        run,
        payouts,
    })
}

/// `GET /dashboard/payouts/runs/{id}`: a run's payouts, its files and bulk actions.
pub async fn run_show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<Done>,
) -> Result<HttpResponse, HtmlError> {
    let page = run_page(&staff, &state, &id, q.notice(), None, String::new()).await?;
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
    let file = export::file(&state.db, &filter, &format).await?;
    Ok(download(file))
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

/// The paid form: the payment's reference (a PayPal batch id, a bank reference).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaidForm {
    reference: String,
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
            let page = run_page(&staff, &state, &id, None, Some(&e), typed).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// One commission a payout settles, for statements (dashboard and portal).
pub(crate) struct CommissionLine {
    /// The conversion it comes from.
    pub conversion_id: String,
    /// When the conversion happened.
    pub converted: String,
    /// `direct`, or the upline level.
    pub level: String,
    /// How it was computed.
    pub rule: String,
    /// What it is worth.
    pub amount: String,
    /// Taken back by refunds before the payout (empty when none).
    pub reversed: String,
}

/// A payout's statement as text for people: its commissions, then the adjustments, the
/// fee and the net.
pub(crate) struct StatementView {
    /// The commissions settled.
    pub lines: Vec<CommissionLine>,
    /// What the commissions are worth.
    pub commissions_total: String,
    /// Clawbacks netted (negative), empty when none.
    pub adjustments: String,
    /// Amount settled.
    pub amount: String,
    /// Platform fee with its rate, empty when none.
    pub fee: String,
    /// What the affiliate receives.
    pub net: String,
}

/// Builds the statement shown by the dashboard and the portal.
pub(crate) fn statement_view(s: &Statement) -> StatementView {
    let p = &s.payout;
    let mut lines = Vec::with_capacity(s.commissions.len());
    for c in &s.commissions {
        lines.push(CommissionLine {
            conversion_id: c.conversion_id.clone(),
            converted: s
                .converted_at
                .get(&c.conversion_id)
                .map(|at| day(*at))
                .unwrap_or_default(),
            level: if c.level == 0 {
                "direct".into()
            } else {
                format!("upline {}", c.level)
            },
            rule: c.rule.clone(),
            amount: format_money(c.net_cents(), &c.currency),
            reversed: if c.reversed_cents > 0 {
                format_money(c.reversed_cents, &c.currency)
            } else {
                String::new()
            },
        });
    }
    let adjustments = s.adjustments_cents();
    StatementView {
        lines,
        commissions_total: format_money(p.commissions_cents, &p.currency),
        adjustments: if adjustments == 0 {
            String::new()
        } else {
            format_money(adjustments, &p.currency)
        },
        amount: format_money(p.amount_cents, &p.currency),
        fee: if p.fee_cents == 0 {
            String::new()
        } else {
            format!(
                "{} ({})",
                format_money(p.fee_cents, &p.currency),
                format_bps(p.fee_bps)
            )
        },
        net: format_money(p.net_cents, &p.currency),
    }
}

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
        error: error.map(AppError::public_message),
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

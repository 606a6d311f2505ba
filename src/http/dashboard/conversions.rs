//! Dashboard conversions: the list (status and affiliate filters, pagination; HTMX swaps
//! the table), one conversion with its commissions, inline approval and rejection (HTMX),
//! and the manual conversion form.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, commissions::CommissionRow, conversions::ConversionRow};
use crate::domain::earnings::conversions::{self, ManualInput, STATUSES};
use crate::domain::partners::terms::{format_amount, format_money, parse_amount};
use crate::domain::tenancy::audit::Actor;
use crate::domain::values::money;
use crate::error::AppError;
use crate::http::dashboard::Staff;
use crate::http::dashboard::picker::{self, Picked};
use crate::http::pages::{
    Chrome, HtmlError, ProgramOption, person_label, program_options, render, see_other, when,
};
use crate::http::pagination::Page;
use crate::http::{AppState, session};

const PER_PAGE: i64 = 50;

/// One conversion as a table row.
pub struct Row {
    id: String,
    when: String,
    affiliate_id: String,
    affiliate: String,
    amount: String,
    refunded: String,
    commission: String,
    status: String,
    reason: String,
    source: String,
    trigger: String,
}

/// One commission on the detail page.
struct CommissionView {
    level: i64,
    affiliate_id: String,
    amount: String,
    reversed: String,
    rule: String,
    status: String,
    available: String,
}

/// The converting affiliate's commission in its currency; empty when there is none.
fn direct_commission(commissions: &[CommissionRow]) -> String {
    match commissions.iter().find(|m| m.level == 0) {
        None => String::new(),
        Some(first) => format_money(
            conversions::direct_commission_cents(commissions),
            &first.currency,
        ),
    }
}

/// Affiliate display names, looked up once per affiliate of a page.
struct Names<'a> {
    state: &'a AppState,
    vendor_id: &'a str,
    known: HashMap<String, String>,
}

impl<'a> Names<'a> {
    fn new(state: &'a AppState, vendor_id: &'a str) -> Self {
        Self {
            state,
            vendor_id,
            known: HashMap::new(),
        }
    }

    async fn of(&mut self, affiliate_id: &str) -> Result<String, HtmlError> {
        if let Some(name) = self.known.get(affiliate_id) {
            return Ok(name.clone());
        }
        let name = db::affiliates::by_id(self.state.db.pool(), self.vendor_id, affiliate_id)
            .await?
            .map(|a| person_label(&a.name, &a.email).to_owned())
            .unwrap_or_default();
        self.known.insert(affiliate_id.to_owned(), name.clone());
        Ok(name)
    }

    async fn row(
        &mut self,
        c: ConversionRow,
        commissions: &[CommissionRow],
    ) -> Result<Row, HtmlError> {
        Ok(Row {
            affiliate: self.of(&c.affiliate_id).await?,
            when: when(c.occurred_at),
            amount: format_money(c.amount_cents, &c.currency),
            refunded: if c.refunded_cents > 0 {
                format_money(c.refunded_cents, &c.currency)
            } else {
                String::new()
            },
            commission: direct_commission(commissions),
            id: c.id,
            affiliate_id: c.affiliate_id,
            status: c.status,
            reason: c.reason.unwrap_or_default(),
            source: c.source,
            trigger: c.trigger_type,
        })
    }
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
}

fn list_url(q: &ListQuery, page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = [("status", &q.status), ("affiliate_id", &q.affiliate_id)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
    pairs.push(("page", page.to_string()));
    format!(
        "/dashboard/conversions?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

#[derive(Template)]
#[template(path = "dashboard/conversions_table_partial.html")]
struct Table {
    csrf: String,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/conversion_row_partial.html")]
struct RowPartial {
    csrf: String,
    r: Row,
}

/// The manual conversion form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManualForm {
    affiliate_id: String,
    code: String,
    coupon_code: String,
    amount: String,
    currency: String,
    external_id: String,
    program_id: String,
}

/// What the form shows after a refused submission.
struct FormError {
    message: String,
    field: String,
    /// The conversion an already-used external id belongs to.
    existing_id: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/conversions.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    statuses: &'static [&'static str],
    q: ListQuery,
    /// The affiliate filter's picker.
    pick: Picked,
    pick_name: &'static str,
    table: Table,
    programs: Vec<ProgramOption>,
    f: ManualForm,
    error_field: String,
    error: Option<FormError>,
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
    let status = conversions::parse_status(Some(&q.status))?;
    let affiliate_id = Some(q.affiliate_id.trim()).filter(|s| !s.is_empty());
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let filter = db::conversions::Filter {
        vendor_id,
        affiliate_id,
        program_id: None,
        status,
        customer_id: None,
    };
    let (found, total) =
        conversions::page(&state.db, &filter, paging.limit(), paging.offset()).await?;
    let mut names = Names::new(state, vendor_id);
    let mut rows = Vec::with_capacity(found.len());
    for (c, commissions) in found {
        rows.push(names.row(c, &commissions).await?);
    }
    Ok(Table {
        csrf: session::csrf_token(&staff.session),
        rows,
        total,
        page,
        prev_url: paging.prev().map(|n| list_url(q, n)),
        next_url: paging.next(total).map(|n| list_url(q, n)),
    })
}

async fn list_page(
    staff: &Staff,
    state: &AppState,
    q: ListQuery,
    f: ManualForm,
    error: Option<FormError>,
) -> Result<ListPage, HtmlError> {
    let (q, pick) = picked(staff, state, q).await?;
    let table = table(staff, state, &q).await?;
    let programs = program_options(&state.db, &staff.vendor.id).await?;
    Ok(ListPage {
        chrome: Chrome::new(&staff.session, "Conversions"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        statuses: STATUSES,
        q,
        pick,
        pick_name: "Affiliate",
        table,
        programs,
        f,
        error_field: error.as_ref().map(|e| e.field.clone()).unwrap_or_default(),
        error,
    })
}

/// `GET /dashboard/conversions?status=&affiliate_id=&page=`: the page, or only the table
/// for HTMX.
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
    let page = list_page(&staff, &state, q, ManualForm::default(), None).await?;
    render(StatusCode::OK, &page)
}

/// The typed decimal amount in minor units of `currency` (the one the conversion will be
/// recorded in), with the form's own words for the range.
fn manual_amount(f: &ManualForm, currency: &str) -> Result<i64, AppError> {
    let amount_cents = parse_amount("amount", &f.amount, currency)?;
    if amount_cents <= 0 {
        return Err(AppError::invalid(
            "amount",
            "enter an amount greater than zero",
        ));
    }
    if amount_cents > money::MAX_CENTS {
        // The domain refuses it too; here the message speaks in the form's units.
        return Err(AppError::invalid(
            "amount",
            format!(
                "enter an amount of at most {}",
                format_amount(money::MAX_CENTS, currency)
            ),
        ));
    }
    Ok(amount_cents)
}

/// Turns the typed form into the domain input; the amount is read by [`manual_amount`]
/// once the currency is known.
fn manual_input(f: &ManualForm) -> Result<ManualInput, AppError> {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    if f.affiliate_id.trim().is_empty()
        && f.code.trim().is_empty()
        && f.coupon_code.trim().is_empty()
    {
        return Err(AppError::invalid(
            "affiliate_id",
            "enter the affiliate's email, one of its referral codes or a promo code",
        ));
    }
    Ok(ManualInput {
        affiliate_id: some(&f.affiliate_id),
        code: some(&f.code),
        coupon_code: some(&f.coupon_code),
        amount_cents: 0,
        currency: some(&f.currency),
        external_id: some(&f.external_id),
        program_id: some(&f.program_id),
        customer_id: None,
        invoice_id: None,
        payment_intent_id: None,
        charge_id: None,
    })
}

/// What the form says about a refused conversion; `None` for errors that are not the
/// form's (they render as an error page).
fn form_error(e: &AppError, f: &ManualForm) -> Option<(StatusCode, FormError)> {
    let field = |name: &str| match name {
        "amount_cents" => "amount".to_owned(),
        other => other.to_owned(),
    };
    match e {
        AppError::Invalid { field: name, .. } => Some((
            e.status_code(),
            FormError {
                message: e.page_message(),
                field: field(name),
                existing_id: None,
            },
        )),
        AppError::AlreadyExists { id, .. } => Some((
            e.status_code(),
            FormError {
                message: "A conversion with this external id is already recorded.".into(),
                field: "external_id".into(),
                existing_id: Some(id.clone()),
            },
        )),
        AppError::Conflict { .. } => Some((
            e.status_code(),
            FormError {
                message: e.page_message(),
                field: e.field().map(field).unwrap_or_default(),
                existing_id: None,
            },
        )),
        // The affiliate or code is unknown (or another vendor's).
        // A promo code is looked up first (see `manual_enrollment`).
        AppError::NotFound if !f.coupon_code.trim().is_empty() => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            FormError {
                message: "No affiliate of yours has this promo code, or it is disabled.".into(),
                field: "coupon_code".into(),
                existing_id: None,
            },
        )),
        AppError::NotFound => {
            let by_code = f.affiliate_id.trim().is_empty();
            Some((
                StatusCode::UNPROCESSABLE_ENTITY,
                FormError {
                    message: if by_code {
                        "No affiliate of yours has this referral code.".into()
                    } else {
                        "No affiliate of yours has this id.".into()
                    },
                    field: if by_code { "code" } else { "affiliate_id" }.into(),
                    existing_id: None,
                },
            ))
        }
        _ => None,
    }
}

/// `POST /dashboard/conversions`: records a manual conversion, then shows it; a refused
/// one re-renders the form with the message and the typed values.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<ManualForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    // People type the affiliate's email (or name); an `aff_` id still works.
    let typed = f.affiliate_id.trim();
    let resolved = if typed.is_empty() || typed.starts_with("aff_") {
        Ok(None)
    } else {
        match crate::domain::partners::affiliates::pick(&state.db, &staff.vendor.id, typed).await? {
            Some(a) => Ok(Some(a.id)),
            None => Err(AppError::invalid(
                "affiliate_id",
                "no single affiliate has that email or name; type the whole email",
            )),
        }
    };
    let recorded = match resolved.and_then(|id| {
        let mut input = manual_input(&f)?;
        if id.is_some() {
            input.affiliate_id = id;
        }
        Ok(input)
    }) {
        Ok(mut input) => {
            let amount =
                match conversions::manual_currency(&state.db, &staff.vendor.id, &input).await {
                    Ok(currency) => manual_amount(&f, currency.as_str()),
                    Err(e) => Err(e),
                };
            match amount {
                Ok(cents) => {
                    input.amount_cents = cents;
                    conversions::record_manual(
                        &state.db,
                        &state.tracker,
                        &state.ingest,
                        &staff.vendor.id,
                        &input,
                        &Actor::User(staff.user.id.clone()),
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match recorded {
        Ok((c, _)) => Ok(see_other(&format!("/dashboard/conversions/{}", c.id))),
        Err(e) => match form_error(&e, &f) {
            Some((status, error)) => {
                let page = list_page(&staff, &state, ListQuery::default(), f, Some(error)).await?;
                render(status, &page)
            }
            None => Err(e.into()),
        },
    }
}

#[derive(Template)]
#[template(path = "dashboard/conversion.html")]
struct DetailPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    csrf: String,
    r: Row,
    program_id: String,
    customer_id: String,
    external_id: String,
    payment_ids: String,
    available: String,
    decided: String,
    commissions: Vec<CommissionView>,
}

/// `GET /dashboard/conversions/{id}`: one conversion with every commission it produced.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let vendor_id = staff.vendor.id.as_str();
    let (c, rows) = conversions::with_commissions(&state.db, vendor_id, &id).await?;
    let r = Names::new(&state, vendor_id).row(c.clone(), &rows).await?;
    let commissions = rows
        .into_iter()
        .map(|m| CommissionView {
            amount: format_money(m.net_cents(), &m.currency),
            reversed: if m.reversed_cents > 0 {
                format_amount(m.reversed_cents, &m.currency)
            } else {
                String::new()
            },
            level: m.level,
            affiliate_id: m.affiliate_id,
            rule: m.rule,
            status: m.status,
            available: when(m.available_at),
        })
        .collect();
    let payment_ids = [&c.invoice_id, &c.payment_intent_id, &c.charge_id]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let chrome = Chrome::new(&staff.session, format!("Conversion {}", c.id));
    let page = DetailPage {
        csrf: chrome.csrf.clone(),
        chrome,
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        program_id: c.program_id.clone(),
        customer_id: c.customer_id.clone().unwrap_or_default(),
        external_id: c.external_id.clone().unwrap_or_default(),
        payment_ids,
        available: when(c.available_at),
        decided: c.decided_at.map(when).unwrap_or_default(),
        commissions,
        r,
    };
    render(StatusCode::OK, &page)
}

/// Answers a decision: the updated row for HTMX, else back to the list.
async fn decided(
    req: &HttpRequest,
    staff: &Staff,
    state: &AppState,
    c: ConversionRow,
) -> Result<HttpResponse, HtmlError> {
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other("/dashboard/conversions"));
    }
    let (c, commissions) =
        conversions::with_commissions(&state.db, &staff.vendor.id, &c.id).await?;
    let r = Names::new(state, &staff.vendor.id)
        .row(c, &commissions)
        .await?;
    let csrf = session::csrf_token(&staff.session);
    render(StatusCode::OK, &RowPartial { csrf, r })
}

/// `POST /dashboard/conversions/{id}/approve`: commissions become available now.
pub async fn approve(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let c = conversions::approve(
        &state.db,
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    decided(&req, &staff, &state, c).await
}

/// The inline rejection form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RejectForm {
    reason: String,
}

/// `POST /dashboard/conversions/{id}/reject`: commissions are taken back.
pub async fn reject(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<RejectForm>,
) -> Result<HttpResponse, HtmlError> {
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    let c = conversions::reject(
        &state.db,
        &staff.vendor.id,
        &id,
        reason,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    decided(&req, &staff, &state, c).await
}

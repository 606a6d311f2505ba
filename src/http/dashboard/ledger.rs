//! Dashboard: one affiliate's ledger, its balances per currency and the journal lines on
//! its accounts, newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{self, ledger::EntryRow};
use crate::domain::earnings::ledger::{self, Balance};
use crate::domain::partners::terms::format_amount;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, person_label, render};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 50;

/// One currency's balances, formatted.
struct BalanceView {
    currency: String,
    pending: String,
    available: String,
    paid: String,
    earned: String,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        Self {
            pending: format_amount(b.pending_cents, &b.currency),
            available: format_amount(b.available_cents, &b.currency),
            paid: format_amount(b.paid_cents, &b.currency),
            earned: format_amount(b.earned_cents, &b.currency),
            currency: b.currency,
        }
    }
}

/// One journal line.
struct LineView {
    when: String,
    kind: String,
    account: String,
    amount: String,
    currency: String,
    memo: String,
    conversion_id: String,
}

impl From<EntryRow> for LineView {
    fn from(e: EntryRow) -> Self {
        Self {
            when: db::from_ms(e.created_at)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            kind: e.kind,
            account: e.account,
            amount: format_amount(e.amount_cents, &e.currency),
            currency: e.currency,
            memo: e.memo,
            conversion_id: e.conversion_id.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/affiliate_ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    id: String,
    name: String,
    balances: Vec<BalanceView>,
    lines: Vec<LineView>,
    total: i64,
    page: i64,
    has_next: bool,
}

/// `?page=`.
#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    page: Option<i64>,
}

/// `GET /dashboard/affiliates/{id}/ledger`: 404 for another vendor's affiliate.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<LedgerQuery>,
) -> Result<HttpResponse, HtmlError> {
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let st = ledger::statement(
        &state.db,
        &staff.vendor.id,
        &id,
        None,
        paging.limit(),
        paging.offset(),
    )
    .await?;
    let (a, balances, lines, total) = (st.affiliate, st.balances, st.entries, st.total);
    let name = person_label(&a.name, &a.email).to_owned();
    render(
        StatusCode::OK,
        &LedgerPage {
            chrome: Chrome::new(&staff.session, format!("Ledger · {name}")),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            id: a.id,
            name,
            balances: balances.into_iter().map(BalanceView::from).collect(),
            lines: lines.into_iter().map(LineView::from).collect(),
            total,
            page,
            has_next: paging.has_next(total),
        },
    )
}

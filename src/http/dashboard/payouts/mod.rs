//! Dashboard payouts: the run form (a dry-run preview, then the run itself), the runs and
//! the payouts (status and affiliate filters; HTMX swaps the table), one run with its files
//! and bulk actions, and one payout's statement with its state changes. Every rule is the
//! domain's ([`crate::domain::payouts`]); these handlers translate forms and render.

mod list;
mod payout;
mod run;

pub use list::{list, run};
pub use payout::{mark_failed, mark_paid, mark_processing, show};
pub use run::{run_export, run_paid, run_processing, run_show};

use std::collections::HashMap;

use serde::Deserialize;

use crate::db::{
    affiliates::AffiliateRow,
    payouts::{PayoutRow, RunRow},
};
use crate::domain::partners::payout_settings::method_label;
use crate::domain::partners::terms::{format_bps, format_money};
use crate::domain::payouts;
use crate::domain::tenancy::audit::Actor;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{HtmlError, person_label, when};

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
                let name = person_label(&a.name, &a.email);
                (name.to_owned(), a.email.clone())
            })
            .unwrap_or_default()
    }

    fn payout(&self, p: PayoutRow) -> PayoutView {
        let (affiliate, affiliate_email) = self.of(&p.affiliate_id);
        PayoutView::new(p, affiliate, affiliate_email)
    }
}

impl PayoutView {
    /// A payout with its affiliate's display name and email.
    fn new(p: PayoutRow, affiliate: String, affiliate_email: String) -> Self {
        Self {
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

    /// A payout read with its affiliate in the same statement.
    fn joined(row: crate::db::payouts::ExportRow) -> Self {
        let name = person_label(&row.affiliate_name, &row.affiliate_email).to_owned();
        Self::new(row.payout, name, row.affiliate_email)
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
        trigger: match (r.trigger_source.as_str(), r.schedule_key) {
            (_, Some(month)) => format!("Monthly schedule ({month})"),
            ("dashboard", None) => "From the dashboard".into(),
            ("api", None) => "Through the API".into(),
            (_, None) => "Automatically".into(),
        },
        payouts: r.payouts,
        created_by: r.created_by.unwrap_or_default(),
        id: r.id,
    }
}

/// Replaces the stored actor labels of runs (`user:usr_…`) with names, by the audit log's
/// one rule ([`crate::domain::tenancy::audit::label_name`]).
async fn name_starters(
    state: &AppState,
    vendor_id: &str,
    runs: &mut [RunView],
) -> Result<(), HtmlError> {
    for run in runs.iter_mut().filter(|r| !r.created_by.is_empty()) {
        run.created_by =
            crate::domain::tenancy::audit::label_name(&state.db, vendor_id, &run.created_by)
                .await?;
    }
    Ok(())
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

/// The paid form: the payment's reference (a PayPal batch id, a bank reference).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaidForm {
    reference: String,
    /// For a whole run: the figures its confirmation page showed.
    confirm: String,
}

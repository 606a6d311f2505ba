//! The signed-in affiliate's dashboard (`GET /` of the portal, and the `dashboard` embed):
//! referral links, the figures of a period with their chart, balances and the next payout.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use serde::Deserialize;

use crate::db::{self, affiliates::AffiliateRow, vendors::VendorRow};
use crate::domain::earnings::affiliate_stats::{self, Period};
use crate::domain::partners::payout_settings::PayoutSettings;
use crate::domain::partners::terms::format_money;
use crate::domain::payouts::schedule::{self, NextPayout};
use crate::domain::values::status;
use crate::domain::{
    attribution::links, attribution::promo_codes, attribution::tracking, earnings::ledger,
    partners::affiliates,
};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render};
use crate::http::portal::chart::{self, Chart};
use crate::http::portal::layout::{Shell, SignedIn, Site};

/// `?period=7d|30d|90d|12m&program=`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DashboardQuery {
    /// A period preset (default 30 days).
    pub period: Option<String>,
    /// Only this program.
    pub program: Option<String>,
}

/// A referral link of an active enrollment.
#[derive(Debug, Clone)]
pub struct ReferralLink {
    /// The program.
    pub program: String,
    /// The referral code.
    pub code: String,
    /// The shareable URL.
    pub url: String,
    /// The enrollment's active promo codes (a sale naming one pays the affiliate).
    pub promo_codes: Vec<String>,
}

/// A choice of a selector (period tabs, program filter).
#[derive(Debug, Clone)]
pub struct Choice {
    /// Value or URL.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Whether it is the current one.
    pub current: bool,
}

/// One currency's balances.
#[derive(Debug, Clone)]
pub struct BalanceView {
    /// ISO 4217.
    pub currency: String,
    /// In the holding period.
    pub pending: String,
    /// Payable.
    pub available: String,
    /// In payouts under way.
    pub in_payout: String,
    /// Paid out.
    pub paid: String,
}

/// The dashboard body, shared by the portal page and the embed.
#[derive(Debug, Clone)]
pub struct DashboardView {
    /// Referral links of the active enrollments.
    pub referral_links: Vec<ReferralLink>,
    /// Period tabs (URL, label, current).
    pub periods: Vec<Choice>,
    /// The period in words ("last 30 days").
    pub period_label: String,
    /// The current period preset, for the program filter form.
    pub period: String,
    /// The program filter's choices (empty with one program).
    pub programs: Vec<Choice>,
    /// The program filter form's target.
    pub filter_action: String,
    /// Counted clicks.
    pub clicks: i64,
    /// Referred customers.
    pub referrals: i64,
    /// Conversions not rejected.
    pub conversions: i64,
    /// Earnings per currency.
    pub earnings: Vec<String>,
    /// The chart.
    pub chart: Chart,
    /// Balances per currency.
    pub balances: Vec<BalanceView>,
    /// The next payout of each program, in words.
    pub next_payouts: Vec<String>,
    /// The affiliate's partner group in each program that has groups, and what the next
    /// group needs, in words.
    pub groups: Vec<String>,
    /// Payout settings, when reachable here.
    pub payout_settings_url: Option<String>,
    /// Payouts page, when reachable here.
    pub payouts_url: Option<String>,
    /// Links page, when reachable here.
    pub links_url: Option<String>,
}

fn period_label(key: &str) -> &'static str {
    match key {
        "7d" => "last 7 days",
        "90d" => "last 90 days",
        "12m" => "last 12 months",
        _ => "last 30 days",
    }
}

fn tab_label(key: &str) -> &'static str {
    match key {
        "7d" => "7 days",
        "90d" => "90 days",
        "12m" => "12 months",
        _ => "30 days",
    }
}

/// "Next payout 1 Dec 2026 — you have 32.00 USD of the 50.00 USD minimum."; `payable`
/// says whether the affiliate told where to pay them (runs skip those who did not).
fn describe_next(n: &NextPayout, vendor: &str, payable: bool) -> String {
    let when = n
        .next_run
        .as_deref()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| format!("Next payout {}", d.format("%-d %b %Y")))
        .unwrap_or_else(|| format!("{vendor} runs payouts by hand"));
    let have = format_money(n.available_cents, &n.currency);
    let min = format_money(n.min_payout_cents, &n.currency);
    let standing = if n.reaches_minimum && !payable {
        format!("{have} available, but set up your payout method to be paid (minimum {min})")
    } else if n.reaches_minimum {
        format!("{have} available will be paid (minimum {min})")
    } else {
        format!("you have {have} of the {min} minimum")
    };
    format!("{}: {when} — {standing}.", n.program_name)
}

/// Builds the dashboard of `affiliate` for `q` (a bad period or program → 422).
pub async fn view(
    state: &AppState,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    site: &Site,
    q: &DashboardQuery,
) -> Result<DashboardView, AppError> {
    let now = db::now_ms();
    let period = Period::preset(q.period.as_deref(), now)?;
    let key = period.preset.unwrap_or(affiliate_stats::DEFAULT_PRESET);
    let program = q.program.as_deref().filter(|p| !p.is_empty());
    let a = affiliates::get(&state.db, &vendor.id, &affiliate.id).await?;
    let stats =
        affiliate_stats::for_period(&state.db, &vendor.id, &affiliate.id, program, &period).await?;
    let domain = links::portal_domain(&state.db, &vendor.id).await?;
    let codes = promo_codes::list_unchecked(&state.db, &vendor.id, &affiliate.id).await?;
    let referral_links = a
        .enrollments
        .iter()
        .filter(|e| status::is_active(&e.status))
        .map(|e| ReferralLink {
            program: e.program_name.clone(),
            code: e.code.clone(),
            url: tracking::referral_url(&state.sender.base_url, domain.as_deref(), &e.code, None),
            promo_codes: codes
                .iter()
                .filter(|c| c.active && c.enrollment_id == e.id)
                .map(|c| c.code.clone())
                .collect(),
        })
        .collect();
    let program_q = program.unwrap_or_default();
    let periods = affiliate_stats::PRESETS
        .iter()
        .map(|p| Choice {
            value: site
                .url("/", &[("period", p), ("program", program_q)])
                .unwrap_or_default(),
            label: tab_label(p).to_owned(),
            current: *p == key,
        })
        .collect();
    let programs = if a.enrollments.len() > 1 {
        std::iter::once(Choice {
            value: String::new(),
            label: "All programs".into(),
            current: program.is_none(),
        })
        .chain(a.enrollments.iter().map(|e| Choice {
            value: e.program_id.clone(),
            label: e.program_name.clone(),
            current: program == Some(e.program_id.as_str()),
        }))
        .collect()
    } else {
        Vec::new()
    };
    let mut balances: Vec<BalanceView> = ledger::balances(&state.db, &vendor.id, &affiliate.id)
        .await?
        .into_iter()
        .map(|b| BalanceView {
            pending: format_money(b.pending_cents, &b.currency),
            available: format_money(b.available_cents, &b.currency),
            in_payout: format_money(b.in_payout_cents, &b.currency),
            paid: format_money(b.paid_cents, &b.currency),
            currency: b.currency,
        })
        .collect();
    if balances.is_empty() {
        let zero = format_money(0, &vendor.default_currency);
        balances.push(BalanceView {
            currency: vendor.default_currency.clone(),
            pending: zero.clone(),
            available: zero.clone(),
            in_payout: zero.clone(),
            paid: zero,
        });
    }
    let settings = PayoutSettings::of(affiliate);
    let payable = settings.method.is_some() && settings.destination().is_some();
    let next_payouts = schedule::next_payouts(&state.db, &vendor.id, &affiliate.id, now)
        .await?
        .iter()
        .map(|n| describe_next(n, vendor.display_name(), payable))
        .collect();
    let groups = crate::domain::partners::groups::standing::of_affiliate(
        &state.db,
        &vendor.id,
        &affiliate.id,
    )
    .await?
    .iter()
    .filter(|s| s.program_has_groups)
    .map(|s| s.describe())
    .collect();
    let mut earnings: Vec<String> = stats
        .earnings
        .iter()
        .map(|e| format_money(e.earned_cents, &e.currency))
        .collect();
    if earnings.is_empty() {
        earnings.push(format_money(0, &vendor.default_currency));
    }
    Ok(DashboardView {
        referral_links,
        periods,
        period_label: period_label(key).to_owned(),
        period: key.to_owned(),
        programs,
        filter_action: site.url("/", &[]).unwrap_or_default(),
        clicks: stats.clicks,
        referrals: stats.referrals,
        conversions: stats.conversions,
        earnings,
        chart: chart::build(&stats, period_label(key)),
        balances,
        next_payouts,
        groups,
        payout_settings_url: site.url("/payout-settings", &[]),
        payouts_url: site.url("/payouts", &[]),
        links_url: site.url("/links", &[]),
    })
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    site: Site,
    v: DashboardView,
}

/// `GET /` for a signed-in affiliate (see `home::show`).
pub async fn show(
    who: SignedIn,
    state: &AppState,
    q: &DashboardQuery,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Dashboard · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let v = view(state, &who.portal.vendor, &who.affiliate, &site, q).await?;
    render(
        StatusCode::OK,
        &DashboardPage {
            vendor_name: who.portal.name().to_owned(),
            brand_css: who.portal.url("/brand.css"),
            shell: Shell::new(&who.portal, &who.affiliate, "dashboard"),
            chrome,
            site,
            v,
        },
    )
}

//! The signed-in affiliate's money in the portal: balances and payout history (also the
//! `payouts` embed), the statement of each of their payouts, and where they are paid
//! (payout settings, changed here only by the affiliate and confirmed to them by email).
//! Visitors who are not signed in are sent to the portal's sign-in page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{affiliates::AffiliateRow, payouts::Filter, vendors::VendorRow};
use crate::domain::partners::payout_settings::{self, PayoutInput, PayoutSettings, method_label};
use crate::domain::partners::tax_details::{self, TaxDetails, TaxDetailsInput};
use crate::domain::partners::terms::{format_amount, format_money};
use crate::domain::tenancy::audit::Actor;
use crate::domain::{earnings::ledger, payouts};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, day, render, see_other};
use crate::http::pagination::Page;
use crate::http::portal::Portal;
use crate::http::portal::layout::{Shell, SignedIn, Site};
use crate::http::views::statement::{StatementView, statement_view};

const PER_PAGE: i64 = 25;

/// Links the statement and settings pages show.
struct Nav {
    payouts: String,
    settings: String,
}

impl Nav {
    fn of(portal: &Portal) -> Self {
        Self {
            payouts: portal.url("/payouts"),
            settings: portal.url("/payout-settings"),
        }
    }
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
    /// Paid out (after fees).
    pub paid: String,
    /// Fees deducted.
    pub fees: String,
    /// Everything earned and kept.
    pub earned: String,
}

/// One payout in the history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    /// Its statement, when reachable here.
    pub url: Option<String>,
    /// Paid (or created) on.
    pub date: String,
    /// Amount.
    pub amount: String,
    /// Fee (empty when none).
    pub fee: String,
    /// Net.
    pub net: String,
    /// Status.
    pub status: String,
    /// Reference (may be empty).
    pub reference: String,
}

/// The payouts body, shared by the portal page and the embed.
#[derive(Debug, Clone)]
pub struct PayoutsView {
    /// The affiliate's email.
    pub email: String,
    /// How they are paid, or empty when not set.
    pub method: String,
    /// Balances per currency.
    pub balances: Vec<BalanceView>,
    /// The history page.
    pub rows: Vec<HistoryRow>,
    /// Payouts in all.
    pub total: i64,
    /// Page number.
    pub page: i64,
    /// Newer page.
    pub prev_url: Option<String>,
    /// Older page.
    pub next_url: Option<String>,
    /// Payout settings, when reachable here.
    pub settings_url: Option<String>,
}

/// Builds page `page` (from 1, by the one pagination rule) of the payouts body.
pub async fn view(
    state: &AppState,
    vendor: &VendorRow,
    a: &AffiliateRow,
    site: &Site,
    page: Option<i64>,
) -> Result<PayoutsView, AppError> {
    let paging = Page::fixed(page, PER_PAGE)?;
    let page = paging.page;
    let vendor_id = vendor.id.as_str();
    let balances = ledger::balances(&state.db, vendor_id, &a.id)
        .await?
        .into_iter()
        .map(|b| BalanceView {
            pending: format_amount(b.pending_cents, &b.currency),
            available: format_amount(b.available_cents, &b.currency),
            in_payout: format_amount(b.in_payout_cents, &b.currency),
            paid: format_amount(b.paid_cents, &b.currency),
            fees: format_amount(b.fees_cents, &b.currency),
            earned: format_amount(b.earned_cents, &b.currency),
            currency: b.currency,
        })
        .collect();
    let filter = Filter {
        vendor_id,
        affiliate_id: Some(&a.id),
        run_id: None,
        status: None,
        currency: None,
    };
    let (found, total) = payouts::list(&state.db, &filter, paging.limit(), paging.offset()).await?;
    let rows = found
        .into_iter()
        .map(|p| HistoryRow {
            url: site.url(&format!("/payouts/{}", p.id), &[]),
            date: day(p.paid_at.unwrap_or(p.created_at)),
            amount: format_money(p.amount_cents, &p.currency),
            fee: if p.fee_cents == 0 {
                String::new()
            } else {
                format_money(p.fee_cents, &p.currency)
            },
            net: format_money(p.net_cents, &p.currency),
            status: p.status,
            reference: p.reference.unwrap_or_default(),
        })
        .collect();
    let list_url = |n: i64| site.url("/payouts", &[("page", &n.to_string())]);
    Ok(PayoutsView {
        method: PayoutSettings::of(a)
            .method
            .map(|m| method_label(&m).to_owned())
            .unwrap_or_default(),
        email: a.email.clone(),
        balances,
        rows,
        total,
        page,
        prev_url: paging.prev().and_then(list_url),
        next_url: paging.next(total).and_then(list_url),
        settings_url: site.url("/payout-settings", &[]),
    })
}

#[derive(Template)]
#[template(path = "portal/payouts.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    v: PayoutsView,
}

/// `?page=` of the history.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// `GET /payouts`: balances per currency and the payout history.
pub async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<PageQuery>,
) -> Result<HttpResponse, HtmlError> {
    let chrome = Chrome::new(&who.session, format!("Payouts · {}", who.portal.name()));
    let site = Site::portal(&who.portal, &chrome);
    let v = view(&state, &who.portal.vendor, &who.affiliate, &site, q.page).await?;
    render(
        StatusCode::OK,
        &ListPage {
            vendor_name: who.portal.name().to_owned(),
            brand_css: who.portal.url("/brand.css"),
            shell: Shell::new(&who.portal, &who.affiliate, "payouts"),
            chrome,
            v,
        },
    )
}

#[derive(Template)]
#[template(path = "portal/payout.html")]
struct PayoutPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    nav: Nav,
    id: String,
    created: String,
    paid: String,
    method: String,
    destination: String,
    status: String,
    reference: String,
    failure_reason: String,
    statement: StatementView,
}

/// `GET /payouts/{id}`: the statement of one of the affiliate's own payouts; anyone else's
/// is a 404.
pub async fn show(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let portal = &who.portal;
    let s = payouts::statement(
        &state.db,
        &portal.vendor.id,
        &path.1,
        Some(&who.affiliate.id),
    )
    .await?;
    let statement = statement_view(&s);
    let p = s.payout;
    render(
        StatusCode::OK,
        &PayoutPage {
            chrome: Chrome::new(
                &who.session,
                format!("Payout statement · {}", portal.name()),
            ),
            vendor_name: portal.name().to_owned(),
            brand_css: portal.url("/brand.css"),
            shell: Shell::new(portal, &who.affiliate, "payouts"),
            nav: Nav::of(portal),
            created: day(p.created_at),
            paid: p.paid_at.map(day).unwrap_or_default(),
            method: method_label(&p.method).to_owned(),
            destination: p.destination,
            status: p.status,
            reference: p.reference.unwrap_or_default(),
            failure_reason: p.failure_reason.unwrap_or_default(),
            id: p.id,
            statement,
        },
    )
}

/// The payout settings form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    payout_method: String,
    payout_email: String,
    payout_details: String,
    stripe_account_id: String,
}

impl SettingsForm {
    fn of(s: &PayoutSettings) -> Self {
        Self {
            payout_method: s.method.clone().unwrap_or_default(),
            payout_email: s.email.clone().unwrap_or_default(),
            payout_details: s.details.clone().unwrap_or_default(),
            stripe_account_id: s.stripe_account_id.clone().unwrap_or_default(),
        }
    }

    /// Every field is sent: the chosen method keeps its destination, the others are
    /// dropped by the service.
    fn to_input(&self) -> Result<PayoutInput, AppError> {
        let some = |s: &str| Some(Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
        if self.payout_method.trim().is_empty() {
            return Err(AppError::invalid(
                "payout_method",
                "choose how you want to be paid",
            ));
        }
        Ok(PayoutInput {
            payout_method: some(&self.payout_method),
            payout_email: some(&self.payout_email),
            payout_details: some(&self.payout_details),
            stripe_account_id: some(&self.stripe_account_id),
        })
    }
}

/// A method as a choice on the form.
struct MethodOption {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "portal/payout_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    nav: Nav,
    action: String,
    methods: Vec<MethodOption>,
    f: SettingsForm,
    /// Where the tax details form posts.
    tax_action: String,
    /// The tax details form, as stored or as typed.
    tax: TaxForm,
    notice: Option<String>,
    /// The affiliate's method, when the vendor no longer offers it.
    retired: Option<String>,
    error: Option<String>,
    error_field: String,
}

fn settings_page(
    who: &SignedIn,
    (f, tax): (SettingsForm, TaxForm),
    notice: Option<String>,
    error: Option<&AppError>,
    offered: &[&'static str],
) -> SettingsPage {
    let portal = &who.portal;
    // A method set before the vendor stopped offering it stays listed (checked) with a
    // notice, so the affiliate sees what they have and picks an offered one.
    let current = PayoutSettings::of(&who.affiliate).method;
    let retired = current
        .as_deref()
        .filter(|m| !offered.contains(m))
        .map(|m| format!("{} is no longer offered. Your payouts still go there until you choose another method below.", method_label(m)));
    SettingsPage {
        chrome: Chrome::new(&who.session, format!("Payout settings · {}", portal.name())),
        vendor_name: portal.name().to_owned(),
        brand_css: portal.url("/brand.css"),
        shell: Shell::new(portal, &who.affiliate, "payouts"),
        nav: Nav::of(portal),
        action: portal.url("/payout-settings"),
        tax_action: portal.url("/payout-settings/tax-details"),
        tax,
        methods: payout_settings::METHODS
            .iter()
            .filter(|m| offered.contains(m) || current.as_deref() == Some(**m))
            .map(|m| MethodOption {
                value: m,
                label: method_label(m),
            })
            .collect(),
        f,
        notice,
        retired,
        error: error.map(AppError::page_message),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// `?saved=1` (changed) or `?saved=0` (nothing to change) after a save; `?tax_saved=1`
/// after the tax details were saved.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    saved: Option<String>,
    tax_saved: Option<String>,
}

/// The tax details form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaxForm {
    legal_name: String,
    country: String,
    tax_id: String,
}

impl TaxForm {
    fn of(t: Option<TaxDetails>) -> Self {
        t.map(|t| Self {
            legal_name: t.legal_name,
            country: t.country,
            tax_id: t.tax_id,
        })
        .unwrap_or_default()
    }

    /// The affiliate's stored tax details as a form.
    async fn stored(state: &AppState, who: &SignedIn) -> Result<Self, AppError> {
        let t = tax_details::get(&state.db, &who.portal.vendor.id, &who.affiliate.id).await?;
        Ok(Self::of(t))
    }
}

/// `GET /payout-settings`: the form with the affiliate's current settings.
pub async fn settings_form(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let notice = match (q.saved.as_deref(), q.tax_saved.as_deref()) {
        (Some("1"), _) => Some("Saved. We emailed you a confirmation.".to_owned()),
        (Some(_), _) => Some("Nothing changed.".to_owned()),
        (None, Some(_)) => Some("Your tax details are saved.".to_owned()),
        (None, None) => None,
    };
    let f = SettingsForm::of(&PayoutSettings::of(&who.affiliate));
    let tax = TaxForm::stored(&state, &who).await?;
    let offered = payout_settings::offered(&state.db, &who.portal.vendor.id).await?;
    render(
        StatusCode::OK,
        &settings_page(&who, (f, tax), notice, None, &offered),
    )
}

/// `POST /payout-settings`: saves the settings (audited, and confirmed to the affiliate by
/// email); a refused value re-renders the form as typed with the message.
pub async fn save_settings(
    who: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<SettingsForm>,
) -> Result<HttpResponse, HtmlError> {
    let (portal, a) = (&who.portal, &who.affiliate);
    let f = form.into_inner();
    let saved = match f.to_input() {
        Ok(input) => {
            payout_settings::update(
                &state.db,
                &state.sender,
                &portal.vendor,
                &a.id,
                &input,
                &Actor::Affiliate(a.id.clone()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(row) => {
            let changed = PayoutSettings::of(&row) != PayoutSettings::of(a);
            let flag = if changed { "1" } else { "0" };
            Ok(see_other(
                &portal.url(&format!("/payout-settings?saved={flag}")),
            ))
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let offered = payout_settings::offered(&state.db, &portal.vendor.id).await?;
            let tax = TaxForm::stored(&state, &who).await?;
            render(
                e.status_code(),
                &settings_page(&who, (f, tax), None, Some(&e), &offered),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /payout-settings/tax-details`: saves the affiliate's tax details (audited); a
/// refused value re-renders the page with the form as typed and the message.
pub async fn save_tax_details(
    who: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<TaxForm>,
) -> Result<HttpResponse, HtmlError> {
    let (portal, a) = (&who.portal, &who.affiliate);
    let tax = form.into_inner();
    let input = TaxDetailsInput {
        legal_name: Some(tax.legal_name.clone()),
        country: Some(tax.country.clone()),
        tax_id: Some(tax.tax_id.clone()),
    };
    let actor = Actor::Affiliate(a.id.clone());
    match tax_details::set(&state.db, &portal.vendor.id, &a.id, &input, &actor).await {
        Ok(_) => Ok(see_other(&portal.url("/payout-settings?tax_saved=1"))),
        Err(e @ AppError::Invalid { .. }) => {
            let offered = payout_settings::offered(&state.db, &portal.vendor.id).await?;
            let f = SettingsForm::of(&PayoutSettings::of(a));
            render(
                e.status_code(),
                &settings_page(&who, (f, tax), None, Some(&e), &offered),
            )
        }
        Err(e) => Err(e.into()),
    }
}

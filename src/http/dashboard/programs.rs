//! Dashboard: list, create and edit programs and their commission terms. The form is
//! translated into the same [`ProgramInput`] the API takes, so every rule is the service's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::db;
use crate::domain::attribution::clicks::parse_period;
use crate::domain::earnings::conversions::backtest;
use crate::domain::partners::caps::{Caps, GoalBonuses};
use crate::domain::partners::fraud_rules::{self, FraudRules};
use crate::domain::partners::programs::{self, Program, ProgramInput};
use crate::domain::partners::terms::{self, Commission, Rate, format_money};
use crate::domain::tenancy::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, day, render, see_other};

struct Row {
    id: String,
    name: String,
    commission: String,
    currency: String,
    status: String,
    version: i64,
    is_default: bool,
}

#[derive(Template)]
#[template(path = "dashboard/programs.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    programs: Vec<Row>,
}

/// The program form, as posted and as redisplayed. Every field is text so a wrong value is
/// shown back to the person exactly as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProgramForm {
    name: String,
    slug: String,
    /// The program's currency: amounts are read and shown in its decimals.
    pub(crate) currency: String,
    landing_url: String,
    /// Extra link domains, comma- or whitespace-separated.
    allowed_domains: String,
    status: String,
    holding_period_days: String,
    min_payout: String,
    cookie_duration_days: String,
    attribution_model: String,
    attribution_window_days: String,
    auto_approve: Option<String>,
    allow_self_referral: Option<String>,
    /// Payouts wait for tax details.
    require_tax_details: Option<String>,
    /// Backtest period start (`YYYY-MM-DD`), for the "Backtest these terms" button.
    backtest_from: String,
    /// Backtest period end (inclusive).
    backtest_to: String,
    /// Backtest only the affiliates of this partner group (its draft terms); empty: all.
    backtest_group: String,
    terms_text: String,
    pub(crate) commission_type: String,
    pub(crate) commission_percent: String,
    pub(crate) commission_amount: String,
    pub(crate) max_cycles: String,
    /// One tier per line: `min_conversions: percent`.
    pub(crate) tiers: String,
    /// Upline percentages, comma-separated, level 1 first.
    pub(crate) upline: String,
    /// `every_payment`, `first_payment` or `event`.
    conversion_kind: String,
    /// The converting event type for `event`.
    conversion_event: String,
    /// A new Stripe signing secret; blank keeps the current one.
    stripe_webhook_secret: String,
    /// Checked: remove the Stripe signing secret.
    remove_stripe_secret: Option<String>,
    /// Shown only: whether a secret is set (never the secret).
    #[serde(skip)]
    stripe_configured: bool,
    /// Platform fee deducted from each payout, a percentage (empty: none).
    platform_fee: String,
    /// Day of the month payouts run by themselves (1-28); empty: no schedule.
    payout_day: String,
    /// A new Stripe secret key for Connect payouts; blank keeps the current one.
    stripe_secret_key: String,
    /// Checked: remove the Stripe secret key.
    remove_stripe_key: Option<String>,
    /// Shown only: whether a secret key is set (never the key).
    #[serde(skip)]
    stripe_key_configured: bool,
    /// Caps and goal bonuses; each blank turns it off. Amounts as "50.00".
    cap_customer_total: String,
    /// Months from a customer's first commission.
    cap_customer_months: String,
    /// Per affiliate and calendar month.
    cap_affiliate_month: String,
    /// First-sale bonus.
    bonus_first_sale: String,
    /// Sales in a month that earn the monthly bonus.
    bonus_monthly_count: String,
    /// The monthly bonus.
    bonus_monthly_amount: String,
    /// Fraud rules, each `off`, `flag`, `hold` or `reject` (all blank: unchanged).
    fraud_same_ip: String,
    fraud_email_match: String,
    fraud_disposable_email: String,
    fraud_click_flood: String,
    fraud_spike: String,
    fraud_self_referral: String,
    /// A new Paddle notification secret; blank keeps the current one.
    paddle_webhook_secret: String,
    /// Checked: remove the Paddle secret.
    remove_paddle_secret: Option<String>,
    /// A new Lemon Squeezy signing secret; blank keeps the current one.
    lemonsqueezy_webhook_secret: String,
    /// Checked: remove the Lemon Squeezy secret.
    remove_lemonsqueezy_secret: Option<String>,
    /// A new Polar webhook secret; blank keeps the current one.
    polar_webhook_secret: String,
    /// Checked: remove the Polar secret.
    remove_polar_secret: Option<String>,
    /// A new Chargebee basic-auth user name; blank keeps the current one.
    chargebee_webhook_username: String,
    /// A new Chargebee basic-auth password; blank keeps the current one.
    chargebee_webhook_password: String,
    /// Checked: remove the Chargebee user name and password.
    remove_chargebee_auth: Option<String>,
    /// Shown only: which provider credentials are set (never the values).
    #[serde(skip)]
    providers_set: ProvidersSet,
}

/// Which billing providers' credentials a program has (the form shows this, never them).
#[derive(Debug, Default, Clone, Copy)]
struct ProvidersSet {
    paddle: bool,
    lemonsqueezy: bool,
    polar: bool,
    chargebee: bool,
}

impl ProvidersSet {
    fn of(r: &crate::db::programs::ProgramRow) -> Self {
        Self {
            paddle: r.paddle_webhook_secret.is_some(),
            lemonsqueezy: r.lemonsqueezy_webhook_secret.is_some(),
            polar: r.polar_webhook_secret.is_some(),
            chargebee: r.chargebee_webhook_username.is_some()
                && r.chargebee_webhook_password.is_some(),
        }
    }
}

/// A write-only field of the form: `Some(None)` removes the value, a typed value replaces
/// it, blank keeps it.
fn write_only(value: &str, remove: bool) -> Option<Option<String>> {
    if remove {
        return Some(None);
    }
    let value = value.trim();
    (!value.is_empty()).then(|| Some(value.to_owned()))
}

#[derive(Template)]
#[template(path = "dashboard/program_form.html")]
struct FormPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    /// `None` for a new program.
    id: Option<String>,
    terms_version: i64,
    f: ProgramForm,
    error: Option<String>,
    error_field: String,
    saved: bool,
    /// This installation's public address, for the Stripe endpoint URL.
    base_url: String,
    /// The backtest of the terms as typed, when asked for.
    backtest: Option<BacktestView>,
    /// The program's groups `(id, name)` to backtest one of (empty: only the default).
    groups: Vec<(String, String)>,
}

/// The program's groups for the backtest's group select; none when there is only the
/// default group.
async fn backtest_groups(
    state: &AppState,
    vendor_id: &str,
    program_id: &str,
) -> AppResult<Vec<(String, String)>> {
    let all = crate::domain::partners::groups::list(&state.db, vendor_id, program_id).await?;
    if all.len() < 2 {
        return Ok(Vec::new());
    }
    Ok(all.into_iter().map(|g| (g.row.id, g.row.name)).collect())
}

/// A backtest's figures, formatted.
struct BacktestView {
    from: String,
    to: String,
    conversions: i64,
    rows: Vec<BacktestRow>,
    totals: Vec<BacktestRow>,
}

/// One line of the backtest table.
struct BacktestRow {
    name: String,
    conversions: i64,
    current: String,
    backtest: String,
    difference: String,
    current_net: String,
    backtest_net: String,
    current_capped: String,
    capped: String,
}

impl BacktestRow {
    fn of(name: String, f: &backtest::Figures) -> Self {
        let money = |cents: i64| format_money(cents, &f.currency);
        let signed = |cents: i64| {
            if cents > 0 {
                format!("+{}", money(cents))
            } else {
                money(cents)
            }
        };
        Self {
            name,
            conversions: f.conversions,
            current: money(f.current_cents),
            backtest: money(f.backtest_cents),
            difference: signed(f.difference_cents),
            current_net: money(f.current_net_cents),
            backtest_net: money(f.backtest_net_cents),
            current_capped: money(f.current_capped_cents),
            capped: money(f.capped_cents),
        }
    }
}

impl BacktestView {
    fn of(b: &backtest::Backtest) -> Self {
        Self {
            from: day(b.range_ms.0),
            // `to` is exclusive: show the last day it covers.
            to: day(b.range_ms.1 - 1),
            conversions: b.conversions,
            rows: b
                .affiliates
                .iter()
                .map(|a| {
                    let name = if a.affiliate_name.is_empty() {
                        a.affiliate_email.clone()
                    } else {
                        a.affiliate_name.clone()
                    };
                    BacktestRow::of(name, &a.figures)
                })
                .collect(),
            totals: b
                .totals
                .iter()
                .map(|t| BacktestRow::of(format!("Total {}", t.currency), t))
                .collect(),
        }
    }
}

fn int(field: &str, raw: &str) -> AppResult<Option<i64>> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, format!("{field} must be a whole number")))
}

impl ProgramForm {
    fn from_program(p: &Program) -> Self {
        let r = &p.row;
        let mut f = Self {
            name: r.name.clone(),
            slug: r.slug.clone(),
            currency: r.currency.clone(),
            landing_url: r.landing_url.clone().unwrap_or_default(),
            allowed_domains: p.allowed_domains.join(", "),
            conversion_kind: r.conversion_kind.clone(),
            conversion_event: r.conversion_event.clone().unwrap_or_default(),
            stripe_configured: r.stripe_webhook_secret.is_some(),
            status: r.status.clone(),
            holding_period_days: r.holding_period_days.to_string(),
            min_payout: terms::format_amount(r.min_payout_cents, &r.currency),
            cookie_duration_days: r.cookie_duration_days.to_string(),
            attribution_model: r.attribution_model.clone(),
            attribution_window_days: r.attribution_window_days.to_string(),
            auto_approve: (r.auto_approve == 1).then(|| "on".into()),
            allow_self_referral: (r.allow_self_referral == 1).then(|| "on".into()),
            require_tax_details: (r.require_tax_details == 1).then(|| "on".into()),
            terms_text: r.terms_text.clone(),
            platform_fee: terms::bps_to_percent_input(r.platform_fee_bps),
            payout_day: r.payout_day.map(|d| d.to_string()).unwrap_or_default(),
            stripe_key_configured: r.stripe_secret_key.is_some(),
            providers_set: ProvidersSet::of(r),
            ..Self::default()
        };
        let cents = |v: Option<i64>| {
            v.map(|c| terms::format_amount(c, &r.currency))
                .unwrap_or_default()
        };
        let whole = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        f.cap_customer_total = cents(p.caps.customer_total_cents);
        f.cap_customer_months = whole(p.caps.customer_months);
        f.cap_affiliate_month = cents(p.caps.affiliate_month_cents);
        f.bonus_first_sale = cents(p.goal_bonuses.first_sale_cents);
        f.bonus_monthly_count = whole(p.goal_bonuses.monthly_sales_count);
        f.bonus_monthly_amount = cents(p.goal_bonuses.monthly_sales_cents);
        for (rule, _) in fraud_rules::RULES {
            let action = p.fraud_rules.action(rule).as_str().to_owned();
            if let Some(slot) = f.fraud_slot(rule) {
                *slot = action;
            }
        }
        f.set_commission(&p.commission, &r.currency);
        f
    }

    fn new_program(currency: &str) -> Self {
        let mut f = Self {
            currency: currency.to_owned(),
            status: "active".into(),
            holding_period_days: "30".into(),
            // The default minimum, 5000 minor units, in this currency's decimals.
            min_payout: terms::format_amount(5000, currency),
            cookie_duration_days: "30".into(),
            attribution_model: "last_touch".into(),
            attribution_window_days: "30".into(),
            platform_fee: "0".into(),
            ..Self::default()
        };
        f.set_commission(&Commission::default_terms(), currency);
        f
    }

    pub(crate) fn set_commission(&mut self, c: &Commission, currency: &str) {
        match &c.rate {
            Rate::Percentage { bps } => {
                self.commission_type = "percentage".into();
                self.commission_percent = terms::bps_to_percent_input(*bps);
            }
            Rate::Flat { amount_cents } => {
                self.commission_type = "flat".into();
                self.commission_amount = terms::format_amount(*amount_cents, currency);
            }
            Rate::Recurring { bps, max_cycles } => {
                self.commission_type = "recurring".into();
                self.commission_percent = terms::bps_to_percent_input(*bps);
                self.max_cycles = max_cycles.to_string();
            }
            Rate::Tiered { bps, tiers } => {
                self.commission_type = "tiered".into();
                self.commission_percent = terms::bps_to_percent_input(*bps);
                self.tiers = tiers
                    .iter()
                    .map(|t| {
                        format!(
                            "{}: {}",
                            t.min_conversions,
                            terms::bps_to_percent_input(t.bps)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        self.upline = c
            .multi_level
            .iter()
            .map(|l| terms::bps_to_percent_input(l.bps))
            .collect::<Vec<_>>()
            .join(", ");
    }

    /// The commission JSON the form describes (validated by the service).
    pub(crate) fn commission(&self) -> AppResult<serde_json::Value> {
        let percent = || terms::parse_percent("commission_percent", &self.commission_percent);
        let mut value = match self.commission_type.as_str() {
            "percentage" => json!({"type": "percentage", "bps": percent()?}),
            "flat" => {
                let cents = terms::parse_amount(
                    "commission_amount",
                    &self.commission_amount,
                    &self.currency,
                )?;
                json!({"type": "flat", "amount_cents": cents})
            }
            "recurring" => json!({
                "type": "recurring",
                "bps": percent()?,
                "max_cycles": int("max_cycles", &self.max_cycles)?.ok_or_else(|| AppError::invalid("max_cycles", "max_cycles is required"))?,
            }),
            "tiered" => {
                let mut tiers = Vec::new();
                for line in self.tiers.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    let bad = || {
                        AppError::invalid(
                            "tiers",
                            format!(
                                "write each tier as \"conversions: percent\", e.g. \"10: 25\" (got {line:?})"
                            ),
                        )
                    };
                    let (n, pct) = line.split_once(':').ok_or_else(bad)?;
                    let n: i64 = n.trim().parse().map_err(|_| bad())?;
                    tiers.push(
                        json!({"min_conversions": n, "bps": terms::parse_percent("tiers", pct)?}),
                    );
                }
                json!({"type": "tiered", "bps": percent()?, "tiers": tiers})
            }
            _ => {
                return Err(AppError::invalid(
                    "commission_type",
                    "choose a commission type",
                ));
            }
        };
        let upline: Vec<serde_json::Value> = self
            .upline
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, pct)| {
                terms::parse_percent("upline", pct).map(|bps| json!({"level": i + 1, "bps": bps}))
            })
            .collect::<AppResult<_>>()?;
        if !upline.is_empty() {
            value["multi_level"] = serde_json::Value::Array(upline);
        }
        Ok(value)
    }

    fn fraud_slot(&mut self, rule: &str) -> Option<&mut String> {
        Some(match rule {
            "same_ip" => &mut self.fraud_same_ip,
            "email_match" => &mut self.fraud_email_match,
            "disposable_email" => &mut self.fraud_disposable_email,
            "click_flood" => &mut self.fraud_click_flood,
            "spike" => &mut self.fraud_spike,
            "self_referral" => &mut self.fraud_self_referral,
            _ => return None,
        })
    }

    /// The fraud rules as shown: (form field, description, chosen action).
    pub fn fraud_rows(&self) -> Vec<(String, &'static str, String)> {
        let values = [
            &self.fraud_same_ip,
            &self.fraud_email_match,
            &self.fraud_disposable_email,
            &self.fraud_click_flood,
            &self.fraud_spike,
            &self.fraud_self_referral,
        ];
        fraud_rules::RULES
            .iter()
            .zip(values)
            .map(|((rule, words), v)| {
                let chosen = if v.is_empty() { "off" } else { v.as_str() };
                (format!("fraud_{rule}"), *words, chosen.to_owned())
            })
            .collect()
    }

    /// The fraud rules the form sets; `None` when the form has none of their fields.
    fn fraud_rules(&self) -> AppResult<Option<FraudRules>> {
        let rows = self.fraud_rows();
        let given = [
            &self.fraud_same_ip,
            &self.fraud_email_match,
            &self.fraud_disposable_email,
            &self.fraud_click_flood,
            &self.fraud_spike,
            &self.fraud_self_referral,
        ];
        if given.iter().all(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        let mut rules = FraudRules::default();
        for ((rule, _), (field, _, value)) in fraud_rules::RULES.iter().zip(rows) {
            rules.set(rule, fraud_rules::Action::parse(&field, &value)?);
        }
        Ok(Some(rules))
    }

    fn to_input(&self) -> AppResult<ProgramInput> {
        let text = |s: &str| Some(s.trim().to_owned());
        let amount = |field: &str, raw: &str| -> AppResult<Option<i64>> {
            if raw.trim().is_empty() {
                Ok(None)
            } else {
                terms::parse_amount(field, raw, &self.currency).map(Some)
            }
        };
        Ok(ProgramInput {
            fraud_rules: self.fraud_rules()?,
            caps: Some(Caps {
                customer_total_cents: amount("cap_customer_total", &self.cap_customer_total)?,
                customer_months: int("cap_customer_months", &self.cap_customer_months)?,
                affiliate_month_cents: amount("cap_affiliate_month", &self.cap_affiliate_month)?,
            }),
            goal_bonuses: Some(GoalBonuses {
                first_sale_cents: amount("bonus_first_sale", &self.bonus_first_sale)?,
                monthly_sales_count: int("bonus_monthly_count", &self.bonus_monthly_count)?,
                monthly_sales_cents: amount("bonus_monthly_amount", &self.bonus_monthly_amount)?,
            }),
            name: text(&self.name),
            slug: (!self.slug.trim().is_empty()).then(|| self.slug.trim().to_owned()),
            currency: text(&self.currency),
            landing_url: Some(text(&self.landing_url).filter(|s| !s.is_empty())),
            allowed_domains: Some(
                self.allowed_domains
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            status: text(&self.status),
            holding_period_days: int("holding_period_days", &self.holding_period_days)?,
            min_payout_cents: if self.min_payout.trim().is_empty() {
                None
            } else {
                Some(terms::parse_amount(
                    "min_payout",
                    &self.min_payout,
                    &self.currency,
                )?)
            },
            cookie_duration_days: int("cookie_duration_days", &self.cookie_duration_days)?,
            attribution_model: text(&self.attribution_model),
            attribution_window_days: int("attribution_window_days", &self.attribution_window_days)?,
            auto_approve: Some(self.auto_approve.is_some()),
            allow_self_referral: Some(self.allow_self_referral.is_some()),
            terms_text: Some(self.terms_text.clone()),
            commission: Some(self.commission()?),
            conversion_kind: text(&self.conversion_kind).filter(|s| !s.is_empty()),
            conversion_event: Some(text(&self.conversion_event).filter(|s| !s.is_empty())),
            stripe_webhook_secret: if self.remove_stripe_secret.is_some() {
                Some(None)
            } else {
                text(&self.stripe_webhook_secret)
                    .filter(|s| !s.is_empty())
                    .map(Some)
            },
            stripe_secret_key: if self.remove_stripe_key.is_some() {
                Some(None)
            } else {
                text(&self.stripe_secret_key)
                    .filter(|s| !s.is_empty())
                    .map(Some)
            },
            paddle_webhook_secret: write_only(
                &self.paddle_webhook_secret,
                self.remove_paddle_secret.is_some(),
            ),
            lemonsqueezy_webhook_secret: write_only(
                &self.lemonsqueezy_webhook_secret,
                self.remove_lemonsqueezy_secret.is_some(),
            ),
            polar_webhook_secret: write_only(
                &self.polar_webhook_secret,
                self.remove_polar_secret.is_some(),
            ),
            chargebee_webhook_username: write_only(
                &self.chargebee_webhook_username,
                self.remove_chargebee_auth.is_some(),
            ),
            chargebee_webhook_password: write_only(
                &self.chargebee_webhook_password,
                self.remove_chargebee_auth.is_some(),
            ),
            platform_fee_bps: Some(self.platform_fee_bps()?),
            payout_day: Some(int("payout_day", &self.payout_day)?),
            require_tax_details: Some(self.require_tax_details.is_some()),
        })
    }

    /// The typed fee percentage in basis points; empty is no fee.
    fn platform_fee_bps(&self) -> AppResult<i64> {
        if self.platform_fee.trim().is_empty() {
            return Ok(0);
        }
        let bps = terms::parse_percent("platform_fee", &self.platform_fee)?;
        if bps > PLATFORM_FEE_MAX_BPS {
            return Err(AppError::invalid(
                "platform_fee",
                "enter a platform fee between 0 and 50%",
            ));
        }
        Ok(bps)
    }

    /// Restores what the form shows but never posts back (whether secrets are set).
    fn with_secrets_of(mut self, p: &Program) -> Self {
        self.stripe_configured = p.row.stripe_webhook_secret.is_some();
        self.stripe_key_configured = p.row.stripe_secret_key.is_some();
        self.providers_set = ProvidersSet::of(&p.row);
        self
    }
}

/// Highest platform fee, as the service allows it.
const PLATFORM_FEE_MAX_BPS: i64 = 5000;

/// `GET /dashboard/programs`.
pub async fn list(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let items = programs::all(&state.db, &staff.vendor.id).await?;
    let rows = items
        .into_iter()
        .map(|p| Row {
            commission: p.commission.describe(&p.row.currency),
            is_default: p.row.is_default == 1,
            version: p.row.current_terms_version,
            id: p.row.id,
            name: p.row.name,
            currency: p.row.currency,
            status: p.row.status,
        })
        .collect();
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Programs"),
            vendor_name: staff.vendor.name,
            user_email: staff.user.email,
            programs: rows,
        },
    )
}

fn form_page(
    staff: &Staff,
    base_url: &str,
    id: Option<String>,
    version: i64,
    f: ProgramForm,
    error: Option<AppError>,
    saved: bool,
) -> FormPage {
    let title = if id.is_some() {
        format!("Edit {}", f.name)
    } else {
        "New program".to_owned()
    };
    FormPage {
        chrome: Chrome::new(&staff.session, title),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        id,
        terms_version: version,
        error_field: error
            .as_ref()
            .and_then(|e| e.field())
            .unwrap_or_default()
            .to_owned(),
        error: error.map(|e| e.page_message()),
        saved,
        base_url: base_url.trim_end_matches('/').to_owned(),
        f,
        backtest: None,
        groups: Vec::new(),
    }
}

/// `GET /dashboard/programs/new`.
pub async fn new(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let f = ProgramForm::new_program(&staff.vendor.default_currency);
    render(
        StatusCode::OK,
        &form_page(&staff, &state.sender.base_url, None, 0, f, None, false),
    )
}

/// Re-renders the form with a validation or conflict error; other errors propagate.
fn refused(
    staff: &Staff,
    base_url: &str,
    id: Option<String>,
    version: i64,
    f: ProgramForm,
    e: AppError,
) -> Result<HttpResponse, HtmlError> {
    match e {
        AppError::Invalid { .. } | AppError::Conflict { .. } => {
            let status = actix_web::ResponseError::status_code(&e);
            render(
                status,
                &form_page(staff, base_url, id, version, f, Some(e), false),
            )
        }
        other => Err(other.into()),
    }
}

/// `POST /dashboard/programs`.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<ProgramForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = match f.to_input() {
        Ok(input) => programs::create(&state.db, &staff.vendor.id, &input, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(see_other(&format!(
            "/dashboard/programs/{}?saved=1",
            p.row.id
        ))),
        Err(e) => refused(&staff, &state.sender.base_url, None, 0, f, e),
    }
}

/// `?saved=1` after a successful save.
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// `GET /dashboard/programs/{id}`.
pub async fn edit(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let p = programs::get(&state.db, &staff.vendor.id, &id).await?;
    let f = ProgramForm::from_program(&p);
    let mut page = form_page(
        &staff,
        &state.sender.base_url,
        Some(p.row.id.clone()),
        p.row.current_terms_version,
        f,
        None,
        q.saved.is_some(),
    );
    page.groups = backtest_groups(&state, &staff.vendor.id, &p.row.id).await?;
    render(StatusCode::OK, &page)
}

/// `POST /dashboard/programs/{id}`.
pub async fn update(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<ProgramForm>,
) -> Result<HttpResponse, HtmlError> {
    let current = programs::get(&state.db, &staff.vendor.id, &id).await?;
    let f = form.into_inner().with_secrets_of(&current);
    let actor = Actor::User(staff.user.id.clone());
    let result = match f.to_input() {
        Ok(input) => programs::update(&state.db, &staff.vendor.id, &id, &input, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(see_other(&format!(
            "/dashboard/programs/{}?saved=1",
            p.row.id
        ))),
        Err(e) => refused(
            &staff,
            &state.sender.base_url,
            Some(current.row.id),
            current.row.current_terms_version,
            f,
            e,
        ),
    }
}

/// `POST /dashboard/programs/{id}/backtest`: the program form as typed, posted by its
/// "Backtest these terms" button: the draft commission is replayed over the period (writing
/// nothing) and the form comes back as typed with the figures, unsaved.
pub async fn backtest(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<ProgramForm>,
) -> Result<HttpResponse, HtmlError> {
    let current = programs::get(&state.db, &staff.vendor.id, &id).await?;
    let f = form.into_inner().with_secrets_of(&current);
    let result = async {
        let terms = Commission::from_json("commission", f.commission()?)?;
        let from = Some(f.backtest_from.as_str()).filter(|s| !s.trim().is_empty());
        let to = Some(f.backtest_to.as_str()).filter(|s| !s.trim().is_empty());
        let range = parse_period(from, to, db::now_ms())?;
        let group = Some(f.backtest_group.as_str()).filter(|g| !g.is_empty());
        backtest::run_for_group(&state.db, &staff.vendor.id, &id, group, &terms, range).await
    }
    .await;
    let version = current.row.current_terms_version;
    let base = &state.sender.base_url;
    let groups = backtest_groups(&state, &staff.vendor.id, &id).await?;
    match result {
        Ok(b) => {
            let mut page = form_page(&staff, base, Some(id.clone()), version, f, None, false);
            page.backtest = Some(BacktestView::of(&b));
            page.groups = groups;
            render(StatusCode::OK, &page)
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let mut page = form_page(&staff, base, Some(id.clone()), version, f, Some(e), false);
            page.groups = groups;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/programs/{id}/migrate`: move every affiliate to the current terms.
pub async fn migrate(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    programs::migrate_enrollments(
        &state.db,
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/programs/{id}?saved=1")))
}

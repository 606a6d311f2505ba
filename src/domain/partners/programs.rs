//! Programs: settings, validation and versioned commission terms. The dashboard form and
//! the API both go through [`create`] and [`update`].

use serde::Deserialize;
use serde_json::json;

use crate::db::{self, Db, programs::ProgramColumns, programs::ProgramRow};
use crate::domain::partners::caps::{self, Caps, GoalBonuses};
use crate::domain::partners::fraud_rules::FraudRules;
use crate::domain::partners::{provider_credentials, terms::Commission};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::destination;
use crate::domain::values::status::ProgramStatus;
use crate::domain::{values::Currency, values::slug, values::text};
use crate::error::{AppError, AppResult};

/// What counts as a conversion, per program.
pub const CONVERSION_KINDS: [&str; 3] = ["every_payment", "first_payment", "event"];
/// Event types a program may name as its conversion (`conversion_kind: event`).
pub const CONVERSION_EVENTS: [&str; 5] = [
    "subscription.created",
    "customer.created",
    "checkout.session.completed",
    "invoice.paid",
    "charge.succeeded",
];
/// Program statuses.
pub const STATUSES: &[&str] = ProgramStatus::ALL_TEXT;
/// Attribution models.
pub const ATTRIBUTION_MODELS: [&str; 2] = ["first_touch", "last_touch"];
/// Longest terms text accepted.
const TERMS_TEXT_MAX: usize = 20_000;
/// Longest program slug.
const SLUG_MAX: usize = 40;
/// Largest minimum payout: 1,000,000.00; tighter than the money range, which it stays in.
const MIN_PAYOUT_MAX_CENTS: i64 = 100_000_000;
const _: () = assert!(MIN_PAYOUT_MAX_CENTS <= crate::domain::values::money::MAX_CENTS);

/// Fields a client may set; every one optional (a PATCH sends only what changes, a create
/// falls back to the defaults). `landing_url: null` clears the landing URL.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    /// Display name (required on create).
    pub name: Option<String>,
    /// URL-safe name; derived from the name when absent.
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")]
    pub slug: Option<String>,
    /// ISO 4217 currency; the vendor's default when absent.
    pub currency: Option<String>,
    /// Default landing page (`http(s)://`); `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub landing_url: Option<Option<String>>,
    /// `active`, `paused` or `archived`.
    #[schema(pattern = "^(active|paused|archived)$")]
    pub status: Option<String>,
    /// 0..=365 (default 30).
    #[schema(minimum = 0, maximum = 365)]
    pub holding_period_days: Option<i64>,
    /// 0..=100,000,000 minor units (default 5000), inside the money range.
    #[serde(
        default,
        deserialize_with = "crate::domain::values::money::lenient_cents_opt"
    )]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub min_payout_cents: Option<i64>,
    /// 1..=730 (default 30).
    #[schema(minimum = 1, maximum = 730)]
    pub cookie_duration_days: Option<i64>,
    /// `first_touch` or `last_touch` (default).
    #[schema(pattern = "^(first_touch|last_touch)$")]
    pub attribution_model: Option<String>,
    /// 1..=730 (default 30).
    #[schema(minimum = 1, maximum = 730)]
    pub attribution_window_days: Option<i64>,
    /// Approve applications on submission.
    pub auto_approve: Option<bool>,
    /// Let affiliates refer themselves.
    pub allow_self_referral: Option<bool>,
    /// Terms shown on the application form.
    pub terms_text: Option<String>,
    /// Commission terms; a change creates the next terms version.
    #[schema(value_type = Option<Object>)]
    pub commission: Option<serde_json::Value>,
    /// Host names besides the landing URL's that links may lead to (`*.example.com` for
    /// any subdomain); also the origins the tracking snippet may call from.
    pub allowed_domains: Option<Vec<String>>,
    /// What counts as a conversion: `every_payment` (default), `first_payment` or `event`.
    #[schema(pattern = "^(every_payment|first_payment|event)$")]
    pub conversion_kind: Option<String>,
    /// The converting event type when `conversion_kind` is `event`, e.g.
    /// `subscription.created`; blank or `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(
        pattern = "^[ \\t\\r\\n]*(subscription\\.created|customer\\.created|checkout\\.session\\.completed|invoice\\.paid|charge\\.succeeded)?[ \\t\\r\\n]*$"
    )]
    pub conversion_event: Option<Option<String>>,
    /// Stripe's webhook signing secret (`whsec_...`); write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub stripe_webhook_secret: Option<Option<String>>,
    /// Stripe secret key (`sk_...` or restricted `rk_...`) Connect payouts are sent with;
    /// write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub stripe_secret_key: Option<Option<String>>,
    /// Paddle Billing's notification secret (`pdl_ntfset_...`); write-only, `null` removes
    /// it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(pattern = "^[ \\t\\r\\n]*([!-~]{8,200})?[ \\t\\r\\n]*$")]
    pub paddle_webhook_secret: Option<Option<String>>,
    /// Lemon Squeezy's webhook signing secret; write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(pattern = "^[ \\t\\r\\n]*([!-~]{6,200})?[ \\t\\r\\n]*$")]
    pub lemonsqueezy_webhook_secret: Option<Option<String>>,
    /// Polar's webhook secret (`polar_whs_...` or `whsec_...`); write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(pattern = "^[ \\t\\r\\n]*([!-~]{8,200})?[ \\t\\r\\n]*$")]
    pub polar_webhook_secret: Option<Option<String>>,
    /// The basic-auth user name set on the Chargebee webhook; write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(pattern = "^[ \\t\\r\\n]*([!-9;-~]{1,200})?[ \\t\\r\\n]*$")]
    pub chargebee_webhook_username: Option<Option<String>>,
    /// The basic-auth password set on the Chargebee webhook; write-only, `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(pattern = "^[ \\t\\r\\n]*([!-~]{8,200})?[ \\t\\r\\n]*$")]
    pub chargebee_webhook_password: Option<Option<String>>,
    /// Platform fee deducted from each payout, 0..=5000 basis points (default 0).
    #[schema(minimum = 0, maximum = 5000)]
    pub platform_fee_bps: Option<i64>,
    /// Run payouts automatically each month on this day (1-28); `null` turns it off.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(minimum = 1, maximum = 28)]
    pub payout_day: Option<Option<i64>>,
    /// Payouts wait until the affiliate has given its tax details (legal name, country,
    /// tax id); default false.
    pub require_tax_details: Option<bool>,
    /// Caps on commissions (the whole object is replaced; `{}` turns them all off).
    #[serde(default, deserialize_with = "caps::object_or_null")]
    pub caps: Option<Caps>,
    /// Goal bonuses (the whole object is replaced; `{}` turns them all off).
    #[serde(default, deserialize_with = "caps::object_or_null")]
    pub goal_bonuses: Option<GoalBonuses>,
    /// Fraud rules, rule → `off` | `flag` | `hold` | `reject` (the whole object is
    /// replaced; a rule left out is `off`). See README "Fraud review".
    #[serde(default, deserialize_with = "caps::object_or_null")]
    pub fraud_rules: Option<FraudRules>,
}

/// A program with its parsed current terms.
#[derive(Debug, Clone)]
pub struct Program {
    /// The stored row.
    pub row: ProgramRow,
    /// Its current commission terms.
    pub commission: Commission,
    /// Extra host names referral links may lead to.
    pub allowed_domains: Vec<String>,
    /// Caps on commissions.
    pub caps: Caps,
    /// Goal bonuses.
    pub goal_bonuses: GoalBonuses,
    /// Fraud rules.
    pub fraud_rules: FraudRules,
}

impl Program {
    fn from_row(row: ProgramRow) -> AppResult<Self> {
        let commission = Commission::from_stored(&row.commission).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("stored terms of {} are unreadable", row.id))
        })?;
        let allowed_domains = destination::parse_stored(&row.allowed_domains);
        let caps = Caps::from_stored(&row.caps)?;
        let goal_bonuses = GoalBonuses::from_stored(&row.goal_bonuses)?;
        let fraud_rules = FraudRules::from_stored(&row.fraud_rules)?;
        Ok(Self {
            row,
            commission,
            allowed_domains,
            caps,
            goal_bonuses,
            fraud_rules,
        })
    }
}

/// Validated settings, ready to store.
struct Settings {
    name: String,
    slug: String,
    currency: String,
    landing_url: Option<String>,
    status: String,
    holding_period_days: i64,
    min_payout_cents: i64,
    cookie_duration_days: i64,
    attribution_model: String,
    attribution_window_days: i64,
    auto_approve: bool,
    allow_self_referral: bool,
    terms_text: String,
    allowed_domains: String,
    conversion_kind: String,
    conversion_event: Option<String>,
    platform_fee_bps: i64,
    payout_day: Option<i64>,
    caps: String,
    goal_bonuses: String,
}

impl Settings {
    fn defaults(currency: &str) -> Self {
        Self {
            name: String::new(),
            slug: String::new(),
            currency: currency.to_owned(),
            landing_url: None,
            status: "active".into(),
            holding_period_days: 30,
            min_payout_cents: 5000,
            cookie_duration_days: 30,
            attribution_model: "last_touch".into(),
            attribution_window_days: 30,
            auto_approve: false,
            allow_self_referral: false,
            terms_text: String::new(),
            allowed_domains: "[]".into(),
            conversion_kind: "every_payment".into(),
            conversion_event: None,
            platform_fee_bps: 0,
            payout_day: None,
            caps: "{}".into(),
            goal_bonuses: "{}".into(),
        }
    }

    fn from_row(r: &ProgramRow) -> Self {
        Self {
            name: r.name.clone(),
            slug: r.slug.clone(),
            currency: r.currency.clone(),
            landing_url: r.landing_url.clone(),
            status: r.status.clone(),
            holding_period_days: r.holding_period_days,
            min_payout_cents: r.min_payout_cents,
            cookie_duration_days: r.cookie_duration_days,
            attribution_model: r.attribution_model.clone(),
            attribution_window_days: r.attribution_window_days,
            auto_approve: r.auto_approve == 1,
            allow_self_referral: r.allow_self_referral == 1,
            terms_text: r.terms_text.clone(),
            allowed_domains: r.allowed_domains.clone(),
            conversion_kind: r.conversion_kind.clone(),
            conversion_event: r.conversion_event.clone(),
            platform_fee_bps: r.platform_fee_bps,
            payout_day: r.payout_day,
            caps: r.caps.clone(),
            goal_bonuses: r.goal_bonuses.clone(),
        }
    }

    /// Applies and validates the fields present in `input`.
    fn apply(&mut self, input: &ProgramInput) -> AppResult<()> {
        if let Some(name) = &input.name {
            self.name = text::required("name", name, text::NAME_MAX)?;
        }
        if let Some(s) = &input.slug {
            self.slug = parse_slug(s)?;
        } else if self.slug.is_empty() {
            self.slug = slug::slugify(&self.name, SLUG_MAX, "program");
        }
        if let Some(c) = &input.currency {
            self.currency = Currency::parse("currency", c)?.as_str().to_owned();
        }
        if let Some(url) = &input.landing_url {
            self.landing_url = match url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(u) => Some(text::http_url("landing_url", u)?.to_string()),
            };
        }
        if let Some(s) = &input.status {
            self.status = one_of("status", s, STATUSES)?;
        }
        if let Some(m) = &input.attribution_model {
            self.attribution_model = one_of("attribution_model", m, &ATTRIBUTION_MODELS)?;
        }
        let ranged =
            |field: &str, v: Option<i64>, lo: i64, hi: i64, current: i64| -> AppResult<i64> {
                match v {
                    None => Ok(current),
                    Some(v) if (lo..=hi).contains(&v) => Ok(v),
                    Some(_) => Err(AppError::invalid(
                        field,
                        format!("{field} must be between {lo} and {hi}"),
                    )),
                }
            };
        self.holding_period_days = ranged(
            "holding_period_days",
            input.holding_period_days,
            0,
            365,
            self.holding_period_days,
        )?;
        self.min_payout_cents = ranged(
            "min_payout_cents",
            input.min_payout_cents,
            0,
            MIN_PAYOUT_MAX_CENTS,
            self.min_payout_cents,
        )?;
        self.platform_fee_bps = ranged(
            "platform_fee_bps",
            input.platform_fee_bps,
            0,
            5000,
            self.platform_fee_bps,
        )?;
        if let Some(day) = input.payout_day {
            self.payout_day = match day {
                None => None,
                Some(d) if (1..=28).contains(&d) => Some(d),
                Some(_) => {
                    return Err(AppError::invalid(
                        "payout_day",
                        "payout_day is a day of the month from 1 to 28 (null: no schedule)",
                    ));
                }
            };
        }
        self.cookie_duration_days = ranged(
            "cookie_duration_days",
            input.cookie_duration_days,
            1,
            730,
            self.cookie_duration_days,
        )?;
        self.attribution_window_days = ranged(
            "attribution_window_days",
            input.attribution_window_days,
            1,
            730,
            self.attribution_window_days,
        )?;
        if let Some(v) = input.auto_approve {
            self.auto_approve = v;
        }
        if let Some(v) = input.allow_self_referral {
            self.allow_self_referral = v;
        }
        if let Some(t) = &input.terms_text {
            if t.chars().count() > TERMS_TEXT_MAX {
                return Err(AppError::invalid(
                    "terms_text",
                    format!("terms_text is longer than {TERMS_TEXT_MAX} characters"),
                ));
            }
            self.terms_text = t.trim().to_owned();
        }
        if let Some(domains) = &input.allowed_domains {
            let parsed = parse_allowed_domains(domains)?;
            self.allowed_domains = serde_json::Value::from(parsed).to_string();
        }
        if let Some(k) = &input.conversion_kind {
            self.conversion_kind = one_of("conversion_kind", k, &CONVERSION_KINDS)?;
        }
        if let Some(e) = &input.conversion_event {
            self.conversion_event = match e.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(e) => Some(one_of("conversion_event", e, &CONVERSION_EVENTS)?),
            };
        }
        if let Some(c) = &input.caps {
            c.validate()?;
            self.caps = caps::to_stored(c);
        }
        if let Some(g) = &input.goal_bonuses {
            g.validate()?;
            self.goal_bonuses = caps::to_stored(g);
        }
        if self.conversion_kind == "event" && self.conversion_event.is_none() {
            return Err(AppError::invalid(
                "conversion_event",
                "conversion_kind event needs conversion_event, e.g. subscription.created",
            ));
        }
        Ok(())
    }

    fn columns(&self) -> ProgramColumns<'_> {
        ProgramColumns {
            name: &self.name,
            slug: &self.slug,
            currency: &self.currency,
            landing_url: self.landing_url.as_deref(),
            status: &self.status,
            holding_period_days: self.holding_period_days,
            min_payout_cents: self.min_payout_cents,
            cookie_duration_days: self.cookie_duration_days,
            attribution_model: &self.attribution_model,
            attribution_window_days: self.attribution_window_days,
            auto_approve: self.auto_approve,
            allow_self_referral: self.allow_self_referral,
            terms_text: &self.terms_text,
            allowed_domains: &self.allowed_domains,
            conversion_kind: &self.conversion_kind,
            conversion_event: self.conversion_event.as_deref(),
            platform_fee_bps: self.platform_fee_bps,
            payout_day: self.payout_day,
            caps: &self.caps,
            goal_bonuses: &self.goal_bonuses,
        }
    }
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> AppResult<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be one of: {}", allowed.join(", ")),
        ))
    }
}

/// A lower-case slug of letters, digits and hyphens.
fn parse_slug(raw: &str) -> AppResult<String> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= SLUG_MAX
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AppError::invalid(
            "slug",
            "slug must be 1-40 lower-case letters, digits and inner hyphens",
        ))
    }
}

/// Most extra domains a program may list.
const ALLOWED_DOMAINS_MAX: usize = 20;

/// Host names, each optionally prefixed by `*.` (any subdomain), deduplicated.
fn parse_allowed_domains(raw: &[String]) -> AppResult<Vec<String>> {
    if raw.len() > ALLOWED_DOMAINS_MAX {
        return Err(AppError::invalid(
            "allowed_domains",
            format!("at most {ALLOWED_DOMAINS_MAX} domains"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for d in raw {
        let d = d.trim();
        let (wild, host) = match d.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, d),
        };
        let host =
            crate::domain::values::host::parse_host("allowed_domains", host).map_err(|_| {
                AppError::invalid(
                    "allowed_domains",
                    format!("{d:?} is not a host name such as shop.example.com or *.example.com"),
                )
            })?;
        let entry = if wild { format!("*.{host}") } else { host };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Validates a Stripe signing secret: `Some(None)` removes it.
fn stripe_secret_of(input: &ProgramInput) -> AppResult<Option<Option<String>>> {
    match &input.stripe_webhook_secret {
        None => Ok(None),
        Some(v) => match v.as_deref().map(str::trim) {
            None | Some("") => Ok(Some(None)),
            Some(s)
                if s.starts_with("whsec_")
                    && s.len() <= 200
                    && s[6..].len() >= 8
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Ok(Some(Some(s.to_owned())))
            }
            Some(_) => Err(AppError::invalid(
                "stripe_webhook_secret",
                "stripe_webhook_secret is the endpoint's signing secret, starting with whsec_",
            )),
        },
    }
}

/// Validates a Stripe secret key: `Some(None)` removes it.
fn stripe_key_of(input: &ProgramInput) -> AppResult<Option<Option<String>>> {
    match &input.stripe_secret_key {
        None => Ok(None),
        Some(v) => match v.as_deref().map(str::trim) {
            None | Some("") => Ok(Some(None)),
            Some(s)
                if ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
                    .iter()
                    .any(|p| s.starts_with(p))
                    && s.len() <= 255
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Ok(Some(Some(s.to_owned())))
            }
            Some(_) => Err(AppError::invalid(
                "stripe_secret_key",
                "stripe_secret_key is a Stripe secret key (sk_live_..., sk_test_...) or a restricted key (rk_...)",
            )),
        },
    }
}

fn commission_of(input: &ProgramInput) -> AppResult<Option<Commission>> {
    input
        .commission
        .clone()
        .map(|v| Commission::from_json("commission", v))
        .transpose()
}

fn map_slug_conflict(e: sqlx::Error) -> AppError {
    match db::unique_violation_field(&e) {
        Some(_) => AppError::duplicate("slug", "another program already uses this slug"),
        None => e.into(),
    }
}

/// Creates a program (not the default one); `name` is required.
pub async fn create(
    db: &Db,
    vendor_id: &str,
    input: &ProgramInput,
    actor: &Actor,
) -> AppResult<Program> {
    if input.name.is_none() {
        return Err(AppError::invalid("name", "name is required"));
    }
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut settings = Settings::defaults(&vendor.default_currency);
    settings.apply(input)?;
    let commission = commission_of(input)?.unwrap_or_else(Commission::default_terms);
    let stripe_secret = stripe_secret_of(input)?;
    let stripe_key = stripe_key_of(input)?;
    let credentials = provider_credentials::changes(input)?;
    let mut tx = db.begin().await?;
    let id = db::programs::insert(
        &mut tx,
        vendor_id,
        &settings.columns(),
        false,
        &commission.to_json(),
    )
    .await
    .map_err(map_slug_conflict)?;
    if let Some(secret) = &stripe_secret {
        db::programs::set_stripe_secret(&mut *tx, vendor_id, &id, secret.as_deref()).await?;
    }
    if let Some(key) = &stripe_key {
        db::programs::set_stripe_key(&mut *tx, vendor_id, &id, key.as_deref()).await?;
    }
    for (column, value) in &credentials {
        db::programs::set_provider_credential(&mut *tx, vendor_id, &id, *column, value.as_deref())
            .await?;
    }
    if let Some(required) = input.require_tax_details {
        db::programs::set_require_tax_details(&mut *tx, vendor_id, &id, required).await?;
    }
    if let Some(rules) = &input.fraud_rules {
        db::programs::set_fraud_rules(&mut *tx, vendor_id, &id, &rules.to_stored()).await?;
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.created",
        ("program", Some(&id)),
        json!({"name": settings.name}),
    )
    .await?;
    tx.commit().await?;
    get(db, vendor_id, &id).await
}

/// Creates the default program of a new vendor, inside the vendor's creation transaction.
pub async fn create_default(
    conn: &mut db::Conn,
    vendor_id: &str,
    vendor_name: &str,
    currency: &str,
) -> AppResult<String> {
    let mut settings = Settings::defaults(currency);
    settings.name = format!("{vendor_name} affiliate program");
    settings.slug = "default".into();
    Ok(db::programs::insert(
        conn,
        vendor_id,
        &settings.columns(),
        true,
        &Commission::default_terms().to_json(),
    )
    .await?)
}

/// Changes the fields present in `input`; new commission terms become the next version
/// (existing enrollments keep theirs).
pub async fn update(
    db: &Db,
    vendor_id: &str,
    id: &str,
    input: &ProgramInput,
    actor: &Actor,
) -> AppResult<Program> {
    let current = get(db, vendor_id, id).await?;
    let mut settings = Settings::from_row(&current.row);
    settings.apply(input)?;
    let commission = commission_of(input)?.filter(|c| *c != current.commission);
    let stripe_secret = stripe_secret_of(input)?;
    let stripe_key = stripe_key_of(input)?;
    let credentials = provider_credentials::changes(input)?;
    let mut tx = db.begin().await?;
    if !db::programs::update(&mut tx, vendor_id, id, &settings.columns())
        .await
        .map_err(map_slug_conflict)?
    {
        return Err(AppError::NotFound);
    }
    if let Some(secret) = &stripe_secret {
        db::programs::set_stripe_secret(&mut *tx, vendor_id, id, secret.as_deref()).await?;
    }
    if let Some(key) = &stripe_key {
        db::programs::set_stripe_key(&mut *tx, vendor_id, id, key.as_deref()).await?;
    }
    for (column, value) in &credentials {
        db::programs::set_provider_credential(&mut *tx, vendor_id, id, *column, value.as_deref())
            .await?;
    }
    if let Some(required) = input.require_tax_details {
        db::programs::set_require_tax_details(&mut *tx, vendor_id, id, required).await?;
    }
    if let Some(rules) = &input.fraud_rules {
        db::programs::set_fraud_rules(&mut *tx, vendor_id, id, &rules.to_stored()).await?;
    }
    let mut details = json!({"fields": changed_fields(input)});
    if let Some(c) = &commission {
        let version = db::programs::add_terms_version(&mut tx, vendor_id, id, &c.to_json()).await?;
        details["terms_version"] = json!(version);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.updated",
        ("program", Some(id)),
        details,
    )
    .await?;
    tx.commit().await?;
    get(db, vendor_id, id).await
}

fn changed_fields(input: &ProgramInput) -> Vec<&'static str> {
    let mut f = Vec::new();
    let mut note = |present: bool, name: &'static str| {
        if present {
            f.push(name);
        }
    };
    note(input.name.is_some(), "name");
    note(input.slug.is_some(), "slug");
    note(input.currency.is_some(), "currency");
    note(input.landing_url.is_some(), "landing_url");
    note(input.status.is_some(), "status");
    note(input.holding_period_days.is_some(), "holding_period_days");
    note(input.min_payout_cents.is_some(), "min_payout_cents");
    note(input.cookie_duration_days.is_some(), "cookie_duration_days");
    note(input.attribution_model.is_some(), "attribution_model");
    note(
        input.attribution_window_days.is_some(),
        "attribution_window_days",
    );
    note(input.auto_approve.is_some(), "auto_approve");
    note(input.allow_self_referral.is_some(), "allow_self_referral");
    note(input.terms_text.is_some(), "terms_text");
    note(input.commission.is_some(), "commission");
    note(input.allowed_domains.is_some(), "allowed_domains");
    note(input.conversion_kind.is_some(), "conversion_kind");
    note(input.conversion_event.is_some(), "conversion_event");
    note(
        input.stripe_webhook_secret.is_some(),
        "stripe_webhook_secret",
    );
    note(input.stripe_secret_key.is_some(), "stripe_secret_key");
    note(input.platform_fee_bps.is_some(), "platform_fee_bps");
    note(input.payout_day.is_some(), "payout_day");
    note(input.require_tax_details.is_some(), "require_tax_details");
    note(input.fraud_rules.is_some(), "fraud_rules");
    f.extend(provider_credentials::present(input));
    f
}

/// Moves every enrollment of a program to its current terms version (enrollments otherwise
/// keep the version they activated under). Returns how many moved.
pub async fn migrate_enrollments(
    db: &Db,
    vendor_id: &str,
    id: &str,
    actor: &Actor,
) -> AppResult<u64> {
    let program = get(db, vendor_id, id).await?;
    let mut tx = db.begin().await?;
    let moved = db::affiliates::adopt_current_terms(&mut *tx, vendor_id, Some(id), None).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.enrollments_migrated",
        ("program", Some(id)),
        json!({"terms_version": program.row.current_terms_version, "enrollments": moved}),
    )
    .await?;
    tx.commit().await?;
    Ok(moved)
}

/// One program of the vendor; another vendor's is 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Program> {
    let row = db::programs::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Program::from_row(row)
}

/// Every program of the vendor, default first. Use this, not a page of [`list`], wherever
/// all of them are needed (filters, menus, payout runs): nothing may stop at a page size.
pub async fn all(db: &Db, vendor_id: &str) -> AppResult<Vec<Program>> {
    db::programs::all(db.pool(), vendor_id)
        .await?
        .into_iter()
        .map(Program::from_row)
        .collect()
}

/// One page of the vendor's programs and the total count.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Program>, i64)> {
    let total = db::programs::count(db.pool(), vendor_id).await?;
    let rows = db::programs::page(db.pool(), vendor_id, limit, offset).await?;
    let programs = rows
        .into_iter()
        .map(Program::from_row)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((programs, total))
}

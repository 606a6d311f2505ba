//! `/api/v1/programs`: list, create, show, update.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::domain::partners::caps::{Caps, GoalBonuses};
use crate::domain::partners::fraud_rules::FraudRules;
use crate::domain::partners::programs::{self, Program, ProgramInput};
use crate::domain::partners::terms::Commission;
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// A program in API responses.
#[derive(Debug, Serialize)]
pub struct ProgramJson {
    id: String,
    name: String,
    slug: String,
    currency: String,
    landing_url: Option<String>,
    allowed_domains: Vec<String>,
    status: String,
    is_default: bool,
    holding_period_days: i64,
    min_payout_cents: i64,
    cookie_duration_days: i64,
    attribution_model: String,
    attribution_window_days: i64,
    auto_approve: bool,
    allow_self_referral: bool,
    terms_text: String,
    commission: Commission,
    terms_version: i64,
    conversion_kind: String,
    conversion_event: Option<String>,
    /// Whether a Stripe signing secret is set (the secret itself is never shown).
    stripe_webhook_configured: bool,
    /// Where to point the program's Stripe webhook endpoint (path; prefix the base URL).
    stripe_webhook_path: String,
    /// Whether a Stripe secret key for Connect payouts is set (never shown).
    stripe_connect_configured: bool,
    /// Whether a Paddle notification secret is set (never shown).
    paddle_webhook_secret_set: bool,
    /// Where to point the program's Paddle notification destination (path).
    paddle_webhook_path: String,
    /// Whether a Lemon Squeezy signing secret is set (never shown).
    lemonsqueezy_webhook_secret_set: bool,
    /// Where to point the program's Lemon Squeezy webhook (path).
    lemonsqueezy_webhook_path: String,
    /// Whether a Polar webhook secret is set (never shown).
    polar_webhook_secret_set: bool,
    /// Where to point the program's Polar webhook endpoint (path).
    polar_webhook_path: String,
    /// Whether a Chargebee basic-auth user name is set (never shown).
    chargebee_webhook_username_set: bool,
    /// Whether a Chargebee basic-auth password is set (never shown).
    chargebee_webhook_password_set: bool,
    /// Where to point the program's Chargebee webhook (path).
    chargebee_webhook_path: String,
    /// Platform fee deducted from each payout, basis points.
    platform_fee_bps: i64,
    require_tax_details: bool,
    /// Day of the month payouts run by themselves, if scheduled.
    payout_day: Option<i64>,
    /// Caps on commissions (see README "Caps").
    caps: Caps,
    /// Goal bonuses (see README "Bonuses").
    goal_bonuses: GoalBonuses,
    /// Fraud rules (see README "Fraud review").
    fraud_rules: FraudRules,
    created_at: String,
    updated_at: String,
}

impl From<Program> for ProgramJson {
    fn from(p: Program) -> Self {
        let r = p.row;
        let p_id = r.id.clone();
        Self {
            id: r.id,
            name: r.name,
            slug: r.slug,
            currency: r.currency,
            landing_url: r.landing_url,
            allowed_domains: p.allowed_domains,
            status: r.status,
            is_default: r.is_default == 1,
            holding_period_days: r.holding_period_days,
            min_payout_cents: r.min_payout_cents,
            cookie_duration_days: r.cookie_duration_days,
            attribution_model: r.attribution_model,
            attribution_window_days: r.attribution_window_days,
            auto_approve: r.auto_approve == 1,
            allow_self_referral: r.allow_self_referral == 1,
            terms_text: r.terms_text,
            commission: p.commission,
            terms_version: r.current_terms_version,
            conversion_kind: r.conversion_kind,
            conversion_event: r.conversion_event,
            stripe_webhook_configured: r.stripe_webhook_secret.is_some(),
            stripe_webhook_path: format!("/webhooks/stripe/{}", p_id),
            stripe_connect_configured: r.stripe_secret_key.is_some(),
            paddle_webhook_secret_set: r.paddle_webhook_secret.is_some(),
            paddle_webhook_path: format!("/webhooks/paddle/{p_id}"),
            lemonsqueezy_webhook_secret_set: r.lemonsqueezy_webhook_secret.is_some(),
            lemonsqueezy_webhook_path: format!("/webhooks/lemonsqueezy/{p_id}"),
            polar_webhook_secret_set: r.polar_webhook_secret.is_some(),
            polar_webhook_path: format!("/webhooks/polar/{p_id}"),
            chargebee_webhook_username_set: r.chargebee_webhook_username.is_some(),
            chargebee_webhook_password_set: r.chargebee_webhook_password.is_some(),
            chargebee_webhook_path: format!("/webhooks/chargebee/{p_id}"),
            platform_fee_bps: r.platform_fee_bps,
            require_tax_details: r.require_tax_details != 0,
            payout_day: r.payout_day,
            caps: p.caps,
            goal_bonuses: p.goal_bonuses,
            fraud_rules: p.fraud_rules,
            created_at: db::rfc3339(r.created_at),
            updated_at: db::rfc3339(r.updated_at),
        }
    }
}

/// `GET /api/v1/programs`.
#[utoipa::path(
    get,
    path = "/api/v1/programs",
    tag = "programs",
    params(PageQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    query: crate::http::extract::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = query.resolve()?;
    let (items, total) =
        programs::list(&state.db, auth.vendor_id(), page.per_page, page.offset()).await?;
    let data = items.into_iter().map(ProgramJson::from).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/programs` → 201.
#[utoipa::path(
    post,
    path = "/api/v1/programs",
    tag = "programs",
    request_body(content = ProgramInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<ProgramInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let program = programs::create(&state.db, auth.vendor_id(), &body.into_inner(), &actor).await?;
    Ok(HttpResponse::Created().json(ProgramJson::from(program)))
}

/// `GET /api/v1/programs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let program = programs::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(ProgramJson::from(program)))
}

/// `PATCH /api/v1/programs/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/programs/{id}",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = ProgramInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ProgramInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let program =
        programs::update(&state.db, auth.vendor_id(), &id, &body.into_inner(), &actor).await?;
    Ok(HttpResponse::Ok().json(ProgramJson::from(program)))
}

/// `POST /api/v1/programs/{id}/migrate-enrollments`: move every enrollment to the current
/// terms version → `{migrated, terms_version}`.
#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/migrate-enrollments",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn migrate(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let migrated = programs::migrate_enrollments(&state.db, auth.vendor_id(), &id, &actor).await?;
    let program = programs::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"migrated": migrated, "terms_version": program.row.current_terms_version})))
}

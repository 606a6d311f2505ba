//! Accounting, tax details and the terms backtest:
//! `GET /api/v1/accounting/journal?from&to&format=csv|json&currency&period=day|month`,
//! `GET /api/v1/accounting/paid-totals?year&format=csv|json`,
//! `GET`/`PUT /api/v1/affiliates/{id}/tax-details`, `GET`/`PUT /api/v1/me/tax-details`,
//! `POST /api/v1/programs/{id}/terms/backtest` `{terms, from, to}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::attribution::clicks::parse_period;
use crate::domain::earnings::conversions::backtest;
use crate::domain::partners::programs;
use crate::domain::partners::tax_details::{self, TaxDetailsInput};
use crate::domain::partners::terms::Commission;
use crate::domain::payouts::accounting::{self, JournalQuery};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::me::MeAuth;
use crate::http::api::opt;

/// Query of `GET /api/v1/accounting/journal`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct JournalParams {
    /// First day (`YYYY-MM-DD`) or instant (RFC 3339); required.
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, inclusive) or end instant (RFC 3339, exclusive); required.
    pub to: Option<String>,
    /// `json` (default; also when empty) or `csv`.
    #[param(pattern = "^(|csv|json)$")]
    pub format: Option<String>,
    /// Only this currency (ISO 4217).
    pub currency: Option<String>,
    /// `month` (default) or `day`.
    #[param(pattern = "^(day|month)$")]
    pub period: Option<String>,
}

/// `csv` or `json` (default), anything else a 422 on `format`.
fn format_of(raw: Option<&str>) -> AppResult<&'static str> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("json") => Ok("json"),
        Some("csv") => Ok("csv"),
        Some(_) => Err(AppError::invalid(
            "format",
            "format must be one of: csv, json",
        )),
    }
}

/// A CSV download.
fn csv_download(filename: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `GET /api/v1/accounting/journal`: the ledger as balanced journal entries per period and
/// currency, mapped to the chart of accounts (see the README's "Accounting export").
#[utoipa::path(
    get,
    path = "/api/v1/accounting/journal",
    tag = "accounting",
    params(JournalParams),
    responses((status = 200, description = "The journal: JSON, or CSV for `format=csv`", content(
        (Object = "application/json"),
        (String = "text/csv"),
    ))),
    security(("api_key" = [])),
)]
pub async fn journal(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<JournalParams>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let format = format_of(opt(&q.format))?;
    let query = JournalQuery {
        from: opt(&q.from),
        to: opt(&q.to),
        currency: opt(&q.currency),
        period: opt(&q.period),
    };
    let j = accounting::journal(&state.db, auth.vendor_id(), &query).await?;
    Ok(if format == "csv" {
        let name = format!("{}.csv", j.file_stem());
        csv_download(&name, accounting::journal_csv(&j))
    } else {
        HttpResponse::Ok().json(j)
    })
}

/// Query of `GET /api/v1/accounting/paid-totals`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct PaidTotalsParams {
    /// Calendar year (UTC), e.g. 2026; required.
    #[param(required = true, pattern = "^2[0-9]{3}$")]
    pub year: Option<String>,
    /// `json` (default; also when empty) or `csv`.
    #[param(pattern = "^(|csv|json)$")]
    pub format: Option<String>,
}

/// `GET /api/v1/accounting/paid-totals?year=`: per affiliate and currency, the payouts paid
/// in the year with the affiliate's tax details.
#[utoipa::path(
    get,
    path = "/api/v1/accounting/paid-totals",
    tag = "accounting",
    params(PaidTotalsParams),
    responses((status = 200, description = "`{year, data: [...]}`, or CSV for `format=csv`", content(
        (Object = "application/json"),
        (String = "text/csv"),
    ))),
    security(("api_key" = [])),
)]
pub async fn paid_totals(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<PaidTotalsParams>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let format = format_of(opt(&q.format))?;
    let rows = accounting::paid_totals(&state.db, auth.vendor_id(), opt(&q.year)).await?;
    let year = opt(&q.year).unwrap_or_default().trim();
    Ok(if format == "csv" {
        csv_download(
            &format!("paid-totals-{year}.csv"),
            accounting::paid_totals_csv(&rows),
        )
    } else {
        HttpResponse::Ok().json(json!({"year": year.parse::<i64>().ok(), "data": rows}))
    })
}

/// `GET /api/v1/affiliates/{id}/tax-details` → the details, or `null` when not given.
#[utoipa::path(
    get,
    path = "/api/v1/affiliates/{id}/tax-details",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "`{tax_details: {...} | null}`", body = Object)),
    security(("api_key" = [])),
)]
pub async fn affiliate_tax_details(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let t = tax_details::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(json!({"tax_details": t})))
}

/// `PUT /api/v1/affiliates/{id}/tax-details` `{legal_name, country, tax_id}`.
#[utoipa::path(
    put,
    path = "/api/v1/affiliates/{id}/tax-details",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = TaxDetailsInput, content_type = "application/json"),
    responses((status = 200, description = "`{tax_details: {...}}`", body = Object)),
    security(("api_key" = [])),
)]
pub async fn set_affiliate_tax_details(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<TaxDetailsInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let t = tax_details::set(
        &state.db,
        auth.vendor_id(),
        &id,
        &body.0,
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"tax_details": t})))
}

/// `GET /api/v1/me/tax-details`: the affiliate's own tax details (`null` when not given).
#[utoipa::path(
    get,
    path = "/api/v1/me/tax-details",
    tag = "me",
    responses((status = 200, description = "`{tax_details: {...} | null}`", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn my_tax_details(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let t = tax_details::get(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(json!({"tax_details": t})))
}

/// `PUT /api/v1/me/tax-details` `{legal_name, country, tax_id}`.
#[utoipa::path(
    put,
    path = "/api/v1/me/tax-details",
    tag = "me",
    request_body(content = TaxDetailsInput, content_type = "application/json"),
    responses((status = 200, description = "`{tax_details: {...}}`", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn set_my_tax_details(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<TaxDetailsInput>,
) -> AppResult<HttpResponse> {
    let actor = Actor::Affiliate(me.affiliate_id.clone());
    let t = tax_details::set(&state.db, &me.vendor_id, &me.affiliate_id, &body.0, &actor).await?;
    Ok(HttpResponse::Ok().json(json!({"tax_details": t})))
}

/// Body of `POST /api/v1/programs/{id}/terms/backtest`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestInput {
    /// Draft commission terms, the shape of a program's `commission`.
    #[schema(value_type = Object)]
    pub terms: Option<serde_json::Value>,
    /// First day (`YYYY-MM-DD`) or instant (RFC 3339); default 30 days before `to`.
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, inclusive) or end instant (RFC 3339); default now. At most
    /// 366 days after `from`.
    pub to: Option<String>,
    /// Replay only the conversions of the affiliates now in this partner group of the
    /// program (a group change); absent: the whole program.
    pub group_id: Option<String>,
}

/// `POST /api/v1/programs/{id}/terms/backtest`: what the program's conversions in the
/// period would have earned under the draft terms, per affiliate and in total, next to
/// what was recorded. Writes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/terms/backtest",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = BacktestInput, content_type = "application/json"),
    responses((status = 200, description = "The backtest", body = Object)),
    security(("api_key" = [])),
)]
pub async fn backtest(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<BacktestInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    // Another vendor's program is a 404 whatever the body holds.
    programs::get(&state.db, auth.vendor_id(), &id).await?;
    let body = body.into_inner();
    let terms = body
        .terms
        .ok_or_else(|| AppError::invalid("terms", "terms are required"))?;
    let terms = Commission::from_json("terms", terms)?;
    let range = parse_period(
        body.from.as_deref(),
        body.to.as_deref(),
        crate::db::now_ms(),
    )?;
    let b = backtest::run_for_group(
        &state.db,
        auth.vendor_id(),
        &id,
        body.group_id.as_deref(),
        &terms,
        range,
    )
    .await?;
    Ok(HttpResponse::Ok().json(b))
}

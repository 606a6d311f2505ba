//! `/api/v1/affiliates`: invite/create, list and search, show, update, soft delete,
//! lookup by the vendor's customer id, resending invitations, and changing a referral code.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db;
use crate::domain::earnings::affiliate_stats::{self, Stats};
use crate::domain::partners::affiliates::{self, Affiliate, AffiliateInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::pagination::{List, PageQuery};

#[derive(Serialize)]
struct EnrollmentJson {
    id: String,
    program_id: String,
    program_name: String,
    code: String,
    status: String,
    terms_version: i64,
    commission_override: Option<Value>,
}

/// An affiliate in API responses.
#[derive(Serialize)]
pub struct AffiliateJson {
    id: String,
    email: String,
    name: String,
    first_name: String,
    last_name: String,
    company: Option<String>,
    website: Option<String>,
    status: String,
    /// The code of the first enrollment (the one most integrations use).
    code: Option<String>,
    customer_id: Option<String>,
    external_source: Option<String>,
    external_id: Option<String>,
    payout_method: Option<String>,
    payout_email: Option<String>,
    payout_details: Option<String>,
    stripe_account_id: Option<String>,
    parent_affiliate_id: Option<String>,
    metadata: Value,
    enrollments: Vec<EnrollmentJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<Stats>,
    activated_at: Option<String>,
    created_at: String,
    updated_at: String,
}

/// An affiliate with its all-time stats, as the API (and the MCP tools) answer it.
pub async fn with_stats(state: &AppState, a: Affiliate) -> AppResult<AffiliateJson> {
    let stats = affiliate_stats::of_affiliate(&state.db, &a.row.vendor_id, &a.row.id).await?;
    Ok(to_json(a, Some(stats)))
}

/// An affiliate in API responses (lists leave `stats` out).
pub fn to_json(a: Affiliate, stats: Option<Stats>) -> AffiliateJson {
    let r = a.row;
    AffiliateJson {
        code: a.enrollments.first().map(|e| e.code.clone()),
        enrollments: a
            .enrollments
            .into_iter()
            .map(|e| EnrollmentJson {
                commission_override: e
                    .commission_override
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok()),
                id: e.id,
                program_id: e.program_id,
                program_name: e.program_name,
                code: e.code,
                status: e.status,
                terms_version: e.terms_version,
            })
            .collect(),
        stats,
        id: r.id,
        email: r.email,
        name: r.name,
        first_name: r.first_name,
        last_name: r.last_name,
        company: r.company,
        website: r.website,
        status: r.status,
        customer_id: r.customer_id,
        external_source: r.external_source,
        external_id: r.external_id,
        payout_method: r.payout_method,
        payout_email: r.payout_email,
        payout_details: r.payout_details,
        stripe_account_id: r.stripe_account_id,
        parent_affiliate_id: r.parent_affiliate_id,
        metadata: serde_json::from_str(&r.metadata).unwrap_or_else(|_| json!({})),
        activated_at: r.activated_at.map(db::rfc3339),
        created_at: db::rfc3339(r.created_at),
        updated_at: db::rfc3339(r.updated_at),
    }
}

/// Query of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
    #[param(pattern = "^(|invited|active|paused|banned|deactivated)$")]
    status: Option<String>,
    search: Option<String>,
    program_id: Option<String>,
    #[param(pattern = "^(-created_at|created_at|email|name)$")]
    sort: Option<String>,
}

/// `GET /api/v1/affiliates`.
#[utoipa::path(
    get,
    path = "/api/v1/affiliates",
    tag = "affiliates",
    params(ListQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = affiliates::parse_filter(
        q.status.as_deref(),
        q.search.as_deref(),
        q.program_id.as_deref(),
    )?;
    let sort = affiliates::parse_sort(q.sort.as_deref())?;
    let (found, total) = affiliates::list(
        &state.db,
        auth.vendor_id(),
        &filter,
        sort,
        page.per_page,
        page.offset(),
    )
    .await?;
    let data = found.into_iter().map(|a| to_json(a, None)).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/affiliates` → 201.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates",
    tag = "affiliates",
    request_body(content = AffiliateInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<AffiliateInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input = body.into_inner();
    let vendor = auth.vendor(&state).await?;
    let affiliate = affiliates::create(
        &state.db,
        &state.sender,
        &vendor,
        &input,
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Created().json(with_stats(&state, affiliate).await?))
}

/// `GET /api/v1/affiliates/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/affiliates/{id}",
    tag = "affiliates",
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
    let affiliate = affiliates::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(with_stats(&state, affiliate).await?))
}

/// `PATCH /api/v1/affiliates/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/affiliates/{id}",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = AffiliateInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<AffiliateInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let vendor = auth.vendor(&state).await?;
    let affiliate = affiliates::update(
        &state.db,
        &state.sender,
        &vendor,
        &id,
        &body.into_inner(),
        &actor,
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_stats(&state, affiliate).await?))
}

/// `DELETE /api/v1/affiliates/{id}`: soft delete (deactivate).
#[utoipa::path(
    delete,
    path = "/api/v1/affiliates/{id}",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn delete(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let vendor = auth.vendor(&state).await?;
    let affiliate = affiliates::deactivate(&state.db, &state.sender, &vendor, &id, &actor).await?;
    Ok(HttpResponse::Ok().json(with_stats(&state, affiliate).await?))
}

/// `POST /api/v1/affiliates/{id}/invite`: email a fresh invitation.
#[utoipa::path(
    post,
    path = "/api/v1/affiliates/{id}/invite",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 202, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn invite(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let vendor = auth.vendor(&state).await?;
    affiliates::resend_invite(
        &state.db,
        &state.sender,
        &vendor,
        &id,
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({"sent": true})))
}

/// Body of `PUT /api/v1/affiliates/{id}/code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// The new referral code: 3-40 of `a-z 0-9 - _` (stored lower case), unique across the
    /// installation.
    code: String,
    /// The program whose enrollment changes code; optional when the affiliate has one.
    program_id: Option<String>,
}

/// `PUT /api/v1/affiliates/{id}/code`: change the referral code of one enrollment; the
/// old code stops resolving (README, "Affiliates").
#[utoipa::path(
    put,
    path = "/api/v1/affiliates/{id}/code",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = CodeInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn change_code(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<CodeInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input = body.into_inner();
    let affiliate = affiliates::change_code(
        &state.db,
        auth.vendor_id(),
        &id,
        input.program_id.as_deref(),
        &input.code,
        &Actor::ApiKey(auth.0.key_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_stats(&state, affiliate).await?))
}

/// `GET /api/v1/affiliates/by-customer/{customer_id}` → `{enrolled: false}` or the
/// affiliate's summary with `enrolled: true`.
#[utoipa::path(
    get,
    path = "/api/v1/affiliates/by-customer/{customer_id}",
    tag = "affiliates",
    params(("customer_id" = String, Path, description = "The vendor's own customer id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn by_customer(
    auth: ApiAuth,
    state: web::Data<AppState>,
    customer_id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let Some(a) = affiliates::by_customer(&state.db, auth.vendor_id(), &customer_id).await? else {
        return Ok(HttpResponse::Ok().json(json!({"enrolled": false})));
    };
    let stats = affiliate_stats::of_affiliate(&state.db, auth.vendor_id(), &a.row.id).await?;
    let code = a.enrollments.first().map(|e| e.code.clone());
    Ok(HttpResponse::Ok().json(json!({
        "enrolled": true,
        "id": a.row.id,
        "code": code,
        "status": a.row.status,
        "email": a.row.email,
        "name": a.row.name,
        "conversions": stats.conversions,
        // Seed 001's totalEarned, in `currency` (see the stats figures in the README).
        "total_earned_cents": stats.totals.total_earned_cents,
        "currency": stats.totals.currency,
        "balances": stats.balances,
    })))
}

//! `/api/v1/me/...`: the affiliate's self-service API (seed 002's shape, our paths).
//!
//! Authenticated by an affiliate credential — a signed access or embed token (`afft_`) or
//! a personal token created in the portal (`afpt_`), never a vendor API key. No route
//! takes an affiliate id: `?affiliate_id=` is a 400 on every `/me` route, checked once in
//! [`MeAuth`] (not silently ignored), and the queries refuse unknown parameters too. The
//! affiliate is always the credential's.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::db;
use crate::domain::attribution::deals::{self, DealInput};
use crate::domain::attribution::links::{self, LinkInput, LinkUpdate};
use crate::domain::earnings::affiliate_stats::{self, Period};
use crate::domain::earnings::fraud;
use crate::domain::partners::payout_settings::PayoutInput;
use crate::domain::{
    access::credentials, access::self_service, earnings::conversions, earnings::ledger, payouts,
};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::bearer_token;
use crate::http::api::json::ApiJson;
use crate::http::api::opt;
use crate::http::pagination::{List, PageQuery};

/// An authenticated affiliate.
#[derive(Debug, Clone)]
pub struct MeAuth {
    /// Tenant.
    pub vendor_id: String,
    /// The affiliate.
    pub affiliate_id: String,
}

impl FromRequest for MeAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer_token(req);
        let names_affiliate = names_affiliate(req.query_string());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("state missing")))?;
            let token = bearer.ok_or_else(|| {
                AppError::Unauthorized("missing Authorization: Bearer <affiliate token>".into())
            })?;
            if !credentials::is_affiliate_token(&token) {
                return Err(AppError::Unauthorized(
                    "/api/v1/me takes an affiliate token, not an API key".into(),
                ));
            }
            let affiliate =
                credentials::affiliate(&state.db, &state.affiliate_tokens, &token).await?;
            if names_affiliate {
                return Err(AppError::BadRequestField {
                    field: "affiliate_id".into(),
                    message: "affiliate_id is not accepted here: /me is always the affiliate \
                              of the credential"
                        .into(),
                });
            }
            Ok(MeAuth {
                vendor_id: affiliate.vendor_id,
                affiliate_id: affiliate.id,
            })
        })
    }
}

/// Whether a query string names an affiliate (`affiliate_id`, in any case): the one rule
/// every `/me` route shares, so a caller who thinks it can pick the affiliate learns
/// otherwise instead of silently getting the credential's.
fn names_affiliate(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .any(|(name, _)| name.trim().eq_ignore_ascii_case("affiliate_id"))
}

/// `GET /api/v1/me`: the affiliate's profile and enrollments.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn profile(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let value = self_service::profile(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(value))
}

/// `GET /api/v1/me/programs`: the programs the affiliate is enrolled in, with their code,
/// referral link and commission.
#[utoipa::path(
    get,
    path = "/api/v1/me/programs",
    tag = "me",
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn programs(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let data = self_service::programs(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// Query of `GET /api/v1/me/referral`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReferralQuery {
    program_id: Option<String>,
}

/// `GET /api/v1/me/referral?program_id=`: code and link for one program (the only one
/// when omitted; 422 when there are several).
#[utoipa::path(
    get,
    path = "/api/v1/me/referral",
    tag = "me",
    params(ReferralQuery),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn referral(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ReferralQuery>,
) -> AppResult<HttpResponse> {
    let value = self_service::referral(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        opt(&q.program_id),
    )
    .await?;
    Ok(HttpResponse::Ok().json(value))
}

/// Query of `GET /api/v1/me/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    program_id: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    bucket: Option<String>,
}

/// `GET /api/v1/me/stats?period=7d|30d|90d|12m` or `?from&to`, `&program_id&bucket`:
/// clicks, referrals, conversions and earnings per currency over the period (the last 30
/// days by default), with a series for a chart.
#[utoipa::path(
    get,
    path = "/api/v1/me/stats",
    tag = "me",
    params(StatsQuery),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn stats(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<StatsQuery>,
) -> AppResult<HttpResponse> {
    let period = Period::parse(
        opt(&q.period),
        opt(&q.from),
        opt(&q.to),
        opt(&q.bucket),
        db::now_ms(),
    )?;
    let stats = affiliate_stats::for_period(
        &state.db,
        &me.vendor_id,
        &me.affiliate_id,
        opt(&q.program_id),
        &period,
    )
    .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// `GET /api/v1/me/balance`: pending / available / in payout / paid per currency, from
/// the ledger.
#[utoipa::path(
    get,
    path = "/api/v1/me/balance",
    tag = "me",
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn balance(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let data = ledger::balances(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// Query of the paged `/me` lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MeListQuery {
    status: Option<String>,
    program_id: Option<String>,
    currency: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// The query `GET /api/v1/me/payouts` documents: `MeListQuery` without `program_id`
/// (payouts are not filtered by program; the server says so with a 422).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only describes the query in the OpenAPI document
pub struct MePayoutsQuery {
    #[param(pattern = "^(|pending|processing|paid|failed)$")]
    status: Option<String>,
    currency: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// The query `GET /api/v1/me/commissions` documents: `MeListQuery` without `currency`
/// (commissions are filtered by program; the server says so with a 422).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only describes the query in the OpenAPI document
pub struct MeCommissionsQuery {
    #[param(pattern = "^(|pending|available|paid|rejected|reversed)$")]
    status: Option<String>,
    program_id: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

impl MeListQuery {
    fn page(&self) -> AppResult<crate::http::pagination::Page> {
        PageQuery {
            page: self.page,
            per_page: self.per_page,
            limit: self.limit,
        }
        .resolve()
    }
}

/// `GET /api/v1/me/payouts?status&currency`: the affiliate's payouts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/me/payouts",
    tag = "me",
    params(MePayoutsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("affiliate_token" = [])),
)]
pub async fn payouts(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<MeListQuery>,
) -> AppResult<HttpResponse> {
    if q.program_id.is_some() {
        return Err(AppError::invalid(
            "program_id",
            "payouts are not filtered by program",
        ));
    }
    let page = q.page()?;
    let currency = crate::domain::values::Currency::parse_optional("currency", opt(&q.currency))?;
    let filter = db::payouts::Filter {
        vendor_id: &me.vendor_id,
        affiliate_id: Some(&me.affiliate_id),
        run_id: None,
        status: payouts::parse_status(opt(&q.status))?,
        currency: currency.as_deref(),
    };
    let (rows, total) = payouts::list(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(payouts::payout_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/me/commissions?status&program_id`: the affiliate's commissions.
#[utoipa::path(
    get,
    path = "/api/v1/me/commissions",
    tag = "me",
    params(MeCommissionsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("affiliate_token" = [])),
)]
pub async fn commissions(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<MeListQuery>,
) -> AppResult<HttpResponse> {
    if q.currency.is_some() {
        return Err(AppError::invalid(
            "currency",
            "commissions are filtered by program, not currency",
        ));
    }
    let page = q.page()?;
    let filter = db::commissions::Filter {
        vendor_id: &me.vendor_id,
        affiliate_id: Some(&me.affiliate_id),
        program_id: opt(&q.program_id),
        status: conversions::parse_commission_status(opt(&q.status))?,
        conversion_id: None,
    };
    let (rows, total) =
        conversions::commissions(&state.db, &filter, page.per_page, page.offset()).await?;
    // A held sale reads "under review"; which rule held it is the vendor's to know.
    let held = fraud::held_for(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    let data = rows
        .iter()
        .map(|c| {
            let mut j = conversions::commission_json(c);
            j["under_review"] = held.contains(&c.conversion_id).into();
            j
        })
        .collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// Query of `GET /api/v1/me/links`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinksQuery {
    /// Also list archived links (they still redirect); `false` by default.
    include_archived: Option<bool>,
}

/// `GET /api/v1/me/links[?include_archived=true]`: the affiliate's links with their
/// figures (`stats`: clicks, referrals, conversions, commissions), archived ones left out
/// unless asked for.
#[utoipa::path(
    get,
    path = "/api/v1/me/links",
    tag = "me",
    params(LinksQuery),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn links(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<LinksQuery>,
) -> AppResult<HttpResponse> {
    let data = links::list(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        q.include_archived.unwrap_or(false),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// `PATCH /api/v1/me/links/{id}`: changes a link's name, destination or sub-id (its URL
/// stays). Another affiliate's link is 404; a destination off the program's domains 422.
#[utoipa::path(
    patch,
    path = "/api/v1/me/links/{id}",
    tag = "me",
    params(("id" = String, Path, description = "The link id")),
    request_body(content = LinkUpdate, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn update_link(
    me: MeAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<LinkUpdate>,
) -> AppResult<HttpResponse> {
    let link = links::update(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        &id,
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(link))
}

/// `POST /api/v1/me/links/{id}/archive`: hides the link from the list; it keeps
/// redirecting, so published links never break.
#[utoipa::path(
    post,
    path = "/api/v1/me/links/{id}/archive",
    tag = "me",
    params(("id" = String, Path, description = "The link id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn archive_link(
    me: MeAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    archive(&me, &state, &id, true).await
}

/// `POST /api/v1/me/links/{id}/restore`: brings an archived link back into the list.
#[utoipa::path(
    post,
    path = "/api/v1/me/links/{id}/restore",
    tag = "me",
    params(("id" = String, Path, description = "The link id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn restore_link(
    me: MeAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    archive(&me, &state, &id, false).await
}

async fn archive(
    me: &MeAuth,
    state: &AppState,
    id: &str,
    archived: bool,
) -> AppResult<HttpResponse> {
    let link = links::set_archived(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        id,
        archived,
    )
    .await?;
    Ok(HttpResponse::Ok().json(link))
}

/// `POST /api/v1/me/links` → 201 with the link and its URL.
#[utoipa::path(
    post,
    path = "/api/v1/me/links",
    tag = "me",
    request_body(content = LinkInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn create_link(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<LinkInput>,
) -> AppResult<HttpResponse> {
    let link = links::create(
        &state.db,
        &state.sender.base_url,
        &me.vendor_id,
        &me.affiliate_id,
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Created().json(link))
}

/// `GET /api/v1/me/payout-settings`: how the affiliate is paid (their own, unmasked).
#[utoipa::path(
    get,
    path = "/api/v1/me/payout-settings",
    tag = "me",
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn payout_settings(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let value = self_service::payout_settings(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(value))
}

/// `PUT /api/v1/me/payout-settings`: sets how the affiliate is paid (validated per
/// method; confirmed to the affiliate by email).
#[utoipa::path(
    put,
    path = "/api/v1/me/payout-settings",
    tag = "me",
    request_body(content = PayoutInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn set_payout_settings(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<PayoutInput>,
) -> AppResult<HttpResponse> {
    let value = self_service::set_payout_settings(
        &state.db,
        &state.sender,
        &me.vendor_id,
        &me.affiliate_id,
        &body.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(value))
}

/// `GET /api/v1/me/deals?page&per_page`: the affiliate's deals, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/me/deals",
    tag = "me",
    params(PageQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("affiliate_token" = [])),
)]
pub async fn deals(
    me: MeAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let page = q.resolve()?;
    let filter = db::deals::Filter {
        vendor_id: &me.vendor_id,
        status: None,
        affiliate_id: Some(&me.affiliate_id),
    };
    let (data, total) = deals::list(&state.db, &filter, page.limit(), page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/me/deals` → 201 with the pending deal.
#[utoipa::path(
    post,
    path = "/api/v1/me/deals",
    tag = "me",
    request_body(content = DealInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn create_deal(
    me: MeAuth,
    state: web::Data<AppState>,
    body: ApiJson<DealInput>,
) -> AppResult<HttpResponse> {
    let deal = deals::submit(&state.db, &me.vendor_id, &me.affiliate_id, &body.0).await?;
    Ok(HttpResponse::Created().json(deal))
}

//! The money API: billing events, conversions, commissions and the ledger.
//!
//! `POST /api/v1/events` (billing events, seed 000), `GET /api/v1/events[/{id}]`,
//! `POST /api/v1/events/{id}/replay`; `POST|GET /api/v1/conversions` (manual conversions and
//! the list, seed 004), `GET /api/v1/conversions/{id}`, `POST /api/v1/conversions/{id}/approve`
//! and `/reject`; `GET /api/v1/commissions`; `GET /api/v1/ledger`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db;
use crate::domain::earnings::billing::{self, api_event::ApiEvent};
use crate::domain::earnings::conversions::{self, ManualInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::{earnings::ledger, values::Currency};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::opt;
use crate::http::pagination::{List, PageQuery};

/// `POST /api/v1/events` → 201 with what the event produced; 200 with `duplicate: true`
/// when the event id was received before (nothing changes).
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "money",
    request_body(content = ApiEvent, content_type = "application/json"),
    responses(
        (status = 201, description = "The event, stored and processed", body = Object),
        (status = 200, description = "The same event id again: the stored event", body = Object),
    ),
    security(("api_key" = [])),
)]
pub async fn ingest(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<ApiEvent>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let done = billing::api_event::receive(
        &state.db,
        &state.tracker,
        &state.ingest,
        auth.vendor_id(),
        &body.0,
    )
    .await?;
    Ok(if done.duplicate {
        HttpResponse::Ok().json(done)
    } else {
        HttpResponse::Created().json(done)
    })
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    #[param(pattern = "^(|processed|ignored|failed)$")]
    status: Option<String>,
    #[param(pattern = "^(|api|stripe|manual|paddle|lemonsqueezy|polar|chargebee)$")]
    source: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/events?status&source` — the billing event log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "money",
    params(EventsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn events(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<EventsQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = db::billing_events::Filter {
        vendor_id: auth.vendor_id(),
        status: billing::parse_status(opt(&q.status))?,
        source: billing::parse_source(opt(&q.source))?,
    };
    let (rows, total) = billing::list(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(|r| event_json(r, false)).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/events/{id}` — one event with its stored payload.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn event(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let row = billing::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(event_json(&row, true)))
}

/// `POST /api/v1/events/{id}/replay` — processes a failed or ignored event again.
#[utoipa::path(
    post,
    path = "/api/v1/events/{id}/replay",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn replay(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let done = billing::replay(&state.db, &state.tracker, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// `POST /api/v1/conversions` → 201 `{id, commission_cents, ...}`; 409 with `existing_id`
/// for a repeated `external_id`; 404 for an unknown affiliate or code.
#[utoipa::path(
    post,
    path = "/api/v1/conversions",
    tag = "money",
    request_body(content = ManualInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create_conversion(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<ManualInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let (c, commission_cents) = conversions::record_manual(
        &state.db,
        &state.tracker,
        &state.ingest,
        auth.vendor_id(),
        &body.0,
        &auth.actor(),
    )
    .await?;
    let mut out = conversions::get(&state.db, auth.vendor_id(), &c.id).await?;
    out["commission_cents"] = json!(commission_cents);
    Ok(HttpResponse::Created().json(out))
}

/// Query of `GET /api/v1/conversions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversionsQuery {
    affiliate_id: Option<String>,
    customer_id: Option<String>,
    program_id: Option<String>,
    #[param(pattern = "^(|pending|approved|rejected|reversed)$")]
    status: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Seed 004's name for `per_page`.
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/conversions?page&per_page&affiliate_id&program_id&status&customer_id`.
#[utoipa::path(
    get,
    path = "/api/v1/conversions",
    tag = "money",
    params(ConversionsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn conversions_list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ConversionsQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = db::conversions::Filter {
        vendor_id: auth.vendor_id(),
        affiliate_id: opt(&q.affiliate_id),
        program_id: opt(&q.program_id),
        status: conversions::parse_status(opt(&q.status))?,
        customer_id: opt(&q.customer_id),
    };
    let (data, total) = conversions::list(&state.db, &filter, page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/conversions/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/conversions/{id}",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn conversion(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    Ok(HttpResponse::Ok().json(conversions::get(&state.db, auth.vendor_id(), &id).await?))
}

/// `POST /api/v1/conversions/{id}/approve` — its commissions become available now.
#[utoipa::path(
    post,
    path = "/api/v1/conversions/{id}/approve",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn approve(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    conversions::approve(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(conversions::get(&state.db, auth.vendor_id(), &id).await?))
}

/// Body of `POST /api/v1/conversions/{id}/reject` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    reason: Option<String>,
}

/// `POST /api/v1/conversions/{id}/reject` `{reason?}` — its commissions are taken back.
#[utoipa::path(
    post,
    path = "/api/v1/conversions/{id}/reject",
    tag = "money",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<RejectInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn reject(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let input: RejectInput = crate::http::api::json::parse_optional(&body)?;
    conversions::reject(
        &state.db,
        auth.vendor_id(),
        &id,
        input.reason.as_deref(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(conversions::get(&state.db, auth.vendor_id(), &id).await?))
}

/// Query of `GET /api/v1/commissions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CommissionsQuery {
    affiliate_id: Option<String>,
    program_id: Option<String>,
    conversion_id: Option<String>,
    #[param(pattern = "^(|pending|available|paid|rejected|reversed)$")]
    status: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/commissions?affiliate_id&program_id&conversion_id&status`.
#[utoipa::path(
    get,
    path = "/api/v1/commissions",
    tag = "money",
    params(CommissionsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn commissions(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<CommissionsQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let filter = db::commissions::Filter {
        vendor_id: auth.vendor_id(),
        affiliate_id: opt(&q.affiliate_id),
        program_id: opt(&q.program_id),
        status: conversions::parse_commission_status(opt(&q.status))?,
        conversion_id: opt(&q.conversion_id),
    };
    let (rows, total) =
        conversions::commissions(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(conversions::commission_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// Query of `GET /api/v1/ledger`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    affiliate_id: Option<String>,
    currency: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/ledger?affiliate_id&currency` — journal lines, newest first; with an
/// affiliate, its balances per currency too.
#[utoipa::path(
    get,
    path = "/api/v1/ledger",
    tag = "money",
    params(LedgerQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn ledger_list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<LedgerQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let currency = Currency::parse_optional("currency", q.currency.as_deref())?;
    let (limit, offset) = (page.per_page, page.offset());
    let body = match opt(&q.affiliate_id) {
        Some(a) => {
            let st = ledger::statement(
                &state.db,
                auth.vendor_id(),
                a,
                currency.as_deref(),
                limit,
                offset,
            )
            .await?;
            let data = st.entries.iter().map(entry_json).collect();
            let mut body = serde_json::to_value(List::new(data, st.total, page))
                .map_err(|e| AppError::Internal(e.into()))?;
            body["balances"] = json!(st.balances);
            body
        }
        None => {
            let filter = db::ledger::Filter {
                vendor_id: auth.vendor_id(),
                affiliate_id: None,
                currency: currency.as_deref(),
            };
            let (rows, total) = ledger::entries(&state.db, &filter, limit, offset).await?;
            let data = rows.iter().map(entry_json).collect();
            serde_json::to_value(List::new(data, total, page))
                .map_err(|e| AppError::Internal(e.into()))?
        }
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `GET /api/v1/analytics`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    program_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/analytics?program_id&from&to` — totals and the affiliate leaderboard.
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "money",
    params(AnalyticsQuery),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn analytics(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<AnalyticsQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let report = crate::domain::earnings::analytics::report(
        &state.db,
        auth.vendor_id(),
        opt(&q.program_id),
        opt(&q.from),
        opt(&q.to),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// A journal line as API JSON.
pub fn entry_json(e: &db::ledger::EntryRow) -> serde_json::Value {
    json!({
        "id": e.id,
        "txn_id": e.txn_id,
        "kind": e.kind,
        "account": e.account,
        "affiliate_id": e.affiliate_id,
        "amount_cents": e.amount_cents,
        "currency": e.currency,
        "program_id": e.program_id,
        "conversion_id": e.conversion_id,
        "commission_id": e.commission_id,
        "payout_id": e.payout_id,
        "memo": e.memo,
        "created_at": db::rfc3339(e.created_at),
    })
}

/// A stored event as API JSON (payload included only on request: Stripe bodies are large).
pub fn event_json(r: &db::billing_events::BillingEventRow, with_payload: bool) -> Value {
    let mut v = json!({
        "id": r.id,
        "program_id": r.program_id,
        "source": r.source,
        "event_id": r.event_id,
        "type": r.r#type,
        "status": r.status,
        "result": serde_json::from_str::<Value>(&r.result).unwrap_or(Value::Null),
        "conversion_id": r.conversion_id,
        "attempts": r.attempts,
        "occurred_at": db::rfc3339(r.occurred_at),
        "received_at": db::rfc3339(r.received_at),
        "processed_at": db::rfc3339(r.processed_at),
    });
    if with_payload {
        v["payload"] = serde_json::from_str::<Value>(&r.payload)
            .unwrap_or_else(|_| Value::String(r.payload.clone()));
    }
    v
}

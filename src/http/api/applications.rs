//! `/api/v1/applications`: submit, status lookup, list, review (seed 001).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, applications::ApplicationRow};
use crate::domain::partners::applications::{self, ApplicationInput, ReviewInput, Source};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::domain::values::status::ApplicationStatus;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// An application in API responses.
#[derive(Serialize)]
pub struct ApplicationJson {
    id: String,
    program_id: String,
    email: String,
    name: String,
    company: Option<String>,
    website: Option<String>,
    reason: Option<String>,
    status: String,
    rejection_reason: Option<String>,
    affiliate_id: Option<String>,
    source: String,
    reviewed_at: Option<String>,
    created_at: String,
    answers: serde_json::Value,
    group_id: Option<String>,
}

impl From<ApplicationRow> for ApplicationJson {
    fn from(a: ApplicationRow) -> Self {
        let answers = applications::answers_of(&a);
        Self {
            answers,
            group_id: a.group_id,
            id: a.id,
            program_id: a.program_id,
            email: a.email,
            name: a.name,
            company: a.company,
            website: a.website,
            reason: a.reason,
            status: a.status,
            rejection_reason: a.rejection_reason,
            affiliate_id: a.affiliate_id,
            source: a.source,
            reviewed_at: a.reviewed_at.map(db::rfc3339),
            created_at: db::rfc3339(a.created_at),
        }
    }
}

/// `POST /api/v1/applications` → 201 `{id, status, message}`. Takes a write key, or a
/// publishable key from the vendor's site origins (an application form on the vendor's
/// site).
#[utoipa::path(
    post,
    path = "/api/v1/applications",
    tag = "applications",
    request_body(content = ApplicationInput, content_type = "application/json"),
    responses((status = 201, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn submit(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<ApplicationInput>,
) -> AppResult<HttpResponse> {
    auth.require_any(&[Scope::Write, Scope::Publishable])?;
    let vendor = auth.vendor(&state).await?;
    let input = body.into_inner();
    // A publishable key is called from a browser on the vendor's site, by anyone: it
    // answers a known address like a new one (and emails the address instead). The
    // vendor's own backend (a write key) is trusted and still gets its 409.
    let (id, status) = if auth.0.scope == Scope::Publishable {
        let answer =
            applications::submit_public(&state.db, &state.sender, &vendor, &input, Source::Api)
                .await?;
        (answer.id, answer.status)
    } else {
        let done =
            applications::submit(&state.db, &state.sender, &vendor, &input, Source::Api).await?;
        (done.application.id, done.application.status)
    };
    let message = if ApplicationStatus::Approved.is(&status) {
        "Application approved: the applicant has been emailed a sign-in link."
    } else {
        "Application received: it will be reviewed."
    };
    Ok(HttpResponse::Created().json(json!({"id": id, "status": status, "message": message})))
}

/// Query of the status lookup.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    #[param(required = true)]
    email: Option<String>,
    program_id: Option<String>,
}

/// `GET /api/v1/applications/status?email=` → `{applied, status, rejection_reason}`.
#[utoipa::path(
    get,
    path = "/api/v1/applications/status",
    tag = "applications",
    params(StatusQuery),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn status(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<StatusQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let email = q
        .email
        .as_deref()
        .ok_or_else(|| AppError::invalid("email", "email is required"))?;
    match applications::status_of(&state.db, auth.vendor_id(), email, q.program_id.as_deref())
        .await?
    {
        Some(a) => Ok(HttpResponse::Ok().json(json!({
            "applied": true, "id": a.id, "status": a.status, "rejection_reason": a.rejection_reason
        }))),
        None => Ok(HttpResponse::Ok()
            .json(json!({"applied": false, "status": null, "rejection_reason": null}))),
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
    #[param(pattern = "^(|pending|approved|rejected)$")]
    status: Option<String>,
}

/// `GET /api/v1/applications?status=&page=&per_page=`: pending first (oldest first).
#[utoipa::path(
    get,
    path = "/api/v1/applications",
    tag = "applications",
    params(ListQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let status = applications::parse_status(q.status.as_deref())?;
    let (rows, total) = applications::list(
        &state.db,
        auth.vendor_id(),
        status,
        page.per_page,
        page.offset(),
    )
    .await?;
    let data = rows.into_iter().map(ApplicationJson::from).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/applications/{id}/review` `{action, code?, rejection_reason?}`.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/review",
    tag = "applications",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = crate::domain::partners::applications::ReviewInput, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn review(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ReviewInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let vendor = auth.vendor(&state).await?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let a = applications::review(
        &state.db,
        &state.sender,
        &vendor,
        &id,
        &body.into_inner(),
        &actor,
    )
    .await?;
    Ok(HttpResponse::Ok().json(reviewed_json(&state, &vendor.id, a).await?))
}

/// A reviewed application as the API (and the MCP tool) answers it: the application and,
/// once approved, its affiliate's id, code and customer id.
pub async fn reviewed_json(
    state: &AppState,
    vendor_id: &str,
    a: ApplicationRow,
) -> AppResult<serde_json::Value> {
    let mut body =
        serde_json::to_value(ApplicationJson::from(a.clone())).map_err(anyhow::Error::from)?;
    if let Some(affiliate_id) = &a.affiliate_id {
        let affiliate =
            crate::domain::partners::affiliates::get(&state.db, vendor_id, affiliate_id).await?;
        let code = affiliate
            .enrollments
            .iter()
            .find(|e| e.program_id == a.program_id)
            .map(|e| e.code.clone());
        body["affiliate"] =
            json!({"id": affiliate.row.id, "code": code, "customer_id": affiliate.row.customer_id});
    }
    Ok(body)
}

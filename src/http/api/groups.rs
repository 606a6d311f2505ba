//! Partner groups: `/api/v1/programs/{id}/groups` (list, create), `/api/v1/groups/{id}`
//! (show, update), promotion rules (`/api/v1/programs/{id}/group-rules`,
//! `/api/v1/group-rules/{id}`), moving an affiliate (`PUT /api/v1/affiliates/{id}/group`)
//! and the affiliate's own view (`GET /api/v1/me/groups`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::db;
use crate::domain::partners::groups::{
    self, Group, GroupInput, moves,
    promotion::{self, RuleInput},
};
use crate::domain::partners::terms::Commission;
use crate::domain::tenancy::api_keys::Scope;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::api::me::MeAuth;
use crate::http::pagination::{List, PageQuery};

/// A group in API responses.
#[derive(Debug, Serialize)]
pub struct GroupJson {
    id: String,
    program_id: String,
    name: String,
    description: String,
    is_default: bool,
    commission: Commission,
    terms_version: i64,
    holding_period_days: Option<i64>,
    min_payout_cents: Option<i64>,
    landing_url: Option<String>,
    application_fields: Vec<groups::fields::ApplicationField>,
    members: i64,
    created_at: String,
    updated_at: String,
}

impl From<Group> for GroupJson {
    fn from(g: Group) -> Self {
        let application_fields = g.application_fields();
        let r = g.row;
        Self {
            id: r.id,
            program_id: r.program_id,
            name: r.name,
            description: r.description,
            is_default: r.is_default == 1,
            commission: g.commission,
            terms_version: r.terms_version,
            holding_period_days: r.holding_period_days,
            min_payout_cents: r.min_payout_cents,
            landing_url: r.landing_url,
            application_fields,
            members: r.members,
            created_at: db::rfc3339(r.created_at),
            updated_at: db::rfc3339(r.updated_at),
        }
    }
}

/// `GET /api/v1/programs/{id}/groups`: the program's groups, the default one first.
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/groups",
    tag = "programs",
    params(("id" = String, Path, description = "The object id"), PageQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: crate::http::extract::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = query.resolve()?;
    let all = groups::list(&state.db, auth.vendor_id(), &id).await?;
    let total = all.len() as i64;
    let data = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit()).unwrap_or(0))
        .map(GroupJson::from)
        .collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `POST /api/v1/programs/{id}/groups` → 201 with the group.
#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/groups",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = GroupInput, content_type = "application/json"),
    responses((status = 201, description = "The group", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<GroupInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let g = groups::create(&state.db, auth.vendor_id(), &id, &body.0, &auth.actor()).await?;
    Ok(HttpResponse::Created().json(GroupJson::from(g)))
}

/// `GET /api/v1/groups/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/groups/{id}",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "The group", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let g = groups::get(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(GroupJson::from(g)))
}

/// `PATCH /api/v1/groups/{id}`: new terms become the group's next version.
#[utoipa::path(
    patch,
    path = "/api/v1/groups/{id}",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = GroupInput, content_type = "application/json"),
    responses((status = 200, description = "The group", body = Object)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<GroupInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let g = groups::update(&state.db, auth.vendor_id(), &id, &body.0, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(GroupJson::from(g)))
}

/// `GET /api/v1/programs/{id}/group-rules`: the promotion rules, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/group-rules",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "The rules", body = Object)),
    security(("api_key" = [])),
)]
pub async fn rules(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let rules = promotion::list(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": rules })))
}

/// `POST /api/v1/programs/{id}/group-rules` → 201 with the rule.
#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/group-rules",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = RuleInput, content_type = "application/json"),
    responses((status = 201, description = "The rule", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create_rule(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<RuleInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let rule = promotion::create(&state.db, auth.vendor_id(), &id, &body.0, &auth.actor()).await?;
    Ok(HttpResponse::Created().json(rule))
}

/// `DELETE /api/v1/group-rules/{id}` → 204 (affiliates stay in their groups).
#[utoipa::path(
    delete,
    path = "/api/v1/group-rules/{id}",
    tag = "programs",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = [])),
)]
pub async fn delete_rule(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    promotion::delete(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `PUT /api/v1/affiliates/{id}/group`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMove {
    /// The group to move the affiliate into (it names the program).
    #[schema(min_length = 1, max_length = 100)]
    pub group_id: String,
}

/// `PUT /api/v1/affiliates/{id}/group`: moves the affiliate into a group of one of its
/// programs → `{affiliate_id, program_id, group_id, moved}` (`moved` false: it was there).
#[utoipa::path(
    put,
    path = "/api/v1/affiliates/{id}/group",
    tag = "affiliates",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = GroupMove, content_type = "application/json"),
    responses((status = 200, description = "Where the affiliate is now", body = Object)),
    security(("api_key" = [])),
)]
pub async fn move_affiliate(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<GroupMove>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let group_id = body.0.group_id.trim();
    if group_id.is_empty() {
        return Err(AppError::invalid("group_id", "group_id is required"));
    }
    let moved =
        moves::move_by_hand(&state.db, auth.vendor_id(), &id, group_id, &auth.actor()).await?;
    let group = groups::get(&state.db, auth.vendor_id(), group_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "affiliate_id": id.as_str(),
        "program_id": group.row.program_id,
        "group_id": group.row.id,
        "group_name": group.row.name,
        "moved": moved,
    })))
}

/// `GET /api/v1/me/groups`: the calling affiliate's group in each of its programs and what
/// the next group needs.
#[utoipa::path(
    get,
    path = "/api/v1/me/groups",
    tag = "me",
    responses((status = 200, description = "The affiliate's groups", body = Object)),
    security(("affiliate_token" = [])),
)]
pub async fn mine(me: MeAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let standings =
        groups::standing::of_affiliate(&state.db, &me.vendor_id, &me.affiliate_id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": standings })))
}

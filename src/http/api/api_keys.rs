//! `/api/v1/api-keys` (full scope): list, create (the key shown once), revoke.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::tenancy::api_keys::{self, Scope};
use crate::domain::tenancy::audit::Actor;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// Query of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page.
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Alias of `per_page`.
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/api-keys?page=&per_page=`: every key, newest first, revoked ones with
/// their `revoked_at`.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "api_keys_list",
    tag = "api-keys",
    params(ListQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let (data, total) =
        api_keys::list(&state.db, auth.vendor_id(), page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// Body of `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// A label to recognise the key by (at most 120 characters).
    #[schema(max_length = 120)]
    name: String,
    /// `read`, `write`, `full` or `publishable`.
    #[schema(pattern = "^(read|write|full|publishable)$")]
    scope: String,
}

/// `POST /api/v1/api-keys` `{name, scope}` → 201 with the key's fields and `key`, the key
/// itself, shown this once (publishable keys can be shown again).
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    operation_id = "api_keys_create",
    tag = "api-keys",
    request_body(content = CreateBody, content_type = "application/json"),
    responses((status = 201, description = "The key's fields and `key`, the key itself (shown once)", body = Object)),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<CreateBody>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let body = body.into_inner();
    let scope = Scope::parse(&body.scope)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let created = api_keys::create(&state.db, auth.vendor_id(), &body.name, scope, &actor).await?;
    let mut view = api_keys::get(&state.db, auth.vendor_id(), &created.id).await?;
    view.key = Some(created.key);
    Ok(HttpResponse::Created().json(view))
}

/// `DELETE /api/v1/api-keys/{id}` → 200 with the revoked key. Another vendor's key is 404;
/// the key making the call may revoke itself (its next call is a 401).
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    operation_id = "api_keys_revoke",
    tag = "api-keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "The revoked key", body = Object)),
    security(("api_key" = [])),
)]
pub async fn revoke(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let view = api_keys::revoke(&state.db, auth.vendor_id(), &id, &actor).await?;
    Ok(HttpResponse::Ok().json(view))
}

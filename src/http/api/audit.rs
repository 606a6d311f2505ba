//! `GET /api/v1/audit-log`: the vendor's audit trail, newest first.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::domain::tenancy::api_keys::Scope;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::pagination::{List, PageQuery};

#[derive(Serialize)]
struct EntryJson {
    id: String,
    actor_type: String,
    actor_id: Option<String>,
    action: String,
    object_type: String,
    object_id: Option<String>,
    details: serde_json::Value,
    created_at: String,
}

/// Lists one page of audit entries.
#[utoipa::path(
    get,
    path = "/api/v1/audit-log",
    tag = "audit",
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
    let vendor_id = auth.vendor_id();
    let total = db::audit::count(state.db.pool(), vendor_id).await?;
    let rows = db::audit::page(state.db.pool(), vendor_id, page.per_page, page.offset()).await?;
    let data = rows
        .into_iter()
        .map(|r| EntryJson {
            id: r.id,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            details: serde_json::from_str(&r.details).unwrap_or_default(),
            created_at: db::rfc3339(r.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

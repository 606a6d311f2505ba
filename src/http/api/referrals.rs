//! `/api/v1/referrals`: bind referred customers, list and show bindings.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::referrals::Filter;
use crate::domain::attribution::referrals::{self, Outcome, ReferralInput};
use crate::domain::tenancy::api_keys::Scope;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::ApiJson;
use crate::http::pagination::{List, PageQuery};

/// `POST /api/v1/referrals` → 201 with a new binding, 200 otherwise (also when nothing was
/// attributed: `attributed: false` and the reason).
#[utoipa::path(
    post,
    path = "/api/v1/referrals",
    tag = "referrals",
    request_body(content = ReferralInput, content_type = "application/json"),
    responses(
        (status = 201, description = "A new referral", body = Object),
        (status = 200, description = "The customer was already referred: the existing referral", body = Object),
    ),
    security(("api_key" = [])),
)]
pub async fn create(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<ReferralInput>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let result = referrals::bind(&state.tracker, &state.db, auth.vendor_id(), &body.0).await?;
    Ok(if result.outcome == Outcome::Created {
        HttpResponse::Created().json(result)
    } else {
        HttpResponse::Ok().json(result)
    })
}

/// Query of `GET /api/v1/referrals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    affiliate_id: Option<String>,
    program_id: Option<String>,
    customer_id: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// A filter parameter, unless empty.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// `GET /api/v1/referrals?affiliate_id&program_id&customer_id&page&per_page`.
#[utoipa::path(
    get,
    path = "/api/v1/referrals",
    tag = "referrals",
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
    let filter = Filter {
        vendor_id: auth.vendor_id(),
        affiliate_id: given(&q.affiliate_id),
        program_id: given(&q.program_id),
        customer_id: given(&q.customer_id),
    };
    let (data, total) = referrals::list(&state.db, &filter, page.per_page, page.offset()).await?;
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/referrals/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}",
    tag = "referrals",
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
    Ok(HttpResponse::Ok().json(referrals::get(&state.db, auth.vendor_id(), &id).await?))
}

//! The OpenAPI 3.1 document of `/api/v1` (`GET /api/openapi.json`) and its Swagger UI
//! (`/api/docs/`, served from the vendored bundle: no CDN).
//!
//! Each handler carries its own `#[utoipa::path]` (path, parameters, body, success
//! response, security); [`ApiDoc`] lists them. What every operation shares is added here
//! once, by [`CommonResponses`]: the error responses with the envelope schema, the
//! `X-RateLimit-*` headers on every response and `Retry-After` on 429. A route added to
//! [`crate::http::api::scope`] without a `#[utoipa::path]` listed here fails the test
//! `openapi::every_route_is_documented` (tests/api/openapi.rs).
//!
//! The same document is the API's route table for the 405 fallback: [`allowed_methods`].

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::http::api;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (with a trailing slash; the bare path redirects here).
pub const DOCS_PATH: &str = "/api/docs/";

/// The document: every `/api/v1` operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Affilia API",
        description = "The JSON API of Affilia. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`; \
lists are `{data, total, page, per_page}` (`?page=&per_page=`, at most 100 a page); money is \
`amount_cents` + `currency`; times are RFC 3339 UTC."
    ),
    paths(
        api::vendor::show,
        api::vendor::update,
        api::vendor::put_logo,
        api::vendor::delete_logo,
        api::audit::list,
        api::affiliates::list,
        api::affiliates::create,
        api::affiliates::by_customer,
        api::affiliates::show,
        api::affiliates::update,
        api::affiliates::delete,
        api::affiliates::invite,
        api::affiliate_access::token,
        api::affiliate_access::portal_link,
        api::affiliate_access::embed_token,
        api::tracking::track,
        api::tracking::track_preflight,
        api::tracking::list,
        api::referrals::create,
        api::referrals::list,
        api::referrals::show,
        api::deals::list,
        api::deals::show,
        api::deals::review,
        api::me::profile,
        api::me::programs,
        api::me::referral,
        api::me::stats,
        api::me::balance,
        api::me::payouts,
        api::me::commissions,
        api::me::payout_settings,
        api::me::set_payout_settings,
        api::me::links,
        api::me::create_link,
        api::me::deals,
        api::me::create_deal,
        api::applications::list,
        api::applications::submit,
        api::applications::status,
        api::applications::review,
        api::money::ingest,
        api::money::events,
        api::money::event,
        api::money::replay,
        api::money::create_conversion,
        api::money::conversions_list,
        api::money::conversion,
        api::money::approve,
        api::money::reject,
        api::money::commissions,
        api::money::ledger_list,
        api::money::analytics,
        api::payouts::run,
        api::payouts::list,
        api::payouts::export,
        api::payouts::show,
        api::payouts::mark_paid,
        api::payouts::mark_failed,
        api::payouts::mark_processing,
        api::payouts::send,
        api::payouts::runs,
        api::payouts::run_show,
        api::payouts::run_processing,
        api::payouts::run_paid,
        api::payouts::run_send,
        api::programs::list,
        api::programs::create,
        api::programs::show,
        api::programs::update,
        api::programs::migrate
    ),
    components(schemas(ErrorEnvelope, ErrorBody, ListPage)),
    modifiers(&SecuritySchemes, &CommonResponses),
    tags(
        (name = "vendor", description = "The vendor of the API key: branding, domains, logo"),
        (name = "audit", description = "Who did what"),
        (name = "affiliates", description = "Affiliates, their invitations and access tokens"),
        (name = "tracking", description = "Clicks"),
        (name = "referrals", description = "Referred customers"),
        (name = "deals", description = "Leads registered by affiliates"),
        (name = "me", description = "An affiliate's self-service (affiliate tokens)"),
        (name = "applications", description = "Applications to join a program"),
        (name = "money", description = "Billing events, conversions, commissions, ledger, analytics"),
        (name = "payouts", description = "Payouts and payout runs"),
        (name = "programs", description = "Programs and their commission terms"),
    )
)]
pub struct ApiDoc;

/// The error envelope of every failed API request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The body of [`ErrorEnvelope`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `duplicate`, `invalid_state`, `invalid`, `rate_limited`, ...
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault, when there is one (`commission.bps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On a 409 `duplicate` of an idempotency key: the existing object's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

/// The list envelope (`crate::http::pagination::List`); items are described by each route.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListPage {
    /// The items of this page.
    pub data: Vec<serde_json::Value>,
    /// Items across all pages.
    pub total: i64,
    /// This page's number (1-based).
    pub page: i64,
    /// Page size used.
    pub per_page: i64,
    /// Some lists add a summary of the whole selection (clicks per day, totals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<serde_json::Value>,
}

/// Name of the API-key scheme (the vendor's backend).
pub const API_KEY: &str = "api_key";
/// Name of the affiliate-token scheme (`/api/v1/me`).
pub const AFFILIATE_TOKEN: &str = "affiliate_token";
/// Name of the kernel's JWT scheme (an embedded integration's HS256 JWT).
pub const KERNEL_JWT: &str = "kernel_jwt";

/// Declares the three bearer credentials of the API.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, description: &str| {
            let mut http = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format(format)
                .build();
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            API_KEY,
            bearer(
                "API key",
                "A vendor API key (`Authorization: Bearer <key>`) with read, write or full scope.",
            ),
        );
        components.add_security_scheme(
            AFFILIATE_TOKEN,
            bearer(
                "afft_ / afpt_ token",
                "An affiliate's signed access or embed token (`afft_...`) or personal token \
                 (`afpt_...`); never an API key.",
            ),
        );
        components.add_security_scheme(
            KERNEL_JWT,
            bearer(
                "JWT",
                "An HS256 JWT signed with a consumer's secret: `iss` = consumer name, \
                 `aud` = `affilia`, `exp` at most 1 h ahead.",
            ),
        );
    }
}

/// The error responses every operation can end in, and the rate-limit headers of every
/// response: added here once so a new route gets them without repeating them.
struct CommonResponses;

/// Error statuses and when they apply.
const ERRORS: &[(u16, &str)] = &[
    (
        400,
        "Malformed request: unparsable JSON, a wrong type or an unknown parameter",
    ),
    (401, "Missing, wrong or revoked credentials"),
    (403, "The credential's scope does not allow this"),
    (404, "No such object for this vendor"),
    (
        405,
        "The path exists but not with this method; `Allow` lists the methods",
    ),
    (409, "A duplicate, or the object is in the wrong state"),
    (
        422,
        "A well-formed but invalid field (named in `error.field`)",
    ),
    (429, "Too many requests; retry after `Retry-After` seconds"),
];

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let int_header = |description: &str| {
            let mut h = HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .build();
            h.description = Some(description.to_owned());
            RefOr::T(h)
        };
        let rate_headers = [
            (
                "X-RateLimit-Limit",
                "Requests allowed in the current window for this key and kind (read or write)",
            ),
            (
                "X-RateLimit-Remaining",
                "Requests left in the current window",
            ),
            (
                "X-RateLimit-Reset",
                "When the window resets, in unix seconds",
            ),
        ];
        for (name, description) in rate_headers {
            components
                .headers
                .insert(name.to_owned(), int_header(description));
        }
        components.headers.insert(
            "Retry-After".to_owned(),
            int_header("Seconds to wait before retrying"),
        );
        components.headers.insert("Allow".to_owned(), {
            let mut h = HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build();
            h.description = Some("The methods this path supports".to_owned());
            RefOr::T(h)
        });
        for (status, description) in ERRORS {
            let mut response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                        .build(),
                )
                .build();
            if *status == 429 {
                response.headers.insert(
                    "Retry-After".to_owned(),
                    RefOr::Ref(Ref::new("#/components/headers/Retry-After")),
                );
            }
            if *status == 405 {
                response.headers.insert(
                    "Allow".to_owned(),
                    RefOr::Ref(Ref::new("#/components/headers/Allow")),
                );
            }
            components
                .responses
                .insert(error_response_name(*status), RefOr::T(response));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                add_errors(path, method, op);
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        for (name, _) in rate_headers {
                            r.headers.insert(
                                name.to_owned(),
                                RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
                            );
                        }
                    }
                }
            }
        }
    }
}

fn error_response_name(status: u16) -> String {
    format!("Error{status}")
}

/// Which errors apply to one operation: every operation can be malformed (400), refused
/// (401/403) or throttled (429); 404 where an object is named; 409 and 422 where something
/// is written or filtered.
fn add_errors(path: &str, method: HttpMethod, op: &mut Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
    let names_object = path.contains('{') || path.starts_with("/api/v1/vendor");
    let writes = !matches!(
        method,
        HttpMethod::Get | HttpMethod::Options | HttpMethod::Head
    );
    let with_query = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    for (status, _) in ERRORS {
        let applies = match status {
            401 | 403 => !public,
            404 => names_object,
            409 => writes,
            422 => writes || with_query,
            _ => true,
        };
        if applies {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| {
                    RefOr::Ref(Ref::new(format!(
                        "#/components/responses/{}",
                        error_response_name(*status)
                    )))
                });
        }
    }
}

/// The operations of a path item with their methods.
fn operations_mut(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Options, item.options.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// The API's paths as actix patterns with the methods each supports, built once.
fn route_table() -> &'static [(ResourceDef, Vec<&'static str>)] {
    static TABLE: OnceLock<Vec<(ResourceDef, Vec<&'static str>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("OPTIONS", item.options.is_some()),
                    ("HEAD", item.head.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect()
    })
}

/// The methods `/api/v1` supports at `path`; empty when no route has that path. Several
/// patterns can match one path (`/payouts/run` and `/payouts/{id}`): their methods add up.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = route_table()
        .iter()
        .filter(|(def, _)| def.is_match(path))
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// The document and Swagger UI.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/docs",
        web::get().to(|| async {
            HttpResponse::Found()
                .insert_header((actix_web::http::header::LOCATION, DOCS_PATH))
                .finish()
        }),
    )
    .service(SwaggerUi::new("/api/docs/{_:.*}").url(DOCUMENT_PATH, document().clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_of_overlapping_patterns_add_up() {
        assert_eq!(allowed_methods("/api/v1/payouts/run"), vec!["GET", "POST"]);
        assert_eq!(allowed_methods("/api/v1/affiliates"), vec!["GET", "POST"]);
        assert!(allowed_methods("/api/v1/nothing").is_empty());
    }
}

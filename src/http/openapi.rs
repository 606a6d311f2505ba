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
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
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
        api::vendor::verify_domain,
        api::vendor::delete_logo,
        api::audit::list,
        api::affiliates::list,
        api::affiliates::create,
        api::affiliates::by_customer,
        api::affiliates::show,
        api::affiliates::update,
        api::affiliates::delete,
        api::affiliates::invite,
        api::affiliates::change_code,
        api::promo_codes::list,
        api::promo_codes::create,
        api::promo_codes::show,
        api::promo_codes::update,
        api::promo_codes::delete,
        api::promo_codes::mine,
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
        api::fraud::list,
        api::fraud::show,
        api::fraud::approve,
        api::fraud::reject,
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
        api::me::update_link,
        api::me::archive_link,
        api::me::restore_link,
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
        api::bonuses::create,
        api::bonuses::list,
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
        api::programs::migrate,
        api::webhooks::list,
        api::webhooks::create,
        api::webhooks::show,
        api::webhooks::update,
        api::webhooks::delete,
        api::webhooks::deliveries,
        api::webhooks::test,
        api::webhooks::redeliver,
        api::api_keys::list,
        api::api_keys::create,
        api::api_keys::revoke,
        api::consumers::list,
        api::consumers::create,
        api::consumers::show,
        api::consumers::update,
        api::consumers::rotate_secret,
        api::kernel::provision,
        api::kernel::events,
        api::tracking::applications_preflight,
        api::accounting::journal,
        api::accounting::paid_totals,
        api::accounting::affiliate_tax_details,
        api::accounting::set_affiliate_tax_details,
        api::accounting::my_tax_details,
        api::accounting::set_my_tax_details,
        api::accounting::backtest,
        api::groups::list,
        api::groups::create,
        api::groups::show,
        api::groups::update,
        api::groups::rules,
        api::groups::create_rule,
        api::groups::delete_rule,
        api::groups::move_affiliate,
        api::groups::mine
    ),
    components(schemas(
        ErrorEnvelope,
        ErrorBody,
        ListPage,
        crate::domain::tenancy::webhooks::catalogue::EventTypeSchema
    )),
    modifiers(
        &SecuritySchemes,
        &CommonResponses,
        &BodyVariants,
        &FieldRules,
        &NoNulInText,
        &UniqueOperationIds
    ),
    tags(
        (name = "vendor", description = "The vendor of the API key: branding, domains, logo"),
        (name = "audit", description = "Who did what"),
        (name = "affiliates", description = "Affiliates, their invitations and access tokens"),
        (name = "promo-codes", description = "Affiliates' promotion codes: a sale naming one is attributed without a click"),
        (name = "tracking", description = "Clicks"),
        (name = "referrals", description = "Referred customers"),
        (name = "deals", description = "Leads registered by affiliates"),
        (name = "fraud", description = "The fraud review queue: sales a program's fraud rules flagged, held or rejected"),
        (name = "me", description = "An affiliate's self-service (affiliate tokens)"),
        (name = "applications", description = "Applications to join a program"),
        (name = "money", description = "Billing events, conversions, commissions, ledger, analytics"),
        (name = "payouts", description = "Payouts and payout runs"),
        (name = "programs", description = "Programs and their commission terms"),
        (name = "accounting", description = "The ledger as journal entries, and yearly paid totals with tax details"),
        (name = "webhooks", description = "Outbound webhook endpoints and their delivery log (full-scope keys)"),
        (name = "api-keys", description = "The vendor's API keys (full scope)"),
        (name = "consumers", description = "Kernel consumers: embedded integrations that sign HS256 JWTs (full scope)"),
        (name = "kernel", description = "The kernel surface, called by consumers with their JWTs (`kernel_jwt`)"),
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
    (
        408,
        "The request body did not arrive in full within the body timeout (`request_timeout`)",
    ),
    (409, "A duplicate, or the object is in the wrong state"),
    (
        413,
        "The request body is larger than the route accepts (`payload_too_large`)",
    ),
    (
        414,
        "The query string is longer than 8 KiB (`uri_too_long`)",
    ),
    (
        422,
        "A well-formed but invalid field (named in `error.field`)",
    ),
    (429, "Too many requests; retry after `Retry-After` seconds"),
    (
        503,
        "The database is busy (`busy`); nothing was changed, retry after `Retry-After` seconds",
    ),
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
            if *status == 429 || *status == 503 {
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
/// (401/403), throttled (429) or have too long a query (414); 404 where an object is named;
/// 409 and 422 where something is written or filtered; 408 and 413 where a body is read.
fn add_errors(path: &str, method: HttpMethod, op: &mut Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
    let with_query = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    // A filter naming another vendor's (or no) affiliate is a 404 as well.
    let names_object = path.contains('{') || path.starts_with("/api/v1/vendor") || with_query;
    let writes = !matches!(
        method,
        HttpMethod::Get | HttpMethod::Options | HttpMethod::Head
    );
    // The body limits (size, arrival time) apply to every route that reads one; the query
    // limit to every route.
    let has_body = op.request_body.is_some();
    for (status, _) in ERRORS {
        let applies = match status {
            408 | 413 => has_body,
            401 | 403 => !public,
            // Bodies name objects too (`program_id`, `affiliate_id`).
            404 => names_object || writes,
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

/// utoipa names an operation after its handler function, and several modules have a `list`
/// or a `create`; OpenAPI requires operation ids to be unique (client generators name
/// methods after them). An id used more than once becomes `<method>_<path>` on every
/// operation carrying it, e.g. `get_api_v1_affiliates_id`; explicit unique ids stay.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for item in doc.paths.paths.values_mut() {
            for (_, op) in operations_mut(item) {
                if let Some(id) = &op.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                let shared = op
                    .operation_id
                    .as_ref()
                    .is_none_or(|id| seen.get(id).is_some_and(|n| *n > 1));
                if shared {
                    let method = match method {
                        HttpMethod::Get => "get",
                        HttpMethod::Put => "put",
                        HttpMethod::Post => "post",
                        HttpMethod::Delete => "delete",
                        HttpMethod::Options => "options",
                        HttpMethod::Head => "head",
                        HttpMethod::Patch => "patch",
                        HttpMethod::Trace => "trace",
                    };
                    let slug: String = path
                        .trim_matches('/')
                        .chars()
                        .filter(|c| !matches!(c, '{' | '}'))
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    op.operation_id = Some(format!("{method}_{slug}"));
                }
            }
        }
    }
}

/// Where one input type serves two operations with different rules (create and update),
/// each operation gets its own copy of the schema with the fields it requires and without
/// the fields it refuses.
struct BodyVariants;

/// (method, path, schema, variant name, required fields, refused fields).
type Variant = (
    HttpMethod,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const VARIANTS: &[Variant] = &[
    (
        HttpMethod::Post,
        "/api/v1/affiliates",
        "AffiliateInput",
        "AffiliateCreate",
        &["email"],
        &["status"],
    ),
    (
        HttpMethod::Patch,
        "/api/v1/affiliates/{id}",
        "AffiliateInput",
        "AffiliateUpdate",
        &[],
        &["code", "program_id", "send_invite"],
    ),
    (
        HttpMethod::Post,
        "/api/v1/programs",
        "ProgramInput",
        "ProgramCreate",
        &["name"],
        &[],
    ),
    (
        HttpMethod::Post,
        "/api/v1/programs/{id}/groups",
        "GroupInput",
        "GroupCreate",
        &["name"],
        &[],
    ),
    (
        HttpMethod::Post,
        "/api/v1/applications",
        "ApplicationInput",
        "ApplicationCreate",
        &["email", "name"],
        &[],
    ),
    (
        HttpMethod::Post,
        "/api/v1/payouts/{id}/mark-failed",
        "FailedInput",
        "FailedInput",
        &["reason"],
        &[],
    ),
];

impl Modify for BodyVariants {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for (method, path, schema, variant, required, refused) in VARIANTS {
            let Some(RefOr::T(Schema::Object(base))) = components.schemas.get(*schema).cloned()
            else {
                continue;
            };
            let mut copy = base;
            for field in *refused {
                copy.properties.remove(*field);
            }
            for field in *required {
                if !copy.required.iter().any(|r| r == field) {
                    copy.required.push((*field).to_owned());
                }
                // A required field is not null either.
                if let Some(RefOr::T(Schema::Object(p))) = copy.properties.get_mut(*field)
                    && let SchemaType::Array(types) = &p.schema_type
                {
                    let types: Vec<Type> = types
                        .iter()
                        .filter(|t| **t != Type::Null)
                        .cloned()
                        .collect();
                    p.schema_type = match types.as_slice() {
                        [one] => SchemaType::Type(one.clone()),
                        _ => SchemaType::Array(types),
                    };
                }
            }
            components
                .schemas
                .insert((*variant).to_owned(), RefOr::T(Schema::Object(copy)));
            let Some(item) = doc.paths.paths.get_mut(*path) else {
                continue;
            };
            for (m, op) in operations_mut(item) {
                if m != *method {
                    continue;
                }
                if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                    // The body is required once a field in it is.
                    if !required.is_empty() {
                        body.required = Some(utoipa::openapi::Required::True);
                    }
                    for content in body.content.values_mut() {
                        if let RefOr::T(content) = content {
                            content.schema = Some(RefOr::Ref(Ref::from_schema_name(*variant)));
                        }
                    }
                }
            }
        }
    }
}

/// Rules that follow from a field's name wherever it appears in a request body: currencies
/// are ISO 4217 codes, emails are emails, URLs are absolute http(s) URLs, and text is one line
/// without control characters (`domain::values::text`), not blank where it is required.
struct FieldRules;

/// Single-line text.
const ONE_LINE: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";
/// Single-line text with at least one visible character.
const ONE_LINE_NOT_BLANK: &str =
    "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$";
/// A browser origin: scheme, host and optional port.
const HTTP_ORIGIN: &str = "^https?://[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*\\.[a-z]{2,10}(:[1-9][0-9]{0,3})?$";
/// A host name with at least two labels.
const HOST_NAME: &str =
    "^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*\\.[a-z]{2,10}$";
/// An absolute http(s) URL.
const HTTP_URL: &str = "^https?://[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*\\.[a-z]{2,10}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$";

/// A Stripe secret or restricted key (`partners::programs`); blank removes it.
const STRIPE_SECRET_KEY: &str =
    "^[ \\t\\r\\n]*((sk|rk)_(live|test)_[A-Za-z0-9_]{0,240})?[ \\t\\r\\n]*$";
/// A Stripe webhook signing secret (`partners::programs`); blank removes it.
const STRIPE_WEBHOOK_SECRET: &str = "^[ \\t\\r\\n]*(whsec_[A-Za-z0-9_]{8,190})?[ \\t\\r\\n]*$";
/// Fields (schema, field) that take several lines of free text (terms, reasons for an
/// application or its review: `partners::applications`, `partners::programs`), so only the
/// length caps and U+0000 apply.
const MULTI_LINE: &[(&str, &str)] = &[
    ("ProgramCreate", "terms_text"),
    ("ProgramInput", "terms_text"),
    ("ApplicationCreate", "reason"),
    ("ApplicationInput", "reason"),
    ("ApplicationReview", "rejection_reason"),
    ("PayoutInput", "payout_details"),
];

impl Modify for FieldRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let currencies: Vec<serde_json::Value> = crate::domain::values::Currency::all_codes()
            .map(|c| serde_json::Value::String(c.to_owned()))
            .collect();
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        let any_json = free_json_schemas();
        if let Some((any, _)) = &any_json {
            components
                .schemas
                .insert("JsonWithoutNul".to_owned(), RefOr::T(any.clone()));
        }
        if let Some(terms) = commission_terms_schema() {
            components
                .schemas
                .insert("CommissionTerms".to_owned(), RefOr::T(terms));
        }
        if let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut("BacktestInput")
            && let Ok(terms) = serde_json::from_value(serde_json::json!({
                "description": "Draft commission terms, the shape of a program's `commission`.",
                "allOf": [{"$ref": "#/components/schemas/CommissionTerms"}]
            }))
        {
            // The backtest's draft terms are commission terms too, and required.
            obj.properties.insert("terms".to_owned(), terms);
            if !obj.required.iter().any(|r| r == "terms") {
                obj.required.push("terms".to_owned());
            }
        }
        for (name, schema) in components.schemas.iter_mut() {
            if let RefOr::T(Schema::Object(obj)) = &mut *schema
                && let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut("commission")
                && let Some(description) = p.description.clone()
                && let Ok(terms) = serde_json::from_value(serde_json::json!({
                    "description": description,
                    "anyOf": [{"$ref": "#/components/schemas/CommissionTerms"}, {"type": "null"}]
                }))
            {
                // Commission terms (`partners::terms`) instead of a free object.
                obj.properties.insert("commission".to_owned(), terms);
            }
            if let (Some((_, free_object)), RefOr::T(Schema::Object(obj))) =
                (&any_json, &mut *schema)
                && let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut("metadata")
            {
                // Free-form JSON, but its keys and strings are text without U+0000 too.
                let nullable =
                    matches!(&p.schema_type, SchemaType::Array(ts) if ts.contains(&Type::Null));
                let mut free = free_object.clone();
                if nullable && let Schema::Object(o) = &mut free {
                    o.schema_type = SchemaType::Array(vec![Type::Object, Type::Null]);
                }
                obj.properties.insert("metadata".to_owned(), RefOr::T(free));
            }
            if ["ErrorEnvelope", "ErrorBody", "ListPage"].contains(&name.as_str()) {
                continue;
            }
            let RefOr::T(Schema::Object(obj)) = schema else {
                continue;
            };
            let required = obj.required.clone();
            for (field, prop) in obj.properties.iter_mut() {
                // Lists of browser origins and of host names.
                let item_pattern = if field.ends_with("_origins") {
                    Some(HTTP_ORIGIN)
                } else if field.ends_with("_domains") {
                    Some(HOST_NAME)
                } else {
                    None
                };
                if let (Some(pattern), RefOr::T(Schema::Array(arr))) = (item_pattern, &mut *prop)
                    && let ArrayItems::RefOrSchema(items) = &mut arr.items
                    && let RefOr::T(Schema::Object(item)) = items.as_mut()
                {
                    item.pattern = Some(pattern.to_owned());
                    // A portal domain listed twice is refused (`tenancy::branding`), where
                    // origins and a program's domains are merged.
                    if field == "portal_domains" {
                        arr.unique_items = true;
                    }
                    continue;
                }
                let RefOr::T(Schema::Object(p)) = prop else {
                    continue;
                };
                let is_text = match &p.schema_type {
                    SchemaType::Type(t) => *t == Type::String,
                    SchemaType::Array(ts) => ts.contains(&Type::String),
                    SchemaType::AnyValue => false,
                };
                if !is_text || p.pattern.is_some() || p.enum_values.is_some() || field == "metadata"
                {
                    continue;
                }
                if field == "currency" {
                    let mut values = currencies.clone();
                    if matches!(&p.schema_type, SchemaType::Array(ts) if ts.contains(&Type::Null)) {
                        values.push(serde_json::Value::Null);
                    }
                    p.enum_values = Some(values);
                } else if field == "email" || field.ends_with("_email") {
                    if required.contains(field) {
                        p.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
                    } else {
                        // An optional email may be empty (or null where the type allows):
                        // both mean "none".
                        *prop = or_blank(p, "email");
                    }
                } else if field == "aff_sess" {
                    // A click id (`domain::attribution::tracking::is_click_id`).
                    // A referral takes an empty one as "none"; a click report does not.
                    p.pattern = Some(if name == "ReferralInput" {
                        "^(clk_[0-9a-z]{26})?$".to_owned()
                    } else {
                        "^clk_[0-9a-z]{26}$".to_owned()
                    });
                } else if field.ends_with("_at") {
                    *prop = or_blank(p, "date-time");
                } else if field == "landing_url" {
                    // A program's landing page: blank (or null) clears it.
                    p.pattern = Some(format!("^({})?$", &HTTP_URL[1..HTTP_URL.len() - 1]));
                } else if field == "url" || field.ends_with("_url") || field == "website" {
                    p.pattern = Some(HTTP_URL.to_owned());
                } else if field == "payout_method" {
                    // One of `partners::payout_settings::METHODS`; blank (or null) clears.
                    let mut values: Vec<serde_json::Value> =
                        crate::domain::partners::payout_settings::METHODS
                            .iter()
                            .chain(std::iter::once(&""))
                            .map(|m| serde_json::Value::String((*m).to_owned()))
                            .collect();
                    if matches!(&p.schema_type, SchemaType::Array(ts) if ts.contains(&Type::Null)) {
                        values.push(serde_json::Value::Null);
                    }
                    p.enum_values = Some(values);
                } else if field == "stripe_secret_key" {
                    p.pattern = Some(STRIPE_SECRET_KEY.to_owned());
                } else if field == "stripe_webhook_secret" {
                    p.pattern = Some(STRIPE_WEBHOOK_SECRET.to_owned());
                } else if MULTI_LINE.contains(&(name.as_str(), field.as_str())) {
                    // Any text but U+0000 (`NoNulInText` adds that pattern).
                } else if required.contains(field) {
                    p.pattern = Some(ONE_LINE_NOT_BLANK.to_owned());
                } else {
                    p.pattern = Some(ONE_LINE.to_owned());
                }
            }
        }
    }
}

/// Commission terms (`domain::partners::terms::Commission`): a `type`-tagged rate and an
/// optional upline ladder. Two rules stay out of the schema (a 422 names them): tiers sorted
/// by `min_conversions` strictly ascending, levels numbered 1, 2, 3, ... in order (and
/// `multi_level_enabled` agreeing with the ladder).
fn commission_terms_schema() -> Option<Schema> {
    let bps = serde_json::json!({"type": "integer", "minimum": 0, "maximum": 10000});
    let ladder = serde_json::json!({
        "multi_level_enabled": {"type": ["boolean", "null"]},
        "multi_level": {"type": "array", "maxItems": 20, "items": {
            "type": "object", "additionalProperties": false, "required": ["level", "bps"],
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 20}, "bps": bps}
        }}
    });
    let variant = |kind: &str, fields: serde_json::Value| {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "type".into(),
            serde_json::json!({"type": "string", "enum": [kind]}),
        );
        let mut required = vec![serde_json::Value::from("type")];
        if let (Some(fields), Some(ladder)) = (fields.as_object(), ladder.as_object()) {
            for (k, v) in fields {
                properties.insert(k.clone(), v.clone());
                required.push(k.clone().into());
            }
            properties.extend(ladder.clone());
        }
        serde_json::json!({"type": "object", "additionalProperties": false,
            "required": required, "properties": properties})
    };
    serde_json::from_value(serde_json::json!({"oneOf": [
        variant("percentage", serde_json::json!({"bps": bps})),
        variant("flat", serde_json::json!({
            "amount_cents": {"type": "integer", "minimum": 0, "maximum": 100_000_000}
        })),
        variant("recurring", serde_json::json!({
            "bps": bps, "max_cycles": {"type": "integer", "minimum": 1, "maximum": 1200}
        })),
        variant("tiered", serde_json::json!({"bps": bps, "tiers": {
            "type": "array", "minItems": 1, "maxItems": 20, "items": {
                "type": "object", "additionalProperties": false,
                "required": ["min_conversions", "bps"],
                "properties": {"min_conversions": {"type": "integer", "minimum": 1}, "bps": bps}
            }
        }})),
    ]}))
    .ok()
}

/// Any JSON value whose keys and strings hold no U+0000 (`JsonWithoutNul`), and an object
/// of such values (for free-form `metadata`).
fn free_json_schemas() -> Option<(Schema, Schema)> {
    let any: Schema = serde_json::from_value(serde_json::json!({"anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonWithoutNul"}},
        {
            "type": "object",
            "propertyNames": {"type": "string", "pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/JsonWithoutNul"}
        },
    ]}))
    .ok()?;
    let object: Schema = serde_json::from_value(serde_json::json!({
        "type": "object",
        "propertyNames": {"type": "string", "pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/JsonWithoutNul"}
    }))
    .ok()?;
    Some((any, object))
}

/// A value of `format`, or blank text, or null where `p` allows null.
fn or_blank(p: &utoipa::openapi::schema::Object, format: &str) -> RefOr<Schema> {
    let nullable = matches!(&p.schema_type, SchemaType::Array(ts) if ts.contains(&Type::Null));
    let mut options = vec![
        serde_json::json!({"type": "string", "format": format}),
        serde_json::json!({"type": "string", "pattern": "^\\s*$"}),
    ];
    if nullable {
        options.push(serde_json::json!({"type": "null"}));
    }
    serde_json::from_value(serde_json::json!({ "anyOf": options }))
        .unwrap_or_else(|_| RefOr::T(Schema::Object(p.clone())))
}

/// Text anywhere in a request (query, path, JSON strings) must not hold U+0000: PostgreSQL
/// cannot store it, so the API refuses it with a 400 (`http::middleware::nul_bytes`,
/// `http::api::json::parse`). Every string parameter and property says so with a pattern.
struct NoNulInText;

/// The pattern of text without U+0000.
const NO_NUL: &str = "^[^\\x00]*$";

impl Modify for NoNulInText {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for (_, op) in operations_mut(item) {
                for param in op.parameters.iter_mut().flatten() {
                    if let RefOr::T(param) = param
                        && let Some(schema) = param.schema.as_mut()
                    {
                        if param.name == "email" {
                            // `?email=` is required where it is a parameter (application status).
                            param.required = utoipa::openapi::Required::True;
                            if let RefOr::T(Schema::Object(obj)) = schema {
                                obj.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
                                obj.schema_type = SchemaType::Type(Type::String);
                            }
                        }
                        if param.name == "from" || param.name == "to" {
                            // A date or an RFC 3339 time.
                            if let Ok(s) = serde_json::from_value(serde_json::json!({"anyOf": [
                                {"type": "string", "format": "date"},
                                {"type": "string", "format": "date-time"},
                                {"type": "string", "maxLength": 0},
                            ]})) {
                                *schema = s;
                            }
                        }
                        if param.name == "currency"
                            && let RefOr::T(Schema::Object(obj)) = schema
                        {
                            // Empty is "any currency"; otherwise a known code.
                            let mut codes: Vec<serde_json::Value> =
                                crate::domain::values::Currency::all_codes()
                                    .map(|c| serde_json::Value::String(c.to_owned()))
                                    .collect();
                            codes.push(serde_json::Value::String(String::new()));
                            obj.enum_values = Some(codes);
                        }
                        forbid_nul(schema);
                    }
                }
            }
        }
        if let Some(components) = doc.components.as_mut() {
            for schema in components.schemas.values_mut() {
                forbid_nul(schema);
            }
        }
    }
}

/// Adds [`NO_NUL`] to every string type in `schema`, recursively.
fn forbid_nul(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(obj) => {
            let is_text = match &obj.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(ts) => ts.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_text && obj.pattern.is_none() && obj.format.is_none() && obj.enum_values.is_none()
            {
                obj.pattern = Some(NO_NUL.to_owned());
            }
            for prop in obj.properties.values_mut() {
                forbid_nul(prop);
            }
            // A map (`{"key": value}` with free keys, e.g. an application's `answers`):
            // its keys are text too, refused with U+0000 like every other.
            // (Not `additionalProperties: false`, which lists its keys.)
            if let Some(extra) = obj.additional_properties.as_mut()
                && let AdditionalProperties::RefOr(values) = extra.as_mut()
            {
                forbid_nul(values);
                match obj.property_names.as_deref_mut() {
                    Some(Schema::Object(names)) => {
                        if names.pattern.is_none() {
                            names.pattern = Some(NO_NUL.to_owned());
                        }
                    }
                    Some(_) => {}
                    None => {
                        obj.property_names = serde_json::from_value(
                            serde_json::json!({"type": "string", "pattern": NO_NUL}),
                        )
                        .ok()
                        .map(Box::new);
                    }
                }
            }
        }
        Schema::Array(arr) => {
            if let ArrayItems::RefOrSchema(items) = &mut arr.items {
                forbid_nul(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(forbid_nul),
        Schema::AllOf(all) => all.items.iter_mut().for_each(forbid_nul),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(forbid_nul),
        _ => {}
    }
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

/// The methods `/api/v1` supports at `path`; empty when no route has that path. A literal
/// route (`/payouts/run`) names its path exactly, so its methods are the answer even where a
/// pattern (`/payouts/{id}`) matches too; otherwise the matching patterns' methods add up.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let matching: Vec<_> = route_table()
        .iter()
        .filter(|(def, _)| def.is_match(path))
        .collect();
    let literal: Vec<_> = matching
        .iter()
        .filter(|(def, _)| !def.pattern().unwrap_or_default().contains('{'))
        .collect();
    let chosen: Vec<_> = if literal.is_empty() {
        matching.iter().collect()
    } else {
        literal
    };
    let mut methods: Vec<&'static str> = chosen
        .iter()
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// The document and Swagger UI.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/api/docs/{_:.*}").url(DOCUMENT_PATH, document().clone()));
}

/// `GET /api/docs` → the Swagger UI's page.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, DOCS_PATH))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_paths_win_over_patterns() {
        assert_eq!(allowed_methods("/api/v1/payouts/run"), vec!["POST"]);
        assert_eq!(allowed_methods("/api/v1/payouts/po_1"), vec!["GET"]);
        assert_eq!(allowed_methods("/api/v1/affiliates"), vec!["GET", "POST"]);
        assert!(allowed_methods("/api/v1/nothing").is_empty());
    }
}

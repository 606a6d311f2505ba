//! `/api/v1/vendor`: the vendor the key belongs to, its branding, portal domains, origins
//! and logo.

use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::domain::partners::payout_settings;
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::branding::{self, BrandingInput};
use crate::domain::tenancy::domain_verification;
use crate::domain::tenancy::logo;
use crate::domain::tenancy::rate_limits;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::{self, ApiJson};
use crate::http::client::header_str;
use serde_json::Value;

/// Largest logo body read; bigger uploads are refused as soon as they pass it.
pub const LOGO_BODY_LIMIT: usize = logo::MAX_BYTES;

/// The settings view plus the vendor's API rate limits (`null` = installation default) and
/// the payout methods it offers its affiliates.
async fn with_limits(
    state: &AppState,
    vendor_id: &str,
    view: branding::VendorSettings,
) -> AppResult<serde_json::Value> {
    let limits = rate_limits::vendor_limits(&state.db, vendor_id).await?;
    let mut body = serde_json::to_value(view).map_err(anyhow::Error::from)?;
    body["rate_limit_read_per_minute"] = limits.rate_limit_read_per_minute.into();
    body["rate_limit_write_per_minute"] = limits.rate_limit_write_per_minute.into();
    body["payout_methods"] = payout_settings::offered(&state.db, vendor_id).await?.into();
    Ok(body)
}

/// `GET /api/v1/vendor`: the caller's vendor and its settings.
#[utoipa::path(
    get,
    path = "/api/v1/vendor",
    tag = "vendor",
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(auth: ApiAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let view = branding::view(
        &state.db,
        state.settings.base_url.as_str(),
        auth.vendor_id(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_limits(&state, auth.vendor_id(), view).await?))
}

/// A rate-limit field of the PATCH body: absent → `None`, `null` → `Some(None)`.
fn limit_field(field: &str, value: Option<Value>) -> AppResult<Option<Option<i64>>> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_i64()
            .map(|n| Some(Some(n)))
            .ok_or_else(|| AppError::BadRequestField {
                field: field.to_owned(),
                message: format!("{field} must be a whole number or null"),
            }),
    }
}

/// The body of `PATCH /api/v1/vendor` as the document shows it: the fields of
/// [`BrandingInput`] and the two rate limits. The handler reads a JSON map (the limits are
/// taken out, the rest parsed as [`BrandingInput`]), so this type only describes the body;
/// the test below keeps its fields in step with [`BrandingInput`]'s.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by utoipa only.
pub struct VendorUpdate {
    /// Name shown on the portal and in emails (at most 80 characters); `null` or empty:
    /// the vendor name.
    #[schema(value_type = Option<String>, max_length = 80)]
    portal_name: Option<Option<String>>,
    /// Brand colour, `#rrggbb`.
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    primary_color: Option<String>,
    /// Reply-To of the vendor's emails; `null` or empty clears it.
    #[schema(value_type = Option<String>)]
    support_email: Option<Option<String>>,
    /// Host names the portal is served on (at most 10, each once), e.g.
    /// `affiliates.acme.com`.
    #[schema(schema_with = crate::domain::tenancy::branding::portal_domains_schema)]
    portal_domains: Option<Vec<String>>,
    /// Origins allowed to frame the embeds, e.g. `https://app.acme.com` (at most 20).
    #[schema(max_items = 20)]
    embed_origins: Option<Vec<String>>,
    /// Origins allowed to call the publishable-key endpoints (the click API) from a
    /// browser (at most 20).
    #[schema(max_items = 20)]
    site_origins: Option<Vec<String>>,
    /// Read requests per minute for each of the vendor's keys; `null` = the installation
    /// default.
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_read_per_minute: Option<i64>,
    /// Write requests per minute for each of the vendor's keys; `null` = the installation
    /// default.
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_write_per_minute: Option<i64>,
    /// The payout methods affiliates may choose (one or more of `paypal`, `wise`,
    /// `bank_transfer`, `stripe_connect`, `crypto`, each once); affiliates already set up
    /// with a method no longer offered keep it.
    #[schema(schema_with = crate::domain::partners::payout_settings::offered_schema)]
    payout_methods: Option<Vec<String>>,
}

/// `PATCH /api/v1/vendor` (full scope): change branding, portal domains, origins, the
/// API rate limits (`rate_limit_read_per_minute`, `rate_limit_write_per_minute`: requests
/// per minute per key, `null` = installation default) and the payout methods offered
/// (`payout_methods`). Every field is checked before anything is stored.
#[utoipa::path(
    patch,
    path = "/api/v1/vendor",
    tag = "vendor",
    request_body(content = VendorUpdate, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn update(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: ApiJson<serde_json::Map<String, Value>>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let mut fields = body.into_inner();
    let read = limit_field(
        "rate_limit_read_per_minute",
        fields.remove("rate_limit_read_per_minute"),
    )?;
    let write = limit_field(
        "rate_limit_write_per_minute",
        fields.remove("rate_limit_write_per_minute"),
    )?;
    // `null` leaves the choice unchanged, like an absent field (as for `portal_domains`).
    let methods = match fields.remove("payout_methods") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let raw: Vec<String> =
                serde_json::from_value(v).map_err(|_| AppError::BadRequestField {
                    field: "payout_methods".to_owned(),
                    message: "payout_methods must be a list of method names".to_owned(),
                })?;
            Some(payout_settings::parse_offered(&raw)?)
        }
    };
    // The rest is the branding input, parsed as its own body so its errors name fields.
    let rest = serde_json::to_vec(&fields).map_err(anyhow::Error::from)?;
    let input: BrandingInput = json::parse(&rest)?;
    let current = rate_limits::vendor_limits(&state.db, auth.vendor_id()).await?;
    let limits = rate_limits::patch(current, read, write)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let view =
        branding::update(&state.db, &state.settings, auth.vendor_id(), &input, &actor).await?;
    rate_limits::set_vendor_limits(&state.db, auth.vendor_id(), limits, &actor).await?;
    if let Some(methods) = methods {
        let names: Vec<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        payout_settings::set_offered(&state.db, auth.vendor_id(), &names, &actor).await?;
    }
    state.portal_hosts.forget_all();
    Ok(HttpResponse::Ok().json(with_limits(&state, auth.vendor_id(), view).await?))
}

/// `POST /api/v1/vendor/domains/{host}/verify` (full scope): looks the domain's TXT record
/// `_affilia-challenge.{host}` up now. Found with the right token: the domain is verified
/// and serves the portal (200 with the domain as `GET /api/v1/vendor` shows it). Missing or
/// wrong: 422 on `host` saying what was found, the domain stays pending. A host the vendor
/// does not list is 404; one another vendor verified first is 409.
#[utoipa::path(
    post,
    path = "/api/v1/vendor/domains/{host}/verify",
    tag = "vendor",
    params(("host" = String, Path, description = "One of the vendor's portal domains")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn verify_domain(
    auth: ApiAuth,
    state: web::Data<AppState>,
    host: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let host = host.into_inner().trim().to_ascii_lowercase();
    domain_verification::verify(&state.db, &state.dns, auth.vendor_id(), &host, &actor).await?;
    state.portal_hosts.forget_all();
    let view = branding::view(
        &state.db,
        state.settings.base_url.as_str(),
        auth.vendor_id(),
    )
    .await?;
    let domain = view
        .portal_domains
        .into_iter()
        .find(|d| d.host == host.trim_end_matches('.'))
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(domain))
}

/// `PUT /api/v1/vendor/logo` (full scope): the raw image as the body, with its
/// `Content-Type` (`image/png`, `image/jpeg` or `image/svg+xml`).
#[utoipa::path(
    put,
    path = "/api/v1/vendor/logo",
    tag = "vendor",
    request_body(content(
        (Vec<u8> = "image/png"),
        (Vec<u8> = "image/jpeg"),
        (Vec<u8> = "image/svg+xml"),
    )),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn put_logo(
    auth: ApiAuth,
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let declared = header_str(&req, header::CONTENT_TYPE).map(str::to_owned);
    let too_big = || AppError::invalid("logo", "the logo is larger than 512 KiB");
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > LOGO_BODY_LIMIT)
    {
        return Err(too_big());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("could not read body: {e}")))?;
        if body.len() + chunk.len() > LOGO_BODY_LIMIT {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    let view = branding::set_logo(
        &state.db,
        state.settings.base_url.as_str(),
        auth.vendor_id(),
        declared.as_deref(),
        &body,
        &actor,
    )
    .await?;
    state.portal_hosts.forget_all();
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/vendor/logo` (full scope) → 204; 404 without a logo.
#[utoipa::path(
    delete,
    path = "/api/v1/vendor/logo",
    tag = "vendor",
    responses((status = 204, description = "Done; no body")),
    security(("api_key" = [])),
)]
pub async fn delete_logo(auth: ApiAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    auth.require(Scope::Full)?;
    let actor = Actor::ApiKey(auth.0.key_id.clone());
    branding::remove_logo(&state.db, auth.vendor_id(), &actor).await?;
    state.portal_hosts.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    use super::*;

    fn properties(schema: RefOr<Schema>) -> BTreeMap<String, serde_json::Value> {
        match schema {
            RefOr::T(Schema::Object(o)) => o
                .properties
                .into_iter()
                .map(|(name, p)| (name, serde_json::to_value(p).unwrap()))
                .collect(),
            _ => panic!("not an object schema"),
        }
    }

    #[test]
    fn vendor_update_lists_branding_fields_and_limits() {
        let branding = properties(BrandingInput::schema());
        let mut documented = properties(VendorUpdate::schema());
        for limit in ["rate_limit_read_per_minute", "rate_limit_write_per_minute"] {
            let schema = documented.remove(limit).expect(limit);
            assert_eq!(schema["minimum"], 1, "{limit}");
            assert_eq!(schema["maximum"], 1_000_000, "{limit}");
            assert_eq!(
                schema["type"],
                serde_json::json!(["integer", "null"]),
                "{limit}"
            );
        }
        let methods = documented.remove("payout_methods").expect("payout_methods");
        assert_eq!(methods["minItems"], 1);
        assert_eq!(methods["uniqueItems"], true);
        assert_eq!(
            methods["items"]["enum"],
            serde_json::json!(payout_settings::METHODS)
        );
        assert_eq!(documented, branding);
    }
}

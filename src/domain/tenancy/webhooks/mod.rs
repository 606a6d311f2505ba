//! Outbound webhooks: a vendor's endpoints and the delivery of domain events to them.
//!
//! Events are written to `events` by whatever change causes them (a plain
//! `db::events::insert` in that change's transaction, wherever it happens). The job worker
//! fans each event out to the vendor's enabled endpoints whose filter matches (one
//! delivery row per endpoint and event, [`delivery::fan_out`]) and POSTs the deliveries,
//! retrying with backoff ([`delivery`]). The API and the dashboard call the functions here.

pub mod address;
pub mod catalogue;
pub mod delivery;
pub mod signing;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Db, webhooks::EndpointFields, webhooks::EndpointRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// Longest description.
const DESCRIPTION_MAX: usize = 500;
/// Longest URL.
const URL_MAX: usize = 2000;
/// The filter value that means every event.
pub const ALL_EVENTS: &str = "*";

/// The URLs the API document promises to accept: `https://`, a lower-case host name of up
/// to six labels of letters, digits and single hyphens, the last 2 to 4 letters (so never an IP
/// address, `localhost`, `*.local` or `*.internal`), an optional port, then any path and
/// query without control characters or a `#fragment`. The server also takes upper-case and
/// longer names and public IP literals; a host that resolves to a non-public address is
/// refused whatever its shape, which no schema can state.
pub const URL_PATTERN: &str = "^https://[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}(\\.[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}){0,4}\\.[a-z]{2,4}(:[1-9][0-9]{0,3})?([/?\\\\][^\\x00-\\x1f\\x7f-\\x9f#]*)?$";

/// What the document says about an endpoint's `url` on input.
const URL_DOC: &str = "Where deliveries are POSTed: an absolute `https://` URL on a public \
address, at most 2000 characters, without user name, password or #fragment. A host that \
is, or resolves to, a loopback, private, link-local, CGNAT, unique-local, multicast, \
reserved or documentation address, and `localhost`, `*.localhost`, `*.local`, `*.internal` \
are refused with 422 on `url` (the SSRF guard), as is plain `http://`, unless the \
installation runs with `--allow-private-webhook-urls`. A name that does not resolve yet is \
accepted: every delivery checks again.";

fn url_schema(nullable: bool) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let ty = if nullable {
        SchemaType::Array(vec![Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .pattern(Some(URL_PATTERN))
        .max_length(Some(URL_MAX))
        .description(Some(URL_DOC))
        .build()
}

fn url_input_schema() -> utoipa::openapi::schema::Object {
    url_schema(false)
}

fn url_patch_schema() -> utoipa::openapi::schema::Object {
    url_schema(true)
}

/// An event filter: a non-empty list of catalogued event types (repeats are dropped), or
/// exactly `["*"]` for every event, types added later included; `null` where allowed.
fn filter_schema(nullable: bool) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Type};
    let types = ArrayBuilder::new()
        .items(Ref::from_schema_name("WebhookEventType"))
        .min_items(Some(1));
    let every = ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([ALL_EVENTS])),
        )
        .min_items(Some(1))
        .max_items(Some(1));
    let mut any = AnyOfBuilder::new().item(types).item(every);
    if nullable {
        any = any.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    let description = if nullable {
        "Event types delivered to the endpoint, or `[\"*\"]` for every event (types added \
         later included); absent or null: `[\"*\"]` on creation, unchanged on update. An \
         unknown type, or `*` with other types, is a 422 naming `events[i]`; an empty list is \
         a 422 naming `events`."
    } else {
        "Event types delivered to the endpoint, or `[\"*\"]` for every event (types added \
         later included)."
    };
    any.description(Some(description)).into()
}

fn filter_input_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    filter_schema(true)
}

fn filter_output_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    filter_schema(false)
}

/// An endpoint as the API shows it (the secret only once, at creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct Endpoint {
    /// `whe_...`
    pub id: String,
    /// Where deliveries are POSTed.
    #[schema(pattern = "^https?://")]
    pub url: String,
    /// The vendor's note (empty when none).
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub description: String,
    /// Event types delivered; `["*"]` is every event.
    #[schema(schema_with = filter_output_schema)]
    pub events: Vec<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why it was disabled, when it was disabled automatically.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_` + base64 of 32 random bytes): present only in the answer
    /// that created the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]+$")]
    pub secret: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            events: filter_of(&r),
            id: r.id,
            url: r.url,
            description: r.description,
            enabled: r.enabled == 1,
            disabled_reason: r.disabled_reason,
            secret: None,
            created_at: db::rfc3339(r.created_at),
            updated_at: db::rfc3339(r.updated_at),
        }
    }
}

/// The filter of a stored endpoint: its event types, or `["*"]`.
pub fn filter_of(r: &EndpointRow) -> Vec<String> {
    r.event_types
        .as_deref()
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_else(|| vec![ALL_EVENTS.to_owned()])
}

/// Whether an endpoint wants events of `kind`.
pub fn wants(r: &EndpointRow, kind: &str) -> bool {
    match r.event_types.as_deref() {
        None => true,
        Some(json) => serde_json::from_str::<Vec<String>>(json)
            .map(|kinds| kinds.iter().any(|k| k == kind))
            .unwrap_or(false),
    }
}

/// Body of `POST /api/v1/webhook-endpoints`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointInput)]
pub struct NewEndpoint {
    /// HTTPS URL (required: a missing one is a 422 naming `url`).
    #[serde(default)]
    #[schema(schema_with = url_input_schema, required = true)]
    pub url: String,
    /// Optional note, one line of at most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Event types, or `["*"]` (the default) for all.
    #[schema(schema_with = filter_input_schema)]
    pub events: Option<Vec<String>>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// Body of `PATCH /api/v1/webhook-endpoints/{id}`: absent (or null) fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointPatch)]
pub struct EndpointPatch {
    /// New URL.
    #[schema(schema_with = url_patch_schema)]
    pub url: Option<String>,
    /// New description, one line of at most 500 characters (empty clears it).
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// New filter.
    #[schema(schema_with = filter_input_schema)]
    pub events: Option<Vec<String>>,
    /// Enable or disable; enabling again clears the failure state.
    pub enabled: Option<bool>,
}

/// Validates a filter: every type catalogued, or exactly `*`; stored as `None` for all.
pub fn parse_filter(events: &[String]) -> AppResult<Option<String>> {
    if events.is_empty() {
        return Err(AppError::invalid(
            "events",
            "events must name at least one event type, or \"*\" for every event",
        ));
    }
    let mut kinds: Vec<String> = Vec::new();
    for (i, raw) in events.iter().enumerate() {
        let kind = raw.trim();
        if kind == ALL_EVENTS {
            if events.len() > 1 {
                return Err(AppError::invalid(
                    &format!("events[{i}]"),
                    "\"*\" (every event) cannot be combined with event types",
                ));
            }
            return Ok(None);
        }
        if !catalogue::is_known(kind) {
            return Err(AppError::invalid(
                &format!("events[{i}]"),
                format!(
                    "unknown event type {kind:?}; see the list of event types in the documentation"
                ),
            ));
        }
        if !kinds.iter().any(|k| k == kind) {
            kinds.push(kind.to_owned());
        }
    }
    Ok(Some(json!(kinds).to_string()))
}

async fn checked_url(raw: &str, allow_private: bool) -> AppResult<String> {
    let raw = text::required("url", raw, URL_MAX)?;
    address::check_url(&raw, allow_private)
        .await
        .map(|u| u.to_string())
        .map_err(|m| AppError::invalid("url", m))
}

fn description(raw: Option<&str>) -> AppResult<String> {
    Ok(text::optional("description", raw, DESCRIPTION_MAX)?.unwrap_or_default())
}

/// Creates an endpoint with a new secret (returned once, in the answer).
pub async fn create(
    db: &Db,
    vendor_id: &str,
    input: &NewEndpoint,
    allow_private: bool,
    actor: &Actor,
) -> AppResult<Endpoint> {
    let url = checked_url(&input.url, allow_private).await?;
    let description = description(input.description.as_deref())?;
    let filter = match &input.events {
        Some(events) => parse_filter(events)?,
        None => None,
    };
    let secret = signing::new_secret();
    let mut tx = db.begin().await?;
    let row = db::webhooks::insert_endpoint(
        &mut *tx,
        vendor_id,
        &EndpointFields {
            url: &url,
            description: &description,
            event_types: filter.as_deref(),
            enabled: input.enabled.unwrap_or(true),
        },
        &secret,
    )
    .await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "webhook_endpoint.created",
        ("webhook_endpoint", Some(&row.id)),
        json!({"url": row.url}),
    )
    .await?;
    tx.commit().await?;
    let mut endpoint = Endpoint::from(row);
    endpoint.secret = Some(secret);
    Ok(endpoint)
}

/// One endpoint of the vendor; 404 for anyone else's.
pub async fn get_row(db: &Db, vendor_id: &str, id: &str) -> AppResult<EndpointRow> {
    db::webhooks::endpoint_by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A page of the vendor's endpoints and their total.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Endpoint>, i64)> {
    let rows = db::webhooks::list_endpoints(db.pool(), vendor_id, limit, offset).await?;
    let total = db::webhooks::count_endpoints(db.pool(), vendor_id).await?;
    Ok((rows.into_iter().map(Endpoint::from).collect(), total))
}

/// Changes an endpoint; re-enabling one clears its failure state.
pub async fn update(
    db: &Db,
    vendor_id: &str,
    id: &str,
    patch: &EndpointPatch,
    allow_private: bool,
    actor: &Actor,
) -> AppResult<Endpoint> {
    let current = get_row(db, vendor_id, id).await?;
    let url = match &patch.url {
        Some(u) => checked_url(u, allow_private).await?,
        None => current.url.clone(),
    };
    let description = match &patch.description {
        Some(d) => description(Some(d))?,
        None => current.description.clone(),
    };
    let filter = match &patch.events {
        Some(events) => parse_filter(events)?,
        None => current.event_types.clone(),
    };
    let enabled = patch.enabled.unwrap_or(current.enabled == 1);
    let mut tx = db.begin().await?;
    let row = db::webhooks::update_endpoint(
        &mut *tx,
        vendor_id,
        id,
        &EndpointFields {
            url: &url,
            description: &description,
            event_types: filter.as_deref(),
            enabled,
        },
    )
    .await?
    .ok_or(AppError::NotFound)?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "webhook_endpoint.updated",
        ("webhook_endpoint", Some(id)),
        json!({"url": row.url, "enabled": enabled, "events": filter_of(&row)}),
    )
    .await?;
    tx.commit().await?;
    Ok(Endpoint::from(row))
}

/// Deletes an endpoint with its deliveries and their log.
pub async fn delete(db: &Db, vendor_id: &str, id: &str, actor: &Actor) -> AppResult<()> {
    let mut tx = db.begin().await?;
    if !db::webhooks::delete_endpoint(&mut tx, vendor_id, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "webhook_endpoint.deleted",
        ("webhook_endpoint", Some(id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One logged attempt of a delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct Attempt {
    /// HTTP status of the answer; null when none came.
    pub status_code: Option<i64>,
    /// Milliseconds until the answer or the failure.
    pub latency_ms: i64,
    /// Up to 1 KiB of the answer's body (any text: several lines are common).
    #[schema(pattern = "^[^\\x00]*$")]
    pub response_excerpt: Option<String>,
    /// What went wrong (timeout, refused address, non-2xx ...).
    #[schema(pattern = "^[^\\x00]*$")]
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// A delivery of one event to one endpoint, with its attempt log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct Delivery {
    /// `whd_...`
    pub id: String,
    /// Endpoint.
    pub endpoint_id: String,
    /// The event id: the body's `id` and `webhook-id`.
    pub event_id: String,
    /// The event type (a `WebhookEventType`, or `webhook.test`).
    pub event: String,
    /// `pending`, `succeeded` or `failed`.
    #[schema(pattern = "^(pending|succeeded|failed)$")]
    pub status: String,
    /// When the next attempt is due (pending deliveries), RFC 3339.
    pub next_attempt_at: Option<String>,
    /// Status code of the last answer.
    pub last_status_code: Option<i64>,
    /// Error of the last attempt.
    #[schema(pattern = "^[^\\x00]*$")]
    pub last_error: Option<String>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// RFC 3339.
    pub created_at: String,
}

async fn delivery_view(db: &Db, row: db::webhooks::DeliveryRow) -> AppResult<Delivery> {
    let attempts = db::webhooks::attempts_of(db.pool(), &row.id)
        .await?
        .into_iter()
        .map(|a| Attempt {
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_excerpt: a.response_excerpt,
            error: a.error,
            created_at: db::rfc3339(a.created_at),
        })
        .collect();
    Ok(Delivery {
        next_attempt_at: (row.status == "pending").then(|| db::rfc3339(row.next_attempt_at)),
        id: row.id,
        endpoint_id: row.endpoint_id,
        event_id: row.event_id,
        event: row.event_type,
        status: row.status,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        attempts,
        created_at: db::rfc3339(row.created_at),
    })
}

/// A page of an endpoint's deliveries (newest first) and their total; 404 for another
/// vendor's endpoint.
pub async fn deliveries(
    db: &Db,
    vendor_id: &str,
    endpoint_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Delivery>, i64)> {
    get_row(db, vendor_id, endpoint_id).await?;
    let rows =
        db::webhooks::deliveries_of(db.pool(), vendor_id, endpoint_id, limit, offset).await?;
    let total = db::webhooks::count_deliveries_of(db.pool(), vendor_id, endpoint_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(delivery_view(db, row).await?);
    }
    Ok((out, total))
}

/// Sends a delivery again now (one attempt; no automatic retries after it). 409 while its
/// endpoint is disabled or an attempt is in flight.
pub async fn redeliver(
    db: &Db,
    vendor_id: &str,
    delivery_id: &str,
    actor: &Actor,
) -> AppResult<Delivery> {
    let row = db::webhooks::delivery_by_id(db.pool(), vendor_id, delivery_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let endpoint = get_row(db, vendor_id, &row.endpoint_id).await?;
    if endpoint.enabled != 1 {
        return Err(AppError::wrong_state(
            "the endpoint is disabled; enable it first",
        ));
    }
    let mut tx = db.begin().await?;
    if !db::webhooks::redeliver(&mut *tx, vendor_id, delivery_id, db::now_ms()).await? {
        return Err(AppError::wrong_state(
            "an attempt of this delivery is in flight; try again in a minute",
        ));
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "webhook_delivery.redelivered",
        ("webhook_delivery", Some(delivery_id)),
        json!({"event_id": row.event_id}),
    )
    .await?;
    tx.commit().await?;
    let row = db::webhooks::delivery_by_id(db.pool(), vendor_id, delivery_id)
        .await?
        .ok_or(AppError::NotFound)?;
    delivery_view(db, row).await
}

/// Queues a `webhook.test` event to one endpoint (whatever its filter); 409 when disabled.
pub async fn send_test(
    db: &Db,
    vendor_id: &str,
    endpoint_id: &str,
    actor: &Actor,
) -> AppResult<Delivery> {
    let endpoint = get_row(db, vendor_id, endpoint_id).await?;
    if endpoint.enabled != 1 {
        return Err(AppError::wrong_state(
            "the endpoint is disabled; enable it first",
        ));
    }
    let now = db::now_ms();
    let event_id = db::new_id("evt");
    let payload = json!({
        "endpoint_id": endpoint.id,
        "message": "This is a test event sent from Affilia.",
    })
    .to_string();
    let mut tx = db.begin().await?;
    let id = db::webhooks::insert_delivery(
        &mut *tx,
        &db::webhooks::NewDelivery {
            vendor_id,
            endpoint_id,
            event_id: &event_id,
            event_type: catalogue::TEST_EVENT,
            payload: &payload,
            event_created_at: now,
            due_at: now,
        },
    )
    .await?
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("test event id collided")))?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "webhook_endpoint.tested",
        ("webhook_endpoint", Some(endpoint_id)),
        json!({"event_id": event_id}),
    )
    .await?;
    tx.commit().await?;
    let row = db::webhooks::delivery_by_id(db.pool(), vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    delivery_view(db, row).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn filters_name_known_types_or_star() {
        assert_eq!(parse_filter(&v(&["*"])).unwrap(), None);
        assert_eq!(
            parse_filter(&v(&["payout.paid", "payout.paid", "deal.created"])).unwrap(),
            Some(r#"["payout.paid","deal.created"]"#.to_owned())
        );
        let e = parse_filter(&v(&["payout.paid", "nope"])).unwrap_err();
        assert_eq!(e.field(), Some("events[1]"));
        assert_eq!(parse_filter(&[]).unwrap_err().field(), Some("events"));
        assert!(parse_filter(&v(&["*", "payout.paid"])).is_err());
    }
}

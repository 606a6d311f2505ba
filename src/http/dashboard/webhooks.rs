//! Dashboard webhooks (`/dashboard/developers/webhooks`): endpoints (create with the secret
//! shown once, edit, enable/disable, delete, send a test event) and each endpoint's delivery
//! log with redelivery. The same services as `/api/v1/webhook-endpoints`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::webhooks::{
    self, ALL_EVENTS, Delivery, Endpoint, EndpointPatch, NewEndpoint, catalogue,
};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::pagination::Page;

const BASE: &str = "/dashboard/developers/webhooks";
const DELIVERIES_PER_PAGE: i64 = 25;
const MAX_ENDPOINTS_SHOWN: i64 = 100;

/// One event type offered as a checkbox.
pub struct EventChoice {
    kind: &'static str,
    description: &'static str,
    checked: bool,
}

fn choices(selected: &[String]) -> Vec<EventChoice> {
    catalogue::EVENT_TYPES
        .iter()
        .map(|(kind, description)| EventChoice {
            kind,
            description,
            checked: selected.iter().any(|s| s == kind),
        })
        .collect()
}

/// One endpoint row.
pub struct Row {
    id: String,
    url: String,
    description: String,
    events: String,
    enabled: bool,
    disabled_reason: String,
    created: String,
}

impl From<Endpoint> for Row {
    fn from(e: Endpoint) -> Self {
        Self {
            events: if e.events.iter().any(|k| k == ALL_EVENTS) {
                "all events".into()
            } else {
                e.events.join(", ")
            },
            id: e.id,
            url: e.url,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.unwrap_or_default(),
            created: e.created_at.get(..10).unwrap_or_default().to_owned(),
        }
    }
}

/// The values of the create form, kept when it is shown again with an error.
#[derive(Default)]
pub struct FormValues {
    url: String,
    description: String,
    all_events: bool,
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_change: bool,
    rows: Vec<Row>,
    choices: Vec<EventChoice>,
    f: FormValues,
    error: Option<String>,
    created: Option<(String, String)>,
    allow_http: bool,
}

#[derive(Template)]
#[template(path = "dashboard/webhook_row_partial.html")]
struct RowPartial {
    r: Row,
    can_change: bool,
}

/// One delivery row of the log.
pub struct DeliveryRow {
    id: String,
    event: String,
    event_id: String,
    status: String,
    when: String,
    attempts: usize,
    last_code: String,
    latency: String,
    excerpt: String,
    error: String,
    next: String,
}

impl From<Delivery> for DeliveryRow {
    fn from(d: Delivery) -> Self {
        let last = d.attempts.last();
        Self {
            attempts: d.attempts.len(),
            last_code: last
                .and_then(|a| a.status_code)
                .map(|c| c.to_string())
                .unwrap_or_else(|| "—".into()),
            latency: last
                .map(|a| format!("{} ms", a.latency_ms))
                .unwrap_or_default(),
            excerpt: last
                .and_then(|a| a.response_excerpt.clone())
                .unwrap_or_default(),
            error: last.and_then(|a| a.error.clone()).unwrap_or_default(),
            when: d.created_at.get(..16).unwrap_or_default().replace('T', " "),
            next: d
                .next_attempt_at
                .as_deref()
                .and_then(|n| n.get(..16))
                .unwrap_or_default()
                .replace('T', " "),
            id: d.id,
            event: d.event,
            event_id: d.event_id,
            status: d.status,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/webhook.html")]
struct DetailPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_change: bool,
    e: Row,
    all_events: bool,
    choices: Vec<EventChoice>,
    deliveries: Vec<DeliveryRow>,
    page: i64,
    has_next: bool,
    notice: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/webhook_delivery_row_partial.html")]
struct DeliveryPartial {
    d: DeliveryRow,
    can_change: bool,
}

fn actor(staff: &Staff) -> Actor {
    Actor::User(staff.user.id.clone())
}

/// The form's fields: repeated `events` checkboxes cannot go through a struct.
struct EndpointForm {
    url: String,
    description: String,
    events: Vec<String>,
    all_events: bool,
    enabled: bool,
}

fn endpoint_form(fields: &[(String, String)]) -> EndpointForm {
    let value = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let all_events = fields.iter().any(|(k, _)| k == "all_events");
    EndpointForm {
        url: value("url"),
        description: value("description"),
        events: fields
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.clone())
            .collect(),
        all_events,
        enabled: fields.iter().any(|(k, _)| k == "enabled"),
    }
}

impl EndpointForm {
    fn filter(&self) -> Vec<String> {
        if self.all_events {
            vec![ALL_EVENTS.to_owned()]
        } else {
            self.events.clone()
        }
    }
}

async fn list_page(
    staff: &Staff,
    state: &AppState,
    status: StatusCode,
    f: FormValues,
    selected: &[String],
    error: Option<String>,
    created: Option<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let (rows, _) = webhooks::list(&state.db, &staff.vendor.id, MAX_ENDPOINTS_SHOWN, 0).await?;
    render(
        status,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Webhooks"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            can_change: staff.can_change(),
            rows: rows.into_iter().map(Row::from).collect(),
            choices: choices(selected),
            f,
            error,
            created,
            allow_http: state.settings.allow_private_webhook_urls,
        },
    )
}

/// `GET /dashboard/developers/webhooks`.
pub async fn list(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let f = FormValues {
        all_events: true,
        ..FormValues::default()
    };
    list_page(&staff, &state, StatusCode::OK, f, &[], None, None).await
}

/// `POST /dashboard/developers/webhooks`: creates an endpoint and shows its secret once.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = endpoint_form(&form.into_inner());
    let input = NewEndpoint {
        url: f.url.clone(),
        description: Some(f.description.clone()),
        events: Some(f.filter()),
        enabled: Some(true),
    };
    let values = FormValues {
        url: f.url.clone(),
        description: f.description.clone(),
        all_events: f.all_events,
    };
    match webhooks::create(
        &state.db,
        &staff.vendor.id,
        &input,
        state.settings.allow_private_webhook_urls,
        &actor(&staff),
    )
    .await
    {
        Ok(e) => {
            let created = (e.url.clone(), e.secret.clone().unwrap_or_default());
            let f = FormValues {
                all_events: true,
                ..FormValues::default()
            };
            list_page(
                &staff,
                &state,
                StatusCode::CREATED,
                f,
                &[],
                None,
                Some(created),
            )
            .await
        }
        Err(e @ (AppError::Invalid { .. } | AppError::BadRequestField { .. })) => {
            list_page(
                &staff,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                values,
                &f.events,
                Some(e.page_message()),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `?page=&done=`.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    page: Option<i64>,
    done: Option<String>,
}

async fn detail_page(
    staff: &Staff,
    state: &AppState,
    id: &str,
    page: Option<i64>,
    notice: &str,
    error: Option<(String, Vec<String>)>,
) -> Result<HttpResponse, HtmlError> {
    let row = webhooks::get_row(&state.db, &staff.vendor.id, id).await?;
    let endpoint = Endpoint::from(row);
    let paging = Page::fixed(page, DELIVERIES_PER_PAGE)?;
    let (deliveries, total) = webhooks::deliveries(
        &state.db,
        &staff.vendor.id,
        id,
        paging.limit(),
        paging.offset(),
    )
    .await?;
    let all_events = endpoint.events.iter().any(|k| k == ALL_EVENTS);
    let (status, error, selected) = match error {
        Some((message, selected)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(message), selected),
        None => (StatusCode::OK, None, endpoint.events.clone()),
    };
    render(
        status,
        &DetailPage {
            chrome: Chrome::new(&staff.session, "Webhook endpoint"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            can_change: staff.can_change(),
            choices: choices(&selected),
            all_events,
            e: Row::from(endpoint),
            deliveries: deliveries.into_iter().map(DeliveryRow::from).collect(),
            page: paging.page,
            has_next: paging.has_next(total),
            notice: match notice {
                "saved" => "Saved.",
                "test" => "A test event is queued; it appears in the log below once sent.",
                "redelivered" => "The delivery is queued again.",
                _ => "",
            }
            .to_owned(),
            error,
        },
    )
}

/// `GET /dashboard/developers/webhooks/{id}`: the endpoint, its settings and its log.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<DetailQuery>,
) -> Result<HttpResponse, HtmlError> {
    let notice = q.done.clone().unwrap_or_default();
    detail_page(&staff, &state, &id, q.page, &notice, None).await
}

/// `POST /dashboard/developers/webhooks/{id}`: saves URL, description, filter and enabled.
pub async fn update(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = endpoint_form(&form.into_inner());
    let patch = EndpointPatch {
        url: Some(f.url.clone()),
        description: Some(f.description.clone()),
        events: Some(f.filter()),
        enabled: Some(f.enabled),
    };
    match webhooks::update(
        &state.db,
        &staff.vendor.id,
        &id,
        &patch,
        state.settings.allow_private_webhook_urls,
        &actor(&staff),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{BASE}/{id}?done=saved"))),
        Err(e @ (AppError::Invalid { .. } | AppError::BadRequestField { .. })) => {
            detail_page(
                &staff,
                &state,
                &id,
                None,
                "",
                Some((e.page_message(), f.events)),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/developers/webhooks/{id}/toggle`: enables or disables; HTMX gets the row.
pub async fn toggle(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let current = webhooks::get_row(&state.db, &staff.vendor.id, &id).await?;
    let patch = EndpointPatch {
        enabled: Some(current.enabled != 1),
        ..EndpointPatch::default()
    };
    let e = webhooks::update(
        &state.db,
        &staff.vendor.id,
        &id,
        &patch,
        state.settings.allow_private_webhook_urls,
        &actor(&staff),
    )
    .await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other(BASE));
    }
    render(
        StatusCode::OK,
        &RowPartial {
            r: Row::from(e),
            can_change: true,
        },
    )
}

/// `POST /dashboard/developers/webhooks/{id}/delete`.
pub async fn delete(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<super::confirm::ConfirmForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    if !super::confirm::confirmed(&form.confirm, "yes") {
        let e = webhooks::get_row(&state.db, &staff.vendor.id, &id).await?;
        return super::confirm::page(
            &staff,
            super::confirm::Confirm {
                title: "Delete this webhook endpoint?".into(),
                lines: vec![
                    format!("Delete the endpoint {} and its delivery log.", e.url),
                    "Nothing more is sent to it, including deliveries still waiting to be retried. This cannot be undone.".into(),
                ],
                changed: None,
                action: format!("{BASE}/{id}/delete"),
                fields: Vec::new(),
                token: "yes".into(),
                button: "Delete endpoint".into(),
                cancel: format!("{BASE}/{id}"),
            },
        );
    }
    webhooks::delete(&state.db, &staff.vendor.id, &id, &actor(&staff)).await?;
    Ok(see_other(BASE))
}

/// `POST /dashboard/developers/webhooks/{id}/test`: queues a `webhook.test` event.
pub async fn test(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    webhooks::send_test(&state.db, &staff.vendor.id, &id, &actor(&staff)).await?;
    Ok(see_other(&format!("{BASE}/{id}?done=test")))
}

/// `POST /dashboard/developers/webhooks/deliveries/{id}/redeliver`; HTMX gets the row.
pub async fn redeliver(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let d = webhooks::redeliver(&state.db, &staff.vendor.id, &id, &actor(&staff)).await?;
    if !req.headers().contains_key("hx-request") {
        return Ok(see_other(&format!(
            "{BASE}/{}?done=redelivered",
            d.endpoint_id
        )));
    }
    render(
        StatusCode::OK,
        &DeliveryPartial {
            d: DeliveryRow::from(d),
            can_change: true,
        },
    )
}

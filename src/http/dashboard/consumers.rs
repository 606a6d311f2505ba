//! Dashboard: kernel consumers (`/dashboard/developers/consumers`), the embedded
//! integrations that sign HS256 JWTs (seed 000). List, create (the secret is shown once, with
//! a copy button), enable/disable and set rate limits inline (HTMX), rotate the secret.
//! Rules in `domain::tenancy::consumers`; viewers see the page without its forms.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::consumers::{self, Consumer, ConsumerPatch, NewConsumerInput};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other, when};

const LIST: &str = "/dashboard/developers/consumers";
/// Consumers shown on the page (a vendor has a handful).
const PAGE_SIZE: i64 = 100;

/// One row of the table.
pub struct Row {
    id: String,
    name: String,
    external_source: String,
    secret_prefix: String,
    enabled: bool,
    read_limit: String,
    write_limit: String,
    created: String,
    last_used: String,
    /// The session's CSRF token, for the row's forms without HTMX.
    csrf: String,
    can_change: bool,
    /// An error of the row's last inline change.
    error: Option<String>,
}

impl Row {
    fn new(c: Consumer, csrf: &str, can_change: bool) -> Self {
        let ms = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| when(d.timestamp_millis()))
                .unwrap_or_default()
        };
        Self {
            last_used: c.last_used_at.as_deref().map_or_else(|| "never".into(), ms),
            created: ms(&c.created_at),
            id: c.id,
            name: c.name,
            external_source: c.external_source,
            secret_prefix: c.secret_prefix,
            enabled: c.enabled,
            read_limit: c
                .read_limit_per_minute
                .map(|n| n.to_string())
                .unwrap_or_default(),
            write_limit: c
                .write_limit_per_minute
                .map(|n| n.to_string())
                .unwrap_or_default(),
            csrf: csrf.to_owned(),
            can_change,
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/consumers.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    vendor_id: String,
    can_change: bool,
    rows: Vec<Row>,
    /// A secret just issued: shown this once.
    created: Option<Created>,
    error: Option<String>,
    error_field: String,
    f: CreateForm,
    api_base: String,
}

/// A secret just issued, for one consumer.
struct Created {
    name: String,
    secret: String,
    rotated: bool,
}

#[derive(Template)]
#[template(path = "dashboard/consumer_row_partial.html")]
struct RowPartial {
    r: Row,
}

/// The create form, as posted and as redisplayed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    external_source: String,
    read_limit_per_minute: String,
    write_limit_per_minute: String,
}

/// A limit typed in a form: empty is the default (`None`).
fn limit(field: &str, raw: &str) -> Result<Option<i64>, AppError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| AppError::invalid(field, format!("{field} must be a whole number")))
}

async fn page(
    staff: &Staff,
    state: &AppState,
    created: Option<Created>,
    f: CreateForm,
    error: Option<&AppError>,
) -> Result<ListPage, HtmlError> {
    let chrome = Chrome::new(&staff.session, "Kernel consumers");
    let can_change = staff.can_change();
    let (found, _) = consumers::list(&state.db, &staff.vendor.id, PAGE_SIZE, 0).await?;
    Ok(ListPage {
        rows: found
            .into_iter()
            .map(|c| Row::new(c, &chrome.csrf, can_change))
            .collect(),
        chrome,
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        vendor_id: staff.vendor.id.clone(),
        can_change,
        created,
        error: error.map(AppError::page_message),
        error_field: error
            .and_then(AppError::field)
            .unwrap_or_default()
            .to_owned(),
        f,
        api_base: format!("{}/api/v1/kernel", state.sender.base_url),
    })
}

/// `GET /dashboard/developers/consumers`.
pub async fn list(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    render(
        StatusCode::OK,
        &page(&staff, &state, None, CreateForm::default(), None).await?,
    )
}

/// `POST /dashboard/developers/consumers`: creates a consumer and shows its secret once.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = form.into_inner();
    let input = (|| {
        Ok::<_, AppError>(NewConsumerInput {
            name: f.name.clone(),
            external_source: Some(f.external_source.clone()),
            read_limit_per_minute: limit("read_limit_per_minute", &f.read_limit_per_minute)?,
            write_limit_per_minute: limit("write_limit_per_minute", &f.write_limit_per_minute)?,
        })
    })();
    let done = match input {
        Ok(input) => {
            consumers::create(
                &state.db,
                &state.consumer_secrets(),
                &staff.vendor.id,
                &input,
                &Actor::User(staff.user.id.clone()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(c) => render(
            StatusCode::CREATED,
            &page(
                &staff,
                &state,
                Some(Created {
                    name: c.consumer.name,
                    secret: c.secret,
                    rotated: false,
                }),
                CreateForm::default(),
                None,
            )
            .await?,
        ),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => render(
            e.status_code(),
            &page(&staff, &state, None, f, Some(&e)).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The enable/disable form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnabledForm {
    enabled: String,
}

/// The limits form: empty fields go back to the default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LimitsForm {
    read_limit_per_minute: String,
    write_limit_per_minute: String,
}

/// Applies a change and answers the row (HTMX) or the page.
async fn change(
    req: &HttpRequest,
    staff: &Staff,
    state: &AppState,
    id: &str,
    patch: Result<ConsumerPatch, AppError>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let htmx = req.headers().contains_key("hx-request");
    let done = match patch {
        Ok(p) => {
            consumers::update(
                &state.db,
                &staff.vendor.id,
                id,
                &p,
                &Actor::User(staff.user.id.clone()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    let csrf = Chrome::new(&staff.session, "").csrf;
    match done {
        Ok(c) if htmx => render(
            StatusCode::OK,
            &RowPartial {
                r: Row::new(c, &csrf, true),
            },
        ),
        Ok(_) => Ok(see_other(LIST)),
        Err(e @ AppError::Invalid { .. }) if htmx => {
            // The row comes back as it is, with the reason beside the limits.
            let current = consumers::get(&state.db, &staff.vendor.id, id).await?;
            let mut r = Row::new(current, &csrf, true);
            r.error = Some(e.page_message());
            render(StatusCode::OK, &RowPartial { r })
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/developers/consumers/{id}/enabled` `enabled=true|false`.
pub async fn set_enabled(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<EnabledForm>,
) -> Result<HttpResponse, HtmlError> {
    let patch = match form.enabled.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AppError::invalid(
            "enabled",
            "enabled must be true or false",
        )),
    }
    .map(|enabled| ConsumerPatch {
        enabled: Some(enabled),
        ..ConsumerPatch::default()
    });
    change(&req, &staff, &state, &id, patch).await
}

/// `POST /dashboard/developers/consumers/{id}/limits`.
pub async fn set_limits(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<LimitsForm>,
) -> Result<HttpResponse, HtmlError> {
    let patch = (|| {
        Ok(ConsumerPatch {
            read_limit_per_minute: Some(limit(
                "read_limit_per_minute",
                &form.read_limit_per_minute,
            )?),
            write_limit_per_minute: Some(limit(
                "write_limit_per_minute",
                &form.write_limit_per_minute,
            )?),
            ..ConsumerPatch::default()
        })
    })();
    change(&req, &staff, &state, &id, patch).await
}

/// `POST /dashboard/developers/consumers/{id}/rotate`: a new secret, shown once; the old one
/// stops working at once.
pub async fn rotate(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let done = consumers::rotate_secret(
        &state.db,
        &state.consumer_secrets(),
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    render(
        StatusCode::OK,
        &page(
            &staff,
            &state,
            Some(Created {
                name: done.consumer.name,
                secret: done.secret,
                rotated: true,
            }),
            CreateForm::default(),
            None,
        )
        .await?,
    )
}

//! Dashboard: the Developers hub (`/dashboard/developers`): API keys (create → shown once,
//! list with prefix and last use, revoke after a confirmation) and the vendor's API rate
//! limits. Its sub-navigation also leads to consumers and webhooks (their own modules).
//!
//! Keys and limits go through the same services as `/api/v1/api-keys` and
//! `PATCH /api/v1/vendor`. Only owners and admins may change anything; viewers see the list.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::tenancy::api_keys::{self, KeyView, Scope};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::rate_limits::{self, VendorLimits};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other, when};

/// Most keys shown on the page (newest first).
const KEYS_SHOWN: i64 = 200;

/// A key row of the page.
struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    scope: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
    /// The whole key, for publishable keys (public by nature).
    publishable: Option<String>,
}

impl From<KeyView> for KeyRow {
    fn from(k: KeyView) -> Self {
        Self {
            created: when(k.created_ms),
            last_used: k.last_used_ms.map_or_else(|| "never".into(), when),
            revoked: k.revoked_ms.map(when),
            publishable: k.key,
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scope: k.scope,
        }
    }
}

/// A key just created: shown this once.
struct Created {
    key: String,
    scope: String,
}

#[derive(Template)]
#[template(path = "dashboard/developers.html")]
struct Page {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    /// Active tab of the developers sub-navigation.
    dev_tab: &'static str,
    can_change: bool,
    keys: Vec<KeyRow>,
    created: Option<Created>,
    notice: Option<&'static str>,
    error: Option<String>,
    error_field: String,
    /// The create form as typed (redisplayed after an error).
    name: String,
    scope: String,
    /// Rate-limit form: the vendor's values as typed (empty = default) and the defaults.
    read_limit: String,
    write_limit: String,
    default_read: u32,
    default_write: u32,
    api_base: String,
}

/// The page's optional inputs.
struct View {
    created: Option<Created>,
    notice: Option<&'static str>,
    error: Option<AppError>,
    name: String,
    scope: String,
    limits: Option<(String, String)>,
}

impl View {
    fn empty() -> Self {
        Self {
            created: None,
            notice: None,
            error: None,
            name: String::new(),
            scope: "read".into(),
            limits: None,
        }
    }
}

async fn page(state: &AppState, staff: &Staff, v: View) -> Result<Page, HtmlError> {
    let (keys, _) = api_keys::list(&state.db, &staff.vendor.id, KEYS_SHOWN, 0).await?;
    let (read_limit, write_limit) = match v.limits {
        Some(typed) => typed,
        None => {
            let l = rate_limits::vendor_limits(&state.db, &staff.vendor.id).await?;
            let show = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
            (
                show(l.rate_limit_read_per_minute),
                show(l.rate_limit_write_per_minute),
            )
        }
    };
    Ok(Page {
        chrome: Chrome::new(&staff.session, "Developers"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        dev_tab: "keys",
        can_change: staff.can_change(),
        keys: keys.into_iter().map(KeyRow::from).collect(),
        created: v.created,
        notice: v.notice,
        error_field: v
            .error
            .as_ref()
            .and_then(|e| e.field())
            .unwrap_or_default()
            .to_owned(),
        error: v.error.as_ref().map(AppError::page_message),
        name: v.name,
        scope: v.scope,
        read_limit,
        write_limit,
        default_read: state.settings.api_rate_limit_read,
        default_write: state.settings.api_rate_limit_write,
        api_base: format!("{}/api/v1", state.sender.base_url.trim_end_matches('/')),
    })
}

/// `?done=revoked|limits` after a successful post.
#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /dashboard/developers`.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Done>,
) -> Result<HttpResponse, HtmlError> {
    let mut v = View::empty();
    v.notice = match q.done.as_deref() {
        Some("revoked") => Some("Key revoked: it is refused from now on."),
        Some("limits") => Some("Rate limits saved."),
        _ => None,
    };
    render(StatusCode::OK, &page(&state, &staff, v).await?)
}

/// The create form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    scope: String,
}

/// `POST /dashboard/developers/keys`: creates a key and shows it this once (201).
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = match Scope::parse(&f.scope) {
        Ok(scope) => api_keys::create(&state.db, &staff.vendor.id, &f.name, scope, &actor)
            .await
            .map(|k| (k, scope)),
        Err(e) => Err(e),
    };
    let mut v = View::empty();
    match result {
        Ok((key, scope)) => {
            v.created = Some(Created {
                key: key.key,
                scope: scope.as_str().to_owned(),
            });
            render(StatusCode::CREATED, &page(&state, &staff, v).await?)
        }
        Err(e @ AppError::Invalid { .. }) => {
            let status = e.status_code();
            v.error = Some(e);
            v.name = f.name;
            v.scope = f.scope;
            render(status, &page(&state, &staff, v).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/developers/keys/{id}/revoke` (after the page's confirmation).
pub async fn revoke(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<super::confirm::ConfirmForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    if !super::confirm::confirmed(&form.confirm, "yes") {
        let key = api_keys::get(&state.db, &staff.vendor.id, &id).await?;
        return super::confirm::page(
            &staff,
            super::confirm::Confirm {
                title: format!("Revoke the key {}?", key.name),
                lines: vec![
                    format!("Revoke the API key {} ({}…).", key.name, key.prefix),
                    "Every call made with it is refused from now on, on every server. This cannot be undone: create a new key for the systems that still need one.".into(),
                ],
                changed: None,
                action: format!("/dashboard/developers/keys/{id}/revoke"),
                fields: Vec::new(),
                token: "yes".into(),
                button: "Revoke key".into(),
                cancel: "/dashboard/developers".into(),
            },
        );
    }
    let actor = Actor::User(staff.user.id.clone());
    api_keys::revoke(&state.db, &staff.vendor.id, &id, &actor).await?;
    Ok(see_other("/dashboard/developers?done=revoked"))
}

/// The rate-limit form: empty = installation default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LimitsForm {
    rate_limit_read_per_minute: String,
    rate_limit_write_per_minute: String,
}

fn limit_value(field: &str, raw: &str) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| AppError::invalid(field, "enter a whole number of requests, or leave empty"))
}

/// `POST /dashboard/developers/rate-limits`.
pub async fn save_limits(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<LimitsForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = async {
        let limits = VendorLimits {
            rate_limit_read_per_minute: limit_value(
                "rate_limit_read_per_minute",
                &f.rate_limit_read_per_minute,
            )?,
            rate_limit_write_per_minute: limit_value(
                "rate_limit_write_per_minute",
                &f.rate_limit_write_per_minute,
            )?,
        };
        rate_limits::set_vendor_limits(&state.db, &staff.vendor.id, limits, &actor).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/dashboard/developers?done=limits")),
        Err(e @ AppError::Invalid { .. }) => {
            let status = e.status_code();
            let mut v = View::empty();
            v.error = Some(e);
            v.limits = Some((f.rate_limit_read_per_minute, f.rate_limit_write_per_minute));
            render(status, &page(&state, &staff, v).await?)
        }
        Err(e) => Err(e.into()),
    }
}

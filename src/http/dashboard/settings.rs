//! Dashboard: branding and portal settings (`/dashboard/settings`). The form is translated
//! into the same [`BrandingInput`] the API takes, so every rule is the service's; the logo
//! form is a multipart upload checked by the same service as `PUT /api/v1/vendor/logo`.
//!
//! Viewers see the page with the forms disabled; their posts are refused with 403.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::web::BytesMut;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::branding::{self, BrandingInput, VendorSettings};
use crate::domain::tenancy::domain_verification;
use crate::domain::tenancy::logo;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render, see_other};

/// The settings form, as posted and as redisplayed: text exactly as typed, lists one entry
/// per line.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    portal_name: String,
    primary_color: String,
    support_email: String,
    /// One host per line.
    portal_domains: String,
    /// One origin per line.
    embed_origins: String,
    /// One origin per line.
    site_origins: String,
}

impl SettingsForm {
    fn from_view(v: &VendorSettings) -> Self {
        Self {
            portal_name: v.portal_name.clone().unwrap_or_default(),
            primary_color: v.primary_color.clone(),
            support_email: v.support_email.clone().unwrap_or_default(),
            portal_domains: v
                .portal_domains
                .iter()
                .map(|d| d.host.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            embed_origins: v.embed_origins.join("\n"),
            site_origins: v.site_origins.join("\n"),
        }
    }

    /// Every field is sent: an empty portal name or support email clears it, an empty list
    /// empties it.
    fn to_input(&self) -> BrandingInput {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        BrandingInput {
            portal_name: Some(text(&self.portal_name)),
            primary_color: Some(self.primary_color.trim().to_owned()),
            support_email: Some(text(&self.support_email)),
            portal_domains: Some(lines(&self.portal_domains)),
            embed_origins: Some(lines(&self.embed_origins)),
            site_origins: Some(lines(&self.site_origins)),
        }
    }
}

/// Non-empty lines (commas separate too, for pasted lists).
fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A portal domain row of the page.
struct DomainRow {
    host: String,
    target: String,
    /// "last request 3 minutes ago", or empty before the first request.
    seen: String,
    /// Whether it serves the portal (its owner proved control).
    verified: bool,
    /// The TXT record proving control: name and value; `None` for domains verified
    /// before tokens existed.
    txt: Option<(String, String)>,
    /// "last checked 2 minutes ago", or empty before the first check.
    checked: String,
}

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct Page {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    can_change: bool,
    f: SettingsForm,
    /// Current values (not the typed ones): logo, portal URL, DNS rows.
    slug: String,
    logo_url: Option<String>,
    portal_url: String,
    base_host: String,
    domains: Vec<DomainRow>,
    /// The colour picker's value (it accepts `#rrggbb` only).
    picker_value: String,
    contrast: Contrast,
    notice: Option<&'static str>,
    error: Option<String>,
    error_field: String,
}

/// What the page says about the brand colour's contrast (the rule is
/// [`crate::domain::values::color`]'s).
struct Contrast {
    /// The colour judged: the typed one when it is valid, else the stored one.
    color: String,
    /// Text colour on buttons in it.
    text_color: &'static str,
    /// That text colour in words.
    text_name: &'static str,
    /// Button text against the colour, e.g. `6.2:1`.
    button_ratio: String,
    /// The colour against the page background.
    page_ratio: String,
    /// Why links or controls in it are hard to read, if they are.
    warning: Option<String>,
}

impl Contrast {
    fn of(typed: &str, stored: &str) -> Self {
        use crate::domain::values::color;
        let typed = typed.trim().to_ascii_lowercase();
        let c = if color::parse_hex(&typed).is_some() {
            typed
        } else {
            color::brand_or_default(stored).to_owned()
        };
        let text_color = color::text_on(&c);
        let (_, page) = color::brand_readability(&c);
        Self {
            text_name: if text_color == color::LIGHT_TEXT {
                "white"
            } else {
                "near-black"
            },
            button_ratio: color::ratio_label(color::contrast_of(&c, text_color).unwrap_or(1.0)),
            page_ratio: color::ratio_label(page),
            warning: color::readability_warning(&c),
            text_color,
            color: c,
        }
    }
}

/// `?saved=settings|logo|logo_removed` after a successful post.
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// How long ago a time was, in words: "just now", "3 minutes ago", "2 hours ago", ...
pub fn ago(ms: i64, now: i64) -> String {
    let secs = ((now - ms) / 1000).max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn page(
    staff: &Staff,
    base_host: String,
    current: VendorSettings,
    f: SettingsForm,
    notice: Option<&'static str>,
    error: Option<&AppError>,
) -> Page {
    let now = crate::db::now_ms();
    let contrast = Contrast::of(&f.primary_color, &current.primary_color);
    Page {
        picker_value: contrast.color.clone(),
        contrast,
        chrome: Chrome::new(&staff.session, "Settings"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        can_change: staff.can_change(),
        f,
        // Relative, so the preview loads from the dashboard host itself.
        logo_url: staff
            .vendor
            .logo_version
            .map(|v| format!("/p/{}/logo?v={v}", current.slug)),
        slug: current.slug,
        portal_url: current.portal_url,
        base_host,
        domains: current
            .portal_domains
            .into_iter()
            .map(|d| DomainRow {
                verified: d.verified,
                txt: d.verification.map(|r| (r.name, r.value)),
                checked: d
                    .checked_at
                    .as_deref()
                    .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    .map(|at| format!("last checked {}", ago(at.timestamp_millis(), now)))
                    .unwrap_or_default(),
                seen: d
                    .last_seen_ms
                    .map(|at| format!("last request {}", ago(at, now)))
                    .unwrap_or_default(),
                target: d.dns.value,
                host: d.host,
            })
            .collect(),
        notice,
        error_field: error.and_then(|e| e.field()).unwrap_or_default().to_owned(),
        error: error.map(AppError::page_message),
    }
}

/// `GET /dashboard/settings`.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let current = current(&state, &staff).await?;
    let notice = match q.saved.as_deref() {
        Some("settings") => Some("Settings saved."),
        Some("logo") => Some("Logo uploaded."),
        Some("logo_removed") => Some("Logo removed."),
        Some("domain_verified") => Some("Domain verified: the portal is served on it."),
        _ => None,
    };
    let f = SettingsForm::from_view(&current);
    render(
        StatusCode::OK,
        &page(&staff, base_host(&state), current, f, notice, None),
    )
}

/// Where portal domains' CNAME records point.
fn base_host(state: &AppState) -> String {
    branding::cname_target(state.settings.base_url.as_str())
}

async fn current(state: &AppState, staff: &Staff) -> Result<VendorSettings, HtmlError> {
    Ok(branding::view(
        &state.db,
        state.settings.base_url.as_str(),
        &staff.vendor.id,
    )
    .await?)
}

/// Re-renders the page with a validation or conflict error (nothing was changed); other
/// errors propagate.
fn refused(
    staff: &Staff,
    state: &AppState,
    current: VendorSettings,
    f: SettingsForm,
    e: AppError,
) -> Result<HttpResponse, HtmlError> {
    match e {
        AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::BadRequest(_) => render(
            e.status_code(),
            &page(staff, base_host(state), current, f, None, Some(&e)),
        ),
        other => Err(other.into()),
    }
}

/// `POST /dashboard/settings`.
pub async fn save(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<SettingsForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    match branding::update(
        &state.db,
        &state.settings,
        &staff.vendor.id,
        &f.to_input(),
        &actor,
    )
    .await
    {
        Ok(_) => {
            state.portal_hosts.forget_all();
            Ok(see_other("/dashboard/settings?saved=settings"))
        }
        Err(e) => {
            let current = current(&state, &staff).await?;
            refused(&staff, &state, current, f, e)
        }
    }
}

/// The verify button's form: which domain.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    host: String,
}

/// `POST /dashboard/settings/domains/verify`: looks the domain's TXT record up now (the
/// same check as `POST /api/v1/vendor/domains/{host}/verify`). A missing or wrong record
/// re-renders the page saying what was found.
pub async fn verify_domain(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<VerifyForm>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let actor = Actor::User(staff.user.id.clone());
    let result =
        domain_verification::verify(&state.db, &state.dns, &staff.vendor.id, &form.host, &actor)
            .await;
    match result {
        Ok(()) => {
            state.portal_hosts.forget_all();
            Ok(see_other("/dashboard/settings?saved=domain_verified#dns"))
        }
        Err(e @ AppError::Invalid { .. }) => {
            let current = current(&state, &staff).await?;
            let f = SettingsForm::from_view(&current);
            let mut p = page(&staff, base_host(&state), current, f, None, Some(&e));
            // The message names DNS records (`_affilia-challenge.…`) that must be shown
            // exactly as the vendor types them, not turned into words like a field name.
            p.error = Some(e.to_string());
            render(e.status_code(), &p)
        }
        Err(e) => Err(e.into()),
    }
}

/// The uploaded file of the logo form: its declared type and bytes; `Err` when it is too
/// large or missing.
async fn logo_part(mut parts: Multipart) -> Result<(Option<String>, Vec<u8>), AppError> {
    let too_big = || AppError::invalid("logo", "the logo is larger than 512 KiB");
    while let Some(field) = parts.next().await {
        let mut field =
            field.map_err(|e| AppError::BadRequest(format!("could not read the upload: {e}")))?;
        if field.name() != Some("logo") {
            // The CSRF token was checked by the middleware; other fields are ignored.
            while let Some(chunk) = field.next().await {
                chunk
                    .map_err(|e| AppError::BadRequest(format!("could not read the upload: {e}")))?;
            }
            continue;
        }
        let declared = field.content_type().map(|m| m.essence_str().to_owned());
        let mut body = BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("could not read the upload: {e}")))?;
            if body.len() + chunk.len() > logo::MAX_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            break;
        }
        return Ok((declared, body.to_vec()));
    }
    Err(AppError::invalid("logo", "choose an image file to upload"))
}

/// `POST /dashboard/settings/logo` (multipart: `csrf_token`, then `logo`).
pub async fn upload_logo(
    staff: Staff,
    state: web::Data<AppState>,
    parts: Multipart,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let actor = Actor::User(staff.user.id.clone());
    let result = match logo_part(parts).await {
        Ok((declared, bytes)) => {
            branding::set_logo(
                &state.db,
                state.settings.base_url.as_str(),
                &staff.vendor.id,
                declared.as_deref(),
                &bytes,
                &actor,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            state.portal_hosts.forget_all();
            Ok(see_other("/dashboard/settings?saved=logo"))
        }
        Err(e) => {
            let current = current(&state, &staff).await?;
            let f = SettingsForm::from_view(&current);
            refused(&staff, &state, current, f, e)
        }
    }
}

/// `POST /dashboard/settings/logo/delete`.
pub async fn delete_logo(
    staff: Staff,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HtmlError> {
    staff.require_change()?;
    let actor = Actor::User(staff.user.id.clone());
    match branding::remove_logo(&state.db, &staff.vendor.id, &actor).await {
        Ok(()) | Err(AppError::NotFound) => {
            state.portal_hosts.forget_all();
            Ok(see_other("/dashboard/settings?saved=logo_removed"))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_reads_naturally() {
        let now = 10_000_000_000;
        assert_eq!(ago(now - 5_000, now), "just now");
        assert_eq!(ago(now - 60_000, now), "1 minute ago");
        assert_eq!(ago(now - 180_000, now), "3 minutes ago");
        assert_eq!(ago(now - 2 * 3_600_000, now), "2 hours ago");
        assert_eq!(ago(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(ago(now + 5_000, now), "just now");
    }

    #[test]
    fn lists_are_one_per_line() {
        assert_eq!(
            lines(" a.test \n\n b.test, c.test\r\n"),
            vec!["a.test", "b.test", "c.test"]
        );
    }
}

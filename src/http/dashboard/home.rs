//! `GET /dashboard`: the vendor's overview.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db;
use crate::domain::terms::Commission;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};

struct ProgramView {
    name: String,
    currency: String,
    status: String,
    commission: String,
    is_default: bool,
}

struct AuditView {
    when: String,
    action: String,
    actor: String,
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    portal_urls: Vec<String>,
    programs: Vec<ProgramView>,
    activity: Vec<AuditView>,
}

/// Shows programs, portal addresses and recent activity.
pub async fn show(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let pool = state.db.pool();
    let vendor_id = &staff.vendor.id;
    let mut programs = Vec::new();
    for p in db::programs::list(pool, vendor_id).await? {
        let terms = db::programs::terms(pool, vendor_id, &p.id, p.current_terms_version).await?;
        let commission = terms
            .and_then(|json| serde_json::from_str::<Commission>(&json).ok())
            .map(|c| c.describe())
            .unwrap_or_else(|| "not set".into());
        programs.push(ProgramView {
            name: p.name,
            currency: p.currency,
            status: p.status,
            commission,
            is_default: p.is_default == 1,
        });
    }
    let base = state
        .settings
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    let mut portal_urls = vec![format!("{base}/p/{}/", staff.vendor.slug)];
    for host in db::vendors::domains(pool, vendor_id).await? {
        portal_urls.push(format!("{}://{host}/", state.settings.base_url.scheme()));
    }
    let activity = db::audit::page(pool, vendor_id, 10, 0)
        .await?
        .into_iter()
        .map(|a| AuditView {
            when: db::from_ms(a.created_at)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            action: a.action,
            actor: a.actor_type,
        })
        .collect();
    render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::new(&staff.session, "Overview"),
            vendor_name: staff.vendor.name,
            user_email: staff.user.email,
            portal_urls,
            programs,
            activity,
        },
    )
}

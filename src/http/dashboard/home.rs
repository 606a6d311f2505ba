//! `GET /dashboard`: the vendor's overview.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db;
use crate::domain::{partners::programs, tenancy::vendors};
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
    /// The entry in words, actor first.
    action: String,
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
    let list = programs::all(&state.db, vendor_id).await?;
    let programs = list
        .into_iter()
        .map(|p| ProgramView {
            commission: p.commission.describe(),
            is_default: p.row.is_default == 1,
            name: p.row.name,
            currency: p.row.currency,
            status: p.row.status,
        })
        .collect();
    let base = state.settings.base_url.as_str();
    let slug = &staff.vendor.slug;
    let mut portal_urls = vec![vendors::portal_url_from(base, slug, None)];
    for host in db::vendors::domains(pool, vendor_id).await? {
        portal_urls.push(vendors::portal_url_from(base, slug, Some(&host)));
    }
    let rows = db::audit::page(pool, vendor_id, 10, 0).await?;
    let activity = crate::domain::tenancy::audit::lines(&state.db, vendor_id, rows)
        .await?
        .into_iter()
        .map(|a| AuditView {
            when: db::from_ms(a.at_ms)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            action: a.sentence,
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

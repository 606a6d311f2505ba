//! `/dashboard/audit`: the activity log in words, filterable, paged, with a CSV export.
//! The words come from [`crate::domain::tenancy::audit::lines`], the one rule the Overview
//! and the payout runs use too.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::db::{self, audit::AuditFilter};
use crate::domain::tenancy::audit::{self, AuditLine, OBJECT_KINDS};
use crate::domain::tenancy::staff::urlencode;
use crate::domain::values::csv;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};

/// Entries per page.
const PER_PAGE: i64 = 50;
/// Entries read per statement while exporting.
const CSV_CHUNK: i64 = 1_000;

/// The filters as in the address bar.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct AuditQuery {
    /// `user:usr_…`, `api_key:key_…`, `system`, `cli`, … or empty.
    who: String,
    /// Object kind, or empty.
    kind: String,
    /// Object id, or empty.
    object: String,
    /// `YYYY-MM-DD`, inclusive.
    from: String,
    /// `YYYY-MM-DD`, inclusive.
    to: String,
    page: i64,
}

impl AuditQuery {
    /// The query string of these filters (without the page).
    fn filters_qs(&self) -> String {
        [
            ("who", &self.who),
            ("kind", &self.kind),
            ("object", &self.object),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The storage filter, or the date field at fault.
    fn filter(&self) -> Result<AuditFilter, AppError> {
        let day = |field: &str, v: &str| -> Result<Option<i64>, AppError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            let d = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field, "Enter a date like 2026-01-31."))?;
            Ok(d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis()))
        };
        let from_ms = day("from", &self.from)?;
        // "To" is inclusive: up to the end of that day.
        let to_ms = day("to", &self.to)?.map(|ms| ms + 24 * 3600 * 1000);
        if let (Some(f), Some(t)) = (from_ms, to_ms)
            && f >= t
        {
            return Err(AppError::invalid(
                "to",
                "Choose an end date on or after the start date.",
            ));
        }
        let (actor_type, actor_id) = match self.who.split_once(':') {
            Some((t, i)) => (t.to_owned(), i.to_owned()),
            None => (self.who.clone(), String::new()),
        };
        Ok(AuditFilter {
            actor_type,
            actor_id,
            object_type: self.kind.clone(),
            object_id: self.object.clone(),
            from_ms,
            to_ms,
        })
    }
}

struct LineView {
    when: String,
    sentence: String,
    kind: &'static str,
    object_link: String,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    q: AuditQuery,
    who: Vec<Choice>,
    kinds: Vec<Choice>,
    object_name: String,
    lines: Vec<LineView>,
    total: i64,
    page: i64,
    pages: i64,
    prev_url: String,
    next_url: String,
    csv_url: String,
    clear_url: String,
    error: String,
    error_field: String,
}

fn when(ms: i64) -> String {
    db::from_ms(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `GET /dashboard/audit`.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let vendor_id = &staff.vendor.id;
    let (filter, error) = match q.filter() {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    // Any page number is answered: beyond the last one is simply empty.
    let page = q.page.clamp(1, i64::MAX / PER_PAGE);
    let (lines, total) = match &filter {
        Some(f) => {
            let total = db::audit::count_matching(state.db.pool(), vendor_id, f).await?;
            let rows = db::audit::search(
                state.db.pool(),
                vendor_id,
                f,
                PER_PAGE,
                (page - 1).saturating_mul(PER_PAGE),
            )
            .await?;
            (audit::lines(&state.db, vendor_id, rows).await?, total)
        }
        None => (Vec::new(), 0),
    };
    let qs = q.filters_qs();
    let base = if qs.is_empty() {
        "/dashboard/audit?".to_owned()
    } else {
        format!("/dashboard/audit?{qs}&")
    };
    let lines = lines
        .into_iter()
        .map(|l: AuditLine| LineView {
            object_link: match &l.object_id {
                Some(id) => format!(
                    "/dashboard/audit?kind={}&object={}",
                    urlencode(&l.object_type),
                    urlencode(id)
                ),
                None => String::new(),
            },
            when: when(l.at_ms),
            sentence: l.sentence,
            kind: l.kind,
        })
        .collect();
    let mut who = vec![Choice {
        value: String::new(),
        label: "Anyone".into(),
        selected: q.who.is_empty(),
    }];
    for (kind, id) in db::audit::actors(state.db.pool(), vendor_id).await? {
        let value = match &id {
            Some(id) => format!("{kind}:{id}"),
            None => kind.clone(),
        };
        let label = audit::capitalized(
            &audit::actor_name(&state.db, vendor_id, &kind, id.as_deref()).await?,
        );
        if who.iter().any(|c| c.value == value) {
            continue;
        }
        who.push(Choice {
            selected: value == q.who,
            value,
            label,
        });
    }
    let mut kinds = vec![Choice {
        value: String::new(),
        label: "Everything".into(),
        selected: q.kind.is_empty(),
    }];
    kinds.extend(OBJECT_KINDS.iter().map(|(k, label)| Choice {
        value: (*k).into(),
        label: (*label).into(),
        selected: *k == q.kind,
    }));
    let object_name = if q.object.is_empty() {
        String::new()
    } else {
        db::audit::name_of(state.db.pool(), vendor_id, &q.kind, &q.object)
            .await?
            .unwrap_or_else(|| "one item".into())
    };
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &AuditPage {
            chrome: Chrome::new(&staff.session, "Activity log"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            who,
            kinds,
            object_name,
            lines,
            total,
            page,
            pages,
            prev_url: if page > 1 {
                format!("{base}page={}", page - 1)
            } else {
                String::new()
            },
            next_url: if page < pages {
                format!("{base}page={}", page + 1)
            } else {
                String::new()
            },
            csv_url: if qs.is_empty() {
                "/dashboard/audit/export".into()
            } else {
                format!("/dashboard/audit/export?{qs}")
            },
            clear_url: "/dashboard/audit".into(),
            error: error
                .as_ref()
                .map(AppError::public_message)
                .unwrap_or_default(),
            error_field: error
                .as_ref()
                .and_then(AppError::field)
                .unwrap_or_default()
                .to_owned(),
            q,
        },
    )
}

/// `GET /dashboard/audit/export`: the filtered entries as CSV, in words, newest first.
pub async fn export(
    staff: Staff,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, HtmlError> {
    let filter = q.filter()?;
    let vendor_id = &staff.vendor.id;
    let mut out = csv::row(&["time", "who", "what", "kind", "action", "object_id"]);
    // Every matching entry, a chunk at a time (no cap: an export is the whole log asked for).
    let mut offset = 0;
    loop {
        let rows =
            db::audit::search(state.db.pool(), vendor_id, &filter, CSV_CHUNK, offset).await?;
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let codes: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.action.clone(), r.object_id.clone().unwrap_or_default()))
            .collect();
        let lines = audit::lines(&state.db, vendor_id, rows).await?;
        for (l, (action, object_id)) in lines.iter().zip(codes) {
            out.push_str(&csv::row(&[
                &db::rfc3339(l.at_ms),
                &l.actor,
                &l.sentence,
                l.kind,
                &action,
                &object_id,
            ]));
        }
        if n < CSV_CHUNK {
            break;
        }
        offset += CSV_CHUNK;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"activity-{}.csv\"",
                staff.vendor.slug
            ),
        ))
        .body(out))
}

//! The affiliate's commissions (`GET /commissions`): filterable by status, program and
//! creation dates, 25 a page, through the same commission listing as
//! `GET /api/v1/commissions`.

use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::attribution::clicks::parse_instant;
use crate::domain::earnings::conversions::{self, COMMISSION_STATUSES};
use crate::domain::earnings::fraud;
use crate::domain::partners::affiliates;
use crate::domain::partners::terms::format_money;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, day, render};
use crate::http::pagination::Page;
use crate::http::portal::dashboard::Choice;
use crate::http::portal::layout::{FormError, Shell, SignedIn, Site};

const PER_PAGE: i64 = 25;

/// `?status=&program=&from=&to=&page=`; dates are `YYYY-MM-DD`, `to` inclusive.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CommissionsQuery {
    /// `pending`, `available`, `paid`, `rejected` or `reversed`.
    pub status: String,
    /// A program id.
    pub program: String,
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Page, from 1.
    pub page: Option<i64>,
}

/// One commission.
#[derive(Debug, Clone)]
struct Row {
    amount: String,
    reversed: String,
    currency: String,
    status: String,
    program: String,
    level: String,
    rule: String,
    converted: String,
    available: String,
    /// Held by the vendor's fraud review (shown as "under review", never why).
    under_review: bool,
}

#[derive(Template)]
#[template(path = "portal/commissions.html")]
struct CommissionsPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    action: String,
    q: CommissionsQuery,
    statuses: Vec<Choice>,
    programs: Vec<Choice>,
    error: Option<FormError>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    /// The affiliate's latest bonuses (all programs).
    bonuses: Vec<BonusRow>,
}

/// One bonus.
#[derive(Debug, Clone)]
struct BonusRow {
    granted: String,
    amount: String,
    status: String,
    program: String,
    note: String,
}

impl CommissionsPage {
    fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }
}

fn bound(field: &str, raw: &str, end: bool) -> Result<Option<i64>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        s => parse_instant(field, s, end).map(Some),
    }
}

/// `GET /commissions`: a filter the list cannot use is shown above an empty list (422).
pub async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<CommissionsQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let portal = &who.portal;
    let vendor_id = portal.vendor.id.as_str();
    let chrome = Chrome::new(&who.session, format!("Commissions · {}", portal.name()));
    let site = Site::portal(portal, &chrome);
    let enrollments = affiliates::get(&state.db, vendor_id, &who.affiliate.id)
        .await?
        .enrollments;
    let program_name = |id: &str| {
        enrollments
            .iter()
            .find(|e| e.program_id == id)
            .map(|e| e.program_name.clone())
            .unwrap_or_default()
    };
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let parsed = (|| {
        let status = conversions::parse_commission_status(Some(q.status.as_str()))?;
        let from = bound("from", &q.from, false)?;
        let to = bound("to", &q.to, true)?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(AppError::invalid("from", "from must be on or before to"));
        }
        Ok((status, from, to))
    })();
    let program = Some(q.program.trim()).filter(|p| !p.is_empty());
    let (rows, total, error) = match parsed {
        Ok((status, from, to)) => {
            let filter = db::commissions::Filter {
                vendor_id,
                affiliate_id: Some(&who.affiliate.id),
                program_id: program,
                status,
                conversion_id: None,
            };
            let (found, total) = conversions::commissions_between(
                &state.db,
                &filter,
                (from, to),
                paging.limit(),
                paging.offset(),
            )
            .await?;
            let converted = conversions::converted_at(&state.db, vendor_id, &found).await?;
            let held = fraud::held_for(&state.db, vendor_id, &who.affiliate.id).await?;
            let rows = found
                .iter()
                .map(|c| Row {
                    amount: format_money(c.amount_cents, &c.currency),
                    reversed: if c.reversed_cents > 0 {
                        format_money(c.reversed_cents, &c.currency)
                    } else {
                        String::new()
                    },
                    currency: c.currency.clone(),
                    status: c.status.clone(),
                    program: program_name(&c.program_id),
                    level: if c.level == 0 {
                        "your referral".into()
                    } else {
                        format!("upline level {}", c.level)
                    },
                    rule: c.rule.clone(),
                    converted: converted
                        .get(&c.conversion_id)
                        .map(|at| day(*at))
                        .unwrap_or_default(),
                    available: day(c.available_at),
                    under_review: held.contains(&c.conversion_id),
                })
                .collect();
            (rows, total, None)
        }
        Err(e) => match FormError::of(&e) {
            Some(err) => (Vec::new(), 0, Some((e.status_code(), err))),
            None => return Err(e.into()),
        },
    };
    let list_url = |n: i64| {
        site.url(
            "/commissions",
            &[
                ("status", q.status.as_str()),
                ("program", q.program.as_str()),
                ("from", q.from.as_str()),
                ("to", q.to.as_str()),
                ("page", &n.to_string()),
            ],
        )
    };
    let statuses = COMMISSION_STATUSES
        .iter()
        .map(|s| Choice {
            value: (*s).to_owned(),
            label: (*s).to_owned(),
            current: q.status == *s,
        })
        .collect();
    let programs = enrollments
        .iter()
        .map(|e| Choice {
            value: e.program_id.clone(),
            label: e.program_name.clone(),
            current: q.program == e.program_id,
        })
        .collect();
    let bonus_filter = db::bonuses::Filter {
        vendor_id,
        affiliate_id: Some(&who.affiliate.id),
        program_id: None,
    };
    let bonuses = crate::domain::earnings::bonuses::page(&state.db, &bonus_filter, PER_PAGE, 0)
        .await?
        .0
        .into_iter()
        .map(|b| BonusRow {
            granted: day(b.created_at),
            amount: format_money(b.amount_cents, &b.currency),
            status: b.status,
            program: program_name(&b.program_id),
            note: b.note,
        })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    render(
        status,
        &CommissionsPage {
            vendor_name: portal.name().to_owned(),
            brand_css: portal.url("/brand.css"),
            shell: Shell::new(portal, &who.affiliate, "commissions"),
            action: site.url("/commissions", &[]).unwrap_or_default(),
            statuses,
            programs,
            error: error.map(|(_, e)| e),
            rows,
            total,
            page,
            prev_url: paging.prev().and_then(list_url),
            next_url: paging.next(total).and_then(list_url),
            bonuses,
            q,
            chrome,
        },
    )
}

//! `GET /dashboard`: the vendor's overview of a period — figures with their change against
//! the period before, the clicks-and-revenue chart, top affiliates, work waiting, and what
//! to do next when nothing has happened yet.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::domain::earnings::affiliate_stats::{PRESETS, Period};
use crate::domain::earnings::overview::{self, Amount, Change, Figures, amount_change};
use crate::domain::partners::terms::format_money;
use crate::domain::tenancy::vendors;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::chart::{self, Chart};
use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};

/// `?period=7d|30d|90d|12m` or `?from=YYYY-MM-DD&to=YYYY-MM-DD`.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// A period tab.
pub struct Tab {
    url: String,
    label: &'static str,
    current: bool,
}

/// One line of a figure (one per currency for money).
pub struct Line {
    value: String,
    /// Words after the value ("1 payout"), allowed to wrap.
    note: String,
    change: String,
    direction: &'static str,
}

/// A figure card.
pub struct Card {
    label: &'static str,
    test: &'static str,
    lines: Vec<Line>,
}

/// A badge of work waiting.
pub struct Badge {
    label: &'static str,
    count: i64,
    url: &'static str,
}

/// A row of the top affiliates.
pub struct LeaderView {
    id: String,
    name: String,
    clicks: i64,
    conversions: i64,
    revenue: String,
    commission: String,
}

/// What the chart partial reads (`v.chart`), shared with the portal.
pub struct ChartView {
    chart: Chart,
}

/// A line of recent activity, in words.
pub struct AuditView {
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
    tabs: Vec<Tab>,
    period_label: String,
    compared_with: String,
    from: String,
    to: String,
    error: Option<String>,
    error_field: String,
    cards: Vec<Card>,
    v: ChartView,
    leaders: Vec<LeaderView>,
    badges: Vec<Badge>,
    new_vendor: bool,
    programs: Vec<(String, String)>,
    portal_urls: Vec<String>,
    signup_url: String,
    reports_url: String,
    activity: Vec<AuditView>,
}

fn tab_label(key: &str) -> &'static str {
    match key {
        "7d" => "7 days",
        "90d" => "90 days",
        "12m" => "12 months",
        _ => "30 days",
    }
}

fn day(ms: i64) -> String {
    db::from_ms(ms).format("%-d %b %Y").to_string()
}

/// The last day of a period ending (exclusive) at `to`.
fn last_day(to: i64) -> String {
    day(to - 1)
}

fn period_label(p: &Period) -> String {
    match p.preset {
        Some("7d") => "last 7 days".to_owned(),
        Some("90d") => "last 90 days".to_owned(),
        Some("12m") => "last 12 months".to_owned(),
        Some(_) => "last 30 days".to_owned(),
        None => format!("{} to {}", day(p.from), last_day(p.to)),
    }
}

fn count_line(current: i64, previous: i64) -> Vec<Line> {
    let c = Change::of(current, previous);
    vec![Line {
        value: current.to_string(),
        note: String::new(),
        change: c.describe(),
        direction: c.direction(),
    }]
}

fn money_lines(current: &[Amount], previous: &[Amount], default_currency: &str) -> Vec<Line> {
    let mut currencies: Vec<&str> = current
        .iter()
        .chain(previous)
        .map(|a| a.currency.as_str())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    if currencies.is_empty() {
        currencies.push(default_currency);
    }
    currencies
        .into_iter()
        .map(|cur| {
            let cents = current
                .iter()
                .find(|a| a.currency == cur)
                .map_or(0, |a| a.cents);
            let c = amount_change(current, previous, cur);
            Line {
                value: format_money(cents, cur),
                note: String::new(),
                change: c.describe(),
                direction: c.direction(),
            }
        })
        .collect()
}

fn cards(c: &Figures, p: &Figures, currency: &str) -> Vec<Card> {
    let mut payouts = money_lines(&c.payouts_due, &p.payouts_due, currency);
    if let Some(first) = payouts.first_mut() {
        first.note = format!(
            "({} payout{})",
            c.payouts_due_count,
            if c.payouts_due_count == 1 { "" } else { "s" }
        );
    }
    vec![
        Card {
            label: "Clicks",
            test: "clicks",
            lines: count_line(c.clicks, p.clicks),
        },
        Card {
            label: "Referrals",
            test: "referrals",
            lines: count_line(c.referrals, p.referrals),
        },
        Card {
            label: "Conversions",
            test: "conversions",
            lines: count_line(c.conversions, p.conversions),
        },
        Card {
            label: "Revenue",
            test: "revenue",
            lines: money_lines(&c.revenue, &p.revenue, currency),
        },
        Card {
            label: "Commission pending",
            test: "pending",
            lines: money_lines(&c.pending, &p.pending, currency),
        },
        Card {
            label: "Commission available",
            test: "available",
            lines: money_lines(&c.available, &p.available, currency),
        },
        Card {
            label: "Commission paid",
            test: "paid",
            lines: money_lines(&c.paid, &p.paid, currency),
        },
        Card {
            label: "Payouts due",
            test: "payouts-due",
            lines: payouts,
        },
    ]
}

/// Shows the overview of the period asked for; a period that cannot be read shows the
/// default one with the reason beside the date fields.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<OverviewQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let now = db::now_ms();
    let (period, error) =
        match Period::parse(Some(&q.period), Some(&q.from), Some(&q.to), None, now) {
            Ok(p) => (p, None),
            Err(e @ AppError::Invalid { .. }) => (Period::preset(None, now)?, Some(e)),
            Err(e) => return Err(e.into()),
        };
    let pool = state.db.pool();
    let vendor_id = &staff.vendor.id;
    let currency = staff.vendor.default_currency.clone();
    let o = overview::overview(&state.db, vendor_id, &period).await?;
    let waiting = db::reports::waiting(pool, vendor_id).await?;
    let badges = vec![
        Badge {
            label: "applications to review",
            count: waiting.applications,
            url: "/dashboard/applications?status=pending",
        },
        Badge {
            label: "conversions to approve",
            count: waiting.conversions,
            url: "/dashboard/conversions?status=pending",
        },
        Badge {
            label: "deals to review",
            count: waiting.deals,
            url: "/dashboard/deals?status=pending",
        },
        Badge {
            label: "sales in fraud review",
            count: crate::domain::earnings::fraud::pending_count(&state.db, vendor_id).await?,
            url: "/dashboard/fraud?status=pending",
        },
        Badge {
            label: "emails not sent",
            count: waiting.failed_emails,
            url: "/dashboard/emails",
        },
        Badge {
            label: "webhook deliveries failed",
            count: waiting.failed_webhooks,
            url: "/dashboard/developers/webhooks",
        },
    ]
    .into_iter()
    .filter(|b| b.count > 0)
    .collect();
    let label = period_label(&period);
    let current_key = period.preset;
    let tabs = PRESETS
        .iter()
        .map(|k| Tab {
            url: format!("/dashboard?period={k}"),
            label: tab_label(k),
            current: current_key == Some(*k),
        })
        .collect();
    let leaders = o
        .leaders
        .iter()
        .map(|l| LeaderView {
            id: l.affiliate_id.clone(),
            name: if l.name.is_empty() {
                l.email.clone()
            } else {
                l.name.clone()
            },
            clicks: l.clicks,
            conversions: l.conversions,
            revenue: format_money(l.revenue_cents, &l.currency),
            commission: format_money(l.commission_cents, &l.currency),
        })
        .collect();
    let no_affiliates = !db::affiliates::any(pool, vendor_id).await?;
    // Programs in words (name and what they pay), beside the portal they are joined on.
    let programs = crate::domain::partners::programs::all(&state.db, vendor_id)
        .await?
        .into_iter()
        .map(|p| {
            let words = p.commission.describe(&p.row.currency);
            (p.row.name, words)
        })
        .collect();
    let base = state.settings.base_url.as_str();
    let slug = &staff.vendor.slug;
    let mut portal_urls = vec![vendors::portal_url_from(base, slug, None)];
    for host in db::vendors::domains(pool, vendor_id).await? {
        portal_urls.push(vendors::portal_url_from(base, slug, Some(&host)));
    }
    let signup_url = format!(
        "{}/apply",
        portal_urls.last().map_or("", |u| u.trim_end_matches('/'))
    );
    let range = |p: &Period| -> String {
        match p.preset {
            Some(k) => format!("period={k}"),
            None => format!(
                "from={}&to={}",
                db::from_ms(p.from).format("%Y-%m-%d"),
                db::from_ms(p.to - 1).format("%Y-%m-%d")
            ),
        }
    };
    let reports_url = format!("/dashboard/reports?{}", range(&period));
    let compared_with = format!("{} to {}", day(o.previous_from), last_day(period.from));
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
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            tabs,
            compared_with,
            from: if error.is_some() {
                q.from.clone()
            } else {
                db::from_ms(period.from).format("%Y-%m-%d").to_string()
            },
            to: if error.is_some() {
                q.to.clone()
            } else {
                db::from_ms(period.to - 1).format("%Y-%m-%d").to_string()
            },
            error_field: error
                .as_ref()
                .and_then(|e| e.field())
                .unwrap_or_default()
                .to_owned(),
            error: error.map(|e| e.public_message()),
            cards: cards(&o.current, &o.previous, &currency),
            v: ChartView {
                chart: chart::build_with(&o.series, &label, chart::REVENUE),
            },
            period_label: label,
            leaders,
            badges,
            new_vendor: no_affiliates,
            programs,
            portal_urls,
            signup_url,
            reports_url,
            activity,
        },
    )
}

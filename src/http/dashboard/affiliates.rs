//! Dashboard: the affiliates table (search, status and program filters, sort, pagination;
//! HTMX swaps the table and keeps the state in the URL), inviting an affiliate, the detail
//! page, and the status / invitation / commission-override actions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::db;
use crate::domain::attribution::promo_codes::{self, PromoCode};
use crate::domain::earnings::bonuses::{self, BonusInput};
use crate::domain::earnings::{affiliate_stats, reports};
use crate::domain::partners::affiliates::{self, AffiliateInput};
use crate::domain::partners::payout_settings::{PayoutSettings, method_label};
use crate::domain::partners::terms::{self, Rate};
use crate::domain::payouts::export::File;
use crate::domain::tenancy::audit::Actor;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::payouts::download;
use crate::http::dashboard::{Staff, confirm};
use crate::http::pages::{Chrome, HtmlError, ProgramOption, program_options, render, see_other};
use crate::http::pagination::Page;

const PER_PAGE: i64 = 25;

/// The list's state, as it appears in the URL.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    sort: String,
    /// `csv`: every matching affiliate as a file instead of the page.
    #[serde(default)]
    format: String,
    page: Option<i64>,
}

struct Row {
    id: String,
    name: String,
    email: String,
    codes: String,
    status: String,
    joined: String,
    clicks: i64,
    conversions: i64,
    revenue: String,
    commission: String,
}

#[derive(Template)]
#[template(path = "dashboard/affiliates_table_partial.html")]
struct Table {
    rows: Vec<Row>,
    total: i64,
    page: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    csv_url: String,
}

#[derive(Template)]
#[template(path = "dashboard/affiliates.html")]
struct ListPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    q: ListQuery,
    programs: Vec<ProgramOption>,
    table: Table,
}

fn list_url(q: &ListQuery, page: i64) -> String {
    format!(
        "/dashboard/affiliates?{}",
        list_params(q, &[("page", page.to_string())])
    )
}

fn list_params(q: &ListQuery, extra: &[(&str, String)]) -> String {
    let params = [
        ("search", q.search.as_str()),
        ("status", q.status.as_str()),
        ("program_id", q.program_id.as_str()),
        ("sort", q.sort.as_str()),
    ];
    let mut pairs: Vec<(&str, String)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect();
    pairs.extend(extra.iter().cloned());
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// `GET /dashboard/affiliates`: the page, or only the table for HTMX.
pub async fn list(
    req: HttpRequest,
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> Result<HttpResponse, HtmlError> {
    let q = q.into_inner();
    let filter = affiliates::parse_filter(Some(&q.status), Some(&q.search), Some(&q.program_id))?;
    let sort = affiliates::parse_sort(Some(if q.sort.is_empty() {
        "-created_at"
    } else {
        &q.sort
    }))?;
    let vendor_id = &staff.vendor.id;
    if q.format == "csv" {
        let body = reports::affiliates_csv(&state.db, vendor_id, &filter, sort).await?;
        return Ok(download(File {
            content_type: "text/csv; charset=utf-8",
            filename: format!("affiliates-{}.csv", chrono::Utc::now().format("%Y%m%d")),
            body,
        }));
    } else if !q.format.is_empty() {
        return Err(AppError::invalid("format", "format must be csv").into());
    }
    let paging = Page::fixed(q.page, PER_PAGE)?;
    let page = paging.page;
    let (found, total) = affiliates::list(
        &state.db,
        vendor_id,
        &filter,
        sort,
        paging.limit(),
        paging.offset(),
    )
    .await?;
    let ids: Vec<&str> = found.iter().map(|a| a.row.id.as_str()).collect();
    let mut figures = reports::all_time(&state.db, vendor_id, &ids).await?;
    let rows = found
        .into_iter()
        .map(|a| {
            let f = figures.remove(&a.row.id).unwrap_or_default();
            Row {
                clicks: f.clicks,
                conversions: f.conversions,
                revenue: or_dash(reports::describe(&f.revenue)),
                commission: or_dash(reports::describe(&f.commission)),
                codes: a
                    .enrollments
                    .iter()
                    .map(|e| e.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                id: a.row.id,
                name: a.row.name,
                email: a.row.email,
                status: a.row.status,
                joined: db::from_ms(a.row.created_at).format("%Y-%m-%d").to_string(),
            }
        })
        .collect();
    let table = Table {
        csv_url: format!(
            "/dashboard/affiliates?{}",
            list_params(&q, &[("format", "csv".to_owned())])
        ),
        rows,
        total,
        page,
        prev_url: paging.prev().map(|n| list_url(&q, n)),
        next_url: paging.next(total).map(|n| list_url(&q, n)),
    };
    if req.headers().contains_key("hx-request") {
        return render(StatusCode::OK, &table);
    }
    let programs = program_options(&state.db, vendor_id).await?;
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::new(&staff.session, "Affiliates"),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            programs,
            q,
            table,
        },
    )
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "—".to_owned() } else { s }
}

/// The invitation form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    first_name: String,
    last_name: String,
    code: String,
    program_id: String,
    send_invite: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/affiliate_new.html")]
struct NewPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    programs: Vec<ProgramOption>,
    f: InviteForm,
    error: Option<String>,
    error_field: String,
}

async fn new_page(
    staff: &Staff,
    state: &AppState,
    f: InviteForm,
    error: Option<&AppError>,
) -> Result<NewPage, HtmlError> {
    let programs = program_options(&state.db, &staff.vendor.id).await?;
    Ok(NewPage {
        chrome: Chrome::new(&staff.session, "Invite an affiliate"),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        programs,
        error: error.map(|e| e.page_message()),
        error_field: error.and_then(|e| e.field()).unwrap_or_default().to_owned(),
        f,
    })
}

/// `GET /dashboard/affiliates/new`.
pub async fn new(staff: Staff, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    let f = InviteForm {
        send_invite: Some("on".into()),
        ..InviteForm::default()
    };
    render(StatusCode::OK, &new_page(&staff, &state, f, None).await?)
}

/// `POST /dashboard/affiliates`.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<InviteForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = AffiliateInput {
        email: Some(f.email.clone()),
        first_name: some(&f.first_name),
        last_name: some(&f.last_name),
        code: some(&f.code),
        program_id: some(&f.program_id),
        send_invite: Some(f.send_invite.is_some()),
        ..AffiliateInput::default()
    };
    match affiliates::create(
        &state.db,
        &state.sender,
        &staff.vendor,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await
    {
        Ok(a) => Ok(see_other(&format!("/dashboard/affiliates/{}", a.row.id))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = actix_web::ResponseError::status_code(&e);
            render(status, &new_page(&staff, &state, f, Some(&e)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

struct EnrollmentView {
    program: String,
    code: String,
    status: String,
    terms_version: i64,
    commission: String,
    /// Its partner group's name.
    group: String,
    /// The program's groups: (id, name, whether it is the current one).
    groups: Vec<(String, String, bool)>,
}

struct ActivityView {
    when: String,
    /// What happened, in words ("Owner Name changed Jane's payout settings ...").
    sentence: String,
}

#[derive(Template)]
#[template(path = "dashboard/affiliate.html")]
struct DetailPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    id: String,
    name: String,
    email: String,
    status: String,
    company: String,
    website: String,
    customer_id: String,
    payout: String,
    metadata: String,
    joined: String,
    enrollments: Vec<EnrollmentView>,
    stats: affiliate_stats::Stats,
    override_percent: String,
    activity: Vec<ActivityView>,
    promo_codes: Vec<PromoCode>,
    /// Programs the affiliate is enrolled in (the promo code form's choice), when several.
    promo_programs: Vec<(String, String)>,
    /// (program id, name) of its enrollments, for the bonus form.
    programs: Vec<(String, String)>,
    bonuses: Vec<BonusView>,
}

/// A bonus on the affiliate page.
struct BonusView {
    when: String,
    amount: String,
    kind: String,
    note: String,
    status: String,
}

/// `GET /dashboard/affiliates/{id}`.
pub async fn show(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let a = affiliates::get(&state.db, &staff.vendor.id, &id).await?;
    // A flat commission is written in its program's currency.
    let currencies: std::collections::HashMap<String, String> =
        crate::domain::partners::programs::all(&state.db, &staff.vendor.id)
            .await?
            .into_iter()
            .map(|p| (p.row.id, p.row.currency))
            .collect();
    let mut enrollments = Vec::new();
    let mut override_percent = String::new();
    for e in &a.enrollments {
        let (commission, is_override) = affiliates::effective_commission(e)?;
        if let (true, Rate::Percentage { bps }) = (is_override, &commission.rate) {
            override_percent = terms::bps_to_percent_input(*bps);
        }
        let suffix = if is_override { " (override)" } else { "" };
        let groups =
            crate::domain::partners::groups::list(&state.db, &staff.vendor.id, &e.program_id)
                .await?
                .into_iter()
                .map(|g| {
                    let current = e.group_id.as_deref() == Some(g.row.id.as_str());
                    (g.row.id, g.row.name, current)
                })
                .collect();
        enrollments.push(EnrollmentView {
            program: e.program_name.clone(),
            code: e.code.clone(),
            status: e.status.clone(),
            terms_version: e.terms_version,
            commission: format!(
                "{}{suffix}",
                commission.describe(currencies.get(&e.program_id).map_or("", String::as_str))
            ),
            group: e.group_name.clone().unwrap_or_default(),
            groups,
        });
    }
    let pool = state.db.pool();
    let rows = db::audit::for_object(pool, &staff.vendor.id, &a.row.id, 20).await?;
    let activity = crate::domain::tenancy::audit::lines(&state.db, &staff.vendor.id, rows)
        .await?
        .into_iter()
        .map(|l| ActivityView {
            when: db::from_ms(l.at_ms).format("%Y-%m-%d %H:%M").to_string(),
            sentence: l.sentence,
        })
        .collect();
    let filter = db::bonuses::Filter {
        vendor_id: &staff.vendor.id,
        affiliate_id: Some(&a.row.id),
        program_id: None,
    };
    let bonuses = bonuses::page(&state.db, &filter, 20, 0)
        .await?
        .0
        .into_iter()
        .map(|b| BonusView {
            when: db::from_ms(b.created_at).format("%Y-%m-%d").to_string(),
            amount: terms::format_money(b.amount_cents, &b.currency),
            kind: b.kind,
            note: b.note,
            status: b.status,
        })
        .collect();
    let programs = a
        .enrollments
        .iter()
        .map(|e| (e.program_id.clone(), e.program_name.clone()))
        .collect();
    let r = &a.row;
    render(
        StatusCode::OK,
        &DetailPage {
            programs,
            bonuses,
            chrome: Chrome::new(&staff.session, r.email.clone()),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            stats: affiliate_stats::of_affiliate(&state.db, &staff.vendor.id, &a.row.id).await?,
            id: r.id.clone(),
            name: r.name.clone(),
            email: r.email.clone(),
            status: r.status.clone(),
            company: r.company.clone().unwrap_or_default(),
            website: r.website.clone().unwrap_or_default(),
            customer_id: r.customer_id.clone().unwrap_or_default(),
            payout: payout_settings(r),
            metadata: if r.metadata == "{}" {
                String::new()
            } else {
                r.metadata.clone()
            },
            joined: db::from_ms(r.created_at).format("%Y-%m-%d").to_string(),
            enrollments,
            override_percent,
            activity,
            promo_codes: promo_codes::list(&state.db, &staff.vendor.id, &a.row.id).await?,
            promo_programs: if a.enrollments.len() > 1 {
                a.enrollments
                    .iter()
                    .map(|e| (e.program_id.clone(), e.program_name.clone()))
                    .collect()
            } else {
                Vec::new()
            },
        },
    )
}

/// The affiliate's payout method and where it is paid, read-only (the affiliate sets them
/// in the portal); empty when not set.
fn payout_settings(r: &db::affiliates::AffiliateRow) -> String {
    let s = PayoutSettings::of(r);
    match (s.method.as_deref(), s.destination()) {
        (Some(m), Some(d)) => format!("{}: {d}", method_label(m)),
        (Some(m), None) => method_label(m).to_owned(),
        _ => String::new(),
    }
}

/// The status action.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
    /// `yes` from the confirmation page of a ban or a deactivation.
    #[serde(default)]
    confirm: String,
}

/// `POST /dashboard/affiliates/{id}/status`: pause, ban, reactivate or deactivate.
pub async fn set_status(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<StatusForm>,
) -> Result<HttpResponse, HtmlError> {
    let form = form.into_inner();
    let verb = match form.status.as_str() {
        "banned" => Some("Ban"),
        "deactivated" => Some("Deactivate"),
        _ => None,
    };
    if let Some(verb) = verb
        && !confirm::confirmed(&form.confirm, "yes")
    {
        // Looked up first so another vendor's affiliate is a 404, not a confirmation.
        let a = affiliates::get(&state.db, &staff.vendor.id, &id).await?;
        let who = crate::http::pages::person_label(&a.row.name, &a.row.email).to_owned();
        let named = if who == a.row.email {
            who.clone()
        } else {
            format!("{who} ({})", a.row.email)
        };
        let consequence = if verb == "Ban" {
            "They can no longer sign in to the portal, their referral links stop crediting them and they earn nothing new. Their history and balances stay; you can reactivate them later."
        } else {
            "They can no longer sign in to the portal and earn nothing new; their links stop crediting them. Their history and balances stay; you can reactivate them later."
        };
        return confirm::page(
            &staff,
            confirm::Confirm {
                title: format!("{verb} {who}?"),
                lines: vec![
                    format!("{verb} the affiliate {named}."),
                    consequence.to_owned(),
                ],
                changed: None,
                action: format!("/dashboard/affiliates/{id}/status"),
                fields: vec![("status".into(), form.status.clone())],
                token: "yes".into(),
                button: format!("{verb} {who}"),
                cancel: format!("/dashboard/affiliates/{id}"),
            },
        );
    }
    let input = AffiliateInput {
        status: Some(form.status),
        ..AffiliateInput::default()
    };
    affiliates::update(
        &state.db,
        &state.sender,
        &staff.vendor,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

/// `POST /dashboard/affiliates/{id}/invite`: resend the invitation.
pub async fn resend(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    affiliates::resend_invite(
        &state.db,
        &state.sender,
        &staff.vendor,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

/// The override action: a percentage, or empty to use the program terms again.
#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    #[serde(default)]
    percent: String,
}

/// `POST /dashboard/affiliates/{id}/override`.
pub async fn set_override(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<OverrideForm>,
) -> Result<HttpResponse, HtmlError> {
    let percent = form.percent.trim();
    let value = if percent.is_empty() {
        None
    } else {
        Some(json!({"type": "percentage", "bps": terms::parse_percent("percent", percent)?}))
    };
    let input = AffiliateInput {
        commission_override: Some(value),
        ..AffiliateInput::default()
    };
    affiliates::update(
        &state.db,
        &state.sender,
        &staff.vendor,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

/// The bonus form: a program, an amount ("25.00", the program's currency) and a note.
#[derive(Debug, Deserialize)]
pub struct BonusForm {
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    note: String,
}

/// `POST /dashboard/affiliates/{id}/bonuses`: grants a bonus by hand.
pub async fn grant_bonus(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<BonusForm>,
) -> Result<HttpResponse, HtmlError> {
    let program_id = Some(form.program_id.trim().to_owned()).filter(|p| !p.is_empty());
    // The amount is typed in the program's currency, with its decimals.
    let (_, program) =
        bonuses::program_for(&state.db, &staff.vendor.id, &id, program_id.as_deref()).await?;
    let input = BonusInput {
        program_id,
        amount_cents: terms::parse_amount("amount", &form.amount, &program.currency)?,
        currency: None,
        note: form.note.clone(),
    };
    bonuses::grant(
        &state.db,
        &staff.vendor.id,
        &id,
        &input,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

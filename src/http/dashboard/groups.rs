//! Dashboard: a program's partner groups (list, create, edit), its promotion rules, and
//! moving an affiliate into a group. Forms become the same inputs the API takes, so every
//! rule is the service's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::partners::groups::{self, Group, GroupInput, moves, promotion};
use crate::domain::partners::programs;
use crate::domain::partners::terms::{self, format_money};
use crate::domain::tenancy::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::dashboard::programs::ProgramForm;
use crate::http::pages::{Chrome, HtmlError, render, see_other};

/// A group as a line of the list.
struct GroupLine {
    id: String,
    name: String,
    is_default: bool,
    terms: String,
    version: i64,
    members: i64,
    settings: String,
}

/// A rule as a sentence.
struct RuleLine {
    id: String,
    text: String,
}

/// A choice of a select.
struct Choice {
    value: String,
    label: String,
}

/// The group form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GroupForm {
    name: String,
    description: String,
    commission_type: String,
    commission_percent: String,
    commission_amount: String,
    max_cycles: String,
    tiers: String,
    upline: String,
    holding_period_days: String,
    min_payout: String,
    landing_url: String,
    /// Application form questions, one a line: `key | Label | required | type`.
    application_fields: String,
}

impl GroupForm {
    fn of(g: &Group, currency: &str) -> Self {
        let mut pf = ProgramForm::default();
        pf.set_commission(&g.commission, currency);
        Self {
            name: g.row.name.clone(),
            description: g.row.description.clone(),
            commission_type: pf.commission_type,
            commission_percent: pf.commission_percent,
            commission_amount: pf.commission_amount,
            max_cycles: pf.max_cycles,
            tiers: pf.tiers,
            upline: pf.upline,
            holding_period_days: g
                .row
                .holding_period_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            min_payout: g
                .row
                .min_payout_cents
                .map(|c| terms::format_amount(c, currency))
                .unwrap_or_default(),
            landing_url: g.row.landing_url.clone().unwrap_or_default(),
            application_fields: groups::fields::to_lines(&g.application_fields()),
        }
    }

    /// The input, amounts read in the program's `currency`.
    fn to_input(&self, currency: &str) -> AppResult<GroupInput> {
        let mut pf = ProgramForm::default();
        pf.currency = currency.to_owned();
        pf.commission_type = self.commission_type.clone();
        pf.commission_percent = self.commission_percent.clone();
        pf.commission_amount = self.commission_amount.clone();
        pf.max_cycles = self.max_cycles.clone();
        pf.tiers = self.tiers.clone();
        pf.upline = self.upline.clone();
        let days = match self.holding_period_days.trim() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| {
                AppError::invalid(
                    "holding_period_days",
                    "holding_period_days must be a whole number",
                )
            })?),
        };
        let min = match self.min_payout.trim() {
            "" => None,
            t => Some(terms::parse_amount("min_payout", t, currency)?),
        };
        let landing = self.landing_url.trim();
        Ok(GroupInput {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            commission: Some(pf.commission()?),
            holding_period_days: Some(days),
            min_payout_cents: Some(min),
            landing_url: Some((!landing.is_empty()).then(|| landing.to_owned())),
            application_fields: Some(groups::fields::parse_lines(&self.application_fields)?),
        })
    }
}

/// The rule form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    from_group_id: String,
    to_group_id: String,
    metric: String,
    threshold: String,
    window_days: String,
    demote: Option<String>,
}

impl RuleForm {
    /// The input, a revenue threshold read in the program's `currency`.
    fn to_input(&self, currency: &str) -> AppResult<promotion::RuleInput> {
        let threshold = if self.metric == "approved_revenue" {
            terms::parse_amount("threshold", &self.threshold, currency)?
        } else {
            self.threshold
                .trim()
                .parse()
                .map_err(|_| AppError::invalid("threshold", "threshold must be a whole number"))?
        };
        let window_days = match self.window_days.trim() {
            "" => None,
            t => Some(t.parse().map_err(|_| {
                AppError::invalid("window_days", "window_days must be a whole number of days")
            })?),
        };
        Ok(promotion::RuleInput {
            from_group_id: self.from_group_id.clone(),
            to_group_id: self.to_group_id.clone(),
            metric: self.metric.clone(),
            threshold,
            window_days,
            demote: Some(self.demote.is_some()),
        })
    }
}

#[derive(Template)]
#[template(path = "dashboard/groups.html")]
struct GroupsPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    program_id: String,
    program_name: String,
    groups: Vec<GroupLine>,
    rules: Vec<RuleLine>,
    choices: Vec<Choice>,
    f: GroupForm,
    r: RuleForm,
    error: Option<String>,
    error_field: String,
    saved: bool,
}

#[derive(Template)]
#[template(path = "dashboard/group_form.html")]
struct GroupPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    id: String,
    program_id: String,
    program_name: String,
    is_default: bool,
    version: i64,
    f: GroupForm,
    error: Option<String>,
    error_field: String,
    saved: bool,
}

/// `?saved=1` after a change.
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

fn settings_text(g: &Group, currency: &str) -> String {
    let mut parts = Vec::new();
    if let Some(d) = g.row.holding_period_days {
        parts.push(format!("holding period {d} days"));
    }
    if let Some(c) = g.row.min_payout_cents {
        parts.push(format!("minimum payout {}", format_money(c, currency)));
    }
    if let Some(u) = &g.row.landing_url {
        parts.push(format!("lands on {u}"));
    }
    if parts.is_empty() {
        "the program's settings".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A rule in words: "Default → Gold after 10 approved conversions (in the last 90 days);
/// back when below".
fn rule_text(r: &promotion::Rule, groups: &[Group], currency: &str) -> String {
    let name = |id: &str| {
        groups
            .iter()
            .find(|g| g.row.id == id)
            .map(|g| g.row.name.clone())
            .unwrap_or_else(|| "a removed group".into())
    };
    let what = if r.metric == "approved_revenue" {
        format!(
            "approved sales reach {}",
            format_money(r.threshold, currency)
        )
    } else {
        format!("{} approved conversions", r.threshold)
    };
    let window = r
        .window_days
        .map(|d| format!(" in the last {d} days"))
        .unwrap_or_default();
    let back = if r.demote {
        "; moved back when below"
    } else {
        ""
    };
    format!(
        "{} → {} after {what}{window}{back}",
        name(&r.from_group_id),
        name(&r.to_group_id)
    )
}

async fn groups_page(
    staff: &Staff,
    state: &AppState,
    program_id: &str,
    f: GroupForm,
    r: RuleForm,
    error: Option<AppError>,
    saved: bool,
) -> AppResult<GroupsPage> {
    let program = programs::get(&state.db, &staff.vendor.id, program_id).await?;
    let all = groups::list(&state.db, &staff.vendor.id, program_id).await?;
    let rules = promotion::list(&state.db, &staff.vendor.id, program_id).await?;
    let currency = program.row.currency.clone();
    let f = if f.commission_type.is_empty() {
        let mut pf = ProgramForm::default();
        pf.set_commission(&program.commission, &currency);
        GroupForm {
            commission_type: pf.commission_type,
            commission_percent: pf.commission_percent,
            commission_amount: pf.commission_amount,
            max_cycles: pf.max_cycles,
            tiers: pf.tiers,
            upline: pf.upline,
            ..f
        }
    } else {
        f
    };
    Ok(GroupsPage {
        chrome: Chrome::new(
            &staff.session,
            format!("Partner groups of {}", program.row.name),
        ),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        program_id: program.row.id.clone(),
        program_name: program.row.name.clone(),
        rules: rules
            .iter()
            .map(|r| RuleLine {
                id: r.id.clone(),
                text: rule_text(r, &all, &currency),
            })
            .collect(),
        choices: all
            .iter()
            .map(|g| Choice {
                value: g.row.id.clone(),
                label: g.row.name.clone(),
            })
            .collect(),
        groups: all
            .iter()
            .map(|g| GroupLine {
                id: g.row.id.clone(),
                name: g.row.name.clone(),
                is_default: g.is_default(),
                terms: g.commission.describe(&currency),
                version: g.row.terms_version,
                members: g.row.members,
                settings: settings_text(g, &currency),
            })
            .collect(),
        f,
        r,
        error_field: error
            .as_ref()
            .and_then(|e| e.field())
            .unwrap_or_default()
            .to_owned(),
        error: error.map(|e| e.page_message()),
        saved,
    })
}

/// `GET /dashboard/programs/{id}/groups`.
pub async fn list(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let page = groups_page(
        &staff,
        &state,
        &id,
        GroupForm::default(),
        RuleForm::default(),
        None,
        q.saved.is_some(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `POST /dashboard/programs/{id}/groups`: a new group.
pub async fn create(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<GroupForm>,
) -> Result<HttpResponse, HtmlError> {
    // Another vendor's program is a 404 whatever the form holds.
    let program = programs::get(&state.db, &staff.vendor.id, &id).await?;
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = match f.to_input(&program.row.currency) {
        Ok(input) => groups::create(&state.db, &staff.vendor.id, &id, &input, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/dashboard/programs/{id}/groups?saved=1"
        ))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let page =
                groups_page(&staff, &state, &id, f, RuleForm::default(), Some(e), false).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/programs/{id}/group-rules`: a new promotion rule.
pub async fn create_rule(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<RuleForm>,
) -> Result<HttpResponse, HtmlError> {
    let program = programs::get(&state.db, &staff.vendor.id, &id).await?;
    let r = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = match r.to_input(&program.row.currency) {
        Ok(input) => promotion::create(&state.db, &staff.vendor.id, &id, &input, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/dashboard/programs/{id}/groups?saved=1"
        ))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let page =
                groups_page(&staff, &state, &id, GroupForm::default(), r, Some(e), false).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /dashboard/group-rules/{id}/delete`.
pub async fn delete_rule(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, HtmlError> {
    let rule = crate::db::groups::rule_by_id(state.db.pool(), &staff.vendor.id, &id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    promotion::delete(
        &state.db,
        &staff.vendor.id,
        &id,
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!(
        "/dashboard/programs/{}/groups?saved=1",
        rule.program_id
    )))
}

async fn group_page(
    staff: &Staff,
    state: &AppState,
    g: &Group,
    f: GroupForm,
    error: Option<AppError>,
    saved: bool,
) -> AppResult<GroupPage> {
    let program = programs::get(&state.db, &staff.vendor.id, &g.row.program_id).await?;
    Ok(GroupPage {
        chrome: Chrome::new(&staff.session, format!("Group {}", g.row.name)),
        vendor_name: staff.vendor.name.clone(),
        user_email: staff.user.email.clone(),
        id: g.row.id.clone(),
        program_id: program.row.id.clone(),
        program_name: program.row.name,
        is_default: g.is_default(),
        version: g.row.terms_version,
        f,
        error_field: error
            .as_ref()
            .and_then(|e| e.field())
            .unwrap_or_default()
            .to_owned(),
        error: error.map(|e| e.page_message()),
        saved,
    })
}

/// `GET /dashboard/groups/{id}`.
pub async fn edit(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let g = groups::get(&state.db, &staff.vendor.id, &id).await?;
    let program = programs::get(&state.db, &staff.vendor.id, &g.row.program_id).await?;
    let page = group_page(
        &staff,
        &state,
        &g,
        GroupForm::of(&g, &program.row.currency),
        None,
        q.saved.is_some(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `POST /dashboard/groups/{id}`.
pub async fn update(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<GroupForm>,
) -> Result<HttpResponse, HtmlError> {
    let g = groups::get(&state.db, &staff.vendor.id, &id).await?;
    let program = programs::get(&state.db, &staff.vendor.id, &g.row.program_id).await?;
    let f = form.into_inner();
    let actor = Actor::User(staff.user.id.clone());
    let result = match f.to_input(&program.row.currency) {
        Ok(input) => groups::update(&state.db, &staff.vendor.id, &id, &input, &actor).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/dashboard/groups/{id}?saved=1"))),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            let status = e.status_code();
            let page = group_page(&staff, &state, &g, f, Some(e), false).await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The move form of the affiliate page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MoveForm {
    group_id: String,
}

/// `POST /dashboard/affiliates/{id}/group`: moves the affiliate into a group.
pub async fn move_affiliate(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: crate::http::extract::Form<MoveForm>,
) -> Result<HttpResponse, HtmlError> {
    moves::move_by_hand(
        &state.db,
        &staff.vendor.id,
        &id,
        form.group_id.trim(),
        &Actor::User(staff.user.id.clone()),
    )
    .await?;
    Ok(see_other(&format!("/dashboard/affiliates/{id}")))
}

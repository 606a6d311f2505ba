//! Admin tools (vendor API keys): each calls the domain service the matching `/api/v1`
//! handler calls, scoped by the key's vendor, and answers the API's JSON.

use rmcp::model::JsonObject;
use serde::Deserialize;
use serde_json::json;

use super::{Outcome, parse, take_id, to_value};
use crate::db;
use crate::domain::earnings::conversions::{self, ManualInput};
use crate::domain::partners::affiliates::{self, AffiliateInput};
use crate::domain::partners::applications::{self, ReviewInput};
use crate::domain::partners::programs::{self, ProgramInput};
use crate::domain::payouts::{self, RunRequest, Trigger};
use crate::domain::tenancy::api_keys::{ApiPrincipal, Scope};
use crate::domain::tenancy::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::affiliates::{to_json, with_stats};
use crate::http::api::applications::{ApplicationJson, reviewed_json};
use crate::http::api::opt;
use crate::http::api::payouts::RunsJson;
use crate::http::api::programs::ProgramJson;
use crate::http::pagination::{List, Page, PageQuery};

/// Paging arguments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageArgs {
    page: Option<i64>,
    per_page: Option<i64>,
}

fn page(page: Option<i64>, per_page: Option<i64>) -> AppResult<Page> {
    PageQuery {
        page,
        per_page,
        limit: None,
    }
    .resolve()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AffiliatesArgs {
    status: Option<String>,
    search: Option<String>,
    program_id: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationsArgs {
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversionsArgs {
    affiliate_id: Option<String>,
    program_id: Option<String>,
    customer_id: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectArgs {
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyticsArgs {
    program_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutArgs {
    program_id: Option<String>,
    currency: Option<String>,
    #[serde(default)]
    confirm: bool,
}

fn list_value<T: serde::Serialize>(
    data: Vec<T>,
    total: i64,
    page: Page,
) -> AppResult<serde_json::Value> {
    to_value(&List::new(data, total, page))
}

/// Runs the admin tool `name` for the key `p` (its scope already checked against the
/// tool's).
pub async fn call(
    state: &AppState,
    p: &ApiPrincipal,
    name: &str,
    mut args: JsonObject,
) -> AppResult<Outcome> {
    let vendor_id = p.vendor_id.as_str();
    let actor = Actor::ApiKey(p.key_id.clone());
    let db = &state.db;
    match name {
        "programs_list" => {
            let a: PageArgs = parse(&args)?;
            let page = page(a.page, a.per_page)?;
            let (items, total) =
                programs::list(db, vendor_id, page.per_page, page.offset()).await?;
            let data: Vec<ProgramJson> = items.into_iter().map(ProgramJson::from).collect();
            Ok(Outcome::new(
                list_value(data, total, page)?,
                format!("{total} program(s)"),
            ))
        }
        "programs_get" => {
            let id = take_id(&mut args, "program_id")?;
            let _: PageArgs = parse(&args)?;
            let program = ProgramJson::from(programs::get(db, vendor_id, &id).await?);
            let v = to_value(&program)?;
            let summary = format!("program {} ({})", v["name"].as_str().unwrap_or(""), id);
            Ok(Outcome::new(v, summary))
        }
        "programs_create" => {
            let input: ProgramInput = parse(&args)?;
            let v = to_value(&ProgramJson::from(
                programs::create(db, vendor_id, &input, &actor).await?,
            ))?;
            let summary = format!(
                "created program {} ({})",
                v["name"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            );
            Ok(Outcome::new(v, summary))
        }
        "programs_update" => {
            let id = take_id(&mut args, "program_id")?;
            let input: ProgramInput = parse(&args)?;
            let v = to_value(&ProgramJson::from(
                programs::update(db, vendor_id, &id, &input, &actor).await?,
            ))?;
            let summary = format!(
                "updated program {} (terms version {})",
                id, v["terms_version"]
            );
            Ok(Outcome::new(v, summary))
        }
        "affiliate_invite" => {
            let input: AffiliateInput = parse(&args)?;
            let vendor = vendor_row(state, vendor_id).await?;
            let a = affiliates::create(db, &state.sender, &vendor, &input, &actor).await?;
            let v = to_value(&with_stats(state, a).await?)?;
            let summary = format!(
                "invited {} ({})",
                v["email"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            );
            Ok(Outcome::new(v, summary))
        }
        "affiliates_list" => {
            let a: AffiliatesArgs = parse(&args)?;
            let page = page(a.page, a.per_page)?;
            let filter = affiliates::parse_filter(
                a.status.as_deref(),
                a.search.as_deref(),
                a.program_id.as_deref(),
            )?;
            let sort = affiliates::parse_sort(a.sort.as_deref())?;
            let (found, total) =
                affiliates::list(db, vendor_id, &filter, sort, page.per_page, page.offset())
                    .await?;
            let data: Vec<_> = found.into_iter().map(|a| to_json(a, None)).collect();
            Ok(Outcome::new(
                list_value(data, total, page)?,
                format!("{total} affiliate(s)"),
            ))
        }
        "affiliate_approve" | "affiliate_pause" | "affiliate_ban" => {
            let id = take_id(&mut args, "affiliate_id")?;
            let _: PageArgs = parse(&args)?;
            let status = match name {
                "affiliate_approve" => "active",
                "affiliate_pause" => "paused",
                _ => "banned",
            };
            let input = AffiliateInput {
                status: Some(status.to_owned()),
                ..AffiliateInput::default()
            };
            let vendor = vendor_row(state, vendor_id).await?;
            let a = affiliates::update(db, &state.sender, &vendor, &id, &input, &actor).await?;
            let v = to_value(&with_stats(state, a).await?)?;
            Ok(Outcome::new(v, format!("affiliate {id} is now {status}")))
        }
        "applications_list" => {
            let a: ApplicationsArgs = parse(&args)?;
            let page = page(a.page, a.per_page)?;
            let status = applications::parse_status(a.status.as_deref())?;
            let (rows, total) =
                applications::list(db, vendor_id, status, page.per_page, page.offset()).await?;
            let data: Vec<ApplicationJson> = rows.into_iter().map(ApplicationJson::from).collect();
            Ok(Outcome::new(
                list_value(data, total, page)?,
                format!("{total} application(s)"),
            ))
        }
        "application_review" => {
            let id = take_id(&mut args, "application_id")?;
            let input: ReviewInput = parse(&args)?;
            let vendor = vendor_row(state, vendor_id).await?;
            let a = applications::review(db, &state.sender, &vendor, &id, &input, &actor).await?;
            let v = reviewed_json(state, vendor_id, a).await?;
            let summary = format!("application {id} is {}", v["status"].as_str().unwrap_or(""));
            Ok(Outcome::new(v, summary))
        }
        "conversions_list" => {
            let a: ConversionsArgs = parse(&args)?;
            let page = page(a.page, a.per_page)?;
            let filter = db::conversions::Filter {
                vendor_id,
                affiliate_id: opt(&a.affiliate_id),
                program_id: opt(&a.program_id),
                status: conversions::parse_status(opt(&a.status))?,
                customer_id: opt(&a.customer_id),
            };
            let (data, total) =
                conversions::list(db, &filter, page.per_page, page.offset()).await?;
            Ok(Outcome::new(
                list_value(data, total, page)?,
                format!("{total} conversion(s)"),
            ))
        }
        "conversion_report" => {
            let input: ManualInput = parse(&args)?;
            let (c, commission_cents) = conversions::record_manual(
                db,
                &state.tracker,
                &state.ingest,
                vendor_id,
                &input,
                &actor,
            )
            .await?;
            let mut v = conversions::get(db, vendor_id, &c.id).await?;
            v["commission_cents"] = json!(commission_cents);
            let summary = format!(
                "recorded conversion {} (commission {commission_cents} minor units)",
                c.id
            );
            Ok(Outcome::new(v, summary))
        }
        "conversion_approve" => {
            let id = take_id(&mut args, "conversion_id")?;
            let _: PageArgs = parse(&args)?;
            conversions::approve(db, vendor_id, &id, &actor).await?;
            let v = conversions::get(db, vendor_id, &id).await?;
            Ok(Outcome::new(v, format!("conversion {id} approved")))
        }
        "conversion_reject" => {
            let id = take_id(&mut args, "conversion_id")?;
            let a: RejectArgs = parse(&args)?;
            conversions::reject(db, vendor_id, &id, a.reason.as_deref(), &actor).await?;
            let v = conversions::get(db, vendor_id, &id).await?;
            Ok(Outcome::new(v, format!("conversion {id} rejected")))
        }
        "analytics_get" => {
            let a: AnalyticsArgs = parse(&args)?;
            let report = crate::domain::earnings::analytics::report(
                db,
                vendor_id,
                opt(&a.program_id),
                opt(&a.from),
                opt(&a.to),
            )
            .await?;
            let v = to_value(&report)?;
            Ok(Outcome::new(
                v,
                "program totals and the affiliate leaderboard",
            ))
        }
        "payout_run" => {
            let a: PayoutArgs = parse(&args)?;
            // A dry run only reads; creating payouts needs write scope, as the API does.
            if a.confirm && !p.scope.allows(Scope::Write) {
                return Err(AppError::Forbidden(format!(
                    "this API key has {} scope; write is required to confirm a payout run",
                    p.scope.as_str()
                )));
            }
            let req = RunRequest {
                program_id: a.program_id,
                currency: a.currency,
                dry_run: !a.confirm,
            };
            let runs = payouts::run(db, vendor_id, &req, Trigger::Api, &actor).await?;
            let count: usize = runs.iter().map(|r| r.payouts.len()).sum();
            let v = RunsJson::of(req.dry_run, &runs).to_value();
            let summary = if req.dry_run {
                format!(
                    "dry run: {count} payout(s) would be created; call again with confirm: true to create them"
                )
            } else {
                format!("created {count} payout(s)")
            };
            Ok(Outcome::new(v, summary))
        }
        _ => Err(AppError::NotFound),
    }
}

async fn vendor_row(state: &AppState, vendor_id: &str) -> AppResult<db::vendors::VendorRow> {
    db::vendors::by_id(state.db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)
}

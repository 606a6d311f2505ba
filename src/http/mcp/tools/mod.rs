//! The MCP tools: one table naming each tool, who may see it, its annotations and its
//! input and output JSON Schemas; calls go to [`admin`] (vendor API keys) or [`me`]
//! (affiliate credentials), which call the same domain services as the API handlers.
//!
//! A tool's failure is a tool result with `isError: true` whose structured content is the
//! API's error envelope (`{"error": {"code", "message", "field"}}`), so an agent sees the
//! same `not_found`, `forbidden`, `invalid`, `invalid_state` ... codes as a REST client.
//! A tool the caller may not see is an unknown tool (JSON-RPC -32602), except a vendor
//! tool above a key's scope, which answers `forbidden` like the API's 403.

mod admin;
mod me;
mod schema;

use std::sync::Arc;

use rmcp::model::{
    CallToolResult, ContentBlock, ErrorCode, ErrorData, JsonObject, Tool, ToolAnnotations,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Caller;
use crate::domain::tenancy::api_keys::Scope;
use crate::error::{AppError, AppResult};
use crate::http::AppState;

/// What a tool call runs with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Shared state (database, signer, mail sender).
    pub state: &'a AppState,
    /// Who calls.
    pub caller: &'a Caller,
}

/// Who may see a tool.
#[derive(Debug, Clone, Copy)]
enum Audience {
    /// Vendor API keys with at least this scope.
    Vendor(Scope),
    /// Affiliate credentials.
    Affiliate,
}

/// One tool's definition.
struct Def {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    audience: Audience,
    /// Changes nothing (annotated `readOnlyHint`).
    read_only: bool,
    /// May undo or take away something (annotated `destructiveHint`).
    destructive: bool,
    input: fn() -> Value,
    output: fn() -> Value,
}

/// What a successful tool answers: structured content and a one-line summary.
pub struct Outcome {
    /// The structured result (an object).
    pub value: Value,
    /// One line for the text content.
    pub summary: String,
}

impl Outcome {
    fn new(value: Value, summary: impl Into<String>) -> Self {
        Self {
            value,
            summary: summary.into(),
        }
    }
}

const fn vendor(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    scope: Scope,
    input: fn() -> Value,
    output: fn() -> Value,
) -> Def {
    Def {
        name,
        title,
        description,
        audience: Audience::Vendor(scope),
        read_only: matches!(scope, Scope::Read),
        destructive: false,
        input,
        output,
    }
}

const fn mine(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    read_only: bool,
    input: fn() -> Value,
    output: fn() -> Value,
) -> Def {
    Def {
        name,
        title,
        description,
        audience: Audience::Affiliate,
        read_only,
        destructive: false,
        input,
        output,
    }
}

const fn destructive(def: Def) -> Def {
    Def {
        destructive: true,
        ..def
    }
}

/// Every tool, admin tools first (seed 002's set, our names).
static TOOLS: &[Def] = &[
    vendor(
        "programs_list",
        "List programs",
        "The vendor's programs, default first (paginated).",
        Scope::Read,
        schema::page_input,
        schema::list_output,
    ),
    vendor(
        "programs_get",
        "Get a program",
        "One program with its current commission terms and terms version.",
        Scope::Read,
        schema::program_get_input,
        schema::program_output,
    ),
    vendor(
        "programs_create",
        "Create a program",
        "Creates a program (name required; everything else defaults; commission is a tagged union such as {\"type\":\"percentage\",\"bps\":2000}).",
        Scope::Write,
        schema::program_create_input,
        schema::program_output,
    ),
    vendor(
        "programs_update",
        "Update a program",
        "Changes any field of a program; a changed commission becomes the next terms version.",
        Scope::Write,
        schema::program_update_input,
        schema::program_output,
    ),
    vendor(
        "affiliate_invite",
        "Invite an affiliate",
        "Creates an affiliate (status invited) enrolled in the given or default program and emails an invitation unless send_invite is false.",
        Scope::Write,
        schema::invite_input,
        schema::affiliate_output,
    ),
    vendor(
        "affiliates_list",
        "List affiliates",
        "Affiliates with optional status, search (email, name, code), program and sort filters (paginated).",
        Scope::Read,
        schema::affiliates_list_input,
        schema::list_output,
    ),
    vendor(
        "affiliate_approve",
        "Approve an affiliate",
        "Sets the affiliate active (approves an invited or paused affiliate).",
        Scope::Write,
        schema::affiliate_id_input,
        schema::affiliate_output,
    ),
    vendor(
        "affiliate_pause",
        "Pause an affiliate",
        "Pauses the affiliate: it earns nothing new until approved again.",
        Scope::Write,
        schema::affiliate_id_input,
        schema::affiliate_output,
    ),
    destructive(vendor(
        "affiliate_ban",
        "Ban an affiliate",
        "Bans the affiliate: it can no longer sign in and earns nothing new; history is kept.",
        Scope::Write,
        schema::affiliate_id_input,
        schema::affiliate_output,
    )),
    vendor(
        "applications_list",
        "List applications",
        "Applications to join, pending first; filter by status (paginated).",
        Scope::Read,
        schema::applications_list_input,
        schema::list_output,
    ),
    vendor(
        "application_review",
        "Review an application",
        "Approves (optionally choosing the referral code) or rejects (with a reason) a pending application; the applicant is emailed.",
        Scope::Write,
        schema::application_review_input,
        schema::application_output,
    ),
    vendor(
        "conversions_list",
        "List conversions",
        "Conversions with optional affiliate, program, customer and status filters (paginated).",
        Scope::Read,
        schema::conversions_list_input,
        schema::list_output,
    ),
    vendor(
        "conversion_report",
        "Report a conversion",
        "Records a manual conversion for an affiliate (by id or referral code); idempotent per external_id (a repeat is a duplicate error naming the existing conversion).",
        Scope::Write,
        schema::conversion_report_input,
        schema::conversion_output,
    ),
    vendor(
        "conversion_approve",
        "Approve a conversion",
        "Approves a pending conversion early: its commissions become available now.",
        Scope::Write,
        schema::conversion_id_input,
        schema::conversion_output,
    ),
    destructive(vendor(
        "conversion_reject",
        "Reject a conversion",
        "Rejects a pending conversion: its commissions are taken back.",
        Scope::Write,
        schema::conversion_reject_input,
        schema::conversion_output,
    )),
    vendor(
        "analytics_get",
        "Program analytics",
        "Totals (clicks, referrals, conversions, revenue, commissions by status) and the affiliate leaderboard, optionally for one program and a date range.",
        Scope::Read,
        schema::analytics_input,
        schema::analytics_output,
    ),
    Def {
        read_only: false,
        ..vendor(
            "payout_run",
            "Run payouts",
            "Computes the payouts due (a dry run that changes nothing, by default). With confirm: true and a key with write scope it creates them.",
            Scope::Read,
            schema::payout_run_input,
            schema::payout_run_output,
        )
    },
    mine(
        "my_programs_list",
        "My programs",
        "The programs you are enrolled in, with your code, referral link and commission.",
        true,
        schema::empty_input,
        schema::data_output,
    ),
    mine(
        "my_referral_get",
        "My referral link",
        "Your code, referral link and active promo codes for one program (program_id optional when you are in one program).",
        true,
        schema::my_referral_input,
        schema::referral_output,
    ),
    mine(
        "my_stats_get",
        "My stats",
        "Your clicks, referrals, conversions and earnings over a period (7d, 30d, 90d, 12m or from/to), with a series.",
        true,
        schema::my_stats_input,
        schema::object_output,
    ),
    mine(
        "my_balance_get",
        "My balance",
        "Your balances per currency from the ledger: pending, available, in payout, paid, fees, earned.",
        true,
        schema::empty_input,
        schema::data_output,
    ),
    mine(
        "my_payouts_list",
        "My payouts",
        "Your payouts, newest first (paginated).",
        true,
        schema::my_payouts_input,
        schema::list_output,
    ),
    mine(
        "my_link_create",
        "Create a link",
        "Creates an extra referral link (name, optional slug, destination URL, sub id, program).",
        false,
        schema::my_link_input,
        schema::link_output,
    ),
    mine(
        "my_deal_register",
        "Register a deal",
        "Registers a lead (email, name, company, notes) for the vendor to accept or reject.",
        false,
        schema::my_deal_input,
        schema::deal_output,
    ),
];

fn visible(def: &Def, caller: &Caller) -> bool {
    match (def.audience, caller) {
        (Audience::Vendor(needed), Caller::Vendor(p)) => p.scope.allows(needed),
        (Audience::Affiliate, Caller::Affiliate { .. }) => true,
        _ => false,
    }
}

fn object(v: Value) -> Arc<JsonObject> {
    Arc::new(match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    })
}

fn tool(def: &Def) -> Tool {
    Tool::new(def.name, def.description, object((def.input)()))
        .with_title(def.title)
        .with_raw_output_schema(object((def.output)()))
        .annotate(
            ToolAnnotations::with_title(def.title)
                .read_only(def.read_only)
                .destructive(def.destructive)
                .idempotent(def.read_only)
                .open_world(false),
        )
}

/// The tools the caller may use.
pub fn list(caller: &Caller) -> Vec<Tool> {
    TOOLS
        .iter()
        .filter(|d| visible(d, caller))
        .map(tool)
        .collect()
}

/// Runs a tool: a tool result (success or tool error), or a protocol error for a tool the
/// caller cannot see.
pub async fn call(
    ctx: &Ctx<'_>,
    name: &str,
    args: JsonObject,
) -> Result<CallToolResult, ErrorData> {
    let unknown = || {
        ErrorData::new(
            ErrorCode::INVALID_PARAMS,
            format!("unknown tool: {name}"),
            None,
        )
    };
    let def = TOOLS.iter().find(|d| d.name == name).ok_or_else(unknown)?;
    let outcome = match (def.audience, ctx.caller) {
        (Audience::Vendor(needed), Caller::Vendor(p)) => match require(p.scope, needed) {
            Ok(()) => admin::call(ctx.state, p, name, args).await,
            Err(e) => Err(e),
        },
        (
            Audience::Affiliate,
            Caller::Affiliate {
                vendor_id,
                affiliate_id,
            },
        ) => me::call(ctx.state, vendor_id, affiliate_id, name, args).await,
        _ => return Err(unknown()),
    };
    Ok(match outcome {
        Ok(o) => {
            let mut r = CallToolResult::success(vec![ContentBlock::text(o.summary)]);
            r.structured_content = Some(o.value);
            r
        }
        Err(e) => tool_error(&e),
    })
}

/// 403 unless `scope` includes `needed`, worded as the API words it.
fn require(scope: Scope, needed: Scope) -> AppResult<()> {
    if scope.allows(needed) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "this API key has {} scope; {} is required",
            scope.as_str(),
            needed.as_str()
        )))
    }
}

/// A failed call: the API's error envelope as structured content, `code: message` as text.
fn tool_error(e: &AppError) -> CallToolResult {
    e.log();
    let mut error = json!({"code": e.code(), "message": e.public_message()});
    if let Some(field) = e.field() {
        error["field"] = json!(field);
    }
    if let AppError::AlreadyExists { id, .. } = e {
        error["existing_id"] = json!(id);
    }
    let mut r = CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        e.code(),
        e.public_message()
    ))]);
    r.structured_content = Some(json!({ "error": error }));
    r
}

/// Parses tool arguments as the API parses a JSON body: wrong types and unknown fields
/// are `bad_request` naming the field, invalid values `invalid`.
fn parse<T: DeserializeOwned>(args: &JsonObject) -> AppResult<T> {
    let bytes = serde_json::to_vec(args).map_err(|e| AppError::Internal(e.into()))?;
    crate::http::api::json::parse(&bytes)
}

/// Takes the id argument `field` out of the arguments (the rest is the body).
fn take_id(args: &mut JsonObject, field: &str) -> AppResult<String> {
    match args.remove(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(Value::String(_)) | None => {
            Err(AppError::invalid(field, format!("{field} is required")))
        }
        Some(_) => Err(AppError::BadRequestField {
            field: field.to_owned(),
            message: format!("{field} must be a string"),
        }),
    }
}

/// A serializable value as structured content.
fn to_value<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_object_schemas_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for d in TOOLS {
            assert!(names.insert(d.name), "{} twice", d.name);
            assert_eq!((d.input)()["type"], "object", "{}", d.name);
            assert_eq!((d.output)()["type"], "object", "{}", d.name);
        }
    }
}

//! JSON Schemas of the tools' inputs and outputs. Inputs list every argument the tool
//! takes (unknown ones are refused, as the API refuses unknown fields); outputs name the
//! fields an agent relies on and leave room for the rest of the API's JSON.

use serde_json::{Value, json};

fn input(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn output(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn integer(description: &str) -> Value {
    json!({"type": "integer", "description": description})
}

fn paging(mut props: Value) -> Value {
    props["page"] = json!({"type": "integer", "minimum": 1, "description": "page number, from 1"});
    props["per_page"] = json!({"type": "integer", "minimum": 1, "maximum": 100, "description": "items per page (default 20, at most 100)"});
    props
}

/// No arguments.
pub fn empty_input() -> Value {
    input(json!({}), &[])
}

/// Only paging.
pub fn page_input() -> Value {
    input(paging(json!({})), &[])
}

/// `{program_id}`.
pub fn program_get_input() -> Value {
    input(
        json!({"program_id": string("the program's id")}),
        &["program_id"],
    )
}

fn program_fields() -> Value {
    json!({
        "name": string("program name"),
        "currency": string("ISO 4217 code, e.g. USD"),
        "landing_url": {"type": ["string", "null"], "description": "where referral links lead"},
        "status": {"type": "string", "enum": ["active", "paused", "archived"]},
        "holding_period_days": integer("days a commission stays pending (0-365, default 30)"),
        "min_payout_cents": integer("smallest payout, minor units (default 5000)"),
        "cookie_duration_days": integer("1-730, default 30"),
        "attribution_model": {"type": "string", "enum": ["last_touch", "first_touch"]},
        "attribution_window_days": integer("default 30"),
        "auto_approve": {"type": "boolean", "description": "approve applications on submission"},
        "allow_self_referral": {"type": "boolean"},
        "allowed_domains": {"type": "array", "items": {"type": "string"}},
        "terms_text": string("terms shown on the application form"),
        "commission": {
            "type": "object",
            "description": "tagged union: {type: percentage, bps} | {type: flat, amount_cents} | {type: recurring, bps, max_cycles} | {type: tiered, bps, tiers: [{min_conversions, bps}]}, optional multi_level: [{level, bps}]",
            "properties": {"type": {"type": "string", "enum": ["percentage", "flat", "recurring", "tiered"]}},
            "required": ["type"]
        },
        "conversion_kind": {"type": "string", "enum": ["every_payment", "first_payment", "event"]},
        "conversion_event": {"type": ["string", "null"]},
        "platform_fee_bps": integer("fee deducted from each payout, basis points"),
        "payout_day": {"type": ["integer", "null"], "description": "day of the month payouts run by themselves"},
        "require_tax_details": {"type": "boolean", "description": "hold payouts until the affiliate gives its tax details"},
    })
}

/// A new program.
pub fn program_create_input() -> Value {
    input(program_fields(), &["name"])
}

/// `{program_id, ...changes}`.
pub fn program_update_input() -> Value {
    let mut props = program_fields();
    props["program_id"] = string("the program's id");
    input(props, &["program_id"])
}

/// A program.
pub fn program_output() -> Value {
    output(
        json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "currency": {"type": "string"},
            "status": {"type": "string"}, "commission": {"type": "object"},
            "terms_version": {"type": "integer"},
        }),
        &["id", "name", "currency", "status"],
    )
}

/// A new affiliate.
pub fn invite_input() -> Value {
    input(
        json!({
            "email": string("the affiliate's email (unique per vendor)"),
            "name": string("full name"),
            "first_name": string("first name"),
            "last_name": string("last name"),
            "company": {"type": ["string", "null"]},
            "website": {"type": ["string", "null"]},
            "code": string("referral code, 3-40 of a-z 0-9 - _ (generated when absent)"),
            "program_id": string("program to enroll in (default program when absent)"),
            "customer_id": {"type": ["string", "null"], "description": "the vendor's own customer id"},
            "send_invite": {"type": "boolean", "description": "email an invitation (default true)"},
        }),
        &["email"],
    )
}

/// `{affiliate_id}`.
pub fn affiliate_id_input() -> Value {
    input(
        json!({"affiliate_id": string("the affiliate's id")}),
        &["affiliate_id"],
    )
}

/// An affiliate.
pub fn affiliate_output() -> Value {
    output(
        json!({
            "id": {"type": "string"}, "email": {"type": "string"}, "status": {"type": "string"},
            "code": {"type": ["string", "null"]}, "enrollments": {"type": "array"},
        }),
        &["id", "email", "status"],
    )
}

/// Affiliate list filters.
pub fn affiliates_list_input() -> Value {
    input(
        paging(json!({
            "status": {"type": "string", "enum": ["invited", "active", "paused", "banned", "deactivated"]},
            "search": string("matches email, name or code"),
            "program_id": string("only affiliates enrolled in this program"),
            "sort": {"type": "string", "enum": ["-created_at", "created_at", "email", "name"]},
        })),
        &[],
    )
}

/// Application list filters.
pub fn applications_list_input() -> Value {
    input(
        paging(json!({"status": {"type": "string", "enum": ["pending", "approved", "rejected"]}})),
        &[],
    )
}

/// A review decision.
pub fn application_review_input() -> Value {
    input(
        json!({
            "application_id": string("the application's id"),
            "action": {"type": "string", "enum": ["approve", "reject"]},
            "code": string("referral code for an approval (generated when absent)"),
            "rejection_reason": string("why, for a rejection (emailed to the applicant)"),
        }),
        &["application_id", "action"],
    )
}

/// An application.
pub fn application_output() -> Value {
    output(
        json!({
            "id": {"type": "string"}, "status": {"type": "string"}, "email": {"type": "string"},
            "affiliate": {"type": "object"},
        }),
        &["id", "status"],
    )
}

/// Conversion list filters.
pub fn conversions_list_input() -> Value {
    input(
        paging(json!({
            "affiliate_id": string("only this affiliate's conversions"),
            "program_id": string("only this program's"),
            "customer_id": string("only this customer's"),
            "status": {"type": "string", "enum": ["pending", "approved", "rejected", "reversed"]},
        })),
        &[],
    )
}

/// A manual conversion.
pub fn conversion_report_input() -> Value {
    input(
        json!({
            "affiliate_id": string("the affiliate (or give code)"),
            "code": string("the affiliate's referral code (or give affiliate_id)"),
            "amount_cents": integer("sale amount in minor units"),
            "currency": string("ISO 4217 (the program's currency when absent)"),
            "external_id": string("your order id: a repeat is refused as a duplicate"),
            "program_id": string("the program (the affiliate's first when absent)"),
            "customer_id": string("the referred customer"),
        }),
        &["amount_cents"],
    )
}

/// `{conversion_id}`.
pub fn conversion_id_input() -> Value {
    input(
        json!({"conversion_id": string("the conversion's id")}),
        &["conversion_id"],
    )
}

/// `{conversion_id, reason?}`.
pub fn conversion_reject_input() -> Value {
    input(
        json!({"conversion_id": string("the conversion's id"), "reason": string("why")}),
        &["conversion_id"],
    )
}

/// A conversion.
pub fn conversion_output() -> Value {
    output(
        json!({
            "id": {"type": "string"}, "status": {"type": "string"},
            "amount_cents": {"type": "integer"}, "currency": {"type": "string"},
            "commissions": {"type": "array"},
        }),
        &["id", "status"],
    )
}

/// Analytics filters.
pub fn analytics_input() -> Value {
    input(
        json!({
            "program_id": string("one program (all when absent)"),
            "from": string("start date (YYYY-MM-DD or RFC 3339)"),
            "to": string("end date (YYYY-MM-DD or RFC 3339)"),
        }),
        &[],
    )
}

/// Totals and leaderboard.
pub fn analytics_output() -> Value {
    output(
        json!({"totals": {"type": "object"}, "leaderboard": {"type": "array"}}),
        &["totals", "leaderboard"],
    )
}

/// A payout run.
pub fn payout_run_input() -> Value {
    input(
        json!({
            "program_id": string("one program (every active program when absent)"),
            "currency": string("one currency"),
            "confirm": {"type": "boolean", "description": "false (default): a dry run that changes nothing; true: create the payouts (needs a key with write scope)"},
        }),
        &[],
    )
}

/// What a run did (or would do).
pub fn payout_run_output() -> Value {
    output(
        json!({"dry_run": {"type": "boolean"}, "runs": {"type": "array"}}),
        &["dry_run", "runs"],
    )
}

/// `{program_id?}`.
pub fn my_referral_input() -> Value {
    input(
        json!({"program_id": string("one of your programs (optional when you have one)")}),
        &[],
    )
}

/// Code and link.
pub fn referral_output() -> Value {
    output(
        json!({"code": {"type": "string"}, "referral_url": {"type": "string"},
               "promo_codes": {"type": "array", "items": {"type": "string"},
                               "description": "active promo codes: a sale naming one pays you"}}),
        &["code", "referral_url", "promo_codes"],
    )
}

/// Stats period.
pub fn my_stats_input() -> Value {
    input(
        json!({
            "period": {"type": "string", "enum": ["7d", "30d", "90d", "12m"]},
            "from": string("start (YYYY-MM-DD or RFC 3339) instead of a period"),
            "to": string("end (YYYY-MM-DD or RFC 3339)"),
            "program_id": string("one of your programs"),
            "bucket": {"type": "string", "enum": ["day", "week", "month"]},
        }),
        &[],
    )
}

/// Payout filters.
pub fn my_payouts_input() -> Value {
    input(
        paging(json!({
            "status": {"type": "string", "enum": ["pending", "processing", "paid", "failed"]},
            "currency": string("ISO 4217"),
        })),
        &[],
    )
}

/// A new link.
pub fn my_link_input() -> Value {
    input(
        json!({
            "name": string("what the link is for"),
            "slug": string("path after your code (generated when absent)"),
            "destination_url": string("where it leads (an allowed domain of the program)"),
            "sub_id": string("campaign / sub id"),
            "program_id": string("one of your programs"),
        }),
        &["name"],
    )
}

/// A link.
pub fn link_output() -> Value {
    output(
        json!({"id": {"type": "string"}, "url": {"type": "string"}}),
        &["id", "url"],
    )
}

/// A new deal.
pub fn my_deal_input() -> Value {
    input(
        json!({
            "lead_email": string("the lead's email"),
            "lead_name": string("the lead's name"),
            "company": string("the lead's company"),
            "notes": string("anything the vendor should know"),
            "program_id": string("one of your programs"),
        }),
        &["lead_email", "lead_name"],
    )
}

/// A deal.
pub fn deal_output() -> Value {
    output(
        json!({"id": {"type": "string"}, "status": {"type": "string"}}),
        &["id", "status"],
    )
}

/// A paged list.
pub fn list_output() -> Value {
    output(
        json!({
            "data": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
        }),
        &["data", "total", "page", "per_page"],
    )
}

/// `{data: [...]}`.
pub fn data_output() -> Value {
    output(
        json!({"data": {"type": "array", "items": {"type": "object"}}}),
        &["data"],
    )
}

/// Any object.
pub fn object_output() -> Value {
    output(json!({}), &[])
}

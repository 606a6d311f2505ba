//! Self-service tools (affiliate credentials): the affiliate is always the credential's —
//! no tool takes an affiliate id, and unknown arguments are refused. Each calls the
//! service the matching `/api/v1/me` handler calls.

use crate::domain::values::money::format_money;
use rmcp::model::JsonObject;
use serde::Deserialize;
use serde_json::json;

use super::{Outcome, parse, to_value};
use crate::db;
use crate::domain::access::self_service;
use crate::domain::attribution::deals::{self, DealInput};
use crate::domain::attribution::links::{self, LinkInput};
use crate::domain::earnings::affiliate_stats::{self, Period};
use crate::domain::earnings::ledger;
use crate::domain::payouts;
use crate::domain::values::Currency;
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::api::opt;
use crate::http::pagination::{List, PageQuery};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralArgs {
    program_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsArgs {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    program_id: Option<String>,
    bucket: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutsArgs {
    status: Option<String>,
    currency: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// Runs the self-service tool `name` for the credential's affiliate.
pub async fn call(
    state: &AppState,
    vendor_id: &str,
    affiliate_id: &str,
    name: &str,
    args: JsonObject,
) -> AppResult<Outcome> {
    let db = &state.db;
    let base_url = &state.sender.base_url;
    match name {
        "my_programs_list" => {
            let _: NoArgs = parse(&args)?;
            let data = self_service::programs(db, base_url, vendor_id, affiliate_id).await?;
            let n = data.len();
            Ok(Outcome::new(
                json!({"data": data}),
                format!("enrolled in {n} program(s)"),
            ))
        }
        "my_referral_get" => {
            let a: ReferralArgs = parse(&args)?;
            let v =
                self_service::referral(db, base_url, vendor_id, affiliate_id, opt(&a.program_id))
                    .await?;
            let mut summary = format!(
                "your referral link: {}",
                v["referral_url"].as_str().unwrap_or("")
            );
            let codes: Vec<&str> = v["promo_codes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            if !codes.is_empty() {
                summary.push_str(&format!("; your promo codes: {}", codes.join(", ")));
            }
            Ok(Outcome::new(v, summary))
        }
        "my_stats_get" => {
            let a: StatsArgs = parse(&args)?;
            let period = Period::parse(
                opt(&a.period),
                opt(&a.from),
                opt(&a.to),
                opt(&a.bucket),
                db::now_ms(),
            )?;
            let stats = affiliate_stats::for_period(
                db,
                vendor_id,
                affiliate_id,
                opt(&a.program_id),
                &period,
            )
            .await?;
            Ok(Outcome::new(
                to_value(&stats)?,
                "your clicks, referrals, conversions and earnings",
            ))
        }
        "my_balance_get" => {
            let _: NoArgs = parse(&args)?;
            let data = ledger::balances(db, vendor_id, affiliate_id).await?;
            // Amounts for people in each currency's decimals ("1500 JPY", "15.00 USD").
            let summary = if data.is_empty() {
                "no earnings yet".to_owned()
            } else {
                data.iter()
                    .map(|b| {
                        format!(
                            "{}: {} available, {} pending",
                            b.currency,
                            format_money(b.available_cents, &b.currency),
                            format_money(b.pending_cents, &b.currency)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let v = json!({"data": data});
            Ok(Outcome::new(v, summary))
        }
        "my_payouts_list" => {
            let a: PayoutsArgs = parse(&args)?;
            let page = PageQuery {
                page: a.page,
                per_page: a.per_page,
                limit: None,
            }
            .resolve()?;
            let currency = Currency::parse_optional("currency", opt(&a.currency))?;
            let filter = db::payouts::Filter {
                vendor_id,
                affiliate_id: Some(affiliate_id),
                run_id: None,
                status: payouts::parse_status(opt(&a.status))?,
                currency: currency.as_deref(),
            };
            let (rows, total) = payouts::list(db, &filter, page.per_page, page.offset()).await?;
            let data: Vec<_> = rows.iter().map(payouts::payout_json).collect();
            Ok(Outcome::new(
                to_value(&List::new(data, total, page))?,
                format!("{total} payout(s)"),
            ))
        }
        "my_link_create" => {
            let input: LinkInput = parse(&args)?;
            let link = links::create(db, base_url, vendor_id, affiliate_id, &input).await?;
            let v = to_value(&link)?;
            let summary = format!("created link {}", v["url"].as_str().unwrap_or(""));
            Ok(Outcome::new(v, summary))
        }
        "my_deal_register" => {
            let input: DealInput = parse(&args)?;
            let deal = deals::submit(db, vendor_id, affiliate_id, &input).await?;
            let v = to_value(&deal)?;
            let summary = format!(
                "registered deal {} (pending review)",
                v["id"].as_str().unwrap_or("")
            );
            Ok(Outcome::new(v, summary))
        }
        _ => Err(AppError::NotFound),
    }
}

//! The payouts API.
//!
//! `POST /api/v1/payouts/run` `{program_id?, currency?, dry_run?}`; `GET /api/v1/payouts`
//! (list envelope); `GET /api/v1/payouts/export?format=paypal|csv|json`;
//! `GET /api/v1/payouts/{id}` (with its commissions); `POST /api/v1/payouts/{id}/mark-paid`
//! `{reference?}`, `/mark-failed` `{reason}`, `/mark-processing`, `/send` (Stripe Connect);
//! `GET /api/v1/payout-runs[/{id}]` and the same actions for a whole run.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::db;
use crate::domain::payouts::{self, RunRequest, Trigger, export, stripe_connect};
use crate::domain::tenancy::api_keys::Scope;
use crate::domain::values::Currency;
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::json::parse_optional;
use crate::http::api::lazy_json::{Each, WithEntry};
use crate::http::api::opt;
use crate::http::pagination::{List, PageQuery};

/// Body of `POST /api/v1/payouts/run`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    program_id: Option<String>,
    currency: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/payouts/run` → 201 with the payouts created (200 for a dry run).
#[utoipa::path(
    post,
    path = "/api/v1/payouts/run",
    tag = "payouts",
    request_body(content = Option<RunInput>, content_type = "application/json"),
    responses(
        (status = 201, description = "The runs and the payouts they created", body = Object),
        (status = 200, description = "A dry run: what a run would create", body = Object),
    ),
    security(("api_key" = [])),
)]
pub async fn run(
    auth: ApiAuth,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let body: RunInput = parse_optional(&body)?;
    let req = RunRequest {
        program_id: body.program_id,
        currency: body.currency,
        dry_run: body.dry_run,
    };
    let runs = payouts::run(
        &state.db,
        auth.vendor_id(),
        &req,
        Trigger::Api,
        &auth.actor(),
    )
    .await?;
    let out = RunsJson::of(req.dry_run, &runs);
    Ok(if req.dry_run {
        HttpResponse::Ok().json(out)
    } else {
        HttpResponse::Created().json(out)
    })
}

/// Query of payout lists and exports.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    affiliate_id: Option<String>,
    run_id: Option<String>,
    #[param(pattern = "^(|pending|processing|paid|failed)$")]
    status: Option<String>,
    currency: Option<String>,
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
    /// Exports only.
    #[param(pattern = "^(|paypal|csv|json)$")]
    format: Option<String>,
}

impl ListQuery {
    fn filter<'a>(
        &'a self,
        vendor_id: &'a str,
        currency: Option<&'a str>,
    ) -> AppResult<db::payouts::Filter<'a>> {
        // The list and the export share these parameters, so both check all of them: a
        // bad `format` on the list or a bad `per_page` on the export is refused, not ignored.
        if let Some(f) = opt(&self.format)
            && !export::FORMATS.contains(&f)
        {
            return Err(crate::error::AppError::invalid(
                "format",
                format!("format must be one of: {}", export::FORMATS.join(", ")),
            ));
        }
        PageQuery {
            page: self.page,
            per_page: self.per_page,
            limit: self.limit,
        }
        .resolve()?;
        Ok(db::payouts::Filter {
            vendor_id,
            affiliate_id: opt(&self.affiliate_id),
            run_id: opt(&self.run_id),
            status: payouts::parse_status(opt(&self.status))?,
            currency,
        })
    }

    fn currency(&self) -> AppResult<Option<String>> {
        Currency::parse_optional("currency", self.currency.as_deref())
    }
}

/// `GET /api/v1/payouts?page&per_page&affiliate_id&run_id&status&currency`.
#[utoipa::path(
    get,
    path = "/api/v1/payouts",
    tag = "payouts",
    params(ListQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn list(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let currency = q.currency()?;
    let filter = q.filter(auth.vendor_id(), currency.as_deref())?;
    let (rows, total) = payouts::list(&state.db, &filter, page.per_page, page.offset()).await?;
    let data = rows.iter().map(payouts::payout_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/payouts/export?format=paypal|csv|json&run_id&status&currency&affiliate_id`.
#[utoipa::path(
    get,
    path = "/api/v1/payouts/export",
    tag = "payouts",
    params(ListQuery),
    responses((status = 200, description = "The file: CSV for `csv` and `paypal`, JSON for `json`", content(
        (String = "text/csv"),
        (Vec<Object> = "application/json"),
    ))),
    security(("api_key" = [])),
)]
pub async fn export(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let currency = q.currency()?;
    let filter = q.filter(auth.vendor_id(), currency.as_deref())?;
    let file = export::stream(&state.db, &filter, opt(&q.format).unwrap_or("csv")).await?;
    Ok(download_streamed(file))
}

/// A file download whose body is sent as it is produced (chunked transfer encoding).
pub fn download_streamed(file: export::Streamed) -> HttpResponse {
    use futures_util::StreamExt;
    HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.filename),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(file.body.map(|chunk| chunk.map(web::Bytes::from)))
}

/// A file download response.
pub fn download(file: export::File) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(file.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.filename),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(file.body)
}

/// `GET /api/v1/payouts/{id}`: the payout, its affiliate and the commissions it settles.
#[utoipa::path(
    get,
    path = "/api/v1/payouts/{id}",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let s = payouts::statement(&state.db, auth.vendor_id(), &id, None).await?;
    Ok(HttpResponse::Ok().json(statement_json(&s)))
}

/// Body of `mark-paid`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidInput {
    reference: Option<String>,
}

/// Body of `mark-failed`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedInput {
    reason: Option<String>,
}

/// `POST /api/v1/payouts/{id}/mark-paid` `{reference?}`.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/mark-paid",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<PaidInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn mark_paid(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let body: PaidInput = parse_optional(&body)?;
    let p = payouts::mark_paid(
        &state.db,
        &state.sender,
        auth.vendor_id(),
        &id,
        body.reference.as_deref(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(payouts::payout_json(&p)))
}

/// `POST /api/v1/payouts/{id}/mark-failed` `{reason}`: the money is available again.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/mark-failed",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<FailedInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn mark_failed(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let body: FailedInput = parse_optional(&body)?;
    let p = payouts::mark_failed(
        &state.db,
        &state.sender,
        auth.vendor_id(),
        &id,
        body.reason.as_deref(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(payouts::payout_json(&p)))
}

/// `POST /api/v1/payouts/{id}/mark-processing`.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/mark-processing",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn mark_processing(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let p = payouts::mark_processing(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(payouts::payout_json(&p)))
}

/// `POST /api/v1/payouts/{id}/send`: a Stripe Connect transfer (when turned on).
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/send",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn send(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let p = stripe_connect::send(
        &state.db,
        &state.sender,
        &state.stripe_connect,
        auth.vendor_id(),
        &id,
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(payouts::payout_json(&p)))
}

/// Query of `GET /api/v1/payout-runs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1)]
    per_page: Option<i64>,
    #[param(minimum = 1)]
    limit: Option<i64>,
}

/// `GET /api/v1/payout-runs`.
#[utoipa::path(
    get,
    path = "/api/v1/payout-runs",
    tag = "payouts",
    params(RunsQuery),
    responses((status = 200, description = "One page of the list", body = crate::http::openapi::ListPage)),
    security(("api_key" = [])),
)]
pub async fn runs(
    auth: ApiAuth,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<RunsQuery>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let page = PageQuery {
        page: q.page,
        per_page: q.per_page,
        limit: q.limit,
    }
    .resolve()?;
    let (rows, total) =
        payouts::runs(&state.db, auth.vendor_id(), page.per_page, page.offset()).await?;
    let data = rows.iter().map(run_json).collect();
    Ok(HttpResponse::Ok().json(List::new(data, total, page)))
}

/// `GET /api/v1/payout-runs/{id}`: the run and its payouts.
#[utoipa::path(
    get,
    path = "/api/v1/payout-runs/{id}",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn run_show(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let (run, rows) = payouts::run_detail(&state.db, auth.vendor_id(), &id).await?;
    Ok(HttpResponse::Ok().json(WithEntry {
        base: run_json(&run),
        key: "payout_list",
        value: Each(&rows, payouts::payout_json),
    }))
}

/// `POST /api/v1/payout-runs/{id}/mark-processing`.
#[utoipa::path(
    post,
    path = "/api/v1/payout-runs/{id}/mark-processing",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn run_processing(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let done = payouts::run_processing(&state.db, auth.vendor_id(), &id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// `POST /api/v1/payout-runs/{id}/mark-paid` `{reference?}`.
#[utoipa::path(
    post,
    path = "/api/v1/payout-runs/{id}/mark-paid",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    request_body(content = Option<PaidInput>, content_type = "application/json"),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn run_paid(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let body: PaidInput = parse_optional(&body)?;
    let done = payouts::run_paid(
        &state.db,
        &state.sender,
        auth.vendor_id(),
        &id,
        body.reference.as_deref(),
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(done))
}

/// `POST /api/v1/payout-runs/{id}/send`: every Stripe Connect payout of the run.
#[utoipa::path(
    post,
    path = "/api/v1/payout-runs/{id}/send",
    tag = "payouts",
    params(("id" = String, Path, description = "The object id")),
    responses((status = 200, description = "Success", body = Object)),
    security(("api_key" = [])),
)]
pub async fn run_send(
    auth: ApiAuth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    auth.require(Scope::Write)?;
    let sent = stripe_connect::send_run(
        &state.db,
        &state.sender,
        &state.stripe_connect,
        auth.vendor_id(),
        &id,
        &auth.actor(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "data": sent.iter().map(payouts::payout_json).collect::<Vec<_>>(),
    })))
}

/// A payout with its commissions, as API JSON.
pub fn statement_json(s: &payouts::Statement) -> serde_json::Value {
    let mut v = payouts::payout_json(&s.payout);
    v["affiliate"] =
        json!({"id": s.affiliate.id, "email": s.affiliate.email, "name": s.affiliate.name});
    v["commissions"] = s
        .commissions
        .iter()
        .map(crate::domain::earnings::conversions::commission_json)
        .collect();
    v
}

/// A run as API JSON.
pub fn run_json(r: &db::payouts::RunRow) -> serde_json::Value {
    json!({
        "id": r.id,
        "program_id": r.program_id,
        "currency": r.currency,
        "trigger": r.trigger_source,
        "schedule_key": r.schedule_key,
        "payouts": r.payouts,
        "created_by": r.created_by,
        "created_at": db::rfc3339(r.created_at),
    })
}

/// The answer of `POST /api/v1/payouts/run`: `{dry_run, runs}`, written payout by payout.
pub struct RunsJson<'a> {
    /// Whether nothing was created.
    pub dry_run: bool,
    /// One per program.
    pub runs: Vec<ProgramRunJson<'a>>,
}

impl<'a> RunsJson<'a> {
    /// The answer for `runs`.
    pub fn of(dry_run: bool, runs: &'a [payouts::ProgramRun]) -> Self {
        Self {
            dry_run,
            runs: runs.iter().map(ProgramRunJson::from).collect(),
        }
    }

    /// The same answer as a `Value` (the MCP tool's).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for RunsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Keys sorted, as a `Value` object writes them (see `lazy_json`).
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("dry_run", &self.dry_run)?;
        map.serialize_entry("runs", &self.runs)?;
        map.end()
    }
}

/// A run's result as API JSON, `{payouts, program_id, run, skipped}`: each payout (or,
/// dry, each planned payout) written when its turn comes (see `lazy_json`).
pub struct ProgramRunJson<'a> {
    program_id: &'a str,
    run: Option<&'a db::payouts::RunRow>,
    payouts: &'a [(Option<db::payouts::PayoutRow>, payouts::Planned)],
    skipped: &'a [payouts::Skipped],
}

impl<'a> From<&'a payouts::ProgramRun> for ProgramRunJson<'a> {
    fn from(r: &'a payouts::ProgramRun) -> Self {
        Self {
            program_id: &r.program.id,
            run: r.run.as_ref(),
            payouts: &r.payouts,
            skipped: &r.skipped,
        }
    }
}

impl Serialize for ProgramRunJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Keys sorted, as a `Value` object writes them (see `lazy_json`).
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry(
            "payouts",
            &Each(self.payouts, |(row, plan)| match row {
                Some(p) => payouts::payout_json(p),
                None => serde_json::to_value(plan).unwrap_or(Value::Null),
            }),
        )?;
        map.serialize_entry("program_id", self.program_id)?;
        map.serialize_entry("run", &self.run.map(run_json))?;
        map.serialize_entry(
            "skipped",
            &Each(self.skipped, |s| {
                serde_json::to_value(s).unwrap_or(Value::Null)
            }),
        )?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers written payout by payout are, byte for byte, what they were when the
    /// whole answer was built as one `Value` (the reference below is that code).
    #[test]
    fn lazy_run_answers_write_the_bytes_of_the_built_ones() {
        let payout = |n: i64| db::payouts::PayoutRow {
            id: format!("pay_{n}"),
            program_id: "prg_1".into(),
            run_id: "prun_1".into(),
            affiliate_id: format!("aff_{n}"),
            currency: "USD".into(),
            amount_cents: 1000 + n,
            commissions_cents: 1200,
            fee_bps: 250,
            fee_cents: 25,
            net_cents: 975 + n,
            method: "paypal".into(),
            destination: "a@b.test".into(),
            status: "pending".into(),
            reference: (n == 2).then(|| "ref \"2\"".into()),
            created_at: 1_700_000_000_000 + n,
            paid_at: (n == 1).then_some(1_700_000_100_000),
            ..Default::default()
        };
        let planned = |n: i64| payouts::Planned {
            affiliate_id: format!("aff_{n}"),
            affiliate_email: format!("{n}@x.test"),
            affiliate_name: "Ann \u{e9}".into(),
            currency: "EUR".into(),
            amount_cents: 500 * n,
            fee_bps: 0,
            fee_cents: 0,
            net_cents: 500 * n,
            method: "wise".into(),
            destination: "w@x.test".into(),
        };
        let run = db::payouts::RunRow {
            id: "prun_1".into(),
            program_id: "prg_1".into(),
            trigger_source: "api".into(),
            payouts: 2,
            created_by: Some("api_key:ak_1".into()),
            created_at: 1_700_000_000_000,
            ..Default::default()
        };
        let skipped = vec![payouts::Skipped {
            affiliate_id: "aff_9".into(),
            currency: "USD".into(),
            amount_cents: 12,
            reason: "below_minimum",
        }];
        let created = vec![(Some(payout(1)), planned(1)), (Some(payout(2)), planned(2))];
        let dry = vec![(None, planned(3)), (None, planned(4))];
        let runs = [
            ProgramRunJson {
                program_id: "prg_1",
                run: Some(&run),
                payouts: &created,
                skipped: &skipped,
            },
            ProgramRunJson {
                program_id: "prg_2",
                run: None,
                payouts: &dry,
                skipped: &[],
            },
        ];
        // The reference: how the answer was built before.
        let built = |r: &ProgramRunJson<'_>| {
            json!({
                "program_id": r.program_id,
                "run": r.run.map(run_json),
                "payouts": r.payouts.iter().map(|(row, plan)| match row {
                    Some(p) => payouts::payout_json(p),
                    None => serde_json::to_value(plan).unwrap_or(Value::Null),
                }).collect::<Vec<_>>(),
                "skipped": r.skipped,
            })
        };
        for dry_run in [true, false] {
            let lazy = serde_json::to_string(&RunsJson {
                dry_run,
                runs: runs
                    .iter()
                    .map(|r| ProgramRunJson {
                        program_id: r.program_id,
                        run: r.run,
                        payouts: r.payouts,
                        skipped: r.skipped,
                    })
                    .collect(),
            })
            .unwrap();
            let reference = json!({
                "dry_run": dry_run,
                "runs": runs.iter().map(built).collect::<Vec<_>>(),
            });
            assert_eq!(lazy, reference.to_string());
        }
        assert_eq!(
            serde_json::to_value(&runs[0]).unwrap(),
            built(&runs[0]),
            "the same as a `Value` (MCP)"
        );

        let rows = vec![payout(1), payout(2)];
        let detail = serde_json::to_string(&WithEntry {
            base: run_json(&run),
            key: "payout_list",
            value: Each(&rows, payouts::payout_json),
        })
        .unwrap();
        let mut reference = run_json(&run);
        reference["payout_list"] = rows.iter().map(payouts::payout_json).collect();
        assert_eq!(detail, reference.to_string());
    }
}

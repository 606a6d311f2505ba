//! Reports for the vendor: per affiliate or per program over whole UTC days, sortable by
//! each figure, paged, and as CSV; and the all-time figures the affiliates list shows
//! beside each affiliate (with its CSV export).

use std::collections::HashMap;

use crate::db::affiliates::{Filter, Sort};
use crate::db::{
    self, Db, DbKind,
    reports::{ReportOrder, ReportRow, ReportScope},
};
use crate::domain::earnings::affiliate_stats::Period;
use crate::domain::earnings::overview::Amount;
use crate::domain::partners::affiliates::{self, Affiliate};
use crate::domain::partners::terms::{format_amount, format_money};
use crate::domain::values::{Currency, csv};
use crate::error::{AppError, AppResult};

const DAY_MS: i64 = db::rollups::DAY_MS;
/// Affiliates read per statement while writing the affiliates list's CSV file.
const CSV_CHUNK: i64 = 1_000;

/// What a report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// One row per affiliate with activity in the period.
    Affiliate,
    /// One row per program.
    Program,
}

impl By {
    /// `affiliate` or `program`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affiliate => "affiliate",
            Self::Program => "program",
        }
    }
}

/// The sort keys a report accepts: a column, `-` first for largest first.
pub const SORTS: [&str; 5] = ["name", "clicks", "conversions", "revenue", "commission"];
/// The default order: most revenue first.
pub const DEFAULT_SORT: &str = "-revenue";

/// A parsed report request.
#[derive(Debug, Clone)]
pub struct Params {
    /// Per affiliate or per program.
    pub by: By,
    /// The period (whole UTC days).
    pub period: Period,
    /// Currency of the money columns.
    pub currency: String,
    /// Sort column.
    pub order: ReportOrder,
    /// Largest first.
    pub descending: bool,
    /// The sort as given back in links (`-revenue`).
    pub sort: String,
}

impl Params {
    /// Reads a request: `by` (`affiliate`, the default, or `program`), the period
    /// (`period` preset or `from`/`to` dates, see [`Period::parse`]; reports cover whole
    /// days), `sort` (one of [`SORTS`], `-` first for descending) and `currency` (the
    /// vendor's default when absent). Bad input is a 422 naming the field.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        by: Option<&str>,
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        sort: Option<&str>,
        currency: Option<&str>,
        default_currency: &str,
        now: i64,
    ) -> AppResult<Self> {
        let by = match crate::domain::values::text::choice("by", by, &["affiliate", "program"])? {
            Some("program") => By::Program,
            _ => By::Affiliate,
        };
        let period = Period::parse(period, from, to, None, now)?;
        if period.from.rem_euclid(DAY_MS) != 0 || period.to.rem_euclid(DAY_MS) != 0 {
            return Err(AppError::invalid(
                "from",
                "a report covers whole days: give from and to as dates (YYYY-MM-DD)",
            ));
        }
        let sort = sort
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_SORT);
        let (descending, key) = match sort.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, sort),
        };
        let order = match key {
            "name" => ReportOrder::Name,
            "clicks" => ReportOrder::Clicks,
            "conversions" => ReportOrder::Conversions,
            "revenue" => ReportOrder::Revenue,
            "commission" => ReportOrder::Commission,
            _ => {
                return Err(AppError::invalid(
                    "sort",
                    format!(
                        "sort must be one of: {} (with - first for largest first)",
                        SORTS.join(", ")
                    ),
                ));
            }
        };
        let currency = Currency::parse_optional("currency", currency)?
            .unwrap_or_else(|| default_currency.to_owned());
        Ok(Self {
            by,
            period,
            currency,
            order,
            descending,
            sort: sort.to_owned(),
        })
    }

    fn scope<'a>(&'a self, kind: DbKind, vendor_id: &'a str) -> ReportScope<'a> {
        ReportScope {
            kind,
            vendor_id,
            from_day: self.period.from.div_euclid(DAY_MS),
            to_day: self.period.to.div_euclid(DAY_MS),
            currency: &self.currency,
        }
    }
}

/// One page of a report, and whether more rows follow it.
///
/// A page of the per-affiliate report is first looked for among the affiliates that can
/// reach it ([`db::report_search`]); the whole period is grouped only when that search
/// gives up. The report does not count its rows: counting the affiliates active in a
/// period would group the period every time.
pub async fn page(
    db: &Db,
    vendor_id: &str,
    p: &Params,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ReportRow>, bool)> {
    let pool = db.pool();
    let s = p.scope(db.kind(), vendor_id);
    if p.by == By::Affiliate
        && let Some(found) =
            db::report_search::page(pool, &s, p.order, p.descending, limit, offset).await?
    {
        return Ok(found);
    }
    // One row past the page says whether another follows.
    let mut rows = all_rows(db, vendor_id, p, limit.saturating_add(1), offset).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// Rows of a report from grouping the whole period (every row with `limit = i64::MAX`).
async fn all_rows(
    db: &Db,
    vendor_id: &str,
    p: &Params,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<ReportRow>> {
    let pool = db.pool();
    let s = p.scope(db.kind(), vendor_id);
    Ok(match p.by {
        By::Affiliate => {
            db::reports::affiliate_report(pool, &s, p.order, p.descending, limit, offset).await?
        }
        By::Program => {
            db::reports::program_report(pool, &s, p.order, p.descending, limit, offset).await?
        }
    })
}

/// Every row of a report as CSV, in the report's order, with a header.
pub async fn csv(db: &Db, vendor_id: &str, p: &Params) -> AppResult<String> {
    let mut out = match p.by {
        By::Affiliate => csv::row(&[
            "affiliate_id",
            "name",
            "email",
            "clicks",
            "conversions",
            "revenue",
            "commission",
            "currency",
        ]),
        By::Program => csv::row(&[
            "program_id",
            "name",
            "clicks",
            "conversions",
            "revenue",
            "commission",
            "currency",
        ]),
    };
    // One grouping of the period for the whole file: paging it would group it again for
    // every chunk.
    let rows = all_rows(db, vendor_id, p, i64::MAX, 0).await?;
    for r in &rows {
        let (clicks, conversions) = (r.clicks.to_string(), r.conversions.to_string());
        let (revenue, commission) = (
            format_amount(r.revenue_cents, &p.currency),
            format_amount(r.commission_cents, &p.currency),
        );
        out.push_str(&match p.by {
            By::Affiliate => csv::row(&[
                &r.id,
                &r.name,
                &r.email,
                &clicks,
                &conversions,
                &revenue,
                &commission,
                &p.currency,
            ]),
            By::Program => csv::row(&[
                &r.id,
                &r.name,
                &clicks,
                &conversions,
                &revenue,
                &commission,
                &p.currency,
            ]),
        });
    }
    Ok(out)
}

/// An affiliate's all-time figures, for the affiliates list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllTime {
    /// Counted clicks.
    pub clicks: i64,
    /// Conversions not rejected.
    pub conversions: i64,
    /// Net revenue per currency.
    pub revenue: Vec<Amount>,
    /// Commission earned and kept per currency.
    pub commission: Vec<Amount>,
}

/// The all-time figures of each of `ids` (a page of a list: a few indexed lookups each).
pub async fn all_time(
    db: &Db,
    vendor_id: &str,
    ids: &[&str],
) -> AppResult<HashMap<String, AllTime>> {
    let pool = db.pool();
    let mut out: HashMap<String, AllTime> = ids
        .iter()
        .map(|id| ((*id).to_owned(), AllTime::default()))
        .collect();
    for c in db::reports::clicks_of(pool, db.kind(), vendor_id, ids, None).await? {
        if let Some(a) = out.get_mut(&c.affiliate_id) {
            a.clicks += c.n;
        }
    }
    for r in db::reports::revenue_of(pool, vendor_id, ids, None).await? {
        if let Some(a) = out.get_mut(&r.affiliate_id) {
            a.conversions += r.n;
            a.revenue.push(Amount {
                currency: r.currency,
                cents: r.cents,
            });
        }
    }
    for c in db::reports::commission_of(pool, vendor_id, ids, None).await? {
        if let Some(a) = out.get_mut(&c.affiliate_id) {
            a.commission.push(Amount {
                currency: c.currency,
                cents: c.cents,
            });
        }
    }
    for a in out.values_mut() {
        a.revenue.sort_by(|x, y| x.currency.cmp(&y.currency));
        a.commission.sort_by(|x, y| x.currency.cmp(&y.currency));
    }
    Ok(out)
}

/// Amounts as "12.50 EUR; 3.00 USD" (empty for none).
pub fn describe(amounts: &[Amount]) -> String {
    amounts
        .iter()
        .map(|a| format_money(a.cents, &a.currency))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every affiliate matching `filter` (in the list's order) with its all-time figures, as
/// CSV with a header.
pub async fn affiliates_csv(
    db: &Db,
    vendor_id: &str,
    filter: &Filter<'_>,
    sort: Sort,
) -> AppResult<String> {
    let mut out = csv::row(&[
        "affiliate_id",
        "name",
        "email",
        "codes",
        "status",
        "joined",
        "clicks",
        "conversions",
        "revenue",
        "commission",
    ]);
    let mut offset = 0;
    loop {
        let found = affiliates::rows(db, vendor_id, filter, sort, CSV_CHUNK, offset).await?;
        let ids: Vec<&str> = found.iter().map(|a| a.row.id.as_str()).collect();
        let figures = all_time(db, vendor_id, &ids).await?;
        for a in &found {
            out.push_str(&affiliate_line(a, figures.get(&a.row.id)));
        }
        if (found.len() as i64) < CSV_CHUNK {
            break;
        }
        offset += CSV_CHUNK;
    }
    Ok(out)
}

fn affiliate_line(a: &Affiliate, f: Option<&AllTime>) -> String {
    let f = f.cloned().unwrap_or_default();
    let codes = a
        .enrollments
        .iter()
        .map(|e| e.code.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    csv::row(&[
        &a.row.id,
        &a.row.name,
        &a.row.email,
        &codes,
        &a.row.status,
        &db::from_ms(a.row.created_at).format("%Y-%m-%d").to_string(),
        &f.clicks.to_string(),
        &f.conversions.to_string(),
        &describe(&f.revenue),
        &describe(&f.commission),
    ])
}

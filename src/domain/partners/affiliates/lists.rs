//! Listing a vendor's affiliates: filters, sort order and pages (API and dashboard).

use crate::db::affiliates::{Filter, Sort};
use crate::db::{self, Db};
use crate::domain::partners::affiliates::{Affiliate, STATUSES};
use crate::error::{AppError, AppResult};

/// Parses `?sort=`: `created_at` (oldest first), `-created_at` (default), `email`, `name`.
pub fn parse_sort(raw: Option<&str>) -> AppResult<Sort> {
    match raw.unwrap_or("-created_at") {
        "-created_at" => Ok(Sort::Newest),
        "created_at" => Ok(Sort::Oldest),
        "email" => Ok(Sort::Email),
        "name" => Ok(Sort::Name),
        _ => Err(AppError::invalid(
            "sort",
            "sort must be -created_at, created_at, email or name",
        )),
    }
}

/// Validates the list filters shared by the API and the dashboard.
pub fn parse_filter<'a>(
    status: Option<&'a str>,
    search: Option<&'a str>,
    program_id: Option<&'a str>,
) -> AppResult<Filter<'a>> {
    let status = status.filter(|s| !s.is_empty());
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(AppError::invalid(
            "status",
            format!("status must be one of: {}", STATUSES.join(", ")),
        ));
    }
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::invalid(
            "search",
            "search is longer than 200 characters",
        ));
    }
    Ok(Filter {
        status,
        search,
        program_id: program_id.filter(|p| !p.is_empty()),
    })
}

/// One page of a vendor's affiliates matching `filter`, with their enrollments, and the
/// number of matches.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    filter: &Filter<'_>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Affiliate>, i64)> {
    let found = rows(db, vendor_id, filter, sort, limit, offset).await?;
    // A page that is not full is the last one: it tells the total without counting (a
    // search's matches usually fit on its first page, and counting is a second scan).
    let shown = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let total = if shown < limit && (shown > 0 || offset == 0) {
        offset.saturating_add(shown)
    } else {
        db::affiliates::count(db.pool(), vendor_id, filter).await?
    };
    Ok((found, total))
}

/// One page of [`list`] without the count (exports walk every page and need no total).
/// Two statements whatever the page size: the affiliates, then all their enrollments.
pub async fn rows(
    db: &Db,
    vendor_id: &str,
    filter: &Filter<'_>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<Affiliate>> {
    let pool = db.pool();
    let rows = db::affiliates::page(pool, vendor_id, filter, sort, limit, offset).await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut by_affiliate: std::collections::HashMap<String, Vec<db::affiliates::EnrollmentRow>> =
        std::collections::HashMap::new();
    for e in db::affiliates::enrollments_of_many(pool, vendor_id, &ids).await? {
        by_affiliate
            .entry(e.affiliate_id.clone())
            .or_default()
            .push(e);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let enrollments = by_affiliate.remove(&row.id).unwrap_or_default();
            Affiliate { row, enrollments }
        })
        .collect())
}

/// Longest picker search term (an email address is at most 254 characters).
const SEARCH_MAX: usize = 254;

/// Suggestions for an affiliate picker: up to `limit` of the vendor's affiliates whose
/// email, name or referral code contains `term` (a whole email address is matched exactly),
/// by name. No count is taken: a picker needs the first few, fast at any size.
pub async fn suggest(
    db: &Db,
    vendor_id: &str,
    term: &str,
    limit: i64,
) -> AppResult<Vec<db::affiliates::AffiliateRow>> {
    let term = term.trim();
    // Nothing longer than an email address names an affiliate; a longer term would only
    // make a costly (on SQLite, refused) LIKE pattern.
    if term.is_empty() || term.chars().count() > SEARCH_MAX {
        return Ok(Vec::new());
    }
    let filter = Filter {
        search: Some(term),
        ..Filter::default()
    };
    Ok(db::affiliates::page(db.pool(), vendor_id, &filter, Sort::Name, limit, 0).await?)
}

/// The one affiliate a typed name, email or code names (a form sent without the picker's
/// script): an exact email, or the only match. `None` when nothing or several match.
pub async fn pick(
    db: &Db,
    vendor_id: &str,
    term: &str,
) -> AppResult<Option<db::affiliates::AffiliateRow>> {
    let mut found = suggest(db, vendor_id, term, 2).await?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// One of the vendor's affiliates by id (`None` for another vendor's or an unknown id).
pub async fn find(
    db: &Db,
    vendor_id: &str,
    id: &str,
) -> AppResult<Option<db::affiliates::AffiliateRow>> {
    Ok(db::affiliates::by_id(db.pool(), vendor_id, id).await?)
}

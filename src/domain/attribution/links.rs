//! Extra referral links: an active affiliate's campaign links (`/r/{code}/{slug}`) with
//! their own destination on the program's domains and a sub-id, with their figures.
//!
//! A link's name, destination and sub-id can be changed; its slug (its URL) cannot.
//! Archiving hides a link from its affiliate's list but it keeps redirecting and counting:
//! a link already published never breaks. Figures per link come from the click log (clicks
//! record their link) and, for referrals, conversions and commissions, through the
//! referral's winning click.

use serde::{Deserialize, Serialize};

use crate::db::{self, Db, affiliates::EnrollmentRow, links::LinkRow, links::NewLink};
use crate::domain::attribution::tracking;
use crate::domain::values::destination::Domains;
use crate::domain::values::status;
use crate::domain::{values::slug, values::text};
use crate::error::{AppError, AppResult};

/// Longest slug.
const SLUG_MAX: usize = 40;
/// Longest sub-id.
const SUB_ID_MAX: usize = 100;
/// Links one affiliate may hold.
const LINKS_MAX: i64 = 200;

/// The request body of `POST /api/v1/me/links`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// The program (the affiliate's first enrollment when absent).
    pub program_id: Option<String>,
    /// Campaign name.
    pub name: String,
    /// Path segment; derived from the name when absent.
    pub slug: Option<String>,
    /// Where the link leads (the program's landing URL when absent); must be on one of
    /// the program's domains.
    pub destination_url: Option<String>,
    /// The affiliate's own tracking id.
    pub sub_id: Option<String>,
}

/// A link as shown to its affiliate and the vendor.
#[derive(Debug, Serialize)]
pub struct Link {
    /// `lnk_...`
    pub id: String,
    /// Program.
    pub program_id: String,
    /// Campaign name.
    pub name: String,
    /// Path segment.
    pub slug: String,
    /// The shareable URL.
    pub url: String,
    /// Where it leads (`null`: the program's landing URL).
    pub destination_url: Option<String>,
    /// Sub-id.
    pub sub_id: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Whether it is archived: hidden from the list, still redirecting.
    pub archived: bool,
    /// When it was archived (RFC 3339), `null` when it is not.
    pub archived_at: Option<String>,
    /// What it brought.
    pub stats: LinkStats,
}

/// What one link brought, all time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Counted clicks (bots and repeats within 30 s left out).
    pub clicks: i64,
    /// Customers referred through it (their winning click came through the link).
    pub referrals: i64,
    /// Their conversions, pending or approved.
    pub conversions: i64,
    /// The affiliate's commission on them per currency, net of refunds; rejected ones
    /// left out.
    pub commissions: Vec<LinkAmount>,
}

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkAmount {
    /// Minor units.
    pub amount_cents: i64,
    /// ISO 4217.
    pub currency: String,
}

impl LinkStats {
    /// The commissions for people: "12.50 USD, 3.00 EUR", or "none".
    pub fn commission_text(&self) -> String {
        if self.commissions.is_empty() {
            return "none".into();
        }
        self.commissions
            .iter()
            .map(|a| crate::domain::partners::terms::format_money(a.amount_cents, &a.currency))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The body of `PATCH /api/v1/me/links/{id}`: an absent field stays as it is.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkUpdate {
    /// Campaign name.
    pub name: Option<String>,
    /// Where the link leads, on one of the program's domains; `null` or empty: the
    /// program's landing URL.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub destination_url: Option<Option<String>>,
    /// The affiliate's own tracking id; `null` or empty clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub sub_id: Option<Option<String>>,
}

/// The affiliate's enrollment in `program_id` (or its first), which must be active.
pub async fn active_enrollment(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    program_id: Option<&str>,
    what: &str,
) -> AppResult<EnrollmentRow> {
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id).await?;
    let enrollment = match program_id {
        Some(p) => enrollments.into_iter().find(|e| e.program_id == p),
        None => enrollments.into_iter().next(),
    }
    .ok_or_else(|| AppError::invalid("program_id", "you are not enrolled in this program"))?;
    if !status::is_active(&enrollment.status) {
        return Err(AppError::wrong_state(format!(
            "only active affiliates can {what}; this enrollment is {}",
            enrollment.status
        )));
    }
    Ok(enrollment)
}

/// Creates a link for the affiliate. Slug taken → 409; destination off the program's
/// domains → 422.
pub async fn create(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    input: &LinkInput,
) -> AppResult<Link> {
    let enrollment = active_enrollment(
        db,
        vendor_id,
        affiliate_id,
        input.program_id.as_deref(),
        "create links",
    )
    .await?;
    let name = text::required("name", &input.name, text::NAME_MAX)?;
    let link_slug = match input
        .slug
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => parse_slug(s)?,
        None => slug::slugify(&name, SLUG_MAX, "link"),
    };
    let sub_id = text::optional("sub_id", input.sub_id.as_deref(), SUB_ID_MAX)?;
    let program = db::programs::by_id(db.pool(), vendor_id, &enrollment.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let destination = match input
        .destination_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => Some(parse_destination(raw, &program)?),
        None => None,
    };
    if db::links::count_for_affiliate(db.pool(), vendor_id, affiliate_id).await? >= LINKS_MAX {
        return Err(AppError::wrong_state(format!(
            "an affiliate can hold at most {LINKS_MAX} links"
        )));
    }
    let id = db::links::insert(
        db.pool(),
        &NewLink {
            vendor_id,
            enrollment_id: &enrollment.id,
            affiliate_id,
            program_id: &enrollment.program_id,
            slug: &link_slug,
            name: &name,
            destination_url: destination.as_deref(),
            sub_id: sub_id.as_deref(),
        },
    )
    .await
    .map_err(|e| match db::unique_violation_field(&e) {
        Some(_) => AppError::duplicate("slug", "you already have a link with this slug"),
        None => e.into(),
    })?;
    let row = db::links::by_id(db.pool(), vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let domain = portal_domain(db, vendor_id).await?;
    Ok(to_link(
        row,
        base_url,
        domain.as_deref(),
        LinkStats::default(),
    ))
}

/// The affiliate's links with their figures, newest first; archived ones only when
/// `include_archived`.
pub async fn list(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    include_archived: bool,
) -> AppResult<Vec<Link>> {
    let rows = db::links::for_affiliate(db.pool(), vendor_id, affiliate_id).await?;
    let listed = rows
        .iter()
        .any(|r| include_archived || r.archived_at.is_none());
    if !listed {
        // The figures join the affiliate's whole history to its clicks: a busy affiliate
        // without links would pay for them (86 ms at full scale) to list nothing.
        return Ok(Vec::new());
    }
    let domain = portal_domain(db, vendor_id).await?;
    let mut stats = stats_of(db, vendor_id, affiliate_id).await?;
    Ok(rows
        .into_iter()
        .filter(|r| include_archived || r.archived_at.is_none())
        .map(|r| {
            let s = stats.remove(&r.id).unwrap_or_default();
            to_link(r, base_url, domain.as_deref(), s)
        })
        .collect())
}

/// How many of the affiliate's links are archived.
pub async fn archived_count(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<usize> {
    Ok(db::links::for_affiliate(db.pool(), vendor_id, affiliate_id)
        .await?
        .iter()
        .filter(|r| r.archived_at.is_some())
        .count())
}

/// One link of the affiliate with its figures; another affiliate's (or vendor's) is 404.
pub async fn get(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
) -> AppResult<Link> {
    let row = db::links::of_affiliate(db.pool(), vendor_id, affiliate_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut stats = stats_of(db, vendor_id, affiliate_id).await?;
    let domain = portal_domain(db, vendor_id).await?;
    let s = stats.remove(&row.id).unwrap_or_default();
    Ok(to_link(row, base_url, domain.as_deref(), s))
}

/// Changes a link's name, destination (on the program's domains, like at creation) or
/// sub-id. Validated as a whole first: a refused value changes nothing. The URL stays.
pub async fn update(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
    input: &LinkUpdate,
) -> AppResult<Link> {
    let row = db::links::of_affiliate(db.pool(), vendor_id, affiliate_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let name = match &input.name {
        Some(n) => text::required("name", n, text::NAME_MAX)?,
        None => row.name.clone(),
    };
    let destination = match &input.destination_url {
        None => row.destination_url.clone(),
        Some(raw) => match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => {
                let program = db::programs::by_id(db.pool(), vendor_id, &row.program_id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                Some(parse_destination(raw, &program)?)
            }
        },
    };
    let sub_id = match &input.sub_id {
        None => row.sub_id.clone(),
        Some(raw) => text::optional("sub_id", raw.as_deref(), SUB_ID_MAX)?,
    };
    if !db::links::update(
        db.pool(),
        vendor_id,
        affiliate_id,
        id,
        &name,
        destination.as_deref(),
        sub_id.as_deref(),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    get(db, base_url, vendor_id, affiliate_id, id).await
}

/// Archives a link (`archived`) or brings it back. Archived links keep redirecting and
/// counting; they are only left out of the list.
pub async fn set_archived(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
    id: &str,
    archived: bool,
) -> AppResult<Link> {
    let at = archived.then(db::now_ms);
    if !db::links::set_archived(db.pool(), vendor_id, affiliate_id, id, at).await? {
        return Err(AppError::NotFound);
    }
    get(db, base_url, vendor_id, affiliate_id, id).await
}

/// Figures of every link of an affiliate, by link id: four grouped queries, each reading
/// only this affiliate's rows through an index (see `db::links::click_counts`).
async fn stats_of(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<std::collections::HashMap<String, LinkStats>> {
    let mut out: std::collections::HashMap<String, LinkStats> = Default::default();
    for (link, n) in db::links::click_counts(db.pool(), vendor_id, affiliate_id).await? {
        out.entry(link).or_default().clicks = n;
    }
    for (link, n) in db::links::referral_counts(db.pool(), vendor_id, affiliate_id).await? {
        out.entry(link).or_default().referrals = n;
    }
    for (link, n) in db::links::conversion_counts(db.pool(), vendor_id, affiliate_id).await? {
        out.entry(link).or_default().conversions = n;
    }
    for (link, currency, cents) in
        db::links::commission_sums(db.pool(), vendor_id, affiliate_id).await?
    {
        out.entry(link).or_default().commissions.push(LinkAmount {
            amount_cents: cents,
            currency,
        });
    }
    Ok(out)
}

/// The vendor's first portal domain, where its referral links are served.
pub async fn portal_domain(db: &Db, vendor_id: &str) -> AppResult<Option<String>> {
    Ok(db::vendors::domains(db.pool(), vendor_id)
        .await?
        .into_iter()
        .next())
}

fn to_link(r: LinkRow, base_url: &str, domain: Option<&str>, stats: LinkStats) -> Link {
    Link {
        archived: r.archived_at.is_some(),
        archived_at: r.archived_at.map(db::rfc3339),
        stats,
        url: tracking::referral_url(base_url, domain, &r.code, Some(&r.slug)),
        id: r.id,
        program_id: r.program_id,
        name: r.name,
        slug: r.slug,
        destination_url: r.destination_url,
        sub_id: r.sub_id,
        created_at: db::rfc3339(r.created_at),
    }
}

fn parse_slug(raw: &str) -> AppResult<String> {
    tracking::normalize_slug(raw)
        .ok_or_else(|| AppError::invalid("slug", "slugs are 1-40 characters of a-z, 0-9, - and _"))
}

fn parse_destination(raw: &str, program: &db::programs::ProgramRow) -> AppResult<String> {
    let url = text::http_url("destination_url", raw)?;
    let domains = Domains::from_stored(program.landing_url.as_deref(), &program.allowed_domains);
    if !domains.allows(&url) {
        return Err(AppError::invalid(
            "destination_url",
            format!(
                "destination_url must be on one of the program's domains: {}",
                domains.describe()
            ),
        ));
    }
    Ok(url.to_string())
}

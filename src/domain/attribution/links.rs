//! Extra referral links: an active affiliate's campaign links (`/r/{code}/{slug}`) with
//! their own destination on the program's domains and a sub-id.

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
    Ok(to_link(row, base_url, domain.as_deref()))
}

/// The affiliate's links, newest first.
pub async fn list(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<Vec<Link>> {
    let rows = db::links::for_affiliate(db.pool(), vendor_id, affiliate_id).await?;
    let domain = portal_domain(db, vendor_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| to_link(r, base_url, domain.as_deref()))
        .collect())
}

/// The vendor's first portal domain, where its referral links are served.
pub async fn portal_domain(db: &Db, vendor_id: &str) -> AppResult<Option<String>> {
    Ok(db::vendors::domains(db.pool(), vendor_id)
        .await?
        .into_iter()
        .next())
}

fn to_link(r: LinkRow, base_url: &str, domain: Option<&str>) -> Link {
    Link {
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

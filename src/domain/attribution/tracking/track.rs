//! `POST /api/v1/track`: a click reported by the tracking snippet (a visitor landed with
//! `?ref=` but not through `/r/`) or by the vendor's backend.

use serde::{Deserialize, Serialize};

use crate::db::{self, Db};
use crate::domain::attribution::tracking::{Tracker, Visit, is_click_id};
use crate::domain::partners::affiliates;
use crate::domain::values::host;
use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackInput {
    /// The referral code from `?ref=` (or `?via=`).
    #[schema(pattern = "^[a-z0-9_-]{3,40}$")]
    pub code: String,
    /// The page the visitor landed on.
    pub url: String,
    /// A click id the caller already holds; returned as is when it is a stored click of
    /// this code.
    pub aff_sess: Option<String>,
    /// `document.referrer`.
    pub referrer: Option<String>,
}

/// Who reports the click.
#[derive(Debug, Clone, Copy)]
pub enum Reporter<'a> {
    /// The vendor's backend, by API key: only its own codes.
    Vendor(&'a str),
    /// A browser without credentials: any code, from the program's own origins only,
    /// throttled per visitor and code.
    Browser {
        /// The `Origin` header, when the browser sent one.
        origin: Option<&'a str>,
    },
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct Tracked {
    /// The click id to keep as `aff_sess`; `null` when the code does not attribute.
    pub click_id: Option<String>,
    /// Whether the visit counts for the affiliate.
    pub attributed: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Records (or confirms) a click and returns its id.
pub async fn track(
    tracker: &Tracker,
    db: &Db,
    input: &TrackInput,
    reporter: Reporter<'_>,
    visit: &Visit<'_>,
) -> AppResult<Tracked> {
    let code = affiliates::parse_code("code", &input.code)?;
    let url = text::http_url("url", &input.url)?;
    if let Some(s) = &input.aff_sess
        && !is_click_id(s)
    {
        return Err(AppError::invalid("aff_sess", "aff_sess is not a click id"));
    }
    let target = tracker
        .cache
        .code(db, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let source = match reporter {
        Reporter::Vendor(vendor_id) => {
            if target.vendor_id != vendor_id {
                return Err(AppError::NotFound);
            }
            "api"
        }
        Reporter::Browser { origin } => {
            if let Some(origin) = origin
                && !target.domains.allows_origin(origin)
                && !host::origin_listed(&target.site_origins, origin)
            {
                return Err(AppError::Forbidden(
                    "this origin is not one of the program's domains".into(),
                ));
            }
            // A page on one of the vendor's site origins counts like one on the program's
            // own domains.
            if !target.domains.allows(&url)
                && !host::origin_listed(&target.site_origins, &url.origin().ascii_serialization())
            {
                return Err(AppError::invalid(
                    "url",
                    format!(
                        "url must be on one of the program's domains: {}",
                        target.domains.describe()
                    ),
                ));
            }
            let ip_hash = tracker.visitors.ip_hash(visit.ip, db::now_ms());
            tracker
                .visitors
                .throttle_track(&ip_hash, &code, db::now_ms())
                .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
            "snippet"
        }
    };
    if !target.attributable {
        return Ok(Tracked {
            click_id: None,
            attributed: false,
            reason: Some("inactive"),
        });
    }
    if let Some(existing) = &input.aff_sess
        && stored_click(tracker, db, &target.vendor_id, existing)
            .await?
            .is_some_and(|c| c.code == code)
    {
        return Ok(Tracked {
            click_id: Some(existing.clone()),
            attributed: true,
            reason: None,
        });
    }
    let visit = Visit {
        referrer: input.referrer.as_deref().or(visit.referrer),
        ..*visit
    };
    let click_id = tracker
        .record_click(&target, None, url.as_str(), &visit, source, None)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(Tracked {
        click_id: Some(click_id),
        attributed: true,
        reason: None,
    })
}

/// Whether a browser origin may call the click API: on an active program's domains or
/// among a vendor's site origins (the CORS preflight; the POST itself then checks the
/// code's own program and vendor). Cached, see [`super::cache::LinkCache::origin_allowed`].
pub async fn origin_allowed(tracker: &Tracker, db: &Db, origin: &str) -> Result<bool, sqlx::Error> {
    tracker.cache.origin_allowed(db, origin).await
}

/// A stored click of a vendor. Clicks are written asynchronously, so a miss first waits
/// for this process's queue to drain (the click may have been recorded a moment ago).
pub async fn stored_click(
    tracker: &Tracker,
    db: &Db,
    vendor_id: &str,
    click_id: &str,
) -> Result<Option<db::clicks::ClickRow>, sqlx::Error> {
    if let Some(c) = db::clicks::by_id(db.pool(), vendor_id, click_id).await? {
        return Ok(Some(c));
    }
    tracker.clicks.flush().await;
    db::clicks::by_id(db.pool(), vendor_id, click_id).await
}

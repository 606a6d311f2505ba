//! Tracking: where a referral link leads, how its clicks are recorded, and the visitor
//! facts (hashed address, bot, repeat click) stored with them.
//!
//! The referral redirect is the hottest path of the installation, so it touches the
//! database only on a cache miss: [`cache::LinkCache`] maps codes and links to their targets,
//! and [`writer::ClickWriter`] stores clicks in batches off the request path.

pub mod cache;
pub mod journal;
pub mod params;
pub mod redirect;
pub mod spill;
pub mod track;
pub mod visitor;
pub mod writer;

use std::sync::Arc;

use crate::db::{self, Db, clicks::ClickRow};

pub use cache::{LinkCache, Target};
pub use visitor::Visitors;
pub use writer::{ClickStats, ClickWriter, Lost, WriterConfig};

/// Tracking state shared by every request of one process.
#[derive(Debug)]
pub struct Tracker {
    /// Code → target cache.
    pub cache: LinkCache,
    /// Asynchronous click storage.
    pub clicks: Arc<ClickWriter>,
    /// Address hashing, repeat-click and throttling windows.
    pub visitors: Visitors,
}

impl Tracker {
    /// Starts the click writer (needs a Tokio runtime).
    pub fn start(db: Db, secret: &[u8], clicks: WriterConfig) -> Self {
        Self {
            cache: LinkCache::default(),
            clicks: ClickWriter::start(db, clicks),
            visitors: Visitors::new(secret),
        }
    }
}

/// Length of a click id: `clk_` and a lower-case ULID.
const CLICK_ID_LEN: usize = 30;

/// Whether `raw` has the shape of a click id (`aff_sess`).
pub fn is_click_id(raw: &str) -> bool {
    raw.len() == CLICK_ID_LEN
        && raw.starts_with("clk_")
        && raw[4..]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// The public referral URL of a code (and link): on the vendor's portal domain when it has
/// one, else on the main host. `/r/` is served on both.
pub fn referral_url(
    base_url: &str,
    portal_domain: Option<&str>,
    code: &str,
    slug: Option<&str>,
) -> String {
    let root = crate::domain::tenancy::vendors::site_root(base_url, portal_domain);
    match slug {
        Some(s) => format!("{root}/r/{code}/{s}"),
        None => format!("{root}/r/{code}"),
    }
}

// The code and link-slug rules are value rules (partners validate codes too).
pub use crate::domain::values::slug::{normalize_code, normalize_slug};

/// The visitor behind a click, as the request describes them.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// Client address (hashed before storage).
    pub ip: &'a str,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `Referer`.
    pub referrer: Option<&'a str>,
}

/// Longest stored referrer, user agent and landing URL (characters).
const REFERRER_MAX: usize = 1000;
const USER_AGENT_MAX: usize = 500;
const LANDING_MAX: usize = 2000;

fn clipped(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].to_owned(),
        None => s.to_owned(),
    }
}

impl Tracker {
    /// Hands a click on `target` to the writer and returns its id (`aff_sess`): `click_id`
    /// when the caller supplies one (an already issued id), else a new one. `Err` when the
    /// click could be neither queued nor spilled to disk: the caller must not hand out an id
    /// that names no stored click.
    pub async fn record_click(
        &self,
        target: &Target,
        link_id: Option<&str>,
        landing_url: &str,
        visit: &Visit<'_>,
        source: &str,
        click_id: Option<String>,
    ) -> Result<String, Lost> {
        let now = db::now_ms();
        let id = click_id.unwrap_or_else(|| db::new_id("clk"));
        let ip_hash = self.visitors.ip_hash(visit.ip, now);
        let is_bot = visitor::is_bot(visit.user_agent);
        // Bots are not remembered as "previous clicks": a crawler prefetching the link must
        // not turn the human's click right after it into a duplicate.
        let is_duplicate = !is_bot && self.visitors.is_repeat(&ip_hash, &target.code, now);
        self.clicks
            .record(ClickRow {
                id: id.clone(),
                vendor_id: target.vendor_id.clone(),
                program_id: target.program_id.clone(),
                enrollment_id: target.enrollment_id.clone(),
                affiliate_id: target.affiliate_id.clone(),
                link_id: link_id.map(str::to_owned),
                code: target.code.clone(),
                landing_url: clipped(landing_url, LANDING_MAX),
                referrer: visit
                    .referrer
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| clipped(r, REFERRER_MAX)),
                user_agent: visit.user_agent.map(|u| clipped(u, USER_AGENT_MAX)),
                ip_hash,
                is_bot: i64::from(is_bot),
                is_duplicate: i64::from(is_duplicate),
                source: source.to_owned(),
                created_at: now,
            })
            .await?;
        Ok(id)
    }
}

//! The in-memory map behind `/r/{code}[/{slug}]`.
//!
//! Entries (including "no such code", so random codes cannot hammer the database) live for
//! [`TTL`] at most, and are dropped at once when this process changes routing data (see
//! [`db::routing_generation`]). Another instance's change therefore shows here within
//! [`TTL`]: the "few seconds" of staleness is the price of answering redirects without a
//! database round trip.

use crate::domain::partners::groups::settings::{self, GroupOverrides};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::{self, Db, links::CodeTarget};
use crate::domain::values::destination::Domains;
use crate::domain::values::status;

/// Longest time a cached answer is used.
pub const TTL: Duration = Duration::from_secs(3);
/// Entries kept at most per map; a full map is cleared (cheap, and bounded memory matters
/// more than a burst of misses).
const MAX_ENTRIES: usize = 100_000;

/// What a referral code resolves to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Tenant.
    pub vendor_id: String,
    /// Vendor slug (portal fallback URL).
    pub vendor_slug: String,
    /// Enrollment.
    pub enrollment_id: String,
    /// Affiliate.
    pub affiliate_id: String,
    /// Program.
    pub program_id: String,
    /// The code, lower case.
    pub code: String,
    /// Whether clicks on this code are attributed: false for banned or deactivated
    /// enrollments and for paused or archived programs.
    pub attributable: bool,
    /// Where the code's links land: its partner group's landing URL, else the program's
    /// (`groups::settings`).
    pub landing_url: Option<String>,
    /// Hosts links may lead to.
    pub domains: Domains,
    /// The vendor's site origins (normalised): browsers there may report clicks of any of
    /// its programs.
    pub site_origins: Vec<String>,
    /// Cookie lifetime in days.
    pub cookie_days: i64,
    /// First-touch attribution.
    pub first_touch: bool,
}

impl Target {
    fn from_row(code: &str, r: CodeTarget) -> Self {
        let group = GroupOverrides {
            landing_url: r.group_landing_url.as_deref(),
            ..GroupOverrides::default()
        };
        let landing_url =
            settings::landing_url(r.landing_url.as_deref(), &group).map(str::to_owned);
        let mut domains = Domains::from_stored(r.landing_url.as_deref(), &r.allowed_domains);
        // The group's landing URL is a destination the vendor chose, like the program's.
        if let Some(url) = r.group_landing_url.as_deref() {
            domains.allow_host_of(url);
        }
        Self {
            domains,
            site_origins: serde_json::from_str(&r.vendor_site_origins).unwrap_or_default(),
            attributable: !matches!(r.enrollment_status.as_str(), "banned" | "deactivated")
                && status::program_is_open(&r.program_status),
            vendor_id: r.vendor_id,
            vendor_slug: r.vendor_slug,
            enrollment_id: r.enrollment_id,
            affiliate_id: r.affiliate_id,
            program_id: r.program_id,
            code: code.to_owned(),
            landing_url,
            cookie_days: r.cookie_duration_days,
            first_touch: r.attribution_model == "first_touch",
        }
    }
}

/// An extra link of a code.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    /// `lnk_...`
    pub link_id: String,
    /// Its destination; `None`: the program's landing URL.
    pub destination_url: Option<String>,
}

#[derive(Debug)]
struct Entry<T> {
    value: Option<Arc<T>>,
    generation: u64,
    at: Instant,
}

#[derive(Debug)]
struct Map<T>(RwLock<HashMap<String, Entry<T>>>);

impl<T> Default for Map<T> {
    fn default() -> Self {
        Self(RwLock::new(HashMap::new()))
    }
}

impl<T> Map<T> {
    /// `Some(answer)` on a fresh hit, `None` on a miss.
    fn get(&self, key: &str) -> Option<Option<Arc<T>>> {
        let map = self.0.read().ok()?;
        let e = map.get(key)?;
        (e.generation == db::routing_generation() && e.at.elapsed() < TTL).then(|| e.value.clone())
    }

    fn put(&self, key: String, value: Option<Arc<T>>, generation: u64) {
        if let Ok(mut map) = self.0.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                key,
                Entry {
                    value,
                    generation,
                    at: Instant::now(),
                },
            );
        }
    }
}

/// Code and link cache.
#[derive(Debug, Default)]
pub struct LinkCache {
    codes: Map<Target>,
    links: Map<LinkTarget>,
    /// Vendor id → landing URL of its default program (unknown codes on portal domains).
    landings: Map<String>,
    /// Browser origin → whether it may call the click API (`Some` = yes).
    origins: Map<()>,
}

impl LinkCache {
    /// The target of a (lower-case, well-formed) code, if it exists.
    pub async fn code(&self, db: &Db, code: &str) -> Result<Option<Arc<Target>>, sqlx::Error> {
        if let Some(hit) = self.codes.get(code) {
            return Ok(hit);
        }
        // Read the generation before the query: a change committed meanwhile bumps it, and
        // the entry stored below is then already stale instead of wrongly fresh.
        let generation = db::routing_generation();
        let value = db::links::resolve_code(db.pool(), code)
            .await?
            .map(|r| Arc::new(Target::from_row(code, r)));
        self.codes.put(code.to_owned(), value.clone(), generation);
        Ok(value)
    }

    /// The landing URL of a vendor's default program, if it has one.
    pub async fn default_landing(
        &self,
        db: &Db,
        vendor_id: &str,
    ) -> Result<Option<Arc<String>>, sqlx::Error> {
        if let Some(hit) = self.landings.get(vendor_id) {
            return Ok(hit);
        }
        let generation = db::routing_generation();
        let value = db::programs::default_for(db.pool(), vendor_id)
            .await?
            .and_then(|p| p.landing_url)
            .map(Arc::new);
        self.landings
            .put(vendor_id.to_owned(), value.clone(), generation);
        Ok(value)
    }

    /// Whether a browser origin may call the click API: it is on an active program's
    /// domains or among a vendor's site origins. Answers (refusals too) are cached like
    /// codes, so the preflight of a busy site costs no query.
    pub async fn origin_allowed(&self, db: &Db, origin: &str) -> Result<bool, sqlx::Error> {
        if let Some(hit) = self.origins.get(origin) {
            return Ok(hit.is_some());
        }
        let generation = db::routing_generation();
        let allowed =
            origin_of_some_program(db, origin).await? || origin_of_some_site(db, origin).await?;
        self.origins
            .put(origin.to_owned(), allowed.then(|| Arc::new(())), generation);
        Ok(allowed)
    }

    /// The link `slug` of `code`, if it exists.
    pub async fn link(
        &self,
        db: &Db,
        code: &str,
        slug: &str,
    ) -> Result<Option<Arc<LinkTarget>>, sqlx::Error> {
        let key = format!("{code}/{slug}");
        if let Some(hit) = self.links.get(&key) {
            return Ok(hit);
        }
        let generation = db::routing_generation();
        let value = db::links::by_code_and_slug(db.pool(), code, slug)
            .await?
            .map(|l| {
                Arc::new(LinkTarget {
                    link_id: l.id,
                    destination_url: l.destination_url,
                })
            });
        self.links.put(key, value.clone(), generation);
        Ok(value)
    }
}

/// Whether a browser origin belongs to any active program.
async fn origin_of_some_program(db: &Db, origin: &str) -> Result<bool, sqlx::Error> {
    let programs = db::programs::active_link_domains(db.pool()).await?;
    Ok(programs.iter().any(|(landing, allowed)| {
        Domains::from_stored(landing.as_deref(), allowed).allows_origin(origin)
    }))
}

/// Whether a browser origin is one of some vendor's site origins.
async fn origin_of_some_site(db: &Db, origin: &str) -> Result<bool, sqlx::Error> {
    let Ok(origin) = crate::domain::values::host::parse_origin("origin", origin) else {
        return Ok(false);
    };
    let candidates = db::vendors::site_origin_candidates(db.pool(), &origin).await?;
    Ok(candidates.iter().any(|stored| {
        serde_json::from_str::<Vec<String>>(stored).is_ok_and(|list| list.contains(&origin))
    }))
}

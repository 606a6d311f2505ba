//! Host name → vendor lookups for custom portal domains, cached briefly.
//!
//! Every request on a portal domain needs its vendor. A positive answer is cached for a
//! few seconds, so a domain removed on another instance stops resolving shortly after;
//! unknown hosts are not cached, so arbitrary `Host` headers cannot grow the cache.
//!
//! The lookup also records when the host was last seen (what the dashboard shows beside the
//! DNS record), at most once a minute per host, so a busy portal adds no write per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{self, Db, vendors::VendorRow};

const TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 10_000;
/// How stale `last_seen_at` may get before a request refreshes it.
const SEEN_EVERY_MS: i64 = 60_000;

/// The cache; one per process.
#[derive(Debug, Default)]
pub struct PortalHosts {
    entries: Mutex<HashMap<String, (Instant, VendorRow)>>,
}

impl PortalHosts {
    /// The vendor whose portal is served on `host`, if any.
    pub async fn resolve(&self, db: &Db, host: &str) -> Result<Option<VendorRow>, sqlx::Error> {
        if let Ok(entries) = self.entries.lock()
            && let Some((at, vendor)) = entries.get(host)
            && at.elapsed() < TTL
        {
            return Ok(Some(vendor.clone()));
        }
        let Some((vendor, last_seen)) = db::vendors::by_portal_host(db.pool(), host).await? else {
            return Ok(None);
        };
        let now = db::now_ms();
        if last_seen.is_none_or(|at| now - at >= SEEN_EVERY_MS) {
            db::vendors::touch_domain(db.pool(), host, now).await?;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(host.to_owned(), (Instant::now(), vendor.clone()));
        }
        Ok(Some(vendor))
    }

    /// Forgets cached answers, after a vendor's branding or domains changed on this instance
    /// (other instances pick the change up within [`TTL`]).
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

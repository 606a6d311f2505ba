//! Host name → vendor lookups for custom portal domains, cached briefly.
//!
//! Every request on a portal domain needs its vendor. A positive answer is cached for a
//! few seconds, so a domain removed on another instance stops resolving shortly after;
//! unknown hosts are not cached, so arbitrary `Host` headers cannot grow the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{self, Db, vendors::VendorRow};

const TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 10_000;

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
        let found = db::vendors::by_portal_host(db.pool(), host).await?;
        if let (Some(vendor), Ok(mut entries)) = (&found, self.entries.lock()) {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(host.to_owned(), (Instant::now(), vendor.clone()));
        }
        Ok(found)
    }
}

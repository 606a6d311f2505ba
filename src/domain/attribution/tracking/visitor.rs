//! What is kept about a visitor: a salted hash of the address (never the address), whether
//! the user agent is a crawler, and whether the click repeats one seconds earlier. Also the
//! per-visitor throttle of the public click API.
//!
//! The salt changes every UTC day and derives from the installation's secret key, so every
//! instance computes the same hash on the same day (repeat detection and throttling work
//! behind a load balancer) while hashes of different days cannot be joined to follow a
//! visitor. The repeat and throttle windows are per process: behind a load balancer a
//! repeat click that lands on another instance is counted (documented).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// A click repeating the same visitor's click on the same code within this window is a
/// duplicate.
pub const DUPLICATE_WINDOW_MS: i64 = 30_000;
/// Clicks the public click API accepts per visitor and code per window.
pub const TRACK_LIMIT: u32 = 20;
/// The throttle window of the public click API.
pub const TRACK_WINDOW_MS: i64 = 60_000;
/// Bound of the in-memory windows before old entries are swept.
const MAX_ENTRIES: usize = 50_000;
const DAY_MS: i64 = 86_400_000;

/// Substrings (lower case) of the user agents of crawlers, link unfurlers, monitors and
/// scripted clients. An empty user agent counts as a bot too.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebookcatalog",
    "embedly",
    "preview",
    "headless",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "curl/",
    "wget",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww",
    "httpclient",
    "scrapy",
    "phantomjs",
    "whatsapp",
    "skypeuripreview",
];

/// A 64-bit digest of (address hash, code) for the in-memory windows; a collision would
/// at worst flag one click as a repeat, at odds of about one in 2^64.
fn pair_key(ip_hash: &str, code: &str) -> u64 {
    let mut h = DefaultHasher::new();
    ip_hash.hash(&mut h);
    code.hash(&mut h);
    h.finish()
}

/// Whether a user agent belongs to a crawler or a script.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    match user_agent.map(str::trim) {
        None | Some("") => true,
        Some(ua) => {
            let ua = ua.to_ascii_lowercase();
            BOT_MARKERS.iter().any(|m| ua.contains(m))
        }
    }
}

/// Salted address hashing and the per-process repeat/throttle windows.
#[derive(Debug)]
pub struct Visitors {
    secret: Vec<u8>,
    /// The salt of the current day (day number, salt): one SHA-256 per click instead of two.
    salt: Mutex<(i64, [u8; 32])>,
    /// Keyed by [`pair_key`], not by the strings: no allocation per click.
    last_click: Mutex<HashMap<u64, i64>>,
    track_calls: Mutex<HashMap<u64, (i64, u32)>>,
}

impl Visitors {
    /// Hashing keyed by the installation secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
            salt: Mutex::new((i64::MIN, [0; 32])),
            last_click: Mutex::default(),
            track_calls: Mutex::default(),
        }
    }

    /// Hex SHA-256 of the day's salt and the address.
    pub fn ip_hash(&self, ip: &str, now_ms: i64) -> String {
        let day = now_ms.div_euclid(DAY_MS);
        let salt = self.salt(day);
        hex::encode(
            Sha256::new()
                .chain_update(salt)
                .chain_update(ip.as_bytes())
                .finalize(),
        )
    }

    fn salt(&self, day: i64) -> [u8; 32] {
        let derive = || -> [u8; 32] {
            Sha256::new()
                .chain_update(b"affilia click salt\0")
                .chain_update(&self.secret)
                .chain_update(day.to_be_bytes())
                .finalize()
                .into()
        };
        let Ok(mut cached) = self.salt.lock() else {
            return derive();
        };
        if cached.0 != day {
            *cached = (day, derive());
        }
        cached.1
    }

    /// Records a click and tells whether it repeats one by the same visitor on the same code
    /// within [`DUPLICATE_WINDOW_MS`].
    pub fn is_repeat(&self, ip_hash: &str, code: &str, now_ms: i64) -> bool {
        let Ok(mut map) = self.last_click.lock() else {
            return false;
        };
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, at| now_ms - *at < DUPLICATE_WINDOW_MS);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let previous = map.insert(pair_key(ip_hash, code), now_ms);
        previous.is_some_and(|at| now_ms - at < DUPLICATE_WINDOW_MS && now_ms >= at)
    }

    /// Counts a public click-API call; `Err(retry_after_seconds)` when the visitor exceeded
    /// [`TRACK_LIMIT`] calls for this code in the current window.
    pub fn throttle_track(&self, ip_hash: &str, code: &str, now_ms: i64) -> Result<(), u64> {
        let Ok(mut map) = self.track_calls.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (start, _)| now_ms - *start < TRACK_WINDOW_MS);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let entry = map.entry(pair_key(ip_hash, code)).or_insert((now_ms, 0));
        if now_ms - entry.0 >= TRACK_WINDOW_MS {
            *entry = (now_ms, 0);
        }
        if entry.1 >= TRACK_LIMIT {
            let left_ms = TRACK_WINDOW_MS - (now_ms - entry.0);
            return Err(u64::try_from(left_ms / 1000 + 1).unwrap_or(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_change_daily_and_hide_the_address() {
        let v = Visitors::new(b"secret");
        let a = v.ip_hash("203.0.113.7", 0);
        assert_eq!(a, v.ip_hash("203.0.113.7", DAY_MS - 1));
        assert_ne!(a, v.ip_hash("203.0.113.7", DAY_MS));
        assert_ne!(a, v.ip_hash("203.0.113.8", 0));
        assert_ne!(a, Visitors::new(b"other").ip_hash("203.0.113.7", 0));
        assert!(!a.contains("203"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn repeats_within_thirty_seconds_are_duplicates() {
        let v = Visitors::new(b"s");
        assert!(!v.is_repeat("h", "jane", 1_000));
        assert!(v.is_repeat("h", "jane", 20_000));
        assert!(!v.is_repeat("h", "john", 20_000));
        assert!(!v.is_repeat("h2", "jane", 20_000));
        assert!(!v.is_repeat("h", "jane", 60_000));
    }

    #[test]
    fn bots_are_recognised() {
        assert!(is_bot(None));
        assert!(is_bot(Some("  ")));
        assert!(is_bot(Some("Mozilla/5.0 (compatible; Googlebot/2.1)")));
        assert!(is_bot(Some("curl/8.5.0")));
        assert!(is_bot(Some("facebookexternalhit/1.1")));
        assert!(!is_bot(Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
        )));
    }

    #[test]
    fn the_track_throttle_allows_a_burst_then_waits_for_the_window() {
        let v = Visitors::new(b"s");
        for _ in 0..TRACK_LIMIT {
            assert!(v.throttle_track("h", "jane", 0).is_ok());
        }
        assert_eq!(v.throttle_track("h", "jane", 1_000), Err(60));
        assert!(v.throttle_track("h", "john", 1_000).is_ok());
        assert!(v.throttle_track("h", "jane", TRACK_WINDOW_MS).is_ok());
    }
}

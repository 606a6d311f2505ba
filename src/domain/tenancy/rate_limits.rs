//! API rate limits: per credential, two budgets a minute (reads: GET, HEAD, OPTIONS;
//! writes: everything else), as fixed one-minute windows.
//!
//! Budgets come from the vendor (`rate_limit_read_per_minute` /
//! `rate_limit_write_per_minute`, `None` = installation default) or the installation
//! settings (`api_rate_limit_read` / `api_rate_limit_write`, 120 and 30 by default).
//!
//! Where the count lives depends on the database. On PostgreSQL several instances share
//! one database, so the count is one shared row per bucket and window, bumped by a single
//! upsert (exact across instances). On SQLite one process owns the file, so an in-process
//! counter is exact too and spares every GET a write (SQLite has one writer at a time).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Serialize;
use serde_json::json;

use crate::db::{self, Db, DbKind};
use crate::domain::tenancy::api_keys::{ApiPrincipal, Scope};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::consumers::ConsumerPrincipal;
use crate::error::{AppError, AppResult};

/// Length of a window, seconds.
pub const WINDOW_SECS: i64 = 60;
/// Default read budget per minute (seed 004).
pub const DEFAULT_READ_PER_MINUTE: u32 = 120;
/// Default write budget per minute (seed 004).
pub const DEFAULT_WRITE_PER_MINUTE: u32 = 30;
/// Largest budget a vendor may set.
pub const MAX_PER_MINUTE: i64 = 1_000_000;

/// Who a request is counted against.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A live API key (secret or publishable).
    ApiKey(ApiPrincipal),
    /// No valid credential: counted per client IP.
    Anonymous {
        /// The client's address.
        ip: String,
    },
    /// A bearer token that is not an API key (affiliate tokens under `/me`): counted per
    /// token, by its SHA-256.
    Token {
        /// Hex SHA-256 of the token.
        hash: String,
    },
    /// A kernel consumer's JWT: the consumer's own budgets, else its vendor's.
    Consumer {
        /// The verified consumer.
        consumer: ConsumerPrincipal,
        /// The vendor's own budgets (`None` = the installation default).
        vendor: VendorLimits,
    },
}

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// GET, HEAD, OPTIONS.
    Read,
    /// POST, PUT, PATCH, DELETE and anything else.
    Write,
}

impl Budget {
    /// The budget of an HTTP method.
    pub fn of_method(method: &str) -> Self {
        match method {
            "GET" | "HEAD" | "OPTIONS" => Self::Read,
            _ => Self::Write,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// Requests per minute of each budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Read budget.
    pub read: i64,
    /// Write budget.
    pub write: i64,
}

impl Limits {
    /// The installation defaults, overridden by a vendor's own values where set.
    pub fn resolve(defaults: Limits, read: Option<i64>, write: Option<i64>) -> Self {
        Self {
            read: read.unwrap_or(defaults.read),
            write: write.unwrap_or(defaults.write),
        }
    }

    fn of(self, budget: Budget) -> i64 {
        match budget {
            Budget::Read => self.read,
            Budget::Write => self.write,
        }
    }
}

impl Principal {
    /// The budgets that apply: the vendor's for a key; the consumer's, else its vendor's,
    /// for a kernel consumer; the installation's otherwise.
    pub fn limits(&self, defaults: Limits) -> Limits {
        match self {
            Self::ApiKey(p) => Limits::resolve(defaults, p.rate_limit_read, p.rate_limit_write),
            Self::Consumer { consumer, vendor } => Limits::resolve(
                Limits::resolve(
                    defaults,
                    vendor.rate_limit_read_per_minute,
                    vendor.rate_limit_write_per_minute,
                ),
                consumer.read_limit_per_minute,
                consumer.write_limit_per_minute,
            ),
            Self::Anonymous { .. } | Self::Token { .. } => defaults,
        }
    }

    /// The counter's name for `budget`. A publishable key sits in every visitor's browser,
    /// so it is counted per key and visitor: one busy page must not starve the others.
    pub fn bucket(&self, ip: &str, budget: Budget) -> String {
        let b = budget.as_str();
        match self {
            Self::ApiKey(p) if p.scope == Scope::Publishable => {
                format!("pub:{}:{ip}:{b}", p.key_id)
            }
            Self::ApiKey(p) => format!("key:{}:{b}", p.key_id),
            Self::Anonymous { ip } => format!("ip:{ip}:{b}"),
            Self::Token { hash } => format!("tok:{hash}:{b}"),
            Self::Consumer { consumer, .. } => format!("csm:{}:{b}", consumer.consumer_id),
        }
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The budget (`X-RateLimit-Limit`).
    pub limit: i64,
    /// What is left in this window (`X-RateLimit-Remaining`).
    pub remaining: i64,
    /// End of the window, unix seconds (`X-RateLimit-Reset`).
    pub reset: i64,
    /// Seconds until the window ends (`Retry-After` when refused).
    pub retry_after: i64,
    /// Whether the request may proceed.
    pub allowed: bool,
}

impl Decision {
    /// The decision for the `hits`-th request of a window starting at `window_start`.
    pub fn of(limit: i64, hits: i64, window_start: i64, now_secs: i64) -> Self {
        let reset = window_start + WINDOW_SECS;
        Self {
            limit,
            remaining: (limit - hits).max(0),
            reset,
            retry_after: (reset - now_secs).max(1),
            allowed: hits <= limit,
        }
    }
}

/// The window containing `now_secs`.
pub fn window_start(now_secs: i64) -> i64 {
    now_secs - now_secs.rem_euclid(WINDOW_SECS)
}

/// In-process counters: bucket → (window start, hits).
#[derive(Debug, Default)]
struct Memory {
    window: i64,
    counts: HashMap<String, i64>,
}

/// Counts requests per bucket and window: in memory on SQLite, in the database on
/// PostgreSQL (see the module comment for why).
#[derive(Debug)]
pub struct RateLimiter {
    memory: Option<Mutex<Memory>>,
    /// Last window whose predecessors this instance deleted from the database.
    swept: AtomicI64,
}

impl RateLimiter {
    /// A limiter for the database `db` runs on.
    pub fn new(kind: DbKind) -> Self {
        Self {
            memory: match kind {
                DbKind::Postgres => None,
                _ => Some(Mutex::new(Memory::default())),
            },
            swept: AtomicI64::new(0),
        }
    }

    /// Counts one request of `bucket` in the window starting at `window_start` and returns
    /// the window's count so far.
    pub async fn hit(&self, db: &Db, bucket: &str, window_start: i64) -> AppResult<i64> {
        if let Some(memory) = &self.memory {
            let mut m = memory
                .lock()
                .map_err(|_| AppError::Internal(anyhow::anyhow!("rate limiter poisoned")))?;
            if m.window != window_start {
                // A new window: every older count is irrelevant now.
                m.window = window_start;
                m.counts.clear();
            }
            let n = m.counts.entry(bucket.to_owned()).or_insert(0);
            *n += 1;
            return Ok(*n);
        }
        let hits = db::rate_limits::hit(db.pool(), bucket, window_start).await?;
        // Once per window and instance, drop the windows before the previous one (kept a
        // little longer than needed so no instance deletes a window another still uses).
        if self.swept.swap(window_start, Ordering::Relaxed) != window_start {
            db::rate_limits::delete_before(db.pool(), window_start - WINDOW_SECS).await?;
        }
        Ok(hits)
    }

    /// Counts one request of `principal` against `budget` at `now_secs`.
    pub async fn check(
        &self,
        db: &Db,
        principal: &Principal,
        ip: &str,
        budget: Budget,
        defaults: Limits,
        now_secs: i64,
    ) -> AppResult<Decision> {
        let limit = principal.limits(defaults).of(budget);
        let start = window_start(now_secs);
        let hits = self.hit(db, &principal.bucket(ip, budget), start).await?;
        Ok(Decision::of(limit, hits, start, now_secs))
    }
}

/// A vendor's budgets as shown and edited: `None` = the installation default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VendorLimits {
    /// Reads per minute per key.
    pub rate_limit_read_per_minute: Option<i64>,
    /// Writes per minute per key.
    pub rate_limit_write_per_minute: Option<i64>,
}

/// A vendor's own budgets.
pub async fn vendor_limits(db: &Db, vendor_id: &str) -> AppResult<VendorLimits> {
    let (read, write) = db::rate_limits::vendor_limits(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(VendorLimits {
        rate_limit_read_per_minute: read,
        rate_limit_write_per_minute: write,
    })
}

fn check_limit(field: &str, value: Option<i64>) -> AppResult<Option<i64>> {
    match value {
        Some(n) if !(1..=MAX_PER_MINUTE).contains(&n) => Err(AppError::invalid(
            field,
            format!("{field} must be between 1 and {MAX_PER_MINUTE}, or null for the default"),
        )),
        other => Ok(other),
    }
}

/// Applies a PATCH to a vendor's budgets (absent: unchanged, `Some(None)`: back to the
/// default) and checks the result, without storing it.
pub fn patch(
    current: VendorLimits,
    read: Option<Option<i64>>,
    write: Option<Option<i64>>,
) -> AppResult<VendorLimits> {
    Ok(VendorLimits {
        rate_limit_read_per_minute: check_limit(
            "rate_limit_read_per_minute",
            read.unwrap_or(current.rate_limit_read_per_minute),
        )?,
        rate_limit_write_per_minute: check_limit(
            "rate_limit_write_per_minute",
            write.unwrap_or(current.rate_limit_write_per_minute),
        )?,
    })
}

/// Sets a vendor's budgets (each between 1 and [`MAX_PER_MINUTE`], `None` = default),
/// audited with the values before and after. Nothing is stored when one is out of range.
pub async fn set_vendor_limits(
    db: &Db,
    vendor_id: &str,
    limits: VendorLimits,
    actor: &Actor,
) -> AppResult<VendorLimits> {
    let read = check_limit(
        "rate_limit_read_per_minute",
        limits.rate_limit_read_per_minute,
    )?;
    let write = check_limit(
        "rate_limit_write_per_minute",
        limits.rate_limit_write_per_minute,
    )?;
    let after = VendorLimits {
        rate_limit_read_per_minute: read,
        rate_limit_write_per_minute: write,
    };
    let before = vendor_limits(db, vendor_id).await?;
    if before == after {
        return Ok(after);
    }
    let mut tx = db.begin().await?;
    db::rate_limits::set_vendor_limits(&mut *tx, vendor_id, read, write).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.rate_limits_updated",
        ("vendor", Some(vendor_id)),
        json!({"before": before, "after": after}),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_decisions() {
        assert_eq!(window_start(125), 120);
        let d = Decision::of(2, 1, 120, 125);
        assert_eq!((d.remaining, d.reset, d.allowed), (1, 180, true));
        let d = Decision::of(2, 3, 120, 179);
        assert_eq!((d.remaining, d.retry_after, d.allowed), (0, 1, false));
        assert_eq!(Budget::of_method("HEAD"), Budget::Read);
        assert_eq!(Budget::of_method("DELETE"), Budget::Write);
    }

    #[test]
    fn vendor_values_override_the_defaults() {
        let d = Limits {
            read: 120,
            write: 30,
        };
        assert_eq!(
            Limits::resolve(d, Some(5), None),
            Limits { read: 5, write: 30 }
        );
        assert!(check_limit("x", Some(0)).is_err());
        assert!(check_limit("x", None).is_ok());
    }
}

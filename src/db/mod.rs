//! Storage: one `AnyPool` over SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! All SQL lives in this module tree, one submodule per aggregate, written once for both
//! databases (see the storage rules in DESIGN.md). Functions that run a single statement
//! take any executor (`&AnyPool` or `&mut *tx`); functions that need several statements
//! take a `&mut AnyConnection` so callers decide the transaction.

/// SQLite's page cache per pooled connection, as `PRAGMA cache_size` takes it (negative:
/// KiB). Written where a connection is opened (`Db::connect`) and where a bulk load gives
/// its connection back (`bulk::untune`); why 4 MiB is in `Db::connect`.
macro_rules! sqlite_cache_size {
    () => {
        "-4096"
    };
}

pub mod accounting;
pub mod affiliate_api_tokens;
pub mod affiliate_stats;
pub mod affiliates;
pub mod analytics;
pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod backtest;
pub mod backup;
pub mod billing_events;
pub mod bonuses;
pub mod bulk;
pub mod caps;
pub mod clicks;
pub mod commissions;
pub mod consumers;
pub mod conversions;
pub mod deals;
pub mod deferred;
pub mod demo;
pub mod emails;
pub mod events;
pub mod fraud_reviews;
pub mod groups;
pub mod imports;
pub mod jobs;
pub mod ledger;
pub mod links;
pub mod login_tokens;
pub mod mcp_sessions;
pub mod money_rollups;
pub mod payment_links;
pub mod payout_methods;
pub mod payouts;
pub mod portable;
pub mod programs;
pub mod promo_codes;
pub mod rate_limits;
pub mod referral_rollups;
pub mod referrals;
pub mod report_search;
pub mod reports;
pub mod retention;
pub mod rollups;
pub mod sign_ins;
pub mod sql;
pub mod tax_details;
pub mod throttle;
pub mod users;
pub mod vendors;
pub mod webhooks;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor};

/// A database connection (pooled or inside a transaction).
pub type Conn = sqlx::AnyConnection;
/// An open transaction; dropped without `commit` it rolls back.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// Embedded SQLite (WAL).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The application's database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
}

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IDLE_AFTER: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Db {
    /// Opens a pool for `url` (`sqlite://...` or `postgres://...`). SQLite files are created
    /// if missing and every SQLite connection gets the pragmas the application relies on.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let (url, kind) = normalize_url(url)?;
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database URL {}", redact_url(&url)))?;
        let max = match kind {
            DbKind::Sqlite => 8,
            DbKind::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it hands out by default: one more round trip per
            // statement outside a transaction (half of the requests' database round trips
            // on the ingest path). A connection idle for a while is still checked, since
            // that is when a server restart or a dropped idle connection shows; a busy one
            // that broke fails its statement once and is then discarded by the pool.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // WAL lets readers proceed during a write; busy_timeout makes writers
                        // queue instead of failing; NORMAL is durable across app crashes in WAL.
                        //
                        // Memory: every pooled connection has its own page cache, and a
                        // sort or GROUP BY keeps up to the cache size in memory before it
                        // spills; SQLite allocates with the C library's malloc, whose
                        // per-thread arenas keep what was freed. With 16 MiB per connection
                        // and a 96 MiB soft heap limit the server reached 438 MB over the
                        // dashboard at 100k affiliates; with 4 MiB and 32 MiB, 222 MB. The
                        // OS page cache still holds the file: most pages stayed within the
                        // noise and ingest did not move; the portal of the busiest
                        // affiliate, which rereads its rollups, went from 25 to 44 ms
                        // (README, Performance). The
                        // process-wide soft heap limit makes SQLite recycle cache pages
                        // before going past it. analysis_limit bounds every ANALYZE (see
                        // `migrate`) so it stays fast on large tables.
                        conn.execute(concat!(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
                             PRAGMA cache_size = ",
                            sqlite_cache_size!(),
                            "; PRAGMA soft_heap_limit = 33554432; PRAGMA analysis_limit = 1000;"
                        ))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(&url)))?;
        Ok(Self { pool, kind })
    }

    /// Applies pending migrations, then the PostgreSQL-only storage settings the portable
    /// migrations cannot express (see [`rate_limits::make_unlogged_pg`]).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        if self.kind == DbKind::Sqlite {
            // Tables without (or with stale) planner statistics are analysed, bounded by
            // analysis_limit: without statistics SQLite picked poor indexes at scale. Not
            // on connect: a cold 10M-click database takes longer than the pool's acquire
            // timeout.
            sqlx::query("PRAGMA optimize = 0x10002")
                .execute(&self.pool)
                .await
                .context("PRAGMA optimize failed")?;
        }
        if self.kind == DbKind::Postgres {
            rate_limits::make_unlogged_pg(&self.pool)
                .await
                .context("making the rate-limit counters unlogged")?;
        }
        Ok(())
    }

    /// Refreshes the query planner's statistics: `ANALYZE` on both databases (SQLite's
    /// bounded by the connection's `analysis_limit`). Run after a bulk load or a rebuild;
    /// `migrate` does it too on SQLite through `PRAGMA optimize`.
    pub async fn analyze(&self) -> anyhow::Result<()> {
        sqlx::query("ANALYZE")
            .execute(&self.pool)
            .await
            .context("ANALYZE failed")?;
        Ok(())
    }

    /// The newest migration this build knows (its version number, e.g. 23).
    pub fn latest_migration() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Whether `version` is one of this build's migrations.
    pub fn is_known_migration(version: i64) -> bool {
        MIGRATOR.iter().any(|m| m.version == version)
    }

    /// The newest migration applied to this database (0: none).
    pub async fn applied_migration(&self) -> Result<i64, sqlx::Error> {
        let row: (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.0.unwrap_or(0))
    }

    /// The pool, for single statements.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine behind the pool.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that later upgrades to a writer fails
    /// with SQLITE_BUSY instead of waiting, which would turn contention into errors.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.kind {
            DbKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            DbKind::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes every connection (used on shutdown and in tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Accepts `sqlite://file`, `sqlite:file`, `sqlite:///abs/path` and `postgres(ql)://...`;
/// SQLite URLs get `mode=rwc` so a missing file is created.
fn normalize_url(url: &str) -> anyhow::Result<(String, DbKind)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_owned(), DbKind::Postgres));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let mut url = format!("sqlite:{rest}");
        if !rest.contains("mode=") && !rest.contains(":memory:") {
            url.push(if rest.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
        return Ok((url, DbKind::Sqlite));
    }
    anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Current time as unix milliseconds, the storage format of every timestamp.
pub fn now_ms() -> i64 {
    match SIMULATED_NOW_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => chrono::Utc::now().timestamp_millis(),
        simulated => simulated,
    }
}

/// The simulated time, unix milliseconds; 0 = the real clock.
static SIMULATED_NOW_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Sets the time [`now_ms`] reports for this whole process (`None`: the real clock again).
///
/// Only `affilia demo` calls it: it replays 90 days of activity through the domain services
/// in one process, so every row, ledger line and audit entry carries the day it stands for.
/// A server never sets it.
pub fn simulate_clock(at_ms: Option<i64>) {
    SIMULATED_NOW_MS.store(at_ms.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
}

/// Converts stored unix milliseconds to a UTC time at the edge of this module.
pub fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Stored unix milliseconds as the RFC 3339 UTC string used in JSON.
pub fn rfc3339(ms: i64) -> String {
    from_ms(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new unique id with a type prefix, e.g. `ven_01j9...`; ULIDs sort by creation time.
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        ulid::Ulid::generate().to_string().to_ascii_lowercase()
    )
}

/// If `e` is a unique-constraint violation, the field it concerns.
///
/// Unique indexes are named `ux_<table>__<field>`. PostgreSQL reports that name as the
/// constraint; SQLite reports `table.column` for plain indexes and `index 'name'` for
/// expression indexes, so all three forms are understood.
pub fn unique_violation_field(e: &sqlx::Error) -> Option<String> {
    let db = e.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    if let Some(name) = db.constraint() {
        return Some(field_from_index_name(name));
    }
    let msg = db.message();
    if let Some(start) = msg.find("index '") {
        let rest = &msg[start + 7..];
        let name = rest.split('\'').next().unwrap_or(rest);
        return Some(field_from_index_name(name));
    }
    let cols = msg.rsplit(": ").next().unwrap_or(msg);
    let last = cols.split(", ").last().unwrap_or(cols);
    Some(last.rsplit('.').next().unwrap_or(last).to_owned())
}

/// Whether a query failed because a sum (or a cast of one) left 64 bits: SQLite's SUM
/// raises "integer overflow", PostgreSQL's `CAST(SUM(..) AS BIGINT)` raises SQLSTATE 22003.
pub fn is_sum_overflow(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    db.code().as_deref() == Some("22003") || db.message().contains("integer overflow")
}

/// Whether `e` means the database is busy rather than that the request is wrong: SQLite's
/// write lock still held by another writer after the busy timeout (`SQLITE_BUSY`,
/// `SQLITE_LOCKED` and their extended codes), PostgreSQL's `lock_not_available`, or no
/// pooled connection free in time. The request may succeed when retried.
pub fn is_busy(e: &sqlx::Error) -> bool {
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return true;
    }
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code();
    // SQLite reports the extended result code (a number below 1000); its low byte is the
    // primary code. PostgreSQL's SQLSTATEs are five characters, some all digits ("42501"),
    // so only short numbers are SQLite's.
    let sqlite_busy = code
        .as_deref()
        .filter(|c| c.len() < 5)
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    sqlite_busy || code.as_deref() == Some("55P03") || db.message().contains("database is locked")
}

fn field_from_index_name(name: &str) -> String {
    name.rsplit("__").next().unwrap_or(name).to_owned()
}

/// Bumped by every write that changes where a referral link leads (codes, enrollment
/// statuses, programs, links). The in-memory referral-link cache of this process compares
/// it and drops stale entries at once; other instances rely on the cache's short TTL.
/// Process-wide on purpose: the writes happen deep in transactions that know nothing of the
/// cache, and a spurious bump only costs a few cache misses.
static ROUTING_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Records that referral-link routing data changed (see [`routing_generation`]).
pub fn routing_changed() {
    ROUTING_GENERATION.fetch_add(1, Ordering::Release);
}

/// The current routing generation.
pub fn routing_generation() -> u64 {
    ROUTING_GENERATION.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let (u, k) = normalize_url("sqlite://affilia.db").unwrap();
        assert_eq!(u, "sqlite://affilia.db?mode=rwc");
        assert_eq!(k, DbKind::Sqlite);
        let (u, _) = normalize_url("sqlite:///tmp/x.db?mode=ro").unwrap();
        assert_eq!(u, "sqlite:///tmp/x.db?mode=ro");
        assert!(normalize_url("mysql://x").is_err());
    }

    #[test]
    fn index_names_map_to_fields() {
        assert_eq!(field_from_index_name("ux_vendor_users__email"), "email");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}

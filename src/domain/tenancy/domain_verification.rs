//! Portal-domain ownership. A domain a vendor adds is stored pending with a random token;
//! it serves the portal only once the server has found the TXT record
//! `_affilia-challenge.<host>` with the value `affilia-verify=<token>`. The check runs when
//! the vendor asks (`POST /api/v1/vendor/domains/{host}/verify`, the dashboard's button)
//! and, for recent pending claims, from the worker every few minutes. Operators can vouch
//! for a domain from the command line instead ([`verify_by_operator`]).
//!
//! Several vendors may claim the same host while it is pending (a claim alone must not let
//! anyone squat a domain); the first to prove control holds it, and the other claims are
//! dropped. A released domain's row is deleted, so whoever claims it next proves again.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use serde::Serialize;
use serde_json::json;

use crate::db::{self, Db};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::{host, tokens};
use crate::error::{AppError, AppResult};

/// The label in front of a portal domain where its TXT record lives.
pub const CHALLENGE_LABEL: &str = "_affilia-challenge";
/// What the TXT record's value starts with, before the token.
pub const VALUE_PREFIX: &str = "affilia-verify=";
/// How long one DNS question may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// The worker re-checks a pending claim at most this often.
pub const RECHECK_EVERY_MS: i64 = 5 * 60 * 1000;
/// ... and only for this long after it was added: an abandoned claim is not looked up
/// forever (the vendor's button still works).
pub const RECHECK_FOR_MS: i64 = 7 * 24 * 3600 * 1000;
/// Pending claims the worker checks per round (each is one DNS question at most
/// [`LOOKUP_TIMEOUT`] long).
pub const RECHECK_BATCH: i64 = 5;

/// A new random verification token (128 bits, hex).
pub fn new_token() -> String {
    tokens::random_hex(16)
}

/// The TXT record a pending domain needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxtRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `_affilia-challenge.<host>`.
    pub name: String,
    /// `affilia-verify=<token>`.
    pub value: String,
}

/// The record proving control of `host` with `token`.
pub fn record(host: &str, token: &str) -> TxtRecord {
    TxtRecord {
        kind: "TXT",
        name: format!("{CHALLENGE_LABEL}.{host}"),
        value: format!("{VALUE_PREFIX}{token}"),
    }
}

/// Looks TXT records up, through the system's resolver or the one configured with
/// `--dns-resolver` (`AFFILIA_DNS_RESOLVER`).
#[derive(Debug, Clone)]
pub struct DnsChecker {
    server: Option<SocketAddr>,
}

impl DnsChecker {
    /// A checker asking `server` (port 53 unless given), or the system's resolvers.
    pub fn new(server: Option<SocketAddr>) -> Self {
        Self { server }
    }

    /// A fresh resolver per check: nothing is cached, so a record the vendor just created
    /// (or corrected) is seen on the next click of the button.
    fn resolver(&self) -> Result<TokioResolver, String> {
        let mut builder = match self.server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], vec![server]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("the system's DNS settings could not be read: {e}"))?,
        };
        let opts = builder.options_mut();
        opts.timeout = LOOKUP_TIMEOUT;
        opts.attempts = 1;
        opts.cache_size = 0;
        builder
            .build()
            .map_err(|e| format!("the DNS resolver could not be set up: {e}"))
    }

    /// The TXT values at `name` (each record's strings joined, as RFC 7208 reads them);
    /// empty when the name has none; `Err` with a reason when DNS could not answer.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let resolver = self.resolver()?;
        match resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(format!("the DNS lookup of {name} failed: {e}")),
        }
    }

    /// Whether `host`'s challenge record carries `token`: `Ok(())`, or why not.
    pub async fn check(&self, host: &str, token: &str) -> Result<(), String> {
        let want = record(host, token);
        let found = self.txt(&want.name).await?;
        if found.iter().any(|v| v.trim() == want.value) {
            return Ok(());
        }
        Err(if found.is_empty() {
            format!(
                "no TXT record found at {}; add one with the value {} (DNS changes can take \
                 a few minutes to appear)",
                want.name, want.value
            )
        } else {
            format!(
                "the TXT record at {} does not hold {} (found: {})",
                want.name,
                want.value,
                found.join(", ")
            )
        })
    }
}

/// Parses a resolver address: `ip`, `ip:port` or `[ipv6]:port`; port 53 by default.
pub fn parse_resolver(raw: &str) -> Result<SocketAddr, String> {
    let raw = raw.trim();
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(addr);
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{raw:?} is not a DNS server address such as 127.0.0.1:53"))
}

/// Checks the vendor's claim on `host` now and, when the TXT record is there, marks it
/// verified (it serves the portal from then on). 404 when the vendor does not list the
/// host; a verified domain answers at once; a missing or wrong record is 422 on `host`
/// with what was found; another vendor having verified it first is 409.
pub async fn verify(
    db: &Db,
    dns: &DnsChecker,
    vendor_id: &str,
    raw_host: &str,
    actor: &Actor,
) -> AppResult<()> {
    let host = host::parse_host("host", raw_host).map_err(|_| AppError::NotFound)?;
    let row = db::vendors::domain_row(db.pool(), vendor_id, &host)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.verified_at.is_some() {
        return Ok(());
    }
    let Some(token) = row.verification_token else {
        return Err(AppError::invalid(
            "host",
            "this domain has no verification token",
        ));
    };
    let result = dns.check(&host, &token).await;
    let now = db::now_ms();
    match result {
        Ok(()) => mark(db, vendor_id, &host, now, actor, "dns").await,
        Err(why) => {
            db::vendors::mark_checked(db.pool(), vendor_id, &host, now).await?;
            Err(AppError::invalid("host", why))
        }
    }
}

/// Marks the claim verified with an audit entry, in one transaction.
async fn mark(
    db: &Db,
    vendor_id: &str,
    host: &str,
    now: i64,
    actor: &Actor,
    how: &str,
) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let marked = db::vendors::mark_verified(&mut tx, vendor_id, host, now)
        .await
        .map_err(|e| match db::unique_violation_field(&e) {
            Some(_) => taken(host),
            None => e.into(),
        })?;
    if marked {
        audit::record(
            &mut *tx,
            vendor_id,
            actor,
            "vendor.domain_verified",
            ("vendor", Some(vendor_id)),
            json!({"host": host, "by": how}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn taken(host: &str) -> AppError {
    AppError::duplicate(
        "portal_domains",
        format!("{host} is already verified by another portal"),
    )
}

/// Marks a pending claim verified without DNS, for operators (`affilia admin
/// verify-domain`). Without `vendor_id`, the host must have exactly one pending claim.
/// Returns the vendor that now holds it.
pub async fn verify_by_operator(
    db: &Db,
    vendor_id: Option<&str>,
    raw_host: &str,
) -> AppResult<String> {
    let host = host::parse_portal_host("host", raw_host)?;
    if let Some(owner) = db::vendors::domain_owner(db.pool(), &host).await? {
        return match vendor_id {
            Some(v) if v != owner => Err(taken(&host)),
            _ => Ok(owner),
        };
    }
    let vendor = match vendor_id {
        Some(v) => v.to_owned(),
        None => {
            let claims = db::vendors::pending_claims(db.pool(), &host).await?;
            match claims.as_slice() {
                [one] => one.clone(),
                [] => return Err(AppError::NotFound),
                _ => {
                    return Err(AppError::invalid(
                        "host",
                        format!(
                            "{host} is claimed by {} vendors; name one with --vendor",
                            claims.len()
                        ),
                    ));
                }
            }
        }
    };
    if db::vendors::domain_row(db.pool(), &vendor, &host)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    mark(db, &vendor, &host, db::now_ms(), &Actor::Cli, "operator").await?;
    Ok(vendor)
}

/// The worker's re-check: looks up at most [`RECHECK_BATCH`] pending claims added in the
/// last [`RECHECK_FOR_MS`] and not looked at for [`RECHECK_EVERY_MS`], and verifies those
/// whose record is in place. Returns how many were verified.
pub async fn recheck_pending(db: &Db, dns: &DnsChecker, now: i64) -> AppResult<usize> {
    let due = db::vendors::pending_due(
        db.pool(),
        now - RECHECK_FOR_MS,
        now - RECHECK_EVERY_MS,
        RECHECK_BATCH,
    )
    .await?;
    let mut verified = 0;
    for claim in due {
        // Taken first, so several instances do not all look the same claim up.
        db::vendors::mark_checked(db.pool(), &claim.vendor_id, &claim.host, now).await?;
        let Some(token) = claim.verification_token else {
            continue;
        };
        match dns.check(&claim.host, &token).await {
            Ok(()) => {
                match mark(
                    db,
                    &claim.vendor_id,
                    &claim.host,
                    now,
                    &Actor::System,
                    "dns",
                )
                .await
                {
                    Ok(()) => verified += 1,
                    Err(AppError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(why) => tracing::debug!(host = %claim.host, %why, "portal domain still pending"),
        }
    }
    Ok(verified)
}

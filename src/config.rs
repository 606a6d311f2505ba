//! Typed settings.
//!
//! Settings come from three layers, later ones winning: built-in defaults, an optional TOML
//! file (`--config` / `AFFILIA_CONFIG`), and command-line flags or their `AFFILIA_*`
//! environment variables (clap reads both, so `--help` documents every name). Every
//! subcommand reads the same [`SettingsArgs`]. Secrets are wrapped so that `Debug` output
//! and logs never show them.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// Default of `--body-timeout-secs`: a request body must arrive within 15 seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 15;
/// Default of `--max-connections` (per HTTP worker).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Flags shared by every subcommand. Each one can also be set by its environment variable
/// or by the same key (without the `AFFILIA_` prefix, lower case) in the TOML file.
#[derive(Debug, Clone, Default, clap::Args, Serialize)]
pub struct SettingsArgs {
    /// TOML file with any of the settings below (keys: bind, database_url, base_url, ...).
    #[arg(long, env = "AFFILIA_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "AFFILIA_BIND", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,

    /// Database: `sqlite://affilia.db` (default; created if missing), `sqlite:///abs/path.db`
    /// or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,

    /// Public base URL used in links and emails [default: http://<bind>].
    #[arg(long, env = "AFFILIA_BASE_URL", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,

    /// Directory for the generated secret key and other local state [default: ./affilia-data].
    #[arg(long, env = "AFFILIA_DATA_DIR", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,

    /// Secret key (at least 32 bytes, hex or plain) signing and encrypting cookies and
    /// tokens. If absent, one is generated once and kept in `<data_dir>/secret.key` (0600).
    #[arg(
        long,
        env = "AFFILIA_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,

    /// SMTP server for outgoing email: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtp://host:25` (plain).
    /// Without it, emails are kept in the dashboard's dev mailbox.
    #[arg(long, env = "AFFILIA_SMTP_URL", global = true, hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,

    /// Sender address for outgoing email; the vendor's name is used as the display name
    /// [default: no-reply@<base URL host>].
    #[arg(long, env = "AFFILIA_MAIL_FROM", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,

    /// Comma-separated host names that serve the vendor dashboard [default: the base URL's
    /// host, localhost and 127.0.0.1].
    #[arg(
        long,
        env = "AFFILIA_DASHBOARD_HOSTS",
        global = true,
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dashboard_hosts: Option<Vec<String>>,

    /// Trust `X-Forwarded-Host`, `X-Forwarded-Proto` and `X-Forwarded-For` (only behind a
    /// reverse proxy that sets them).
    #[arg(long, env = "AFFILIA_TRUSTED_PROXY", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxy: Option<bool>,

    /// Log format: `pretty` or `json`.
    #[arg(long, env = "AFFILIA_LOG_FORMAT", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,

    /// Number of HTTP worker threads [default: number of CPUs].
    #[arg(long, env = "AFFILIA_HTTP_WORKERS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_workers: Option<usize>,

    /// Seconds a request body may take to arrive in full; a slower one is answered 408
    /// and its connection closed [default: 15].
    #[arg(long, env = "AFFILIA_BODY_TIMEOUT_SECS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_timeout_secs: Option<u64>,

    /// Most connections each HTTP worker holds open at once; more wait to be accepted
    /// [default: 1024].
    #[arg(long, env = "AFFILIA_MAX_CONNECTIONS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,

    /// Billing-event writer lanes on PostgreSQL: transactions that store and process
    /// events in parallel, each batching what waits for it [default: 6]. SQLite always has
    /// one (a single writer).
    #[arg(long, env = "AFFILIA_INGEST_LANES", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_lanes: Option<usize>,

    /// Let payouts be sent as Stripe Connect transfers (money leaves your Stripe account)
    /// [default: false].
    #[arg(long, env = "AFFILIA_STRIPE_CONNECT_PAYOUTS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_connect_payouts: Option<bool>,

    /// Stripe API base URL [default: https://api.stripe.com].
    #[arg(long, env = "AFFILIA_STRIPE_API_BASE", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_api_base: Option<String>,

    /// API reads (GET, HEAD, OPTIONS) allowed per minute per key, for vendors that set no
    /// limit of their own [default: 120].
    #[arg(long, env = "AFFILIA_API_RATE_LIMIT_READ", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_rate_limit_read: Option<u32>,

    /// API writes (POST, PUT, PATCH, DELETE) allowed per minute per key, for vendors that
    /// set no limit of their own [default: 30].
    #[arg(long, env = "AFFILIA_API_RATE_LIMIT_WRITE", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_rate_limit_write: Option<u32>,

    /// Let webhook endpoints use plain http and addresses that are private, loopback,
    /// link-local or cloud metadata (refused by default, at creation and at delivery, as
    /// a guard against server-side request forgery); for local development and tests
    /// [default: false].
    #[arg(long, env = "AFFILIA_ALLOW_PRIVATE_WEBHOOK_URLS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_private_webhook_urls: Option<bool>,

    /// Clicks the in-memory queue between referral redirects and the click writer holds;
    /// past it a redirect waits `click_queue_wait_ms`, then spills its click to
    /// `<data_dir>/click-spill/` (never dropped) [default: 20000].
    #[arg(long, env = "AFFILIA_CLICK_QUEUE", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_queue: Option<usize>,

    /// Milliseconds a referral redirect waits for room in a full click queue before it
    /// spills its click to disk (0: spill at once) [default: 5].
    #[arg(long, env = "AFFILIA_CLICK_QUEUE_WAIT_MS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click_queue_wait_ms: Option<u64>,

    /// Serve Prometheus metrics at `/metrics` on the main listener, to requests carrying
    /// `Authorization: Bearer <token>` (at least 16 characters). Without this flag and
    /// without --metrics-bind, metrics are off and `/metrics` answers 404.
    #[arg(
        long,
        env = "AFFILIA_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,

    /// Serve Prometheus metrics at `/metrics` on a separate address (e.g. 127.0.0.1:9100)
    /// that serves nothing else and asks for no token: keep it on a private network.
    #[arg(long, env = "AFFILIA_METRICS_BIND", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<String>,

    /// DNS server that portal-domain TXT records are looked up on (`ip` or `ip:port`)
    /// [default: the system's resolvers, from /etc/resolv.conf].
    #[arg(long, env = "AFFILIA_DNS_RESOLVER", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_resolver: Option<String>,

    /// Days a finished background job (done or failed) is kept before the worker deletes
    /// it; 0 keeps them forever [default: 30].
    #[arg(long, env = "AFFILIA_RETAIN_JOBS_DAYS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_jobs_days: Option<u32>,

    /// Days a sent or failed email is kept in the outbox (and the dev mailbox) before the
    /// worker deletes it; 0 keeps them forever [default: 90].
    #[arg(long, env = "AFFILIA_RETAIN_EMAILS_DAYS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_emails_days: Option<u32>,

    /// Days raw click rows are kept; older ones are deleted by whole UTC days, their counts
    /// staying in the click rollups. 0 keeps them forever; otherwise at least 730 (the
    /// longest cookie a program may set, so attribution still finds its click) [default: 0].
    #[arg(long, env = "AFFILIA_RETAIN_CLICKS_DAYS", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_clicks_days: Option<u32>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A value that must never appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The resolved settings every part of the application reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub bind: String,
    /// Public base URL (scheme, host and port) used in links and emails.
    pub base_url: Url,
    /// Database URL (`sqlite://...` or `postgres://...`).
    pub database_url: String,
    /// Directory for local state such as the generated secret key.
    pub data_dir: PathBuf,
    /// Key material (at least 32 bytes) for cookies and signed tokens.
    pub secret_key: Secret<Vec<u8>>,
    /// Outgoing SMTP server; `None` keeps emails in the dev mailbox.
    pub smtp_url: Option<Secret<String>>,
    /// Sender address of outgoing email.
    pub mail_from: String,
    /// Lower-case host names (without port) that serve the dashboard.
    pub dashboard_hosts: Vec<String>,
    /// Whether `X-Forwarded-*` headers are believed.
    pub trusted_proxy: bool,
    /// Log line format.
    pub log_format: LogFormat,
    /// HTTP worker threads; `None` lets actix-web pick one per CPU.
    pub http_workers: Option<usize>,
    /// How long a request body may take to arrive in full before a 408.
    pub body_timeout: std::time::Duration,
    /// Most connections one HTTP worker holds open at once.
    pub max_connections: usize,
    /// Billing-event writer lanes on PostgreSQL (`None`: the default); SQLite has one.
    pub ingest_lanes: Option<usize>,
    /// Whether payouts may be sent as Stripe Connect transfers (off unless turned on).
    pub stripe_connect_payouts: bool,
    /// Stripe API base URL (tests point it at a local fake).
    pub stripe_api_base: Url,
    /// Default API reads per minute per key (vendors may set their own).
    pub api_rate_limit_read: u32,
    /// Default API writes per minute per key (vendors may set their own).
    pub api_rate_limit_write: u32,
    /// Whether webhook endpoints may be plain http or private/loopback addresses.
    pub allow_private_webhook_urls: bool,
    /// Capacity of the click queue (at least 1).
    pub click_queue: usize,
    /// How long a redirect waits for room in a full click queue before spilling.
    pub click_queue_wait: std::time::Duration,
    /// Bearer token that opens `/metrics` on the main listener; `None`: no `/metrics` there.
    pub metrics_token: Option<Secret<String>>,
    /// Address of the metrics-only listener; `None`: no such listener.
    pub metrics_bind: Option<String>,
    /// DNS server for portal-domain verification; `None`: the system's resolvers.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// How long the worker keeps finished jobs, sent emails and raw clicks.
    pub retention: crate::retention::Retention,
}

/// The layers merged by figment; every field optional so a file may set any subset.
#[derive(Debug, Default, Deserialize)]
struct Raw {
    bind: Option<String>,
    database_url: Option<String>,
    base_url: Option<String>,
    data_dir: Option<PathBuf>,
    secret_key: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    dashboard_hosts: Option<Vec<String>>,
    trusted_proxy: Option<bool>,
    log_format: Option<LogFormat>,
    http_workers: Option<usize>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    ingest_lanes: Option<usize>,
    stripe_connect_payouts: Option<bool>,
    stripe_api_base: Option<String>,
    api_rate_limit_read: Option<u32>,
    api_rate_limit_write: Option<u32>,
    allow_private_webhook_urls: Option<bool>,
    click_queue: Option<usize>,
    click_queue_wait_ms: Option<u64>,
    metrics_token: Option<String>,
    metrics_bind: Option<String>,
    dns_resolver: Option<String>,
    retain_jobs_days: Option<u32>,
    retain_emails_days: Option<u32>,
    retain_clicks_days: Option<u32>,
}

/// Shortest metrics token accepted: a short token could be guessed by a scraper of the
/// public listener.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

/// Default API reads per minute per key (seed 004).
pub const DEFAULT_API_RATE_LIMIT_READ: u32 = 120;
/// Default API writes per minute per key (seed 004).
pub const DEFAULT_API_RATE_LIMIT_WRITE: u32 = 30;

/// Stripe's API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://affilia.db";

impl Settings {
    /// Resolves the settings from the file named by `args.config` and the flags/env in
    /// `args`, generating and storing a secret key on first use.
    pub fn load(args: &SettingsArgs) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = &args.config {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let raw: Raw = figment
            .merge(Serialized::defaults(args))
            .extract()
            .context("invalid settings")?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> anyhow::Result<Self> {
        let bind = raw.bind.unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let base_url = match raw.base_url {
            Some(u) => Url::parse(&u).with_context(|| format!("invalid base URL {u:?}"))?,
            None => Url::parse(&format!("http://{bind}"))
                .with_context(|| format!("cannot derive a base URL from bind address {bind:?}"))?,
        };
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host_str().is_none() {
            bail!("base URL must be http(s)://host[:port], got {base_url}");
        }
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from("affilia-data"));
        let secret_key = match raw.secret_key {
            Some(s) => parse_secret(&s)?,
            None => load_or_create_secret(&data_dir)?,
        };
        let base_host = base_url
            .host_str()
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        let dashboard_hosts = match raw.dashboard_hosts {
            Some(hosts) => hosts
                .iter()
                .map(|h| normalize_host(h))
                .filter(|h| !h.is_empty())
                .collect(),
            None => {
                let mut hosts = vec![base_host.clone(), "localhost".into(), "127.0.0.1".into()];
                hosts.dedup();
                hosts
            }
        };
        let mail_from = raw
            .mail_from
            .unwrap_or_else(|| format!("no-reply@{base_host}"));
        Ok(Self {
            bind,
            base_url,
            database_url: raw
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            data_dir,
            secret_key: Secret::new(secret_key),
            smtp_url: raw.smtp_url.filter(|s| !s.is_empty()).map(Secret::new),
            mail_from,
            dashboard_hosts,
            trusted_proxy: raw.trusted_proxy.unwrap_or(false),
            log_format: raw.log_format.unwrap_or_default(),
            http_workers: raw.http_workers,
            body_timeout: std::time::Duration::from_secs(
                raw.body_timeout_secs
                    .filter(|s| *s > 0)
                    .unwrap_or(DEFAULT_BODY_TIMEOUT_SECS),
            ),
            max_connections: raw
                .max_connections
                .filter(|n| *n > 0)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            ingest_lanes: raw.ingest_lanes.filter(|n| *n > 0),
            stripe_connect_payouts: raw.stripe_connect_payouts.unwrap_or(false),
            stripe_api_base: match raw.stripe_api_base {
                Some(u) => {
                    Url::parse(&u).with_context(|| format!("invalid Stripe API base {u:?}"))?
                }
                None => Url::parse(STRIPE_API_BASE).context("Stripe API base")?,
            },
            api_rate_limit_read: positive(
                "api_rate_limit_read",
                raw.api_rate_limit_read
                    .unwrap_or(DEFAULT_API_RATE_LIMIT_READ),
            )?,
            api_rate_limit_write: positive(
                "api_rate_limit_write",
                raw.api_rate_limit_write
                    .unwrap_or(DEFAULT_API_RATE_LIMIT_WRITE),
            )?,
            allow_private_webhook_urls: raw.allow_private_webhook_urls.unwrap_or(false),
            click_queue: match raw.click_queue {
                Some(0) => bail!("click_queue must be at least 1"),
                Some(n) => n,
                None => crate::domain::attribution::tracking::writer::QUEUE,
            },
            click_queue_wait: raw.click_queue_wait_ms.map_or(
                crate::domain::attribution::tracking::writer::WAIT,
                std::time::Duration::from_millis,
            ),
            metrics_token: metrics_token(raw.metrics_token)?,
            metrics_bind: raw
                .metrics_bind
                .map(|b| b.trim().to_owned())
                .filter(|b| !b.is_empty()),
            dns_resolver: match raw.dns_resolver.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(r) => Some(
                    crate::domain::tenancy::domain_verification::parse_resolver(r)
                        .map_err(|e| anyhow::anyhow!("dns_resolver: {e}"))?,
                ),
            },
            retention: crate::retention::Retention::new(
                raw.retain_jobs_days,
                raw.retain_emails_days,
                raw.retain_clicks_days,
            )?,
        })
    }

    /// Whether Prometheus metrics are collected (a token or a metrics listener is set).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_token.is_some() || self.metrics_bind.is_some()
    }

    /// Whether emails stay in the dashboard's dev mailbox (no SMTP server configured).
    pub fn dev_mailbox(&self) -> bool {
        self.smtp_url.is_none()
    }

    /// Whether cookies must carry the `Secure` attribute (everything but plain-http setups).
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

/// An empty token means "not set" (an empty environment variable); a short one is refused.
fn metrics_token(raw: Option<String>) -> anyhow::Result<Option<Secret<String>>> {
    let Some(token) = raw.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if token.chars().count() < MIN_METRICS_TOKEN_LEN {
        bail!("AFFILIA_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LEN} characters");
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        bail!("AFFILIA_METRICS_TOKEN must be printable ASCII without spaces");
    }
    Ok(Some(Secret::new(token)))
}

/// A budget of at least one request: 0 would refuse every API call.
fn positive(name: &str, n: u32) -> anyhow::Result<u32> {
    if n == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(n)
}

/// Lower-cases a host name and strips any port, so `Example.com:8080` matches `example.com`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    // IPv6 literals keep their brackets: "[::1]:8080" -> "[::1]".
    if let Some(end) = host.find(']') {
        return host[..=end].to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
}

/// Minimum key length accepted by the cookie key derivation.
const MIN_SECRET_LEN: usize = 32;

fn parse_secret(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    let bytes = match hex::decode(s) {
        Ok(b) => b,
        Err(_) => s.as_bytes().to_vec(),
    };
    if bytes.len() < MIN_SECRET_LEN {
        bail!("AFFILIA_SECRET_KEY must be at least {MIN_SECRET_LEN} bytes");
    }
    Ok(bytes)
}

fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("secret.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return parse_secret(&text).with_context(|| format!("bad key in {}", path.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let mut key = vec![0u8; 64];
    rand::fill(&mut key[..]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(hex::encode(&key).as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_normalization_strips_port_and_case() {
        assert_eq!(normalize_host("Example.COM:8080"), "example.com");
        assert_eq!(normalize_host("example.com"), "example.com");
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
    }

    #[test]
    fn rate_limits_default_to_120_and_30() {
        let s = Settings::from_raw(Raw {
            secret_key: Some("ab".repeat(32)),
            ..Raw::default()
        })
        .map(|s| (s.api_rate_limit_read, s.api_rate_limit_write))
        .ok();
        assert_eq!(s, Some((120, 30)));
        assert!(
            Settings::from_raw(Raw {
                secret_key: Some("ab".repeat(32)),
                api_rate_limit_write: Some(0),
                ..Raw::default()
            })
            .is_err()
        );
    }

    #[test]
    fn metrics_are_off_unless_a_token_or_address_is_set() {
        let load = |token: Option<&str>, bind: Option<&str>| {
            Settings::from_raw(Raw {
                secret_key: Some("ab".repeat(32)),
                metrics_token: token.map(str::to_owned),
                metrics_bind: bind.map(str::to_owned),
                ..Raw::default()
            })
        };
        assert_eq!(
            load(None, None).map(|s| s.metrics_enabled()).ok(),
            Some(false)
        );
        assert_eq!(
            load(Some(""), Some(" ")).map(|s| s.metrics_enabled()).ok(),
            Some(false)
        );
        assert!(load(Some("short"), None).is_err());
        assert!(load(Some("has a space in the token"), None).is_err());
        let on = load(Some("0123456789abcdef"), None).ok();
        assert_eq!(on.as_ref().map(Settings::metrics_enabled), Some(true));
        assert_eq!(
            load(None, Some("127.0.0.1:9100"))
                .map(|s| s.metrics_enabled())
                .ok(),
            Some(true)
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(parse_secret("short").is_err());
        assert_eq!(
            parse_secret(&"ab".repeat(32)).map(|k| k.len()).ok(),
            Some(32)
        );
    }
}

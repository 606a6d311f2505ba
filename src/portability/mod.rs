//! Vendor export and import: everything one vendor owns, as a versioned JSON-lines file
//! (`affilia export` / `affilia import`), to move a vendor between installations or
//! between SQLite and PostgreSQL.
//!
//! The format (`affilia-vendor-export`, version [`FORMAT_VERSION`]):
//! - line 1, the header: `{"format", "version", "schema_migration", "vendor": {"id",
//!   "slug", "name"}, "exported_at", "redacted": {table: [columns]}}`;
//! - one line per row: `{"table": "...", "row": {column: value, ...}}`, tables in
//!   [`EXPORTED`] order (parents before the rows that refer to them), values as JSON
//!   numbers, strings or null;
//! - a last line `{"end": {"rows": N}}`, so a file cut short is refused.
//!
//! Ids are kept, so links, references and referral codes survive. Secrets are never
//! written: API keys and other credentials are not exported at all ([`EXCLUDED`]), and
//! the columns in [`REDACTED`] are written as null; import gives each webhook endpoint a
//! new signing secret and disables it until the vendor rotates and re-enables it.

mod export;
mod import;

pub use export::{Census, export_vendor};
pub use import::{IMPORTED_ENDPOINT_REASON, Imported, import_file};

/// The format name in the header.
pub const FORMAT: &str = "affilia-vendor-export";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: i64 = 1;

/// Tables written to an export, in insertion order (a table comes after every table it
/// refers to), each with the column that ties its rows to the vendor.
pub const EXPORTED: &[(&str, &str)] = &[
    ("vendors", "id"),
    ("vendor_users", "vendor_id"),
    ("vendor_logos", "vendor_id"),
    ("vendor_domains", "vendor_id"),
    ("vendor_payout_methods", "vendor_id"),
    ("programs", "vendor_id"),
    ("program_terms", "vendor_id"),
    ("partner_groups", "vendor_id"),
    ("group_terms", "vendor_id"),
    ("group_rules", "vendor_id"),
    ("affiliates", "vendor_id"),
    ("tax_details", "vendor_id"),
    ("enrollments", "vendor_id"),
    ("applications", "vendor_id"),
    ("links", "vendor_id"),
    ("promo_codes", "vendor_id"),
    ("clicks", "vendor_id"),
    ("click_rollup_hours", "vendor_id"),
    ("click_rollup_affiliate_days", "vendor_id"),
    ("click_horizons", "vendor_id"),
    ("referrals", "vendor_id"),
    ("deals", "vendor_id"),
    ("billing_events", "vendor_id"),
    ("payment_links", "vendor_id"),
    ("conversions", "vendor_id"),
    ("conversion_refunds", "vendor_id"),
    ("payout_runs", "vendor_id"),
    ("payouts", "vendor_id"),
    ("commissions", "vendor_id"),
    ("payout_claims", "vendor_id"),
    ("bonuses", "vendor_id"),
    ("fraud_reviews", "vendor_id"),
    ("ledger_entries", "vendor_id"),
    ("webhook_endpoints", "vendor_id"),
    ("events", "vendor_id"),
    ("audit_log", "vendor_id"),
];

/// Tables with a `vendor_id` that are deliberately not exported, and why.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "ledger_line_counts",
        "derived from the journal: import recounts the imported ledger lines",
    ),
    (
        "commission_rollup_days",
        "derived from the commissions: import rebuilds the money rollups",
    ),
    (
        "conversion_rollup_days",
        "derived from the conversions: import rebuilds the money rollups",
    ),
    (
        "commission_affiliate_totals",
        "derived from the commissions: import rebuilds the money rollups",
    ),
    (
        "conversion_affiliate_totals",
        "derived from the conversions: import rebuilds the money rollups",
    ),
    (
        "affiliate_click_totals",
        "derived from the daily click rollup: import sums it again",
    ),
    (
        "referral_rollup_days",
        "derived from the referrals: import rebuilds the referral rollup",
    ),
    (
        "api_keys",
        "credentials: never exported; create new keys on the target",
    ),
    (
        "affiliate_api_tokens",
        "credentials of affiliates: they create new tokens on the target",
    ),
    (
        "consumers",
        "embedded-integration credentials (HMAC secrets): register them again with \
         `affilia admin create-consumer`",
    ),
    (
        "login_tokens",
        "short-lived sign-in links: meaningless on another installation",
    ),
    (
        "sign_ins",
        "browser sessions of the source installation: people sign in again on the target",
    ),
    (
        "jobs",
        "the background queue of the source installation: replaying it would resend emails",
    ),
    (
        "email_outbox",
        "mail already sent (or queued) by the source installation: importing would send it again",
    ),
    (
        "webhook_deliveries",
        "delivery attempts of the source installation's outbox: importing would resend them",
    ),
];

/// Columns written as null: secrets. Import needs new ones (webhook endpoints are given a
/// fresh secret and disabled; Stripe and the other billing providers' credentials are set
/// again on the program).
pub const REDACTED: &[(&str, &[&str])] = &[
    (
        "programs",
        &[
            "stripe_webhook_secret",
            "stripe_secret_key",
            "paddle_webhook_secret",
            "lemonsqueezy_webhook_secret",
            "polar_webhook_secret",
            "chargebee_webhook_username",
            "chargebee_webhook_password",
        ],
    ),
    ("webhook_endpoints", &["secret"]),
];

/// The redacted columns of `table`.
pub fn redacted(table: &str) -> &'static [&'static str] {
    REDACTED
        .iter()
        .find(|(t, _)| *t == table)
        .map_or(&[], |(_, cols)| *cols)
}

/// Why an import or export was refused; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The file is not a valid export this build can read (nothing was written).
    #[error("{0}")]
    BadFile(String),
    /// The target already has this vendor (nothing was written).
    #[error("{0}")]
    Conflict(String),
    /// A database or file error.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PortError {
    fn from(e: sqlx::Error) -> Self {
        PortError::Other(e.into())
    }
}

impl From<std::io::Error> for PortError {
    fn from(e: std::io::Error) -> Self {
        PortError::Other(e.into())
    }
}

//! Reads of the accounting export: the journal summed per day, ledger kind, account and
//! currency, and each affiliate's paid payouts in a period with its tax details.

use sqlx::{Any, Executor, FromRow};

use super::sql::Sql;

/// A day's sum of one ledger account for one kind of movement in one currency.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct DaySum {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// The movement (`commission`, `reversal`, `payout_paid`, ...).
    pub kind: String,
    /// The ledger account.
    pub account: String,
    /// ISO 4217.
    pub currency: String,
    /// Signed sum, minor units.
    pub amount_cents: i64,
}

/// Journal lines of a vendor posted in `[from, to)` (optionally in one currency), summed
/// per UTC day, kind, account and currency.
pub async fn day_sums<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    (from, to): (i64, i64),
    currency: Option<&str>,
) -> Result<Vec<DaySum>, sqlx::Error> {
    Sql::new(
        "SELECT created_at / 86400000 AS day, kind, account, currency, \
         CAST(SUM(amount_cents) AS BIGINT) AS amount_cents FROM ledger_entries WHERE vendor_id = ",
    )
    .bind(vendor_id)
    .and("created_at >= ", from)
    .and("created_at < ", to)
    .and_eq("currency", currency)
    .push(" GROUP BY created_at / 86400000, kind, account, currency")
    .fetch_all(ex)
    .await
}

/// One affiliate's paid payouts in one currency, with its tax details if given.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct PaidTotal {
    /// `aff_...`
    pub affiliate_id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// ISO 4217.
    pub currency: String,
    /// Payouts paid.
    pub payouts: i64,
    /// Sum of their amounts (before fees), minor units.
    pub amount_cents: i64,
    /// Platform fees kept.
    pub fee_cents: i64,
    /// What the affiliate received.
    pub net_cents: i64,
    /// Tax details: legal name.
    pub legal_name: Option<String>,
    /// Tax details: country.
    pub country: Option<String>,
    /// Tax details: tax id.
    pub tax_id: Option<String>,
}

/// Per affiliate and currency, the payouts of a vendor paid in `[from, to)` (by `paid_at`).
pub async fn paid_totals<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    (from, to): (i64, i64),
) -> Result<Vec<PaidTotal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.affiliate_id, a.name, a.email, p.currency, COUNT(*) AS payouts, \
         CAST(SUM(p.amount_cents) AS BIGINT) AS amount_cents, \
         CAST(SUM(p.fee_cents) AS BIGINT) AS fee_cents, \
         CAST(SUM(p.net_cents) AS BIGINT) AS net_cents, \
         t.legal_name, t.country, t.tax_id \
         FROM payouts p JOIN affiliates a ON a.id = p.affiliate_id AND a.vendor_id = p.vendor_id \
         LEFT JOIN tax_details t ON t.affiliate_id = p.affiliate_id AND t.vendor_id = p.vendor_id \
         WHERE p.vendor_id = $1 AND p.status = 'paid' AND p.paid_at >= $2 AND p.paid_at < $3 \
         GROUP BY p.affiliate_id, a.name, a.email, p.currency, t.legal_name, t.country, t.tax_id \
         ORDER BY a.name, p.affiliate_id, p.currency",
    )
    .bind(vendor_id)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

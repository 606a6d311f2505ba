//! Affiliates' tax details (legal name, country, tax id) for the vendor's year-end
//! reporting: one row per affiliate, replaced as a whole.

use std::collections::HashSet;

use sqlx::{Any, Executor, FromRow};

use super::now_ms;

/// Tax details as stored.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct TaxDetailsRow {
    /// The affiliate.
    pub affiliate_id: String,
    /// Tenant.
    pub vendor_id: String,
    /// Legal name (person or company).
    pub legal_name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Tax identification number as given.
    pub tax_id: String,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// An affiliate's tax details, if given.
pub async fn of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
) -> Result<Option<TaxDetailsRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT affiliate_id, vendor_id, legal_name, country, tax_id, updated_at \
         FROM tax_details WHERE vendor_id = $1 AND affiliate_id = $2",
    )
    .bind(vendor_id)
    .bind(affiliate_id)
    .fetch_optional(ex)
    .await
}

/// Writes (inserts or replaces) an affiliate's tax details.
pub async fn upsert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    affiliate_id: &str,
    [legal_name, country, tax_id]: [&str; 3],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tax_details (affiliate_id, vendor_id, legal_name, country, tax_id, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (affiliate_id) DO UPDATE SET legal_name = EXCLUDED.legal_name, \
         country = EXCLUDED.country, tax_id = EXCLUDED.tax_id, updated_at = EXCLUDED.updated_at",
    )
    .bind(affiliate_id)
    .bind(vendor_id)
    .bind(legal_name)
    .bind(country)
    .bind(tax_id)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}

/// The affiliates of a vendor that have given their tax details.
pub async fn affiliates_with<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT affiliate_id FROM tax_details WHERE vendor_id = $1")
            .bind(vendor_id)
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

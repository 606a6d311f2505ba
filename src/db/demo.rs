//! The census `affilia demo` prints: how many of each kind of row a vendor has, by status,
//! with their money totals. Read-only.

use sqlx::{Any, Executor};

/// One line of the census: a kind of row, a status (`all` when the kind has none), how
/// many, and the sum of their amounts in minor units (0 when they carry none).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CensusLine {
    /// `affiliates`, `applications`, `clicks`, ...
    pub kind: String,
    /// The rows' status.
    pub status: String,
    /// How many.
    pub count: i64,
    /// Sum of `amount_cents`.
    pub cents: i64,
}

/// Every line of a vendor's census, in a fixed order.
pub async fn census<'e, E: Executor<'e, Database = Any>>(
    db: E,
    vendor_id: &str,
) -> Result<Vec<CensusLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, status, count, cents FROM (
            SELECT 'affiliates' AS kind, status, COUNT(*) AS count, CAST(0 AS BIGINT) AS cents
              FROM affiliates WHERE vendor_id = $1 GROUP BY status
            UNION ALL SELECT 'applications', status, COUNT(*), CAST(0 AS BIGINT)
              FROM applications WHERE vendor_id = $1 GROUP BY status
            UNION ALL SELECT 'clicks', 'all', COUNT(*), CAST(0 AS BIGINT)
              FROM clicks WHERE vendor_id = $1
            UNION ALL SELECT 'links', 'all', COUNT(*), CAST(0 AS BIGINT)
              FROM links WHERE vendor_id = $1
            UNION ALL SELECT 'referrals', 'all', COUNT(*), CAST(0 AS BIGINT)
              FROM referrals WHERE vendor_id = $1
            UNION ALL SELECT 'deals', status, COUNT(*), CAST(0 AS BIGINT)
              FROM deals WHERE vendor_id = $1 GROUP BY status
            UNION ALL SELECT 'conversions', status, COUNT(*),
                   CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)
              FROM conversions WHERE vendor_id = $1 GROUP BY status
            UNION ALL SELECT 'refunds', 'all', COUNT(*),
                   CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)
              FROM conversion_refunds WHERE vendor_id = $1
            UNION ALL SELECT 'commissions', status, COUNT(*),
                   CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)
              FROM commissions WHERE vendor_id = $1 GROUP BY status
            UNION ALL SELECT 'payouts', status, COUNT(*),
                   CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)
              FROM payouts WHERE vendor_id = $1 GROUP BY status
         ) census ORDER BY kind, status",
    )
    .bind(vendor_id)
    .fetch_all(db)
    .await
}

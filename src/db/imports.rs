//! Look-ups of the importers from other affiliate tools (`crate::importers`).

use sqlx::{Any, Executor};

/// The enrollment in a vendor's program holding `code`: (enrollment id, affiliate id,
/// affiliate email).
pub async fn enrollment_by_code<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    code: &str,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id, e.affiliate_id, a.email FROM enrollments e \
         JOIN affiliates a ON a.id = e.affiliate_id AND a.vendor_id = e.vendor_id \
         WHERE e.vendor_id = $1 AND e.program_id = $2 AND e.code = $3",
    )
    .bind(vendor_id)
    .bind(program_id)
    .bind(code)
    .fetch_optional(ex)
    .await
}

//! The payout methods each vendor offers (`vendor_payout_methods`); none stored means all.

use sqlx::{Any, Executor};

use super::{Conn, now_ms};

/// The methods a vendor chose to offer, in the order of the rows' names; empty when it never
/// chose (every method is offered then).
pub async fn of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT method FROM vendor_payout_methods WHERE vendor_id = $1 ORDER BY method",
    )
    .bind(vendor_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(m,)| m).collect())
}

/// Replaces a vendor's offered methods (in the caller's transaction).
pub async fn replace(
    conn: &mut Conn,
    vendor_id: &str,
    methods: &[&str],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM vendor_payout_methods WHERE vendor_id = $1")
        .bind(vendor_id)
        .execute(&mut *conn)
        .await?;
    let now = now_ms();
    for method in methods {
        sqlx::query(
            "INSERT INTO vendor_payout_methods (vendor_id, method, created_at) VALUES ($1, $2, $3)",
        )
        .bind(vendor_id)
        .bind(*method)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

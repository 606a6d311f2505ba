//! Links between an invoice and the payment that paid it (Stripe `invoice_payment.paid`).

use sqlx::{Any, Executor, FromRow};

use super::{conversions::PaymentRefs, new_id, now_ms, sql::Sql};

/// One stored link.
#[derive(Debug, Clone, FromRow)]
pub struct PaymentLinkRow {
    /// Invoice.
    pub invoice_id: String,
    /// Payment intent that paid it.
    pub payment_intent_id: Option<String>,
    /// Charge that paid it.
    pub charge_id: Option<String>,
}

/// Records that `invoice_id` was paid by the payment intent and/or charge; ids already
/// known are kept, missing ones filled in.
pub async fn record<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vendor_id: &str,
    program_id: &str,
    invoice_id: &str,
    payment_intent_id: Option<&str>,
    charge_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_links (id, vendor_id, program_id, invoice_id, payment_intent_id, \
         charge_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (program_id, invoice_id) DO UPDATE SET \
         payment_intent_id = COALESCE(payment_links.payment_intent_id, excluded.payment_intent_id), \
         charge_id = COALESCE(payment_links.charge_id, excluded.charge_id)",
    )
    .bind(new_id("pln"))
    .bind(vendor_id)
    .bind(program_id)
    .bind(invoice_id)
    .bind(payment_intent_id)
    .bind(charge_id)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}

/// The link naming any of these ids, if one was recorded.
pub async fn find<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    program_id: &str,
    r: &PaymentRefs<'_>,
) -> Result<Option<PaymentLinkRow>, sqlx::Error> {
    let head = "SELECT invoice_id, payment_intent_id, charge_id FROM payment_links WHERE ";
    let Some(q) = r.where_any(Sql::new(head), program_id) else {
        return Ok(None);
    };
    q.push(" LIMIT 1").build_as().fetch_optional(ex).await
}

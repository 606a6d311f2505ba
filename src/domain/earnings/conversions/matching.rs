//! One payment, one conversion: the ids of a payment (completed by invoice-payment links),
//! pairing the halves of a basil-era Stripe payment, and folding two records of one payment
//! into one.

use serde_json::json;

use crate::db::{self, Conn, conversions::ConversionRow, programs::ProgramRow};
use crate::domain::earnings::billing::{self, Kind, Normalized, Processed};
use crate::error::AppResult;

use super::DAY_MS;
use super::refunds::reverse_share;

/// The ids of one payment: the event's, completed by a recorded invoice-payment link.
#[derive(Debug, Clone, Default)]
pub(super) struct PaymentIds {
    pub(super) invoice_id: Option<String>,
    pub(super) payment_intent_id: Option<String>,
    pub(super) charge_id: Option<String>,
}

impl PaymentIds {
    /// The event's ids; when it knows only one half of its payment (an invoice, or a charge
    /// or payment intent) because of the Stripe shape it came in (a [`billing::Pairing`]) or
    /// it is a refund, the other half from an `invoice_payment.paid` seen before. Ids sent
    /// through the events API are taken as they are, so the hot path of API payments does
    /// no lookup.
    pub(super) async fn linked(
        conn: &mut Conn,
        program_id: &str,
        event: &Normalized,
    ) -> AppResult<Self> {
        let mut ids = Self {
            invoice_id: event.invoice_id.clone(),
            payment_intent_id: event.payment_intent_id.clone(),
            charge_id: event.charge_id.clone(),
        };
        let has_payment = ids.payment_intent_id.is_some() || ids.charge_id.is_some();
        let may_be_linked = event.pairing.is_some() || matches!(event.kind, Kind::Refund(_));
        if may_be_linked
            && ids.invoice_id.is_some() != has_payment
            && let Some(link) = db::payment_links::find(&mut *conn, program_id, &ids.refs()).await?
        {
            ids.invoice_id.get_or_insert(link.invoice_id);
            if let Some(pi) = link.payment_intent_id {
                ids.payment_intent_id.get_or_insert(pi);
            }
            if let Some(ch) = link.charge_id {
                ids.charge_id.get_or_insert(ch);
            }
        }
        Ok(ids)
    }

    pub(super) fn refs(&self) -> db::conversions::PaymentRefs<'_> {
        db::conversions::PaymentRefs {
            invoice_id: self.invoice_id.as_deref(),
            payment_intent_id: self.payment_intent_id.as_deref(),
            charge_id: self.charge_id.as_deref(),
        }
    }
}

/// A Stripe payment is paid at about the same moment on its invoice and its charge.
const PAIR_SLACK_MS: i64 = 3_600_000;

/// A charge by bank debit is created days before it succeeds and its invoice is paid.
const PAIR_DEBIT_MS: i64 = 14 * DAY_MS;

/// The sale times a conversion recorded from the other half of the payment may have:
/// around the payment's time, or for a refund (which knows the charge's creation time) up to
/// two weeks after it.
fn pair_window(at: i64, refund: bool) -> (i64, i64) {
    let after = if refund { PAIR_DEBIT_MS } else { PAIR_SLACK_MS };
    (at.saturating_sub(PAIR_SLACK_MS), at.saturating_add(after))
}

/// For an event that knows one half of its payment's ids (basil and later Stripe shapes):
/// the conversion recorded from the other half, by the same customer, currency and amount
/// paid in the window. `refund`: the event is a `charge.refunded`, whose amount is the
/// charge's.
pub(super) async fn pair(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
    refund: bool,
) -> AppResult<Option<ConversionRow>> {
    let (Some(pairing), Some(customer_id), Some(currency)) =
        (&event.pairing, &event.customer_id, &event.currency)
    else {
        return Ok(None);
    };
    if event.amount_cents <= 0 {
        return Ok(None);
    }
    let (from, to) = pair_window(pairing.at, refund);
    let known_by = match pairing.knows {
        billing::Half::Invoice => db::conversions::KnownBy::PaymentOnly,
        billing::Half::Payment => db::conversions::KnownBy::InvoiceOnly,
    };
    let q = db::conversions::PairQuery {
        program_id: &program.id,
        customer_id,
        currency,
        amount_cents: event.amount_cents,
        known_by,
        from,
        to,
        near: pairing.at,
    };
    Ok(db::conversions::pair_candidate(&mut *conn, &q).await?)
}

/// The one conversion of a payment among `found` (oldest first), with every id of the
/// payment recorded on it. Conversions recorded apart from two halves of the payment before
/// an event named both are folded into the oldest: their commissions are reversed and their
/// ids move to it.
pub(super) async fn settle(
    conn: &mut Conn,
    program: &ProgramRow,
    found: Vec<ConversionRow>,
    ids: &PaymentIds,
) -> AppResult<Option<ConversionRow>> {
    let mut found = found.into_iter();
    let Some(keep) = found.next() else {
        return Ok(None);
    };
    let mut ids = ids.clone();
    for dup in found.filter(|d| d.id != keep.id) {
        fold_duplicate(conn, program, &keep, &dup).await?;
        ids.invoice_id = ids.invoice_id.or(dup.invoice_id);
        ids.payment_intent_id = ids.payment_intent_id.or(dup.payment_intent_id);
        ids.charge_id = ids.charge_id.or(dup.charge_id);
    }
    db::conversions::add_refs(&mut *conn, &keep.id, &ids.refs()).await?;
    Ok(Some(keep))
}

/// Reverses a conversion that turned out to be a second record of `keep`'s payment.
async fn fold_duplicate(
    conn: &mut Conn,
    program: &ProgramRow,
    keep: &ConversionRow,
    dup: &ConversionRow,
) -> AppResult<()> {
    db::conversions::clear_refs(&mut *conn, &dup.id).await?;
    let reason = format!("duplicate of {}: the same payment", keep.id);
    reverse_share(conn, &program.vendor_id, dup, dup.amount_cents).await?;
    for from in ["pending", "approved"] {
        db::conversions::transition(&mut *conn, &dup.id, from, "reversed", Some(&reason)).await?;
    }
    db::events::insert(
        &mut *conn,
        &program.vendor_id,
        "conversion.reversed",
        &json!({"conversion_id": dup.id, "duplicate_of": keep.id}).to_string(),
    )
    .await?;
    Ok(())
}

/// `invoice_payment.paid`: records which payment paid an invoice, and joins the conversion
/// recorded from either half (folding two into one if both halves were recorded apart).
pub async fn on_link(
    conn: &mut Conn,
    program: &ProgramRow,
    event: &Normalized,
) -> AppResult<Processed> {
    let refs = event.refs();
    let Some(invoice_id) = refs
        .invoice_id
        .filter(|_| refs.payment_intent_id.is_some() || refs.charge_id.is_some())
    else {
        return Ok(Processed::ignored(
            "no_link",
            json!({"note": "the invoice payment does not name an invoice and a payment"}),
        ));
    };
    db::payment_links::record(
        &mut *conn,
        &program.vendor_id,
        &program.id,
        invoice_id,
        refs.payment_intent_id,
        refs.charge_id,
    )
    .await?;
    let ids = PaymentIds::linked(conn, &program.id, event).await?;
    let found = db::conversions::by_refs(&mut *conn, &program.id, &ids.refs()).await?;
    let linked = json!({"invoice_id": ids.invoice_id, "payment_intent_id": ids.payment_intent_id,
                        "charge_id": ids.charge_id});
    Ok(match settle(conn, program, found, &ids).await? {
        Some(c) => Processed {
            status: "processed",
            result: json!({"matched_conversion": c.id, "linked": linked}),
            conversion_id: Some(c.id),
        },
        None => Processed {
            status: "processed",
            result: json!({"linked": linked, "note": "no conversion yet; later events of this payment use the link"}),
            conversion_id: None,
        },
    })
}

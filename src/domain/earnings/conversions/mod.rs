//! Conversions and their commissions: who earns from a billing event, how much, and every
//! later state change (maturation, approval, rejection, refunds), each posting its ledger
//! lines in the same transaction.
//!
//! A conversion is found by any id of its payment (invoice, payment intent, charge) or by
//! its external id, so the same sale arriving through several events or doors is one
//! conversion. Commissions are unique per (conversion, level).

mod attribution;
pub mod backtest;
mod lifecycle;
mod manual;
mod matching;
mod reads;
mod recording;
mod refunds;

pub use lifecycle::{approve, mature_due, reject, reject_in};
pub use manual::{ManualInput, manual_currency, record_manual};
pub use matching::on_link;
pub use reads::*;
pub use recording::on_event;
pub use refunds::on_refund;

use crate::domain::values::status::{CommissionStatus, ConversionStatus};

/// Conversion statuses.
pub const STATUSES: &[&str] = ConversionStatus::ALL_TEXT;

/// Commission statuses.
pub const COMMISSION_STATUSES: &[&str] = CommissionStatus::ALL_TEXT;

/// A day in milliseconds (holding periods, pairing windows).
const DAY_MS: i64 = 86_400_000;

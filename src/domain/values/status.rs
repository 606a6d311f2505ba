//! Statuses as enums with the rules of their transitions, so callers ask ("can this payout
//! still be paid?") instead of comparing strings. Stored as their `as_str` text.

use crate::error::AppError;

/// A payout's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Created by a run; money held in `in_payout`.
    Pending,
    /// Being sent (a provider transfer is in flight).
    Processing,
    /// Received by the affiliate.
    Paid,
    /// Not sent; the money is available again.
    Failed,
}

impl PayoutStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Processing, Self::Paid, Self::Failed];
    /// Their stored texts, in the same order (filters and choices).
    pub const ALL_TEXT: [&'static str; 4] = ["pending", "processing", "paid", "failed"];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored or requested status; 422 on `field` for anything else.
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    format!(
                        "{field} must be one of: {}",
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })
    }

    /// The status of a stored row (unknown text counts as closed: nothing moves it).
    pub fn of(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == stored)
    }

    /// Still open: its amount is in `in_payout`, and it can be paid or fail.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Processing)
    }

    /// Can be handed to a provider (only a pending payout; a processing one is in flight).
    pub fn can_process(self) -> bool {
        self == Self::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_statuses_round_trip_and_say_what_they_allow() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::of(s.as_str()), Some(s));
            assert_eq!(PayoutStatus::parse("status", s.as_str()).ok(), Some(s));
        }
        assert!(PayoutStatus::parse("status", "sent").is_err());
        assert_eq!(
            PayoutStatus::ALL.map(PayoutStatus::as_str),
            PayoutStatus::ALL_TEXT
        );
        let open: Vec<_> = PayoutStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(open, [PayoutStatus::Pending, PayoutStatus::Processing]);
        assert!(PayoutStatus::Pending.can_process());
        assert!(!PayoutStatus::Processing.can_process());
    }
}

//! Statuses as enums with the rules of their transitions, so callers ask ("can this payout
//! still be paid?", "is this enrollment active?") instead of comparing strings. Each is
//! stored as its `as_str` text; [`status_enum!`] gives every enum the same reading and
//! writing of that text.

use crate::error::AppError;

/// Declares a status enum: its variants with their stored texts, `ALL`, `ALL_TEXT`,
/// `as_str`, `of` (a stored text) and `parse` (a client's text, 422 on the field).
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every status, in lifecycle order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];
            /// Their stored texts, in the same order (filters and choices).
            pub const ALL_TEXT: &'static [&'static str] = &[$($text,)+];

            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The status a stored text names; `None` for an unknown text (which no rule
            /// then treats as any status).
            pub fn of(stored: &str) -> Option<Self> {
                match stored {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Reads a client's status; 422 on `field` for anything else.
            pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
                Self::of(raw).ok_or_else(|| {
                    AppError::invalid(
                        field,
                        format!("{field} must be one of: {}", Self::ALL_TEXT.join(", ")),
                    )
                })
            }

            /// Whether a stored text is this status.
            pub fn is(self, stored: &str) -> bool {
                stored == self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// A payout's status.
    PayoutStatus {
        /// Created by a run; money held in `in_payout`.
        Pending => "pending",
        /// Being sent (a provider transfer is in flight).
        Processing => "processing",
        /// Received by the affiliate.
        Paid => "paid",
        /// Not sent; the money is available again.
        Failed => "failed",
    }
}

impl PayoutStatus {
    /// Still open: its amount is in `in_payout`, and it can be paid or fail.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Processing)
    }

    /// Can be handed to a provider (only a pending payout; a processing one is in flight).
    pub fn can_process(self) -> bool {
        self == Self::Pending
    }
}

status_enum! {
    /// A conversion's status.
    ConversionStatus {
        /// In its holding period; can be approved or rejected.
        Pending => "pending",
        /// Its commissions are (or will be) payable.
        Approved => "approved",
        /// Refused by the vendor, or recorded as earning nothing.
        Rejected => "rejected",
        /// Fully refunded, or folded into another record of the same payment.
        Reversed => "reversed",
    }
}

impl ConversionStatus {
    /// Can still be approved or rejected by the vendor.
    pub fn can_decide(self) -> bool {
        self == Self::Pending
    }
}

status_enum! {
    /// A commission's status.
    CommissionStatus {
        /// In the holding period.
        Pending => "pending",
        /// Payable.
        Available => "available",
        /// Settled by a payout.
        Paid => "paid",
        /// Taken back before it became payable (conversion rejected).
        Rejected => "rejected",
        /// Taken back by a full refund.
        Reversed => "reversed",
    }
}

impl CommissionStatus {
    /// Still counts toward what the affiliate earns (not rejected).
    pub fn counts(self) -> bool {
        self != Self::Rejected
    }
}

status_enum! {
    /// An affiliate's status (also each of its enrollments').
    AffiliateStatus {
        /// Invited, has not signed in yet.
        Invited => "invited",
        /// Earns and may sign in.
        Active => "active",
        /// Earns nothing for now; may sign in.
        Paused => "paused",
        /// Refused for good; may not sign in.
        Banned => "banned",
        /// Left; may not sign in.
        Deactivated => "deactivated",
    }
}

impl AffiliateStatus {
    /// The statuses a vendor may set (an invitation is sent, not set).
    pub const SETTABLE: [Self; 4] = [Self::Active, Self::Paused, Self::Banned, Self::Deactivated];
    /// Their stored texts.
    pub const SETTABLE_TEXT: [&'static str; 4] = [
        Self::Active.as_str(),
        Self::Paused.as_str(),
        Self::Banned.as_str(),
        Self::Deactivated.as_str(),
    ];

    /// Earns commissions and gets paid.
    pub fn is_active(self) -> bool {
        self == Self::Active
    }

    /// May sign in to the portal.
    pub fn can_sign_in(self) -> bool {
        !matches!(self, Self::Banned | Self::Deactivated)
    }
}

/// Whether a stored affiliate or enrollment status is active.
pub fn is_active(stored: &str) -> bool {
    AffiliateStatus::of(stored).is_some_and(AffiliateStatus::is_active)
}

status_enum! {
    /// A program's status.
    ProgramStatus {
        /// Takes applications, tracks and pays.
        Active => "active",
        /// Tracks nothing new for now.
        Paused => "paused",
        /// Closed.
        Archived => "archived",
    }
}

impl ProgramStatus {
    /// Open: takes applications, attributes and converts.
    pub fn is_open(self) -> bool {
        self == Self::Active
    }
}

/// Whether a stored program status is active.
pub fn program_is_open(stored: &str) -> bool {
    ProgramStatus::of(stored).is_some_and(ProgramStatus::is_open)
}

status_enum! {
    /// An application's status.
    ApplicationStatus {
        /// Waiting for the vendor.
        Pending => "pending",
        /// Accepted: the applicant is an affiliate.
        Approved => "approved",
        /// Refused, with a reason.
        Rejected => "rejected",
    }
}

status_enum! {
    /// A registered deal's status.
    DealStatus {
        /// Waiting for the vendor.
        Pending => "pending",
        /// Accepted: the lead is bound to the affiliate.
        Accepted => "accepted",
        /// Refused.
        Rejected => "rejected",
    }
}

status_enum! {
    /// What processing made of a stored billing event.
    EventStatus {
        /// Money or a binding changed.
        Processed => "processed",
        /// Nothing to do (see its result).
        Ignored => "ignored",
        /// Processing failed; it can be replayed.
        Failed => "failed",
    }
}

status_enum! {
    /// An outgoing email's status.
    EmailStatus {
        /// Waiting for delivery.
        Pending => "pending",
        /// Accepted by the mail server.
        Sent => "sent",
        /// Kept in the dev mailbox (no mail server configured).
        Mailbox => "mailbox",
        /// Delivery gave up.
        Failed => "failed",
    }
}

impl EmailStatus {
    /// Delivered (or kept in the dev mailbox): nothing left to do.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Sent | Self::Mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! round_trips {
        ($($name:ident),+) => {$(
            assert_eq!($name::ALL.len(), $name::ALL_TEXT.len());
            for (s, text) in $name::ALL.iter().zip($name::ALL_TEXT) {
                assert_eq!(s.as_str(), *text);
                assert_eq!($name::of(text), Some(*s));
                assert!(s.is(text));
                assert_eq!($name::parse("status", text).ok(), Some(*s));
            }
            assert!($name::parse("status", "nonsense").is_err());
            assert_eq!($name::of("nonsense"), None);
        )+};
    }

    #[test]
    fn every_status_round_trips_through_its_text() {
        round_trips!(
            PayoutStatus,
            ConversionStatus,
            CommissionStatus,
            AffiliateStatus,
            ProgramStatus,
            ApplicationStatus,
            DealStatus,
            EventStatus,
            EmailStatus
        );
    }

    #[test]
    fn statuses_say_what_they_allow() {
        let open: Vec<_> = PayoutStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [&PayoutStatus::Pending, &PayoutStatus::Processing]);
        assert!(PayoutStatus::Pending.can_process());
        assert!(!PayoutStatus::Processing.can_process());
        assert!(ConversionStatus::Pending.can_decide());
        assert!(!ConversionStatus::Reversed.can_decide());
        assert!(AffiliateStatus::Paused.can_sign_in());
        assert!(!AffiliateStatus::Banned.can_sign_in());
        assert!(is_active("active") && !is_active("paused") && !is_active("garbage"));
        assert!(program_is_open("active") && !program_is_open("archived"));
        assert!(EmailStatus::Mailbox.is_done() && !EmailStatus::Pending.is_done());
        assert!(!CommissionStatus::Rejected.counts());
    }
}

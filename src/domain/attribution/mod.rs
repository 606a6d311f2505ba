//! Who referred whom: tracking (redirect, clicks, visitor), clicks reports, campaign links, referrals and deals.

pub mod clicks;
pub mod deals;
pub mod links;
pub mod referrals;
pub mod tracking;

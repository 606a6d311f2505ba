//! Who referred whom: tracking (redirect, clicks, visitor), clicks reports, campaign links, promo codes, referrals and deals.

pub mod clicks;
pub mod deals;
pub mod links;
pub mod promo_codes;
pub mod referrals;
pub mod tracking;

//! What referrals earn: billing ingest (one door per provider, one pipeline), conversions, commission rules, the ledger, affiliate stats and analytics.

pub mod affiliate_stats;
pub mod analytics;
pub mod billing;
pub mod bonuses;
pub mod caps;
pub mod commission_rules;
pub mod conversions;
pub mod fraud;
pub mod ledger;
pub mod overview;
pub mod reports;

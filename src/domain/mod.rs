//! Validated types and business services. Rules live here once; handlers and the CLI call
//! these functions, and the functions call `db` for storage.

pub mod affiliate_stats;
pub mod affiliate_tokens;
pub mod affiliates;
pub mod analytics;
pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod billing;
pub mod branding;
pub mod clicks;
pub mod commission_rules;
pub mod conversions;
pub mod currency;
pub mod deals;
pub mod email;
pub mod ledger;
pub mod links;
pub mod logo;
pub mod mail;
pub mod money;
pub mod password;
pub mod patch;
pub mod payouts;
pub mod personal_tokens;
pub mod portal_access;
pub mod portal_login;
pub mod programs;
pub mod referrals;
pub mod self_service;
pub mod slug;
pub mod staff;
pub mod terms;
pub mod text;
pub mod tokens;
pub mod tracking;
pub mod vendors;

pub use currency::Currency;
pub use email::Email;
pub use money::Money;

//! The tenant and its staff: vendors, branding and logo, staff sign-in and passwords, API keys, kernel consumers, the audit log and outgoing mail.

pub mod api_keys;
pub mod audit;
pub mod branding;
pub mod consumers;
pub mod domain_verification;
pub mod logo;
pub mod mail;
pub mod password;
pub mod rate_limits;
pub mod sign_ins;
pub mod staff;
pub mod team;
pub mod vendors;
pub mod webhooks;

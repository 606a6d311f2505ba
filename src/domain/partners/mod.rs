//! Who partners with a vendor: programs and their versioned terms, applications, affiliates and their enrollments.

pub mod affiliates;
pub mod applications;
pub mod caps;
pub mod fraud_rules;
pub mod groups;
pub mod onboarding;
pub mod payout_settings;
pub mod programs;
pub mod provider_credentials;
pub mod provisioning;
pub mod tax_details;
pub mod terms;

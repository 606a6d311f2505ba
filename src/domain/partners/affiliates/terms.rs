//! The commission terms an enrollment earns under: its override or its terms version.

use crate::db::affiliates::EnrollmentRow;
use crate::domain::partners::terms::Commission;
use crate::error::{AppError, AppResult};

/// The commission terms of an enrollment.
#[derive(Debug, Clone)]
pub struct EnrollmentTerms {
    /// What the affiliate earns under: its override when set, else `version`.
    pub own: Commission,
    /// Whether `own` is an override.
    pub is_override: bool,
    /// The program terms version the enrollment activated under (the upline ladder always
    /// comes from these, never from an override).
    pub version: Commission,
}

/// The terms of an enrollment (its row carries its terms version's commission).
pub fn enrollment_terms(e: &EnrollmentRow) -> AppResult<EnrollmentTerms> {
    let version = e
        .terms_commission
        .as_deref()
        .and_then(Commission::from_stored)
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "terms v{} of {} are missing",
                e.terms_version,
                e.program_id
            ))
        })?;
    let own = e
        .commission_override
        .as_deref()
        .and_then(Commission::from_stored);
    Ok(EnrollmentTerms {
        is_override: own.is_some(),
        own: own.unwrap_or_else(|| version.clone()),
        version,
    })
}

/// The terms an enrollment earns under: its commission override when set, else the program
/// terms version it activated under. The flag says whether it is an override.
pub fn effective_commission(e: &EnrollmentRow) -> AppResult<(Commission, bool)> {
    let t = enrollment_terms(e)?;
    Ok((t.own, t.is_override))
}

//! Affiliates: a person or company of a vendor and its enrollments. The dashboard and the
//! API both call these; each file holds one job:
//!
//! - [`profile`]: the input, its validation, create, update, deactivate;
//! - [`invitations`]: invite and welcome links, resending, accepting (first sign-in);
//! - [`lists`]: filters, sort and pages;
//! - [`codes`]: referral codes, parsed, generated or changed;
//! - [`status`]: settable statuses and who may sign in;
//! - [`terms`]: the commission terms of an enrollment;
//! - [`self_referral`]: whether a customer is the affiliate itself.

pub mod codes;
pub mod invitations;
pub mod lists;
pub mod profile;
pub mod self_referral;
pub mod status;
pub mod terms;

pub use codes::{change_code, generate_code, parse_code};
pub use invitations::{
    INVITE_PURPOSE, LinkEmail, resend_invite, send_link_email, sign_in_activating,
};
pub use lists::{find, list, parse_filter, parse_sort, pick, rows, suggest};
pub use profile::{
    AffiliateInput, Enrollment, create, deactivate, insert_enrolled, program_for, update,
};
pub use self_referral::{is_self_referral, self_referral_evidence};
pub use status::{SETTABLE_STATUSES, STATUSES, can_sign_in, signed_in};
pub use terms::{EnrollmentTerms, effective_commission, enrollment_terms};

use crate::db::affiliates::{AffiliateRow, EnrollmentRow};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};

/// An affiliate with its enrollments.
#[derive(Debug, Clone)]
pub struct Affiliate {
    /// The stored row.
    pub row: AffiliateRow,
    /// Its programs, oldest first.
    pub enrollments: Vec<EnrollmentRow>,
}

/// One affiliate of the vendor with its enrollments; others are 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Affiliate> {
    let row = db::affiliates::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, id).await?;
    Ok(Affiliate { row, enrollments })
}

/// The affiliate who is the vendor's customer `customer_id`, if any.
pub async fn by_customer(
    db: &Db,
    vendor_id: &str,
    customer_id: &str,
) -> AppResult<Option<Affiliate>> {
    match db::affiliates::by_customer(db.pool(), vendor_id, customer_id).await? {
        Some(row) => Ok(Some(get(db, vendor_id, &row.id).await?)),
        None => Ok(None),
    }
}

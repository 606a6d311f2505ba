//! Status rules of an affiliate: the statuses a vendor may set, and who may sign in.

use crate::db::affiliates::AffiliateRow;
use crate::db::{self, Db};
use crate::domain::values::status::AffiliateStatus;
use crate::error::AppResult;

/// Statuses a vendor may set.
pub const SETTABLE_STATUSES: [&str; 4] = AffiliateStatus::SETTABLE_TEXT;
/// Every status.
pub const STATUSES: &[&str] = AffiliateStatus::ALL_TEXT;

/// The affiliate of this vendor, if it exists and may still sign in: the check every
/// affiliate credential (session, access, embed or personal token) passes on each use.
pub async fn signed_in(db: &Db, vendor_id: &str, id: &str) -> AppResult<Option<AffiliateRow>> {
    Ok(db::affiliates::by_id(db.pool(), vendor_id, id)
        .await?
        .filter(|a| can_sign_in(&a.status)))
}

/// Whether an affiliate in `status` may sign in to the portal.
pub fn can_sign_in(status: &str) -> bool {
    AffiliateStatus::of(status).is_some_and(AffiliateStatus::can_sign_in)
}

//! The self-referral rule: whether a customer is the affiliate itself.

use crate::db::affiliates::AffiliateRow;

/// Whether a customer is the affiliate itself: the affiliate's own `customer_id`, or its
/// email. Self-referrals earn nothing unless the program allows them; the rule is checked
/// when a customer is bound and again when a conversion is recorded.
pub fn is_self_referral(a: &AffiliateRow, customer_id: Option<&str>, email: Option<&str>) -> bool {
    let same_customer = customer_id.is_some() && a.customer_id.as_deref() == customer_id;
    let same_email = email.is_some_and(|e| e.eq_ignore_ascii_case(&a.email));
    same_customer || same_email
}

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

/// How a customer is the affiliate itself, in words, also counting the affiliate's payout
/// email (the `self_referral` fraud signal, which fires where the program allows
/// self-referrals); `None` when it is not.
pub fn self_referral_evidence(
    a: &AffiliateRow,
    customer_id: Option<&str>,
    email: Option<&str>,
) -> Option<&'static str> {
    if is_self_referral(a, customer_id, None) {
        return Some("the customer id is the affiliate's own");
    }
    if is_self_referral(a, None, email) {
        return Some("the customer's email is the affiliate's own");
    }
    let payout = a.payout_email.as_deref();
    email
        .zip(payout)
        .is_some_and(|(e, p)| e.eq_ignore_ascii_case(p))
        .then_some("the customer's email is the affiliate's payout email")
}

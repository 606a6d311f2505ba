//! What the cookie session holds, and the helpers that read and write it.
//!
//! The session cookie is signed and encrypted with the secret key (actix-session cookie
//! store), so its content cannot be read or forged by the client.

use actix_session::Session;
use subtle::ConstantTimeEq;

use crate::db::{Db, now_ms};
use crate::domain::tenancy::sign_ins;

const STAFF_USER: &str = "staff_user";
const STAFF_VENDOR: &str = "staff_vendor";
const STAFF_EXPIRES: &str = "staff_exp";
const STAFF_EPOCH: &str = "staff_epoch";
/// The token of the staff member's server-side sign-in (see `domain::tenancy::sign_ins`).
const STAFF_SIGN_IN: &str = "staff_sid";
const CSRF: &str = "csrf";

/// How long a staff sign-in lasts, whatever the activity (12 hours).
pub const STAFF_SESSION_MS: i64 = 12 * 3600 * 1000;

/// The signed-in staff member's ids, if the session has an unexpired sign-in.
pub fn staff(session: &Session) -> Option<(String, String)> {
    let user: String = session.get(STAFF_USER).ok()??;
    let vendor: String = session.get(STAFF_VENDOR).ok()??;
    let exp: i64 = session.get(STAFF_EXPIRES).ok()??;
    (exp > now_ms()).then_some((user, vendor))
}

/// The account's session epoch when this session signed in (0 for sessions older than
/// epochs); the dashboard refuses a session whose epoch is behind the account's.
pub fn staff_epoch(session: &Session) -> i64 {
    session.get(STAFF_EPOCH).ok().flatten().unwrap_or(0)
}

/// The token of this session's server-side staff sign-in (empty when it has none).
pub fn staff_sign_in(session: &Session) -> String {
    session
        .get::<String>(STAFF_SIGN_IN)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Signs a staff member in: a server-side sign-in row, a fresh session id (against
/// fixation) and a fresh CSRF token. `epoch` is the account's current session epoch
/// ("sign out everywhere" moves it on).
pub async fn sign_in_staff(
    db: &Db,
    session: &Session,
    user_id: &str,
    vendor_id: &str,
    epoch: i64,
) -> anyhow::Result<()> {
    let token = sign_ins::start(db, vendor_id, sign_ins::STAFF, user_id, STAFF_SESSION_MS).await?;
    // A browser signing in again ends its previous sign-in rather than leaving it live.
    end_staff_sign_in(db, session).await;
    session.renew();
    session.remove(CSRF);
    session.insert(STAFF_USER, user_id)?;
    session.insert(STAFF_VENDOR, vendor_id)?;
    session.insert(STAFF_EPOCH, epoch)?;
    session.insert(STAFF_SIGN_IN, token)?;
    session.insert(STAFF_EXPIRES, now_ms() + STAFF_SESSION_MS)?;
    Ok(())
}

/// Revokes this session's staff sign-in server-side, if it has one.
async fn end_staff_sign_in(db: &Db, session: &Session) {
    let token = staff_sign_in(session);
    if let (Some((_, vendor)), false) = (staff(session), token.is_empty()) {
        // A failure leaves the row to expire on its own; the cookie is purged anyway.
        if let Err(e) = sign_ins::end(db, &vendor, &token).await {
            tracing::warn!(error = %e, "could not revoke a staff sign-in");
        }
    }
}

/// Signs the staff member out of this browser: the sign-in is revoked server-side (a
/// copy of the cookie stops working too) and the cookie is emptied. Other devices stay
/// signed in.
pub async fn sign_out_staff(db: &Db, session: &Session) {
    end_staff_sign_in(db, session).await;
    sign_out(session);
}

const STAFF_READ_ONLY: &str = "staff_ro";

/// Whether the signed-in staff member may only look (a viewer), as last seen by the
/// dashboard's `Staff` extractor; pages read it to hide what a viewer cannot use.
pub fn staff_read_only(session: &Session) -> bool {
    session
        .get::<bool>(STAFF_READ_ONLY)
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Records whether the staff member may only look; written only when it changes, so the
/// cookie is not re-sent on every page.
pub fn set_staff_read_only(session: &Session, read_only: bool) {
    if staff_read_only(session) != read_only {
        // A failure only means the buttons stay visible; the server still refuses.
        let _ = session.insert(STAFF_READ_ONLY, read_only);
    }
}

/// How long an affiliate's portal sign-in lasts (7 days).
pub const AFFILIATE_SESSION_MS: i64 = 7 * 24 * 3600 * 1000;

fn affiliate_key(vendor_id: &str) -> String {
    format!("affiliate:{vendor_id}")
}

/// The affiliate signed in to this vendor's portal, if any (id, unexpired). Whether the
/// sign-in is still live server-side is [`affiliate_sign_in`] + `sign_ins::is_live`.
pub fn affiliate(session: &Session, vendor_id: &str) -> Option<String> {
    affiliate_sign_in(session, vendor_id).map(|(id, _)| id)
}

/// The affiliate signed in to this vendor's portal and the sign-in's token (unexpired).
pub fn affiliate_sign_in(session: &Session, vendor_id: &str) -> Option<(String, String)> {
    let (id, exp, token): (String, i64, String) = session.get(&affiliate_key(vendor_id)).ok()??;
    (exp > now_ms()).then_some((id, token))
}

/// Signs an affiliate in to one vendor's portal (a server-side sign-in, a fresh session id
/// and CSRF token).
pub async fn sign_in_affiliate(
    db: &Db,
    session: &Session,
    vendor_id: &str,
    affiliate_id: &str,
) -> anyhow::Result<()> {
    let token = sign_ins::start(
        db,
        vendor_id,
        sign_ins::AFFILIATE,
        affiliate_id,
        AFFILIATE_SESSION_MS,
    )
    .await?;
    end_portal_sign_ins(db, session, vendor_id).await;
    session.renew();
    session.remove(CSRF);
    session.insert(
        affiliate_key(vendor_id),
        (affiliate_id, now_ms() + AFFILIATE_SESSION_MS, token),
    )?;
    Ok(())
}

/// Revokes this browser's affiliate and applicant sign-ins at one vendor server-side.
async fn end_portal_sign_ins(db: &Db, session: &Session, vendor_id: &str) {
    let tokens = [
        affiliate_sign_in(session, vendor_id).map(|(_, t)| t),
        applicant_sign_in(session, vendor_id).map(|(_, t)| t),
    ];
    for token in tokens.into_iter().flatten() {
        // A failure leaves the row to expire on its own; the cookie is emptied anyway.
        if let Err(e) = sign_ins::end(db, vendor_id, &token).await {
            tracing::warn!(error = %e, "could not revoke a portal sign-in");
        }
    }
}

/// Signs the affiliate (or applicant) out of one vendor's portal in this browser: revoked
/// server-side, so a copy of the cookie stops working too.
pub async fn sign_out_affiliate(db: &Db, session: &Session, vendor_id: &str) {
    end_portal_sign_ins(db, session, vendor_id).await;
    session.remove(&affiliate_key(vendor_id));
    session.remove(&applicant_key(vendor_id));
}

/// How long an applicant's sign-in (to see their application status) lasts: 1 day.
pub const APPLICANT_SESSION_MS: i64 = 24 * 3600 * 1000;

fn applicant_key(vendor_id: &str) -> String {
    format!("applicant:{vendor_id}")
}

/// The email of the applicant signed in to this vendor's portal and the sign-in's token,
/// if any (unexpired).
pub fn applicant_sign_in(session: &Session, vendor_id: &str) -> Option<(String, String)> {
    let (email, exp, token): (String, i64, String) =
        session.get(&applicant_key(vendor_id)).ok()??;
    (exp > now_ms()).then_some((email, token))
}

/// Signs an applicant in to one vendor's portal, to see the status of their applications
/// (a server-side sign-in, a fresh session id and CSRF token).
pub async fn sign_in_applicant(
    db: &Db,
    session: &Session,
    vendor_id: &str,
    email: &str,
) -> anyhow::Result<()> {
    let email = email.trim().to_lowercase();
    let token = sign_ins::start(
        db,
        vendor_id,
        sign_ins::APPLICANT,
        &email,
        APPLICANT_SESSION_MS,
    )
    .await?;
    end_portal_sign_ins(db, session, vendor_id).await;
    session.renew();
    session.remove(CSRF);
    session.insert(
        applicant_key(vendor_id),
        (email, now_ms() + APPLICANT_SESSION_MS, token),
    )?;
    Ok(())
}

/// Ends every sign-in held by the session.
pub fn sign_out(session: &Session) {
    session.purge();
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF) {
        return token;
    }
    let token = crate::domain::values::tokens::random_hex(32);
    // A failure here only means the next form post is refused; nothing to recover.
    let _ = session.insert(CSRF, &token);
    token
}

/// Whether `presented` is the session's CSRF token (constant-time).
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    match session.get::<String>(CSRF) {
        Ok(Some(token)) => {
            !presented.is_empty() && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
        }
        _ => false,
    }
}

//! Server-side sign-ins: every dashboard, portal and applicant session is a row the server
//! can revoke, so a copied cookie stops working after sign-out, "sign out everywhere", a
//! password change or an `admin reset-password`, on every instance (the check reads the
//! database). The cookie holds a random token; only its SHA-256 hash is stored.

use crate::db::{self, Db};
use crate::domain::values::tokens;
use crate::error::AppResult;

pub use crate::db::sign_ins::{AFFILIATE, APPLICANT, STAFF};

/// Starts a sign-in of `subject` (of `kind`) lasting `ttl_ms`; returns the token for the
/// cookie.
pub async fn start(
    db: &Db,
    vendor_id: &str,
    kind: &str,
    subject: &str,
    ttl_ms: i64,
) -> AppResult<String> {
    let token = tokens::random_hex(32);
    db::sign_ins::insert(
        db.pool(),
        vendor_id,
        kind,
        subject,
        &tokens::sha256_hex(&token),
        db::now_ms() + ttl_ms,
    )
    .await?;
    Ok(token)
}

/// Whether the cookie's token is a live sign-in of this subject at this vendor.
pub async fn is_live(
    db: &Db,
    vendor_id: &str,
    kind: &str,
    subject: &str,
    token: &str,
) -> AppResult<bool> {
    if token.is_empty() {
        return Ok(false);
    }
    Ok(db::sign_ins::check(
        db.pool(),
        vendor_id,
        kind,
        subject,
        &tokens::sha256_hex(token),
    )
    .await?)
}

/// Ends one sign-in (this browser signs out; the person's other devices stay signed in).
pub async fn end(db: &Db, vendor_id: &str, token: &str) -> AppResult<()> {
    db::sign_ins::revoke(db.pool(), vendor_id, &tokens::sha256_hex(token)).await?;
    Ok(())
}

/// Ends every sign-in of a subject, on every device; returns how many ended.
pub async fn end_all(db: &Db, vendor_id: &str, kind: &str, subject: &str) -> AppResult<u64> {
    Ok(db::sign_ins::revoke_all(db.pool(), vendor_id, kind, subject).await?)
}

//! Staff sign-in (password with throttling, or emailed magic link) and password resets.

use crate::db::{self, Db, users::UserRow};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::{tenancy::password, values::Email, values::tokens};
use crate::error::{AppError, AppResult};

/// Failures allowed per (email, client) within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES: i64 = 10;
/// The sliding window of the throttle: 15 minutes.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Checks an email and password. Wrong credentials are recorded; the 11th attempt within
/// 15 minutes for the same email from the same client is refused with 429, right password
/// or not, until the oldest failure leaves the window.
pub async fn sign_in(db: &Db, email: &str, password: &str, client: &str) -> AppResult<UserRow> {
    let key = throttle_key(email, client);
    let now = db::now_ms();
    let (failures, oldest) =
        db::throttle::failures_since(db.pool(), &key, now - THROTTLE_WINDOW_MS).await?;
    if failures >= MAX_FAILURES {
        let until = oldest.unwrap_or(now) + THROTTLE_WINDOW_MS;
        let retry_after_secs = u64::try_from((until - now).max(1000) / 1000).unwrap_or(1);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let user = match Email::parse("email", email) {
        // An invitation not yet accepted has no password and cannot sign in.
        Ok(e) => db::users::by_email(db.pool(), e.as_str())
            .await?
            .filter(UserRow::is_active),
        Err(_) => None,
    };
    let ok = password::verify(
        password.to_owned(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match user {
        Some(user) if ok => {
            db::throttle::clear(db.pool(), &key, now - THROTTLE_WINDOW_MS).await?;
            db::users::touch_login(db.pool(), &user.id).await?;
            Ok(user)
        }
        _ => {
            db::throttle::record_failure(db.pool(), &key).await?;
            Err(AppError::Unauthorized("wrong email or password".into()))
        }
    }
}

/// Sets a new password for the staff account with this email.
pub async fn reset_password(db: &Db, email: &str, new_password: &str) -> AppResult<UserRow> {
    let email = Email::parse("email", email)?;
    password::check_policy("password", new_password)?;
    let user = db::users::by_email(db.pool(), email.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = password::hash(new_password.to_owned()).await?;
    let mut tx = db.begin().await?;
    db::users::set_password(&mut *tx, &user.id, &hash).await?;
    // A reset from the command line ends the account's sessions, like one by email.
    db::users::bump_epoch(&mut tx, &user.vendor_id, &user.id).await?;
    tx.commit().await?;
    Ok(user)
}

/// The throttle bucket: a hash, so neither emails nor addresses sit in the table in clear.
pub(crate) fn throttle_key(email: &str, client: &str) -> String {
    tokens::sha256_hex(&format!("{}|{client}", email.trim().to_lowercase()))
}

/// Token purpose of staff magic links.
const MAGIC_LINK: &str = "staff_sign_in";
/// How long a magic link works: 15 minutes.
pub const MAGIC_LINK_TTL_MS: i64 = 15 * 60 * 1000;
/// Links emailed per address per throttle window; more requests are silently dropped so
/// nobody can use the form to flood an inbox.
const MAX_LINKS_PER_WINDOW: i64 = 5;

/// The active staff account (and its vendor) an emailed link (`kind`: `link` for sign-in,
/// `reset` for a password reset) may be sent to, counting the request against the
/// address's cap of `max` per throttle window. `None` — nothing to send — for a malformed
/// or unknown address or once the cap is reached; the caller answers the same either way,
/// so the form reveals no accounts and cannot flood an inbox.
pub(crate) async fn emailed_link_recipient(
    db: &Db,
    email: &str,
    kind: &str,
    max: i64,
) -> AppResult<Option<(UserRow, db::vendors::VendorRow)>> {
    let Ok(email) = Email::parse("email", email) else {
        return Ok(None);
    };
    let key = format!("{kind}|{}", throttle_key(email.as_str(), ""));
    let now = db::now_ms();
    let (sent, _) = db::throttle::failures_since(db.pool(), &key, now - THROTTLE_WINDOW_MS).await?;
    if sent >= max {
        tracing::warn!(kind, "emailed-link requests throttled for one address");
        return Ok(None);
    }
    db::throttle::record_failure(db.pool(), &key).await?;
    let Some(user) = db::users::by_email(db.pool(), email.as_str())
        .await?
        .filter(UserRow::is_active)
    else {
        return Ok(None);
    };
    let vendor = db::vendors::by_id(db.pool(), &user.vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Some((user, vendor)))
}

/// Emails a single-use sign-in link if `email` belongs to a staff account. The caller
/// answers the same "check your email" whatever happens, so the form reveals no accounts.
pub async fn request_magic_link(db: &Db, email: &str, next: Option<&str>) -> AppResult<()> {
    // The same work for every address: one job, whatever the address. The worker looks
    // the address up and decides whether to send ([`send_magic_link`]), so neither the
    // answer nor its timing says whether the address has an account.
    let payload = serde_json::json!({
        "for": "staff",
        "email": email.trim(),
        "next": next,
    });
    db::jobs::enqueue(
        db.pool(),
        None,
        mail::SIGN_IN_LINK_JOB,
        &payload.to_string(),
        3,
        db::now_ms(),
    )
    .await?;
    Ok(())
}

/// The worker's half of [`request_magic_link`]: emails a single-use sign-in link if
/// `email` belongs to an active staff account (within the per-address cap), else nothing.
pub async fn send_magic_link(
    db: &Db,
    sender: &Sender,
    email: &str,
    next: Option<&str>,
) -> AppResult<()> {
    let Some((user, vendor)) =
        emailed_link_recipient(db, email, "link", MAX_LINKS_PER_WINDOW).await?
    else {
        return Ok(());
    };
    let now = db::now_ms();
    let token = tokens::random_hex(32);
    // The page asked for before sign-in rides along in the link, so it works from another
    // browser too; it is checked again when the link is used.
    let next = next
        .filter(|n| safe_next(n).is_some())
        .map(|n| format!("?next={}", urlencode(n)))
        .unwrap_or_default();
    let url = format!(
        "{}/login/link/{token}{next}",
        sender.base_url.trim_end_matches('/')
    );
    let mut tx = db.begin().await?;
    db::login_tokens::insert(
        &mut *tx,
        &vendor.id,
        MAGIC_LINK,
        &user.id,
        &tokens::sha256_hex(&token),
        now + MAGIC_LINK_TTL_MS,
    )
    .await?;
    let message = StaffSignInEmail {
        vendor_name: vendor.name.clone(),
        user_email: user.email.clone(),
        url,
    };
    mail::enqueue(
        &mut tx,
        sender,
        &vendor,
        Recipient {
            email: &user.email,
            name: None,
        },
        &message,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The `staff_sign_in` email (copy in `templates/emails/staff_sign_in.*`).
#[derive(Debug, Clone)]
struct StaffSignInEmail {
    vendor_name: String,
    user_email: String,
    url: String,
}
mail::email_kind!(
    StaffSignInEmail,
    "staff_sign_in",
    "emails/staff_sign_in.txt",
    "emails/staff_sign_in.html"
);

/// The account a magic link would sign in, without using the link.
pub async fn peek_magic_link(db: &Db, token: &str) -> AppResult<Option<UserRow>> {
    let Some(grant) =
        db::login_tokens::peek(db.pool(), MAGIC_LINK, &tokens::sha256_hex(token)).await?
    else {
        return Ok(None);
    };
    Ok(db::users::by_id(db.pool(), &grant.vendor_id, &grant.subject_id).await?)
}

/// Uses a magic link; a used, expired or unknown link is refused (409).
pub async fn consume_magic_link(db: &Db, token: &str) -> AppResult<UserRow> {
    let expired = || AppError::wrong_state("This sign-in link has expired or was already used.");
    let grant = db::login_tokens::consume(db.pool(), MAGIC_LINK, &tokens::sha256_hex(token))
        .await?
        .ok_or_else(expired)?;
    let user = db::users::by_id(db.pool(), &grant.vendor_id, &grant.subject_id)
        .await?
        .ok_or_else(expired)?;
    db::users::touch_login(db.pool(), &user.id).await?;
    Ok(user)
}

/// The page to return to after sign-in, if `next` is a same-site relative path: it must
/// start with one `/`, and hold no `//`, backslash, scheme or control character, so
/// `//evil.test`, `/\\evil.test` and `https://evil.test` never leave the site.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 2000;
    ok.then_some(next)
}

/// Percent-encodes `s` for a query value (path characters and `/` kept readable).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a staff role may change the vendor's settings: owners and admins; viewers only
/// look.
pub fn may_change(role: &str) -> bool {
    matches!(role, "owner" | "admin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn only_same_site_paths_are_returned_to() {
        for ok in [
            "/dashboard",
            "/dashboard/payouts?page=2",
            "/dashboard/team#x",
        ] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        for bad in [
            "//evil.test",
            "https://evil.test",
            "/\\evil.test",
            "\\\\evil.test",
            "evil.test",
            "",
            "/x/https://evil",
            "/a b",
            "/\tx",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
        assert_eq!(urlencode("/a?b=1&c"), "/a%3Fb%3D1%26c");
    }

    #[test]
    fn the_sign_in_email_renders_its_copy() {
        let r = render(
            &StaffSignInEmail {
                vendor_name: "Acme & Co".into(),
                user_email: "staff@acme.test".into(),
                url: "https://x.test/login/link/abc".into(),
            },
            false,
        );
        assert_eq!(r.subject, "Your sign-in link for Acme & Co");
        assert!(r.text.starts_with("Sign in to your partner dashboard\n\nUse the link below to sign in to the Acme & Co dashboard as staff@acme.test."));
        assert!(
            r.text
                .contains("\n\nSign in: https://x.test/login/link/abc\n\n")
        );
        assert!(
            r.html
                .contains(r#"<a href="https://x.test/login/link/abc""#)
        );
    }
}

//! Signing in to the affiliate portal: emailed magic links, invitation links and signed
//! portal links all end here.
//!
//! * A magic link is asked for with an email address. The answer is always the same "check
//!   your email", whether or not the address is known, so the form reveals no accounts. An
//!   affiliate who may sign in gets a sign-in link; an applicant who is not approved yet
//!   gets a link to the status of their application; anyone else gets nothing. Links work
//!   once, for 15 minutes, and only a SHA-256 of them is stored.
//! * Invitation and welcome links (7 days) are the same kind of single-use token and are
//!   redeemed by the same code; so are sign-in links of an invited affiliate, which
//!   activate the enrollment on first use.
//! * Signed portal links (`domain::access::portal_access`) are stateless and work for 24 hours.

use crate::db::{self, Db, affiliates::AffiliateRow, applications::ApplicationRow};
use crate::domain::access::affiliate_tokens::Signer;
use crate::domain::partners::affiliates::{INVITE_PURPOSE, can_sign_in, sign_in_activating};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::values::status::ApplicationStatus;
use crate::domain::{values::Email, values::tokens};
use crate::error::{AppError, AppResult};

/// Token purpose of an affiliate's magic link.
pub const SIGN_IN_PURPOSE: &str = "affiliate_sign_in";
/// Token purpose of an applicant's link to their application status.
pub const APPLICANT_PURPOSE: &str = "applicant_sign_in";
/// How long a magic link works: 15 minutes.
pub const LINK_TTL_MS: i64 = 15 * 60 * 1000;
/// Links emailed per address and vendor per window; further requests are dropped silently,
/// so nobody can use the form to flood an inbox.
const MAX_LINKS_PER_WINDOW: i64 = 5;
const WINDOW_MS: i64 = 15 * 60 * 1000;

/// The link purposes redeemed at `/login/link/{token}`.
const PURPOSES: [&str; 3] = [INVITE_PURPOSE, SIGN_IN_PURPOSE, APPLICANT_PURPOSE];

/// Who a link signs in.
#[derive(Debug, Clone)]
pub enum Grant {
    /// An affiliate (invitation, welcome or magic link).
    Affiliate(Box<AffiliateRow>),
    /// Someone whose application is not approved yet: they may see its status.
    Applicant {
        /// The address the applications were made with.
        email: String,
    },
}

/// Emails a sign-in link for this vendor's portal if `email` belongs to an affiliate who
/// may sign in, or a status link if it belongs to an applicant. `portal_root` is the
/// absolute URL of the portal root (ending in `/`) on the host the request came in on, so
/// the session cookie is set where the person is. A malformed address is a 422; every
/// well-formed one gets `Ok(())`.
pub async fn request_link(
    db: &Db,
    vendor: &db::vendors::VendorRow,
    email: &str,
    portal_root: &str,
) -> AppResult<()> {
    let email = Email::parse("email", email)?;
    // The same work for every well-formed address: one job. The worker looks the address
    // up and decides whether to send ([`send_link`]), so neither the answer nor its timing
    // says whether the address is an affiliate's or an applicant's.
    let payload = serde_json::json!({
        "for": "portal",
        "vendor_id": vendor.id,
        "email": email.as_str(),
        "portal_root": portal_root,
    });
    db::jobs::enqueue(
        db.pool(),
        Some(&vendor.id),
        mail::SIGN_IN_LINK_JOB,
        &payload.to_string(),
        3,
        db::now_ms(),
    )
    .await?;
    Ok(())
}

/// The worker's half of [`request_link`]: emails the link when the address is an
/// affiliate who may sign in or an applicant (within the per-address cap), else nothing.
pub async fn send_link(
    db: &Db,
    sender: &Sender,
    vendor: &db::vendors::VendorRow,
    email: &str,
    portal_root: &str,
) -> AppResult<()> {
    let email = Email::parse("email", email)?;
    let now = db::now_ms();
    let key = format!(
        "portal-link|{}",
        tokens::sha256_hex(&format!("{}|{}", vendor.id, email.as_str()))
    );
    let (sent, _) = db::throttle::failures_since(db.pool(), &key, now - WINDOW_MS).await?;
    if sent >= MAX_LINKS_PER_WINDOW {
        tracing::warn!(vendor_id = %vendor.id, "portal sign-in links throttled for one address");
        return Ok(());
    }
    db::throttle::record_failure(db.pool(), &key).await?;

    let affiliate = db::affiliates::by_email(db.pool(), &vendor.id, email.as_str()).await?;
    // The link goes to the address on file, not to the spelling typed in the form.
    let (purpose, subject, to_email, to_name) = match affiliate {
        Some(a) if can_sign_in(&a.status) => (
            SIGN_IN_PURPOSE,
            a.id.clone(),
            a.email.clone(),
            (!a.name.is_empty()).then(|| a.name.clone()),
        ),
        // A known but banned or deactivated affiliate gets nothing, like an unknown address.
        Some(_) => return Ok(()),
        None => {
            let Some(application) =
                db::applications::latest_by_email(db.pool(), &vendor.id, email.as_str(), None)
                    .await?
                    .filter(|a| !ApplicationStatus::Approved.is(&a.status))
            else {
                return Ok(());
            };
            (
                APPLICANT_PURPOSE,
                application.id.clone(),
                application.email.clone(),
                (!application.name.is_empty()).then(|| application.name.clone()),
            )
        }
    };
    let token = tokens::random_hex(32);
    let url = format!("{portal_root}login/link/{token}");
    let portal_name = vendor.display_name().to_owned();
    let mut tx = db.begin().await?;
    db::login_tokens::insert(
        &mut *tx,
        &vendor.id,
        purpose,
        &subject,
        &tokens::sha256_hex(&token),
        now + LINK_TTL_MS,
    )
    .await?;
    let to = Recipient {
        email: &to_email,
        name: to_name.as_deref(),
    };
    if purpose == SIGN_IN_PURPOSE {
        let message = PortalSignInEmail {
            portal_name,
            email: to_email.clone(),
            url,
        };
        mail::enqueue(&mut tx, sender, vendor, to, &message).await?;
    } else {
        let message = ApplicantSignInEmail {
            portal_name,
            program: vendor.program_phrase(),
            url,
        };
        mail::enqueue(&mut tx, sender, vendor, to, &message).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The `portal_sign_in` email (copy in `templates/emails/portal_sign_in.*`).
#[derive(Debug, Clone)]
struct PortalSignInEmail {
    portal_name: String,
    email: String,
    url: String,
}
mail::email_kind!(
    PortalSignInEmail,
    "portal_sign_in",
    "emails/portal_sign_in.txt",
    "emails/portal_sign_in.html"
);

/// The `applicant_sign_in` email (copy in `templates/emails/applicant_sign_in.*`).
#[derive(Debug, Clone)]
struct ApplicantSignInEmail {
    portal_name: String,
    /// The program named mid-sentence (see [`db::vendors::VendorRow::program_phrase`]).
    program: String,
    url: String,
}
mail::email_kind!(
    ApplicantSignInEmail,
    "applicant_sign_in",
    "emails/applicant_sign_in.txt",
    "emails/applicant_sign_in.html"
);

/// What a link of this vendor would sign in, without using it (the confirmation page, so
/// mail scanners that open links do not use them up). `None` when it no longer works.
pub async fn peek(db: &Db, vendor_id: &str, token: &str) -> AppResult<Option<Grant>> {
    let hash = tokens::sha256_hex(token);
    let Some((purpose, grant)) = db::login_tokens::peek_among(db.pool(), PURPOSES, &hash).await?
    else {
        return Ok(None);
    };
    if grant.vendor_id != vendor_id {
        return Ok(None);
    }
    grant_of(db.pool(), vendor_id, &purpose, &grant.subject_id).await
}

async fn grant_of<'e, E: sqlx::Executor<'e, Database = sqlx::Any> + Copy>(
    ex: E,
    vendor_id: &str,
    purpose: &str,
    subject_id: &str,
) -> AppResult<Option<Grant>> {
    if purpose == APPLICANT_PURPOSE {
        let application: Option<ApplicationRow> =
            db::applications::by_id(ex, vendor_id, subject_id).await?;
        return Ok(application.map(|a| Grant::Applicant { email: a.email }));
    }
    let row = db::affiliates::by_id(ex, vendor_id, subject_id).await?;
    Ok(row
        .filter(|a| can_sign_in(&a.status))
        .map(|a| Grant::Affiliate(Box::new(a))))
}

/// Uses a link of this vendor: exactly once, within its lifetime. An invited affiliate is
/// activated. Used, expired, unknown or another vendor's links → 409 (and another vendor's
/// portal cannot burn the link); a banned or deactivated affiliate → 403.
pub async fn redeem(db: &Db, vendor_id: &str, token: &str) -> AppResult<Grant> {
    let expired = || AppError::wrong_state("This link has expired or was already used.");
    let hash = tokens::sha256_hex(token);
    let (purpose, grant) = db::login_tokens::peek_among(db.pool(), PURPOSES, &hash)
        .await?
        .ok_or_else(expired)?;
    if grant.vendor_id != vendor_id {
        return Err(expired());
    }
    let mut tx = db.begin().await?;
    db::login_tokens::consume(&mut *tx, &purpose, &hash)
        .await?
        .ok_or_else(expired)?;
    let granted = if purpose == APPLICANT_PURPOSE {
        let application = db::applications::by_id(&mut *tx, vendor_id, &grant.subject_id)
            .await?
            .ok_or_else(expired)?;
        Grant::Applicant {
            email: application.email,
        }
    } else {
        Grant::Affiliate(Box::new(
            sign_in_activating(&mut tx, vendor_id, &grant.subject_id).await?,
        ))
    };
    tx.commit().await?;
    Ok(granted)
}

/// Uses a signed portal link on this vendor's portal: the affiliate it names, signed in
/// (and activated if invited). A bad, expired or other vendor's link → 409, a banned or
/// deactivated affiliate → 403.
pub async fn redeem_portal_link(
    db: &Db,
    signer: &Signer,
    vendor_id: &str,
    token: &str,
) -> AppResult<AffiliateRow> {
    let claims = signer
        .verify_portal_link(token, db::now_ms())
        .filter(|c| c.vendor_id == vendor_id)
        .ok_or_else(|| AppError::wrong_state("This portal link has expired or is not valid."))?;
    let mut tx = db.begin().await?;
    let row = sign_in_activating(&mut tx, vendor_id, &claims.affiliate_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The applications of a signed-in applicant at this vendor, newest first.
pub async fn applications_of(
    db: &Db,
    vendor_id: &str,
    email: &str,
) -> AppResult<Vec<ApplicationRow>> {
    Ok(db::applications::by_email(db.pool(), vendor_id, email).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_sign_in_emails_render_their_copy() {
        let r = render(
            &PortalSignInEmail {
                portal_name: "Acme <Partners>".into(),
                email: "ann@x.test".into(),
                url: "https://p.test/login/link/t1".into(),
            },
            true,
        );
        assert_eq!(r.subject, "Your sign-in link for Acme <Partners>");
        assert!(r.text.starts_with("Sign in to Acme <Partners>\n\nUse the button below to sign in to your partner portal as ann@x.test."));
        assert!(
            r.text
                .contains("\n\nSign in: https://p.test/login/link/t1\n\n")
        );
        assert!(
            r.html
                .contains("<title>Your sign-in link for Acme &#60;Partners&#62;</title>")
        );

        let r = render(
            &ApplicantSignInEmail {
                portal_name: "Acme <Partners>".into(),
                program: "the Acme partner program".into(),
                url: "https://p.test/login/link/t2".into(),
            },
            false,
        );
        assert_eq!(r.subject, "Your application to Acme <Partners>");
        assert!(
            r.text
                .contains("where your application to the Acme partner program stands.")
        );
        assert!(
            r.text
                .contains("\n\nSee my application: https://p.test/login/link/t2\n\n")
        );
        assert!(r.html.contains(">See my application</a>"));
    }
}

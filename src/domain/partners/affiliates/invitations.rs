//! Invitations and welcome links: the single-use sign-in link emailed to a new affiliate,
//! resending it, and accepting it (the first sign-in activates an invited affiliate).

use serde_json::json;

use crate::db::affiliates::AffiliateRow;
use crate::db::vendors::VendorRow;
use crate::db::{self, Db};
use crate::domain::partners::affiliates::can_sign_in;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::values::status::AffiliateStatus;
use crate::domain::{tenancy::vendors, values::tokens};
use crate::error::{AppError, AppResult};

/// Token purpose of invitation and welcome links (7 days, single use).
pub const INVITE_PURPOSE: &str = "affiliate_invite";
/// How long an invitation link works: 7 days.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Which sign-in email an affiliate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEmail {
    /// Added by the vendor: "you're invited".
    Invite,
    /// Application approved: "welcome".
    Welcome,
}

/// The `affiliate_invite` email (copy in `templates/emails/affiliate_invite.*`).
#[derive(Debug, Clone)]
struct InviteEmail {
    /// Greets by first name when there is one.
    first_name: String,
    vendor_name: String,
    url: String,
}
mail::email_kind!(
    InviteEmail,
    "affiliate_invite",
    "emails/affiliate_invite.txt",
    "emails/affiliate_invite.html"
);

/// The `application_approved` email (copy in `templates/emails/application_approved.*`).
#[derive(Debug, Clone)]
struct WelcomeEmail {
    /// Greets by first name when there is one.
    first_name: String,
    vendor_name: String,
    url: String,
}
mail::email_kind!(
    WelcomeEmail,
    "application_approved",
    "emails/application_approved.txt",
    "emails/application_approved.html"
);

/// Writes a single-use sign-in token (7 days) and the email carrying it, in the caller's
/// transaction. Using the link signs the affiliate in to the portal and activates it.
pub async fn send_link_email(
    conn: &mut db::Conn,
    sender: &Sender,
    vendor: &VendorRow,
    affiliate: &AffiliateRow,
    kind: LinkEmail,
) -> AppResult<()> {
    let token = tokens::random_hex(32);
    db::login_tokens::insert(
        &mut *conn,
        &vendor.id,
        INVITE_PURPOSE,
        &affiliate.id,
        &tokens::sha256_hex(&token),
        db::now_ms() + INVITE_TTL_MS,
    )
    .await?;
    let portal = vendors::portal_url(&mut *conn, &sender.base_url, vendor).await?;
    let url = format!("{portal}login/link/{token}");
    let name = (!affiliate.name.is_empty()).then_some(affiliate.name.as_str());
    let to = Recipient {
        email: &affiliate.email,
        name,
    };
    let first_name = affiliate.first_name.clone();
    let vendor_name = vendor.name.clone();
    match kind {
        LinkEmail::Invite => {
            let message = InviteEmail {
                first_name,
                vendor_name,
                url,
            };
            mail::enqueue(conn, sender, vendor, to, &message).await?;
        }
        LinkEmail::Welcome => {
            let message = WelcomeEmail {
                first_name,
                vendor_name,
                url,
            };
            mail::enqueue(conn, sender, vendor, to, &message).await?;
        }
    }
    Ok(())
}

/// Emails a new invitation to an affiliate that has not accepted yet (409 otherwise).
pub async fn resend_invite(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    actor: &Actor,
) -> AppResult<()> {
    let row = db::affiliates::by_id(db.pool(), &vendor.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !AffiliateStatus::Invited.is(&row.status) {
        return Err(AppError::wrong_state(format!(
            "the affiliate is {}, not invited",
            row.status
        )));
    }
    let mut tx = db.begin().await?;
    send_link_email(&mut tx, sender, vendor, &row, LinkEmail::Invite).await?;
    audit::record(
        &mut *tx,
        &vendor.id,
        actor,
        "affiliate.invite_sent",
        ("affiliate", Some(id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Signs an affiliate in (inside the caller's transaction, which used the credential): a
/// banned or deactivated affiliate is refused (403); an invited one is activated, its
/// enrollments taking the current terms. Returns the affiliate as it is now.
pub async fn sign_in_activating(
    tx: &mut db::Conn,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<AffiliateRow> {
    let row = db::affiliates::by_id(&mut *tx, vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !can_sign_in(&row.status) {
        return Err(AppError::Forbidden(
            "This partner account is not active.".into(),
        ));
    }
    if db::affiliates::set_status(tx, vendor_id, &row.id, "active", Some("invited")).await? {
        // Enrollments are grandfathered to the terms they activate under, not those of the
        // day the invitation was sent.
        db::affiliates::adopt_current_terms(&mut *tx, vendor_id, None, Some(&row.id)).await?;
        audit::record(
            &mut *tx,
            vendor_id,
            &Actor::Affiliate(row.id.clone()),
            "affiliate.activated",
            ("affiliate", Some(&row.id)),
            json!({}),
        )
        .await?;
        return db::affiliates::by_id(&mut *tx, vendor_id, &row.id)
            .await?
            .ok_or(AppError::NotFound);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_link_emails_render_their_copy() {
        for first in ["Ann", ""] {
            let greeting = if first.is_empty() {
                "Hello".to_owned()
            } else {
                format!("Hello {first}")
            };
            let url = "https://p.test/login/link/inv";
            let r = render(
                &InviteEmail {
                    first_name: first.into(),
                    vendor_name: "Acme & Co".into(),
                    url: url.into(),
                },
                first.is_empty(),
            );
            assert_eq!(r.subject, "You're invited to the Acme & Co partner program");
            assert!(r.text.starts_with(&format!(
                "{greeting}, join the Acme & Co partner program\n\n"
            )));
            assert!(
                r.text
                    .contains(&format!("\n\nAccept invitation: {url}\n\n"))
            );
            assert!(r.html.contains(
                "<title>You&#39;re invited to the Acme &#38; Co partner program</title>"
            ));

            let r = render(
                &WelcomeEmail {
                    first_name: first.into(),
                    vendor_name: "Acme & Co".into(),
                    url: url.into(),
                },
                !first.is_empty(),
            );
            assert_eq!(r.subject, "Welcome to the Acme & Co partner program");
            assert!(
                r.text
                    .starts_with(&format!("{greeting}, your application was approved\n\n"))
            );
            assert!(r.text.contains(&format!(
                "\n\nSign in to your partner portal: {url}\n\n-- \n"
            )));
        }
    }
}

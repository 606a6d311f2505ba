//! The team: inviting staff, roles and who may change them, the last-owner rule, and each
//! person's own account (name, password, sign out everywhere, password reset by email).
//!
//! Who manages whom: owners manage everyone (owners included); admins manage admins and
//! viewers, and may give only those roles; viewers manage nobody. A vendor always keeps at
//! least one active owner: removing or demoting the last one is refused, under the team lock
//! so two owners demoting each other at the same moment cannot both succeed.

use serde_json::json;

use crate::db::{self, Db, users::UserRow, vendors::VendorRow};
use crate::domain::tenancy::audit::{self, Actor, role_label};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::tenancy::{password, staff};
use crate::domain::values::{Email, tokens};
use crate::error::{AppError, AppResult};

/// The staff roles, most powerful first.
pub const ROLES: [&str; 3] = ["owner", "admin", "viewer"];

/// Token purpose of team invitations.
const INVITE: &str = "staff_invite";
/// How long an invitation link works: 7 days.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Token purpose of password-reset links.
const RESET: &str = "staff_password_reset";
/// How long a password-reset link works: 1 hour.
pub const RESET_TTL_MS: i64 = 3600 * 1000;
/// Reset links emailed per address per throttle window, like magic links.
const MAX_RESETS_PER_WINDOW: i64 = 5;

/// Whether someone with role `actor` may invite, change or remove someone with role
/// `target` (or give that role).
pub fn may_manage(actor: &str, target: &str) -> bool {
    match actor {
        "owner" => true,
        "admin" => matches!(target, "admin" | "viewer"),
        _ => false,
    }
}

fn parse_role(role: &str) -> AppResult<&'static str> {
    ROLES
        .iter()
        .find(|r| **r == role)
        .copied()
        .ok_or_else(|| AppError::invalid("role", "Choose Owner, Admin or Viewer."))
}

fn check_may_manage(actor: &UserRow, target_role: &str) -> AppResult<()> {
    if may_manage(&actor.role, target_role) {
        Ok(())
    } else if actor.role == "admin" {
        Err(AppError::Forbidden(
            "Only an owner can invite, change or remove owners.".into(),
        ))
    } else {
        Err(AppError::Forbidden(
            "Your account can view the team but not change it.".into(),
        ))
    }
}

/// Invites `email` with `role`: an invited account reserves the address and the invitee
/// gets a one-time link to set their name and password. An address that already has a staff
/// account (here or at another vendor: an email is one account on the installation) is
/// refused beside the field.
pub async fn invite(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    inviter: &UserRow,
    email: &str,
    role: &str,
) -> AppResult<UserRow> {
    let email = Email::parse("email", email)
        .map_err(|_| AppError::invalid("email", "Enter an email address like ada@example.com."))?;
    let role = parse_role(role)?;
    check_may_manage(inviter, role)?;
    let mut tx = db.begin().await?;
    if let Some(existing) = db::users::by_email(&mut *tx, email.as_str()).await? {
        let message = if existing.vendor_id != vendor.id {
            "This address already has a staff account on this installation; ask them to use another address."
        } else if existing.is_active() {
            "This person is already on your team."
        } else {
            "This person is already invited; send the invitation again from the list."
        };
        return Err(AppError::duplicate("email", message));
    }
    let user = db::users::insert_invited(&mut *tx, &vendor.id, email.as_str(), role, &inviter.id)
        .await
        .map_err(|e| {
            if crate::db::unique_violation_field(&e).is_some() {
                AppError::duplicate("email", "This address already has a staff account.")
            } else {
                e.into()
            }
        })?;
    send_invite(&mut tx, sender, vendor, inviter, &user).await?;
    audit::record(
        &mut *tx,
        &vendor.id,
        &Actor::User(inviter.id.clone()),
        "staff.invited",
        ("user", Some(&user.id)),
        json!({"role": role}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

async fn send_invite(
    tx: &mut db::Conn,
    sender: &Sender,
    vendor: &VendorRow,
    inviter: &UserRow,
    user: &UserRow,
) -> AppResult<()> {
    db::login_tokens::void_for(&mut *tx, INVITE, &user.id).await?;
    let token = tokens::random_hex(32);
    db::login_tokens::insert(
        &mut *tx,
        &vendor.id,
        INVITE,
        &user.id,
        &tokens::sha256_hex(&token),
        db::now_ms() + INVITE_TTL_MS,
    )
    .await?;
    let message = StaffInviteEmail {
        vendor_name: vendor.name.clone(),
        inviter: if inviter.name.is_empty() {
            inviter.email.clone()
        } else {
            inviter.name.clone()
        },
        role: role_label(&user.role).into(),
        url: format!("{}/join/{token}", sender.base_url.trim_end_matches('/')),
    };
    mail::enqueue(
        tx,
        sender,
        vendor,
        Recipient {
            email: &user.email,
            name: None,
        },
        &message,
    )
    .await?;
    Ok(())
}

/// The account of a pending invitation of this vendor, or 404.
async fn pending(db: &Db, vendor_id: &str, id: &str) -> AppResult<UserRow> {
    db::users::by_id(db.pool(), vendor_id, id)
        .await?
        .filter(|u| !u.is_active())
        .ok_or(AppError::NotFound)
}

/// Sends a pending invitation again with a new link (the old link stops working).
pub async fn resend(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    actor: &UserRow,
    id: &str,
) -> AppResult<UserRow> {
    let user = pending(db, &vendor.id, id).await?;
    check_may_manage(actor, &user.role)?;
    let mut tx = db.begin().await?;
    if !db::users::touch_invite(&mut *tx, &vendor.id, id).await? {
        return Err(AppError::wrong_state(
            "This invitation was already accepted.",
        ));
    }
    send_invite(&mut tx, sender, vendor, actor, &user).await?;
    audit::record(
        &mut *tx,
        &vendor.id,
        &Actor::User(actor.id.clone()),
        "staff.invite_resent",
        ("user", Some(&user.id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Cancels a pending invitation: its link stops working and the address is free again.
pub async fn cancel(db: &Db, vendor_id: &str, actor: &UserRow, id: &str) -> AppResult<UserRow> {
    let user = pending(db, vendor_id, id).await?;
    check_may_manage(actor, &user.role)?;
    let mut tx = db.begin().await?;
    db::login_tokens::void_for(&mut *tx, INVITE, &user.id).await?;
    // Only while still invited: an invitation accepted meanwhile is a member now.
    if !db::users::delete_invited(&mut *tx, vendor_id, id).await? {
        return Err(AppError::wrong_state(
            "This invitation was already accepted.",
        ));
    }
    audit::record(
        &mut *tx,
        vendor_id,
        &Actor::User(actor.id.clone()),
        "staff.invite_cancelled",
        ("user", None),
        json!({"email": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The invited account and its vendor behind an invitation link, without using it.
pub async fn peek_invite(db: &Db, token: &str) -> AppResult<Option<(UserRow, VendorRow)>> {
    let Some(grant) = db::login_tokens::peek(db.pool(), INVITE, &tokens::sha256_hex(token)).await?
    else {
        return Ok(None);
    };
    let Some(user) = db::users::by_id(db.pool(), &grant.vendor_id, &grant.subject_id)
        .await?
        .filter(|u| !u.is_active())
    else {
        return Ok(None);
    };
    let vendor = db::vendors::by_id(db.pool(), &user.vendor_id).await?;
    Ok(vendor.map(|v| (user, v)))
}

/// Accepts an invitation: sets the name and password and activates the account. Bad input
/// is refused beside its field and leaves the link usable.
pub async fn accept(db: &Db, token: &str, name: &str, new_password: &str) -> AppResult<UserRow> {
    let name = check_name(name)?;
    password::check_policy("password", new_password)?;
    let hash = password::hash(new_password.to_owned()).await?;
    let gone =
        || AppError::wrong_state("This invitation has expired, was cancelled or was already used.");
    let mut tx = db.begin().await?;
    let grant = db::login_tokens::consume(&mut *tx, INVITE, &tokens::sha256_hex(token))
        .await?
        .ok_or_else(gone)?;
    if !db::users::activate(&mut *tx, &grant.vendor_id, &grant.subject_id, &name, &hash).await? {
        return Err(gone());
    }
    let user = db::users::by_id(&mut *tx, &grant.vendor_id, &grant.subject_id)
        .await?
        .ok_or_else(gone)?;
    audit::record(
        &mut *tx,
        &user.vendor_id,
        &Actor::User(user.id.clone()),
        "staff.joined",
        ("user", Some(&user.id)),
        json!({"role": user.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Enter your name."));
    }
    if name.chars().count() > 100 {
        return Err(AppError::invalid("name", "Use at most 100 characters."));
    }
    Ok(name.to_owned())
}

/// Refuses a change that would leave the vendor without an active owner. Call under
/// [`db::users::lock_team`] in the same transaction.
async fn keep_an_owner(tx: &mut db::Conn, vendor_id: &str, target: &UserRow) -> AppResult<()> {
    if target.role == "owner"
        && target.is_active()
        && db::users::active_owners(&mut *tx, vendor_id).await? <= 1
    {
        return Err(AppError::wrong_state(
            "This is the last owner: make someone else an owner first.",
        ));
    }
    Ok(())
}

/// Gives a member another role.
pub async fn change_role(
    db: &Db,
    vendor_id: &str,
    actor: &UserRow,
    id: &str,
    role: &str,
) -> AppResult<UserRow> {
    let role = parse_role(role)?;
    let mut tx = db.begin().await?;
    db::users::lock_team(&mut *tx, vendor_id).await?;
    // Read after the lock, so a concurrent change is seen.
    let target = db::users::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let me = db::users::by_id(&mut *tx, vendor_id, &actor.id)
        .await?
        .ok_or(AppError::NotFound)?;
    check_may_manage(&me, &target.role)?;
    check_may_manage(&me, role)?;
    if target.role == role {
        return Ok(target);
    }
    if role != "owner" {
        keep_an_owner(&mut tx, vendor_id, &target).await?;
    }
    db::users::set_role(&mut *tx, vendor_id, id, role).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        &Actor::User(actor.id.clone()),
        "staff.role_changed",
        ("user", Some(id)),
        json!({"role": role, "from": target.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(UserRow {
        role: role.into(),
        ..target
    })
}

/// Removes a member from the team; their sessions end at once (the account is gone).
pub async fn remove(db: &Db, vendor_id: &str, actor: &UserRow, id: &str) -> AppResult<UserRow> {
    let mut tx = db.begin().await?;
    db::users::lock_team(&mut *tx, vendor_id).await?;
    let target = db::users::by_id(&mut *tx, vendor_id, id)
        .await?
        .filter(UserRow::is_active)
        .ok_or(AppError::NotFound)?;
    let me = db::users::by_id(&mut *tx, vendor_id, &actor.id)
        .await?
        .ok_or(AppError::NotFound)?;
    check_may_manage(&me, &target.role)?;
    keep_an_owner(&mut tx, vendor_id, &target).await?;
    db::login_tokens::void_for(&mut *tx, RESET, id).await?;
    db::users::delete(&mut *tx, vendor_id, id).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        &Actor::User(actor.id.clone()),
        "staff.removed",
        ("user", None),
        json!({"email": target.email, "name": target.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(target)
}

/// Changes the signed-in person's display name.
pub async fn rename(db: &Db, user: &UserRow, name: &str) -> AppResult<String> {
    let name = check_name(name)?;
    let mut tx = db.begin().await?;
    db::users::set_name(&mut *tx, &user.vendor_id, &user.id, &name).await?;
    audit::record(
        &mut *tx,
        &user.vendor_id,
        &Actor::User(user.id.clone()),
        "staff.name_changed",
        ("user", Some(&user.id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(name)
}

/// Changes the password after checking the current one; every other session ends (the
/// epoch moves). Returns the new epoch for the caller's own session.
pub async fn change_password(
    db: &Db,
    user: &UserRow,
    current: &str,
    new_password: &str,
) -> AppResult<i64> {
    if !password::verify(current.to_owned(), Some(user.password_hash.clone())).await? {
        return Err(AppError::invalid(
            "current_password",
            "This is not your current password.",
        ));
    }
    password::check_policy("new_password", new_password)?;
    let hash = password::hash(new_password.to_owned()).await?;
    let mut tx = db.begin().await?;
    db::users::set_password(&mut *tx, &user.id, &hash).await?;
    let epoch = db::users::bump_epoch(&mut tx, &user.vendor_id, &user.id).await?;
    db::login_tokens::void_for(&mut *tx, RESET, &user.id).await?;
    audit::record(
        &mut *tx,
        &user.vendor_id,
        &Actor::User(user.id.clone()),
        "staff.password_changed",
        ("user", Some(&user.id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Ends every session of this person on every instance, this one included.
pub async fn sign_out_everywhere(db: &Db, user: &UserRow) -> AppResult<()> {
    let mut tx = db.begin().await?;
    db::users::bump_epoch(&mut tx, &user.vendor_id, &user.id).await?;
    audit::record(
        &mut *tx,
        &user.vendor_id,
        &Actor::User(user.id.clone()),
        "staff.signed_out_everywhere",
        ("user", Some(&user.id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Emails a one-time password-reset link if `email` belongs to an active staff account.
/// The caller answers the same whatever happens; requests per address are capped like
/// magic links.
pub async fn request_password_reset(db: &Db, sender: &Sender, email: &str) -> AppResult<()> {
    let Some((user, vendor)) =
        staff::emailed_link_recipient(db, email, "reset", MAX_RESETS_PER_WINDOW).await?
    else {
        return Ok(());
    };
    let now = db::now_ms();
    let token = tokens::random_hex(32);
    let mut tx = db.begin().await?;
    db::login_tokens::insert(
        &mut *tx,
        &vendor.id,
        RESET,
        &user.id,
        &tokens::sha256_hex(&token),
        now + RESET_TTL_MS,
    )
    .await?;
    let message = StaffPasswordResetEmail {
        vendor_name: vendor.name.clone(),
        user_email: user.email.clone(),
        url: format!(
            "{}/login/reset/{token}",
            sender.base_url.trim_end_matches('/')
        ),
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

/// The account a reset link is for, without using it.
pub async fn peek_reset(db: &Db, token: &str) -> AppResult<Option<UserRow>> {
    let Some(grant) = db::login_tokens::peek(db.pool(), RESET, &tokens::sha256_hex(token)).await?
    else {
        return Ok(None);
    };
    Ok(
        db::users::by_id(db.pool(), &grant.vendor_id, &grant.subject_id)
            .await?
            .filter(UserRow::is_active),
    )
}

/// Sets a new password with a reset link (once); every session of the account ends.
pub async fn reset_with_token(db: &Db, token: &str, new_password: &str) -> AppResult<UserRow> {
    password::check_policy("password", new_password)?;
    let hash = password::hash(new_password.to_owned()).await?;
    let gone = || AppError::wrong_state("This reset link has expired or was already used.");
    let mut tx = db.begin().await?;
    let grant = db::login_tokens::consume(&mut *tx, RESET, &tokens::sha256_hex(token))
        .await?
        .ok_or_else(gone)?;
    let user = db::users::by_id(&mut *tx, &grant.vendor_id, &grant.subject_id)
        .await?
        .filter(UserRow::is_active)
        .ok_or_else(gone)?;
    db::users::set_password(&mut *tx, &user.id, &hash).await?;
    db::users::bump_epoch(&mut tx, &user.vendor_id, &user.id).await?;
    db::login_tokens::void_for(&mut *tx, RESET, &user.id).await?;
    audit::record(
        &mut *tx,
        &user.vendor_id,
        &Actor::User(user.id.clone()),
        "staff.password_reset",
        ("user", Some(&user.id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The `staff_invite` email (copy in `templates/emails/staff_invite.*`).
#[derive(Debug, Clone)]
struct StaffInviteEmail {
    vendor_name: String,
    inviter: String,
    role: String,
    url: String,
}
mail::email_kind!(
    StaffInviteEmail,
    "staff_invite",
    "emails/staff_invite.txt",
    "emails/staff_invite.html"
);

/// The `staff_password_reset` email (copy in `templates/emails/staff_password_reset.*`).
#[derive(Debug, Clone)]
struct StaffPasswordResetEmail {
    vendor_name: String,
    user_email: String,
    url: String,
}
mail::email_kind!(
    StaffPasswordResetEmail,
    "staff_password_reset",
    "emails/staff_password_reset.txt",
    "emails/staff_password_reset.html"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn owners_manage_everyone_admins_no_owners_viewers_nobody() {
        for t in ROLES {
            assert!(may_manage("owner", t));
            assert!(!may_manage("viewer", t));
        }
        assert!(!may_manage("admin", "owner"));
        assert!(may_manage("admin", "admin"));
        assert!(may_manage("admin", "viewer"));
    }

    #[test]
    fn the_invite_and_reset_emails_render_their_copy() {
        let r = render(
            &StaffInviteEmail {
                vendor_name: "Acme & Co".into(),
                inviter: "Ada".into(),
                role: "Viewer".into(),
                url: "https://x.test/join/abc".into(),
            },
            false,
        );
        assert_eq!(r.subject, "Ada invited you to the Acme & Co dashboard");
        assert!(r.text.contains("as a Viewer"), "{}", r.text);
        assert!(r.text.contains("https://x.test/join/abc"));
        assert!(r.html.contains(r#"<a href="https://x.test/join/abc""#));
        let r = render(
            &StaffPasswordResetEmail {
                vendor_name: "Acme".into(),
                user_email: "a@acme.test".into(),
                url: "https://x.test/login/reset/abc".into(),
            },
            false,
        );
        assert_eq!(r.subject, "Reset your password for Acme");
        assert!(r.text.contains("https://x.test/login/reset/abc"));
    }
}

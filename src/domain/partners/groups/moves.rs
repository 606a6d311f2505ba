//! Moving an affiliate between the groups of a program, by hand or by a promotion rule.
//!
//! A move is one conditional UPDATE on the enrollment's current group (`db::groups::
//! move_enrollment`): of several instances deciding the same move, exactly one changes the
//! row, and only that one writes the audit entry, the `affiliate.group_changed` event and the
//! email job, in the same transaction. The enrollment takes the new group's current terms
//! version, so its next conversion earns them; conversions already recorded keep theirs.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Conn, Db};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::error::{AppError, AppResult};

/// Job kind of the email telling an affiliate it moved (rendered by the worker, which knows
/// the sender and the portal's address).
pub const EMAIL_JOB: &str = "group_changed_email";

/// One move that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The vendor.
    pub vendor_id: String,
    /// The program.
    pub program_id: String,
    /// The affiliate.
    pub affiliate_id: String,
    /// The group it left.
    pub from_group_id: String,
    /// The group it joined.
    pub to_group_id: String,
    /// `manual`, `promotion` or `demotion`.
    pub reason: String,
    /// The rule that moved it, if one did.
    #[serde(default)]
    pub rule_id: Option<String>,
}

/// Moves an enrollment from `from` to `to` if it is still in `from`, and writes what follows
/// from the move (audit, event, email job) in the caller's transaction. Returns whether this
/// call made the move.
pub async fn apply(
    conn: &mut Conn,
    enrollment_id: &str,
    m: &Moved,
    actor: &Actor,
) -> AppResult<bool> {
    if !db::groups::move_enrollment(
        &mut *conn,
        &m.vendor_id,
        enrollment_id,
        &m.from_group_id,
        &m.to_group_id,
    )
    .await?
    {
        return Ok(false);
    }
    let details = json!({
        "program_id": m.program_id,
        "from_group_id": m.from_group_id,
        "to_group_id": m.to_group_id,
        "reason": m.reason,
        "rule_id": m.rule_id,
    });
    audit::record(
        &mut *conn,
        &m.vendor_id,
        actor,
        "affiliate.group_changed",
        ("affiliate", Some(&m.affiliate_id)),
        details.clone(),
    )
    .await?;
    let mut event = details;
    event["affiliate_id"] = json!(m.affiliate_id);
    db::events::insert(
        &mut *conn,
        &m.vendor_id,
        "affiliate.group_changed",
        &event.to_string(),
    )
    .await?;
    let payload = serde_json::to_string(m).map_err(anyhow::Error::from)?;
    db::jobs::enqueue(
        &mut *conn,
        Some(&m.vendor_id),
        EMAIL_JOB,
        &payload,
        5,
        db::now_ms(),
    )
    .await?;
    // A group may have its own landing URL: cached link targets are stale.
    db::routing_changed();
    Ok(true)
}

/// Moves an affiliate into `group_id` (which names the program) by hand. Already there:
/// nothing changes and `false` comes back. Another vendor's affiliate or group → 404; an
/// affiliate not enrolled in the group's program → 422 on `group_id`.
pub async fn move_by_hand(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    group_id: &str,
    actor: &Actor,
) -> AppResult<bool> {
    db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let group = db::groups::by_id(db.pool(), vendor_id, group_id)
        .await?
        .ok_or_else(|| AppError::invalid("group_id", "no such group"))?;
    // Two tries: a promotion may move the affiliate between our read and our write.
    for _ in 0..2 {
        let mut tx = db.begin().await?;
        let member = db::groups::member(&mut *tx, vendor_id, &group.program_id, affiliate_id)
            .await?
            .ok_or_else(|| {
                AppError::invalid(
                    "group_id",
                    "the affiliate is not enrolled in this group's program",
                )
            })?;
        if member.group_id == group.id {
            return Ok(false);
        }
        let m = Moved {
            vendor_id: vendor_id.to_owned(),
            program_id: group.program_id.clone(),
            affiliate_id: affiliate_id.to_owned(),
            from_group_id: member.group_id.clone(),
            to_group_id: group.id.clone(),
            reason: "manual".into(),
            rule_id: None,
        };
        if apply(&mut tx, &member.enrollment_id, &m, actor).await? {
            tx.commit().await?;
            return Ok(true);
        }
    }
    Err(AppError::wrong_state(
        "the affiliate's group changed at the same time; try again",
    ))
}

/// The `group_changed` email (copy in `templates/emails/group_changed.*`).
#[derive(Debug, Clone)]
struct GroupChangedEmail {
    affiliate_name: String,
    program_name: String,
    group_name: String,
    previous_group_name: String,
    terms: String,
    portal_url: String,
}
mail::email_kind!(
    GroupChangedEmail,
    "group_changed",
    "emails/group_changed.txt",
    "emails/group_changed.html"
);

/// Writes the email of a move to the outbox (the worker's half of [`apply`]). Gone since
/// (vendor, affiliate or group): nothing to send, `NotFound`.
pub async fn send_email(db: &Db, sender: &Sender, m: &Moved) -> AppResult<()> {
    let pool = db.pool();
    let vendor = db::vendors::by_id(pool, &m.vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let affiliate = db::affiliates::by_id(pool, &m.vendor_id, &m.affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let to = db::groups::by_id(pool, &m.vendor_id, &m.to_group_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = db::groups::by_id(pool, &m.vendor_id, &m.from_group_id).await?;
    let program = db::programs::by_id(pool, &m.vendor_id, &m.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let terms = crate::domain::partners::terms::Commission::from_stored(&to.commission)
        .map(|c| c.describe(&program.currency))
        .unwrap_or_default();
    let mut tx = db.begin().await?;
    let portal_url =
        crate::domain::tenancy::vendors::portal_url(&mut tx, &sender.base_url, &vendor).await?;
    let email = GroupChangedEmail {
        affiliate_name: if affiliate.name.is_empty() {
            affiliate.email.clone()
        } else {
            affiliate.name.clone()
        },
        program_name: program.name,
        group_name: to.name,
        previous_group_name: from.map(|g| g.name).unwrap_or_default(),
        terms,
        portal_url,
    };
    let recipient = Recipient {
        email: &affiliate.email,
        name: Some(&email.affiliate_name),
    };
    mail::enqueue(&mut tx, sender, &vendor, recipient, &email).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_group_email_renders_its_copy() {
        let r = render(
            &GroupChangedEmail {
                affiliate_name: "Ann".into(),
                program_name: "Acme partners".into(),
                group_name: "Gold".into(),
                previous_group_name: "Default".into(),
                terms: "30% of every payment".into(),
                portal_url: "https://p.test/".into(),
            },
            true,
        );
        assert_eq!(r.subject, "You are now in the Gold group of Acme partners");
        assert!(r.text.contains("30% of every payment"), "{}", r.text);
        assert!(r.text.contains("https://p.test/"), "{}", r.text);
    }
}

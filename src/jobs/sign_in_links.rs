//! The `sign_in_link` job: the worker's half of a magic-link request. The request only
//! enqueued this job, whatever the address; here the address is looked up and a link is
//! emailed (through the outbox) only when it belongs to someone who may sign in.

use serde::Deserialize;

use crate::db::{self, Db, jobs::ClaimedJob};
use crate::domain::access::portal_login;
use crate::domain::tenancy::mail::{self, Sender};
use crate::domain::tenancy::staff;
use crate::error::AppError;
use crate::jobs::{Outcome, settle};

/// The job kind.
pub const KIND: &str = mail::SIGN_IN_LINK_JOB;

#[derive(Deserialize)]
struct Payload {
    /// `staff` (dashboard) or `portal`.
    #[serde(rename = "for")]
    target: String,
    email: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    vendor_id: Option<String>,
    #[serde(default)]
    portal_root: Option<String>,
}

/// Looks the address up and emails the link when it may sign in; records the outcome.
pub async fn run(
    db: &Db,
    sender: &Sender,
    worker: &str,
    job: &ClaimedJob,
    now: i64,
) -> anyhow::Result<()> {
    let outcome = match serde_json::from_str::<Payload>(&job.payload) {
        Err(e) => Outcome::Fail(format!("unreadable payload: {e}")),
        Ok(p) => match send(db, sender, &p).await {
            Ok(()) => Outcome::Done,
            // An address that no longer parses, or a vendor gone since: nothing to send.
            Err(AppError::Invalid { .. } | AppError::NotFound) => Outcome::Done,
            Err(e) => Outcome::Retry(e.to_string()),
        },
    };
    let mut tx = db.begin().await?;
    settle(&mut tx, worker, job, &outcome, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn send(db: &Db, sender: &Sender, p: &Payload) -> Result<(), AppError> {
    match p.target.as_str() {
        "staff" => staff::send_magic_link(db, sender, &p.email, p.next.as_deref()).await,
        "portal" => {
            let vendor_id = p.vendor_id.as_deref().unwrap_or_default();
            let vendor = db::vendors::by_id(db.pool(), vendor_id)
                .await?
                .ok_or(AppError::NotFound)?;
            let root = p.portal_root.as_deref().unwrap_or_default();
            portal_login::send_link(db, sender, &vendor, &p.email, root).await
        }
        _ => Err(AppError::NotFound),
    }
}

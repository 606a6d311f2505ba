//! Where an affiliate stands in the groups of its programs: its group and what the next
//! one needs (the portal and `GET /api/v1/me/groups`).

use serde::Serialize;

use crate::db::{self, Db};
use crate::error::AppResult;

use super::promotion::{self, NextStep};

/// An affiliate's group in one program.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    /// The program.
    pub program_id: String,
    /// Its name.
    pub program_name: String,
    /// The affiliate's group.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// What the closest promotion needs, if a rule leads on from the group.
    pub next: Option<NextStep>,
    /// The same for people, e.g. "3 more approved conversions to reach Gold".
    pub next_text: Option<String>,
    /// Whether the program has more than its default group (else there is nothing to show).
    pub program_has_groups: bool,
}

impl Standing {
    /// One line for people: "Acme partners: you are in the Silver group — 3 more approved
    /// conversions to reach Gold."
    pub fn describe(&self) -> String {
        match &self.next_text {
            Some(next) => format!(
                "{}: you are in the {} group — {next}.",
                self.program_name, self.group_name
            ),
            None => format!(
                "{}: you are in the {} group.",
                self.program_name, self.group_name
            ),
        }
    }
}

/// The affiliate's group in each program it is enrolled in.
pub async fn of_affiliate(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
) -> AppResult<Vec<Standing>> {
    let mut out = Vec::new();
    for e in db::affiliates::enrollments(db.pool(), vendor_id, affiliate_id).await? {
        let (Some(group_id), Some(group_name)) = (e.group_id.clone(), e.group_name.clone()) else {
            continue;
        };
        let next = promotion::next_step(
            db,
            vendor_id,
            &e.program_id,
            affiliate_id,
            &group_id,
            db::now_ms(),
        )
        .await?;
        let groups = db::groups::of_program(db.pool(), vendor_id, &e.program_id).await?;
        out.push(Standing {
            program_has_groups: groups.len() > 1,
            program_id: e.program_id,
            program_name: e.program_name,
            group_id,
            group_name,
            next_text: next.as_ref().map(NextStep::describe),
            next,
        });
    }
    Ok(out)
}

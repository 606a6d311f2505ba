//! Who is acting, for the audit log.

use serde_json::Value;

use crate::db::{self, audit::NewAuditEntry};

/// The actor behind an action.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in staff member.
    User(String),
    /// A vendor API key.
    ApiKey(String),
    /// An affiliate acting for itself.
    Affiliate(String),
    /// A kernel consumer (an embedded integration signing JWTs).
    Consumer(String),
    /// The command line (`affilia admin ...`).
    Cli,
    /// The application itself (first-run setup, background jobs).
    System,
}

impl Actor {
    /// The id of the staff member, API key or affiliate acting, if any.
    pub fn id(&self) -> Option<&str> {
        self.parts().1
    }

    /// `user:usr_…`, `api_key:key_…`, `affiliate:aff_…`, `consumer:csm_…`, `cli` or `system`.
    pub fn label(&self) -> String {
        match self.parts() {
            (kind, Some(id)) => format!("{kind}:{id}"),
            (kind, None) => kind.to_owned(),
        }
    }

    fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::User(id) => ("user", Some(id)),
            Self::ApiKey(id) => ("api_key", Some(id)),
            Self::Affiliate(id) => ("affiliate", Some(id)),
            Self::Consumer(id) => ("consumer", Some(id)),
            Self::Cli => ("cli", None),
            Self::System => ("system", None),
        }
    }
}

/// Writes an audit entry with the caller's executor, so it commits with the change itself.
pub async fn record<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    vendor_id: &str,
    actor: &Actor,
    action: &str,
    object: (&str, Option<&str>),
    details: Value,
) -> Result<(), sqlx::Error> {
    let (actor_type, actor_id) = actor.parts();
    db::audit::insert(
        ex,
        &NewAuditEntry {
            vendor_id,
            actor_type,
            actor_id,
            action,
            object_type: object.0,
            object_id: object.1,
            details: details.to_string(),
        },
    )
    .await
}

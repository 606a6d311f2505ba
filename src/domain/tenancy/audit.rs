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

/// Every audit action code written anywhere, with its words. A test checks that each code
/// passed to [`record`] in the source is listed here, so no entry is shown as a raw code.
const PHRASES: &[(&str, &str)] = &[
    ("affiliate.activated", "activated the affiliate {o}"),
    ("affiliate.code_changed", "changed the referral code of {o}"),
    ("affiliate.created", "added the affiliate {o}"),
    ("affiliate.bonus_granted", "granted a bonus to {o}"),
    ("affiliate.enrolled", "enrolled {o} in a program"),
    (
        "affiliate.group_changed",
        "moved {o} to another partner group",
    ),
    (
        "affiliate.external_id_stamped",
        "linked {o} to its account in your billing system",
    ),
    ("affiliate.invite_sent", "sent a portal invitation to {o}"),
    (
        "affiliate.payout_settings_changed",
        "changed the payout details of {o}",
    ),
    (
        "affiliate.tax_details_changed",
        "changed the tax details of {o}",
    ),
    (
        "affiliate.personal_token_created",
        "created a personal API token for {o}",
    ),
    (
        "affiliate.personal_token_revoked",
        "revoked a personal API token of {o}",
    ),
    (
        "affiliate.token_issued",
        "issued a portal access token for {o}",
    ),
    ("affiliate.updated", "updated the affiliate {o}"),
    ("api_key.created", "created the API key {o}"),
    ("api_key.revoked", "revoked the API key {o}"),
    ("application.approved", "approved the application of {o}"),
    ("application.rejected", "rejected the application of {o}"),
    ("consumer.created", "added the integration {o}"),
    (
        "consumer.secret_rotated",
        "rotated the secret of the integration {o}",
    ),
    ("consumer.enabled", "enabled the integration {o}"),
    ("consumer.disabled", "disabled the integration {o}"),
    (
        "consumer.updated",
        "changed the limits of the integration {o}",
    ),
    ("conversion.approved", "approved {o}"),
    ("conversion.recorded", "recorded {o}"),
    ("conversion.rejected", "rejected {o}"),
    ("deal.accepted", "accepted {o}"),
    ("deal.rejected", "rejected {o}"),
    ("email.retried", "retried sending {o}"),
    ("payout.failed", "marked {o} as failed"),
    ("payout.paid", "marked {o} as paid"),
    ("payout.processing", "marked {o} as processing"),
    ("payout_run.created", "started {o}"),
    ("program.created", "created the program {o}"),
    ("program.updated", "changed the program settings of {o}"),
    ("program.group_created", "added a partner group to {o}"),
    ("program.group_updated", "changed a partner group of {o}"),
    (
        "program.group_rule_created",
        "added a promotion rule to {o}",
    ),
    (
        "program.group_rule_deleted",
        "deleted a promotion rule of {o}",
    ),
    ("promo_code.created", "added a promo code for {o}"),
    ("promo_code.deleted", "deleted a promo code of {o}"),
    ("promo_code.updated", "changed a promo code of {o}"),
    (
        "program.imported",
        "imported affiliates from another tool into {o}",
    ),
    (
        "program.enrollments_migrated",
        "moved the affiliates of {o} to its current terms",
    ),
    ("vendor.created", "created the account {o}"),
    ("vendor.domain_added", "added a portal domain to {o}"),
    ("vendor.domain_verified", "verified a portal domain of {o}"),
    ("vendor.logo_removed", "removed the logo of {o}"),
    ("vendor.logo_updated", "uploaded a new logo for {o}"),
    (
        "vendor.rate_limits_updated",
        "changed the API rate limits of {o}",
    ),
    ("vendor.settings_updated", "changed the settings of {o}"),
    (
        "vendor.payout_methods_changed",
        "changed the payout methods offered by {o}",
    ),
    ("webhook_delivery.redelivered", "redelivered {o}"),
    ("webhook_endpoint.created", "added the webhook endpoint {o}"),
    (
        "webhook_endpoint.deleted",
        "deleted the webhook endpoint {o}",
    ),
    (
        "webhook_endpoint.disabled",
        "disabled the webhook endpoint {o}",
    ),
    ("webhook_endpoint.tested", "sent a test event to {o}"),
    (
        "webhook_endpoint.updated",
        "changed the webhook endpoint {o}",
    ),
    ("staff.invited", "invited {o} to the team{role}"),
    (
        "staff.invite_resent",
        "sent the team invitation to {o} again",
    ),
    (
        "staff.invite_cancelled",
        "cancelled the team invitation of {o}",
    ),
    (
        "staff.joined",
        "accepted the invitation and joined the team{role}",
    ),
    ("staff.role_changed", "changed the role of {o}{role}"),
    ("staff.removed", "removed {o} from the team"),
    ("staff.name_changed", "changed their name"),
    ("staff.password_changed", "changed their password"),
    ("staff.password_reset", "reset their password by email"),
    ("staff.signed_out_everywhere", "signed out on every device"),
];

/// The audit action codes, for the audit page's "what" filter and the coverage test.
pub fn action_codes() -> impl Iterator<Item = &'static str> {
    PHRASES.iter().map(|(code, _)| *code)
}

/// The kinds of object entries are about, with a label for people (the "kind" filter).
pub const OBJECT_KINDS: &[(&str, &str)] = &[
    ("affiliate", "Affiliates"),
    ("api_key", "API keys"),
    ("application", "Applications"),
    ("consumer", "Integrations"),
    ("conversion", "Conversions"),
    ("deal", "Deals"),
    ("email", "Emails"),
    ("payout", "Payouts"),
    ("payout_run", "Payout runs"),
    ("program", "Programs"),
    ("user", "Team"),
    ("vendor", "Account settings"),
    ("webhook_delivery", "Webhook deliveries"),
    ("webhook_endpoint", "Webhook endpoints"),
];

/// How an object without a name is called in a sentence ("a conversion").
fn unnamed(object_type: &str) -> &'static str {
    match object_type {
        "affiliate" => "an affiliate that was removed",
        "api_key" => "an API key",
        "application" => "an application",
        "consumer" => "an integration",
        "conversion" => "a conversion",
        "deal" => "a deal",
        "email" => "an email",
        "payout" => "a payout",
        "payout_run" => "a payout run",
        "program" => "a program",
        "user" => "a former team member",
        "vendor" => "the account",
        "webhook_delivery" => "a webhook delivery",
        "webhook_endpoint" => "a webhook endpoint",
        _ => "an item",
    }
}

/// A role in words ("Owner").
pub fn role_label(role: &str) -> &'static str {
    match role {
        "owner" => "Owner",
        "admin" => "Admin",
        _ => "Viewer",
    }
}

/// The sentence for one entry: "Ada Lovelace changed the program settings of Default
/// program". `actor` and `object` are already names (see [`actor_name`]); `details` is the
/// entry's JSON, read for the role of team changes.
pub fn sentence(actor: &str, action: &str, object: &str, details: &str) -> String {
    let role = serde_json::from_str::<Value>(details)
        .ok()
        .and_then(|d| d.get("role").and_then(Value::as_str).map(str::to_owned))
        .map(|r| format!(" as {}", role_label(&r)))
        .unwrap_or_default();
    let phrase = PHRASES
        .iter()
        .find(|(code, _)| *code == action)
        .map_or("made a change to {o}", |(_, p)| p);
    let role = if action == "staff.role_changed" {
        role.replacen(" as ", " to ", 1)
    } else {
        role
    };
    format!(
        "{} {}",
        capitalized(actor),
        phrase.replace("{o}", object).replace("{role}", &role)
    )
}

/// An actor at the start of a sentence: "the system" becomes "The system"; names and
/// emails stay as they are written.
pub fn capitalized(actor: &str) -> String {
    let generic = ["the ", "a ", "an ", "someone"]
        .iter()
        .any(|p| actor.starts_with(p));
    match actor.get(..1) {
        Some(first) if generic => first.to_uppercase() + &actor[1..],
        _ => actor.to_owned(),
    }
}

/// The name of whoever acted, for people: the person's name (or email), the API key's or
/// integration's name, the affiliate's name, "the command line" or "the system" — never an
/// id.
pub async fn actor_name(
    db: &db::Db,
    vendor_id: &str,
    actor_type: &str,
    actor_id: Option<&str>,
) -> Result<String, sqlx::Error> {
    let named = |kind: &str| match kind {
        "user" => "a former team member",
        "api_key" => "a deleted API key",
        "affiliate" => "an affiliate",
        "consumer" => "an integration",
        _ => "someone",
    };
    Ok(match (actor_type, actor_id) {
        ("cli", _) => "the command line".into(),
        ("system", _) | (_, None) => "the system".into(),
        (kind, Some(id)) => {
            let name = db::audit::name_of(db.pool(), vendor_id, kind, id).await?;
            match (kind, name) {
                ("api_key", Some(n)) => format!("the API key “{n}”"),
                ("consumer", Some(n)) => format!("the integration “{n}”"),
                (_, Some(n)) => n,
                (kind, None) => named(kind).into(),
            }
        }
    })
}

/// [`actor_name`] for a stored [`Actor::label`] (`user:usr_…`, `api_key:key_…`, `system`),
/// as payout runs keep it.
pub async fn label_name(db: &db::Db, vendor_id: &str, label: &str) -> Result<String, sqlx::Error> {
    let (kind, id) = match label.split_once(':') {
        Some((kind, id)) => (kind, Some(id)),
        None => (label, None),
    };
    actor_name(db, vendor_id, kind, id).await
}

/// One entry in words.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// When, unix ms.
    pub at_ms: i64,
    /// Who, in words.
    pub actor: String,
    /// The whole sentence, starting with the actor.
    pub sentence: String,
    /// The object's kind in words ("Programs").
    pub kind: &'static str,
    /// The object's kind as stored, for the filter links.
    pub object_type: String,
    /// The object's id, for the "only this object" filter link.
    pub object_id: Option<String>,
}

/// Puts entries into words, looking each actor and object name up once.
pub async fn lines(
    db: &db::Db,
    vendor_id: &str,
    rows: Vec<db::audit::AuditRow>,
) -> Result<Vec<AuditLine>, sqlx::Error> {
    use std::collections::HashMap;
    let mut actors: HashMap<(String, Option<String>), String> = HashMap::new();
    let mut objects: HashMap<(String, String), String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let akey = (r.actor_type.clone(), r.actor_id.clone());
        let actor = match actors.get(&akey) {
            Some(a) => a.clone(),
            None => {
                let a = actor_name(db, vendor_id, &r.actor_type, r.actor_id.as_deref()).await?;
                actors.insert(akey, a.clone());
                a
            }
        };
        let object = match &r.object_id {
            None => unnamed(&r.object_type).to_owned(),
            Some(id) => {
                let okey = (r.object_type.clone(), id.clone());
                match objects.get(&okey) {
                    Some(o) => o.clone(),
                    None => {
                        let o = db::audit::name_of(db.pool(), vendor_id, &r.object_type, id)
                            .await?
                            .unwrap_or_else(|| unnamed(&r.object_type).to_owned());
                        objects.insert(okey, o.clone());
                        o
                    }
                }
            }
        };
        let kind = OBJECT_KINDS
            .iter()
            .find(|(k, _)| *k == r.object_type)
            .map_or("Other", |(_, l)| l);
        out.push(AuditLine {
            at_ms: r.created_at,
            sentence: sentence(&actor, &r.action, &object, &r.details),
            actor,
            kind,
            object_type: r.object_type,
            object_id: r.object_id,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_read_as_words() {
        assert_eq!(
            sentence("Ada Lovelace", "program.updated", "Default program", "{}"),
            "Ada Lovelace changed the program settings of Default program"
        );
        assert_eq!(
            sentence("Ada", "staff.role_changed", "Bob", r#"{"role":"viewer"}"#),
            "Ada changed the role of Bob to Viewer"
        );
        assert_eq!(
            sentence("Ada", "staff.invited", "bob@x.test", r#"{"role":"admin"}"#),
            "Ada invited bob@x.test to the team as Admin"
        );
        assert_eq!(
            sentence("ada@x.test", "staff.password_changed", "", "{}"),
            "ada@x.test changed their password"
        );
        assert_eq!(
            sentence("the system", "something.new", "a payout", "{}"),
            "The system made a change to a payout"
        );
    }

    /// Every action code passed to `record` anywhere in `src/` has its words.
    #[test]
    fn every_recorded_action_code_has_words() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let mut sources = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut sources,
        );
        let known: Vec<&str> = action_codes().collect();
        let mut found = 0;
        for src in &sources {
            for (i, _) in src.match_indices("audit::record(") {
                // The action is the fourth argument: a literal within the call's first lines,
                // or a variable whose values are literals just above (deals, consumers).
                let window = &src[i.saturating_sub(600)..(i + 400).min(src.len())];
                for lit in window.split('"').skip(1).step_by(2) {
                    let is_code = lit.contains('.')
                        && lit
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                        && !lit.starts_with('.')
                        && !lit.ends_with('.');
                    if is_code && !lit.starts_with("commission.") && !lit.contains("{") {
                        found += 1;
                        let dynamic_prefix = lit.ends_with('.');
                        assert!(
                            dynamic_prefix || known.contains(&lit) || is_event_name(lit),
                            "audit action {lit} has no words in PHRASES"
                        );
                    }
                }
            }
        }
        assert!(found > 30, "the scan found the audit calls ({found})");
        for status in ["accepted", "rejected"] {
            assert!(known.contains(&format!("deal.{status}").as_str()));
        }
    }

    /// Webhook event names written next to audit calls (not audit codes themselves).
    fn is_event_name(lit: &str) -> bool {
        matches!(
            lit,
            "referral.created"
                | "conversion.created"
                | "payout.created"
                | "affiliate.approved"
                | "application.created"
        )
    }
}

//! Applications to join a program (seed 001): submission from the public form or the API,
//! status lookup, and review. Approval creates or reuses the affiliate, enrolls it with a
//! referral code, emails a welcome with a sign-in link and records
//! `partner_application_approved`; rejection emails the reason and records
//! `partner_application_rejected`. Each decision commits with its email and event, or not at
//! all.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::db::{
    self, Db, applications::ApplicationRow, applications::NewApplication, vendors::VendorRow,
};
use crate::domain::partners::affiliates::{self, AffiliateInput, Enrollment, LinkEmail};
use crate::domain::partners::groups;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::values::status::{self, ApplicationStatus};
use crate::domain::{values::Email, values::text};
use crate::error::{AppError, AppResult};

/// Application statuses.
pub const STATUSES: &[&str] = ApplicationStatus::ALL_TEXT;
const REASON_MAX: usize = 2000;

/// An application as submitted.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// Applicant email.
    pub email: Option<String>,
    /// Applicant name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Why they want to join.
    pub reason: Option<String>,
    /// Program; the group's program when `group_id` is given, else the default program
    /// when absent.
    pub program_id: Option<String>,
    /// Partner group applied to (its application form fields apply and approval enrolls in
    /// it); the program's default group when absent.
    pub group_id: Option<String>,
    /// Answers to the group's application form fields, by key (each at most 2000
    /// characters; required ones must be present; `url` ones absolute http(s) URLs).
    #[schema(value_type = Option<std::collections::HashMap<String, String>>)]
    pub answers: Option<BTreeMap<String, String>>,
}

/// A review decision.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicationReview)]
pub struct ReviewInput {
    /// `approve` or `reject`.
    #[schema(pattern = "^(approve|reject)$")]
    pub action: String,
    /// Referral code for the approved affiliate; generated when absent.
    #[schema(pattern = "^([a-z0-9_-]{3,40})?$")]
    pub code: Option<String>,
    /// Why the application is rejected (shown to the applicant).
    #[serde(alias = "rejectionReason")]
    pub rejection_reason: Option<String>,
}

/// Where an application came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The vendor's backend.
    Api,
    /// The public form on the portal.
    Portal,
}

/// The outcome of a submission.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The stored application (already approved when the program auto-approves).
    pub application: ApplicationRow,
}

/// Submits an application. Another open (pending or approved) application of the same
/// email to the same program, or an existing enrollment, is 409.
pub async fn submit(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    input: &ApplicationInput,
    source: Source,
) -> AppResult<Submitted> {
    let email = Email::parse("email", input.email.as_deref().unwrap_or_default())?;
    let name = text::required(
        "name",
        input.name.as_deref().unwrap_or_default(),
        text::NAME_MAX,
    )?;
    let company = text::optional("company", input.company.as_deref(), 200)?;
    let website = text::website("website", input.website.as_deref(), 500)?;
    let reason = long_text("reason", input.reason.as_deref())?;
    let (program, group) = program_and_group(db, &vendor.id, input).await?;
    let answers = groups::fields::check_answers(
        &group.application_fields(),
        &input.answers.clone().unwrap_or_default(),
    )?;
    let answers = serde_json::to_string(&answers).map_err(|e| AppError::Internal(e.into()))?;
    if !status::program_is_open(&program.status) {
        return Err(AppError::invalid(
            "program_id",
            "this program is not accepting applications",
        ));
    }
    if let Some(a) = db::affiliates::by_email(db.pool(), &vendor.id, email.as_str()).await? {
        let enrolled = db::affiliates::enrollments(db.pool(), &vendor.id, &a.id)
            .await?
            .iter()
            .any(|e| e.program_id == program.id);
        if enrolled {
            return Err(AppError::duplicate(
                "email",
                "this email is already a partner in this program",
            ));
        }
    }
    let mut tx = db.begin().await?;
    let application = db::applications::insert(
        &mut *tx,
        &vendor.id,
        &NewApplication {
            program_id: &program.id,
            email: email.as_str(),
            name: &name,
            company: company.as_deref(),
            website: website.as_deref(),
            reason: reason.as_deref(),
            source: match source {
                Source::Api => "api",
                Source::Portal => "portal",
            },
            answers: &answers,
            group_id: Some(&group.row.id),
        },
    )
    .await
    .map_err(|e| match db::unique_violation_field(&e) {
        Some(_) => AppError::duplicate(
            "email",
            "an application from this email is already pending or approved",
        ),
        None => e.into(),
    })?;
    db::events::insert(
        &mut *tx,
        &vendor.id,
        "partner_application_submitted",
        &json!({"application": {
            "id": application.id,
            "email": application.email,
            "name": application.name,
            "company": application.company,
            "website": application.website,
            "reason": application.reason,
            "program_id": application.program_id,
            "source": application.source,
            "group_id": application.group_id,
            "answers": answers_of(&application),
        }})
        .to_string(),
    )
    .await?;
    let application = if program.auto_approve == 1 {
        approve_in(&mut tx, sender, vendor, &application, None, &Actor::System).await?
    } else {
        application
    };
    tx.commit().await?;
    Ok(Submitted { application })
}

/// The program and group an application is for: the group named by `group_id` (another
/// vendor's, or one of another program than `program_id`, is unknown: 422), else the
/// program's default group.
async fn program_and_group(
    db: &Db,
    vendor_id: &str,
    input: &ApplicationInput,
) -> AppResult<(db::programs::ProgramRow, groups::Group)> {
    let unknown = || AppError::invalid("group_id", "unknown group");
    let group = match input.group_id.as_deref() {
        Some(id) => Some(groups::get(db, vendor_id, id).await.map_err(|e| match e {
            AppError::NotFound => unknown(),
            e => e,
        })?),
        None => None,
    };
    let program_id = input
        .program_id
        .as_deref()
        .or(group.as_ref().map(|g| g.row.program_id.as_str()));
    let program = affiliates::program_for(db, vendor_id, program_id).await?;
    let group = match group {
        Some(g) if g.row.program_id != program.id => return Err(unknown()),
        Some(g) => g,
        None => groups::get(db, vendor_id, &db::groups::default_group_id(&program.id)).await?,
    };
    Ok((program, group))
}

/// The answers of an application as a JSON object.
pub fn answers_of(a: &ApplicationRow) -> serde_json::Value {
    serde_json::from_str(&a.answers).unwrap_or_else(|_| json!({}))
}

/// An application's group and answers in words, for the review queue.
#[derive(Debug, Clone, Default)]
pub struct Worded {
    /// The group's name; empty for the default group.
    pub group: String,
    /// `(label, answer)` in the group's question order (answers to questions since removed
    /// come last under their key).
    pub answers: Vec<(String, String)>,
}

/// The group and answers in words of each application, by application id.
pub async fn in_words(
    db: &Db,
    vendor_id: &str,
    rows: &[ApplicationRow],
) -> AppResult<std::collections::HashMap<String, Worded>> {
    let mut groups_by_id: std::collections::HashMap<String, Option<groups::Group>> =
        std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for a in rows {
        let group = match a.group_id.as_deref() {
            Some(id) => {
                if !groups_by_id.contains_key(id) {
                    let g = match groups::get(db, vendor_id, id).await {
                        Ok(g) => Some(g),
                        Err(AppError::NotFound) => None,
                        Err(e) => return Err(e),
                    };
                    groups_by_id.insert(id.to_owned(), g);
                }
                groups_by_id.get(id).and_then(Option::as_ref)
            }
            None => None,
        };
        let mut answers: BTreeMap<String, String> =
            serde_json::from_str(&a.answers).unwrap_or_default();
        let mut worded = Worded {
            group: group
                .filter(|g| !g.is_default())
                .map(|g| g.row.name.clone())
                .unwrap_or_default(),
            answers: Vec::new(),
        };
        for q in group
            .map(groups::Group::application_fields)
            .unwrap_or_default()
        {
            if let Some(v) = answers.remove(&q.key) {
                worded.answers.push((q.label, v));
            }
        }
        worded.answers.extend(answers);
        out.insert(a.id.clone(), worded);
    }
    Ok(out)
}

/// What a public door (the portal's apply form, a publishable key) answers: the same for
/// a new address and for one that is already a partner or already applied.
#[derive(Debug, Clone)]
pub struct PublicAnswer {
    /// The new application's id; for a known address a fresh id that names nothing (the
    /// answer must not differ, and a public caller cannot look applications up).
    pub id: String,
    /// `approved` when the program auto-approves, else `pending`, as a new address gets.
    pub status: String,
}

/// Submits an application from a public door. An address that is already a partner of the
/// program or already has an open application gets the answer a new one gets, and an email
/// saying so with a link to sign in instead (so the form cannot tell anyone which
/// addresses are known). Invalid input is still refused with its 422.
pub async fn submit_public(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    input: &ApplicationInput,
    source: Source,
) -> AppResult<PublicAnswer> {
    match submit(db, sender, vendor, input, source).await {
        Ok(done) => Ok(PublicAnswer {
            id: done.application.id,
            status: done.application.status,
        }),
        Err(AppError::Conflict {
            code: "duplicate", ..
        }) => {
            let email = Email::parse("email", input.email.as_deref().unwrap_or_default())?;
            let (program, _) = program_and_group(db, &vendor.id, input).await?;
            tell_known_applicant(db, sender, vendor, &program, email.as_str()).await?;
            let status = if program.auto_approve == 1 {
                ApplicationStatus::Approved
            } else {
                ApplicationStatus::Pending
            };
            Ok(PublicAnswer {
                id: db::new_id("app"),
                status: status.as_str().to_owned(),
            })
        }
        Err(e) => Err(e),
    }
}

/// Emails a known address that applied again: "you are already a partner" or "you already
/// applied", with the portal's sign-in page.
async fn tell_known_applicant(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    program: &db::programs::ProgramRow,
    email: &str,
) -> AppResult<()> {
    let partner = match db::affiliates::by_email(db.pool(), &vendor.id, email).await? {
        Some(a) => db::affiliates::enrollments(db.pool(), &vendor.id, &a.id)
            .await?
            .iter()
            .any(|e| e.program_id == program.id),
        None => false,
    };
    let mut tx = db.begin().await?;
    let root =
        crate::domain::tenancy::vendors::portal_url(&mut tx, &sender.base_url, vendor).await?;
    let message = AlreadyAppliedEmail {
        portal_name: vendor.display_name().to_owned(),
        program: program.name.clone(),
        partner,
        url: format!("{root}login"),
    };
    mail::enqueue(
        &mut tx,
        sender,
        vendor,
        Recipient { email, name: None },
        &message,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The `already_applied` email (copy in `templates/emails/already_applied.*`).
#[derive(Debug, Clone)]
struct AlreadyAppliedEmail {
    portal_name: String,
    program: String,
    /// Already a partner of the program (else: an application is open).
    partner: bool,
    url: String,
}
mail::email_kind!(
    AlreadyAppliedEmail,
    "already_applied",
    "emails/already_applied.txt",
    "emails/already_applied.html"
);

fn long_text(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > REASON_MAX => Err(AppError::invalid(
            field,
            format!("{field} is longer than {REASON_MAX} characters"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// Reviews a pending application; a reviewed one is 409 and nothing changes.
pub async fn review(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    input: &ReviewInput,
    actor: &Actor,
) -> AppResult<ApplicationRow> {
    let application = db::applications::by_id(db.pool(), &vendor.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let code = input
        .code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| affiliates::parse_code("code", c))
        .transpose()?;
    let reason = long_text("rejection_reason", input.rejection_reason.as_deref())?;
    if input.action != "approve" && input.action != "reject" {
        return Err(AppError::invalid(
            "action",
            "action must be approve or reject",
        ));
    }
    if !ApplicationStatus::Pending.is(&application.status) {
        return Err(AppError::wrong_state(format!(
            "this application was already {}",
            application.status
        )));
    }
    let mut tx = db.begin().await?;
    let decided = if input.action == "approve" {
        approve_in(&mut tx, sender, vendor, &application, code, actor).await?
    } else {
        reject_in(&mut tx, sender, vendor, &application, reason, actor).await?
    };
    tx.commit().await?;
    Ok(decided)
}

async fn approve_in(
    conn: &mut db::Conn,
    sender: &Sender,
    vendor: &VendorRow,
    application: &ApplicationRow,
    code: Option<String>,
    actor: &Actor,
) -> AppResult<ApplicationRow> {
    let program = db::programs::by_id(&mut *conn, &vendor.id, &application.program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let existing = db::affiliates::by_email(&mut *conn, &vendor.id, &application.email).await?;
    let (affiliate_id, code) = match existing {
        Some(a) => {
            if !affiliates::can_sign_in(&a.status) {
                return Err(AppError::wrong_state(format!(
                    "{} is a {} affiliate; reactivate it first",
                    a.email, a.status
                )));
            }
            let code = match code {
                Some(c) => c,
                None => {
                    affiliates::generate_code(
                        conn,
                        if a.name.is_empty() { &a.email } else { &a.name },
                    )
                    .await?
                }
            };
            db::affiliates::enroll(
                &mut *conn,
                &vendor.id,
                &a.id,
                &program.id,
                &code,
                "active",
                None,
                program.current_terms_version,
            )
            .await
            .map_err(|e| match db::unique_violation_field(&e).as_deref() {
                Some("code") => AppError::duplicate("code", "this referral code is taken"),
                Some(_) => {
                    AppError::wrong_state("this affiliate is already enrolled in the program")
                }
                None => e.into(),
            })?;
            db::affiliates::set_status(conn, &vendor.id, &a.id, "active", None).await?;
            (a.id, code)
        }
        None => {
            let input = AffiliateInput {
                email: Some(application.email.clone()),
                name: Some(application.name.clone()),
                company: Some(application.company.clone()),
                website: Some(application.website.clone()),
                ..AffiliateInput::default()
            };
            affiliates::insert_enrolled(
                conn,
                &vendor.id,
                &input,
                Enrollment {
                    program: &program,
                    code,
                    status: "active",
                },
            )
            .await?
        }
    };
    // The group applied to; the enrollment starts in the default group.
    if let Some(g) = application
        .group_id
        .as_deref()
        .filter(|g| *g != db::groups::default_group_id(&program.id))
    {
        db::groups::place_enrollment(&mut *conn, &vendor.id, &affiliate_id, &program.id, g).await?;
    }
    if !db::applications::decide(
        &mut *conn,
        &vendor.id,
        &application.id,
        "approved",
        None,
        Some(&affiliate_id),
        actor.id(),
    )
    .await?
    {
        return Err(AppError::wrong_state(
            "this application was already reviewed",
        ));
    }
    let affiliate = db::affiliates::by_id(&mut *conn, &vendor.id, &affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    affiliates::send_link_email(conn, sender, vendor, &affiliate, LinkEmail::Welcome).await?;
    // Seed 001's payload; the stored payload is the delivery's `data` object.
    let payload = json!({
        "application": {"id": application.id, "email": application.email, "name": application.name},
        "affiliate": {"id": affiliate.id, "code": code, "customer_id": affiliate.customer_id},
    });
    db::events::insert(
        &mut *conn,
        &vendor.id,
        "partner_application_approved",
        &payload.to_string(),
    )
    .await?;
    audit::record(
        &mut *conn,
        &vendor.id,
        actor,
        "application.approved",
        ("application", Some(&application.id)),
        json!({"affiliate_id": affiliate.id, "code": code}),
    )
    .await?;
    db::applications::by_id(&mut *conn, &vendor.id, &application.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The `application_rejected` email (copy in `templates/emails/application_rejected.*`).
#[derive(Debug, Clone)]
struct ApplicationRejectedEmail {
    applicant_name: String,
    vendor_name: String,
    reason: Option<String>,
}
mail::email_kind!(
    ApplicationRejectedEmail,
    "application_rejected",
    "emails/application_rejected.txt",
    "emails/application_rejected.html"
);

async fn reject_in(
    conn: &mut db::Conn,
    sender: &Sender,
    vendor: &VendorRow,
    application: &ApplicationRow,
    reason: Option<String>,
    actor: &Actor,
) -> AppResult<ApplicationRow> {
    if !db::applications::decide(
        &mut *conn,
        &vendor.id,
        &application.id,
        "rejected",
        reason.as_deref(),
        None,
        actor.id(),
    )
    .await?
    {
        return Err(AppError::wrong_state(
            "this application was already reviewed",
        ));
    }
    let message = ApplicationRejectedEmail {
        applicant_name: application.name.clone(),
        vendor_name: vendor.name.clone(),
        reason: reason.clone(),
    };
    mail::enqueue(
        conn,
        sender,
        vendor,
        Recipient {
            email: &application.email,
            name: Some(&application.name),
        },
        &message,
    )
    .await?;
    let payload = json!({
        "application": {"id": application.id, "email": application.email, "name": application.name, "reason": reason}
    });
    db::events::insert(
        &mut *conn,
        &vendor.id,
        "partner_application_rejected",
        &payload.to_string(),
    )
    .await?;
    audit::record(
        &mut *conn,
        &vendor.id,
        actor,
        "application.rejected",
        ("application", Some(&application.id)),
        json!({"reason": reason}),
    )
    .await?;
    db::applications::by_id(&mut *conn, &vendor.id, &application.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The newest application of an email (seed 001's status lookup), with no side effects.
pub async fn status_of(
    db: &Db,
    vendor_id: &str,
    email: &str,
    program_id: Option<&str>,
) -> AppResult<Option<ApplicationRow>> {
    let email = Email::parse("email", email)?;
    Ok(db::applications::latest_by_email(db.pool(), vendor_id, email.as_str(), program_id).await?)
}

/// Public-form submissions allowed per client address per hour.
const SUBMISSIONS_PER_HOUR: i64 = 10;

/// Counts a public-form submission from `client` and refuses (429) past the hourly cap.
/// The client address is stored only as a hash.
pub async fn check_submission_rate(db: &Db, client: &str) -> AppResult<()> {
    let key = format!(
        "apply|{}",
        crate::domain::values::tokens::sha256_hex(client)
    );
    let hour = 3600 * 1000;
    let now = db::now_ms();
    let (n, oldest) = db::throttle::failures_since(db.pool(), &key, now - hour).await?;
    if n >= SUBMISSIONS_PER_HOUR {
        let wait = (oldest.unwrap_or(now) + hour - now).max(1000) / 1000;
        return Err(AppError::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(60),
        });
    }
    db::throttle::record_failure(db.pool(), &key).await?;
    Ok(())
}

/// Validates a `?status=` filter.
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&str>> {
    match raw.filter(|s| !s.is_empty()) {
        Some(s) if STATUSES.contains(&s) => Ok(Some(s)),
        Some(_) => Err(AppError::invalid(
            "status",
            "status must be pending, approved or rejected",
        )),
        None => Ok(None),
    }
}

/// One page of the vendor's applications (pending first, oldest first) and how many
/// match `status` in all.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ApplicationRow>, i64)> {
    let pool = db.pool();
    let total = db::applications::count(pool, vendor_id, status).await?;
    let rows = db::applications::page(pool, vendor_id, status, limit, offset).await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_rejection_email_renders_its_copy() {
        for reason in [Some("Too <small>"), None] {
            let r = render(
                &ApplicationRejectedEmail {
                    applicant_name: "Ann O'Neil".into(),
                    vendor_name: "Acme & Co".into(),
                    reason: reason.map(str::to_owned),
                },
                reason.is_some(),
            );
            assert_eq!(
                r.subject,
                "Your application to the Acme & Co partner program"
            );
            assert!(r.text.starts_with(
                "Hello Ann O'Neil\n\nThank you for applying to the Acme & Co partner program."
            ));
            assert_eq!(r.text.contains("Reason: Too <small>\n\n"), reason.is_some());
            assert!(
                r.text
                    .contains("\n\nYou are welcome to apply again later.\n\n")
            );
            assert!(!r.html.contains("Or paste this link"));
        }
    }
}

//! An affiliate's profile: the input clients send, its validation, creating an affiliate
//! with its first enrollment, changing it, and deactivating it.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::affiliates::{AffiliateColumns, AffiliateRow};
use crate::db::vendors::VendorRow;
use crate::db::{self, Db};
use crate::domain::partners::affiliates::{
    Affiliate, LinkEmail, SETTABLE_STATUSES, generate_code, get, parse_code, send_link_email,
};
use crate::domain::partners::payout_settings::{self, PayoutInput, PayoutSettings};
use crate::domain::partners::terms::Commission;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::Sender;
use crate::domain::{values::Email, values::text};
use crate::error::{AppError, AppResult};

const METADATA_MAX: usize = 16 * 1024;
const FIELD_MAX: usize = 200;

/// Fields a client may send. On create, `email` is required; on update every field is
/// optional and `null` clears the nullable ones.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateInput {
    /// Email, unique per vendor.
    pub email: Option<String>,
    /// Full name (alternative to first/last).
    pub name: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub company: Option<Option<String>>,
    /// Website.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub website: Option<Option<String>>,
    /// Referral code for the enrollment (create only); generated when absent.
    pub code: Option<String>,
    /// Program to enroll in (create only); the default program when absent.
    pub program_id: Option<String>,
    /// Commission JSON replacing the program terms for this affiliate; `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub commission_override: Option<Option<Value>>,
    /// One of [`payout_settings::METHODS`]; see [`payout_settings`].
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_method: Option<Option<String>>,
    /// PayPal or Wise email.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_email: Option<Option<String>>,
    /// Bank transfer details or crypto wallet.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub payout_details: Option<Option<String>>,
    /// Stripe Connect account id.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub stripe_account_id: Option<Option<String>>,
    /// JSON object.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The vendor's customer id for this person.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub customer_id: Option<Option<String>>,
    /// Provisioning integration name.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub external_source: Option<Option<String>>,
    /// Id in that integration.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub external_id: Option<Option<String>>,
    /// The affiliate who recruited this one: its upline earns the program's multi-level
    /// ladder on this one's conversions. `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub parent_affiliate_id: Option<Option<String>>,
    /// New status (update only): active, paused, banned or deactivated.
    pub status: Option<String>,
    /// Email an invitation (create only; default true).
    pub send_invite: Option<bool>,
}

/// Validated profile fields.
#[derive(Debug, Clone, Default)]
struct Profile {
    email: String,
    name: String,
    first_name: String,
    last_name: String,
    company: Option<String>,
    website: Option<String>,
    customer_id: Option<String>,
    external_source: Option<String>,
    external_id: Option<String>,
    metadata: String,
    parent_affiliate_id: Option<String>,
}

fn opt_text(
    field: &str,
    value: &Option<Option<String>>,
    current: &Option<String>,
) -> AppResult<Option<String>> {
    match value {
        None => Ok(current.clone()),
        Some(v) => text::optional(field, v.as_deref(), FIELD_MAX),
    }
}

impl AffiliateInput {
    /// The payout settings part of the input.
    fn payout(&self) -> PayoutInput {
        PayoutInput {
            payout_method: self.payout_method.clone(),
            payout_email: self.payout_email.clone(),
            payout_details: self.payout_details.clone(),
            stripe_account_id: self.stripe_account_id.clone(),
        }
    }
}

impl Profile {
    fn from_row(r: &AffiliateRow) -> Self {
        Self {
            email: r.email.clone(),
            name: r.name.clone(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            company: r.company.clone(),
            website: r.website.clone(),
            customer_id: r.customer_id.clone(),
            external_source: r.external_source.clone(),
            external_id: r.external_id.clone(),
            metadata: r.metadata.clone(),
            parent_affiliate_id: r.parent_affiliate_id.clone(),
        }
    }

    fn apply(&mut self, i: &AffiliateInput) -> AppResult<()> {
        if let Some(e) = &i.email {
            self.email = Email::parse("email", e)?.as_str().to_owned();
        }
        if let Some(f) = &i.first_name {
            self.first_name =
                text::optional("first_name", Some(f), text::NAME_MAX)?.unwrap_or_default();
        }
        if let Some(l) = &i.last_name {
            self.last_name =
                text::optional("last_name", Some(l), text::NAME_MAX)?.unwrap_or_default();
        }
        if let Some(n) = &i.name {
            self.name = text::optional("name", Some(n), text::NAME_MAX)?.unwrap_or_default();
            if i.first_name.is_none() && i.last_name.is_none() {
                let (first, last) = self.name.split_once(' ').unwrap_or((&self.name, ""));
                (self.first_name, self.last_name) = (first.to_owned(), last.trim().to_owned());
            }
        } else if i.first_name.is_some() || i.last_name.is_some() {
            self.name = format!("{} {}", self.first_name, self.last_name)
                .trim()
                .to_owned();
        }
        self.company = opt_text("company", &i.company, &self.company)?;
        self.website = match &i.website {
            None => self.website.take(),
            Some(v) => text::website("website", v.as_deref(), FIELD_MAX)?,
        };
        self.customer_id = opt_text("customer_id", &i.customer_id, &self.customer_id)?;
        self.external_source =
            opt_text("external_source", &i.external_source, &self.external_source)?;
        self.external_id = opt_text("external_id", &i.external_id, &self.external_id)?;
        self.parent_affiliate_id = opt_text(
            "parent_affiliate_id",
            &i.parent_affiliate_id,
            &self.parent_affiliate_id,
        )?;
        if let Some(m) = &i.metadata {
            if !m.is_object() {
                return Err(AppError::invalid(
                    "metadata",
                    "metadata must be a JSON object",
                ));
            }
            let s = m.to_string();
            if s.len() > METADATA_MAX {
                return Err(AppError::invalid(
                    "metadata",
                    "metadata is larger than 16 KiB",
                ));
            }
            self.metadata = s;
        }
        Ok(())
    }

    fn columns(&self) -> AffiliateColumns<'_> {
        AffiliateColumns {
            email: &self.email,
            name: &self.name,
            first_name: &self.first_name,
            last_name: &self.last_name,
            company: self.company.as_deref(),
            website: self.website.as_deref(),
            customer_id: self.customer_id.as_deref(),
            external_source: self.external_source.as_deref(),
            external_id: self.external_id.as_deref(),
            metadata: &self.metadata,
            parent_affiliate_id: self.parent_affiliate_id.as_deref(),
        }
    }
}

fn override_of(input: &AffiliateInput) -> AppResult<Option<Option<String>>> {
    match &input.commission_override {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) => Ok(Some(Some(
            Commission::from_json("commission_override", v.clone())?.to_json(),
        ))),
    }
}

fn map_unique(e: sqlx::Error) -> AppError {
    match db::unique_violation_field(&e).as_deref() {
        Some("email") => {
            AppError::duplicate("email", "an affiliate with this email already exists")
        }
        Some("code") => AppError::duplicate("code", "this referral code is taken"),
        Some("external_id") => AppError::duplicate(
            "external_id",
            "an affiliate with this external id already exists",
        ),
        _ => e.into(),
    }
}

/// What to enroll a new affiliate with.
#[derive(Debug, Clone)]
pub struct Enrollment<'a> {
    /// The program (validated to belong to the vendor by the caller).
    pub program: &'a db::programs::ProgramRow,
    /// Referral code; generated when `None`.
    pub code: Option<String>,
    /// Status of the affiliate and enrollment.
    pub status: &'a str,
}

/// Inserts an affiliate and its first enrollment in the caller's transaction (shared by
/// invitations and application approvals). Returns the affiliate id and the code.
pub async fn insert_enrolled(
    conn: &mut db::Conn,
    vendor_id: &str,
    input: &AffiliateInput,
    enrollment: Enrollment<'_>,
) -> AppResult<(String, String)> {
    let mut profile = Profile {
        metadata: "{}".into(),
        ..Profile::default()
    };
    profile.apply(input)?;
    if profile.email.is_empty() {
        return Err(AppError::invalid("email", "email is required"));
    }
    let payout = PayoutSettings::merged(&PayoutSettings::default(), &input.payout())?;
    let commission_override = override_of(input)?.flatten();
    let code = match enrollment.code {
        Some(code) => code,
        None => {
            let base = if profile.name.is_empty() {
                profile.email.split('@').next().unwrap_or("partner")
            } else {
                &profile.name
            };
            generate_code(conn, base).await?
        }
    };
    let id = db::affiliates::insert(&mut *conn, vendor_id, &profile.columns(), enrollment.status)
        .await
        .map_err(map_unique)?;
    db::affiliates::enroll(
        &mut *conn,
        vendor_id,
        &id,
        &enrollment.program.id,
        &code,
        enrollment.status,
        commission_override.as_deref(),
        enrollment.program.current_terms_version,
    )
    .await
    .map_err(map_unique)?;
    if payout.method.is_some() {
        db::affiliates::set_payout(&mut *conn, vendor_id, &id, &payout.columns()).await?;
    }
    emit_event(conn, vendor_id, &id, "affiliate.created", Some(&code)).await?;
    Ok((id, code))
}

/// Writes an `affiliate.created` / `affiliate.updated` event (`data.affiliate`, with the
/// referral code of the first enrollment when it is known) in the caller's transaction.
pub async fn emit_event(
    conn: &mut db::Conn,
    vendor_id: &str,
    id: &str,
    kind: &str,
    code: Option<&str>,
) -> AppResult<()> {
    let a = db::affiliates::by_id(&mut *conn, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut affiliate = json!({
        "id": a.id,
        "email": a.email,
        "name": a.name,
        "company": a.company,
        "website": a.website,
        "status": a.status,
        "customer_id": a.customer_id,
        "external_source": a.external_source,
        "external_id": a.external_id,
        "parent_affiliate_id": a.parent_affiliate_id,
        "created_at": db::rfc3339(a.created_at),
    });
    if let Some(code) = code {
        affiliate["code"] = json!(code);
    }
    db::events::insert(
        &mut *conn,
        vendor_id,
        kind,
        &json!({ "affiliate": affiliate }).to_string(),
    )
    .await?;
    Ok(())
}

/// The program a request names (422 if it is not the vendor's), or the default program.
pub async fn program_for(
    db: &Db,
    vendor_id: &str,
    program_id: Option<&str>,
) -> AppResult<db::programs::ProgramRow> {
    match program_id {
        Some(id) => db::programs::by_id(db.pool(), vendor_id, id)
            .await?
            .ok_or_else(|| AppError::invalid("program_id", "no such program")),
        None => db::programs::default_for(db.pool(), vendor_id)
            .await?
            .ok_or_else(|| AppError::invalid("program_id", "the vendor has no program")),
    }
}

/// Creates an affiliate as `invited`, enrolled in the given or default program, and emails
/// an invitation unless `send_invite` is false. Email taken → 409, code taken → 409.
pub async fn create(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    input: &AffiliateInput,
    actor: &Actor,
) -> AppResult<Affiliate> {
    if input.email.is_none() {
        return Err(AppError::invalid("email", "email is required"));
    }
    if input.status.is_some() {
        return Err(AppError::invalid(
            "status",
            "new affiliates start as invited; change the status afterwards",
        ));
    }
    let program = program_for(db, &vendor.id, input.program_id.as_deref()).await?;
    check_parent(db, &vendor.id, None, input).await?;
    let code = input
        .code
        .as_deref()
        .map(|c| parse_code("code", c))
        .transpose()?;
    let mut tx = db.begin().await?;
    let (id, code) = insert_enrolled(
        &mut tx,
        &vendor.id,
        input,
        Enrollment {
            program: &program,
            code,
            status: "invited",
        },
    )
    .await?;
    let row = db::affiliates::by_id(&mut *tx, &vendor.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if input.send_invite.unwrap_or(true) {
        send_link_email(&mut tx, sender, vendor, &row, LinkEmail::Invite).await?;
    }
    audit::record(
        &mut *tx,
        &vendor.id,
        actor,
        "affiliate.created",
        ("affiliate", Some(&id)),
        json!({"email": row.email, "code": code, "program_id": program.id}),
    )
    .await?;
    tx.commit().await?;
    get(db, &vendor.id, &id).await
}

/// Changes profile fields, status and commission override. `invited` cannot be set;
/// `code`, `program_id` and `send_invite` are creation-only.
pub async fn update(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    input: &AffiliateInput,
    actor: &Actor,
) -> AppResult<Affiliate> {
    let vendor_id = vendor.id.as_str();
    for (present, field) in [
        (input.code.is_some(), "code"),
        (input.program_id.is_some(), "program_id"),
        (input.send_invite.is_some(), "send_invite"),
    ] {
        if present {
            return Err(AppError::invalid(
                field,
                format!("{field} can only be set when the affiliate is created"),
            ));
        }
    }
    let current = db::affiliates::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut profile = Profile::from_row(&current);
    profile.apply(input)?;
    let payout_input = input.payout();
    let payout = if payout_input.is_empty() {
        None
    } else {
        Some(PayoutSettings::merged(
            &PayoutSettings::of(&current),
            &payout_input,
        )?)
    };
    check_parent(db, vendor_id, Some(id), input).await?;
    let status = match &input.status {
        Some(s) if SETTABLE_STATUSES.contains(&s.as_str()) => Some(s.as_str()),
        Some(_) => {
            return Err(AppError::invalid(
                "status",
                format!("status must be one of: {}", SETTABLE_STATUSES.join(", ")),
            ));
        }
        None => None,
    };
    let commission_override = override_of(input)?;
    let mut tx = db.begin().await?;
    db::affiliates::update(&mut *tx, vendor_id, id, &profile.columns())
        .await
        .map_err(map_unique)?;
    if let Some(status) = status.filter(|s| *s != current.status) {
        db::affiliates::set_status(&mut tx, vendor_id, id, status, None).await?;
        audit::record(
            &mut *tx,
            vendor_id,
            actor,
            &format!("affiliate.{status}"),
            ("affiliate", Some(id)),
            json!({"from": current.status}),
        )
        .await?;
    }
    if let Some(o) = &commission_override {
        db::affiliates::set_override(&mut *tx, vendor_id, id, o.as_deref()).await?;
    }
    if let Some(p) = &payout {
        // A vendor may correct payout details, but the affiliate always hears of it.
        payout_settings::write(&mut tx, Some((sender, vendor)), &current, p, actor).await?;
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "affiliate.updated",
        ("affiliate", Some(id)),
        json!({}),
    )
    .await?;
    emit_event(&mut tx, vendor_id, id, "affiliate.updated", None).await?;
    tx.commit().await?;
    get(db, vendor_id, id).await
}

/// Deepest recruiting chain walked when checking for cycles.
const UPLINE_MAX_DEPTH: usize = 100;

/// A new parent must be another affiliate of the vendor, and making it the parent must not
/// close a loop (the affiliate above itself).
async fn check_parent(
    db: &Db,
    vendor_id: &str,
    id: Option<&str>,
    input: &AffiliateInput,
) -> AppResult<()> {
    let Some(Some(parent)) = &input.parent_affiliate_id else {
        return Ok(());
    };
    let parent = parent.trim();
    if parent.is_empty() {
        return Ok(());
    }
    let field = "parent_affiliate_id";
    let mut next = Some(parent.to_owned());
    for _ in 0..UPLINE_MAX_DEPTH {
        let Some(current) = next else {
            return Ok(());
        };
        if Some(current.as_str()) == id {
            return Err(AppError::invalid(
                field,
                "an affiliate cannot be its own upline, directly or through others",
            ));
        }
        let row = db::affiliates::by_id(db.pool(), vendor_id, &current)
            .await?
            .ok_or_else(|| AppError::invalid(field, "no such affiliate"))?;
        next = row.parent_affiliate_id;
    }
    Err(AppError::invalid(field, "the recruiting chain is too deep"))
}

/// Soft delete: the affiliate becomes `deactivated`, keeps its history, earns nothing new
/// and cannot sign in. Deleting twice is harmless.
pub async fn deactivate(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    actor: &Actor,
) -> AppResult<Affiliate> {
    let input = AffiliateInput {
        status: Some("deactivated".into()),
        ..AffiliateInput::default()
    };
    update(db, sender, vendor, id, &input, actor).await
}

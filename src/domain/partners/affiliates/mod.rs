//! Affiliates: creation and invitations, profile changes, status rules, enrollments,
//! referral codes, and invite acceptance. The dashboard and the API both call these.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::affiliates::{AffiliateColumns, AffiliateRow, EnrollmentRow, Filter, Sort};
use crate::db::vendors::VendorRow;
use crate::db::{self, Db};
use crate::domain::partners::payout_settings::{self, PayoutInput, PayoutSettings};
use crate::domain::partners::terms::Commission;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::{tenancy::vendors, values::Email, values::slug, values::text, values::tokens};
use crate::error::{AppError, AppResult};

/// Statuses a vendor may set.
pub const SETTABLE_STATUSES: [&str; 4] = ["active", "paused", "banned", "deactivated"];
/// Every status.
pub const STATUSES: [&str; 5] = ["invited", "active", "paused", "banned", "deactivated"];
/// Token purpose of invitation links.
/// Token purpose of invitation and welcome links (7 days, single use).
pub const INVITE_PURPOSE: &str = "affiliate_invite";
/// How long an invitation link works: 7 days.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
const METADATA_MAX: usize = 16 * 1024;
const FIELD_MAX: usize = 200;

/// Fields a client may send. On create, `email` is required; on update every field is
/// optional and `null` clears the nullable ones.
#[derive(Debug, Default, Deserialize)]
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

/// An affiliate with its enrollments.
#[derive(Debug, Clone)]
pub struct Affiliate {
    /// The stored row.
    pub row: AffiliateRow,
    /// Its programs, oldest first.
    pub enrollments: Vec<EnrollmentRow>,
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
        self.website = opt_text("website", &i.website, &self.website)?;
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

/// Validates a referral code: lower-cased, then 3-40 of `[a-z0-9-_]`.
pub fn parse_code(field: &str, raw: &str) -> AppResult<String> {
    slug::normalize_code(raw)
        .ok_or_else(|| AppError::invalid(field, "codes are 3-40 characters of a-z, 0-9, - and _"))
}

/// A free, readable code such as `jane-smith-7g2k`.
pub async fn generate_code(conn: &mut db::Conn, base: &str) -> AppResult<String> {
    let stem = slug::slugify(base, 24, "partner");
    for _ in 0..10 {
        let candidate = format!("{stem}-{}", slug::random_suffix(4));
        if !db::affiliates::code_taken(&mut *conn, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free referral code for {stem}"
    )))
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
    Ok((id, code))
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
    if row.status != "invited" {
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

/// One affiliate of the vendor with its enrollments; others are 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Affiliate> {
    let row = db::affiliates::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrollments = db::affiliates::enrollments(db.pool(), vendor_id, id).await?;
    Ok(Affiliate { row, enrollments })
}

/// The affiliate who is the vendor's customer `customer_id`, if any.
pub async fn by_customer(
    db: &Db,
    vendor_id: &str,
    customer_id: &str,
) -> AppResult<Option<Affiliate>> {
    match db::affiliates::by_customer(db.pool(), vendor_id, customer_id).await? {
        Some(row) => Ok(Some(get(db, vendor_id, &row.id).await?)),
        None => Ok(None),
    }
}

/// The affiliate of this vendor, if it exists and may still sign in: the check every
/// affiliate credential (session, access, embed or personal token) passes on each use.
pub async fn signed_in(db: &Db, vendor_id: &str, id: &str) -> AppResult<Option<AffiliateRow>> {
    Ok(db::affiliates::by_id(db.pool(), vendor_id, id)
        .await?
        .filter(|a| can_sign_in(&a.status)))
}

/// Whether an affiliate in `status` may sign in to the portal.
pub fn can_sign_in(status: &str) -> bool {
    !matches!(status, "banned" | "deactivated")
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

/// Parses `?sort=`: `created_at` (oldest first), `-created_at` (default), `email`, `name`.
pub fn parse_sort(raw: Option<&str>) -> AppResult<Sort> {
    match raw.unwrap_or("-created_at") {
        "-created_at" => Ok(Sort::Newest),
        "created_at" => Ok(Sort::Oldest),
        "email" => Ok(Sort::Email),
        "name" => Ok(Sort::Name),
        _ => Err(AppError::invalid(
            "sort",
            "sort must be -created_at, created_at, email or name",
        )),
    }
}

/// Validates the list filters shared by the API and the dashboard.
pub fn parse_filter<'a>(
    status: Option<&'a str>,
    search: Option<&'a str>,
    program_id: Option<&'a str>,
) -> AppResult<Filter<'a>> {
    let status = status.filter(|s| !s.is_empty());
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(AppError::invalid(
            "status",
            format!("status must be one of: {}", STATUSES.join(", ")),
        ));
    }
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::invalid(
            "search",
            "search is longer than 200 characters",
        ));
    }
    Ok(Filter {
        status,
        search,
        program_id: program_id.filter(|p| !p.is_empty()),
    })
}

/// One page of a vendor's affiliates matching `filter`, with their enrollments, and the
/// number of matches.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    filter: &Filter<'_>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Affiliate>, i64)> {
    let pool = db.pool();
    let total = db::affiliates::count(pool, vendor_id, filter).await?;
    let rows = db::affiliates::page(pool, vendor_id, filter, sort, limit, offset).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let enrollments = db::affiliates::enrollments(pool, vendor_id, &row.id).await?;
        found.push(Affiliate { row, enrollments });
    }
    Ok((found, total))
}

/// The commission terms of an enrollment.
#[derive(Debug, Clone)]
pub struct EnrollmentTerms {
    /// What the affiliate earns under: its override when set, else `version`.
    pub own: Commission,
    /// Whether `own` is an override.
    pub is_override: bool,
    /// The program terms version the enrollment activated under (the upline ladder always
    /// comes from these, never from an override).
    pub version: Commission,
}

/// The terms of an enrollment (its row carries its terms version's commission).
pub fn enrollment_terms(e: &EnrollmentRow) -> AppResult<EnrollmentTerms> {
    let version = e
        .terms_commission
        .as_deref()
        .and_then(Commission::from_stored)
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "terms v{} of {} are missing",
                e.terms_version,
                e.program_id
            ))
        })?;
    let own = e
        .commission_override
        .as_deref()
        .and_then(Commission::from_stored);
    Ok(EnrollmentTerms {
        is_override: own.is_some(),
        own: own.unwrap_or_else(|| version.clone()),
        version,
    })
}

/// The terms an enrollment earns under: its commission override when set, else the program
/// terms version it activated under. The flag says whether it is an override.
pub fn effective_commission(e: &EnrollmentRow) -> AppResult<(Commission, bool)> {
    let t = enrollment_terms(e)?;
    Ok((t.own, t.is_override))
}

/// Whether a customer is the affiliate itself: the affiliate's own `customer_id`, or its
/// email. Self-referrals earn nothing unless the program allows them; the rule is checked
/// when a customer is bound and again when a conversion is recorded.
pub fn is_self_referral(a: &AffiliateRow, customer_id: Option<&str>, email: Option<&str>) -> bool {
    let same_customer = customer_id.is_some() && a.customer_id.as_deref() == customer_id;
    let same_email = email.is_some_and(|e| e.eq_ignore_ascii_case(&a.email));
    same_customer || same_email
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

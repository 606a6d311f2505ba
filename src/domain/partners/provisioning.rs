//! Kernel provisioning (seed 000): a consumer's backend turns one of its users into an
//! affiliate of the vendor with one call, `POST /api/v1/kernel/affiliates/provision`.
//!
//! One transaction writes the affiliate row and its membership (the enrollment in the
//! vendor's default program, or the one named). The call is idempotent on (the consumer's
//! `external_source`, `external_id`): a repeat answers the same rows with `created: false`,
//! concurrent repeats included. The unique indexes decide races: a losing insert (or stamp)
//! runs in a savepoint that is rolled back, and the rows the winner committed are read again.
//!
//! An email that already belongs to an affiliate of the vendor without an external id (one
//! who signed up by themselves) gets the external ids stamped onto it instead of a second
//! affiliate, and is enrolled in the program if it was not; an email whose affiliate carries
//! another external id is a 409. Statuses are left as they are: provisioning never
//! reactivates a paused, banned or deactivated affiliate.
//!
//! `stripe_account_id` becomes the affiliate's payout destination (`stripe_connect`) when it
//! has no payout method yet or already uses Stripe; a method the affiliate chose otherwise is
//! kept. A change of an existing affiliate's destination is audited and emailed as any
//! vendor change is (see [`payout_settings::write`]).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Db, affiliates::AffiliateRow, programs::ProgramRow, vendors::VendorRow};
use crate::domain::partners::affiliates::{self, AffiliateInput, Enrollment, generate_code};
use crate::domain::partners::payout_settings::{self, PayoutInput, PayoutSettings};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::consumers::ConsumerPrincipal;
use crate::domain::tenancy::mail::Sender;
use crate::domain::values::status::program_is_open;
use crate::domain::values::{Email, text};
use crate::error::{AppError, AppResult};

/// Longest external id.
const EXTERNAL_ID_MAX: usize = 200;
/// How often a call that lost a race looks again before giving up.
const ATTEMPTS: usize = 4;

/// The seed-000 body.
// Required fields are `Option`s so a missing one is a 422 naming it; the schema says
// they are required strings.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionInput {
    /// The consumer's id for this user (its primary key; at most 200 characters).
    #[schema(value_type = String, required = true, max_length = 200)]
    pub external_id: Option<String>,
    /// The user's email.
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    /// The user's name (at most 120 characters).
    #[schema(max_length = 120)]
    pub name: Option<String>,
    /// Must be the consumer's vendor (403 otherwise).
    #[schema(value_type = String, required = true)]
    pub vendor_id: Option<String>,
    /// Optional Stripe Connect account (`acct_...`) to pay the affiliate through; empty is
    /// none.
    #[schema(pattern = "^\\s*((acct_[A-Za-z0-9]{1,59})\\s*)?$")]
    pub stripe_account_id: Option<String>,
    /// Optional program; the vendor's default program when absent.
    pub program_id: Option<String>,
}

/// The answer, exactly seed 000's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    /// `aff_...`
    pub affiliate_id: String,
    /// The referral code of the membership.
    pub affiliate_code: String,
    /// The enrollment (`enr_...`) in the program.
    pub membership_id: String,
    /// The consumer's external source label.
    pub external_source: String,
    /// As sent.
    pub external_id: String,
    /// Whether this call created the affiliate.
    pub created: bool,
}

/// The validated body.
struct Valid {
    external_id: String,
    email: Email,
    name: Option<String>,
    payout: Option<PayoutSettings>,
}

fn required<'a>(field: &str, v: &'a Option<String>) -> AppResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| AppError::invalid(field, format!("{field} is required")))
}

fn validate(input: &ProvisionInput) -> AppResult<Valid> {
    let external_id = text::required(
        "external_id",
        required("external_id", &input.external_id)?,
        EXTERNAL_ID_MAX,
    )?;
    let email = Email::parse("email", required("email", &input.email)?)?;
    let name = text::optional("name", input.name.as_deref(), text::NAME_MAX)?;
    let payout = match input
        .stripe_account_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        None => None,
        Some(acct) => Some(PayoutSettings::merged(
            &PayoutSettings::default(),
            &PayoutInput {
                payout_method: Some(Some("stripe_connect".into())),
                stripe_account_id: Some(Some(acct.to_owned())),
                ..PayoutInput::default()
            },
        )?),
    };
    Ok(Valid {
        external_id,
        email,
        name,
        payout,
    })
}

fn program_closed(program: &ProgramRow) -> AppError {
    AppError::Conflict {
        code: "invalid_state",
        message: format!(
            "the program is {}: it takes no new members; activate it or name another program_id",
            program.status
        ),
        field: Some("program_id".into()),
    }
}

fn is_duplicate(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Conflict {
            code: "duplicate",
            ..
        }
    )
}

/// Provisions the user as an affiliate of the consumer's vendor; see the module docs.
pub async fn provision(
    db: &Db,
    sender: &Sender,
    consumer: &ConsumerPrincipal,
    input: &ProvisionInput,
) -> AppResult<Provisioned> {
    let vendor_id = required("vendor_id", &input.vendor_id)?.trim();
    if vendor_id != consumer.vendor_id {
        return Err(AppError::Forbidden(
            "vendor_id is not the vendor this consumer belongs to".into(),
        ));
    }
    let valid = validate(input)?;
    let program =
        affiliates::program_for(db, vendor_id, input.program_id.as_deref().map(str::trim)).await?;
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let ctx = Ctx {
        sender,
        vendor: &vendor,
        program: &program,
        source: &consumer.external_source,
        valid: &valid,
        actor: Actor::Consumer(consumer.consumer_id.clone()),
    };
    let mut tx = db.begin().await?;
    for _ in 0..ATTEMPTS {
        if let Some(a) =
            db::affiliates::by_external(&mut *tx, vendor_id, ctx.source, &valid.external_id).await?
        {
            let Some(done) = ctx.existing(&mut tx, &a).await? else {
                continue;
            };
            tx.commit().await?;
            return Ok(done);
        }
        if let Some(a) = db::affiliates::by_email(&mut *tx, vendor_id, valid.email.as_str()).await?
        {
            let ours = a.external_source.as_deref() == Some(ctx.source)
                && a.external_id.as_deref() == Some(valid.external_id.as_str());
            if ours {
                // Stamped by a concurrent call that committed after the lookup above.
                continue;
            }
            if a.external_id.is_some() {
                return Err(AppError::Conflict {
                    code: "duplicate",
                    message: "this email belongs to an affiliate provisioned with another \
                              external id"
                        .into(),
                    field: Some("email".into()),
                });
            }
            if !ctx.stamp(&mut tx, &a).await? {
                continue;
            }
            let Some(done) = ctx.existing(&mut tx, &a).await? else {
                continue;
            };
            tx.commit().await?;
            return Ok(done);
        }
        if let Some(done) = ctx.create(&mut tx).await? {
            tx.commit().await?;
            return Ok(done);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "provisioning {} lost {ATTEMPTS} races in a row",
        valid.external_id
    )))
}

/// What every step of one call needs.
struct Ctx<'a> {
    sender: &'a Sender,
    vendor: &'a VendorRow,
    program: &'a ProgramRow,
    source: &'a str,
    valid: &'a Valid,
    actor: Actor,
}

impl Ctx<'_> {
    fn answer(
        &self,
        affiliate_id: &str,
        code: &str,
        membership_id: &str,
        created: bool,
    ) -> Provisioned {
        Provisioned {
            affiliate_id: affiliate_id.to_owned(),
            affiliate_code: code.to_owned(),
            membership_id: membership_id.to_owned(),
            external_source: self.source.to_owned(),
            external_id: self.valid.external_id.clone(),
            created,
        }
    }

    /// Stamps the external ids onto a self-signed-up affiliate; `false` when another call
    /// got there first (look again).
    async fn stamp(&self, tx: &mut db::Tx, a: &AffiliateRow) -> AppResult<bool> {
        let mut sp = sqlx::Connection::begin(&mut **tx).await?;
        let stamped = db::affiliates::stamp_external(
            &mut *sp,
            &self.vendor.id,
            &a.id,
            self.source,
            &self.valid.external_id,
        )
        .await;
        match stamped {
            Ok(true) => {
                audit::record(
                    &mut *sp,
                    &self.vendor.id,
                    &self.actor,
                    "affiliate.external_id_stamped",
                    ("affiliate", Some(&a.id)),
                    json!({"external_source": self.source, "external_id": self.valid.external_id}),
                )
                .await?;
                sp.commit().await?;
                Ok(true)
            }
            Ok(false) => {
                sp.rollback().await?;
                Ok(false)
            }
            Err(e) if db::unique_violation_field(&e).is_some() => {
                sp.rollback().await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The answer for an affiliate that exists: its membership in the program (enrolling it
    /// if needed) and, if given, its Stripe account. `None` when a concurrent call enrolled
    /// it in the meantime (look again).
    async fn existing(&self, tx: &mut db::Tx, a: &AffiliateRow) -> AppResult<Option<Provisioned>> {
        let vendor_id = self.vendor.id.as_str();
        let enrollment =
            match db::affiliates::enrollment_in(&mut **tx, vendor_id, &a.id, &self.program.id)
                .await?
            {
                Some(e) => e,
                None => {
                    if !program_is_open(&self.program.status) {
                        return Err(program_closed(self.program));
                    }
                    if !self.enroll(tx, a).await? {
                        return Ok(None);
                    }
                    db::affiliates::enrollment_in(&mut **tx, vendor_id, &a.id, &self.program.id)
                        .await?
                        .ok_or(AppError::NotFound)?
                }
            };
        if let Some(p) = &self.valid.payout
            && matches!(a.payout_method.as_deref(), None | Some("stripe_connect"))
        {
            let current = db::affiliates::by_id(&mut **tx, vendor_id, &a.id)
                .await?
                .ok_or(AppError::NotFound)?;
            payout_settings::write(
                tx,
                Some((self.sender, self.vendor)),
                &current,
                p,
                &self.actor,
            )
            .await?;
        }
        Ok(Some(self.answer(
            &a.id,
            &enrollment.code,
            &enrollment.id,
            false,
        )))
    }

    /// Enrolls an existing affiliate in the program with its current status; `false` when a
    /// concurrent call did.
    async fn enroll(&self, tx: &mut db::Tx, a: &AffiliateRow) -> AppResult<bool> {
        let mut sp = sqlx::Connection::begin(&mut **tx).await?;
        let base = if a.name.trim().is_empty() {
            a.email.split('@').next().unwrap_or("partner").to_owned()
        } else {
            a.name.clone()
        };
        let code = generate_code(&mut sp, &base).await?;
        let enrolled = db::affiliates::enroll(
            &mut *sp,
            &self.vendor.id,
            &a.id,
            &self.program.id,
            &code,
            &a.status,
            None,
            self.program.current_terms_version,
        )
        .await;
        match enrolled {
            Ok(_) => {
                audit::record(
                    &mut *sp,
                    &self.vendor.id,
                    &self.actor,
                    "affiliate.enrolled",
                    ("affiliate", Some(&a.id)),
                    json!({"program_id": self.program.id, "code": code}),
                )
                .await?;
                sp.commit().await?;
                Ok(true)
            }
            Err(e) if db::unique_violation_field(&e).is_some() => {
                sp.rollback().await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A new active affiliate with its membership; `None` when a concurrent call inserted
    /// the same email or external id first (look again).
    async fn create(&self, tx: &mut db::Tx) -> AppResult<Option<Provisioned>> {
        if !program_is_open(&self.program.status) {
            return Err(program_closed(self.program));
        }
        let v = self.valid;
        let input = AffiliateInput {
            email: Some(v.email.as_str().to_owned()),
            name: v.name.clone(),
            external_source: Some(Some(self.source.to_owned())),
            external_id: Some(Some(v.external_id.clone())),
            payout_method: v.payout.as_ref().map(|p| p.method.clone()),
            stripe_account_id: v.payout.as_ref().map(|p| p.stripe_account_id.clone()),
            ..AffiliateInput::default()
        };
        let mut sp = sqlx::Connection::begin(&mut **tx).await?;
        let inserted = affiliates::insert_enrolled(
            &mut sp,
            &self.vendor.id,
            &input,
            Enrollment {
                program: self.program,
                code: None,
                status: "active",
            },
        )
        .await;
        let (id, code) = match inserted {
            Ok(done) => done,
            Err(e) if is_duplicate(&e) => {
                sp.rollback().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        audit::record(
            &mut *sp,
            &self.vendor.id,
            &self.actor,
            "affiliate.created",
            ("affiliate", Some(&id)),
            json!({"email": v.email.as_str(), "code": code, "program_id": self.program.id,
                   "external_source": self.source, "external_id": v.external_id,
                   "via": "kernel"}),
        )
        .await?;
        sp.commit().await?;
        let membership =
            db::affiliates::enrollment_in(&mut **tx, &self.vendor.id, &id, &self.program.id)
                .await?
                .ok_or(AppError::NotFound)?;
        Ok(Some(self.answer(&id, &code, &membership.id, true)))
    }
}

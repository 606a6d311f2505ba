//! A new vendor with its owner and default program, in one transaction: the first-run setup
//! page and `affilia admin create-vendor`. It lives with the partners because a vendor
//! starts with a program; the vendor itself is `tenancy::vendors`.

use serde_json::json;

use crate::db::{self, Db, users::UserRow, vendors::VendorRow};
use crate::domain::partners::programs;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::password;
use crate::domain::values::{Currency, Email, slug, text};
use crate::error::{AppError, AppResult};

/// What a new vendor needs, as typed by a person (validated by [`create`]).
#[derive(Debug, Clone, Default)]
pub struct NewVendor {
    /// Vendor (company or product) name.
    pub name: String,
    /// The owner's sign-in email.
    pub owner_email: String,
    /// The owner's password.
    pub owner_password: String,
    /// ISO 4217 currency of the default program; empty means USD.
    pub currency: String,
}

/// Where a vendor is being created from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The first-run setup page: allowed only while the installation has no vendor.
    FirstRunSetup,
    /// The command line: allowed any time (several vendors may share an installation).
    Cli,
}

/// The vendor, its owner and its default program.
#[derive(Debug, Clone)]
pub struct CreatedVendor {
    /// The vendor.
    pub vendor: VendorRow,
    /// Its owner account.
    pub owner: UserRow,
    /// Id of its default program (20 % of each payment).
    pub program_id: String,
}

const SLUG_MAX: usize = 40;

/// Creates a vendor, its owner and a default program with 20 % percentage terms, in one
/// transaction. The setup origin fails with 409 once the installation has been set up.
pub async fn create(db: &Db, input: NewVendor, origin: Origin) -> AppResult<CreatedVendor> {
    let name = text::required("name", &input.name, text::NAME_MAX)?;
    let email = Email::parse("owner_email", &input.owner_email)?;
    password::check_policy("owner_password", &input.owner_password)?;
    let currency = if input.currency.trim().is_empty() {
        Currency::parse("currency", "USD")?
    } else {
        Currency::parse("currency", &input.currency)?
    };
    // Hash before the transaction: it takes tens of milliseconds and holds no lock.
    let password_hash = password::hash(input.owner_password).await?;

    let mut tx = db.begin().await?;
    let claimed = db::vendors::claim_installation(&mut tx).await?;
    if origin == Origin::FirstRunSetup && !claimed {
        return Err(AppError::wrong_state(
            "this installation has already been set up",
        ));
    }
    if db::users::by_email(&mut *tx, email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::duplicate(
            "owner_email",
            "a staff account with this email already exists",
        ));
    }
    let slug = free_slug(&mut tx, &name).await?;
    let vendor = db::vendors::insert(&mut tx, &name, &slug, currency.as_str()).await?;
    let owner = db::users::insert(
        &mut *tx,
        &vendor.id,
        email.as_str(),
        "",
        &password_hash,
        "owner",
    )
    .await?;
    let program_id =
        programs::create_default(&mut tx, &vendor.id, &name, currency.as_str()).await?;
    let actor = match origin {
        Origin::FirstRunSetup => Actor::User(owner.id.clone()),
        Origin::Cli => Actor::Cli,
    };
    audit::record(
        &mut *tx,
        &vendor.id,
        &actor,
        "vendor.created",
        ("vendor", Some(&vendor.id)),
        json!({"name": name, "slug": slug, "owner_email": email.as_str(), "program_id": program_id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(vendor_id = %vendor.id, slug = %vendor.slug, "vendor created");
    Ok(CreatedVendor {
        vendor,
        owner,
        program_id,
    })
}

/// A slug derived from the name, with a random suffix when the plain one is taken.
async fn free_slug(conn: &mut db::Conn, name: &str) -> AppResult<String> {
    let base = slug::slugify(name, SLUG_MAX, "vendor");
    if !db::vendors::slug_taken(conn, &base).await? {
        return Ok(base);
    }
    for _ in 0..8 {
        let candidate = format!("{base}-{}", slug::random_suffix(4));
        if !db::vendors::slug_taken(conn, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(AppError::duplicate(
        "name",
        "could not find a free slug for this name",
    ))
}

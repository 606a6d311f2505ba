//! Partner groups: the affiliates of a program split into groups (a default one for
//! everybody), each with its own versioned commission terms, holding period, minimum payout,
//! landing URL and application form fields (`fields`). Promotion rules (`promotion`) move affiliates
//! between groups; a move (`moves`) changes the terms from the next conversion on.

pub mod fields;
pub mod moves;
pub mod promotion;
pub mod settings;
pub mod standing;

use serde::Deserialize;
use serde_json::json;

use crate::db::{self, Db, groups::GroupColumns, groups::GroupRow};
use crate::domain::partners::terms::Commission;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// Largest group minimum payout: the program's own bound.
const MIN_PAYOUT_MAX_CENTS: i64 = 100_000_000;
const _: () = assert!(MIN_PAYOUT_MAX_CENTS <= crate::domain::values::money::MAX_CENTS);
/// Longest description.
const DESCRIPTION_MAX: usize = 500;
/// Most groups per program.
pub const GROUPS_MAX: usize = 50;

/// A group as the services return it.
#[derive(Debug, Clone)]
pub struct Group {
    /// The stored row.
    pub row: GroupRow,
    /// Its current terms.
    pub commission: Commission,
}

impl Group {
    fn from_row(row: GroupRow) -> AppResult<Self> {
        let commission = Commission::from_stored(&row.commission).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("terms of group {} are unreadable", row.id))
        })?;
        Ok(Self { row, commission })
    }

    /// Whether this is the program's default group.
    pub fn is_default(&self) -> bool {
        self.row.is_default == 1
    }

    /// The extra questions of the group's application form.
    pub fn application_fields(&self) -> Vec<fields::ApplicationField> {
        fields::from_stored(&self.row.application_fields)
    }
}

/// Fields a client may set on a group; all optional on update (`null` clears the holding
/// period, minimum payout and landing URL: the program's then apply).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    /// Display name, unique in the program (required on create).
    #[schema(min_length = 1, max_length = 120)]
    pub name: Option<String>,
    /// What the group is for.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Commission terms (the shape of a program's `commission`); a change makes the next
    /// terms version of the group. On create, the program's current terms when absent.
    #[schema(value_type = Option<Object>)]
    pub commission: Option<serde_json::Value>,
    /// Own holding period, 0..=365 days; `null`: the program's.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 365)]
    pub holding_period_days: Option<Option<i64>>,
    /// Own minimum payout, 0..=100,000,000 minor units; `null`: the program's.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100_000_000)]
    pub min_payout_cents: Option<Option<i64>>,
    /// Own landing URL (`http(s)://`); `null`: the program's.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<String>)]
    pub landing_url: Option<Option<String>>,
    /// Extra questions of the group's application form (replaces the list; `[]`: none).
    /// Keys unique in the list.
    #[schema(max_items = 10)]
    pub application_fields: Option<Vec<fields::ApplicationField>>,
}

/// The settings of a group being written.
struct Settings {
    name: String,
    description: String,
    holding_period_days: Option<i64>,
    min_payout_cents: Option<i64>,
    landing_url: Option<String>,
    application_fields: String,
}

impl Settings {
    fn of(g: Option<&Group>) -> Self {
        match g {
            Some(g) => Self {
                name: g.row.name.clone(),
                description: g.row.description.clone(),
                holding_period_days: g.row.holding_period_days,
                min_payout_cents: g.row.min_payout_cents,
                landing_url: g.row.landing_url.clone(),
                application_fields: g.row.application_fields.clone(),
            },
            None => Self {
                name: String::new(),
                description: String::new(),
                holding_period_days: None,
                min_payout_cents: None,
                landing_url: None,
                application_fields: "[]".to_owned(),
            },
        }
    }

    fn apply(&mut self, input: &GroupInput) -> AppResult<()> {
        if let Some(name) = &input.name {
            self.name = text::required("name", name, text::NAME_MAX)?;
        }
        if let Some(d) = &input.description {
            self.description =
                text::optional("description", Some(d), DESCRIPTION_MAX)?.unwrap_or_default();
        }
        if let Some(days) = input.holding_period_days {
            self.holding_period_days = ranged("holding_period_days", days, 365)?;
        }
        if let Some(cents) = input.min_payout_cents {
            self.min_payout_cents = ranged("min_payout_cents", cents, MIN_PAYOUT_MAX_CENTS)?;
        }
        if let Some(url) = &input.landing_url {
            self.landing_url = match url.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(u) => Some(text::http_url("landing_url", u)?.to_string()),
            };
        }
        if let Some(f) = &input.application_fields {
            self.application_fields = fields::validate(f)?;
        }
        Ok(())
    }

    fn columns(&self) -> GroupColumns<'_> {
        GroupColumns {
            name: &self.name,
            description: &self.description,
            holding_period_days: self.holding_period_days,
            min_payout_cents: self.min_payout_cents,
            landing_url: self.landing_url.as_deref(),
            application_fields: &self.application_fields,
        }
    }
}

fn ranged(field: &str, v: Option<i64>, hi: i64) -> AppResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(v) if (0..=hi).contains(&v) => Ok(Some(v)),
        Some(_) => Err(AppError::invalid(
            field,
            format!("{field} must be between 0 and {hi} (or null for the program's)"),
        )),
    }
}

fn map_name_conflict(e: sqlx::Error) -> AppError {
    match db::unique_violation_field(&e) {
        Some(_) => AppError::duplicate("name", "another group of this program has this name"),
        None => e.into(),
    }
}

/// The groups of a vendor's program, the default one first. Another vendor's program → 404.
pub async fn list(db: &Db, vendor_id: &str, program_id: &str) -> AppResult<Vec<Group>> {
    db::programs::by_id(db.pool(), vendor_id, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    db::groups::of_program(db.pool(), vendor_id, program_id)
        .await?
        .into_iter()
        .map(Group::from_row)
        .collect()
}

/// One group of the vendor.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Group> {
    let row = db::groups::by_id(db.pool(), vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Group::from_row(row)
}

/// Creates a group in a program; `name` is required, terms default to the program's
/// current ones.
pub async fn create(
    db: &Db,
    vendor_id: &str,
    program_id: &str,
    input: &GroupInput,
    actor: &Actor,
) -> AppResult<Group> {
    let program = db::programs::by_id(db.pool(), vendor_id, program_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if input.name.is_none() {
        return Err(AppError::invalid("name", "name is required"));
    }
    let mut s = Settings::of(None);
    s.apply(input)?;
    let commission = match input.commission.clone() {
        Some(v) => Commission::from_json("commission", v)?,
        None => {
            Commission::from_stored(&program.commission).unwrap_or_else(Commission::default_terms)
        }
    };
    let existing = db::groups::of_program(db.pool(), vendor_id, program_id).await?;
    if existing.len() >= GROUPS_MAX {
        return Err(AppError::invalid(
            "name",
            format!("a program has at most {GROUPS_MAX} groups"),
        ));
    }
    let mut tx = db.begin().await?;
    let id = db::groups::insert(
        &mut tx,
        vendor_id,
        program_id,
        &s.columns(),
        &commission.to_json(),
    )
    .await
    .map_err(map_name_conflict)?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.group_created",
        ("program", Some(program_id)),
        json!({"group_id": id, "name": s.name}),
    )
    .await?;
    tx.commit().await?;
    db::routing_changed();
    get(db, vendor_id, &id).await
}

/// Changes the fields present in `input`. New terms become the group's next version
/// (members keep theirs until they move or are migrated); for the default group they are
/// the program's next terms version.
pub async fn update(
    db: &Db,
    vendor_id: &str,
    id: &str,
    input: &GroupInput,
    actor: &Actor,
) -> AppResult<Group> {
    let current = get(db, vendor_id, id).await?;
    let mut s = Settings::of(Some(&current));
    s.apply(input)?;
    let commission = input
        .commission
        .clone()
        .map(|v| Commission::from_json("commission", v))
        .transpose()?
        .filter(|c| *c != current.commission);
    let mut tx = db.begin().await?;
    if !db::groups::update(&mut *tx, vendor_id, id, &s.columns())
        .await
        .map_err(map_name_conflict)?
    {
        return Err(AppError::NotFound);
    }
    let mut details = json!({"group_id": id, "name": s.name});
    if let Some(c) = &commission {
        let version = if current.is_default() {
            db::programs::add_terms_version(
                &mut tx,
                vendor_id,
                &current.row.program_id,
                &c.to_json(),
            )
            .await?
        } else {
            db::groups::add_terms_version(&mut tx, vendor_id, id, &c.to_json()).await?
        };
        details["terms_version"] = json!(version);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "program.group_updated",
        ("program", Some(&current.row.program_id)),
        details,
    )
    .await?;
    tx.commit().await?;
    // A group's landing URL is where its members' links lead.
    db::routing_changed();
    get(db, vendor_id, id).await
}

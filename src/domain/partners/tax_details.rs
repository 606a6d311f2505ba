//! Tax details an affiliate gives for the vendor's year-end reporting: legal name, country
//! and tax id. Affiliates give them in the portal's payout settings or through
//! `PUT /api/v1/me/tax-details`; the vendor may read and set them
//! (`/api/v1/affiliates/{id}/tax-details`). A program with `require_tax_details` holds an
//! affiliate's payouts (`tax_details_missing`) until they are given. Every change is
//! audited, without the values (a tax id does not belong in a log).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{self, Db, tax_details::TaxDetailsRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// Longest legal name.
const LEGAL_NAME_MAX: usize = 200;
/// Longest tax id (VAT numbers, EINs, TINs and their separators fit easily).
const TAX_ID_MAX: usize = 64;

/// Tax details as sent: every field required.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxDetailsInput {
    /// Legal name of the person or company paid, up to 200 characters.
    #[schema(value_type = String, required = true, max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub legal_name: Option<String>,
    /// ISO 3166-1 alpha-2 country code (`DE`, `US`).
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
    /// Tax identification number (VAT id, EIN, TIN...): letters, digits, spaces, `-`, `.`,
    /// `/`; up to 64 characters.
    #[schema(
        value_type = String,
        required = true,
        max_length = 64,
        pattern = "^[A-Za-z0-9 ./-]*[A-Za-z0-9./-][A-Za-z0-9 ./-]*$"
    )]
    pub tax_id: Option<String>,
}

/// Validated tax details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TaxDetails {
    /// Legal name.
    pub legal_name: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// Tax id as given (trimmed).
    pub tax_id: String,
}

impl TaxDetails {
    /// Checks `input`: 422 naming the first bad field.
    pub fn parse(input: &TaxDetailsInput) -> AppResult<Self> {
        let legal_name = text::required(
            "legal_name",
            input.legal_name.as_deref().unwrap_or(""),
            LEGAL_NAME_MAX,
        )?;
        let country = input.country.as_deref().unwrap_or("").trim();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(AppError::invalid(
                "country",
                "country is a two-letter ISO 3166 code such as DE or US",
            ));
        }
        let tax_id = text::required("tax_id", input.tax_id.as_deref().unwrap_or(""), TAX_ID_MAX)?;
        if !tax_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '.' | '/'))
        {
            return Err(AppError::invalid(
                "tax_id",
                "tax_id may hold letters, digits, spaces, '-', '.' and '/'",
            ));
        }
        Ok(Self {
            legal_name,
            country: country.to_ascii_uppercase(),
            tax_id,
        })
    }

    /// From the stored row.
    pub fn of(row: &TaxDetailsRow) -> Self {
        Self {
            legal_name: row.legal_name.clone(),
            country: row.country.clone(),
            tax_id: row.tax_id.clone(),
        }
    }
}

/// An affiliate's tax details; `None` when not given. Another vendor's affiliate → 404.
pub async fn get(db: &Db, vendor_id: &str, affiliate_id: &str) -> AppResult<Option<TaxDetails>> {
    db::affiliates::by_id(db.pool(), vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(db::tax_details::of(db.pool(), vendor_id, affiliate_id)
        .await?
        .as_ref()
        .map(TaxDetails::of))
}

/// Sets an affiliate's tax details (validated: a bad field changes nothing), audited
/// as `affiliate.tax_details_changed` with the country but not the id. Another vendor's
/// affiliate → 404.
pub async fn set(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    input: &TaxDetailsInput,
    actor: &Actor,
) -> AppResult<TaxDetails> {
    // Another vendor's affiliate is a 404 whatever the body holds.
    let mut tx = db.begin().await?;
    db::affiliates::by_id(&mut *tx, vendor_id, affiliate_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let details = TaxDetails::parse(input)?;
    let before = db::tax_details::of(&mut *tx, vendor_id, affiliate_id).await?;
    if before.as_ref().map(TaxDetails::of) != Some(details.clone()) {
        db::tax_details::upsert(
            &mut *tx,
            vendor_id,
            affiliate_id,
            [&details.legal_name, &details.country, &details.tax_id],
        )
        .await?;
        audit::record(
            &mut *tx,
            vendor_id,
            actor,
            "affiliate.tax_details_changed",
            ("affiliate", Some(affiliate_id)),
            json!({"first_time": before.is_none(), "country": details.country}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(details)
}

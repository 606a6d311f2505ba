//! Referral codes of enrollments: validating a requested code, generating a free one.

use crate::db;
use crate::domain::values::slug;
use crate::error::{AppError, AppResult};

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

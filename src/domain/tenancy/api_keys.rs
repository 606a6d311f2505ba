//! Vendor API keys: generation, hashed storage and authentication.
//!
//! A key looks like `afk_` + 48 hex characters. Only its SHA-256 is stored, so a leaked
//! database does not leak usable keys; the key is shown once at creation. The developer
//! platform adds key management pages and rate limits on top of this.

use subtle::ConstantTimeEq;

use crate::db::{self, Db};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::{values::text, values::tokens};
use crate::error::{AppError, AppResult};

const KEY_PREFIX: &str = "afk_";
const KEY_RANDOM_BYTES: usize = 24;
/// Characters of the key shown in lists (`afk_1a2b3c4d`).
const SHOWN_PREFIX_LEN: usize = 12;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything, including vendor settings and key management.
    Full,
    /// Read and write business objects.
    Write,
    /// Read only.
    Read,
}

impl Scope {
    /// Parses `full`, `write` or `read`.
    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw {
            "full" => Ok(Self::Full),
            "write" => Ok(Self::Write),
            "read" => Ok(Self::Read),
            _ => Err(AppError::invalid(
                "scope",
                "scope must be full, write or read",
            )),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Write => "write",
            Self::Read => "read",
        }
    }

    /// Whether this scope includes `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        matches!(
            (self, needed),
            (Self::Full, _) | (Self::Write, Self::Write | Self::Read) | (Self::Read, Self::Read)
        )
    }
}

/// A created key: the plaintext exists only in this value.
#[derive(Debug)]
pub struct CreatedKey {
    /// `key_...`
    pub id: String,
    /// The key itself, to show once.
    pub key: String,
}

/// The vendor behind an authenticated API request.
#[derive(Debug, Clone)]
pub struct ApiPrincipal {
    /// Tenant every query of the request is scoped to.
    pub vendor_id: String,
    /// The key used.
    pub key_id: String,
    /// What it may do.
    pub scope: Scope,
}

/// Creates a key for a vendor.
pub async fn create(
    db: &Db,
    vendor_id: &str,
    name: &str,
    scope: Scope,
    actor: &Actor,
) -> AppResult<CreatedKey> {
    let name = text::required("name", name, text::NAME_MAX)?;
    let key = format!("{KEY_PREFIX}{}", tokens::random_hex(KEY_RANDOM_BYTES));
    let mut tx = db.begin().await?;
    let id = db::api_keys::insert(
        &mut *tx,
        vendor_id,
        &name,
        &key[..SHOWN_PREFIX_LEN],
        &tokens::sha256_hex(&key),
        scope.as_str(),
    )
    .await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "api_key.created",
        ("api_key", Some(&id)),
        serde_json::json!({"name": name, "scope": scope.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedKey { id, key })
}

/// Resolves a presented key to its vendor; anything unknown, revoked or malformed is 401.
pub async fn authenticate(db: &Db, presented: &str) -> AppResult<ApiPrincipal> {
    let unauthorized = || AppError::Unauthorized("invalid API key".into());
    if !presented.starts_with(KEY_PREFIX)
        || presented.len() != KEY_PREFIX.len() + 2 * KEY_RANDOM_BYTES
    {
        return Err(unauthorized());
    }
    let digest = tokens::sha256_hex(presented);
    let row = db::api_keys::live_by_hash(db.pool(), &digest)
        .await?
        .ok_or_else(unauthorized)?;
    // The index lookup already matched; the constant-time comparison guards against any
    // future lookup that matches on less than the full hash.
    if !bool::from(row.key_hash.as_bytes().ct_eq(digest.as_bytes())) {
        return Err(unauthorized());
    }
    // Any UPDATE takes SQLite's write lock, even when it matches nothing; skipping the
    // statement while the stored time is fresh keeps reads from queueing behind writers.
    if db::api_keys::touch_due(row.last_used_at, db::now_ms()) {
        db::api_keys::touch(db.pool(), &row.id).await?;
    }
    let scope = Scope::parse(&row.scope).map_err(|_| unauthorized())?;
    Ok(ApiPrincipal {
        vendor_id: row.vendor_id,
        key_id: row.id,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest() {
        assert!(Scope::Full.allows(Scope::Write));
        assert!(Scope::Write.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Write));
        assert!(!Scope::Write.allows(Scope::Full));
        assert!(Scope::parse("admin").is_err());
    }
}

//! Vendor API keys: generation, hashed storage and authentication.
//!
//! A secret key looks like `afk_` + 48 hex characters. Only its SHA-256 is stored, so a
//! leaked database does not leak usable keys; the key is shown once at creation. A
//! publishable key (`afp_` + 48 hex, scope `publishable`) is meant to sit in a web page:
//! it may only report clicks and submit applications, from the vendor's site origins, and
//! being public anyway it is kept in clear so it can be shown again. Keys are listed and
//! revoked from the Developers page, the API and the CLI; revocation takes effect on the
//! next request on every instance because every request reads the key from the database.

use subtle::ConstantTimeEq;

use crate::db::{self, Db};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::{values::text, values::tokens};
use crate::error::{AppError, AppResult};

const KEY_PREFIX: &str = "afk_";
/// Prefix of publishable keys.
pub const PUBLISHABLE_PREFIX: &str = "afp_";
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
    /// Browser key: only `POST /api/v1/track` and `POST /api/v1/applications`, from the
    /// vendor's site origins. Includes no other scope.
    Publishable,
}

impl Scope {
    /// Parses `full`, `write` or `read`.
    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw {
            "full" => Ok(Self::Full),
            "write" => Ok(Self::Write),
            "read" => Ok(Self::Read),
            "publishable" => Ok(Self::Publishable),
            _ => Err(AppError::invalid(
                "scope",
                "scope must be full, write, read or publishable",
            )),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Write => "write",
            Self::Read => "read",
            Self::Publishable => "publishable",
        }
    }

    /// Whether this scope includes `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        matches!(
            (self, needed),
            (Self::Full, Self::Full | Self::Write | Self::Read)
                | (Self::Write, Self::Write | Self::Read)
                | (Self::Read, Self::Read)
                | (Self::Publishable, Self::Publishable)
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
    /// The vendor's own read budget per minute (`None`: installation default).
    pub rate_limit_read: Option<i64>,
    /// The vendor's own write budget per minute (`None`: installation default).
    pub rate_limit_write: Option<i64>,
}

/// A key as listed (never its hash; the key itself only for publishable keys).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyView {
    /// `key_...`
    pub id: String,
    /// Label given at creation.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// `full`, `write`, `read` or `publishable`.
    pub scope: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last use (RFC 3339), `null` before the first (recorded at most once a minute).
    pub last_used_at: Option<String>,
    /// Revocation time (RFC 3339), `null` while live.
    pub revoked_at: Option<String>,
    /// The whole key, for publishable keys only (they are public by nature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Times in unix ms, for pages.
    #[serde(skip)]
    pub created_ms: i64,
    /// Last use in unix ms, for pages.
    #[serde(skip)]
    pub last_used_ms: Option<i64>,
    /// Revocation in unix ms, for pages.
    #[serde(skip)]
    pub revoked_ms: Option<i64>,
}

impl From<db::api_keys::ApiKeyListRow> for KeyView {
    fn from(r: db::api_keys::ApiKeyListRow) -> Self {
        Self {
            created_at: db::rfc3339(r.created_at),
            last_used_at: r.last_used_at.map(db::rfc3339),
            revoked_at: r.revoked_at.map(db::rfc3339),
            created_ms: r.created_at,
            last_used_ms: r.last_used_at,
            revoked_ms: r.revoked_at,
            key: r.publishable_key,
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            scope: r.scope,
        }
    }
}

/// A vendor's keys, newest first (revoked ones included), and how many there are.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<KeyView>, i64)> {
    let total = db::api_keys::count(db.pool(), vendor_id).await?;
    let rows = db::api_keys::page(db.pool(), vendor_id, limit, offset).await?;
    Ok((rows.into_iter().map(KeyView::from).collect(), total))
}

/// One key of a vendor; another vendor's key is 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<KeyView> {
    db::api_keys::by_id(db.pool(), vendor_id, id)
        .await?
        .map(KeyView::from)
        .ok_or(AppError::NotFound)
}

/// Revokes a key: from the next request on, on every instance, it is refused with 401.
/// Revoking an already revoked key changes nothing and succeeds; another vendor's key is
/// 404.
pub async fn revoke(db: &Db, vendor_id: &str, id: &str, actor: &Actor) -> AppResult<KeyView> {
    let mut tx = db.begin().await?;
    let key = db::api_keys::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if db::api_keys::revoke(&mut *tx, vendor_id, id).await? {
        audit::record(
            &mut *tx,
            vendor_id,
            actor,
            "api_key.revoked",
            ("api_key", Some(id)),
            serde_json::json!({"name": key.name, "prefix": key.prefix, "scope": key.scope}),
        )
        .await?;
    }
    tx.commit().await?;
    get(db, vendor_id, id).await
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
    let publishable = scope == Scope::Publishable;
    let prefix = if publishable {
        PUBLISHABLE_PREFIX
    } else {
        KEY_PREFIX
    };
    let key = format!("{prefix}{}", tokens::random_hex(KEY_RANDOM_BYTES));
    let mut tx = db.begin().await?;
    let id = db::api_keys::insert(
        &mut *tx,
        vendor_id,
        &name,
        &key[..SHOWN_PREFIX_LEN],
        &tokens::sha256_hex(&key),
        scope.as_str(),
        publishable.then_some(key.as_str()),
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
    if !looks_like_key(presented) {
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
        rate_limit_read: row.rate_limit_read_per_minute,
        rate_limit_write: row.rate_limit_write_per_minute,
    })
}

/// Whether a presented credential has the shape of an API key (secret or publishable), so
/// other bearer tokens are not looked up as keys.
pub fn looks_like_key(presented: &str) -> bool {
    (presented.starts_with(KEY_PREFIX) || presented.starts_with(PUBLISHABLE_PREFIX))
        && presented.len() == KEY_PREFIX.len() + 2 * KEY_RANDOM_BYTES
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
        assert!(!Scope::Full.allows(Scope::Publishable));
        assert!(!Scope::Publishable.allows(Scope::Read));
        assert!(looks_like_key(&format!("afp_{}", "a".repeat(48))));
        assert!(!looks_like_key(&format!("afpt_{}", "a".repeat(47))));
    }
}

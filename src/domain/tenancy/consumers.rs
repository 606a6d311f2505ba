//! Kernel consumers (seed 000): a vendor's embedded integrations (e.g. `newgensales`) whose
//! backends sign HS256 JWTs to provision affiliates and push billing events.
//!
//! **Names.** The consumer's name is the JWT `iss` and the token names no vendor, so a name
//! identifies one consumer across the whole installation: names are unique installation-wide
//! (lower case; a taken name is a 409 on `name`).
//!
//! **Secrets.** The HMAC key must stay retrievable to verify signatures, but it is not stored:
//! it is derived as `afcs_` + hex(HMAC-SHA256(K, consumer id ‖ seed)), where K derives from
//! the installation secret key (`AFFILIA_SECRET_KEY`) and `seed` is a random value stored on
//! the consumer. A copy of the database alone therefore cannot forge tokens; rotating the
//! secret stores a new seed (the old secret stops working at once); changing the
//! installation secret key changes every consumer's secret (rotate them all then).
//!
//! **Tokens.** `alg` HS256, `iss` = the name, `aud` = `affilia`, `exp` at most an hour ahead,
//! `iat`. [`authenticate`] maps each failure to a 401 with its own envelope code.

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::{self, Db, consumers::ConsumerRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::values::{text, tokens};
use crate::error::{AppError, AppResult};

/// Prefix of consumer secrets, so a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "afcs_";
/// The audience every kernel token must name.
pub const AUDIENCE: &str = "affilia";
/// Furthest ahead a token's `exp` may be, seconds.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;
/// Clock skew tolerated on `exp` and `iat`, seconds.
pub const LEEWAY_SECS: i64 = 30;
/// Characters of the secret shown in lists (`afcs_1a2b3c`).
const SHOWN_PREFIX_LEN: usize = 11;
/// Shortest and longest name.
const NAME_LEN: std::ops::RangeInclusive<usize> = 2..=64;
/// Longest external source label.
const SOURCE_MAX: usize = 100;
/// Largest per-minute limit a vendor may set.
pub const LIMIT_MAX: i64 = 100_000;

type HmacSha256 = Hmac<Sha256>;

/// Derives consumer secrets from the installation secret key.
#[derive(Clone)]
pub struct ConsumerSecrets {
    key: [u8; 32],
}

impl std::fmt::Debug for ConsumerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsumerSecrets(..)")
    }
}

impl ConsumerSecrets {
    /// Secrets for an installation whose secret key is `installation_secret`.
    pub fn new(installation_secret: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"affilia consumer secret v1\0")
            .chain_update(installation_secret)
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Self { key }
    }

    /// The secret of consumer `id` with seed `seed`: the HS256 key its backend signs with
    /// (the UTF-8 bytes of this string).
    pub fn secret(&self, id: &str, seed: &str) -> String {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b"\0");
        mac.update(seed.as_bytes());
        format!(
            "{SECRET_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        )
    }
}

/// A consumer as clients see it (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Consumer {
    /// `csm_...`
    pub id: String,
    /// The JWT `iss`.
    pub name: String,
    /// Stamped on provisioned affiliates.
    pub external_source: String,
    /// The first characters of the current secret.
    pub secret_prefix: String,
    /// Whether tokens are accepted.
    pub enabled: bool,
    /// Read requests per minute; `null` = the default.
    pub read_limit_per_minute: Option<i64>,
    /// Write requests per minute; `null` = the default.
    pub write_limit_per_minute: Option<i64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// When the current secret was issued, RFC 3339.
    pub secret_rotated_at: String,
    /// Last accepted token (to the minute), RFC 3339.
    pub last_used_at: Option<String>,
}

impl From<ConsumerRow> for Consumer {
    fn from(r: ConsumerRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            external_source: r.external_source,
            secret_prefix: r.secret_prefix,
            enabled: r.enabled != 0,
            read_limit_per_minute: r.read_limit_per_minute,
            write_limit_per_minute: r.write_limit_per_minute,
            created_at: db::rfc3339(r.created_at),
            updated_at: db::rfc3339(r.updated_at),
            secret_rotated_at: db::rfc3339(r.secret_rotated_at),
            last_used_at: r.last_used_at.map(db::rfc3339),
        }
    }
}

/// A consumer with its secret, right after creation or rotation: the only time it is shown.
#[derive(Debug, Clone, Serialize)]
pub struct WithSecret {
    /// The consumer.
    #[serde(flatten)]
    pub consumer: Consumer,
    /// The HS256 signing secret.
    pub secret: String,
}

/// Body of `POST /api/v1/consumers` (and the dashboard form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsumerInput {
    /// The JWT `iss`, e.g. `newgensales`: 2-64 of `a-z 0-9 - _ .` starting with a letter or
    /// digit, unique across the installation (upper case is lowered, surrounding space
    /// trimmed).
    // The pattern's spaces are exactly what `str::trim` removes, so the schema accepts
    // what the server accepts and nothing else.
    #[schema(
        pattern = "^[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[A-Za-z0-9][A-Za-z0-9._-]{1,63}[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
    )]
    pub name: String,
    /// Label stamped on provisioned affiliates (at most 100 characters); absent, `null` or
    /// empty: the name.
    #[schema(max_length = 100)]
    pub external_source: Option<String>,
    /// Read requests per minute; absent or `null` = the default.
    #[schema(minimum = 1, maximum = 100_000)]
    pub read_limit_per_minute: Option<i64>,
    /// Write requests per minute; absent or `null` = the default.
    #[schema(minimum = 1, maximum = 100_000)]
    pub write_limit_per_minute: Option<i64>,
}

/// Body of `PATCH /api/v1/consumers/{id}`: absent fields keep their value, `null` limits
/// go back to the default.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerPatch {
    /// Refused: the name is the JWT `iss` (create another consumer instead). Left out of
    /// the OpenAPI schema, which lists only what may be sent.
    #[schema(ignore)]
    pub name: Option<String>,
    /// Enable or disable (`null` leaves it as it is).
    pub enabled: Option<bool>,
    /// New label (at most 100 characters, not blank; `null` keeps it).
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub external_source: Option<String>,
    /// Read requests per minute; `null` = the default.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100_000)]
    pub read_limit_per_minute: Option<Option<i64>>,
    /// Write requests per minute; `null` = the default.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100_000)]
    pub write_limit_per_minute: Option<Option<i64>>,
}

/// Validates a consumer name: lower-cased, 2–64 of `a-z 0-9 - _ .`, starting with a letter
/// or digit.
pub fn parse_name(raw: &str) -> AppResult<String> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = NAME_LEN.contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(name)
    } else {
        Err(AppError::invalid(
            "name",
            "name is 2-64 characters of a-z, 0-9, -, _ and ., starting with a letter or digit",
        ))
    }
}

fn parse_limit(field: &str, v: Option<i64>) -> AppResult<Option<i64>> {
    match v {
        Some(n) if !(1..=LIMIT_MAX).contains(&n) => Err(AppError::invalid(
            field,
            format!("{field} must be between 1 and {LIMIT_MAX}, or null for the default"),
        )),
        other => Ok(other),
    }
}

fn parse_source(raw: &str) -> AppResult<String> {
    text::required("external_source", raw, SOURCE_MAX)
}

fn map_unique(e: sqlx::Error) -> AppError {
    match db::unique_violation_field(&e).as_deref() {
        Some("name") => AppError::duplicate(
            "name",
            "a consumer with this name already exists on this installation (names are the \
             JWT iss, unique across vendors); choose another name",
        ),
        _ => e.into(),
    }
}

/// A fresh random seed: a new seed is a new secret.
fn new_seed() -> String {
    tokens::random_hex(32)
}

/// Registers a consumer for a vendor; returns it with its secret (shown once).
pub async fn create(
    db: &Db,
    secrets: &ConsumerSecrets,
    vendor_id: &str,
    input: &NewConsumerInput,
    actor: &Actor,
) -> AppResult<WithSecret> {
    let name = parse_name(&input.name)?;
    let external_source = match input.external_source.as_deref().map(str::trim) {
        None | Some("") => name.clone(),
        Some(s) => parse_source(s)?,
    };
    let read = parse_limit("read_limit_per_minute", input.read_limit_per_minute)?;
    let write = parse_limit("write_limit_per_minute", input.write_limit_per_minute)?;
    let id = db::consumers::new_consumer_id();
    let seed = new_seed();
    let secret = secrets.secret(&id, &seed);
    let mut tx = db.begin().await?;
    db::consumers::insert(
        &mut *tx,
        &db::consumers::NewConsumer {
            id: &id,
            vendor_id,
            name: &name,
            external_source: &external_source,
            secret_seed: &seed,
            secret_prefix: &secret[..SHOWN_PREFIX_LEN],
            read_limit_per_minute: read,
            write_limit_per_minute: write,
        },
    )
    .await
    .map_err(map_unique)?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "consumer.created",
        ("consumer", Some(&id)),
        json!({"name": name, "external_source": external_source,
               "read_limit_per_minute": read, "write_limit_per_minute": write}),
    )
    .await?;
    let row = db::consumers::by_id(&mut *tx, vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(WithSecret {
        consumer: row.into(),
        secret,
    })
}

/// One page of the vendor's consumers, newest first, and the total.
pub async fn list(
    db: &Db,
    vendor_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Consumer>, i64)> {
    let rows = db::consumers::page(db.pool(), vendor_id, limit, offset).await?;
    let total = db::consumers::count(db.pool(), vendor_id).await?;
    Ok((rows.into_iter().map(Consumer::from).collect(), total))
}

/// One consumer of the vendor; others are 404.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Consumer> {
    db::consumers::by_id(db.pool(), vendor_id, id)
        .await?
        .map(Consumer::from)
        .ok_or(AppError::NotFound)
}

/// Changes a consumer's label, limits or enabled flag. Disabling takes effect on the next
/// request (every token is checked against the stored row).
pub async fn update(
    db: &Db,
    vendor_id: &str,
    id: &str,
    patch: &ConsumerPatch,
    actor: &Actor,
) -> AppResult<Consumer> {
    if patch.name.is_some() {
        return Err(AppError::invalid(
            "name",
            "the name is the JWT iss and cannot be changed; create a new consumer instead",
        ));
    }
    let mut tx = db.begin().await?;
    let current = db::consumers::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let external_source = match &patch.external_source {
        Some(s) => parse_source(s)?,
        None => current.external_source.clone(),
    };
    let read = match patch.read_limit_per_minute {
        Some(v) => parse_limit("read_limit_per_minute", v)?,
        None => current.read_limit_per_minute,
    };
    let write = match patch.write_limit_per_minute {
        Some(v) => parse_limit("write_limit_per_minute", v)?,
        None => current.write_limit_per_minute,
    };
    let enabled = patch.enabled.unwrap_or(current.enabled != 0);
    db::consumers::update(
        &mut *tx,
        vendor_id,
        id,
        &db::consumers::ConsumerSettings {
            external_source: &external_source,
            enabled,
            read_limit_per_minute: read,
            write_limit_per_minute: write,
        },
    )
    .await?;
    let action = match (current.enabled != 0, enabled) {
        (true, false) => "consumer.disabled",
        (false, true) => "consumer.enabled",
        _ => "consumer.updated",
    };
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        action,
        ("consumer", Some(id)),
        json!({
            "from": {"external_source": current.external_source, "enabled": current.enabled != 0,
                     "read_limit_per_minute": current.read_limit_per_minute,
                     "write_limit_per_minute": current.write_limit_per_minute},
            "to": {"external_source": external_source, "enabled": enabled,
                   "read_limit_per_minute": read, "write_limit_per_minute": write},
        }),
    )
    .await?;
    let row = db::consumers::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Issues a new secret; the old one stops working at once. Returns the new one (shown once).
pub async fn rotate_secret(
    db: &Db,
    secrets: &ConsumerSecrets,
    vendor_id: &str,
    id: &str,
    actor: &Actor,
) -> AppResult<WithSecret> {
    let seed = new_seed();
    let secret = secrets.secret(id, &seed);
    let mut tx = db.begin().await?;
    if !db::consumers::set_secret(&mut *tx, vendor_id, id, &seed, &secret[..SHOWN_PREFIX_LEN])
        .await?
    {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "consumer.secret_rotated",
        ("consumer", Some(id)),
        json!({}),
    )
    .await?;
    let row = db::consumers::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(WithSecret {
        consumer: row.into(),
        secret,
    })
}

/// The consumer behind an authenticated kernel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerPrincipal {
    /// Tenant every query of the request is scoped to.
    pub vendor_id: String,
    /// `csm_...`
    pub consumer_id: String,
    /// The consumer's name (the token's `iss`).
    pub name: String,
    /// Stamped on the affiliates it provisions.
    pub external_source: String,
    /// Read requests per minute; `None` = the vendor's / installation's default.
    pub read_limit_per_minute: Option<i64>,
    /// Write requests per minute; `None` = the default.
    pub write_limit_per_minute: Option<i64>,
}

/// The claims read before the signature is checked: only to find the consumer's key.
#[derive(Debug, Deserialize)]
struct Unverified {
    iss: Option<serde_json::Value>,
}

/// The claims of a verified token.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    iat: Option<serde_json::Value>,
}

fn invalid_token(message: impl Into<String>) -> AppError {
    AppError::unauthorized_code("invalid_token", message)
}

/// Verifies a kernel JWT and resolves its consumer. Every failure is a 401 whose envelope
/// code says why: `invalid_token` (malformed, not HS256, a claim missing or wrong, `exp`
/// more than an hour ahead), `unknown_consumer`, `invalid_signature`, `token_expired`,
/// `invalid_audience`, `consumer_disabled`.
pub async fn authenticate(
    db: &Db,
    secrets: &ConsumerSecrets,
    bearer: &str,
) -> AppResult<ConsumerPrincipal> {
    let header = jsonwebtoken::decode_header(bearer)
        .map_err(|_| invalid_token("the bearer token is not a JWT (header.payload.signature)"))?;
    if header.alg != Algorithm::HS256 {
        return Err(invalid_token("kernel tokens are signed with HS256"));
    }
    let unverified: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(bearer)
        .map_err(|_| invalid_token("the token's payload is not a JSON object"))?;
    let Some(serde_json::Value::String(iss)) = unverified.iss else {
        return Err(invalid_token(
            "the token needs an iss claim: the consumer's name",
        ));
    };
    // PostgreSQL text cannot hold U+0000 (the lookup would fail with a 500, found by the
    // kernel JWT fuzz target); no consumer name has one, nor is longer than a name can be.
    if iss.contains('\0') || iss.len() > 200 {
        return Err(AppError::unauthorized_code(
            "unknown_consumer",
            "no consumer has this iss",
        ));
    }
    let row = db::consumers::by_name(db.pool(), &iss.to_ascii_lowercase())
        .await?
        .ok_or_else(|| {
            AppError::unauthorized_code("unknown_consumer", "no consumer has this iss")
        })?;
    let secret = secrets.secret(&row.id, &row.secret_seed);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = LEEWAY_SECS.unsigned_abs();
    let claims = jsonwebtoken::decode::<Claims>(
        bearer,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => AppError::unauthorized_code(
            "invalid_signature",
            "the token's signature does not match the consumer's secret",
        ),
        ErrorKind::ExpiredSignature => {
            AppError::unauthorized_code("token_expired", "the token has expired")
        }
        ErrorKind::InvalidAudience => AppError::unauthorized_code(
            "invalid_audience",
            format!("the token's aud must be \"{AUDIENCE}\""),
        ),
        ErrorKind::MissingRequiredClaim(c) => {
            invalid_token(format!("the token needs an {c} claim"))
        }
        ErrorKind::InvalidClaimFormat(c) => invalid_token(format!("the {c} claim is malformed")),
        _ => invalid_token("the token is malformed"),
    })?
    .claims;
    let now = db::now_ms() / 1000;
    if claims.exp > now + MAX_TOKEN_LIFETIME_SECS + LEEWAY_SECS {
        return Err(invalid_token(
            "exp is more than 1 hour ahead: kernel tokens live at most an hour",
        ));
    }
    match claims.iat {
        Some(serde_json::Value::Number(n)) => {
            let iat = n.as_f64().unwrap_or(f64::MAX);
            if iat > (now + LEEWAY_SECS) as f64 {
                return Err(invalid_token("iat is in the future"));
            }
        }
        Some(_) => return Err(invalid_token("the iat claim is malformed")),
        None => return Err(invalid_token("the token needs an iat claim")),
    }
    if row.enabled == 0 {
        return Err(AppError::unauthorized_code(
            "consumer_disabled",
            "this consumer is disabled",
        ));
    }
    if db::api_keys::touch_due(row.last_used_at, db::now_ms()) {
        db::consumers::touch(db.pool(), &row.id).await?;
    }
    Ok(ConsumerPrincipal {
        vendor_id: row.vendor_id,
        consumer_id: row.id,
        name: row.name,
        external_source: row.external_source,
        read_limit_per_minute: row.read_limit_per_minute,
        write_limit_per_minute: row.write_limit_per_minute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_slugs() {
        assert_eq!(parse_name(" NewGenSales ").unwrap(), "newgensales");
        assert_eq!(parse_name("app.v2_x-1").unwrap(), "app.v2_x-1");
        assert!(parse_name("a").is_err());
        assert!(parse_name("-lead").is_err());
        assert!(parse_name("has space").is_err());
    }

    #[test]
    fn secrets_depend_on_installation_consumer_and_seed() {
        let a = ConsumerSecrets::new(b"installation one");
        let b = ConsumerSecrets::new(b"installation two");
        let s = a.secret("csm_1", "seed");
        assert!(s.starts_with(SECRET_PREFIX));
        assert_eq!(s.len(), SECRET_PREFIX.len() + 64);
        assert_eq!(s, a.secret("csm_1", "seed"));
        assert_ne!(s, a.secret("csm_1", "other"));
        assert_ne!(s, a.secret("csm_2", "seed"));
        assert_ne!(s, b.secret("csm_1", "seed"));
    }
}

//! MCP session ids (`Mcp-Session-Id`): signed and stateless, so any instance behind a
//! load balancer accepts a session another instance opened, with nothing to share but
//! the installation secret and the database.
//!
//! An id is `mcps_` + base64url(`mcp-session-v1|credential fingerprint|protocol
//! version|issued at ms|nonce`) + `.` + base64url(HMAC-SHA256). The fingerprint binds the
//! session to the bearer credential that opened it (a session id presented with another
//! credential names no session); the credential itself is still checked on every request.
//! Sessions last [`MAX_AGE_MS`]; one ended by its client (`DELETE /mcp`) is recorded in
//! the database until it would have expired anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::error::AppResult;

/// Session-id prefix.
pub const PREFIX: &str = "mcps_";
/// How long a session id is accepted after `initialize`, ms (then the client starts anew).
pub const MAX_AGE_MS: i64 = 24 * 3600 * 1000;
const TAG: &str = "mcp-session-v1";

type HmacSha256 = Hmac<Sha256>;

/// An open session, as read back from its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The id itself (what the client sends back).
    pub id: String,
    /// The protocol version negotiated at `initialize`.
    pub protocol_version: String,
    /// When it was opened, unix ms.
    pub issued_at: i64,
}

/// Signs and checks session ids with a key derived from the installation secret.
#[derive(Clone)]
pub struct SessionSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSigner(..)")
    }
}

/// A short, one-way fingerprint of a bearer credential (never the credential itself).
fn fingerprint(credential: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"affilia mcp credential\0")
        .chain_update(credential.as_bytes())
        .finalize();
    hex::encode(&digest[..16])
}

impl SessionSigner {
    /// A signer for `secret` (the installation's secret key); its own derived key, so a
    /// session id never verifies as any other signed token.
    pub fn new(secret: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"affilia mcp session v1\0")
            .chain_update(secret)
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Self { key }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload);
        mac
    }

    /// A new session id for `credential`, at `protocol_version`.
    pub fn open(&self, credential: &str, protocol_version: &str, now_ms: i64) -> String {
        let payload = format!(
            "{TAG}|{}|{protocol_version}|{now_ms}|{}",
            fingerprint(credential),
            ulid::Ulid::generate()
        );
        let sig = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// The session of a genuine, unexpired id opened with `credential` (not checking
    /// whether it was ended: see [`check`]).
    pub fn verify(&self, id: &str, credential: &str, now_ms: i64) -> Option<Session> {
        let (payload_b64, sig_b64) = id.strip_prefix(PREFIX)?.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).ok()?;
        self.mac(&payload).verify_slice(&sig).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.split('|');
        if parts.next()? != TAG || parts.next()? != fingerprint(credential) {
            return None;
        }
        let protocol_version = parts.next()?.to_owned();
        let issued_at: i64 = parts.next()?.parse().ok()?;
        let _nonce = parts.next()?;
        if parts.next().is_some() || now_ms.saturating_sub(issued_at) > MAX_AGE_MS {
            return None;
        }
        Some(Session {
            id: id.to_owned(),
            protocol_version,
            issued_at,
        })
    }
}

/// The live session named by `id` for `credential`: genuine, unexpired, not ended.
pub async fn check(
    db: &Db,
    signer: &SessionSigner,
    id: &str,
    credential: &str,
) -> AppResult<Option<Session>> {
    let Some(session) = signer.verify(id, credential, db::now_ms()) else {
        return Ok(None);
    };
    if db::mcp_sessions::is_ended(db.pool(), &session_key(&session.id)).await? {
        return Ok(None);
    }
    Ok(Some(session))
}

/// Ends a session (idempotent), and forgets ended sessions whose ids have expired.
pub async fn end(db: &Db, session: &Session) -> AppResult<()> {
    let now = db::now_ms();
    db::mcp_sessions::end(db.pool(), &session_key(&session.id), now).await?;
    db::mcp_sessions::purge(db.pool(), now - MAX_AGE_MS).await?;
    Ok(())
}

/// What is stored for an ended session: a hash, so the table holds no usable ids.
fn session_key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_the_credential_and_expire() {
        let s = SessionSigner::new(b"secret");
        let id = s.open("afk_one", "2025-06-18", 1_000);
        let got = s.verify(&id, "afk_one", 2_000);
        assert_eq!(got.map(|x| x.protocol_version), Some("2025-06-18".into()));
        assert!(s.verify(&id, "afk_two", 2_000).is_none());
        assert!(s.verify(&id, "afk_one", 1_000 + MAX_AGE_MS + 1).is_none());
        assert!(
            SessionSigner::new(b"other")
                .verify(&id, "afk_one", 2_000)
                .is_none()
        );
        assert!(s.verify(&format!("{id}x"), "afk_one", 2_000).is_none());
    }
}

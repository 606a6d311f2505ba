//! `ApiJson<T>`: the request body extractor of the API.
//!
//! Unlike actix's `Json`, a body with a wrong type or an unknown field is reported as 400
//! naming the field path (`commission.bps`), so clients see exactly what to fix.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::http::extract::{field_error, nul_error};

/// Largest body accepted.
const LIMIT: usize = 1024 * 1024;

/// Deepest nesting of objects and arrays accepted: far more than any body of the API
/// needs (metadata included), far less than serde_json's own recursion limit of 128.
pub const MAX_DEPTH: usize = 32;

/// The deepest nesting of `[`/`{` in a JSON text, brackets inside strings not counted.
/// Read before parsing, so a deeply nested body costs one pass over its bytes.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSON request body, parsed into `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            if !is_json {
                return Err(AppError::BadRequest(
                    "expected Content-Type: application/json".into(),
                ));
            }
            let body = crate::http::body::read_limited(&req, payload, LIMIT).await?;
            parse(&body).map(ApiJson)
        })
    }
}

/// Parses a JSON body: syntax errors and type errors are 400, the latter naming the field
/// in words ([`crate::http::extract::field_error`]). Every body of the API is an object;
/// serde would also read a struct from an array (`[null, null]`), which is refused here.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if body.trim_ascii_start().first() == Some(&b'[') {
        return Err(AppError::BadRequest("the request must be an object".into()));
    }
    if nesting_depth(body) > MAX_DEPTH {
        return Err(AppError::BadRequest(format!(
            "the request body is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut tree: serde_json::Value = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    whole_numbers_as_integers(&mut tree);
    let value = serde_path_to_error::deserialize(tree)
        .map_err(|e| field_error(&e.path().to_string(), &e.inner().to_string()))?;
    if has_nul_escape(body) {
        return Err(nul_error(&nul_path(body).unwrap_or_default()));
    }
    Ok(value)
}

/// JSON does not tell `3600` from `3600.0`, and JSON Schema calls both integers: a whole
/// number written with a fraction or exponent is read as the integer it is (up to 2^53,
/// where every such float is exact). Larger ones stay floats for the fields' own checks.
fn whole_numbers_as_integers(v: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && !n.is_i64()
                && !n.is_u64()
                && f.fract() == 0.0
                && f.abs() <= EXACT
            {
                // Exact: |f| <= 2^53 and whole.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *n = serde_json::Number::from(i);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Whether a JSON text holds the escape `\u0000` (inside a string, where escapes live; a
/// raw NUL byte is not valid JSON at all). PostgreSQL text cannot store U+0000.
fn has_nul_escape(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            if body.get(i + 1) == Some(&b'u') && body.get(i + 2..i + 6) == Some(b"0000".as_slice())
            {
                return true;
            }
            // Skip the escaped character (`\\` included) so it cannot start an escape.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The path (`a.b[0]`) of the first string or key holding U+0000, if any.
fn nul_path(body: &[u8]) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        let at = |p: String| {
            if path.is_empty() {
                p
            } else {
                format!("{path}.{p}")
            }
        };
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                if k.contains('\0') {
                    Some(at(k.replace('\0', "")))
                } else {
                    walk(x, &at(k.clone()))
                }
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    walk(&value, "")
}

/// A body that is not JSON at all.
fn malformed(e: &serde_json::Error) -> AppError {
    if e.is_eof() {
        AppError::BadRequest("the request body is empty or not complete JSON".into())
    } else {
        AppError::BadRequest(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    }
}

/// An optional JSON body: empty (or whitespace) or JSON `null` is `T::default()`, anything
/// else must parse. `null` is what generic clients (and the OpenAPI document's optional
/// body) send for "no options".
pub fn parse_optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        Ok(T::default())
    } else {
        parse(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": []}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a": "[[[{{{\"[["}"#), 1);
        assert_eq!(nesting_depth(b"1"), 0);
        let nested = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        assert!(parse::<serde_json::Value>(nested(31).as_bytes()).is_ok());
        assert!(parse::<serde_json::Value>(nested(32).as_bytes()).is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        tags: Option<Vec<String>>,
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let e = parse::<Body>(br#"{"name": "a\u0000b"}"#).unwrap_err();
        assert_eq!(e.field(), Some("name"));
        assert_eq!(e.public_message(), "name must not contain NUL characters");
        let e = parse::<Body>(br#"{"tags": ["x", "\u0000"]}"#).unwrap_err();
        assert_eq!(e.field(), Some("tags[1]"));
        // An escaped backslash followed by "u0000" is plain text.
        assert!(parse::<Body>(br#"{"name": "C:\\u0000"}"#).is_ok());
    }

    #[test]
    fn messages_are_for_people() {
        let e = parse::<Body>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(
            (e.field(), e.public_message().as_str()),
            (Some("name"), "name must be text")
        );
        let e = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(
            e.public_message(),
            "the request body is empty or not complete JSON"
        );
        assert!(parse::<Body>(b"{} trailing").is_err());
    }
}

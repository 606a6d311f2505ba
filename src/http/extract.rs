//! Query-string and form extractors of every surface, and the one translation of serde's
//! parse errors into messages a person understands.
//!
//! actix's own `Query` and `Form` report serde_urlencoded's text ("invalid digit found in
//! string") without saying which parameter was wrong. These extractors parse through
//! `serde_path_to_error`, so the error names the field, and [`field_error`] words it for
//! people ("page must be a whole number"). The JSON body extractor of the API
//! ([`crate::http::api::json`]) uses the same wording. On `/api` the error is the JSON
//! envelope (400, with `field`); on HTML surfaces it is an error page or an HTMX toast.

use std::future::{Future, Ready, ready};
use std::ops::{Deref, DerefMut};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::http::request_error;

/// Largest form body accepted (the CSRF check reads at most this much too).
pub const FORM_LIMIT: usize = 256 * 1024;

/// The query string, parsed into `T`; a bad value is a 400 naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

/// A `application/x-www-form-urlencoded` body, parsed into `T`; a bad value is a 400
/// naming the field.
#[derive(Debug)]
pub struct Form<T>(pub T);

macro_rules! wrapper {
    ($name:ident) => {
        impl<T> $name<T> {
            /// The parsed value.
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}
wrapper!(Query);
wrapper!(Form);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            parse_urlencoded(req.query_string().as_bytes())
                .map(Query)
                .map_err(|e| request_error(req, e)),
        )
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            let read = async {
                if !is_form {
                    return Err(AppError::BadRequest(
                        "expected a form (Content-Type: application/x-www-form-urlencoded)".into(),
                    ));
                }
                let mut body = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        AppError::BadRequest("the form could not be read; try again".into())
                    })?;
                    if body.len() + chunk.len() > FORM_LIMIT {
                        return Err(AppError::payload_too_large(
                            "the form is too large (at most 256 KiB)",
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                parse_urlencoded(&body)
            };
            read.await.map(Form).map_err(|e| request_error(&req, e))
        })
    }
}

/// Parses a query string or form body into `T`, naming the field of any error.
pub fn parse_urlencoded<T: DeserializeOwned>(input: &[u8]) -> Result<T, AppError> {
    if let Some(e) = nul_in_urlencoded(input) {
        return Err(e);
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(input));
    serde_path_to_error::deserialize(de)
        .map_err(|e| field_error(&e.path().to_string(), &e.into_inner().to_string()))
}

/// A 400 naming the first parameter of a query string or form whose name or value holds a
/// NUL character: no text column can store one (PostgreSQL refuses it outright).
pub fn nul_in_urlencoded(input: &[u8]) -> Option<AppError> {
    if !input.windows(3).any(|w| w == b"%00") && !input.contains(&0) {
        return None;
    }
    form_urlencoded::parse(input)
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| nul_error(&k.replace('\0', "")))
}

/// A 400 for a NUL character in `field`.
pub fn nul_error(field: &str) -> AppError {
    if field.is_empty() || field == "." {
        return AppError::BadRequest("the request must not contain NUL characters".into());
    }
    AppError::BadRequestField {
        field: field.to_owned(),
        message: format!("{field} must not contain NUL characters"),
    }
}

/// A serde error at `path` (`.` for the top level) as a 400 naming the field, in words.
pub fn field_error(path: &str, raw: &str) -> AppError {
    let raw = strip_position(raw);
    // serde reports missing, unknown and duplicate fields at their parent: name the field.
    for (prefix, wording) in [
        ("missing field `", "is required"),
        ("unknown field `", "is not a known field"),
        ("duplicate field `", "is given more than once"),
    ] {
        if let Some(name) = raw
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
        {
            // For unknown fields the path already ends at the field itself.
            let field = if path == name || path.ends_with(&format!(".{name}")) {
                path.to_owned()
            } else {
                join(path, name)
            };
            return AppError::BadRequestField {
                message: format!("{field} {wording}"),
                field,
            };
        }
    }
    if path.is_empty() || path == "." {
        return AppError::BadRequest(match expected_kind(raw) {
            Some(kind) => format!("the request must be {kind}"),
            None => format!("the request could not be read: {raw}"),
        });
    }
    AppError::BadRequestField {
        message: format!("{path} {}", describe(raw)),
        field: path.to_owned(),
    }
}

/// A serde error of actix's own extractors, which do not say where it happened: named
/// when the message names the field, otherwise worded for people without a name.
pub fn unnamed_error(raw: &str) -> AppError {
    // actix prefixes serde's text with the extractor's name.
    let raw = [
        "Query deserialize error: ",
        "Json deserialize error: ",
        "URL encoded error: ",
        "Parse error: ",
    ]
    .iter()
    .find_map(|p| raw.strip_prefix(p))
    .unwrap_or(raw);
    match field_error(".", raw) {
        named @ AppError::BadRequestField { .. } => named,
        _ => AppError::BadRequest(format!("a parameter {}", describe(strip_position(raw)))),
    }
}

/// `parent.child`, or `child` at the top level.
fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() || parent == "." {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// serde_json appends " at line 1 column 86" to its messages; people need not see it.
pub fn strip_position(raw: &str) -> &str {
    match raw.rfind(" at line ") {
        Some(i) if raw[i..].contains(" column ") => &raw[..i],
        _ => raw,
    }
}

/// What is wrong with a value, as the end of a sentence that starts with its name.
fn describe(raw: &str) -> String {
    if raw.contains("invalid digit") || raw.contains("cannot parse integer from empty string") {
        return "must be a whole number".into();
    }
    if raw.contains("number too large") {
        return "is too large".into();
    }
    if raw.contains("number too small") {
        return "is too small".into();
    }
    if raw.contains("invalid float literal") || raw.contains("cannot parse float") {
        return "must be a number".into();
    }
    if raw.contains("provided string was not `true` or `false`") {
        return "must be true or false".into();
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let options = rest
            .split_once("expected ")
            .map(|(_, e)| e.replace('`', "").replace("one of ", ""));
        return match options {
            Some(o) => format!("must be one of: {o}"),
            None => "is not one of the allowed values".into(),
        };
    }
    if raw.starts_with("invalid type: floating point") && integer_expected(raw) {
        return "must be a whole number within range".into();
    }
    if raw.starts_with("invalid value: integer") && integer_expected(raw) {
        return "is out of range".into();
    }
    if raw.starts_with("invalid type:") || raw.starts_with("invalid value:") {
        return match expected_kind(raw) {
            Some(kind) => format!("must be {kind}"),
            None => "has the wrong type".into(),
        };
    }
    // Our own types' messages (amounts, emails, ...) are written for people already.
    format!("is invalid: {raw}")
}

fn expected(raw: &str) -> Option<&str> {
    raw.rsplit_once("expected ").map(|(_, e)| e.trim())
}

fn integer_expected(raw: &str) -> bool {
    expected(raw).is_some_and(|e| {
        let e = e.trim_start_matches("a ").trim_start_matches("an ");
        (e.starts_with('i') || e.starts_with('u')) && e[1..].chars().all(|c| c.is_ascii_digit())
    })
}

/// The kind of value serde expected, in words ("a whole number", "text", ...).
fn expected_kind(raw: &str) -> Option<&'static str> {
    let e = expected(raw)?;
    if integer_expected(raw) {
        return Some(if e.contains('u') {
            "a whole number, 0 or more"
        } else {
            "a whole number"
        });
    }
    let kind = if e.contains("whole number") {
        // Our own integer readers (amounts of minor units) say so in their expectation.
        "a whole number"
    } else if e.starts_with('f') {
        "a number"
    } else if e.contains("string") || e.contains("char") {
        "text"
    } else if e.contains("bool") {
        "true or false"
    } else if e.contains("sequence") || e.contains("array") || e.starts_with("tuple") {
        "a list"
    } else if e.contains("map") || e.starts_with("struct") || e.contains("object") {
        "an object"
    } else {
        return None;
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        page: Option<i64>,
        count: Option<u32>,
        name: Option<String>,
        on: Option<bool>,
    }

    fn message(e: AppError) -> (Option<String>, String) {
        (e.field().map(str::to_owned), e.public_message())
    }

    #[test]
    fn names_the_field_in_words() {
        let err = |qs: &str| message(parse_urlencoded::<Q>(qs.as_bytes()).unwrap_err());
        assert_eq!(
            err("page=abc"),
            (Some("page".into()), "page must be a whole number".into())
        );
        assert_eq!(
            err("name=x&page=99999999999999999999"),
            (Some("page".into()), "page is too large".into())
        );
        assert_eq!(
            err("count=-1"),
            (Some("count".into()), "count must be a whole number".into())
        );
        assert_eq!(
            err("on=maybe"),
            (Some("on".into()), "on must be true or false".into())
        );
        assert_eq!(
            err("nope=1"),
            (Some("nope".into()), "nope is not a known field".into())
        );
        assert_eq!(
            err("page=1&name=a%00b"),
            (
                Some("name".into()),
                "name must not contain NUL characters".into()
            )
        );
        let q: Q = parse_urlencoded(b"page=2&name=%C3%A9").unwrap();
        assert_eq!((q.page, q.name.as_deref()), (Some(2), Some("é")));
    }

    #[test]
    fn actix_extractor_errors_are_worded_too() {
        let e = unnamed_error("Query deserialize error: invalid digit found in string");
        assert_eq!(e.public_message(), "a parameter must be a whole number");
        let e = unnamed_error("Query deserialize error: unknown field `nope`, expected `page`");
        assert_eq!(
            (e.field(), e.public_message().as_str()),
            (Some("nope"), "nope is not a known field")
        );
    }

    #[test]
    fn json_messages_lose_their_position() {
        assert_eq!(
            strip_position("invalid type: string \"x\", expected i64 at line 1 column 86"),
            "invalid type: string \"x\", expected i64"
        );
        let e = field_error(
            "commission.bps",
            "invalid type: string \"x\", expected i64 at line 1 column 86",
        );
        assert_eq!(e.public_message(), "commission.bps must be a whole number");
        let e = field_error(".", "invalid type: integer `1`, expected struct Body");
        assert_eq!(e.public_message(), "the request must be an object");
        let e = field_error(".", "missing field `email`");
        assert_eq!(e.field(), Some("email"));
    }
}

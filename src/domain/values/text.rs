//! Bounded free-text fields: every text a client sends has a cap.

use crate::error::AppError;

/// Cap for names (people, companies, vendors, programs).
pub const NAME_MAX: usize = 120;

/// A required single-line text: trimmed, non-empty, at most `max` characters, no control
/// characters.
pub fn required(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(AppError::invalid(field, format!("{field} is required")));
    }
    single_line(field, s, max)
}

/// An optional single-line text: empty means `None`.
pub fn optional(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => single_line(field, s, max).map(Some),
    }
}

/// An optional choice among `allowed` (list filters such as `?status=`): empty means
/// `None`, anything else must be one of them.
pub fn choice(
    field: &str,
    raw: Option<&str>,
    allowed: &[&'static str],
) -> Result<Option<&'static str>, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => allowed
            .iter()
            .find(|k| **k == s)
            .map(|k| Some(*k))
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    format!("{field} must be one of: {}", allowed.join(", ")),
                )
            }),
    }
}

/// Longest URL accepted anywhere.
pub const URL_MAX: usize = 2000;

/// An absolute `http(s)://` URL with a host, at most [`URL_MAX`] characters.
pub fn http_url(field: &str, raw: &str) -> Result<url::Url, AppError> {
    if raw.len() > URL_MAX {
        return Err(AppError::invalid(
            field,
            format!("{field} is longer than {URL_MAX} characters"),
        ));
    }
    let err = || AppError::invalid(field, format!("{field} must be an absolute http(s) URL"));
    let url = url::Url::parse(raw.trim()).map_err(|_| err())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err());
    }
    Ok(url)
}

/// An optional website (of an affiliate or an applicant): empty means `None`; anything else
/// must be an absolute `http(s)://` URL with a host, at most `max` characters. One rule for
/// every door (API, portal, apply form, dashboard): `javascript:`, `data:`, `ftp:` and the
/// like would become live links on the pages that show the website.
pub fn website(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    let Some(s) = optional(field, raw, max)? else {
        return Ok(None);
    };
    let lower = s.to_ascii_lowercase();
    let url = url::Url::parse(&s).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some_and(|h| !h.is_empty())
            && (lower.starts_with("http://") || lower.starts_with("https://"))
    });
    match url {
        Some(_) => Ok(Some(s)),
        None => Err(AppError::invalid(
            field,
            format!(
                "{field} must be a web address starting with https:// or http://, like https://example.com"
            ),
        )),
    }
}

fn single_line(field: &str, s: &str, max: usize) -> Result<String, AppError> {
    if s.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_trims() {
        assert_eq!(
            required("name", "  Acme ", 10).ok().as_deref(),
            Some("Acme")
        );
        assert!(required("name", "   ", 10).is_err());
        assert!(required("name", "abcdefghijk", 10).is_err());
        assert!(required("name", "a\u{0}b", 10).is_err());
        assert_eq!(optional("x", Some(" "), 10).ok(), Some(None));
    }
}

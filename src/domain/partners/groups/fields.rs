//! A group's application form fields: the extra questions its applicants answer (on the
//! portal's `/apply?group=` form and through the API), and the validation of the answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::values::text;
use crate::error::{AppError, AppResult};

/// Most questions per group.
pub const FIELDS_MAX: usize = 10;
/// Longest label.
const LABEL_MAX: usize = 100;
/// Longest answer.
pub const ANSWER_MAX: usize = 2000;

/// How a question is asked and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// An absolute http(s) URL.
    Url,
}

impl FieldType {
    /// The name used in the API and the dashboard form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Textarea => "textarea",
            Self::Url => "url",
        }
    }
}

/// One extra question of a group's application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationField {
    /// Key of the answer in an application's `answers`, unique in the group.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub key: String,
    /// The question as the applicant reads it.
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    /// Whether an answer is required.
    pub required: bool,
    /// `text`, `textarea` or `url`.
    #[serde(rename = "type")]
    pub kind: FieldType,
}

fn key_ok(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some('a'..='z'))
        && k.len() <= 32
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Checks a list of questions: at most ten, keys `^[a-z][a-z0-9_]{0,31}$` and unique,
/// labels 1-100 characters. Returns the stored JSON.
pub fn validate(fields: &[ApplicationField]) -> AppResult<String> {
    const F: &str = "application_fields";
    if fields.len() > FIELDS_MAX {
        return Err(AppError::invalid(
            F,
            format!("a group has at most {FIELDS_MAX} application fields"),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        if !key_ok(&f.key) {
            return Err(AppError::invalid(
                F,
                format!(
                    "key \"{}\" must start with a-z and have at most 32 of a-z, 0-9, _",
                    f.key
                ),
            ));
        }
        if fields[..i].iter().any(|o| o.key == f.key) {
            return Err(AppError::invalid(
                F,
                format!("key \"{}\" is used twice", f.key),
            ));
        }
        let n = f.label.chars().count();
        if n == 0 || n > LABEL_MAX {
            return Err(AppError::invalid(
                F,
                format!(
                    "the label of \"{}\" must have 1 to {LABEL_MAX} characters",
                    f.key
                ),
            ));
        }
    }
    serde_json::to_string(fields).map_err(|e| AppError::Internal(e.into()))
}

/// The stored questions (an unreadable value reads as none).
pub fn from_stored(raw: &str) -> Vec<ApplicationField> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// Parses the dashboard's text form: one question per line, `key | Label | required | type`
/// (the last two optional: `optional` and `text` by default).
pub fn parse_lines(raw: &str) -> AppResult<Vec<ApplicationField>> {
    const F: &str = "application_fields";
    let mut out = Vec::new();
    for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let bad = || {
            AppError::invalid(
                F,
                format!(
                    "\"{line}\" must read key | Label | required or optional | text, textarea or url"
                ),
            )
        };
        if parts.len() < 2 || parts.len() > 4 {
            return Err(bad());
        }
        let required = match parts.get(2).copied().unwrap_or("optional") {
            "required" => true,
            "optional" | "" => false,
            _ => return Err(bad()),
        };
        let kind = match parts.get(3).copied().unwrap_or("text") {
            "text" | "" => FieldType::Text,
            "textarea" => FieldType::Textarea,
            "url" => FieldType::Url,
            _ => return Err(bad()),
        };
        out.push(ApplicationField {
            key: parts[0].to_owned(),
            label: parts[1].to_owned(),
            required,
            kind,
        });
    }
    validate(&out)?;
    Ok(out)
}

/// The dashboard's text form of a list of questions.
pub fn to_lines(fields: &[ApplicationField]) -> String {
    fields
        .iter()
        .map(|f| {
            format!(
                "{} | {} | {} | {}",
                f.key,
                f.label,
                if f.required { "required" } else { "optional" },
                f.kind.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks answers against the questions: every key known, required ones present, at most
/// 2000 characters, URLs absolute http(s). Blank answers are dropped. An error names the
/// field `answers.<key>`.
pub fn check_answers(
    fields: &[ApplicationField],
    answers: &BTreeMap<String, String>,
) -> AppResult<BTreeMap<String, String>> {
    if let Some(k) = answers
        .keys()
        .find(|k| !fields.iter().any(|f| &f.key == *k))
    {
        return Err(AppError::invalid(
            "answers",
            format!("\"{k}\" is not a question of this application form"),
        ));
    }
    let mut out = BTreeMap::new();
    for f in fields {
        let name = format!("answers.{}", f.key);
        let value = answers.get(&f.key).map(|s| s.trim()).unwrap_or_default();
        if value.is_empty() {
            if f.required {
                return Err(AppError::invalid(&name, format!("{} is required", f.label)));
            }
            continue;
        }
        if value.chars().count() > ANSWER_MAX {
            return Err(AppError::invalid(
                &name,
                format!("{} is longer than {ANSWER_MAX} characters", f.label),
            ));
        }
        if f.kind == FieldType::Url {
            text::http_url(&name, value).map_err(|_| {
                AppError::invalid(&name, format!("{} must be an http(s) address", f.label))
            })?;
        }
        out.insert(f.key.clone(), value.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_keys_are_refused() {
        let f = parse_lines("audience | Your audience | required\nsite | Site | optional | url")
            .expect("parses");
        assert_eq!(f.len(), 2);
        assert!(f[0].required && f[1].kind == FieldType::Url);
        assert_eq!(parse_lines(&to_lines(&f)).expect("again"), f);
        assert!(parse_lines("Bad | x").is_err());
        assert!(parse_lines("a | x\na | y").is_err());
    }

    #[test]
    fn answers_are_checked() {
        let f = parse_lines("a | A | required\nu | U | optional | url").expect("parses");
        let m = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(check_answers(&f, &m(&[])).is_err());
        assert!(check_answers(&f, &m(&[("a", "x"), ("u", "nope")])).is_err());
        assert!(check_answers(&f, &m(&[("a", "x"), ("z", "1")])).is_err());
        assert_eq!(
            check_answers(&f, &m(&[("a", "x"), ("u", " ")]))
                .expect("ok")
                .len(),
            1
        );
    }
}

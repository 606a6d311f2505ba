//! The write-only credentials of the billing providers' webhook doors besides Stripe
//! (Paddle, Lemon Squeezy, Polar, Chargebee), as `PATCH /api/v1/programs/{id}` and the
//! program form set them: validated here, written with the program's other settings.

use crate::db::programs::ProviderCredential;
use crate::error::{AppError, AppResult};

use super::programs::ProgramInput;

/// Longest credential accepted (providers' secrets are far shorter).
const MAX_LEN: usize = 200;

/// The credential fields of a program input, with their columns and rules.
fn fields(
    input: &ProgramInput,
) -> [(
    &'static str,
    ProviderCredential,
    usize,
    &Option<Option<String>>,
); 5] {
    [
        (
            "paddle_webhook_secret",
            ProviderCredential::PaddleSecret,
            8,
            &input.paddle_webhook_secret,
        ),
        (
            "lemonsqueezy_webhook_secret",
            ProviderCredential::LemonSqueezySecret,
            6,
            &input.lemonsqueezy_webhook_secret,
        ),
        (
            "polar_webhook_secret",
            ProviderCredential::PolarSecret,
            8,
            &input.polar_webhook_secret,
        ),
        (
            "chargebee_webhook_username",
            ProviderCredential::ChargebeeUsername,
            1,
            &input.chargebee_webhook_username,
        ),
        (
            "chargebee_webhook_password",
            ProviderCredential::ChargebeePassword,
            8,
            &input.chargebee_webhook_password,
        ),
    ]
}

/// The credential changes `input` asks for: `(column, None)` removes one. A value is
/// visible ASCII without spaces (what the providers generate; pasting adds no control
/// characters that would silently never match), `min..=200` long; a Chargebee user name
/// has no `:` (basic authentication could not carry it).
pub fn changes(input: &ProgramInput) -> AppResult<Vec<(ProviderCredential, Option<String>)>> {
    let mut out = Vec::new();
    for (field, column, min, value) in fields(input) {
        let Some(value) = value else { continue };
        let v = value.as_deref().map(str::trim).unwrap_or("");
        if v.is_empty() {
            out.push((column, None));
            continue;
        }
        let graphic = v.bytes().all(|b| b.is_ascii_graphic());
        let colon = column == ProviderCredential::ChargebeeUsername && v.contains(':');
        if !graphic || colon || v.len() < min || v.len() > MAX_LEN {
            return Err(AppError::invalid(
                field,
                format!(
                    "{field} is {min} to {MAX_LEN} visible ASCII characters without spaces{}",
                    if column == ProviderCredential::ChargebeeUsername {
                        " or colons"
                    } else {
                        ""
                    }
                ),
            ));
        }
        out.push((column, Some(v.to_owned())));
    }
    Ok(out)
}

/// The names of the credential fields present in `input` (for the audit log).
pub fn present(input: &ProgramInput) -> Vec<&'static str> {
    fields(input)
        .into_iter()
        .filter(|(_, _, _, v)| v.is_some())
        .map(|(f, ..)| f)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_validated_and_blank_removes() {
        let input: ProgramInput = serde_json::from_value(serde_json::json!({
            "paddle_webhook_secret": " pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I ",
            "lemonsqueezy_webhook_secret": null,
            "chargebee_webhook_username": "",
        }))
        .unwrap();
        let c = changes(&input).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].0, ProviderCredential::PaddleSecret);
        assert!(c[0].1.as_deref().unwrap().starts_with("pdl_ntfset_"));
        assert_eq!(c[1], (ProviderCredential::LemonSqueezySecret, None));
        assert_eq!(c[2], (ProviderCredential::ChargebeeUsername, None));
        for bad in [
            serde_json::json!({"polar_webhook_secret": "short"}),
            serde_json::json!({"polar_webhook_secret": "with space inside"}),
            serde_json::json!({"chargebee_webhook_username": "a:b"}),
            serde_json::json!({"chargebee_webhook_password": "ünïcode-password"}),
        ] {
            let input: ProgramInput = serde_json::from_value(bad.clone()).unwrap();
            assert!(changes(&input).is_err(), "{bad}");
        }
    }
}

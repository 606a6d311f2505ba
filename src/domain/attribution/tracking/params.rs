//! The query parameters that name a referral code: ours (`ref`) and those of the tools
//! vendors move from, so partners' old links keep working after an import. The tracking
//! snippet (`static/t.js`) reads the same list in the same order.

use base64::Engine;

use super::normalize_code;

/// Parameters naming a code, first match wins: `ref` (Affilia, Tolt), `via` (Rewardful,
/// Tolt), `aff` (Tolt, Lemon Squeezy), `fpr` and `fp_ref` (FirstPromoter), `gspk`
/// (PartnerStack: the partner key in base64).
pub const LINK_PARAMS: [&str; 6] = ["ref", "via", "aff", "fpr", "fp_ref", "gspk"];

/// The referral code a query string names (`via=jane`, `gspk=amFuZQ==`), normalised; `None`
/// when no parameter names a valid code. Pure string work: no lookup.
pub fn code_from_query(query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    LINK_PARAMS.iter().find_map(|name| {
        let value = pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())?
            .1
            .as_str();
        if *name == "gspk" {
            normalize_code(&decode_partner_key(value)?)
        } else {
            normalize_code(value)
        }
    })
}

/// PartnerStack's `gspk`: the partner key in base64 (standard or URL-safe, padded or not).
fn decode_partner_key(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_parameter_names_the_code() {
        assert_eq!(code_from_query("via=Jane-Doe").as_deref(), Some("jane-doe"));
        assert_eq!(
            code_from_query("fpr=joe13&utm_source=x").as_deref(),
            Some("joe13")
        );
        assert_eq!(code_from_query("fp_ref=joe13").as_deref(), Some("joe13"));
        assert_eq!(code_from_query("aff=tina").as_deref(), Some("tina"));
        assert_eq!(
            code_from_query("ref=tina&via=other").as_deref(),
            Some("tina")
        );
        // base64("patkim") with and without padding, and URL-safe.
        assert_eq!(code_from_query("gspk=cGF0a2lt").as_deref(), Some("patkim"));
        assert_eq!(
            code_from_query("gspk=cGF0a2ltMQ%3D%3D").as_deref(),
            Some("patkim1")
        );
        assert_eq!(
            code_from_query("gspk=cGF0a2ltMQ").as_deref(),
            Some("patkim1")
        );
    }

    #[test]
    fn nothing_valid_names_nothing() {
        assert_eq!(code_from_query(""), None);
        assert_eq!(code_from_query("utm_source=x"), None);
        assert_eq!(code_from_query("via=a"), None);
        assert_eq!(code_from_query("gspk=!!!"), None);
        assert_eq!(code_from_query("via=&fpr=joe13").as_deref(), Some("joe13"));
    }
}

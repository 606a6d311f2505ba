//! URL-safe slugs derived from names.

/// Lower-case ASCII letters, digits and single hyphens; at most `max` characters.
/// Non-ASCII letters are dropped, so a name made only of them yields `fallback`.
pub fn slugify(name: &str, max: usize, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// A short random lower-case suffix (`7g2k`) to make a slug unique.
pub fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A referral code as stored (trimmed, lower case, 3-40 of `[a-z0-9-_]`), or `None` when
/// `raw` cannot be one. The one code rule; `partners::affiliates::parse_code` adds the error.
pub fn normalize_code(raw: &str) -> Option<String> {
    url_segment(raw.trim(), 3..=40)
}

/// A link slug as stored (lower case, 1-40 of `[a-z0-9-_]`), or `None`.
pub fn normalize_slug(raw: &str) -> Option<String> {
    url_segment(raw, 1..=40)
}

fn url_segment(raw: &str, len: std::ops::RangeInclusive<usize>) -> Option<String> {
    let s = raw.to_ascii_lowercase();
    (len.contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    .then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Acme Corp, Inc.", 40, "x"), "acme-corp-inc");
        assert_eq!(slugify("  --Ünïcode-- ", 40, "x"), "n-code");
        assert_eq!(slugify("日本", 40, "vendor"), "vendor");
        assert_eq!(slugify("abcdef", 3, "x"), "abc");
        assert_eq!(random_suffix(4).len(), 4);
    }
}

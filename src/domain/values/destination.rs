//! Where a referral link may send a visitor, and the URL it sends them to.
//!
//! Only hosts the program configured (its landing URL's host and its `allowed_domains`)
//! are ever redirect targets, checked again on every redirect, so neither a link created
//! before a domain was removed nor anything in the request can make `/r/` an open redirect.

use url::Url;

/// Query parameters Affilia sets itself; incoming values of these are never forwarded.
const OWN_PARAMS: [&str; 3] = ["ref", "aff_sess", "via"];
/// Incoming query strings longer than this are not forwarded at all (the click still works).
const MAX_FORWARDED_QUERY: usize = 2048;
/// Longest destination URL produced.
const MAX_URL: usize = 4000;

/// The hosts a program's links may lead to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Domains {
    /// Exact host names.
    exact: Vec<String>,
    /// Parent domains whose subdomains are allowed (from `*.example.com`).
    wildcard: Vec<String>,
}

impl Domains {
    /// The landing URL's host plus the program's extra domains.
    pub fn new(landing_url: Option<&str>, extra: Vec<String>) -> Self {
        let mut d = Self::default();
        if let Some(host) = landing_url
            .and_then(|u| Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            d.exact.push(host);
        }
        for e in extra {
            match e.strip_prefix("*.") {
                Some(parent) => d.wildcard.push(parent.to_owned()),
                None => d.exact.push(e),
            }
        }
        d
    }

    /// Also allows the host of `url` (a partner group's landing URL).
    pub fn allow_host_of(&mut self, url: &str) {
        if let Some(host) = Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            && !self.exact.contains(&host)
        {
            self.exact.push(host);
        }
    }

    /// The hosts of a program as stored: its landing URL and the JSON array of
    /// `allowed_domains`.
    pub fn from_stored(landing_url: Option<&str>, allowed_domains: &str) -> Self {
        Self::new(landing_url, parse_stored(allowed_domains))
    }

    /// Whether `url` is an http(s) URL on one of the hosts.
    pub fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.allows_host(&host)
    }

    /// Whether a bare host name is one of the hosts.
    pub fn allows_host(&self, host: &str) -> bool {
        self.exact.iter().any(|h| h == host)
            || self.wildcard.iter().any(|parent| {
                host.len() > parent.len() + 1
                    && host.ends_with(parent.as_str())
                    && host.as_bytes()[host.len() - parent.len() - 1] == b'.'
            })
    }

    /// Whether a browser `Origin` header (`scheme://host[:port]`) is one of the hosts.
    pub fn allows_origin(&self, origin: &str) -> bool {
        Url::parse(origin).is_ok_and(|u| self.allows(&u))
    }

    /// The allowed host names, for messages (`*.` marks wildcards).
    pub fn describe(&self) -> String {
        let mut all: Vec<String> = self.exact.clone();
        all.extend(self.wildcard.iter().map(|w| format!("*.{w}")));
        if all.is_empty() {
            "none (set the program's landing URL)".into()
        } else {
            all.join(", ")
        }
    }
}

/// A program's stored `allowed_domains` JSON array (validated on write, so unreadable
/// JSON can only mean none).
pub fn parse_stored(allowed_domains: &str) -> Vec<String> {
    serde_json::from_str(allowed_domains).unwrap_or_default()
}

/// Attribution parameters appended to the destination.
#[derive(Debug, Clone, Copy)]
pub struct Attribution<'a> {
    /// `ref`.
    pub code: &'a str,
    /// `aff_sess`.
    pub click_id: &'a str,
}

/// The URL to redirect to: `destination` with its own query kept, the visitor's incoming
/// parameters (UTM tags and the like) forwarded unless the destination already sets them,
/// and `ref` + `aff_sess` appended when the click is attributed.
pub fn redirect_url(
    destination: &Url,
    incoming_query: Option<&str>,
    attribution: Option<Attribution<'_>>,
) -> String {
    let mut url = destination.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !OWN_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let forwarded: Vec<(String, String)> = match incoming_query {
        Some(q) if q.len() <= MAX_FORWARDED_QUERY => url::form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| !k.is_empty() && !OWN_PARAMS.contains(&k.as_ref()))
            .filter(|(k, _)| !kept.iter().any(|(existing, _)| existing == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        _ => Vec::new(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        q.extend_pairs(kept.iter().chain(forwarded.iter()));
        if let Some(a) = attribution {
            q.append_pair("ref", a.code);
            // No click id when the click could not be stored: `ref` alone still lets the
            // vendor's snippet report the click and checkout attribute by code.
            if !a.click_id.is_empty() {
                q.append_pair("aff_sess", a.click_id);
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let out = url.to_string();
    if out.len() <= MAX_URL {
        out
    } else {
        // Pathological destinations: drop the forwarded parameters rather than emit a
        // Location header proxies may refuse.
        redirect_url(destination, None, attribution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn keeps_the_destination_query_and_forwards_utm_tags() {
        let d = url("https://acme.test/pricing?plan=pro&utm_source=site");
        let out = redirect_url(
            &d,
            Some("utm_source=evil&utm_medium=email&ref=x&aff_sess=y"),
            Some(Attribution {
                code: "jane",
                click_id: "clk_1",
            }),
        );
        assert_eq!(
            out,
            "https://acme.test/pricing?plan=pro&utm_source=site&utm_medium=email&ref=jane&aff_sess=clk_1"
        );
    }

    #[test]
    fn without_attribution_nothing_is_appended() {
        let d = url("https://acme.test/");
        assert_eq!(redirect_url(&d, None, None), "https://acme.test/");
        assert_eq!(
            redirect_url(&d, Some(&"a=1&".repeat(2000)), None),
            "https://acme.test/"
        );
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let d = Domains::new(
            Some("https://www.acme.test/x"),
            vec!["*.acme.test".into(), "shop.other.test".into()],
        );
        assert!(d.allows(&url("https://www.acme.test/")));
        assert!(d.allows(&url("https://blog.acme.test/")));
        assert!(d.allows(&url("http://shop.other.test/a")));
        assert!(!d.allows(&url("https://acme.test/")));
        assert!(!d.allows(&url("https://evilacme.test/")));
        assert!(!d.allows(&url("https://acme.test.evil.test/")));
        assert!(!d.allows(&url("javascript:alert(1)")));
        assert!(d.allows_origin("https://blog.acme.test"));
        assert!(!d.allows_origin("null"));
    }
}

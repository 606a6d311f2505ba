//! Host names and browser origins, validated into the exact form they are compared in:
//! portal domains, program domains, and the origins of embeds and sites (CSP
//! `frame-ancestors`, CORS).

use crate::error::{AppError, AppResult};

/// Most origins per list (embed origins, site origins).
pub const ORIGINS_MAX: usize = 20;

/// Longest origin accepted.
const ORIGIN_MAX: usize = 300;

/// Validates a portal host name: lower-case DNS labels, at least one dot, no port.
pub fn parse_host(field: &str, raw: &str) -> AppResult<String> {
    let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(host)
    } else {
        Err(AppError::invalid(
            field,
            "not a valid host name, e.g. affiliates.example.com",
        ))
    }
}

/// Validates a host name a vendor claims for its portal: [`parse_host`], and never an IP
/// address in any spelling (`127.1`, `0x7f.1`, `2130706433`, `[::1]`, ...: browsers and
/// URL parsers read a host whose last label is numeric as IPv4) nor `localhost` or a name
/// under it. The installation's own hosts are refused by the caller, which knows them.
pub fn parse_portal_host(field: &str, raw: &str) -> AppResult<String> {
    let shown: String = raw.trim().chars().take(80).collect();
    let lower = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if is_ip_literal(&lower) {
        return Err(AppError::invalid(
            field,
            format!(
                "{shown:?} is an IP address; a portal domain must be a host name such as \
                 affiliates.example.com"
            ),
        ));
    }
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err(AppError::invalid(
            field,
            format!("{shown:?} is a local name and cannot be a portal domain"),
        ));
    }
    parse_host(field, raw).map_err(|_| {
        AppError::invalid(
            field,
            format!("{shown:?} is not a host name such as affiliates.example.com"),
        )
    })
}

/// Whether `host` (lower case, no trailing dot) is an IP address in any form a browser or
/// URL parser accepts: bracketed or bare IPv6, dotted, shortened, decimal, octal or hex IPv4.
fn is_ip_literal(host: &str) -> bool {
    if host.contains(':') || host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if matches!(
        url::Host::parse(host),
        Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_))
    ) {
        return true;
    }
    // The WHATWG rule: a numeric last label makes the whole host an IPv4 address (an
    // invalid one when it does not parse), never a DNS name.
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    !last.is_empty() && (last.chars().all(|c| c.is_ascii_digit()) || hex)
}

/// A list of origins: each through [`parse_origin`], duplicates (after normalisation)
/// kept once, at most [`ORIGINS_MAX`].
pub fn parse_origins(field: &str, raw: &[String]) -> AppResult<Vec<String>> {
    if raw.len() > ORIGINS_MAX {
        return Err(AppError::invalid(
            field,
            format!("at most {ORIGINS_MAX} origins"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for o in raw {
        let origin = parse_origin(field, o)?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

/// Parses a browser origin, `http(s)://host[:port]`, into the exact form browsers send in
/// the `Origin` header: lower case, default port dropped, international names in
/// punycode. No path (a lone trailing `/` is tolerated), query, fragment, user info or
/// wildcard. Hosts are DNS names (`localhost` included) or IP addresses.
///
/// This is the one origin parser: branding settings, CSP `frame-ancestors` lists and
/// CORS checks all compare its output.
pub fn parse_origin(field: &str, raw: &str) -> AppResult<String> {
    let shown = raw.trim();
    let err = |why: &str| {
        AppError::invalid(
            field,
            format!(
                "{shown:?} is not an origin such as https://app.example.com ({why})",
                shown = shown.chars().take(80).collect::<String>()
            ),
        )
    };
    if shown.is_empty() {
        return Err(err("empty"));
    }
    if shown.len() > ORIGIN_MAX {
        return Err(err("too long"));
    }
    if shown.contains('*') {
        return Err(err("wildcards are not allowed"));
    }
    if shown
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(err("it contains spaces or backslashes"));
    }
    let lower = shown.to_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        return Err(err("it must start with http:// or https://"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(err("it must start with http:// or https://"));
    }
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !tail.is_empty() && tail != "/" {
        return Err(err("no path, query or fragment"));
    }
    if authority.contains('@') {
        return Err(err("no user name or password"));
    }
    if authority.is_empty() {
        return Err(err("a host is required"));
    }
    let url = url::Url::parse(&format!("{scheme}://{authority}/"))
        .map_err(|_| err("not a valid host and port"))?;
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let ok = d.len() <= 253
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !ok {
                return Err(err("not a valid host name"));
            }
        }
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {}
        None => return Err(err("a host is required")),
    }
    Ok(url.origin().ascii_serialization())
}

/// Whether a browser's `Origin` header is one of `allowed` (normalised origins).
pub fn origin_listed(allowed: &[String], origin: &str) -> bool {
    !allowed.is_empty() && parse_origin("origin", origin).is_ok_and(|o| allowed.contains(&o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_in_every_spelling_are_refused_as_portal_hosts() {
        for ip in [
            "127.0.0.1",
            "127.1",
            "0.0.0.0",
            "0",
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "0177.0.0.1",
            "1.2.3.4.5",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
            "10.0.0.1.",
        ] {
            let err = parse_portal_host("portal_domains", ip).unwrap_err();
            assert_eq!(err.field(), Some("portal_domains"), "{ip}");
            assert!(err.to_string().contains("IP address"), "{ip}: {err}");
        }
        for local in ["localhost", "app.localhost", "LOCALHOST."] {
            assert!(
                parse_portal_host("portal_domains", local).is_err(),
                "{local}"
            );
        }
        assert_eq!(
            parse_portal_host("portal_domains", "Affiliates.Acme.com.").unwrap(),
            "affiliates.acme.com"
        );
        assert_eq!(
            parse_portal_host("portal_domains", "1password.example.com").unwrap(),
            "1password.example.com"
        );
    }
}

//! The SSRF guard: which URLs and addresses a webhook may be sent to.
//!
//! A vendor chooses the URL, and the server makes the request from inside the installation's
//! network; without a guard, an endpoint could reach the database, an admin panel on
//! localhost or the cloud metadata service. Only public unicast addresses are allowed unless
//! the installation turns on `allow_private_webhook_urls`. The check runs when an endpoint
//! is saved and again at each delivery, on the very addresses the connection uses (see
//! [`GuardedResolver`]), so a DNS answer that changes in between cannot slip through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

/// How long a DNS lookup may take when an endpoint is saved.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a webhook may be sent to `ip` when private addresses are not allowed: false for
/// loopback, private, link-local (cloud metadata included), unique-local, CGNAT,
/// multicast, broadcast, unspecified, reserved and documentation ranges, and for IPv6 forms
/// that embed such an IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network", 0.0.0.0 included
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local, 169.254.169.254 metadata included
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 are caught here too).
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 64:ff9b::/96 reaches the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002:AABB:CCDD::/48 embeds an IPv4 address in the prefix.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    let blocked = (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7, fd00:ec2::254 included
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo: tunnels to arbitrary IPv4
        || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
        || s[0] == 0; // anything else in ::/16 is reserved
    !blocked
}

/// Why a URL cannot be an endpoint (the message of a 422 on `url`).
pub fn check_url_shape(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url =
        Url::parse(raw.trim()).map_err(|_| "url must be an absolute https:// URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err("url must use https (plain http is allowed only when the installation allows private webhook URLs)".into());
        }
        _ => return Err("url must be an absolute https:// URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("url must not have a #fragment".into());
    }
    match url.host() {
        None => Err("url must name a host".into()),
        Some(Host::Ipv4(ip)) if !allow_private && !is_public(IpAddr::V4(ip)) => {
            Err(refused(IpAddr::V4(ip)))
        }
        Some(Host::Ipv6(ip)) if !allow_private && !is_public(IpAddr::V6(ip)) => {
            Err(refused(IpAddr::V6(ip)))
        }
        Some(Host::Domain(d)) if !is_host_name(d) => {
            Err("url must name a valid host: letters, digits, hyphens and dots".into())
        }
        Some(Host::Domain(d)) if !allow_private && is_local_name(d) => Err(format!(
            "url must not point to a private or loopback host ({d})"
        )),
        Some(_) => Ok(url),
    }
}

/// Whether a host (as the URL parser leaves it: lower case, international names in
/// punycode) is a DNS name: dot-separated labels of 1 to 63 letters, digits, hyphens or
/// underscores, 253 characters at most (a final dot allowed). The URL standard lets other
/// characters through (`*`, `!`, `$` ...) that no DNS name can hold, so such a URL could
/// never be delivered to.
fn is_host_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Names that always mean this machine or its private network, whatever DNS says.
fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".local")
        || h.ends_with(".internal")
        || h == "metadata.google.internal"
}

fn refused(ip: IpAddr) -> String {
    format!("url resolves to {ip}, a private, loopback, link-local or otherwise non-public address")
}

/// Checks a URL when an endpoint is saved: its shape, then every address its host resolves
/// to. A host that does not resolve (yet) is accepted; delivery checks again.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = check_url_shape(raw, allow_private)?;
    if allow_private {
        return Ok(url);
    }
    if let Some(Host::Domain(domain)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((domain, port));
        if let Ok(Ok(addrs)) = tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
            for addr in addrs {
                if !is_public(addr.ip()) {
                    return Err(refused(addr.ip()));
                }
            }
        }
    }
    Ok(url)
}

/// A DNS resolver for the delivery client that drops every non-public address, so the
/// connection goes only to an address that passed the check (no rebinding window between
/// checking and connecting).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Whether private addresses are allowed after all (installation setting).
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match found.first() {
                    Some(a) => refused(a.ip()).into(),
                    None => format!("{host} has no address").into(),
                };
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn ipv4_private_and_special_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "127.0.0.1",
            "127.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.10",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn ipv4_public_addresses_pass_including_range_neighbours() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(public(ip), "{ip} must pass");
        }
    }

    #[test]
    fn ipv6_special_ranges_and_embedded_private_ipv4_are_refused() {
        for ip in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:0001::1",
            "2002:c0a8:0101::1",
            "fc00::1",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
            "::2",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn ipv6_public_addresses_pass() {
        for ip in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:800::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(public(ip), "{ip} must pass");
        }
    }

    #[test]
    fn url_shapes() {
        assert!(check_url_shape("https://hooks.example.com/affilia", false).is_ok());
        assert!(check_url_shape("http://hooks.example.com/", false).is_err());
        assert!(check_url_shape("http://127.0.0.1:9000/", true).is_ok());
        assert!(check_url_shape("ftp://example.com/", true).is_err());
        assert!(check_url_shape("not a url", false).is_err());
        assert!(check_url_shape("https://user:pw@example.com/", false).is_err());
        assert!(check_url_shape("https://127.0.0.1/", false).is_err());
        assert!(check_url_shape("https://[::1]/", false).is_err());
        assert!(check_url_shape("https://[::ffff:169.254.169.254]/", false).is_err());
        assert!(check_url_shape("https://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check_url_shape("https://localhost/", false).is_err());
        assert!(check_url_shape("https://api.localhost/", false).is_err());
        assert!(check_url_shape("https://metadata.google.internal/", false).is_err());
        assert!(check_url_shape("https://localhost/", true).is_ok());
        // Only DNS names: the URL standard would let `*` and friends into a host.
        assert!(check_url_shape("https://hooks.example.com*", false).is_err());
        assert!(check_url_shape("https://hooks.exa$mple.com/x", true).is_err());
        assert!(check_url_shape("https://a..example.com/", false).is_err());
        assert!(check_url_shape("https://HOOKS.Example.com./x*", false).is_ok());
        assert!(check_url_shape("https://my_hooks.example.com/", false).is_ok());
        assert!(check_url_shape("https://bücher.example/", false).is_ok());
        // Decimal and hex IPv4 spellings are normalised by the URL parser and still caught.
        assert!(check_url_shape("https://2130706433/", false).is_err());
        assert!(check_url_shape("https://0x7f000001/", false).is_err());
    }

    #[tokio::test]
    async fn the_delivery_resolver_drops_private_addresses() {
        use reqwest::dns::Resolve;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        let refused = GuardedResolver {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let err = refused
            .err()
            .expect("localhost must be refused")
            .to_string();
        assert!(err.contains("non-public"), "{err}");
        let allowed = GuardedResolver {
            allow_private: true,
        }
        .resolve(name())
        .await
        .unwrap();
        assert!(allowed.into_iter().any(|a| a.ip().is_loopback()));
    }
}

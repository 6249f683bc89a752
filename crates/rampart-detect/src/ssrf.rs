//! Server-side request forgery: URLs in a value that point the upstream at itself, at its
//! cloud's metadata service, or into the private network, however the address is spelt.
//!
//! The host of every URL in the value (`scheme://` or `//`) is read without DNS: names
//! that always mean the local machine or a metadata service, and IP addresses in every
//! notation `inet_aton` accepts (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) or as IPv6
//! (`[::1]`, `[::ffff:127.0.0.1]`). An address written in an odd notation weighs more:
//! nobody writes a real address that way.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::sql::Hit;

const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
];
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata",
    "instance-data",
    "metadata.azure.com",
];
const SCHEMES: &[&str] = &["gopher", "dict", "ldap", "tftp", "jar", "netdoc", "sftp"];

/// The SSRF rules `value` matches, each once with its score.
pub fn inspect(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut hits: Vec<Hit> = Vec::new();
    let mut hit = |rule: &'static str, score: u32| crate::sql::add(&mut hits, Hit { rule, score });
    let mut from = 0;
    while let Some(p) = lower[from..].find("//") {
        let at = from + p;
        from = at + 2;
        let scheme: String = lower[..at]
            .strip_suffix(':')
            .map(|before| {
                before
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect()
            })
            .unwrap_or_default();
        // `//host` counts only at the start of the value (a scheme-relative URL).
        if scheme.is_empty() && at != 0 {
            continue;
        }
        if SCHEMES.contains(&scheme.as_str()) {
            hit("ssrf.dangerous_scheme", 3);
        }
        let rest = &lower[at + 2..];
        let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        // Parsers disagree on which `@` ends the user part: every candidate host counts.
        for candidate in authority.split('@') {
            let host = strip_port(candidate);
            let Some((class, odd)) = classify(host) else {
                // A public address where a name belongs: at level 2, suspect.
                if host.parse::<Ipv6Addr>().is_ok()
                    || parse_inet_aton(host.trim_end_matches('.')).is_some()
                {
                    hit("ssrf.ip_address_url", 5);
                }
                continue;
            };
            {
                let (rule, score) = match class {
                    Class::Metadata => ("ssrf.metadata", 5),
                    Class::Loopback => ("ssrf.loopback", 5),
                    Class::Unspecified => ("ssrf.loopback", 5),
                    Class::LinkLocal => ("ssrf.link_local", 5),
                    Class::Private => ("ssrf.private_network", 4),
                };
                hit(rule, score);
                if odd {
                    hit("ssrf.odd_ip_notation", 2);
                }
            }
        }
    }
    hits
}

fn strip_port(host: &str) -> &str {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Metadata,
    Loopback,
    Unspecified,
    LinkLocal,
    Private,
}

/// What the host names, and whether it was spelt oddly.
fn classify(host: &str) -> Option<(Class, bool)> {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    if LOCAL_NAMES.contains(&host) || host.ends_with(".localhost") {
        return Some((Class::Loopback, false));
    }
    if METADATA_NAMES.contains(&host) {
        return Some((Class::Metadata, false));
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return classify_v4(v4).map(|c| (c, true));
        }
        let class = if v6.is_loopback() {
            Class::Loopback
        } else if v6.is_unspecified() {
            Class::Unspecified
        } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
            Class::Metadata
        } else if (v6.segments()[0] & 0xffc0) == 0xfe80 {
            Class::LinkLocal
        } else if (v6.segments()[0] & 0xfe00) == 0xfc00 {
            Class::Private
        } else {
            return None;
        };
        return Some((class, false));
    }
    let (v4, odd) = parse_inet_aton(host)?;
    classify_v4(v4).map(|c| (c, odd))
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let o = ip.octets();
    Some(
        if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
            Class::Metadata
        } else if o[0] == 127 {
            Class::Loopback
        } else if ip.is_unspecified() || o[0] == 0 {
            Class::Unspecified
        } else if o[0] == 169 && o[1] == 254 {
            Class::LinkLocal
        } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
            Class::Private
        } else {
            return None;
        },
    )
}

/// IPv4 as `inet_aton` reads it: 1 to 4 parts, each decimal, octal (`0` prefix) or hex
/// (`0x`); the last part fills the remaining bytes. Also says whether the spelling was
/// anything but four plain decimal parts.
fn parse_inet_aton(host: &str) -> Option<(Ipv4Addr, bool)> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    let mut odd = parts.len() != 4;
    for part in &parts {
        let (digits, radix) = if let Some(h) = part.strip_prefix("0x") {
            odd = true;
            (h, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            odd = true;
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() || digits.len() > 12 {
            return None;
        }
        values.push(u64::from_str_radix(digits, radix).ok()?);
    }
    // The last part fills what the others leave: 32, 24, 16 or 8 bits.
    let last_bits = 8 * (5 - values.len() as u64);
    let (head, last) = values.split_at(values.len() - 1);
    if head.iter().any(|v| *v > 255) || last[0] >= 1u64 << last_bits {
        return None;
    }
    let mut address: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        address |= v << (24 - 8 * i as u64);
    }
    address |= last[0];
    let address = u32::try_from(address).ok()?;
    Some((Ipv4Addr::from(address), odd))
}

pub fn score(value: &str) -> u32 {
    inspect(value).iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_every_notation_are_read_as_inet_aton_does() {
        for (text, ip, odd) in [
            ("127.0.0.1", [127, 0, 0, 1], false),
            ("2130706433", [127, 0, 0, 1], true),
            ("0x7f000001", [127, 0, 0, 1], true),
            ("0177.0.0.1", [127, 0, 0, 1], true),
            ("127.1", [127, 0, 0, 1], true),
            ("0x7f.0.0.1", [127, 0, 0, 1], true),
            ("169.254.43518", [169, 254, 169, 254], true),
            ("10.0.0.1", [10, 0, 0, 1], false),
        ] {
            assert_eq!(
                parse_inet_aton(text),
                Some((Ipv4Addr::from(ip), odd)),
                "{text}"
            );
        }
        for text in [
            "256.0.0.1",
            "1.2.3.4.5",
            "example",
            "1.2.3.256",
            "0x",
            "1..2",
        ] {
            assert_eq!(parse_inet_aton(text), None, "{text}");
        }
    }

    #[test]
    fn urls_at_internal_targets_score_high() {
        for attack in [
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://localhost:8080/admin",
            "https://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]:80/",
            "http://[::ffff:127.0.0.1]/",
            "http://user@127.0.0.1@evil.example/",
            "//127.0.0.1/x",
            "http://0.0.0.0:22",
            "gopher://127.0.0.1:6379/_INFO",
            "url=http://foo.localhost/",
        ] {
            assert!(score(attack) >= 5, "{attack:?}: {:?}", inspect(attack));
        }
    }

    #[test]
    fn public_addresses_in_urls_are_a_level_two_rule() {
        for url in [
            "http://198.51.100.7/x",
            "https://[2001:db8::1]/",
            "http://2001:db8::29c8/a",
        ] {
            let hits = inspect(url);
            assert!(
                hits.iter().any(|h| h.rule == "ssrf.ip_address_url"),
                "{url}: {hits:?}"
            );
        }
        assert_eq!(
            crate::rules::find("ssrf.ip_address_url").map(|r| r.level),
            Some(2)
        );
        for url in ["https://example.com/", "http://v1.2.example/"] {
            assert!(inspect(url).is_empty(), "{url}");
        }
    }

    #[test]
    fn ordinary_urls_and_text_score_low() {
        for text in [
            "https://example.com/path?q=1",
            "http://93.184.216.34/",
            "see https://docs.rs//double//slashes",
            "a // comment",
            "http://10.0.0.5/internal",
            "ratio 127.0.0.1 in text",
            "https://localhost-shop.example/",
        ] {
            // At level 1: a public address is a level 2 rule (above).
            let level_one: u32 = inspect(text)
                .iter()
                .filter(|h| crate::rules::find(h.rule).is_some_and(|r| r.level == 1))
                .map(|h| h.score)
                .sum();
            assert!(level_one < 5, "{text:?}: {:?}", inspect(text));
        }
    }
}

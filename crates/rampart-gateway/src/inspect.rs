//! The injection stage: every value of a request, read where the upstream will read it,
//! scored by `rampart_detect`.
//!
//! The head is inspected first (path segments, query keys and values, headers, cookies):
//! a request whose head is an attack is refused before its body is read. Then, on routes
//! that inspect and for bodies that are text, the body is read whole (within
//! `max_body_bytes` and `body_read_timeout`), inspected by its media type, and the upstream
//! is sent exactly the bytes that were inspected.

use std::cell::RefCell;
use std::collections::HashMap;

use http::HeaderMap;
use http::header::{self, HeaderName};
use rampart_config::{Injection, InjectionMode};
use rampart_detect::extract::{self, Place};
use rampart_detect::{Finding, Report};

/// Headers not inspected: credentials (checked by authentication, never excerpted),
/// framing and negotiation fields whose syntax the HTTP layer checks, and cookies (read
/// one by one instead).
const NOT_INSPECTED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "cache-control",
    "pragma",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "traceparent",
    "tracestate",
    "x-request-id",
];

/// The head of a request: path segments, query, headers and cookies. `credential` is the
/// API key header, which is never inspected.
pub fn head(
    injection: &Injection,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    credential: &HeaderName,
) -> Report {
    let policy = &injection.policy;
    let mut report = Report::default();
    let mut check = |place: Place<'_>, value: &str, key: bool| {
        policy.check(&mut report, place, value, key);
    };
    let mut segments = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        check(Place::Path, segment, false);
        segments += 1;
    }
    // An attack with a `/` in it is split over segments: the whole path is read too.
    if segments > 1 {
        check(Place::Path, path, false);
    }
    if let Some(query) = query {
        extract::pairs(query, false, &mut check);
    }
    for (name, value) in headers {
        let name = name.as_str();
        if NOT_INSPECTED.contains(&name) || name == credential.as_str() || name.starts_with("sec-")
        {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        if CleanHeaders::seen(policy, name, &value) {
            continue;
        }
        let place = Place::Header(name);
        let clean = rampart_detect::inspect_at(place, &value, false, policy.level, policy.base64)
            .is_empty();
        if clean {
            CleanHeaders::remember(policy, name, &value);
        } else {
            check(place, &value, false);
        }
    }
    for value in headers.get_all(header::COOKIE) {
        extract::cookies(&String::from_utf8_lossy(value.as_bytes()), &mut check);
    }
    report
}

/// Header values this worker thread has already found clean: no rule matched at all, so
/// neither the threshold nor any exclusion can make them count. Clients send the same
/// `User-Agent`, `Referer` and the like on request after request; scanning each distinct
/// value once per thread saves most of the head's inspection time. The detector is a pure
/// function of the value, its header name, the level and `base64`, which make the key, so a
/// remembered value is exactly one that would be found clean again. Bounded: values over
/// [`MAX_REMEMBERED_BYTES`] are not kept, and the memo is emptied when it holds
/// [`MAX_REMEMBERED`] values, so a client sending endless distinct values only costs the
/// scans it would have cost anyway.
struct CleanHeaders {
    /// Value -> the (header name, level, base64) it was found clean under.
    values: HashMap<String, Vec<(String, u8, bool)>>,
    count: usize,
}

const MAX_REMEMBERED: usize = 4096;
const MAX_REMEMBERED_BYTES: usize = 1024;

thread_local! {
    static CLEAN_HEADERS: RefCell<CleanHeaders> = RefCell::new(CleanHeaders {
        values: HashMap::new(),
        count: 0,
    });
}

impl CleanHeaders {
    fn seen(policy: &rampart_detect::Policy, name: &str, value: &str) -> bool {
        CLEAN_HEADERS.with(|memo| {
            memo.borrow().values.get(value).is_some_and(|under| {
                under.iter().any(|(n, level, base64)| {
                    n == name && *level == policy.level && *base64 == policy.base64
                })
            })
        })
    }

    fn remember(policy: &rampart_detect::Policy, name: &str, value: &str) {
        if value.len() > MAX_REMEMBERED_BYTES {
            return;
        }
        CLEAN_HEADERS.with(|memo| {
            let mut memo = memo.borrow_mut();
            if memo.count >= MAX_REMEMBERED {
                memo.values.clear();
                memo.count = 0;
            }
            memo.values.entry(value.to_owned()).or_default().push((
                name.to_owned(),
                policy.level,
                policy.base64,
            ));
            memo.count += 1;
        });
    }
}

/// Whether the body is read before forwarding: on every route that inspects, whatever its
/// declared type (a client can claim `image/png` for JSON; binary bytes are then skipped
/// by `extract::body`).
pub fn reads_body(injection: &Injection) -> bool {
    injection.mode != InjectionMode::Off
}

/// Adds what the body holds to `report`.
pub fn body(injection: &Injection, headers: &HeaderMap, bytes: &[u8], report: &mut Report) {
    if bytes.is_empty() {
        return;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let policy = &injection.policy;
    extract::body(content_type.as_deref(), bytes, &mut |place, value, key| {
        policy.check(report, place, value, key);
    });
}

/// The findings of `report` that make it an attack, worst first; empty if it is not one.
pub fn attacks<'r>(injection: &Injection, report: &'r Report) -> Vec<&'r Finding> {
    report.attacks(injection.policy.threshold).collect()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("a valid value"));
        }
        map
    }

    fn score(injection: &Injection, pairs: &[(&'static str, &str)]) -> u32 {
        let key = HeaderName::from_static("x-api-key");
        head(injection, "/", None, &headers(pairs), &key).score()
    }

    #[test]
    fn remembered_clean_headers_never_hide_an_attack() {
        let injection = Injection::default();
        let browser = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/126.0";
        // Clean, then remembered: still clean.
        assert_eq!(score(&injection, &[("user-agent", browser)]), 0);
        assert_eq!(score(&injection, &[("user-agent", browser)]), 0);
        // Another value under the same name is scanned, however often the first was sent.
        let attack = "Mozilla/5.0' OR '1'='1";
        assert!(score(&injection, &[("user-agent", attack)]) >= 5);
        assert!(score(&injection, &[("user-agent", browser), ("referer", attack)]) >= 5);
        // The same text remembered under one name is scanned under another: a scanner tool's
        // name is an attack in User-Agent only.
        let tool = "sqlmap/1.7.2#stable (https://sqlmap.org)";
        assert_eq!(score(&injection, &[("x-client", tool)]), 0);
        assert!(score(&injection, &[("user-agent", tool)]) >= 5);
        // And under another level: level 2 adds rules.
        let sink = "document.cookie";
        assert_eq!(score(&injection, &[("x-note", sink)]), 0);
        let mut strict = Injection::default();
        strict.policy.level = 2;
        assert!(score(&strict, &[("x-note", sink)]) > 0);
    }

    #[test]
    fn the_memo_is_bounded() {
        let injection = Injection::default();
        let policy = &injection.policy;
        // A clean value is remembered: the next request does not scan it again.
        let browser = "Mozilla/5.0 (Macintosh) Safari/605.1.15";
        score(&injection, &[("user-agent", browser)]);
        assert!(CleanHeaders::seen(policy, "user-agent", browser));
        assert!(!CleanHeaders::seen(policy, "referer", browser));
        for i in 0..MAX_REMEMBERED + 10 {
            score(&injection, &[("x-trace", &format!("trace-{i} (clean)"))]);
        }
        let held = CLEAN_HEADERS.with(|memo| memo.borrow().count);
        assert!(held <= MAX_REMEMBERED, "{held}");
        let long = "a (b) ".repeat(MAX_REMEMBERED_BYTES);
        score(&injection, &[("x-long", &long)]);
        assert!(!CleanHeaders::seen(policy, "x-long", &long));
    }
}

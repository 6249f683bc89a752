//! The injection stage: every value of a request, read where the upstream will read it,
//! scored by `rampart_detect`.
//!
//! The head is inspected first (path segments, query keys and values, headers, cookies):
//! a request whose head is an attack is refused before its body is read. Then, on routes
//! that inspect and for bodies that are text, the body is read whole (within
//! `max_body_bytes` and `body_read_timeout`), inspected by its media type, and the upstream
//! is sent exactly the bytes that were inspected.

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
        check(
            Place::Header(name),
            &String::from_utf8_lossy(value.as_bytes()),
            false,
        );
    }
    for value in headers.get_all(header::COOKIE) {
        extract::cookies(&String::from_utf8_lossy(value.as_bytes()), &mut check);
    }
    report
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

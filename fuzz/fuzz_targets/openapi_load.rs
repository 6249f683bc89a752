//! Fuzzes the OpenAPI loader (the bounded YAML/JSON reader, the schema rewriting, the
//! compilation of every operation) and, when a spec loads, matching and validating a
//! request built from the same bytes: no input may panic, and a violation never carries
//! more than a bounded location.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_openapi::{Head, Lookup, Options, Spec};

fuzz_target!(|data: &[u8]| {
    // The spec, then (after a NUL) a request line and a body to check against it.
    let (spec, request) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let options = Options {
        strict: spec.len() % 2 == 0,
        ..Options::default()
    };
    let Ok(spec) = Spec::from_slice(spec, &options) else {
        return;
    };
    let text = String::from_utf8_lossy(request);
    let (line, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (method, target) = line.split_once(' ').unwrap_or(("GET", line));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if let Lookup::Found(op, params) = spec.find(method, path) {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let head = Head {
            path_params: &params,
            query,
            headers: &headers,
            has_body: !body.is_empty(),
        };
        let mut all = op.check_head(&head);
        all.extend(op.check_body(Some("application/json"), body.as_bytes()));
        for v in &all {
            assert!(v.location.chars().count() <= 97, "{v}");
        }
    }
});

//! Fuzzes how the detector reads request bodies (JSON, urlencoded, multipart, XML, text)
//! and then scores every value it finds: no input may panic, every value handed out is a
//! piece of the input (never longer than it), and locations stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_detect::extract;
use rampart_detect::{Policy, Report};

const TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=\"--x\"",
    "application/xml",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = TYPES
        .get(usize::from(selector) % (TYPES.len() + 1))
        .copied();
    let policy = Policy::default();
    let mut report = Report::default();
    extract::body(content_type, body, &mut |place, value, key| {
        assert!(
            value.len() <= body.len() * 3 + 16,
            "a value outgrew the body"
        );
        assert!(place.to_string().chars().count() <= 97);
        policy.check(&mut report, place, value, key);
    });
    for finding in &report.findings {
        assert!(finding.excerpt.chars().count() <= 2 + 4 * rampart_detect::EXCERPT_CHARS);
    }
});

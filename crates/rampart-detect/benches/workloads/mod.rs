//! The benign workloads of `bench/detect_bench.py` (a GET with a query and browser headers,
//! a 2 KB JSON order, a long prose value), scored as the gateway scores them. Shared by the
//! criterion benchmark (`detect.rs`) and the fixed-count driver (`work.rs`) that
//! `bench/detect_instructions.sh` counts instructions of.
#![allow(dead_code)]

use rampart_detect::extract::{self, Place};
use rampart_detect::{Policy, Report};

pub(crate) const QUERY: &str =
    "q=blue+running+shoes&page=2&sort=price_desc&lang=en-US&size=42&color=navy";
pub(crate) const HEADERS: &[(&str, &str)] = &[
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    ("accept", "application/json"),
    ("accept-language", "en-US,en;q=0.9"),
    ("referer", "https://shop.example.com/search?q=shoes"),
];

pub(crate) fn order() -> String {
    let names = [
        "Running shoes",
        "Trail socks (3 pack)",
        "Water bottle, 750 ml",
        "Cap",
        "Insoles",
    ];
    let items: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                r#"{{"sku": "SKU-{}", "name": "{name}", "quantity": {}, "unit_price": {:.2}, "options": {{"size": "42", "color": "navy", "gift_wrap": {}}}}}"#,
                1000 + i,
                i + 1,
                19.99 + i as f64,
                i % 2 == 0
            )
        })
        .collect();
    let head = format!(
        r#"{{"customer": {{"id": "c-7731", "name": "Dana O'Neill", "email": "dana.oneill@example.com", "phone": "+1 555 0100"}}, "shipping": {{"street": "42 Harbour Road, Apt. 7", "city": "Portland", "postcode": "97201", "country": "US", "instructions": "Leave it at the back door if nobody answers; thanks!"}}, "items": [{}], "coupon": "SPRING-10", "notes": "Please deliver before Friday. The shoes are a gift for my sister, so no invoice in the box.", "tags": ["web", "returning-customer", "newsletter"], "payment": {{"method": "card", "last4": "4242", "currency": "USD"}}"#,
        items.join(", ")
    );
    let pad = 2048usize.saturating_sub(head.len() + 15);
    let comment: String = "Looking forward to it. "
        .repeat(100)
        .chars()
        .take(pad)
        .collect();
    format!(r#"{head}, "comment": "{comment}"}}"#)
}

/// Path segments, query and headers of the GET.
pub(crate) fn get_head(policy: &Policy, query: &str, headers: &[(&str, &str)]) -> Report {
    let mut report = Report::default();
    for seg in ["v1", "items", "42"] {
        policy.check(&mut report, Place::Path, seg, false);
    }
    extract::pairs(query, false, &mut |place, value, key| {
        policy.check(&mut report, place, value, key)
    });
    for (name, value) in headers {
        policy.check(&mut report, Place::Header(name), value, false);
    }
    report
}

/// The JSON body.
pub(crate) fn json_body(policy: &Policy, body: &str) -> Report {
    let mut report = Report::default();
    extract::body(
        Some("application/json"),
        body.as_bytes(),
        &mut |place, value, key| policy.check(&mut report, place, value, key),
    );
    report
}

/// 1.4 KB of prose, one value.
pub(crate) fn prose() -> String {
    "Looking forward to it. ".repeat(60)
}

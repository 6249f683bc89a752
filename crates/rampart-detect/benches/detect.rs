//! The detector's cost on benign traffic, the case that decides throughput: the values of
//! `bench/detect_bench.py`'s two workloads (a GET with a query and browser headers, a 2 KB
//! JSON order), scored as the gateway scores them. `cargo bench -p rampart-detect`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use rampart_detect::extract::{self, Place};
use rampart_detect::{Policy, Report};

const QUERY: &str = "q=blue+running+shoes&page=2&sort=price_desc&lang=en-US&size=42&color=navy";
const HEADERS: &[(&str, &str)] = &[
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    ("accept", "application/json"),
    ("accept-language", "en-US,en;q=0.9"),
    ("referer", "https://shop.example.com/search?q=shoes"),
];

fn order() -> String {
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

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    c.bench_function("get-query head", |b| {
        b.iter(|| {
            let mut report = Report::default();
            for seg in ["v1", "items", "42"] {
                policy.check(&mut report, Place::Path, black_box(seg), false);
            }
            extract::pairs(black_box(QUERY), false, &mut |place, value, key| {
                policy.check(&mut report, place, value, key)
            });
            for (name, value) in HEADERS {
                policy.check(&mut report, Place::Header(name), black_box(value), false);
            }
            report
        })
    });
    let body = order();
    assert!((1900..2200).contains(&body.len()), "{}", body.len());
    c.bench_function("json-2k body", |b| {
        b.iter(|| {
            let mut report = Report::default();
            extract::body(
                Some("application/json"),
                black_box(body.as_bytes()),
                &mut |place, value, key| policy.check(&mut report, place, value, key),
            );
            report
        })
    });
    let prose = "Looking forward to it. ".repeat(60);
    c.bench_function("prose 1.4k value", |b| {
        b.iter(|| rampart_detect::inspect_at(Place::Body, black_box(&prose), false, 1, false))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

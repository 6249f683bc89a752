//! Fuzzes the HTTP/1 framing guard with raw client bytes, delivered in two reads split at a
//! point derived from the input, under the default limits and under tight ones.
//!
//! Invariants checked: no panic; the release watermark never exceeds the bytes fed and
//! never moves backwards; and the outcome (final watermark or violation) does not depend on
//! where the stream was split, since a smuggling defence that a client can steer by timing
//! its TCP segments would be no defence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_http::framing::{Guard, Limits, Violation};

fuzz_target!(|data: &[u8]| {
    // The seeds are plain raw requests, so the split point and the tight limits come from
    // the data rather than from a prefix that would make the corpus unreadable.
    let split = data
        .last()
        .map_or(0, |&b| data.len() * usize::from(b) / 256);
    let tight = Limits {
        max_header_bytes: 32 + data.len() % 512,
        max_headers: 1 + data.len() % 7,
        max_uri_bytes: 1 + data.len() % 64,
        hold_body_bytes: data.len() % 128,
    };
    for limits in [Limits::default(), tight] {
        let whole = feed_all(limits, &[data]);
        let parts = feed_all(limits, &[&data[..split], &data[split..]]);
        assert_eq!(
            whole, parts,
            "outcome depends on the split at {split} under {limits:?}"
        );
    }
});

/// Feeds `reads` in order, as a connection would, stopping at the first violation. Returns
/// the outcome and the watermark, which stays meaningful after a violation.
fn feed_all(limits: Limits, reads: &[&[u8]]) -> (Result<u64, Violation>, u64) {
    let mut guard = Guard::new(limits);
    let mut fed: u64 = 0;
    let mut released: u64 = 0;
    for read in reads {
        fed += read.len() as u64;
        let outcome = guard.feed(read);
        let watermark = guard.released();
        assert!(watermark <= fed, "released {watermark} of {fed} bytes fed");
        assert!(
            watermark >= released,
            "watermark went back from {released} to {watermark}"
        );
        released = watermark;
        match outcome {
            Ok(returned) => assert_eq!(returned, watermark, "feed and released() disagree"),
            Err(violation) => {
                assert_eq!(violation.status, violation.reason.status(), "{violation:?}");
                return (Err(violation), released);
            }
        }
    }
    (Ok(released), released)
}

//! Fuzzes request-path normalization: no input may panic, and whatever it accepts must
//! already be in normal form (normalizing it again is a no-op that borrows).
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use rampart_http::normalize::normalize_path;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(once) = normalize_path(raw) else {
        return;
    };
    match normalize_path(&once) {
        Ok(Cow::Borrowed(twice)) => assert_eq!(twice, once.as_ref(), "not idempotent: {raw:?}"),
        other => panic!("normal form {once:?} of {raw:?} re-normalized to {other:?}"),
    }
});

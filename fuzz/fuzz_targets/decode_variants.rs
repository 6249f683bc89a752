//! Fuzzes the detector's decoders, and every scanner but SQL's (which has its own target)
//! on what they produce: no input may panic, no decoder may grow its input, and the
//! variants of a value stay bounded in number and size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_detect::decode::{self, Decodings, MAX_VARIANTS};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for plus in [false, true] {
        assert!(
            decode::percent(raw, plus).len() <= raw.len(),
            "percent grew {raw:?}"
        );
    }
    assert!(
        decode::html_entities(raw).len() <= raw.len(),
        "html grew {raw:?}"
    );
    assert!(
        decode::js_escapes(raw).len() <= raw.len(),
        "js grew {raw:?}"
    );
    let _ = decode::base64_text(raw);
    let forms = decode::variants(
        raw,
        Decodings {
            plus_as_space: true,
            base64: true,
        },
    );
    assert!(forms.len() <= MAX_VARIANTS);
    assert!(
        forms.iter().all(|f| f.len() <= raw.len()),
        "a variant grew {raw:?}"
    );
    // The detectors run on every form, as the gateway will run them.
    for form in &forms {
        let _ = rampart_detect::xss::inspect(form, 2);
        let _ = rampart_detect::cmd::inspect(form);
        let _ = rampart_detect::path::inspect(form);
        let _ = rampart_detect::ssrf::inspect(form);
        let _ = rampart_detect::markers::nosql(form);
        let _ = rampart_detect::markers::nosql_key(form);
        let _ = rampart_detect::markers::ssti(form);
        let _ = rampart_detect::markers::xxe(form);
    }
});

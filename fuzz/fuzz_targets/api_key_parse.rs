//! API-key parsing: any input is either refused or yields a key whose id is its own
//! characters 5..17 and which reveals exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_auth::api_key::{ApiKey, KEY_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(text.len(), KEY_LEN);
        assert_eq!(key.reveal(), text);
        assert_eq!(key.id().as_str(), &text[5..17]);
    }
});

//! JWKS documents: any input is refused or yields a key set whose keys each accept only
//! algorithms their type allows, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_auth::jwk::{Algorithm, KeySet};

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = KeySet::from_jwks(data) else {
        return;
    };
    for alg in Algorithm::ALL {
        if let Some(key) = keys.select(None, alg) {
            assert!(key.allows(alg));
            // A verification with garbage never panics and never succeeds.
            assert!(!key.verify(alg, b"message", b"not a signature"));
        }
    }
});

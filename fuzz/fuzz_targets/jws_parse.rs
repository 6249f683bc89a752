//! Compact JWS and JWT claims: any input is refused or verified without panicking; an
//! accepted header names an allowed algorithm; the strict JSON parser never accepts an
//! object with a duplicate member.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_auth::jose::{Jws, strict_object};
use rampart_auth::jwk::{Algorithm, KeySet};
use rampart_auth::jwt::claimed_issuer;

fuzz_target!(|data: &[u8]| {
    if let Some(object) = strict_object(data) {
        // serde_json's own parser keeps the last of duplicate members; ours refuses them,
        // so the two must agree on every object we accept.
        let lax: serde_json::Value = serde_json::from_slice(data).expect("strict implies valid");
        assert_eq!(lax, serde_json::Value::Object(object));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = claimed_issuer(text);
    let allowed = [Algorithm::ES256, Algorithm::RS256];
    if let Ok(jws) = Jws::parse(text, &allowed) {
        assert!(allowed.contains(&jws.header.alg));
        // No key: verification must fail, never panic.
        assert!(jws.verify(&KeySet::default()).is_err());
    }
});

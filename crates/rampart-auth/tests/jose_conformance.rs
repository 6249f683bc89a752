//! Conformance of the JWS verifier against third-party vectors in ../shared/corpora:
//! every Project Wycheproof JSON Web Signature and JSON Web Key vector, and every JWS
//! example of RFC 7520 (the JOSE cookbook) and its Ed25519 companion (RFC 8037).
//!
//! No invalid vector may be accepted. A valid vector may be refused only when it lies
//! outside what rampart verifies by design (HMAC, ES512, JSON serialization, a key whose
//! own `alg` names another algorithm); every such refusal is counted and printed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rampart_auth::jose::Jws;
use rampart_auth::jwk::{Algorithm, KeySet, VerifyingKey};
use serde_json::Value;

fn corpora() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
}

fn read(path: &str) -> Value {
    let path = corpora().join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("corpus file missing: {} ({e})", path.display()));
    serde_json::from_str(&text).expect("corpus JSON")
}

/// The public half of a JWK: what an issuer publishes.
fn public(jwk: &Value) -> Value {
    let mut jwk = jwk.clone();
    if let Some(map) = jwk.as_object_mut() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            map.remove(private);
        }
    }
    jwk
}

fn key_set(keys: &Value) -> KeySet {
    match keys.get("keys") {
        Some(_) => {
            let public: Vec<Value> = keys["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(public)
                .collect();
            let doc = serde_json::json!({ "keys": public });
            KeySet::from_jwks(doc.to_string().as_bytes()).expect("jwks")
        }
        None => KeySet::from_keys(VerifyingKey::from_jwk(&public(keys)).ok()),
    }
}

fn verify(token: &str, keys: &KeySet) -> bool {
    Jws::parse(token, &Algorithm::ALL)
        .and_then(|jws| jws.verify(keys))
        .is_ok()
}

/// Why rampart refuses a vector the corpus calls valid, if the reason is by design.
fn outside_scope(token: &str, key: Option<&Value>) -> Option<String> {
    let header = token.split('.').next()?;
    let header = rampart_auth::jose::b64(header)?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    let alg = header.get("alg")?.as_str()?;
    if Algorithm::from_name(alg).is_none() {
        return Some(format!("algorithm {alg} (not verified by rampart)"));
    }
    let key_alg = key.and_then(|k| k.get("alg")).and_then(Value::as_str);
    if let Some(key_alg) = key_alg
        && key_alg != alg
    {
        return Some(format!("key says alg {key_alg}, token uses {alg}"));
    }
    None
}

#[derive(Default)]
struct Tally {
    valid_accepted: usize,
    invalid_rejected: usize,
    invalid_accepted: Vec<String>,
    valid_rejected_by_design: BTreeMap<String, usize>,
    valid_rejected: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: String, valid: bool, accepted: bool, by_design: Option<String>) {
        match (valid, accepted) {
            (true, true) => self.valid_accepted += 1,
            (false, false) => self.invalid_rejected += 1,
            (false, true) => self.invalid_accepted.push(name),
            (true, false) => match by_design {
                Some(reason) => *self.valid_rejected_by_design.entry(reason).or_default() += 1,
                None => self.valid_rejected.push(name),
            },
        }
    }

    fn report(&self, corpus: &str) {
        eprintln!(
            "{corpus}: valid accepted {}, invalid rejected {}, invalid accepted {}, valid refused by design {}, valid refused otherwise {}",
            self.valid_accepted,
            self.invalid_rejected,
            self.invalid_accepted.len(),
            self.valid_rejected_by_design.values().sum::<usize>(),
            self.valid_rejected.len()
        );
        for (reason, n) in &self.valid_rejected_by_design {
            eprintln!("  refused by design: {n} x {reason}");
        }
        assert!(
            self.invalid_accepted.is_empty(),
            "{corpus}: invalid vectors accepted: {:?}",
            self.invalid_accepted
        );
        assert!(
            self.valid_rejected.is_empty(),
            "{corpus}: valid vectors refused: {:?}",
            self.valid_rejected
        );
    }
}

fn wycheproof(file: &str) -> Tally {
    let doc = read(&format!("wycheproof-jose/{file}"));
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().expect("groups") {
        let key = group.get("public").or_else(|| group.get("private"));
        let keys = key.map(key_set).unwrap_or_default();
        for test in group["tests"].as_array().expect("tests") {
            let Some(token) = test["jws"].as_str() else {
                continue; // JWE vectors: not signatures.
            };
            let valid = test["result"] == "valid";
            let accepted = verify(token, &keys);
            let name = format!("tc{} {}", test["tcId"], test["comment"]);
            let by_design =
                outside_scope(token, key.filter(|k| k.get("keys").is_none())).or_else(|| {
                    // Keys rampart refuses to load (HMAC secrets, keys for other uses).
                    (valid && keys.is_empty()).then(|| "key type not used by rampart".to_owned())
                });
            tally.record(name, valid, accepted, by_design);
        }
    }
    tally
}

#[test]
fn wycheproof_json_web_signature_vectors() {
    let tally = wycheproof("json_web_signature_test.json");
    tally.report("wycheproof json_web_signature_test");
    assert!(tally.valid_accepted >= 25, "RS/PS/ES vectors must verify");
    assert!(tally.invalid_rejected >= 350);
}

#[test]
fn wycheproof_json_web_key_vectors() {
    let tally = wycheproof("json_web_key_test.json");
    tally.report("wycheproof json_web_key_test");
}

#[test]
fn wycheproof_json_web_crypto_signature_vectors() {
    let tally = wycheproof("json_web_crypto_test.json");
    tally.report("wycheproof json_web_crypto_test (JWS part)");
}

#[test]
fn rfc7520_and_rfc8037_jws_examples() {
    let mut tally = Tally::default();
    let files = [
        "jws/4_1.rsa_v15_signature.json",
        "jws/4_2.rsa-pss_signature.json",
        "jws/4_3.ecdsa_signature.json",
        "jws/4_4.hmac-sha2_integrity_protection.json",
        "jws/4_5.signature_with_detached_content.json",
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json",
        "curve25519/jws.json",
        "rfc7797/hmac-sha2_b64_false.json",
        "rfc7797/4.2.hmac-sha2_b64_false.json",
    ];
    for file in files {
        let doc = read(&format!("jose-cookbook-rfc7520/{file}"));
        let key = &doc["input"]["key"];
        let keys = if key.is_array() {
            KeySet::from_keys(
                key.as_array()
                    .expect("keys")
                    .iter()
                    .filter_map(|k| VerifyingKey::from_jwk(&public(k)).ok()),
            )
        } else {
            key_set(key)
        };
        match doc["output"]["compact"].as_str() {
            Some(token) => {
                let accepted = verify(token, &keys);
                let by_design = outside_scope(token, None).or_else(|| {
                    // A detached payload (4.5) has an empty middle part: compact JWTs
                    // always carry their claims.
                    token.contains("..").then(|| "detached payload".to_owned())
                });
                tally.record(file.to_owned(), true, accepted, by_design);
                // The same token, tampered with, must fail.
                if accepted {
                    let mut bad = token.to_owned();
                    let last = bad.pop().expect("non-empty");
                    bad.push(if last == 'A' { 'B' } else { 'A' });
                    tally.record(format!("{file} tampered"), false, verify(&bad, &keys), None);
                }
            }
            None => {
                *tally
                    .valid_rejected_by_design
                    .entry("JSON serialization only (rampart reads compact tokens)".to_owned())
                    .or_default() += 1;
            }
        }
    }
    // RFC 7520 §6: a JWS (PS256) nested inside a JWE; the inner JWS is compact.
    let nesting = read("jose-cookbook-rfc7520/6.nesting_signatures_and_encryption.json");
    let inner = &nesting["sign"];
    if let Some(token) = inner["output"]["compact"].as_str() {
        let keys = key_set(&inner["input"]["key"]);
        tally.record(
            "6 nested PS256".to_owned(),
            true,
            verify(token, &keys),
            None,
        );
    }
    tally.report("RFC 7520 / RFC 8037 JWS examples");
    assert!(
        tally.valid_accepted >= 3,
        "RS256, PS384 and EdDSA examples verify"
    );
}

/// Wycheproof's ROCA key (tc 7) lacks `kty`, so it is refused before the ROCA check
/// runs; with `kty` restored it must still be refused, for the fingerprint.
#[test]
fn the_roca_key_is_refused_for_its_fingerprint() {
    let doc = read("wycheproof-jose/json_web_key_test.json");
    let group = doc["testGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["tests"][0]["comment"] == "rejectsKeyWithRocaVulnerability")
        .expect("ROCA group");
    let mut key = group["public"]["keys"][0].clone();
    key["kty"] = "RSA".into();
    let err = VerifyingKey::from_jwk(&key).expect_err("ROCA key refused");
    assert!(err.to_string().contains("ROCA"), "{err}");
    // An ordinary RSA key of the signature corpus passes the same check.
    let signatures = read("wycheproof-jose/json_web_signature_test.json");
    let ordinary = signatures["testGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["public"]["kty"] == "RSA")
        .map(|g| g["public"].clone())
        .expect("an RSA key");
    VerifyingKey::from_jwk(&ordinary).expect("ordinary key loads");
}

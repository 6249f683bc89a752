//! A signing-key rotation at a real OpenID Provider (npm `oidc-provider`) in the middle of
//! traffic, and a flood of unknown key ids. The JWKS fetch counters it reads are
//! process-wide; it reads only those labelled with its own provider's issuer.

use std::time::Instant;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[tokio::test]
async fn a_signing_key_rotation_mid_traffic_fails_no_request_and_random_kids_are_throttled() {
    let rig = rig().await;
    // The gateway's first fetch of the keys, on its schedule. Were the first token to
    // arrive before it, that token's unknown kid would fetch them instead and start the
    // refetch throttle, and the rotation below would fall inside it.
    let issuer = format!("issuer=\"{}\"", rig.provider.issuer());
    let started = Instant::now();
    while rig
        .metric("rampart_jwks_fetches_total", &[&issuer, "result=\"ok\""])
        .await
        < 1.0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the gateway never fetched the provider's keys"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = rig.provider.token(API, "orders:read").await;
    assert_eq!(rig.call("GET", Some(&first)).await.status, 200);
    let old_kid = kid(&first);

    // Traffic: a fresh token for every request, before, during and after the rotation.
    let mut failures = Vec::new();
    let mut rotated = false;
    let mut new_kid_seen = 0;
    let start = Instant::now();
    for i in 0..60 {
        if i == 20 {
            rig.provider.rotate("RS256", true).await;
            rotated = true;
        }
        let token = rig.provider.token(API, "orders:read").await;
        let answer = rig.call("GET", Some(&token)).await;
        if answer.status != 200 {
            failures.push((i, answer.status, kid(&token)));
        }
        if rotated && kid(&token) != old_kid {
            new_kid_seen += 1;
        }
    }
    eprintln!(
        "60 requests across a key rotation in {:?}: {} failed, {new_kid_seen} signed with the new key",
        start.elapsed(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!(new_kid_seen >= 30, "the provider rotated its key");
    // The old key left the provider's JWKS, and so the gateway's: its tokens now fail.
    assert_eq!(rig.call("GET", Some(&first)).await.status, 401);

    // A flood of tokens naming random kids costs the provider at most one more fetch.
    let fetches = rig
        .metric("rampart_jwks_fetches_total", &[&issuer, "result=\"ok\""])
        .await;
    let body = first.split('.').nth(1).expect("payload");
    for i in 0..50 {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"random-{i}"}}"#));
        let forged = format!("{header}.{body}.c2ln");
        assert_eq!(rig.call("GET", Some(&forged)).await.status, 401);
    }
    let after = rig
        .metric("rampart_jwks_fetches_total", &[&issuer, "result=\"ok\""])
        .await;
    eprintln!(
        "JWKS fetches during a 50-token random-kid flood: {}",
        after - fetches
    );
    assert!(after - fetches <= 1.0, "{fetches} -> {after}");
    assert!(
        rig.metric(
            "rampart_jwks_fetches_total",
            &[&issuer, "result=\"throttled\""]
        )
        .await
            >= 49.0
    );
}

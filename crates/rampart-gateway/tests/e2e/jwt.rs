//! JWT access tokens end to end, against a real OpenID Provider nobody here wrote (npm
//! `oidc-provider`, started on loopback): discovery, JWKS, client-credentials tokens signed
//! RS256, PS256, ES256 and EdDSA, scopes, audiences and expiry.

use std::time::Duration;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_testkit::oidc::CLIENT_ID;

#[tokio::test]
async fn provider_tokens_are_verified_through_discovery_with_scopes_and_expiry() {
    let rig = rig().await;

    // Every algorithm the provider signs with, through discovery and the JWKS.
    for resource in [API, PS, ES, ED] {
        let token = rig.provider.token(resource, "orders:read").await;
        let answer = rig.call("GET", Some(&token)).await;
        assert_eq!(answer.status, 200, "{resource}: {}", answer.text());
        let seen = rig.upstream.last();
        assert_eq!(seen.headers["x-rampart-consumer"], CLIENT_ID);
        assert!(
            seen.headers.get("authorization").is_none(),
            "the token is not forwarded"
        );
    }

    // Authenticated, but without the scope the route requires: 403.
    let token = rig.provider.token(API, "orders:read").await;
    assert_eq!(rig.call("DELETE", Some(&token)).await.status, 403);
    let admin = rig.provider.token(API, "orders:read admin").await;
    assert_eq!(rig.call("DELETE", Some(&admin)).await.status, 200);
    let write_only = rig.provider.token(API, "orders:write").await;
    assert_eq!(rig.call("GET", Some(&write_only)).await.status, 403);

    // Every authentication failure: the same 401, RFC 6750 challenges without detail.
    let missing = rig.call("GET", None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"rampart\"")
    );
    let other_audience = rig.provider.token(OTHER_API, "orders:read").await;
    let tampered = tampered(&token);
    let forged_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        token.split('.').nth(1).expect("payload")
    );
    for bad in [other_audience.as_str(), "garbage", &forged_none, &tampered] {
        let answer = rig.call("GET", Some(bad)).await;
        assert_eq!(answer.status, 401, "{bad}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer realm=\"rampart\", error=\"invalid_token\"")
        );
        let mut a = answer.json();
        let mut b = missing.json();
        a["request_id"] = serde_json::Value::Null;
        b["request_id"] = serde_json::Value::Null;
        assert_eq!(a, b, "one body for every failure");
    }

    // A short-lived token works, then stops at exp (leeway 1 s), cached or not.
    let short = rig.provider.token(SHORT, "orders:read").await;
    assert_eq!(rig.call("GET", Some(&short)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(rig.call("GET", Some(&short)).await.status, 401);
}

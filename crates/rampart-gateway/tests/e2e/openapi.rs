//! OpenAPI validation end to end, through a real gateway to a real upstream, with the
//! Swagger Petstore v3 spec from the corpus: valid requests pass (bodies byte for byte);
//! invalid ones get a 400 (415 for a media type) naming each place and rule without the
//! value, before the upstream sees them; unknown operations are 404/405 unless allowed;
//! `strict` refuses mass assignment; the detector still runs after validation; a broken
//! spec is a config error keyed by the route.

use bytes::Bytes;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient};
use rampart_testkit::upstream::Upstream;

fn petstore() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/openapi-example-specs/swagger-petstore-v3/openapi.yaml");
    assert!(path.exists(), "the corpus is missing: {}", path.display());
    path.display().to_string()
}

struct Rig {
    _gateway: Gateway,
    admin: std::net::SocketAddr,
    upstream: Upstream,
    client: HttpClient,
    base: String,
}

/// Routes: `/v3/..` validates against the petstore spec (its server path is `/v3`);
/// `/strict/v3/..` the same, strict; `/open/v3/..` lets unknown operations through.
async fn rig() -> Rig {
    let upstream = Upstream::start().await;
    let spec = petstore();
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[abuse]
enabled = false
[[upstreams]]
name = "api"
url = "{upstream}"
openapi = "{spec}"
[[routes]]
name = "petstore"
path = "/v3/{{*rest}}"
upstream = "api"
auth = ["none"]
[[routes]]
name = "strict"
path = "/strict/v3/{{*rest}}"
upstream = "api"
auth = ["none"]
openapi = {{ spec = "{spec}", strict = true, base_path = "/strict/v3" }}
[[routes]]
name = "open"
path = "/open/v3/{{*rest}}"
upstream = "api"
auth = ["none"]
openapi = {{ spec = "{spec}", base_path = "/open/v3", unknown_operations = "allow" }}
"#,
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let base = format!("http://127.0.0.1:{}", gateway.listen.port());
    Rig {
        admin: gateway.admin,
        _gateway: gateway,
        upstream,
        client: HttpClient::new(None, false),
        base,
    }
}

impl Rig {
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("request");
        self.client.send(request).await.expect("exchange")
    }
}

/// A 400/415 as the client sees it: the places and rules, never the value sent.
fn assert_invalid(answer: &Answer, status: u16, expected: &[(&str, &str)], secret: &str) {
    let text = answer.text();
    assert_eq!(answer.status, status, "{text}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    let body = answer.json();
    let errors: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors member: {text}"))
        .iter()
        .map(|e| {
            (
                e["location"].as_str().unwrap_or("").to_owned(),
                e["rule"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (location, rule) in expected {
        assert!(
            errors.iter().any(|(l, r)| l == location && r == rule),
            "expected {location}: {rule} in {text}"
        );
    }
    assert!(
        !text.contains(secret),
        "the problem echoes the value: {text}"
    );
}

/// Method, target, content type, body, the status and the (location, rule) pairs expected.
type Case<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Vec<u8>,
    u16,
    Vec<(&'a str, &'a str)>,
);

#[tokio::test]
async fn requests_are_validated_against_the_spec_before_the_upstream() {
    let rig = rig().await;
    let json = Some("application/json");

    // Valid requests pass; the body reaches the upstream byte for byte.
    let ok = rig
        .send("GET", "/v3/pet/findByStatus?status=available", None, b"")
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let pet = br#"{"name":"rex","photoUrls":["https://example.com/rex.jpg"],"status":"available"}"#;
    let ok = rig.send("POST", "/v3/pet", json, pet).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(rig.upstream.last().body.as_ref(), pet);
    assert_eq!(rig.send("GET", "/v3/pet/10", None, b"").await.status, 200);
    let passed = rig.upstream.heads();

    // Invalid ones are refused, naming the place and the rule.
    let secret = "zebra-unicorn-42";
    let cases: Vec<Case> = vec![
        (
            "GET",
            format!("/v3/pet/findByStatus?status={secret}"),
            None,
            vec![],
            400,
            vec![("query.status", "enum")],
        ),
        (
            "GET",
            format!("/v3/pet/{secret}"),
            None,
            vec![],
            400,
            vec![("path.petId", "type")],
        ),
        (
            "GET",
            "/v3/pet/findByStatus?status=sold&status=available".into(),
            None,
            vec![],
            400,
            vec![("query.status", "duplicate")],
        ),
        (
            "POST",
            "/v3/pet".into(),
            json,
            format!(r#"{{"name":"{secret}"}}"#).into_bytes(),
            400,
            vec![("json.$.photoUrls", "required")],
        ),
        (
            "POST",
            "/v3/pet".into(),
            json,
            format!(r#"{{"name":"rex","photoUrls":"{secret}","status":"{secret}"}}"#).into_bytes(),
            400,
            vec![("json.$.photoUrls", "type"), ("json.$.status", "enum")],
        ),
        (
            "POST",
            "/v3/pet".into(),
            json,
            format!(r#"{{"name":"{secret}", "#).into_bytes(),
            400,
            vec![("json.$", "syntax")],
        ),
        (
            "POST",
            "/v3/pet".into(),
            Some("text/plain"),
            secret.as_bytes().to_vec(),
            415,
            vec![("header.Content-Type", "content_type")],
        ),
        (
            "POST",
            "/v3/pet".into(),
            json,
            vec![],
            400,
            vec![("body", "required")],
        ),
        (
            "GET",
            "/v3/pet/10".into(),
            Some("text/plain"),
            secret.as_bytes().to_vec(),
            400,
            vec![("body", "unexpected")],
        ),
    ];
    for (method, target, ct, body, status, expected) in &cases {
        let answer = rig.send(method, target, *ct, body).await;
        assert_invalid(&answer, *status, expected, secret);
    }
    assert_eq!(
        rig.upstream.heads(),
        passed,
        "a refused request reached the upstream"
    );

    // The spec is the allowlist.
    let unknown = rig.send("GET", "/v3/admin/users", None, b"").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let wrong_method = rig.send("PATCH", "/v3/pet", json, b"{}").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("PUT, POST"));
    assert_eq!(rig.upstream.heads(), passed);
    // ...unless the route lets unknown operations through (known ones are still checked).
    assert_eq!(
        rig.send("GET", "/open/v3/admin/users", None, b"")
            .await
            .status,
        200
    );
    assert_eq!(
        rig.send("GET", "/open/v3/pet/x", None, b"").await.status,
        400
    );

    // Strict: undeclared properties (mass assignment) and query parameters are refused.
    let extra = br#"{"name":"rex","photoUrls":[],"isAdmin":true}"#;
    assert_eq!(rig.send("POST", "/v3/pet", json, extra).await.status, 200);
    let strict = rig.send("POST", "/strict/v3/pet", json, extra).await;
    assert_invalid(
        &strict,
        400,
        &[("json.$.isAdmin", "unevaluatedProperties")],
        secret,
    );
    let nested = br#"{"name":"rex","photoUrls":[],"category":{"id":1,"owner":"me"}}"#;
    let strict = rig.send("POST", "/strict/v3/pet", json, nested).await;
    assert_invalid(
        &strict,
        400,
        &[("json.$.category.owner", "unevaluatedProperties")],
        secret,
    );
    let strict = rig
        .send(
            "GET",
            "/strict/v3/pet/findByStatus?status=sold&debug=1",
            None,
            b"",
        )
        .await;
    assert_invalid(
        &strict,
        400,
        &[("query.debug", "unknown_parameter")],
        secret,
    );

    // Validation comes first, then the detector reads the same (buffered) body.
    let attack = br#"{"name":"<script>alert(document.cookie)</script>","photoUrls":[]}"#;
    assert_eq!(rig.send("POST", "/v3/pet", json, attack).await.status, 403);

    let metrics = HttpClient::new(None, false)
        .get(&format!("http://{}/metrics", rig.admin))
        .await
        .text();
    assert!(
        metrics
            .contains(r#"rampart_openapi_rejected_total{route="petstore",code="openapi.invalid"}"#),
        "{metrics}"
    );
}

#[test]
fn a_broken_spec_is_a_config_error_keyed_by_the_route() {
    let dir = std::env::temp_dir().join(format!("rampart-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let spec = dir.join("broken.yaml");
    std::fs::write(&spec, "openapi: 3.0.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: 'https://evil.example/x.json'}\n").expect("write");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
[[upstreams]]
name = "api"
url = "http://127.0.0.1:1"
[[routes]]
name = "a"
path = "/a"
upstream = "api"
auth = ["none"]
openapi = "{}"
[[routes]]
name = "b"
path = "/b"
upstream = "api"
auth = ["none"]
openapi = {{ spec = "{}", unknown_operations = "sometimes" }}
"#,
        spec.display(),
        dir.join("missing.yaml").display()
    );
    match Config::from_toml_str(&text) {
        Err(e) => assert!(
            e.to_string()
                .contains("routes[1].openapi.unknown_operations"),
            "{e}"
        ),
        Ok(_) => panic!("an unknown unknown_operations value was accepted"),
    }
    let text = text.replace(", unknown_operations = \"sometimes\"", "");
    let config = Config::from_toml_str(&text).expect("the config itself is valid");
    let errors = rampart_gateway::server::prepare(&config).expect_err("the specs are refused");
    let all = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("routes[0].openapi") && all.contains("not local"),
        "{all}"
    );
    assert!(
        all.contains("routes[1].openapi") && all.contains("cannot read"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

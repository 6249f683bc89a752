//! Opaque tokens checked by RFC 7662 introspection at a real OpenID Provider (npm
//! `oidc-provider`): the gateway authenticates to the endpoint as its own client, caches
//! answers briefly, sees a revocation within the cache TTL, shares a route with JWTs, and
//! fails closed (503) when the endpoint is down.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, TestCert};
use rampart_testkit::oidc::{CLIENT_ID, GATEWAY_CLIENT_ID, GATEWAY_CLIENT_SECRET, Provider};
use rampart_testkit::upstream::Upstream;

const OPAQUE: &str = "https://opaque.rampart.test";
const API: &str = "https://api.rampart.test";

fn config(cert: &TestCert, upstream: &Upstream, provider_base: &str, secret_mode: u32) -> String {
    let secret = cert
        .dir
        .join(format!("introspection-{secret_mode:o}.secret"));
    std::fs::write(&secret, format!("{GATEWAY_CLIENT_SECRET}\n")).expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(secret_mode)).expect("chmod");
    format!(
        r#"[server]
listen = "127.0.0.1:0"
tls = {{ cert = "{cert}", key = "{key}" }}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[introspection]
url = "{provider_base}/token/introspection"
client_id = "{GATEWAY_CLIENT_ID}"
client_secret_file = "{secret}"
audiences = ["{OPAQUE}"]
cache_ttl = "1s"
negative_ttl = "1s"
[[jwt_issuers]]
issuer = "{provider_base}"
audiences = ["{API}"]
discovery_url = "{provider_base}/.well-known/openid-configuration"
algorithms = ["RS256"]
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "read"
path = "/v1/orders/{{id}}"
methods = ["GET"]
upstream = "api"
auth = ["jwt", "introspection"]
scopes = ["orders:read"]
"#,
        cert = cert.cert.display(),
        key = cert.key.display(),
        secret = secret.display(),
        upstream = upstream.url(),
    )
}

async fn call(client: &HttpClient, url: &str, token: &str) -> Answer {
    let request = http::Request::get(url)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    client.send(request).await.expect("exchange")
}

#[tokio::test]
async fn opaque_tokens_are_introspected_cached_briefly_and_revocable() {
    let provider = Provider::start(2);
    provider.ready(Duration::from_secs(20)).await;
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let text = config(&cert, &upstream, &provider.issuer(), 0o600);
    let gateway = Gateway::start(Config::from_toml_str(&text).expect("config"))
        .await
        .expect("gateway starts");
    let client = HttpClient::new(Some(&cert.cert), false);
    let url = format!("https://localhost:{}/v1/orders/3", gateway.listen.port());

    let opaque = provider.token(OPAQUE, "orders:read").await;
    assert_eq!(opaque.matches('.').count(), 0, "an opaque token: {opaque}");
    let answer = call(&client, &url, &opaque).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = upstream.last();
    assert_eq!(seen.headers["x-rampart-consumer"], CLIENT_ID);
    assert!(seen.headers.get("authorization").is_none());

    // A JWT on the same route goes to the JWT verifier.
    let jwt = provider.token(API, "orders:read").await;
    assert_eq!(call(&client, &url, &jwt).await.status, 200);

    // Unknown, or without the scope.
    let unknown = call(&client, &url, "not-a-real-token-0123456789").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.header("www-authenticate"),
        Some("Bearer realm=\"rampart\", error=\"invalid_token\"")
    );
    let write_only = provider.token(OPAQUE, "orders:write").await;
    assert_eq!(call(&client, &url, &write_only).await.status, 403);

    // Revoked at the provider: refused once the cached answer (1 s) runs out.
    provider.revoke(&opaque).await;
    let start = Instant::now();
    while call(&client, &url, &opaque).await.status != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "revocation not seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("revoked opaque token refused after {:?}", start.elapsed());
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_closed_and_a_readable_secret_is_refused() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    };
    // The JWKS cannot be fetched either; only introspection is exercised here.
    let text = config(&cert, &upstream, &closed, 0o600);
    let gateway = Gateway::start(Config::from_toml_str(&text).expect("config"))
        .await
        .expect("gateway starts");
    let client = HttpClient::new(Some(&cert.cert), false);
    let url = format!("https://localhost:{}/v1/orders/3", gateway.listen.port());
    let answer = call(&client, &url, "an-opaque-token").await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(upstream.seen().is_empty(), "nothing reached the upstream");

    let exposed = config(&cert, &upstream, &closed, 0o644);
    let err = Gateway::start(Config::from_toml_str(&exposed).expect("config"))
        .await
        .err()
        .expect("a secret others can read is refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

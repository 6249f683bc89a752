//! Shared by the JWT test modules: a gateway in front of a real upstream, trusting a real
//! OpenID Provider through discovery.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, TestCert};
use rampart_testkit::oidc::Provider;
use rampart_testkit::upstream::Upstream;

pub const API: &str = "https://api.rampart.test";
pub const PS: &str = "https://ps.rampart.test";
pub const ES: &str = "https://es.rampart.test";
pub const ED: &str = "https://ed.rampart.test";
pub const SHORT: &str = "https://short.rampart.test";
/// Issued by the provider, but not an audience of this gateway.
pub const OTHER_API: &str = "https://es384.rampart.test";

pub struct Rig {
    pub gateway: Gateway,
    pub upstream: Upstream,
    pub client: HttpClient,
    pub base: String,
    pub provider: Provider,
}

pub async fn rig() -> Rig {
    let provider = Provider::start(2);
    provider.ready(Duration::from_secs(20)).await;
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
tls = {{ cert = "{cert}", key = "{key}" }}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
# These tests send many bad tokens from one address on purpose (to prove the JWKS refresh
# throttle); brute-force bans, which would cut them short, are tested in abuse.rs.
[abuse]
enabled = false

[[jwt_issuers]]
issuer = "{issuer}"
audiences = ["{API}", "{PS}", "{ES}", "{ED}", "{SHORT}"]
discovery_url = "{discovery}"
algorithms = ["RS256", "PS256", "ES256", "ES384", "EdDSA"]
leeway = "1s"

[[upstreams]]
name = "api"
url = "{upstream}"

[[routes]]
name = "read"
path = "/v1/orders/{{id}}"
methods = ["GET"]
upstream = "api"
auth = ["jwt"]
scopes = ["orders:read"]

[[routes]]
name = "admin"
path = "/v1/orders/{{id}}"
methods = ["DELETE"]
upstream = "api"
auth = ["jwt"]
scopes = ["admin"]
"#,
        cert = cert.cert.display(),
        key = cert.key.display(),
        issuer = provider.issuer(),
        discovery = provider.discovery_url(),
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{}", gateway.listen.port());
    // Kept alive for the rig's life: the certificate files are read at start only.
    std::mem::forget(cert);
    Rig {
        gateway,
        upstream,
        client,
        base,
        provider,
    }
}

impl Rig {
    pub async fn call(&self, method: &str, token: Option<&str>) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}/v1/orders/7", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::new())).expect("request");
        self.client.send(request).await.expect("exchange")
    }

    /// The sum of the samples of metric `name` that carry every one of `labels` (each
    /// `key="value"`). The metrics are process-wide and this binary runs many gateways, so
    /// a test names labels that only its own gateway's samples carry.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let url = format!("http://{}/metrics", self.gateway.admin);
        let text = HttpClient::new(None, false).get(&url).await.text();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
            .filter(|l| labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

pub fn kid(token: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().expect("header"))
        .expect("base64");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

/// The token with one signature character changed.
pub fn tampered(token: &str) -> String {
    let at = token.rfind('.').expect("signature") + 10;
    let mut out = token.to_owned();
    let replacement = if &token[at..at + 1] == "A" { "B" } else { "A" };
    out.replace_range(at..at + 1, replacement);
    out
}

//! Injection detection end to end, through a real gateway to a real upstream: attacks in
//! every place a request carries values are refused with the generic 403 before the
//! upstream sees them; ordinary requests pass with their bodies forwarded byte for byte
//! (chunked ones too); `log_only`, `off` and exclusions behave as configured; and the
//! decisions show in the metrics.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, raw_exchange, statuses};
use rampart_testkit::upstream::Upstream;

struct Rig {
    gateway: Gateway,
    upstream: Upstream,
    client: HttpClient,
    base: String,
}

/// Routes (all public, upstream "api"): `/strict/{*rest}` blocks at level 1, `/logged/..`
/// only logs, `/off/..` does not inspect, `/tuned/..` excludes SQL rules at `json.$.query`
/// and `query.sql`.
async fn rig(server_extra: &str) -> Rig {
    let upstream = Upstream::start().await;
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
{server_extra}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[abuse]
enabled = false
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "strict"
path = "/strict/{{*rest}}"
upstream = "api"
auth = ["none"]
[[routes]]
name = "logged"
path = "/logged/{{*rest}}"
upstream = "api"
auth = ["none"]
injection = "log_only"
[[routes]]
name = "off"
path = "/off/{{*rest}}"
upstream = "api"
auth = ["none"]
injection = {{ mode = "off" }}
[[routes]]
name = "tuned"
path = "/tuned/{{*rest}}"
upstream = "api"
auth = ["none"]
injection = {{ exclusions = [{{ rule = "sqli.*", location = "json.$.query" }}, {{ rule = "sqli.*", location = "query.sql" }}] }}
"#,
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let base = format!("http://127.0.0.1:{}", gateway.listen.port());
    Rig {
        gateway,
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
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("request");
        self.client.send(request).await.expect("exchange")
    }

    async fn metrics(&self) -> String {
        HttpClient::new(None, false)
            .get(&format!("http://{}/metrics", self.gateway.admin))
            .await
            .text()
    }
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

type Headers<'a> = Vec<(&'a str, &'a str)>;

/// Method, target, headers, body, and what the case is about.
type Case<'a> = (&'a str, String, Headers<'a>, Vec<u8>, &'a str);

/// A refusal as the client sees it: 403, the generic problem, nothing of the request.
fn assert_blocked(answer: &Answer, payload: &str, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["title"], "Forbidden", "{what}");
    assert_eq!(body["status"], 403, "{what}");
    let text = answer.text();
    for piece in payload.split_whitespace().filter(|p| p.len() > 3) {
        assert!(
            !text.contains(piece),
            "{what}: the problem echoes {piece:?}"
        );
    }
}

#[tokio::test]
async fn attacks_in_every_place_are_refused_before_the_upstream() {
    let rig = rig("").await;
    let multipart = b"--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n--b0undary\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"../../../../etc/passwd\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b0undary--\r\n";
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/strict/search?q=1%27%20OR%20%271%27%3D%271".into(),
            vec![],
            vec![],
            "query value",
        ),
        (
            "GET",
            "/strict/search?q=x&debug%5B%24where%5D=sleep(100)".into(),
            vec![],
            vec![],
            "query key",
        ),
        (
            "GET",
            "/strict/items/1%20union%20select%20password%20from%20users".into(),
            vec![],
            vec![],
            "path segment",
        ),
        (
            "GET",
            "/strict/items".into(),
            vec![("user-agent", "<script>alert(document.cookie)</script>")],
            vec![],
            "header",
        ),
        (
            "GET",
            "/strict/items".into(),
            vec![("cookie", "theme=dark; prefs=x%27%3B%20DROP%20TABLE%20users--")],
            vec![],
            "cookie",
        ),
        (
            "POST",
            "/strict/users".into(),
            vec![("content-type", "application/json")],
            br#"{"user":{"name":"<img src=x onerror=alert(1)>","age":3}}"#.to_vec(),
            "JSON value",
        ),
        (
            "POST",
            "/strict/login".into(),
            vec![("content-type", "application/json")],
            br#"{"user":"admin","password":{"$ne":""}}"#.to_vec(),
            "JSON key",
        ),
        (
            "POST",
            "/strict/form".into(),
            vec![("content-type", "application/x-www-form-urlencoded")],
            b"name=bob&host=127.0.0.1%3Bcat+%2Fetc%2Fpasswd".to_vec(),
            "urlencoded form",
        ),
        (
            "POST",
            "/strict/upload".into(),
            vec![("content-type", "multipart/form-data; boundary=b0undary")],
            multipart.to_vec(),
            "multipart file name",
        ),
        (
            "POST",
            "/strict/import".into(),
            vec![("content-type", "application/xml")],
            br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#
                .to_vec(),
            "XML entity",
        ),
        (
            "POST",
            "/strict/hook".into(),
            vec![("content-type", "application/json")],
            br#"{"callback":"http://169.254.169.254/latest/meta-data/"}"#.to_vec(),
            "SSRF target",
        ),
        (
            "POST",
            "/strict/render".into(),
            vec![("content-type", "text/plain")],
            b"{{7*7}}{{config.__class__.__init__.__globals__}}".to_vec(),
            "template in a text body",
        ),
    ];
    let before = rig.upstream.heads();
    for (method, path, headers, body, what) in &cases {
        let answer = rig.send(method, path, headers, body).await;
        assert_blocked(&answer, &String::from_utf8_lossy(body), what);
    }
    assert_eq!(
        rig.upstream.heads(),
        before,
        "an attack reached the upstream"
    );
    let metrics = rig.metrics().await;
    let blocked = metric(
        &metrics,
        "rampart_injection_total{route=\"strict\",decision=\"blocked\"}",
    );
    assert_eq!(blocked, cases.len() as f64, "{metrics}");
    assert!(metrics.contains("rampart_injection_rule_hits_total{rule=\"nosql.operator_key\"}"));
}

#[tokio::test]
async fn ordinary_requests_pass_with_their_bodies_intact() {
    let rig = rig("").await;
    let json = br#"{"title":"O'Reilly & Sons: \"Fish\" and chips","tags":["a-b","c/d"],"price":9.99,"note":"Call me at 5pm; or tomorrow.","url":"https://example.com/a?b=c"}"#;
    let cases: Vec<(&str, &str, Headers, &[u8])> = vec![
        (
            "GET",
            "/strict/search?q=caf%C3%A9+au+lait&page=2&sort=-date&email=a%40b.example",
            vec![
                (
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
                ),
                ("referer", "http://localhost:3000/app?tab=1"),
                ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
                ("cookie", "session=abc123; theme=dark"),
            ],
            b"",
        ),
        (
            "POST",
            "/strict/items",
            vec![("content-type", "application/json")],
            json,
        ),
        (
            "POST",
            "/strict/form",
            vec![("content-type", "application/x-www-form-urlencoded")],
            b"comment=I+think+it%27s+fine%2C+isn%27t+it%3F&rating=5",
        ),
    ];
    for (method, path, headers, body) in cases {
        let answer = rig.send(method, path, &headers, body).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        let seen = rig.upstream.last();
        assert_eq!(&seen.body[..], body, "{path}: the upstream got other bytes");
        if !body.is_empty() {
            assert_eq!(
                seen.headers["content-length"].to_str().expect("ASCII"),
                body.len().to_string()
            );
        }
    }

    // A chunked body is read whole, inspected, and forwarded with its length.
    let raw = raw_exchange(
        rig.gateway.listen,
        &chunked(&[b"{\"a\":\"b\"", b"}"]),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        statuses(&raw),
        vec![200],
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let seen = rig.upstream.last();
    assert_eq!(&seen.body[..], b"{\"a\":\"b\"}");
    assert_eq!(seen.headers["content-length"], "9");
    assert!(seen.headers.get("transfer-encoding").is_none());

    // The same attack in chunks is refused.
    let raw = raw_exchange(
        rig.gateway.listen,
        &chunked(&[b"{\"a\":\"' or ", b"'1'='1'--\"}"]),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        statuses(&raw),
        vec![403],
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

/// A JSON POST to `/strict/items` sent in these chunks.
fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = b"POST /strict/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for chunk in chunks {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn log_only_off_and_exclusions_let_requests_through_as_configured() {
    let rig = rig("").await;
    let attack = "/search?q=1%20union%20select%20password%20from%20users";
    for route in ["logged", "off"] {
        let answer = rig
            .send("GET", &format!("/{route}{attack}"), &[], b"")
            .await;
        assert_eq!(answer.status, 200, "{route}");
    }
    let metrics = rig.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "rampart_injection_total{route=\"logged\",decision=\"logged\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert!(!metrics.contains("route=\"off\",decision"), "{metrics}");

    // Excluded where configured, refused everywhere else, and for other classes there.
    let sql = br#"{"query":"x' or '1'='1"}"#;
    let json = [("content-type", "application/json")];
    assert_eq!(rig.send("POST", "/tuned/run", &json, sql).await.status, 200);
    let other = br#"{"name":"x' or '1'='1"}"#;
    assert_eq!(
        rig.send("POST", "/tuned/run", &json, other).await.status,
        403
    );
    let xss = br#"{"query":"<script>alert(1)</script>"}"#;
    assert_eq!(rig.send("POST", "/tuned/run", &json, xss).await.status, 403);
    let answer = rig
        .send("GET", "/tuned/run?sql=1'+or+'1'='1", &[], b"")
        .await;
    assert_eq!(answer.status, 200);
    let answer = rig.send("GET", "/tuned/run?q=1'+or+'1'='1", &[], b"").await;
    assert_eq!(answer.status, 403);
}

#[tokio::test]
async fn bodies_are_read_within_the_limits_and_binary_bytes_skipped() {
    let rig = rig("max_body_bytes = 1024").await;
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(2000));
    let raw = format!(
        "POST /strict/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let answer = raw_exchange(rig.gateway.listen, raw.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(
        statuses(&answer),
        vec![413],
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Images are not text: their bytes are not read for attacks.
    let png = b"\x89PNG\r\n\x1a\n<script>alert(1)</script>";
    let answer = rig
        .send(
            "POST",
            "/strict/avatar",
            &[("content-type", "image/png")],
            png,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(&rig.upstream.last().body[..], png);

    // Two media types are refused before either is believed: the detector might read the
    // body as the first, the upstream as the second.
    let raw = "POST /strict/items HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    let seen = rig.upstream.heads();
    let answer = raw_exchange(rig.gateway.listen, raw.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(
        statuses(&answer),
        vec![400],
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(rig.upstream.heads(), seen, "never forwarded");

    // A coded body cannot be read by the detector, and the upstream might decode it: 415,
    // never forwarded. `identity` is no coding at all.
    for coding in ["gzip", "br", "identity, gzip"] {
        let raw = format!(
            "POST /strict/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let answer = raw_exchange(rig.gateway.listen, raw.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(
            statuses(&answer),
            vec![415],
            "{coding}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(String::from_utf8_lossy(&answer).contains("unsupported-media-type"));
    }
    assert_eq!(rig.upstream.heads(), seen, "never forwarded");
    let answer = rig
        .send(
            "POST",
            "/strict/items",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "identity"),
            ],
            br#"{"name":"plain"}"#,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());

    // Claiming a binary type does not hide a text body.
    // (On the tuned route, whose exclusions are SQL only: the strict route's block count is
    // another test's to assert.)
    let answer = rig
        .send(
            "POST",
            "/tuned/avatar",
            &[("content-type", "image/png")],
            br#"{"name":"<img src=x onerror=alert(1)>"}"#,
        )
        .await;
    assert_eq!(answer.status, 403);
}

//! The gateway end to end: a real upstream, the real gateway on ephemeral ports, real clients
//! over real sockets (TLS with ALPN, raw TCP for byte-exact requests).
//!
//! Each test names the behaviour a user relies on; each would fail without the feature.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, TestCert, raw_exchange, statuses};
use rampart_testkit::upstream::{LEAKED_SECRET, Upstream};

/// A gateway under test with its upstream and a client that trusts its certificate.
struct Rig {
    gateway: Gateway,
    upstream: Upstream,
    cert: TestCert,
    client: HttpClient,
    base: String,
}

/// Routes used by most tests; `{upstream}` is replaced by the upstream's URL.
const ROUTES: &str = r#"
[[upstreams]]
name = "api"
url = "{upstream}"
request_timeout = "500ms"

[[routes]]
name = "orders-read"
path = "/v1/orders/{id}"
methods = ["GET"]
upstream = "api"
auth = ["none"]

[[routes]]
name = "orders-write"
path = "/v1/orders"
methods = ["POST"]
upstream = "api"
auth = ["none"]
cors = { allow_origins = ["https://app.example.com"], allow_methods = ["POST"], allow_headers = ["content-type"], allow_credentials = true }

[[routes]]
name = "status"
path = "/status/{code}"
upstream = "api"
auth = ["none"]

[[routes]]
name = "slow"
path = "/slow/{ms}"
upstream = "api"
auth = ["none"]

[[routes]]
name = "files"
path = "/files/{*rest}"
upstream = "api"
auth = ["none"]
"#;

impl Rig {
    /// TLS gateway with `server_extra` added to `[server]` and `rest` appended.
    async fn start(server_extra: &str, rest: &str) -> Rig {
        let upstream = Upstream::start().await;
        let cert = TestCert::generate();
        let text = Rig::config_text(&upstream, &cert, server_extra, rest);
        let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let gateway = Gateway::start(config).await.expect("gateway starts");
        let client = HttpClient::new(Some(&cert.cert), false);
        let base = format!("https://localhost:{}", gateway.listen.port());
        Rig {
            gateway,
            upstream,
            cert,
            client,
            base,
        }
    }

    fn config_text(upstream: &Upstream, cert: &TestCert, server_extra: &str, rest: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls = {{ cert = \"{}\", key = \"{}\" }}\n{server_extra}\n[admin]\nlisten = \"127.0.0.1:0\"\n[log]\naccess = \"off\"\n{}\n{rest}",
            cert.cert.display(),
            cert.key.display(),
            ROUTES.replace("{upstream}", &upstream.url()),
        )
    }

    async fn get(&self, path: &str) -> Answer {
        self.client.get(&format!("{}{path}", self.base)).await
    }

    async fn send(&self, request: http::request::Builder, body: &[u8]) -> Answer {
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("request");
        self.client.send(request).await.expect("request failed")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A plaintext gateway (for byte-exact raw TCP tests).
async fn plain_gateway(server_extra: &str, rest: &str) -> (Gateway, Upstream) {
    let upstream = Upstream::start().await;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server_extra}\n[admin]\nlisten = \"127.0.0.1:0\"\n[log]\naccess = \"off\"\n{}\n{rest}",
        ROUTES.replace("{upstream}", &upstream.url()),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    (gateway, upstream)
}

fn assert_problem(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    let json = answer.json();
    assert_eq!(json["status"], status);
    let id = answer.header("x-request-id").expect("x-request-id");
    assert_eq!(json["request_id"], id);
    assert!(
        json["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:rampart:problem:"))
    );
    assert!(json["title"].is_string());
}

fn assert_security_headers(answer: &Answer, tls: bool) {
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert!(answer.header("cache-control").is_some());
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| id.len() == 24)
    );
    if tls {
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
    } else {
        assert_eq!(answer.header("strict-transport-security"), None);
    }
}

// ---------------------------------------------------------------------------------------
// 2. Reverse proxy
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn proxies_http1_over_tls_with_request_id_and_forwarding_headers() {
    let rig = Rig::start("", "").await;
    let request = Request::get(rig.url("/v1/orders/42?expand=items"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .header("x-request-id", "client-chosen-id");
    let answer = rig.send(request, b"").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.version, http::Version::HTTP_11);
    let seen = rig.upstream.last();
    assert_eq!(seen.target, "/v1/orders/42?expand=items");
    let id = answer.header("x-request-id").expect("request id");
    assert_eq!(
        seen.headers["x-request-id"], id,
        "upstream and client see one id"
    );
    assert_ne!(id, "client-chosen-id");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
    assert!(!seen.headers.contains_key("x-real-ip"));
    let forwarded = seen.headers["forwarded"].to_str().expect("ascii");
    assert!(
        forwarded.starts_with("for=127.0.0.1;proto=https;host="),
        "{forwarded}"
    );
    assert_eq!(seen.headers["host"], rig.upstream.addr.to_string());
}

#[tokio::test]
async fn speaks_http2_when_alpn_negotiates_it() {
    let rig = Rig::start("", "").await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    let answer = h2.get(&rig.url("/v1/orders/7")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_security_headers(&answer, true);
    // Upstreams always get HTTP/1.1.
    assert_eq!(rig.upstream.last().target, "/v1/orders/7");
    // Deny by default holds on HTTP/2 as well.
    let missing = h2.get(&rig.url("/nope")).await;
    assert_problem(&missing, 404);
    let traversal = h2.get(&rig.url("/v1/orders/%2e%2e%2fadmin")).await;
    assert_problem(&traversal, 400);
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_kept_alive() {
    let rig = Rig::start("", "").await;
    for i in 0..10 {
        assert_eq!(rig.get(&format!("/v1/orders/{i}")).await.status, 200);
    }
    assert_eq!(rig.upstream.seen().len(), 10);
    assert!(
        rig.upstream.connections() <= 2,
        "10 sequential requests used {} upstream connections",
        rig.upstream.connections()
    );
}

#[tokio::test]
async fn routes_reach_their_own_upstreams() {
    let other = Upstream::start().await;
    let extra = format!(
        "[[upstreams]]\nname = \"users\"\nurl = \"{}/base\"\n\n[[routes]]\nname = \"users\"\npath = \"/v1/users/{{id}}\"\nmethods = [\"GET\"]\nupstream = \"users\"\nauth = [\"none\"]\n",
        other.url()
    );
    let rig = Rig::start("", &extra).await;
    assert_eq!(rig.get("/v1/users/5").await.status, 200);
    assert_eq!(other.last().target, "/base/v1/users/5");
    assert!(rig.upstream.seen().is_empty());
    // One segment only: /v1/orders/{id} does not match a deeper path.
    assert_problem(&rig.get("/v1/orders/5/items").await, 404);
    // A catch-all matches the rest.
    assert_eq!(rig.get("/files/a/b/c.txt").await.status, 200);
    assert_eq!(rig.upstream.last().target, "/files/a/b/c.txt");
}

#[tokio::test]
async fn hop_by_hop_headers_and_connection_named_headers_are_removed() {
    let (gateway, upstream) = plain_gateway("", "").await;
    let request = b"GET /v1/orders/1 HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nTE: trailers\r\nX-Kept: yes\r\nConnection: close\r\n\r\n";
    let raw = raw_exchange(gateway.listen, request, Duration::from_secs(2)).await;
    assert_eq!(statuses(&raw), [200]);
    let seen = upstream.last();
    for gone in ["x-secret-hop", "keep-alive", "proxy-authorization", "te"] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone} reached the upstream"
        );
    }
    assert_eq!(seen.headers["x-kept"], "yes");
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_kept_and_appended() {
    let (gateway, upstream) = plain_gateway("trusted_proxies = [\"127.0.0.0/8\"]", "").await;
    let request = b"GET /v1/orders/1 HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    let raw = raw_exchange(gateway.listen, request, Duration::from_secs(2)).await;
    assert_eq!(statuses(&raw), [200]);
    let seen = upstream.last();
    assert_eq!(seen.headers["x-forwarded-for"], "198.51.100.7, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn upstream_timeouts_and_failures_are_generic_504_and_502() {
    let rig = Rig::start(
        "",
        "[[upstreams]]\nname = \"dead\"\nurl = \"http://127.0.0.1:1\"\nconnect_timeout = \"300ms\"\n\n[[routes]]\nname = \"dead\"\npath = \"/dead\"\nupstream = \"dead\"\nauth = [\"none\"]\n",
    )
    .await;
    let slow = rig.get("/slow/3000").await;
    assert_problem(&slow, 504);
    let dead = rig.get("/dead").await;
    assert_problem(&dead, 502);
    for answer in [&slow, &dead] {
        let text = answer.text();
        assert!(
            !text.contains("127.0.0.1"),
            "internal address leaked: {text}"
        );
        assert!(!text.to_lowercase().contains("refused"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Deny by default
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn no_route_is_404_and_a_wrong_method_is_405_with_allow() {
    let rig = Rig::start("", "").await;
    let missing = rig.get("/admin").await;
    assert_problem(&missing, 404);
    assert_security_headers(&missing, true);
    let wrong = rig
        .send(Request::delete(rig.url("/v1/orders/1")), b"")
        .await;
    assert_problem(&wrong, 405);
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));
    assert!(
        rig.upstream.seen().is_empty(),
        "nothing may reach the upstream"
    );
}

// ---------------------------------------------------------------------------------------
// 4. TLS
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tls12_and_tls13_only_with_aead_suites() {
    let rig = Rig::start("", "").await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in rampart_gateway::tls::read_certs(&rig.cert.cert).expect("cert") {
            roots.add(c).expect("root");
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .expect("version")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(rig.gateway.listen)
            .await
            .expect("tcp");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, tcp).await.expect("handshake");
        let (_, session) = tls.get_ref();
        let suite = session.negotiated_cipher_suite().expect("suite");
        let suite_name = format!("{:?}", suite.suite());
        assert!(
            suite_name.contains("GCM") || suite_name.contains("CHACHA20_POLY1305"),
            "{suite_name}"
        );
        if *version == rustls::version::TLS12 {
            assert!(suite_name.starts_with("TLS_ECDHE_"), "{suite_name}");
        }
    }
}

#[tokio::test]
async fn certificate_and_key_reload_without_restart() {
    let rig = Rig::start("", "").await;
    assert_eq!(rig.get("/v1/orders/1").await.status, 200);
    // Replace the files with a new pair, then reload: new handshakes present the new one.
    let old = std::fs::read(&rig.cert.cert).expect("old cert");
    TestCert::write(&rig.cert.cert, &rig.cert.key);
    assert_ne!(old, std::fs::read(&rig.cert.cert).expect("new cert"));
    let text = Rig::config_text(&rig.upstream, &rig.cert, "", "");
    rig.gateway
        .reload(Config::from_toml_str(&text).expect("config"))
        .expect("reload");
    let fresh = HttpClient::new(Some(&rig.cert.cert), false);
    assert_eq!(fresh.get(&rig.url("/v1/orders/1")).await.status, 200);

    // A broken key is refused and the current certificate keeps serving.
    std::fs::write(&rig.cert.key, b"not a key").expect("write");
    let refused = rig
        .gateway
        .reload(Config::from_toml_str(&text).expect("config"));
    assert!(refused.is_err());
    let again = HttpClient::new(Some(&rig.cert.cert), false);
    assert_eq!(again.get(&rig.url("/v1/orders/2")).await.status, 200);
}

#[tokio::test]
async fn plain_http_listener_only_redirects_to_https() {
    let rig = Rig::start("http_redirect_listen = \"127.0.0.1:0\"", "").await;
    let redirect = rig.gateway.http_redirect.expect("redirect listener");
    let raw = raw_exchange(
        redirect,
        b"GET /v1/orders/1?x=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 308"), "{text}");
    let location = format!(
        "location: https://api.example.com:{}/v1/orders/1?x=1",
        rig.gateway.listen.port()
    );
    assert!(text.to_lowercase().contains(&location), "{text}");
    assert!(rig.upstream.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// 5. Secure headers and CORS
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn security_headers_on_every_response_and_fingerprints_removed() {
    let rig = Rig::start("", "").await;
    let ok = rig.get("/v1/orders/1").await;
    assert_eq!(ok.status, 200);
    assert_security_headers(&ok, true);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    for gone in [
        "server",
        "x-powered-by",
        "x-aspnet-version",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "x-internal-hop",
    ] {
        assert!(ok.header(gone).is_none(), "{gone} leaked");
    }
    let error = rig.get("/nothing-here").await;
    assert_security_headers(&error, true);

    let (plain, _) = plain_gateway("", "").await;
    let raw = raw_exchange(
        plain.listen,
        b"GET /v1/orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let text = String::from_utf8_lossy(&raw).to_lowercase();
    assert!(text.contains("x-content-type-options: nosniff"));
    assert!(
        !text.contains("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_gateway_from_the_allowlist() {
    let rig = Rig::start("", "").await;
    let preflight = |origin: &str| {
        Request::options(rig.url("/v1/orders"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let allowed = rig.send(preflight("https://app.example.com"), b"").await;
    assert_eq!(allowed.status, 204);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(allowed.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(allowed.header("vary"), Some("Origin"));
    let denied = rig.send(preflight("https://evil.example"), b"").await;
    assert_problem(&denied, 403);
    assert!(denied.header("access-control-allow-origin").is_none());
    assert!(
        rig.upstream.seen().is_empty(),
        "preflights never reach the upstream"
    );

    let post = rig
        .send(
            Request::post(rig.url("/v1/orders")).header("origin", "https://app.example.com"),
            b"{}",
        )
        .await;
    assert_eq!(post.status, 200);
    assert_eq!(
        post.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let cross = rig
        .send(
            Request::post(rig.url("/v1/orders")).header("origin", "https://evil.example"),
            b"{}",
        )
        .await;
    assert_problem(&cross, 403);
    assert_eq!(rig.upstream.seen().len(), 1);
}

// ---------------------------------------------------------------------------------------
// 6. Request hardening
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_chunked() {
    let (gateway, upstream) = plain_gateway("max_body_bytes = 1024", "").await;
    let declared = format!(
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}",
        "a".repeat(5000)
    );
    let raw = raw_exchange(gateway.listen, declared.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(statuses(&raw), [413]);
    assert_eq!(
        upstream.heads(),
        0,
        "a declared oversize body never reaches the upstream"
    );

    // Chunked: no length up front, cut off while streaming, larger than the guard's hold.
    let mut chunked =
        String::from("POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..100 {
        chunked.push_str(&format!("400\r\n{}\r\n", "b".repeat(1024)));
    }
    chunked.push_str("0\r\n\r\n");
    let raw = raw_exchange(gateway.listen, chunked.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(statuses(&raw), [413], "{}", String::from_utf8_lossy(&raw));
    assert!(
        upstream.seen().is_empty(),
        "the upstream never got a complete oversize body"
    );

    // Under the limit passes, chunked too.
    let small = "POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let raw = raw_exchange(gateway.listen, small.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(statuses(&raw), [200]);
    assert_eq!(upstream.last().body, "hello");
}

#[tokio::test]
async fn oversized_heads_uris_and_header_counts_are_refused() {
    let (gateway, upstream) = plain_gateway(
        "max_header_bytes = 2048\nmax_uri_bytes = 256\nmax_headers = 10",
        "",
    )
    .await;
    let long_uri = format!(
        "GET /v1/orders/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(300)
    );
    assert_eq!(
        statuses(&raw_exchange(gateway.listen, long_uri.as_bytes(), Duration::from_secs(2)).await),
        [414]
    );
    let big_header = format!(
        "GET /v1/orders/1 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(
        statuses(
            &raw_exchange(
                gateway.listen,
                big_header.as_bytes(),
                Duration::from_secs(2)
            )
            .await
        ),
        [431]
    );
    let mut many = String::from("GET /v1/orders/1 HTTP/1.1\r\nHost: x\r\n");
    for i in 0..20 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(
        statuses(&raw_exchange(gateway.listen, many.as_bytes(), Duration::from_secs(2)).await),
        [431]
    );
    assert_eq!(upstream.heads(), 0);
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let (gateway, upstream) = plain_gateway(
        "header_read_timeout = \"300ms\"\nidle_timeout = \"300ms\"",
        "",
    )
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /v1/orders/1 HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the gateway kept a slowloris connection open");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        statuses(&buf).iter().all(|s| *s == 408),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    // An idle connection (no request at all) is closed too.
    let mut idle = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("connect");
    let read =
        tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut Vec::new())).await;
    assert!(read.is_ok(), "an idle connection was kept open");
    assert_eq!(upstream.heads(), 0);
}

#[tokio::test]
async fn slow_bodies_are_cut_off() {
    let (gateway, upstream) = plain_gateway("body_read_timeout = \"300ms\"", "").await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("connect");
    stream
        .write_all(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a slow body kept the request open");
    assert_eq!(statuses(&buf), [408], "{}", String::from_utf8_lossy(&buf));
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn connections_beyond_max_connections_wait() {
    let (gateway, _upstream) = plain_gateway("max_connections = 2", "").await;
    use tokio::io::AsyncWriteExt;
    let first = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("1");
    let _second = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("2");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third connection is accepted by the kernel but not served.
    let request = b"GET /v1/orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let waiting = raw_exchange(gateway.listen, request, Duration::from_millis(500)).await;
    assert!(waiting.is_empty(), "served beyond max_connections");
    drop(first);
    let mut third = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("3");
    third.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::io::AsyncReadExt::read_to_end(&mut third, &mut buf),
    )
    .await;
    assert_eq!(statuses(&buf), [200]);
}

#[tokio::test]
async fn every_check_and_the_upstream_see_the_normalized_path() {
    let (gateway, upstream) = plain_gateway("", "").await;
    let cases: &[(&str, Option<&str>)] = &[
        ("/v1/orders/./42", Some("/v1/orders/42")),
        ("//v1//orders/42", Some("/v1/orders/42")),
        ("/v1/x/../orders/42", Some("/v1/orders/42")),
        ("/v1/orders/%34%32", Some("/v1/orders/42")),
        ("/v1/orders/%2e%2e/orders/42", Some("/v1/orders/42")),
        ("/v1/orders/a%2fb", None),
        ("/v1/orders/a%5cb", None),
        ("/v1/orders/a%00", None),
        ("/../v1/orders/42", None),
        ("/v1/orders/%c0%ae%c0%ae", None),
        ("/v1/orders/%252e%252e", None),
        ("/v1/orders/..;/admin", None),
        ("/v1/orders/42;jsessionid=x", None),
    ];
    for (path, expected) in cases {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let raw = raw_exchange(gateway.listen, request.as_bytes(), Duration::from_secs(2)).await;
        match expected {
            Some(normal) => {
                assert_eq!(statuses(&raw), [200], "{path}");
                assert_eq!(upstream.last().target, *normal, "{path}");
            }
            None => assert_eq!(
                statuses(&raw),
                [400],
                "{path}: {}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    let allowed = cases.iter().filter(|c| c.1.is_some()).count();
    assert_eq!(upstream.heads(), allowed);
}

/// The llhttp framing vectors (../shared/corpora) replayed over raw TCP: every case that
/// llhttp must refuse is answered 400 (or the connection is closed before the offending
/// message), and what reaches the upstream is counted.
#[tokio::test]
async fn llhttp_must_error_vectors_never_reach_the_upstream() {
    let (gateway, upstream) = plain_gateway(
        "",
        "[[routes]]\nname = \"any\"\npath = \"/{*rest}\"\nupstream = \"api\"\nauth = [\"none\"]\n",
    )
    .await;
    let cases = rampart_testkit::llhttp::request_cases();
    let must_error: Vec<_> = cases
        .iter()
        .filter(|c| c.kind == "request" && c.expect.error.is_some())
        .collect();
    assert!(
        must_error.len() >= 40,
        "corpus too small: {}",
        must_error.len()
    );
    let mut answered_400 = 0;
    let mut closed = 0;
    let mut leaked = Vec::new();
    // Most vectors are HTTP/1.1 without Host, which is refused first; replay those a second
    // time with a Host header, so that the framing rules themselves are what stops them.
    let mut replays: Vec<(&rampart_testkit::llhttp::Case, Vec<u8>)> = Vec::new();
    for case in &must_error {
        replays.push((case, case.raw.clone()));
        let lower = String::from_utf8_lossy(&case.raw).to_ascii_lowercase();
        if !lower.contains("\nhost:")
            && let Some(end) = case.raw.windows(2).position(|w| w == b"\r\n")
        {
            let mut raw = case.raw[..end + 2].to_vec();
            raw.extend_from_slice(b"Host: x\r\n");
            raw.extend_from_slice(&case.raw[end + 2..]);
            replays.push((case, raw));
        }
    }
    for (case, bytes) in &replays {
        let before = upstream.heads();
        let raw = raw_exchange(gateway.listen, bytes, Duration::from_millis(300)).await;
        let reached = upstream.heads() - before;
        // Messages llhttp completed before its error may be forwarded; nothing after.
        if reached > case.expect.messages_before_error {
            leaked.push(format!(
                "{}:{} {} ({} reached)",
                case.file, case.line, case.name, reached
            ));
        }
        let codes = statuses(&raw);
        if codes
            .last()
            .is_some_and(|s| (400..500).contains(s) || *s == 501)
        {
            answered_400 += 1;
        } else {
            closed += 1;
        }
    }
    println!(
        "llhttp must-error vectors: {} cases, {} replays (with and without Host), {answered_400} answered 4xx/501, {closed} closed without a further answer, {} leaked to the upstream",
        must_error.len(),
        replays.len(),
        leaked.len()
    );
    assert!(leaked.is_empty(), "reached the upstream: {leaked:#?}");
}

// ---------------------------------------------------------------------------------------
// 7. Errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn upstream_5xx_bodies_are_replaced_unless_the_route_passes_them() {
    let rig = Rig::start(
        "",
        "[[routes]]\nname = \"raw-errors\"\npath = \"/raw/status/{code}\"\nupstream = \"api\"\nauth = [\"none\"]\npass_upstream_errors = true\n",
    )
    .await;
    let hidden = rig.get("/status/500").await;
    assert_problem(&hidden, 500);
    assert!(!hidden.text().contains("hunter2"), "{}", hidden.text());
    let hidden = rig.get("/status/503").await;
    assert_problem(&hidden, 503);
    // 4xx from the upstream are the API's own answers and pass.
    let not_found = rig.get("/status/404").await;
    assert_eq!(not_found.text(), LEAKED_SECRET);
    // A route that passes upstream errors lets the body through as it is.
    let passed = rig.get("/raw/status/500").await;
    assert_eq!(passed.status, 500);
    assert_eq!(passed.text(), LEAKED_SECRET);
}

// ---------------------------------------------------------------------------------------
// 8. Logs and metrics
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn access_log_lines_carry_the_request_id_and_no_secrets() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let log = cert.dir.join("access.log");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntls = {{ cert = \"{}\", key = \"{}\" }}\n[admin]\nlisten = \"127.0.0.1:0\"\n[log]\naccess = \"{}\"\nheaders = [\"user-agent\"]\n{}",
        cert.cert.display(),
        cert.key.display(),
        log.display(),
        ROUTES.replace("{upstream}", &upstream.url()),
    );
    let gateway = Gateway::start(Config::from_toml_str(&text).expect("config"))
        .await
        .expect("start");
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{}", gateway.listen.port());
    let request = Request::get(format!("{base}/v1/orders/9?api_key=s3cr3t-key&page=2"))
        .header("authorization", "Bearer super-secret-token")
        .header("cookie", "session=secret-cookie")
        .header("user-agent", "rampart-test")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = client.send(request).await.expect("send");
    let missing = client.get(&format!("{base}/nope")).await;
    let id = answer.header("x-request-id").expect("id").to_owned();
    let missing_id = missing.header("x-request-id").expect("id").to_owned();
    let mut contents = String::new();
    for _ in 0..50 {
        contents = std::fs::read_to_string(&log).unwrap_or_default();
        if contents.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for secret in ["s3cr3t-key", "super-secret-token", "secret-cookie"] {
        assert!(
            !contents.contains(secret),
            "{secret} in the access log: {contents}"
        );
    }
    let lines: Vec<serde_json::Value> = contents
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let ok = lines
        .iter()
        .find(|l| l["request_id"] == id.as_str())
        .expect("line for the request");
    assert_eq!(ok["route"], "orders-read");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["decision"], "allow");
    assert_eq!(ok["path"], "/v1/orders/9");
    assert_eq!(ok["query"], "api_key=***&page=2");
    assert_eq!(ok["method"], "GET");
    assert!(ok["duration_ms"].as_f64().is_some());
    assert!(ok["bytes_out"].as_u64().is_some_and(|b| b > 0));
    assert_eq!(ok["headers"][0][0], "user-agent");
    let denied = lines
        .iter()
        .find(|l| l["request_id"] == missing_id.as_str())
        .expect("line");
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reason"], "route.not_found");
    assert_eq!(denied["status"], 404);
}

#[tokio::test]
async fn admin_listener_serves_metrics_and_health() {
    let rig = Rig::start("", "").await;
    assert_eq!(rig.get("/v1/orders/1").await.status, 200);
    let _ = rig.get("/missing").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let admin = HttpClient::new(None, false);
    let base = format!("http://{}", rig.gateway.admin);
    let metrics = admin.get(&format!("{base}/metrics")).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("rampart_requests_total{")
                && l.contains("route=\"orders-read\"")
                && l.contains("status=\"200\"")
                && l.contains("decision=\"allow\"")),
        "{text}"
    );
    assert!(text.contains("decision=\"deny\""), "{text}");
    assert!(
        text.contains("rampart_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("rampart_open_connections"), "{text}");
    assert_eq!(admin.get(&format!("{base}/healthz")).await.status, 200);
    assert_eq!(admin.get(&format!("{base}/readyz")).await.status, 200);
    // The admin endpoints are not on the data plane.
    assert_problem(&rig.get("/metrics").await, 404);
}

// ---------------------------------------------------------------------------------------
// 9. Operations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn reload_swaps_config_atomically_and_refuses_a_bad_one() {
    let rig = Rig::start("", "").await;
    assert_problem(&rig.get("/v2/new").await, 404);
    let extra =
        "[[routes]]\nname = \"new\"\npath = \"/v2/new\"\nupstream = \"api\"\nauth = [\"none\"]\n";
    // A slow request in flight finishes on the old config.
    let slow_client = HttpClient::new(Some(&rig.cert.cert), false);
    let slow_url = rig.url("/slow/400");
    let in_flight = tokio::spawn(async move { slow_client.get(&slow_url).await.status });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let text = Rig::config_text(&rig.upstream, &rig.cert, "", extra);
    rig.gateway
        .reload(Config::from_toml_str(&text).expect("config"))
        .expect("reload");
    assert_eq!(rig.get("/v2/new").await.status, 200);
    assert_eq!(in_flight.await.expect("join"), 200);

    // A config whose routes conflict is refused as a whole; the running one keeps serving.
    let conflicting = format!(
        "{extra}\n[[routes]]\nname = \"dup\"\npath = \"/v2/new\"\nupstream = \"api\"\nauth = [\"none\"]\n"
    );
    let text = Rig::config_text(&rig.upstream, &rig.cert, "", &conflicting);
    let refused = rig
        .gateway
        .reload(Config::from_toml_str(&text).expect("parses"));
    assert!(refused.is_err());
    assert_eq!(rig.get("/v2/new").await.status, 200);
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_then_stops_accepting() {
    let rig = Rig::start("", "").await;
    let client = HttpClient::new(Some(&rig.cert.cert), false);
    let url = rig.url("/slow/300");
    let in_flight = tokio::spawn(async move { client.get(&url).await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left = rig.gateway.shutdown(Duration::from_secs(5)).await;
    assert_eq!(left, 0);
    assert_eq!(in_flight.await.expect("join"), 200);
    let refused = tokio::net::TcpStream::connect(rig.gateway.listen).await;
    let served = match refused {
        Err(_) => false,
        Ok(stream) => {
            let _ = stream;
            let raw = raw_exchange(
                rig.gateway.listen,
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                Duration::from_millis(300),
            )
            .await;
            !raw.is_empty()
        }
    };
    assert!(!served, "a drained gateway still answered");
}

#[tokio::test]
async fn upstream_tls_is_verified_unless_dangerously_skipped() {
    let upstream_cert = TestCert::generate();
    let secure = Upstream::start_tls(&upstream_cert).await;
    let route = |name: &str, extra: &str| {
        format!(
            "[[upstreams]]\nname = \"{name}\"\nurl = \"https://localhost:{}\"\n{extra}\n\n[[routes]]\nname = \"{name}\"\npath = \"/{name}\"\nupstream = \"{name}\"\nauth = [\"none\"]\n",
            secure.addr.port()
        )
    };
    let rest = [
        route("unverified", ""),
        route(
            "trusted",
            &format!("ca = \"{}\"", upstream_cert.cert.display()),
        ),
        route("skipped", "dangerous_skip_upstream_verify = true"),
    ]
    .join("\n");
    let rig = Rig::start("", &rest).await;
    // A certificate no trusted root vouches for is refused: the client gets a generic 502.
    assert_problem(&rig.get("/unverified").await, 502);
    assert_eq!(secure.heads(), 0);
    assert_eq!(rig.get("/trusted").await.status, 200);
    assert_eq!(rig.get("/skipped").await.status, 200);
    assert_eq!(secure.heads(), 2);
}

#[tokio::test]
async fn slow_chunked_bodies_held_by_the_framing_guard_are_cut_off() {
    // Regression: a small chunked body is held whole by the guard until validated, so neither
    // hyper nor the body timeout saw it; a client could stall there forever.
    let (gateway, upstream) = plain_gateway("body_read_timeout = \"300ms\"", "").await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gateway.listen)
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        )
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "a stalled chunked body kept the connection open"
    );
    assert_eq!(statuses(&buf), [408], "{}", String::from_utf8_lossy(&buf));
    assert_eq!(upstream.heads(), 0);
}

#[tokio::test]
async fn idle_http2_connections_are_closed() {
    let rig = Rig::start("idle_timeout = \"300ms\"", "").await;
    let config = rig.cert.client_config(&[b"h2"]);
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(rig.gateway.listen)
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // Send the preface and nothing else: the connection must not stay open.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("preface");
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "an idle HTTP/2 connection was kept open");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn trace_unknown_methods_and_method_overrides_never_pass() {
    let rig = Rig::start("", "").await;
    // `files` declares no methods, yet TRACE (which echoes credentials back) is refused.
    let trace = rig
        .send(
            Request::builder().method("TRACE").uri(rig.url("/files/a")),
            b"",
        )
        .await;
    assert_problem(&trace, 501);
    // HTTP/2 has no framing guard in front; the same method registry applies.
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    let request = Request::builder()
        .method("FROBNICATE")
        .uri(rig.url("/files/a"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert_problem(&h2.send(request).await.expect("send"), 501);
    assert!(rig.upstream.seen().is_empty());
    // A method override header would turn an allowed POST into a DELETE upstream.
    let post = rig
        .send(
            Request::post(rig.url("/v1/orders"))
                .header("x-http-method-override", "DELETE")
                .header("x-method-override", "DELETE")
                .header("proxy", "http://evil.example:3128"),
            b"{}",
        )
        .await;
    assert_eq!(post.status, 200);
    let seen = rig.upstream.last();
    assert_eq!(seen.method, "POST");
    for gone in ["x-http-method-override", "x-method-override", "proxy"] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone} reached the upstream"
        );
    }
}

#[tokio::test]
async fn framing_rejections_are_problems_with_security_headers() {
    let (gateway, upstream) = plain_gateway("", "").await;
    let smuggle = b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
    let raw = raw_exchange(gateway.listen, smuggle, Duration::from_secs(2)).await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(statuses(&raw), [400], "{text}");
    let lower = text.to_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(lower.contains("x-content-type-options: nosniff"), "{text}");
    assert!(lower.contains("connection: close"), "{text}");
    let id = lower
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id")
        .trim()
        .to_owned();
    let body = &text[text.find("\r\n\r\n").expect("end of head") + 4..];
    let json: serde_json::Value = serde_json::from_str(body).expect("problem body");
    assert_eq!(json["request_id"], id.as_str());
    assert_eq!(json["status"], 400);
    assert_eq!(upstream.heads(), 0);
}

#[tokio::test]
async fn a_silent_tls_client_is_cut_off_at_the_header_timeout() {
    let rig = Rig::start("header_read_timeout = \"300ms\"", "").await;
    use tokio::io::AsyncReadExt;
    let mut tcp = tokio::net::TcpStream::connect(rig.gateway.listen)
        .await
        .expect("tcp");
    let started = std::time::Instant::now();
    let closed =
        tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut Vec::new())).await;
    assert!(
        closed.is_ok(),
        "a client that never sent a ClientHello kept its connection"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn http2_requests_get_the_same_uri_limit() {
    let rig = Rig::start("max_uri_bytes = 256", "").await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    let long = h2
        .get(&rig.url(&format!("/files/{}", "a".repeat(300))))
        .await;
    assert_problem(&long, 414);
    assert!(rig.upstream.seen().is_empty());
}

#[tokio::test]
async fn an_http2_client_still_uploading_gets_the_413_not_a_reset() {
    // curl is the client here on purpose: it reports a stream reset (CANCEL) as a transport
    // error and drops the response, which is what happened before refused bodies were held
    // and discarded after the answer.
    let rig = Rig::start("max_body_bytes = 1024", "").await;
    let upload = rig.cert.dir.join("upload.bin");
    std::fs::write(&upload, vec![b'x'; 2_000_000]).expect("write upload");
    for (method, path, want) in [
        ("POST", "/v1/orders", "413"),
        ("DELETE", "/v1/orders/1", "405"),
    ] {
        let out = tokio::process::Command::new("curl")
            .args([
                "-sS",
                "--http2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
            ])
            .arg(&rig.cert.cert)
            .args(["-X", method, "--data-binary"])
            .arg(format!("@{}", upload.display()))
            .arg(rig.url(path))
            .output()
            .await
            .expect("curl must be installed (Debian package curl)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{method} {path}: curl failed: {stderr}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{method} {path}"
        );
    }
    assert!(rig.upstream.seen().is_empty());
}

#[tokio::test]
async fn http2_cookies_are_joined_for_the_http1_upstream() {
    let rig = Rig::start("", "").await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    let request = Request::get(rig.url("/v1/orders/1"))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert_eq!(h2.send(request).await.expect("send").status, 200);
    let seen = rig.upstream.last();
    let cookies: Vec<_> = seen.headers.get_all("cookie").iter().collect();
    assert_eq!(cookies, ["a=1; b=2"]);
    // The one Host the upstream sees is the gateway's choice, never two.
    assert_eq!(seen.headers.get_all("host").iter().count(), 1);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected() {
    // Regression: pipelined requests whose answers the client never reads left every write
    // pending forever; read timeouts cannot fire while the gateway is only writing.
    let (gateway, _upstream) = plain_gateway("idle_timeout = \"300ms\"", "").await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(gateway.listen).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    const REQUESTS: usize = 20_000;
    let writing = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let request = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..REQUESTS {
            if writer.write_all(request).await.is_err() {
                break;
            }
        }
    });
    // Never read while the gateway answers; give its stall limit time to pass.
    tokio::time::sleep(Duration::from_secs(3)).await;
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let drained =
        tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut received)).await;
    writing.abort();
    assert!(drained.is_ok(), "the connection was still open");
    let answered = statuses(&received).len();
    assert!(
        answered < REQUESTS,
        "all {answered} answers were delivered: the stall was never cut off"
    );
}

#[tokio::test]
async fn a_long_http2_download_is_not_an_idle_connection() {
    // Regression: the HTTP/2 idle watch counted a request as finished when its response head
    // was sent, and cut long downloads after idle_timeout.
    let rig = Rig::start(
        "idle_timeout = \"300ms\"",
        "[[routes]]\nname = \"stream\"\npath = \"/stream/{ms}\"\nupstream = \"api\"\nauth = [\"none\"]\n",
    )
    .await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    let answer = h2.get(&rig.url("/stream/3000")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 100, "the download was cut short");
}

#[tokio::test]
async fn requests_for_hosts_not_served_get_421() {
    let (gateway, upstream) = plain_gateway("hosts = [\"api.example.com\"]", "").await;
    for (host, want) in [
        ("api.example.com", 200),
        ("API.example.com:8080", 200),
        ("evil.example", 421),
        ("api.example.com.evil.example", 421),
    ] {
        let request =
            format!("GET /v1/orders/1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let raw = raw_exchange(gateway.listen, request.as_bytes(), Duration::from_secs(2)).await;
        assert_eq!(statuses(&raw), [want], "Host: {host}");
    }
    assert_eq!(upstream.heads(), 2);
    assert_eq!(
        upstream.last().headers["x-forwarded-host"],
        "API.example.com:8080"
    );

    // HTTP/2 names the host in :authority.
    let rig = Rig::start("hosts = [\"localhost\"]", "").await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    assert_eq!(h2.get(&rig.url("/v1/orders/1")).await.status, 200);
    let rig = Rig::start("hosts = [\"api.example.com\"]", "").await;
    let h2 = HttpClient::new(Some(&rig.cert.cert), true);
    assert_problem(&h2.get(&rig.url("/v1/orders/1")).await, 421);
    assert!(rig.upstream.seen().is_empty());
}

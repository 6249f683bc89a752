//! Response-side leak detection end to end: a real upstream answers 200 with a database
//! error, a stack trace or a framework debug page; the gateway blocks it (generic 502),
//! scrubs it (the leak replaced, the rest intact, JSON still JSON), or logs it, as the route
//! says, in whole bodies and in streamed ones; clean responses pass byte for byte; and
//! `Accept-Encoding` is withheld from the upstream so that gzip cannot hide a leak.

use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::HttpClient;
use rampart_testkit::upstream::{LEAK_SQL, Upstream};

struct Rig {
    _gateway: Gateway,
    admin: std::net::SocketAddr,
    upstream: Upstream,
    client: HttpClient,
    base: String,
}

async fn rig() -> Rig {
    let upstream = Upstream::start().await;
    let mut text = format!(
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
url = "{}"
"#,
        upstream.url()
    );
    for (name, setting) in [
        ("block", ""),
        ("scrub", "leak_detection = \"scrub\""),
        ("log", "leak_detection = \"log_only\""),
        ("off", "leak_detection = \"off\""),
        ("small", "leak_detection = { max_bytes = 1024 }"),
    ] {
        text.push_str(&format!(
            "[[routes]]\nname = \"{name}\"\npath = \"/{name}/{{*rest}}\"\nupstream = \"api\"\nauth = [\"none\"]\n{setting}\n"
        ));
    }
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    Rig {
        base: format!("http://127.0.0.1:{}", gateway.listen.port()),
        admin: gateway.admin,
        _gateway: gateway,
        upstream,
        client: HttpClient::new(None, false),
    }
}

async fn get(rig: &Rig, path: &str) -> rampart_testkit::client::Answer {
    rig.client.get(&format!("{}{path}", rig.base)).await
}

#[tokio::test]
async fn leaking_responses_are_blocked_scrubbed_or_logged_as_configured() {
    let rig = rig().await;

    // Blocked (the default): a generic 502, nothing of the leak.
    for kind in ["sql", "trace", "debug"] {
        let answer = get(&rig, &format!("/block/leak/{kind}")).await;
        let text = answer.text();
        assert_eq!(answer.status, 502, "{kind}: {text}");
        assert_eq!(answer.json()["title"], "Bad Gateway");
        for piece in ["SQL syntax", "java", "DEBUG", "SECRET_KEY", "orders"] {
            assert!(!text.contains(piece), "{kind}: {text}");
        }
    }

    // Scrubbed: JSON stays JSON, with the leaking string replaced; text loses the trace.
    let answer = get(&rig, "/scrub/leak/sql").await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    assert_eq!(json["error"], "[redacted]");
    assert_eq!(json["request"], 7);
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );
    let answer = get(&rig, "/scrub/leak/trace").await;
    let text = answer.text();
    assert_eq!(answer.status, 200);
    assert!(
        !text.contains("OrderRepository.java") && !text.contains("IllegalStateException"),
        "{text}"
    );
    assert!(
        text.contains("order lookup failed") && text.contains("request 7"),
        "{text}"
    );

    // Streamed (no Content-Length): inspected piece by piece, so that streaming still
    // streams. Blocking cuts the stream at the leak; scrubbing redacts the leaking lines.
    let request = || {
        http::Request::builder()
            .uri(format!("{}/block/leak/stream-sql", rig.base))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request")
    };
    match rig.client.send(request()).await {
        Err(_) => {}
        Ok(answer) => assert!(!answer.text().contains("SQL syntax"), "{}", answer.text()),
    }
    let answer = get(&rig, "/scrub/leak/stream-sql").await;
    assert_eq!(answer.status, 200);
    let text = answer.text();
    assert!(
        !text.contains("SQL syntax") && text.contains("[redacted]"),
        "{text}"
    );
    assert_eq!(text.matches("0123456789").count(), 4, "{text}");
    let answer = get(&rig, "/log/leak/stream-sql").await;
    assert!(answer.text().contains(LEAK_SQL));

    // Logged or off: the response passes as it came.
    for route in ["log", "off"] {
        let answer = get(&rig, &format!("/{route}/leak/sql")).await;
        assert_eq!(answer.status, 200);
        assert!(answer.text().contains(LEAK_SQL), "{route}");
    }

    // Clean responses pass byte for byte; a streamed one longer than max_bytes is
    // inspected in its first part and then streamed whole.
    let answer = get(&rig, "/block/orders").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["target"], "/block/orders");
    let answer = get(&rig, "/small/leak/stream").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 2000);
    assert!(answer.body.chunks(10).all(|c| c == b"0123456789"));

    // Accept-Encoding is withheld where responses are inspected, passed where they are not.
    let send = |path: &str| {
        let request = http::Request::builder()
            .uri(format!("{}{path}", rig.base))
            .header("accept-encoding", "gzip, br")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        rig.client.send(request)
    };
    send("/block/x").await.expect("exchange");
    assert!(rig.upstream.last().headers.get("accept-encoding").is_none());
    send("/off/x").await.expect("exchange");
    assert_eq!(
        rig.upstream
            .last()
            .headers
            .get("accept-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip, br"[..])
    );

    let metrics = HttpClient::new(None, false)
        .get(&format!("http://{}/metrics", rig.admin))
        .await
        .text();
    let blocked = metrics
        .lines()
        .find(|l| {
            l.starts_with(r#"rampart_response_leaks_total{route="block",decision="blocked"}"#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u32>().ok());
    assert_eq!(blocked, Some(4), "{metrics}");
    assert!(metrics.contains(r#"rampart_response_leak_classes_total{class="stack_trace"}"#));
}

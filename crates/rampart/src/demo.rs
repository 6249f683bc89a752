//! `rampart demo`: a deliberately naive sample API (orders and users) on a loopback port, and
//! the gateway in front of it with the embedded default config and a fresh development
//! certificate. `--tour` sends the same attacks to both and prints what each answered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rampart_config::Config;
use rampart_gateway::Gateway;
use tokio::net::TcpListener;

use crate::init::{DEFAULT_CONFIG, temp_dir, write_dev_certificate, write_master_key};
use crate::run::{init_tracing, runtime};

pub(crate) fn demo(tour: bool) -> anyhow::Result<()> {
    init_tracing(if tour { "error" } else { "warn" });
    runtime(None)?.block_on(async move {
        let upstream = start_sample_api().await?;
        let dir = temp_dir("rampart-demo")?;
        let cert = dir.join("dev-cert.pem");
        write_dev_certificate(&cert, &dir.join("dev-key.pem"))?;
        write_master_key(&dir.join("master.key"))?;
        let listen = free_or_any("127.0.0.1:8443").await;
        let admin = free_or_any("127.0.0.1:9443").await;
        let text = demo_config(&dir, upstream, listen, admin, tour);
        let config =
            Config::from_toml_str(&text).map_err(|e| anyhow::anyhow!("embedded config: {e}"))?;
        let key = demo_key(&config)?;
        let gateway = Gateway::start(config)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let base = format!("https://localhost:{}", gateway.listen.port());
        if tour {
            return crate::demo::tour::run(upstream, &base, &cert, &key).await;
        }
        print_instructions(&base, upstream, gateway.admin, &cert, &key);
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        eprintln!("stopping");
        gateway.shutdown(std::time::Duration::from_secs(5)).await;
        Ok(())
    })
}

/// The embedded default config, pointed at the sample API and the demo's certificate.
fn demo_config(
    dir: &Path,
    upstream: SocketAddr,
    listen: SocketAddr,
    admin: SocketAddr,
    quiet: bool,
) -> String {
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    let mut text = DEFAULT_CONFIG
        .replace("certs/dev-cert.pem", &cert.display().to_string())
        .replace("certs/dev-key.pem", &key.display().to_string())
        .replace(
            "data/rampart.db",
            &dir.join("rampart.db").display().to_string(),
        )
        .replace(
            "data/master.key",
            &dir.join("master.key").display().to_string(),
        )
        .replace("http://127.0.0.1:18080", &format!("http://{upstream}"))
        .replace(
            "listen = \"127.0.0.1:8443\"",
            &format!("listen = \"{listen}\""),
        )
        .replace(
            "listen = \"127.0.0.1:9443\"",
            &format!("listen = \"{admin}\""),
        );
    if quiet {
        text = text.replace("access = \"stdout\"", "access = \"off\"");
    }
    text
}

/// The demo's API key: consumer `demo`, allowed to read and create orders (not users).
fn demo_key(config: &Config) -> anyhow::Result<String> {
    use rampart_store::Store;
    let hasher = rampart_gateway::auth::hasher(config).map_err(anyhow::Error::msg)?;
    let store = rampart_gateway::auth::open_store(config).map_err(anyhow::Error::msg)?;
    let key = rampart_auth::api_key::ApiKey::generate().context("cannot generate a key")?;
    store.create_key(&rampart_store::KeyRecord {
        id: key.id().as_str().to_owned(),
        consumer: "demo".to_owned(),
        hash: hasher.hash(&key).0,
        scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
        created: rampart_gateway::auth::now(),
        expires: None,
        revoked: None,
        rotated_from: None,
        last_used: None,
        roles: Vec::new(),
    })?;
    Ok(key.reveal().to_owned())
}

async fn free_or_any(preferred: &str) -> SocketAddr {
    let fallback = SocketAddr::from(([127, 0, 0, 1], 0));
    let Ok(addr) = preferred.parse::<SocketAddr>() else {
        return fallback;
    };
    match std::net::TcpListener::bind(addr) {
        Ok(probe) => {
            drop(probe);
            addr
        }
        Err(_) => {
            // Taken: pick a free one rather than fail the demo.
            std::net::TcpListener::bind(fallback)
                .and_then(|l| l.local_addr())
                .unwrap_or(fallback)
        }
    }
}

fn print_instructions(base: &str, upstream: SocketAddr, admin: SocketAddr, cert: &Path, key: &str) {
    let ca = cert.display();
    println!(
        r#"
rampart demo
  sample API (unprotected): http://{upstream}
  through rampart:          {base}
  admin (metrics, health):  http://{admin}/metrics

  API key (consumer "demo", scopes orders:read,orders:write), shown once:
  KEY={key}

Try these (the certificate is a fresh development one, trusted with --cacert):

  # allowed: the gateway checks the key, forwards, strips Server/X-Powered-By, adds
  # security headers; the upstream sees X-Rampart-Consumer: demo, never the key
  curl -i --cacert {ca} -H "X-API-Key: $KEY" {base}/v1/orders/42

  # refused: no key, or a wrong one (401, the same answer for both)
  curl -i --cacert {ca} {base}/v1/orders/42
  curl -i --cacert {ca} -H "X-API-Key: rmpt_guess" {base}/v1/orders/42

  # refused: the key lacks the users:read scope (403)
  curl -i --cacert {ca} -H "X-API-Key: $KEY" {base}/v1/users/7

  # the upstream crashes with a stack trace; the client gets a generic problem
  curl -i --cacert {ca} -H "X-API-Key: $KEY" {base}/v1/orders/crash

  # blocked: no route for the internal admin endpoint (404), directly or by traversal (400)
  curl -i --cacert {ca} {base}/internal/admin
  curl -i --cacert {ca} --path-as-is '{base}/v1/orders/..%2f..%2finternal/admin'

  # blocked: method not allowed on this route (405)
  curl -i --cacert {ca} -H "X-API-Key: $KEY" -X DELETE {base}/v1/orders/42

  # blocked: body over max_body_bytes (413), before the upstream sees it
  head -c 2000000 /dev/zero | curl -i --cacert {ca} -H "X-API-Key: $KEY" -X POST --data-binary @- {base}/v1/orders

  # blocked: request smuggling attempt (Content-Length with Transfer-Encoding) (400)
  printf 'POST /v1/orders HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
    | openssl s_client -quiet -connect {host} 2>/dev/null

  # compare with the bare API:
  curl -i 'http://{upstream}/v1/orders/..%2f..%2finternal/admin'

Press Ctrl-C to stop."#,
        host = base
            .trim_start_matches("https://")
            .replace("localhost", "127.0.0.1"),
    );
}

/// The sample API. Naive on purpose: it resolves `..` after decoding `%2f`, leaks stack
/// traces and version headers, accepts any method and any body size.
async fn start_sample_api() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot start the sample API")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(sample_api))
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn sample_api(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = naive_resolve(request.uri().path());
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, text) = match (method, path.as_str()) {
        (_, "/internal/admin") => (
            StatusCode::OK,
            r#"{"admin":true,"db":"postgres://admin:hunter2@db.internal/orders"}"#.to_owned(),
        ),
        (_, "/v1/orders/crash") => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Traceback (most recent call last):\n  File \"/srv/app/orders.py\", line 42, in get_order\npsycopg2.OperationalError: could not connect to postgres://admin:hunter2@db.internal".to_owned(),
        ),
        (Method::DELETE, p) if p.starts_with("/v1/orders/") => (StatusCode::OK, r#"{"deleted":true}"#.to_owned()),
        (Method::POST, "/v1/orders") => (
            StatusCode::CREATED,
            format!(r#"{{"id":"1001","received_bytes":{}}}"#, body.len()),
        ),
        (_, "/v1/orders") => (StatusCode::OK, r#"[{"id":"42","item":"book","qty":1}]"#.to_owned()),
        (_, p) if p.starts_with("/v1/orders/") => (
            StatusCode::OK,
            format!(r#"{{"id":"{}","item":"book","qty":1}}"#, &p["/v1/orders/".len()..]),
        ),
        (_, p) if p.starts_with("/v1/users/") => (
            StatusCode::OK,
            format!(r#"{{"id":"{}","name":"Ada"}}"#, &p["/v1/users/".len()..]),
        ),
        _ => (StatusCode::NOT_FOUND, r#"{"error":"no such thing"}"#.to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "server",
        http::HeaderValue::from_static("demo-api/0.3 (Python/3.8.2)"),
    );
    headers.insert(
        "x-powered-by",
        http::HeaderValue::from_static("Flask/1.1.1"),
    );
    Ok(response)
}

/// Decodes everything and resolves dot segments, as many frameworks do.
fn naive_resolve(path: &str) -> String {
    let mut decoded = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex
        {
            decoded.push(b);
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

mod tour {
    //! The attack tour: each case against the bare API, then through rampart.

    use super::*;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    struct Case {
        what: &'static str,
        method: Method,
        path: &'static str,
        body_bytes: usize,
        /// Send the demo's API key.
        key: bool,
        /// Send it this many times; the last answer is shown.
        times: usize,
    }

    pub(super) async fn run(
        upstream: SocketAddr,
        base: &str,
        cert: &Path,
        key: &str,
    ) -> anyhow::Result<()> {
        let cases = [
            Case {
                what: "reach an internal endpoint",
                method: Method::GET,
                path: "/internal/admin",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "path traversal with an encoded slash",
                method: Method::GET,
                path: "/v1/orders/..%2f..%2finternal/admin",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "path traversal with encoded dots",
                method: Method::GET,
                path: "/v1/orders/%2e%2e/%2e%2e/internal/admin",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "stack trace in a 500",
                method: Method::GET,
                path: "/v1/orders/crash",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "method the API never meant to expose",
                method: Method::DELETE,
                path: "/v1/orders/42",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "2 MB body",
                method: Method::POST,
                path: "/v1/orders",
                body_bytes: 2_000_000,
                key: true,
                times: 1,
            },
            Case {
                what: "call without credentials",
                method: Method::GET,
                path: "/v1/orders/42",
                body_bytes: 0,
                key: false,
                times: 1,
            },
            Case {
                what: "read users with an orders-only key",
                method: Method::GET,
                path: "/v1/users/7",
                body_bytes: 0,
                key: true,
                times: 1,
            },
            Case {
                what: "40 order creations in a burst",
                method: Method::POST,
                path: "/v1/orders",
                body_bytes: 16,
                key: true,
                times: 40,
            },
            Case {
                what: "a normal read",
                method: Method::GET,
                path: "/v1/orders/42",
                body_bytes: 0,
                key: true,
                times: 1,
            },
        ];
        let tls = tls_client(cert)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        println!(
            "{:<40} {:>22} {:>22}",
            "attack", "bare API", "through rampart"
        );
        for case in cases {
            let bare_base = format!("http://{upstream}");
            let (mut bare, mut guarded) = (String::new(), String::new());
            for _ in 0..case.times {
                bare = send(&client, &case, &bare_base, key).await;
                guarded = send(&client, &case, base, key).await;
            }
            println!("{:<40} {:>22} {:>22}", case.what, bare, guarded);
        }
        Ok(())
    }

    async fn send(
        client: &Client<
            hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
            Full<Bytes>,
        >,
        case: &Case,
        base: &str,
        key: &str,
    ) -> String {
        let body = Full::new(Bytes::from(vec![b'a'; case.body_bytes]));
        let mut request = Request::builder();
        if case.key {
            request = request.header("x-api-key", key);
        }
        let Ok(request) = request
            .method(case.method.clone())
            .uri(format!("{base}{}", case.path))
            .body(body)
        else {
            return "invalid".to_owned();
        };
        match client.request(request).await {
            Ok(response) => {
                let status = response.status();
                let server = response.headers().contains_key("server");
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let leak = body.windows(7).any(|w| w == b"hunter2");
                format!(
                    "{}{}{}",
                    status.as_u16(),
                    if leak { " LEAKS SECRET" } else { "" },
                    if server { " +Server" } else { "" }
                )
            }
            // The gateway answers an oversize body at once and closes; a client still busy
            // sending sees the connection end rather than the 413.
            Err(_) => "closed by server".to_owned(),
        }
    }

    fn tls_client(cert: &Path) -> anyhow::Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rampart_gateway::tls::read_certs(cert).map_err(anyhow::Error::msg)? {
            roots.add(c)?;
        }
        Ok(
            rustls::ClientConfig::builder_with_provider(rampart_gateway::tls::provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

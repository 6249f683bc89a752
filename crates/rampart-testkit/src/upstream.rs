//! A real HTTP/1.1 upstream on an ephemeral loopback port that records what reached it.
//!
//! Behaviour by path, so that one upstream serves every scenario:
//! - `/status/{code}`: answers that status, with a body that leaks a fake stack trace;
//! - `/slow/{ms}`: answers after that many milliseconds;
//! - `/stream/{ms}`: answers at once, then sends its body in ten pieces over that many
//!   milliseconds (a long download);
//! - anything else: 200 with a JSON echo of method, path, query and headers.
//!
//! Every answer carries `Server`, `X-Powered-By` and a wide-open CORS allowance, which the
//! gateway must strip.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub const LEAKED_SECRET: &str = "Traceback: /srv/app/db.py line 7 postgres://admin:hunter2@db";

#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    scheme: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests whose head arrived, counted before the body is read.
    heads: Arc<std::sync::atomic::AtomicUsize>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::start_with(None).await
    }

    /// An HTTPS upstream presenting `cert` (self-signed: a client must be told to trust it).
    pub async fn start_tls(cert: &crate::client::TestCert) -> Upstream {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&cert.cert)
            .expect("read cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse cert");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&cert.key).expect("read key");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let upstream =
            Upstream::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await;
        Upstream {
            scheme: "https",
            ..upstream
        }
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("local addr");
        let upstream = Upstream {
            addr,
            scheme: "http",
            seen: Arc::default(),
            heads: Arc::default(),
            connections: Arc::default(),
        };
        let server = upstream.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                server
                    .connections
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let server = server.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.answer(request).await) }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        upstream
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Every request that reached the upstream (head seen), including ones whose body broke.
    pub fn heads(&self) -> usize {
        self.heads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests received completely, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream saw no request")
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<UpstreamBody> {
        self.heads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (parts, body) = request.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return Response::new(Full::new(Bytes::new()).boxed());
        };
        let target = parts
            .uri
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
        let path = parts.uri.path().to_owned();
        self.seen.lock().expect("lock").push(Seen {
            method: parts.method.to_string(),
            target: target.clone(),
            headers: parts.headers.clone(),
            body: body.clone(),
        });
        let mut content_type = "application/json";
        let (status, text) = if let Some(code) = path.rsplit_once("/status/").map(|(_, c)| c) {
            let code = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok());
            (code.unwrap_or(StatusCode::OK), LEAKED_SECRET.to_owned())
        } else if let Some(kind) = path.rsplit_once("/leak/").map(|(_, k)| k) {
            // A careless upstream's 200s that give its internals away.
            let (ct, text) = leak_page(kind);
            content_type = ct;
            (StatusCode::OK, text)
        } else {
            if let Some(ms) = path
                .strip_prefix("/slow/")
                .and_then(|m| m.parse::<u64>().ok())
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let headers: serde_json::Map<String, serde_json::Value> = parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let echo = serde_json::json!({
                "method": parts.method.as_str(),
                "target": target,
                "headers": headers,
                "body_bytes": body.len(),
            });
            (StatusCode::OK, echo.to_string())
        };
        let stream_ms = path
            .strip_prefix("/stream/")
            .and_then(|m| m.parse::<u64>().ok());
        let body = match stream_ms {
            Some(ms) => SlowBody::new(10, Duration::from_millis(ms / 10)).boxed(),
            // 2000 bytes in 200 chunks, without a Content-Length.
            None if path.ends_with("/leak/stream") => {
                SlowBody::new(200, Duration::from_millis(1)).boxed()
            }
            // A database error in the third of five chunks, without a Content-Length.
            None if path.ends_with("/leak/stream-sql") => {
                SlowBody::new(5, Duration::from_millis(5))
                    .with_piece(2, Bytes::from(format!("\n{LEAK_SQL}\n")))
                    .boxed()
            }
            None => Full::new(Bytes::from(text)).boxed(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert("content-type", http::HeaderValue::from_static(content_type));
        h.insert("server", http::HeaderValue::from_static("gunicorn/19.9.0"));
        h.insert("x-powered-by", http::HeaderValue::from_static("PHP/5.6.40"));
        h.insert(
            "x-aspnet-version",
            http::HeaderValue::from_static("4.0.30319"),
        );
        // Hop-by-hop headers are for the upstream's own hop; the gateway must not pass them on.
        h.insert(
            "connection",
            http::HeaderValue::from_static("x-internal-hop"),
        );
        h.insert("x-internal-hop", http::HeaderValue::from_static("1"));
        // A careless upstream's CORS, which only the gateway may decide.
        h.insert(
            "access-control-allow-origin",
            http::HeaderValue::from_static("*"),
        );
        h.insert(
            "access-control-allow-credentials",
            http::HeaderValue::from_static("true"),
        );
        response
    }
}

/// The body of `/leak/KIND`: (content type, text).
fn leak_page(kind: &str) -> (&'static str, String) {
    match kind {
        "sql" => (
            "application/json",
            serde_json::json!({
                "orders": [],
                "error": format!("{LEAK_SQL} near ''1'' at line 1"),
                "request": 7,
            })
            .to_string(),
        ),
        "trace" => (
            "text/plain",
            format!("order lookup failed\n{LEAK_TRACE}\nrequest 7\n"),
        ),
        "debug" => (
            "text/html",
            "<html><head><title>KeyError at /orders</title></head><body><p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p><p>SECRET_KEY = 'django-insecure-abc'</p></body></html>".to_owned(),
        ),
        _ => ("text/plain", "nothing to see".to_owned()),
    }
}

/// The database error `/leak/sql` embeds.
pub const LEAK_SQL: &str = "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version";
/// The stack trace `/leak/trace` embeds.
pub const LEAK_TRACE: &str = "java.lang.IllegalStateException: pool exhausted\n\tat com.example.orders.OrderRepository.find(OrderRepository.java:88)\n\tat com.example.orders.OrderController.get(OrderController.java:41)";

type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A body that arrives in pieces, one every `every`.
struct SlowBody {
    left: usize,
    every: Duration,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Pieces other than the default, by index from the start.
    special: Option<(usize, Bytes)>,
    sent: usize,
}

impl SlowBody {
    fn new(pieces: usize, every: Duration) -> Self {
        SlowBody {
            left: pieces,
            every,
            timer: Box::pin(tokio::time::sleep(every)),
            special: None,
            sent: 0,
        }
    }

    fn with_piece(mut self, index: usize, piece: Bytes) -> Self {
        self.special = Some((index, piece));
        self
    }
}

impl hyper::body::Body for SlowBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return std::task::Poll::Pending;
        }
        self.left -= 1;
        let next = tokio::time::Instant::now() + self.every;
        self.timer.as_mut().reset(next);
        let piece = match &self.special {
            Some((i, piece)) if *i == self.sent => piece.clone(),
            _ => Bytes::from_static(b"0123456789"),
        };
        self.sent += 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(piece))))
    }
}

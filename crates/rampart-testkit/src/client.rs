//! Clients for tests: a real HTTP client (hyper, HTTP/1.1 or HTTP/2 over TLS), raw TCP for
//! byte-exact requests, and a self-signed certificate for the gateway under test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read to its end.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A self-signed certificate for localhost, written to a fresh directory.
pub struct TestCert {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCert {
    pub fn generate() -> TestCert {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rampart-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        TestCert::write(&cert, &key);
        TestCert { dir, cert, key }
    }

    /// (Re)writes a fresh certificate and key at these paths.
    pub fn write(cert: &Path, key: &Path) {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("certificate");
        std::fs::write(cert, generated.cert.pem()).expect("write cert");
        std::fs::write(key, generated.key_pair.serialize_pem()).expect("write key");
    }

    /// A rustls client config that trusts exactly this certificate.
    pub fn client_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        client_config_trusting(&self.cert, alpn)
    }
}

pub fn client_config_trusting(cert: &Path, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).expect("read cert") {
        roots.add(c.expect("parse cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A pooled HTTP client: plain HTTP, or HTTPS trusting one certificate; HTTP/1.1 or HTTP/2.
pub struct HttpClient {
    client: Client<Https, Full<Bytes>>,
}

impl HttpClient {
    /// An HTTPS client that trusts `trust` and presents a client certificate (mTLS).
    pub fn with_identity(trust: &Path, cert: &Path, key: &Path) -> HttpClient {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(trust).expect("read cert") {
            roots.add(c.expect("parse cert")).expect("add root");
        }
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(cert)
            .expect("read client cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse client cert");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).expect("client key");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client identity");
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    pub fn new(trust: Option<&Path>, http2: bool) -> HttpClient {
        let tls = match trust {
            Some(cert) => client_config_trusting(cert, &[]),
            None => client_config_trusting_nothing(),
        };
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let connector = if http2 {
            builder.enable_http2().build()
        } else {
            builder.enable_http1().build()
        };
        let mut client = Client::builder(TokioExecutor::new());
        if http2 {
            client.http2_only(true);
        }
        HttpClient {
            client: client.build(connector),
        }
    }

    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, String> {
        let response: Response<_> =
            tokio::time::timeout(Duration::from_secs(20), self.client.request(request))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            version: parts.version,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&self, url: &str) -> Answer {
        let request = Request::get(url)
            .body(Full::new(Bytes::new()))
            .expect("request");
        self.send(request).await.expect("GET failed")
    }
}

fn client_config_trusting_nothing() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// Sends raw bytes on a fresh TCP connection and reads until the server closes or `wait`
/// passes without data. Returns everything received.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The peer may close before we finish writing (it refused the head already).
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// The status codes of every response in a raw HTTP/1 byte stream, in order.
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

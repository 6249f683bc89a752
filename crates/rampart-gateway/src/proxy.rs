//! Upstreams: pooled keep-alive clients and the forwarding of one request.
//!
//! Each upstream has its own pool, connect timeout and TLS settings. Plain-HTTP upstreams use
//! the lean HTTP/1 pool of [`crate::pool`]; HTTPS upstreams use hyper-util's client.
//! Upstream TLS verifies certificates against the system roots plus the upstream's `ca`;
//! `dangerous_skip_upstream_verify` is the only way to turn that off, and it is named so.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rampart_config::UpstreamScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::body::{BodyError, RequestBody};
use crate::pool::{Pool, PoolError};
use crate::tls::provider;

/// A plain-HTTP upstream gets the lean HTTP/1 pool: cheaper per request.
#[derive(Debug)]
enum HttpClient {
    Plain(Pool),
    Tls(Box<Client<HttpsConnector<HttpConnector>, RequestBody>>),
}

type ResponseFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Response<Incoming>, hyper_util::client::legacy::Error>,
            > + Send,
    >,
>;

impl HttpClient {
    /// Boxed, so that the large request future is not moved through every caller's frame.
    fn request_tls(
        client: &Client<HttpsConnector<HttpConnector>, RequestBody>,
        request: Request<RequestBody>,
    ) -> ResponseFuture {
        Box::pin(client.request(request))
    }
}

#[derive(Debug)]
pub struct Upstream {
    pub name: Arc<str>,
    scheme: &'static str,
    authority: String,
    host_header: HeaderValue,
    base_path: String,
    request_timeout: Duration,
    preserve_host: bool,
    client: HttpClient,
}

/// How forwarding failed, for the error table and the log.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("connecting to the upstream failed: {0}")]
    Connect(String),
    #[error("the upstream did not answer within request_timeout")]
    Timeout,
    #[error("the request body was refused: {0}")]
    Body(BodyErrorKind),
    #[error("the exchange with the upstream failed: {0}")]
    Exchange(String),
    #[error("invalid upstream URI")]
    Uri,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyErrorKind {
    #[error("too large")]
    TooLarge,
    #[error("timed out")]
    Timeout,
    #[error("client aborted")]
    Aborted,
}

impl Upstream {
    /// How long the upstream has to answer (and, where the gateway reads a response body
    /// whole, to send it).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub fn build(config: &rampart_config::Upstream) -> Result<Upstream, String> {
        let client = match config.scheme {
            UpstreamScheme::Http => HttpClient::Plain(Pool::new(
                &config.authority,
                config.connect_timeout,
                config.pool_idle_timeout,
                config.pool_max_idle,
            )),
            UpstreamScheme::Https => {
                let mut http = HttpConnector::new();
                http.set_connect_timeout(Some(config.connect_timeout));
                http.set_nodelay(true);
                http.enforce_http(false);
                http.set_keepalive(Some(Duration::from_secs(60)));
                let mut builder = Client::builder(TokioExecutor::new());
                builder
                    .pool_idle_timeout(config.pool_idle_timeout)
                    .pool_max_idle_per_host(config.pool_max_idle)
                    .pool_timer(TokioTimer::new())
                    .timer(TokioTimer::new());
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(upstream_tls(config)?)
                    .https_only()
                    .enable_http1()
                    .wrap_connector(http);
                HttpClient::Tls(Box::new(builder.build(connector)))
            }
        };
        let host = config
            .authority
            .strip_suffix(match config.scheme {
                UpstreamScheme::Http => ":80",
                UpstreamScheme::Https => ":443",
            })
            .unwrap_or(&config.authority);
        Ok(Upstream {
            name: Arc::from(config.name.as_str()),
            scheme: match config.scheme {
                UpstreamScheme::Http => "http",
                UpstreamScheme::Https => "https",
            },
            authority: config.authority.clone(),
            host_header: HeaderValue::from_str(host)
                .map_err(|_| "invalid upstream host".to_owned())?,
            base_path: config.base_path.clone(),
            request_timeout: config.request_timeout,
            preserve_host: config.preserve_host,
            client,
        })
    }

    /// Sends `request` (whose headers the pipeline has already prepared) to this upstream,
    /// at `path` (normalized) and `query`.
    pub async fn forward(
        &self,
        mut request: Request<RequestBody>,
        path: &str,
        query: Option<&str>,
    ) -> Result<Response<Incoming>, ProxyError> {
        // The plain pool speaks HTTP/1 on its own connections: origin-form. The hyper-util
        // client wants the absolute form (it picks the pool and connector by it).
        let absolute = matches!(self.client, HttpClient::Tls(_));
        let mut uri = String::with_capacity(
            if absolute {
                self.scheme.len() + 3 + self.authority.len()
            } else {
                0
            } + self.base_path.len()
                + path.len()
                + query.map_or(0, |q| q.len() + 1)
                + 1,
        );
        if absolute {
            uri.push_str(self.scheme);
            uri.push_str("://");
            uri.push_str(&self.authority);
        }
        uri.push_str(&self.base_path);
        uri.push_str(path);
        if uri.is_empty() {
            // Origin-form is never empty (a normalized path always has its `/`).
            uri.push('/');
        }
        if let Some(q) = query {
            uri.push('?');
            uri.push_str(q);
        }
        *request.uri_mut() = Uri::try_from(uri).map_err(|_| ProxyError::Uri)?;
        // Upstreams speak HTTP/1.1 whatever the client spoke.
        *request.version_mut() = http::Version::HTTP_11;
        if !self.preserve_host || !request.headers().contains_key(header::HOST) {
            request
                .headers_mut()
                .insert(header::HOST, self.host_header.clone());
        }
        match &self.client {
            HttpClient::Plain(pool) => {
                match tokio::time::timeout(self.request_timeout, pool.send(request)).await {
                    Err(_) => Err(ProxyError::Timeout),
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(PoolError::Connect(e))) => Err(ProxyError::Connect(e)),
                    Ok(Err(PoolError::Exchange(e))) => {
                        Err(body_error(&e)
                            .unwrap_or_else(|| ProxyError::Exchange(format!("{e:?}"))))
                    }
                }
            }
            HttpClient::Tls(client) => {
                match tokio::time::timeout(
                    self.request_timeout,
                    HttpClient::request_tls(client, request),
                )
                .await
                {
                    Err(_) => Err(ProxyError::Timeout),
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(e)) => Err(classify(&e)),
                }
            }
        }
    }
}

/// A failure of our own request body (limit, timeout, client gone) surfaces as the source of
/// the client error; it is the client's fault, not the upstream's.
fn body_error(error: &(dyn std::error::Error + 'static)) -> Option<ProxyError> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(body) = e.downcast_ref::<BodyError>() {
            return Some(ProxyError::Body(match body {
                BodyError::TooLarge => BodyErrorKind::TooLarge,
                BodyError::Timeout => BodyErrorKind::Timeout,
                BodyError::Read(_) => BodyErrorKind::Aborted,
            }));
        }
        source = e.source();
    }
    None
}

fn classify(error: &hyper_util::client::legacy::Error) -> ProxyError {
    if let Some(body) = body_error(error) {
        body
    } else if error.is_connect() {
        ProxyError::Connect(format!("{error:?}"))
    } else {
        ProxyError::Exchange(format!("{error:?}"))
    }
}

fn upstream_tls(config: &rampart_config::Upstream) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let tls = if config.dangerous_skip_upstream_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(ca) = &config.ca {
            let certs = crate::tls::read_certs(ca)?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // ALPN (http/1.1) is set by the connector builder, which refuses a preset list.
    Ok(tls)
}

/// Accepts any upstream certificate chain and name. Only reachable through
/// `dangerous_skip_upstream_verify`, which `rampart check` warns about.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signatures are still checked: the peer must at least hold the key of
    // the certificate it presents, even though nobody vouches for that certificate.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

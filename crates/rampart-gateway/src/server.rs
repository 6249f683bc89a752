//! Listeners and connections: accept, TLS, HTTP/1 behind the framing guard or HTTP/2 by
//! ALPN, the plain-HTTP redirect listener, reload and graceful shutdown.
//!
//! The current [`Pipeline`] sits behind an atomic pointer: a reload swaps it whole, and each
//! request runs to its end on the generation it started with. Shutdown stops the accept
//! loops, asks every connection to finish its in-flight requests (hyper's graceful
//! shutdown), and waits for them up to `shutdown_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rampart_config::{Config, Diagnostic};
use rampart_http::framing::{self, GuardedIo, Violation};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::access_log::AccessLogger;
use crate::admin;
use crate::body::ResponseBody;
use crate::metrics;
use crate::pipeline::{Connection, Pipeline, raw_rejection};
use crate::stall::WriteStall;
use crate::tls::{self, CertStore};

/// A running gateway.
pub struct Gateway {
    shared: Arc<Shared>,
    /// The data-plane address actually bound (useful with port 0).
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    pub http_redirect: Option<SocketAddr>,
}

struct Shared {
    pipeline: ArcSwap<Pipeline>,
    /// Brute-force counts and bans, kept across reloads.
    abuse: Arc<crate::abuse::Abuse>,
    /// Rate-limit counts, kept across reloads.
    limiter: Arc<crate::ratelimit::Limiter>,
    certs: Option<Arc<CertStore>>,
    log: Arc<AccessLogger>,
    shutdown: watch::Sender<bool>,
    draining: AtomicBool,
    connections: AtomicUsize,
    drained: Notify,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{}", format_diagnostics(.0))]
    Config(Vec<Diagnostic>),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot open the access log: {0}")]
    AccessLog(std::io::Error),
}

fn format_diagnostics(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything in `config` that must be loaded to run it, beyond what rampart-config checks:
/// upstream clients, the router, the TLS certificate. Used by `check` and by reload.
pub fn prepare(config: &Config) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    if let Some(t) = &config.server.tls
        && let Err(e) = tls::load_certified_key(&t.cert, &t.key)
    {
        errors.push(Diagnostic::new("server.tls", e));
    }
    let log = AccessLogger::start(&rampart_config::AccessLog::Off, Vec::new())
        .map_err(|e| vec![Diagnostic::new("log.access", e.to_string())])?;
    let abuse = Arc::new(crate::abuse::Abuse::default());
    if let Err(e) = crate::ratelimit::Limiter::new(&config.ratelimit) {
        return Err(vec![Diagnostic::new("ratelimit", e)]);
    }
    let limiter = Arc::new(crate::ratelimit::Limiter::local(&config.ratelimit));
    if let Err(mut e) = Pipeline::build_for(
        config.clone(),
        log,
        abuse,
        limiter,
        crate::auth::Mode::Check,
    ) {
        errors.append(&mut e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl Gateway {
    /// With a Redis backend, whether it is reachable now; `None` without one.
    pub fn shared_limiter_up(&self) -> Option<bool> {
        self.shared.limiter.shared().map(|s| s.is_up())
    }

    /// Binds every listener and starts serving on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        metrics::install();
        let certs = match &config.server.tls {
            Some(t) => Some(CertStore::new(
                tls::load_certified_key(&t.cert, &t.key)
                    .map_err(|e| StartError::Config(vec![Diagnostic::new("server.tls", e)]))?,
            )),
            None => None,
        };
        let log = AccessLogger::start(
            &config.log.access,
            config.log.sensitive_query_params.clone(),
        )
        .map_err(StartError::AccessLog)?;
        let server = config.server.clone();
        let admin_addr = config.admin.listen;
        let abuse = Arc::new(crate::abuse::Abuse::new(config.abuse.clone()));
        let limiter = Arc::new(
            crate::ratelimit::Limiter::new(&config.ratelimit)
                .map_err(|e| StartError::Config(vec![Diagnostic::new("ratelimit", e)]))?,
        );
        let book = crate::bans::book_for(&config, &limiter)
            .map_err(|e| StartError::Config(vec![Diagnostic::new("store", e)]))?;
        let pipeline = Pipeline::build(
            config,
            Arc::clone(&log),
            Arc::clone(&abuse),
            Arc::clone(&limiter),
        )
        .map_err(StartError::Config)?;
        pipeline.start_background();
        limiter.start();
        if let Some(book) = book {
            book.start_following();
            abuse.share(book);
        }

        let data = TcpListener::bind(server.listen)
            .await
            .map_err(|e| StartError::Bind(server.listen, e))?;
        let admin = TcpListener::bind(admin_addr)
            .await
            .map_err(|e| StartError::Bind(admin_addr, e))?;
        let redirect = match server.http_redirect_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartError::Bind(addr, e))?,
            ),
            None => None,
        };
        let listen = data
            .local_addr()
            .map_err(|e| StartError::Bind(server.listen, e))?;
        let admin_local = admin
            .local_addr()
            .map_err(|e| StartError::Bind(admin_addr, e))?;
        let redirect_local = redirect.as_ref().and_then(|l| l.local_addr().ok());

        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            pipeline: ArcSwap::from_pointee(pipeline),
            abuse,
            limiter,
            certs: certs.clone(),
            log,
            shutdown,
            draining: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            drained: Notify::new(),
        });
        let acceptor = match &certs {
            Some(certs) => Some(TlsAcceptor::from(
                tls::server_config(
                    Arc::clone(certs),
                    server.tls.as_ref().and_then(|t| t.client_auth.as_ref()),
                )
                .map_err(|e| StartError::Config(vec![Diagnostic::new("server.tls", e)]))?,
            )),
            None => None,
        };
        let limit = Arc::new(Semaphore::new(server.limits.max_connections));
        tokio::spawn(accept_loop(
            Arc::clone(&shared),
            data,
            acceptor,
            limit,
            Kind::Data,
        ));
        if let Some(redirect) = redirect {
            let limit = Arc::new(Semaphore::new(server.limits.max_connections));
            tokio::spawn(accept_loop(
                Arc::clone(&shared),
                redirect,
                None,
                limit,
                Kind::Redirect {
                    https_port: listen.port(),
                },
            ));
        }
        tokio::spawn(admin::serve(
            admin,
            Arc::clone(&shared) as Arc<dyn admin::Health>,
            shared.shutdown.subscribe(),
        ));
        tracing::info!(%listen, admin = %admin_local, tls = shared.certs.is_some(), "rampart is serving");
        Ok(Gateway {
            shared,
            listen,
            admin: admin_local,
            http_redirect: redirect_local,
        })
    }

    /// Swaps in a new config. A config that fails to load is refused and the running one
    /// keeps serving. Listener addresses, the access-log target and the worker count are
    /// fixed at start; changing them needs a restart (a warning says so).
    pub fn reload(&self, config: Config) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let result = self.try_reload(config);
        metrics::config_reload(if result.is_ok() { "ok" } else { "refused" });
        result
    }

    fn try_reload(&self, config: Config) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let current = self.shared.pipeline.load();
        let old = &current.config;
        let mut notes = Vec::new();
        if old.server.listen != config.server.listen
            || old.admin.listen != config.admin.listen
            || old.server.http_redirect_listen != config.server.http_redirect_listen
            || old.server.worker_threads != config.server.worker_threads
            || old.log.access != config.log.access
            || old.server.limits.max_connections != config.server.limits.max_connections
        {
            notes.push(Diagnostic::new(
                "",
                "listener addresses, worker_threads, max_connections and log.access take effect at the next restart",
            ));
        }
        if old.server.tls.as_ref().map(|t| &t.client_auth)
            != config.server.tls.as_ref().map(|t| &t.client_auth)
        {
            notes.push(Diagnostic::new(
                "server.tls.client_ca",
                "client-certificate settings (CA, CRLs, optional/required) take effect at the next restart",
            ));
        }
        if old.server.tls.is_some() != config.server.tls.is_some() {
            return Err(vec![Diagnostic::new(
                "server.tls",
                "turning TLS on or off needs a restart",
            )]);
        }
        let new_key = match &config.server.tls {
            Some(t) => Some(
                tls::load_certified_key(&t.cert, &t.key)
                    .map_err(|e| vec![Diagnostic::new("server.tls", e)])?,
            ),
            None => None,
        };
        for (key, changed) in [
            (
                "ratelimit.backend",
                old.ratelimit.backend != config.ratelimit.backend,
            ),
            (
                "ratelimit.max_keys",
                old.ratelimit.max_keys != config.ratelimit.max_keys,
            ),
        ] {
            if changed {
                return Err(vec![Diagnostic::new(key, "a change here needs a restart")]);
            }
        }
        let pipeline = Pipeline::build(
            config,
            Arc::clone(&self.shared.log),
            Arc::clone(&self.shared.abuse),
            Arc::clone(&self.shared.limiter),
        )?;
        pipeline.start_background();
        if let (Some(store), Some(key)) = (&self.shared.certs, new_key) {
            store.replace(key);
        }
        self.shared.pipeline.store(Arc::new(pipeline));
        Ok(notes)
    }

    /// Stops accepting, lets in-flight requests finish up to `deadline`, then returns.
    /// Returns the number of connections still open when the deadline passed.
    pub async fn shutdown(&self, deadline: Duration) -> usize {
        self.shared.draining.store(true, Ordering::SeqCst);
        let _ = self.shared.shutdown.send(true);
        let wait = async {
            loop {
                let notified = self.shared.drained.notified();
                if self.shared.connections.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(deadline, wait).await;
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.shared.pipeline.load().config)
    }
}

impl admin::Health for Shared {
    fn ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Data,
    Redirect { https_port: u16 },
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    limit: Arc<Semaphore>,
    kind: Kind,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        // At max_connections, stop accepting: new clients wait in the kernel's backlog
        // instead of costing us memory.
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        shared.connections.fetch_add(1, Ordering::SeqCst);
        metrics::connection_opened();
        tokio::spawn(async move {
            serve_connection(&shared, stream, peer, acceptor, kind).await;
            drop(permit);
            metrics::connection_closed();
            if shared.connections.fetch_sub(1, Ordering::SeqCst) == 1 {
                shared.drained.notify_waiters();
            }
        });
    }
}

async fn serve_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    kind: Kind,
) {
    let limits = shared.pipeline.load().limits().clone();
    let stream = WriteStall::new(stream, limits.idle_timeout);
    let Some(acceptor) = acceptor else {
        serve_http1(shared, stream, Arc::new(Connection::new(peer, false)), kind).await;
        return;
    };
    // The handshake counts against the header read timeout: a client that opens a
    // connection and sends nothing is a slowloris like any other.
    let tls = match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            metrics::tls_handshake_failed();
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            metrics::tls_handshake_failed();
            return;
        }
    };
    let client_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Arc::new(crate::auth::ClientCert::new(leaf.clone().into_owned())));
    let conn = Arc::new(Connection::new(peer, true).with_client_cert(client_cert));
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_http2(shared, tls, conn).await;
    } else {
        serve_http1(shared, tls, conn, kind).await;
    }
}

async fn serve_http1<S>(shared: &Arc<Shared>, stream: S, conn: Arc<Connection>, kind: Kind)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let pipeline = shared.pipeline.load();
    let limits = pipeline.limits();
    let guard = framing::Guard::new(framing::Limits {
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
        max_uri_bytes: limits.max_uri_bytes,
        hold_body_bytes: 64 * 1024,
    });
    let timeouts = framing::Timeouts {
        header_read: limits.header_read_timeout,
        idle: limits.idle_timeout,
        body: limits.body_read_timeout,
    };
    // hyper's read buffer must hold a whole released head plus the guard's body hold.
    let max_buf = 64 * 1024 + limits.max_header_bytes;
    let security = pipeline.security_headers().clone();
    let tls = conn.tls;
    let peer = conn.peer;
    let reject: framing::Reject = Arc::new(move |v: &Violation| {
        let status = StatusCode::from_u16(v.status).unwrap_or(StatusCode::BAD_REQUEST);
        let (request_id, bytes) = raw_rejection(status, &security, tls);
        metrics::framing_rejected(v.reason.code());
        tracing::info!(
            request_id = request_id.as_str(),
            %peer,
            status = v.status,
            reason = v.reason.code(),
            "request refused by the HTTP/1 framing guard"
        );
        bytes
    });
    drop(pipeline);
    let io = TokioIo::new(GuardedIo::new(stream, guard, timeouts, reject));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // The framing guard owns the header timeout (it holds the head until complete).
        .header_read_timeout(None)
        .keep_alive(true)
        // A client that half-closes after its request still gets the response.
        .half_close(true)
        .max_buf_size(max_buf);
    let shared_svc = Arc::clone(shared);
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = Arc::clone(&shared_svc);
        let conn = Arc::clone(&conn);
        async move {
            Ok::<_, std::convert::Infallible>(match kind {
                Kind::Data => {
                    let pipeline = shared.pipeline.load_full();
                    pipeline.handle(&conn, request).await
                }
                Kind::Redirect { https_port } => {
                    let mut response = redirect(&request, https_port);
                    let pipeline = shared.pipeline.load();
                    pipeline
                        .security_headers()
                        .apply(response.headers_mut(), false);
                    response
                }
            })
        }
    });
    let connection = builder.serve_connection(io, service);
    drive(shared, connection).await;
}

async fn serve_http2<S>(shared: &Arc<Shared>, stream: S, conn: Arc<Connection>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = shared.pipeline.load().limits().clone();
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(128)
        // Pings find dead peers; they are not requests, so they do not keep a connection
        // alive as far as `idle` below is concerned.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let activity = Arc::new(Activity::default());
    let shared_svc = Arc::clone(shared);
    let service_activity = Arc::clone(&activity);
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = Arc::clone(&shared_svc);
        let activity = Arc::clone(&service_activity);
        let conn = Arc::clone(&conn);
        async move {
            let busy = activity.begin();
            let pipeline = shared.pipeline.load_full();
            let mut response = pipeline.handle(&conn, request).await;
            // The request stays in flight until its response body has been sent: a long
            // download is not an idle connection.
            response.body_mut().keep_until_sent(Box::new(busy));
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let idle = IdleWatch {
        activity,
        timeout: limits.idle_timeout,
    };
    drive_with_idle(shared, connection, Some(idle)).await;
}

/// Requests in flight on an HTTP/2 connection, and when the last one ended. hyper has no
/// idle timeout for HTTP/2; without one, a client could hold connections (and their share of
/// `max_connections`) open forever by sending nothing, or nothing but pings.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` at which the last request ended (or the connection began).
    last: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<tokio::time::Instant>,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        let epoch = self.epoch.get_or_init(tokio::time::Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let idle = self
            .now_ms()
            .saturating_sub(self.last.load(Ordering::SeqCst));
        Some(Duration::from_millis(idle))
    }
}

/// Marks a request in flight until dropped (when its response has been produced).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct IdleWatch {
    activity: Arc<Activity>,
    timeout: Duration,
}

/// Runs a connection to its end, or, on shutdown, lets it finish in-flight requests.
async fn drive<C>(shared: &Shared, connection: C)
where
    C: GracefulConnection,
{
    drive_with_idle(shared, connection, None).await;
}

async fn drive_with_idle<C>(shared: &Shared, connection: C, idle: Option<IdleWatch>)
where
    C: GracefulConnection,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut connection = std::pin::pin!(connection);
    if *shutdown.borrow() {
        connection.as_mut().graceful();
    }
    if let Some(idle) = &idle {
        idle.activity
            .last
            .store(idle.activity.now_ms(), Ordering::SeqCst);
    }
    let check_every = idle.as_ref().map_or(Duration::from_secs(3600), |i| {
        (i.timeout / 4).max(Duration::from_millis(10))
    });
    let mut tick = tokio::time::interval(check_every);
    let idle_expired = loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.changed() => break false,
            _ = tick.tick(), if idle.is_some() => {
                let expired = idle
                    .as_ref()
                    .and_then(|i| i.activity.idle_for().map(|d| d >= i.timeout))
                    .unwrap_or(false);
                if expired {
                    break true;
                }
            }
        }
    };
    connection.as_mut().graceful();
    // An idle HTTP/2 peer that does not answer the GOAWAY's ping would keep a graceful close
    // waiting forever: it gets a short grace, then the connection is dropped.
    let grace = if idle_expired {
        Duration::from_secs(2)
    } else {
        Duration::MAX
    };
    match tokio::time::timeout(grace, connection).await {
        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error while closing"),
        Ok(Ok(())) => {}
        Err(_) => tracing::debug!("idle connection dropped after its grace period"),
    }
}

trait GracefulConnection: std::future::Future<Output = Result<(), hyper::Error>> {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = ResponseBody>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> GracefulConnection for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming, ResBody = ResponseBody>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, ResponseBody>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// The plain-HTTP listener's only answer: 308 to the same host and target over HTTPS.
fn redirect(request: &Request<Incoming>, https_port: u16) -> Response<ResponseBody> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(crate::headers::host_without_port)
        .unwrap_or("localhost");
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = if https_port == 443 {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{https_port}{target}")
    };
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    match http::HeaderValue::from_str(&location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *response.status_mut() = StatusCode::BAD_REQUEST,
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

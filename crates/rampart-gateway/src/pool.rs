//! A lean keep-alive pool of HTTP/1 connections to one plain-HTTP upstream.
//!
//! This replaces hyper-util's legacy `Client` for `http://` upstreams: no generic pool keyed
//! by URI, no connect future built (and moved) on every request, no task spawned per
//! response to return the connection. What is left per request is a mutex-guarded `Vec`
//! pop and push and hyper's own channel hop to the connection task.
//!
//! How a connection comes back: the sender is pushed back into the list as soon as the
//! response *head* has arrived, stamped with the time it was returned. hyper's HTTP/1
//! `SendRequest` only becomes ready again once the previous exchange is over (the response
//! body fully read), so a checkout takes the most recently returned sender that
//! [`is_ready`](SendRequest::is_ready), leaves the ones still busy with a response body where
//! they are, and drops the ones whose connection closed or that sat in the list longer than
//! `pool_idle_timeout`. One request per connection at a time is guaranteed by hyper itself: a
//! ready sender accepts exactly one request and is not ready again until that exchange ends.
//!
//! Bounds: the list never holds more than `pool_max_idle` senders, busy or idle. A request
//! that finds none ready opens a new connection; when that one comes back to a full list
//! (after purging closed and expired entries) it is dropped, and hyper closes the
//! connection once its exchange is over. So the live connections never exceed the requests
//! in flight plus `pool_max_idle`, however slowly response bodies are read.
//!
//! A stale connection (the upstream closed it while it was idle) does not fail the request
//! when a retry is safe; the request is then sent once more, on a new connection:
//! - when hyper hands the request back unsent (`TrySendError::take_message`): it never left,
//!   its body is untouched, so the retry is safe whatever the method (as hyper-util did);
//! - when the request may have been written but the connection failed before any response
//!   (closed, reset, incomplete message), if the request is idempotent (GET, HEAD, OPTIONS,
//!   PUT, DELETE) and has no body. hyper consumes the request it sends, so a copy (method, URI,
//!   version, headers) is kept for the retry, but only when the connection had been idle for
//!   [`RETRY_COPY_AFTER`] or more: a connection reused within that window was just working,
//!   and upstreams close idle connections after far longer, so under load (where connections
//!   are reused within microseconds) no copy is made.

use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::body::{BodyError, RequestBody};

/// A reused connection idle for at least this long may have been closed by the upstream in
/// the meantime: a retry copy of an idempotent request without a body is kept (see above).
pub const RETRY_COPY_AFTER: Duration = Duration::from_millis(100);

/// What goes upstream: the client's body, or nothing (the retry of a request without one).
pub enum UpstreamBody {
    Client(RequestBody),
    Empty,
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::Client(body) => Pin::new(body).poll_frame(cx),
            UpstreamBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Client(body) => body.is_end_stream(),
            UpstreamBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Client(body) => body.size_hint(),
            UpstreamBody::Empty => SizeHint::with_exact(0),
        }
    }
}

/// How sending through the pool failed.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be made (resolution, TCP connect, `connect_timeout`).
    Connect(String),
    /// The exchange on a connection failed.
    Exchange(hyper::Error),
}

struct Idle {
    sender: SendRequest<UpstreamBody>,
    /// When the sender was returned to the list.
    since: Instant,
}

pub struct Pool {
    authority: Box<str>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("authority", &self.authority)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub fn new(
        authority: &str,
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Pool {
        Pool {
            authority: authority.into(),
            connect_timeout,
            idle_timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) and waits for the response head.
    pub async fn send(
        &self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, PoolError> {
        self.send_upstream(request.map(UpstreamBody::Client)).await
    }

    async fn send_upstream(
        &self,
        mut request: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, PoolError> {
        if let Some((mut sender, idle_for)) = self.checkout() {
            let mut copy = if idle_for >= RETRY_COPY_AFTER {
                retry_copy(&request)
            } else {
                None
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.checkin(sender);
                    return Ok(response);
                }
                Err(mut error) => {
                    let retry = match error.take_message() {
                        // Never sent: the pooled connection was stale.
                        Some(unsent) => Some(unsent),
                        None if is_stale(error.error()) => copy.take(),
                        None => None,
                    };
                    let Some(retry) = retry else {
                        return Err(PoolError::Exchange(error.into_error()));
                    };
                    tracing::debug!(
                        upstream = &*self.authority,
                        error = %error.error(),
                        "pooled upstream connection failed before any response; retrying on a new one"
                    );
                    request = retry;
                }
            }
        }
        // Boxed: the connect path is rare, and keeping it out of line keeps this future small.
        let mut sender = Box::pin(self.connect()).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(PoolError::Exchange)?;
        self.checkin(sender);
        Ok(response)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently returned ready sender, if any. Closed and expired ones are dropped;
    /// busy ones (a response body still being read) stay.
    /// With it, how long it had been in the list.
    fn checkout(&self) -> Option<(SendRequest<UpstreamBody>, Duration)> {
        let mut idle = self.lock();
        let mut now = None;
        let mut i = idle.len();
        let mut dropped = Vec::new();
        let found = loop {
            if i == 0 {
                break None;
            }
            i -= 1;
            let entry = &idle[i];
            let closed = entry.sender.is_closed();
            let ready = !closed && entry.sender.is_ready();
            if !closed && !ready {
                continue;
            }
            let now = *now.get_or_insert_with(Instant::now);
            let idle_for = now.saturating_duration_since(entry.since);
            if closed || idle_for > self.idle_timeout {
                // swap_remove moves an already-scanned entry into `i`: nothing is skipped.
                dropped.push(idle.swap_remove(i).sender);
                continue;
            }
            break Some((idle.swap_remove(i).sender, idle_for));
        };
        drop(idle);
        drop(dropped);
        found
    }

    /// Returns `sender` to the list, unless its connection closed or the list is full.
    fn checkin(&self, sender: SendRequest<UpstreamBody>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        let mut purged = Vec::new();
        if idle.len() >= self.max_idle {
            let timeout = self.idle_timeout;
            purged.extend(idle.extract_if(.., |e| {
                e.sender.is_closed() || now.saturating_duration_since(e.since) > timeout
            }));
        }
        let rejected = if idle.len() < self.max_idle {
            idle.push(Idle { sender, since: now });
            None
        } else {
            Some(sender)
        };
        // Senders are dropped outside the lock.
        drop(idle);
        drop((purged, rejected));
    }

    async fn connect(&self) -> Result<SendRequest<UpstreamBody>, PoolError> {
        let stream = match tokio::time::timeout(self.connect_timeout, self.tcp()).await {
            Err(_) => {
                return Err(PoolError::Connect(format!(
                    "connecting to {} timed out",
                    self.authority
                )));
            }
            Ok(Err(e)) => return Err(PoolError::Connect(format!("{e:?}"))),
            Ok(Ok(stream)) => stream,
        };
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| PoolError::Connect(format!("{e:?}")))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Resolves the authority and connects to its addresses in turn (TCP keep-alive on,
    /// Nagle off, as the legacy connector did).
    async fn tcp(&self) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in tokio::net::lookup_host(&*self.authority).await? {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_keepalive(true)?;
            match socket.connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the upstream host has no address")
        }))
    }
}

/// A copy of `request` to send again if the connection fails before any response, when that
/// is safe: an idempotent method (RFC 9110, 9.2.2) and no body.
fn retry_copy(request: &Request<UpstreamBody>) -> Option<Request<UpstreamBody>> {
    let idempotent = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    );
    if !idempotent || !request.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(UpstreamBody::Empty);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}

/// Whether `error` says the connection went away before any response: what a connection the
/// upstream closed while it sat in the pool looks like.
fn is_stale(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            );
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::Uri;
    use http_body_util::BodyExt;

    use super::*;

    /// A blocking upstream on its own threads: answers each request with "ok" (or, for
    /// `/slow`, a body sent in two halves 300 ms apart); with `close_after_one`, closes each
    /// connection 50 ms after its first response, without saying so. Counts connections.
    fn upstream(close_after_one: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let slow = buf.starts_with(b"GET /slow ");
                        buf.clear();
                        if slow {
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab");
                            std::thread::sleep(Duration::from_millis(300));
                            let _ = stream.write_all(b"cd");
                        } else {
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                        }
                        if close_after_one {
                            // After the client has put the connection back in its pool.
                            std::thread::sleep(Duration::from_millis(50));
                            return;
                        }
                    }
                });
            }
        });
        (addr, connections)
    }

    fn get(path: &str) -> Request<UpstreamBody> {
        let mut request = Request::new(UpstreamBody::Empty);
        *request.uri_mut() = Uri::try_from(path).expect("uri");
        request
            .headers_mut()
            .insert(http::header::HOST, http::HeaderValue::from_static("test"));
        request
    }

    async fn text(response: Response<Incoming>) -> String {
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    }

    fn pool(addr: &str, max_idle: usize) -> Pool {
        Pool::new(
            addr,
            Duration::from_secs(2),
            Duration::from_secs(90),
            max_idle,
        )
    }

    #[tokio::test]
    async fn sequential_requests_reuse_one_connection() {
        let (addr, connections) = upstream(false);
        let pool = pool(&addr, 8);
        for _ in 0..5 {
            let response = pool.send_upstream(get("/")).await.expect("response");
            assert_eq!(text(response).await, "ok");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_idle_connection_is_kept_with_max_idle_zero() {
        let (addr, connections) = upstream(false);
        let pool = pool(&addr, 0);
        for _ in 0..3 {
            let response = pool.send_upstream(get("/")).await.expect("response");
            assert_eq!(text(response).await, "ok");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 3);
        assert!(pool.lock().is_empty());
    }

    #[tokio::test]
    async fn a_connection_busy_with_a_body_is_not_reused() {
        let (addr, connections) = upstream(false);
        let pool = pool(&addr, 8);
        let slow = pool.send_upstream(get("/slow")).await.expect("slow head");
        let fast = pool.send_upstream(get("/")).await.expect("fast");
        assert_eq!(text(fast).await, "ok");
        assert_eq!(text(slow).await, "abcd");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        // Both come back; the next request reuses one of them.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            text(pool.send_upstream(get("/")).await.expect("again")).await,
            "ok"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert!(pool.lock().len() <= 2);
    }

    #[tokio::test]
    async fn a_stale_connection_is_retried_on_a_new_one() {
        let (addr, connections) = upstream(true);
        let pool = pool(&addr, 8);
        for round in 1..=3 {
            let response = pool.send_upstream(get("/")).await.expect("response");
            assert_eq!(text(response).await, "ok");
            // Block the runtime: the upstream's close is not seen before the next send.
            std::thread::sleep(Duration::from_millis(150));
            assert_eq!(connections.load(Ordering::SeqCst), round);
        }
    }
}

//! Bodies as they cross the gateway.
//!
//! [`RequestBody`] enforces `max_body_bytes` and `body_read_timeout` while the client's body
//! streams to the upstream: nothing is buffered, and the request fails the moment either limit
//! is passed (hyper then aborts the upstream request; the pipeline answers 413 or 408).
//! [`ResponseBody`] is what the gateway sends back: an upstream body passed through, or a
//! small body of its own; it counts the bytes sent and completes the access-log record when
//! the exchange ends, however it ends.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::access_log::Completion;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds max_body_bytes")]
    TooLarge,
    #[error("request body not received within body_read_timeout")]
    Timeout,
    #[error("reading the request body failed: {0}")]
    Read(#[from] hyper::Error),
}

pub struct RequestBody {
    inner: Source,
    remaining: u64,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

/// Where a request body comes from: the client, as it streams, or bytes the gateway has
/// read already (to inspect them).
enum Source {
    Client(Incoming),
    Buffered(Option<Bytes>),
}

impl RequestBody {
    pub fn new(inner: Incoming, max_bytes: u64, timeout: Duration) -> Self {
        RequestBody {
            inner: Source::Client(inner),
            remaining: max_bytes,
            timeout,
            deadline: None,
            failed: false,
        }
    }

    /// A body read already, sent as it is.
    pub fn buffered(bytes: Bytes) -> Self {
        RequestBody {
            remaining: bytes.len() as u64,
            inner: Source::Buffered(Some(bytes)),
            timeout: Duration::MAX,
            deadline: None,
            failed: false,
        }
    }

    /// The length of a body read already.
    pub fn buffered_len(&self) -> Option<u64> {
        match &self.inner {
            Source::Buffered(bytes) => Some(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Source::Client(_) => None,
        }
    }

    /// Reads the whole body within the limits.
    pub async fn read_all(self) -> Result<Bytes, BodyError> {
        use http_body_util::BodyExt;
        Ok(self.collect().await?.to_bytes())
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        let inner = match &mut this.inner {
            Source::Buffered(bytes) => {
                return Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b))));
            }
            Source::Client(inner) => inner,
        };
        // The clock starts when the upstream first asks for the body, not at accept, so that
        // the time spent connecting upstream does not count against the client.
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            this.failed = true;
            return Poll::Ready(Some(Err(BodyError::Timeout)));
        }
        let frame = match ready!(Pin::new(inner).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => {
                this.failed = true;
                return Poll::Ready(Some(Err(BodyError::Read(e))));
            }
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > this.remaining {
                this.failed = true;
                return Poll::Ready(Some(Err(BodyError::TooLarge)));
            }
            this.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Source::Client(inner) => inner.is_end_stream(),
            Source::Buffered(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Source::Client(inner) => inner.size_hint(),
            Source::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

enum Kind {
    Full(Option<Bytes>),
    Upstream(Incoming),
    /// An upstream body streamed through, each piece inspected for leaks as it passes.
    Watched(Incoming, Box<crate::leaks::Watch>),
}

pub struct ResponseBody {
    kind: Kind,
    sent: u64,
    completion: Option<Completion>,
    /// A request body left unread by a refusal, dropped only with this response (see
    /// [`ResponseBody::hold`]).
    held: Option<Incoming>,
    /// Anything that must live exactly as long as the response is being sent.
    keep: Option<Box<dyn std::any::Any + Send>>,
}

impl ResponseBody {
    pub fn full(bytes: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Full(Some(bytes)),
            sent: 0,
            completion: None,
            held: None,
            keep: None,
        }
    }

    pub fn empty() -> Self {
        ResponseBody::full(Bytes::new())
    }

    pub fn upstream(body: Incoming) -> Self {
        ResponseBody {
            kind: Kind::Upstream(body),
            sent: 0,
            completion: None,
            held: None,
            keep: None,
        }
    }

    /// An upstream body streamed through `watch` (see [`crate::leaks::Watch`]).
    pub fn watched(body: Incoming, watch: crate::leaks::Watch) -> Self {
        ResponseBody {
            kind: Kind::Watched(body, Box::new(watch)),
            sent: 0,
            completion: None,
            held: None,
            keep: None,
        }
    }

    /// Keeps an unread request body alive until this response has been sent. On HTTP/2 the
    /// stream is then closed with RST_STREAM(NO_ERROR), which tells the client the response
    /// is complete and valid (RFC 9113 §8.1), instead of CANCEL, which makes it discard it.
    pub fn hold(&mut self, body: Incoming) {
        self.held = Some(body);
    }

    /// Keeps `value` alive until this body has been sent (or dropped).
    pub fn keep_until_sent(&mut self, value: Box<dyn std::any::Any + Send>) {
        self.keep = Some(value);
    }

    /// Attaches the access-log record, completed with the byte count when the body ends.
    pub fn on_complete(&mut self, completion: Completion) {
        self.completion = Some(completion);
        if self.is_end_stream() {
            self.finish(false);
        }
    }

    fn finish(&mut self, aborted: bool) {
        if let Some(completion) = self.completion.take() {
            completion.complete(self.sent, aborted);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // Dropped before its end: the client went away or the upstream body broke.
        self.finish(true);
        if let Some(unread) = self.held.take() {
            discard(unread);
        }
    }
}

/// How much of a refused request's body the gateway reads and throws away after answering.
const DISCARD_LIMIT: u64 = 4 * 1024 * 1024;
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// Reads the rest of a refused request's body, bounded in bytes and time, and discards it.
///
/// A client still uploading when the refusal arrives would otherwise see its stream reset
/// (HTTP/2) or its connection torn down mid-write, and many clients then report a transport
/// error instead of the 413/4xx they were sent. Past the bounds, the body is simply dropped.
fn discard(mut body: Incoming) {
    use http_body_util::BodyExt;
    if body.is_end_stream() || body.size_hint().lower() > DISCARD_LIMIT {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let read = async {
            let mut seen = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > DISCARD_LIMIT {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DISCARD_TIME, read).await;
    });
}

/// Why a response body stopped: the upstream's body broke, or the gateway cut it (a leak).
pub type ResponseError = Box<dyn std::error::Error + Send + Sync>;

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseError>>> {
        let this = &mut *self;
        let polled = match &mut this.kind {
            Kind::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Kind::Upstream(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(Into::into))),
            Kind::Watched(body, watch) => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(match frame.into_data() {
                    Ok(data) => watch.check(data).map(Frame::data),
                    Err(trailers) => Ok(trailers),
                })),
                other => other.map(|f| f.map(|f| f.map_err(Into::into))),
            },
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
                if this.is_end_stream() {
                    this.finish(false);
                }
            }
            Poll::Ready(None) => this.finish(false),
            Poll::Ready(Some(Err(_))) => this.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Kind::Upstream(body) => body.is_end_stream(),
            Kind::Watched(body, _) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Upstream(body) => body.size_hint(),
            // Scrubbing may change the length: no exact size to promise.
            Kind::Watched(_, watch) if watch.may_change_length() => SizeHint::new(),
            Kind::Watched(body, _) => body.size_hint(),
        }
    }
}

//! [`GuardedIo`]: the framing guard between a client connection and hyper.
//!
//! Bytes enter from the client's stream into this wrapper's buffer, go through the
//! [`Guard`], and leave towards hyper only up to the release watermark: hyper never reads a
//! byte the guard has not validated. Held bytes (a head not yet complete, a small chunked
//! message) wait in the buffer, which the guard's limits bound. Writes pass straight through.
//!
//! The wrapper also owns the slowloris timeouts, because only it knows when the next request
//! head started: `idle` until its first byte, then `header_read` until the head is complete.
//!
//! A refused connection ends like this: hyper reads EOF, finishes any response in flight and
//! calls `poll_shutdown`, which first writes the rejection response the gateway's `reject`
//! callback built for the [`Violation`], then shuts the stream down.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::{Guard, Phase, Reason, Violation};

/// How much is read from the client at a time.
const READ_CHUNK: usize = 8 * 1024;

/// The slowloris timeouts. Body timeouts are enforced elsewhere, on the body stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a request head until the head is complete. On expiry the
    /// client gets a 408 ([`Reason::HeaderTimeout`]) and the connection ends.
    pub header_read: Duration,
    /// Waiting for the first byte of the next request: from the connection's start, from the
    /// end of each message, and again after each write of a response. On expiry the
    /// connection ends quietly.
    pub idle: Duration,
    /// While the guard holds back a body it is still validating (a small chunked message is
    /// held whole): from the end of its head. On expiry the client gets a 408
    /// ([`Reason::BodyTimeout`]). A body hyper already streams is timed by the gateway.
    pub body: Duration,
}

/// Builds the complete raw HTTP response sent to a client whose request was refused.
pub type Reject = Arc<dyn Fn(&Violation) -> Vec<u8> + Send + Sync>;

/// A handle on the violation that ended a connection, for the caller to log after hyper has
/// taken the [`GuardedIo`] (take it with [`GuardedIo::violation_handle`] before serving).
#[derive(Debug, Clone, Default)]
pub struct ViolationHandle(Arc<OnceLock<Violation>>);

impl ViolationHandle {
    /// The violation (or header-read timeout) that ended the connection, if any.
    pub fn get(&self) -> Option<&Violation> {
        self.0.get()
    }
}

/// Which timer is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Idle,
    Header,
    Body,
    Off,
}

/// An HTTP/1 connection stream that only lets validated bytes through to hyper.
pub struct GuardedIo<T> {
    inner: T,
    guard: Guard,
    timeouts: Timeouts,
    reject: Reject,
    /// Bytes read from the client; zero-filled once when grown so reads need no unsafe code.
    buf: Vec<u8>,
    /// `buf[head..tail]` is what was read and not yet handed to hyper.
    head: usize,
    tail: usize,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    /// Stream offset up to which hyper may read.
    released: u64,
    /// Most `buf` may grow to: everything the guard can hold back, plus one read.
    max_buf: usize,
    /// No more bytes for hyper past `released`: violation, close, timeout or client EOF.
    read_done: bool,
    violation: ViolationHandle,
    /// The rejection response, written on shutdown.
    pending_reject: Vec<u8>,
    reject_written: usize,
    sleep: Pin<Box<Sleep>>,
    timer: Timer,
    messages: u64,
}

impl<T> GuardedIo<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Wrap a client connection. `reject` builds the complete response bytes for a refused
    /// request (the gateway's problem+json with `Connection: close`).
    ///
    /// Must be called within a Tokio runtime with the time driver enabled: the idle timer
    /// starts now.
    pub fn new(inner: T, guard: Guard, timeouts: Timeouts, reject: Reject) -> Self {
        let limits = guard.limits();
        let max_buf = limits
            .max_header_bytes
            .saturating_add(limits.hold_body_bytes)
            .saturating_add(2 * READ_CHUNK);
        let messages = guard.messages();
        Self {
            inner,
            guard,
            timeouts,
            reject,
            buf: vec![0; READ_CHUNK],
            head: 0,
            tail: 0,
            buf_offset: 0,
            released: 0,
            max_buf,
            read_done: false,
            violation: ViolationHandle::default(),
            pending_reject: Vec::new(),
            reject_written: 0,
            sleep: Box::pin(tokio::time::sleep(timeouts.idle)),
            timer: Timer::Idle,
            messages,
        }
    }

    /// The violation (or header-read timeout) that ended the connection, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.get()
    }

    /// A handle that outlives this wrapper's move into hyper, for logging the violation.
    pub fn violation_handle(&self) -> ViolationHandle {
        self.violation.clone()
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// End the connection for `violation`: queue its response, stop reading.
    fn refuse(&mut self, violation: Violation) {
        self.pending_reject = (self.reject)(&violation);
        // Set once per connection: reading stops at the first refusal.
        let _ = self.violation.0.set(violation);
        self.read_done = true;
    }

    /// Arm the timer that fits the guard's phase; restart it when the phase (or the message)
    /// changed.
    fn rearm(&mut self) {
        let timer = match self.guard.phase() {
            Phase::Idle => Timer::Idle,
            Phase::Head => Timer::Header,
            // Held bytes are invisible to hyper and to the gateway's body timeout: without
            // this timer a chunked body that stalls inside the hold would never time out.
            Phase::Body if self.guard.released() < self.buf_offset + self.tail as u64 => {
                Timer::Body
            }
            Phase::Body | Phase::Closed | Phase::Failed => Timer::Off,
        };
        let messages = self.guard.messages();
        if timer != self.timer || messages != self.messages {
            match timer {
                Timer::Idle => self
                    .sleep
                    .as_mut()
                    .reset(Instant::now() + self.timeouts.idle),
                Timer::Header => self
                    .sleep
                    .as_mut()
                    .reset(Instant::now() + self.timeouts.header_read),
                Timer::Body => self
                    .sleep
                    .as_mut()
                    .reset(Instant::now() + self.timeouts.body),
                Timer::Off => {}
            }
        }
        self.timer = timer;
        self.messages = messages;
    }

    /// Make room for one read, keeping the bytes not yet handed to hyper.
    fn make_room(&mut self) -> io::Result<()> {
        if self.head > 0 && self.buf.len() - self.tail < READ_CHUNK {
            self.buf.copy_within(self.head..self.tail, 0);
            self.buf_offset += self.head as u64;
            self.tail -= self.head;
            self.head = 0;
        }
        if self.buf.len() - self.tail < READ_CHUNK {
            let want = (self.tail + READ_CHUNK)
                .max(self.buf.len() * 2)
                .min(self.max_buf);
            if want <= self.tail {
                // The guard refuses anything it would have to hold beyond `max_buf`.
                return Err(io::Error::other("framing guard buffer bound exceeded"));
            }
            self.buf.resize(want, 0);
        }
        Ok(())
    }
}

impl<T> AsyncRead for GuardedIo<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            // Released bytes not yet handed over, as many as fit.
            let ready_end = this.released.saturating_sub(this.buf_offset);
            let ready_end = usize::try_from(ready_end).map_or(this.tail, |end| end.min(this.tail));
            if ready_end > this.head {
                let n = (ready_end - this.head).min(out.remaining());
                out.put_slice(&this.buf[this.head..this.head + n]);
                this.head += n;
                return Poll::Ready(Ok(()));
            }
            if this.read_done || this.guard.closed() {
                // EOF: hyper sees the connection end after the last released byte.
                this.read_done = true;
                return Poll::Ready(Ok(()));
            }
            if this.timer != Timer::Off && this.sleep.as_mut().poll(cx).is_ready() {
                match this.timer {
                    Timer::Header => this.refuse(Violation::from(Reason::HeaderTimeout)),
                    Timer::Body => this.refuse(Violation::from(Reason::BodyTimeout)),
                    Timer::Idle | Timer::Off => {}
                }
                this.read_done = true;
                continue;
            }
            this.make_room()?;
            let mut read = ReadBuf::new(&mut this.buf[this.tail..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            if n == 0 {
                // The client is gone; whatever it held back is never released.
                this.read_done = true;
                continue;
            }
            let fresh = &this.buf[this.tail..this.tail + n];
            this.tail += n;
            match this.guard.feed(fresh) {
                Ok(released) => this.released = released,
                Err(violation) => {
                    this.released = this.guard.released();
                    this.refuse(violation);
                }
            }
            this.rearm();
        }
    }
}

impl<T> AsyncWrite for GuardedIo<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.response_activity();
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.response_activity();
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.reject_written < this.pending_reject.len() {
            let rest = &this.pending_reject[this.reject_written..];
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.reject_written += n;
        }
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T> GuardedIo<T> {
    /// A response is being written: a slow upstream's response is not client idleness, so
    /// the idle timer counts from the last write.
    fn response_activity(&mut self) {
        if self.timer == Timer::Idle {
            self.sleep
                .as_mut()
                .reset(Instant::now() + self.timeouts.idle);
        }
    }
}

impl<T> std::fmt::Debug for GuardedIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIo")
            .field("guard", &self.guard)
            .field("released", &self.released)
            .field("read_done", &self.read_done)
            .field("violation", &self.violation.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

//! The wrapper over an in-memory duplex stream: the test plays the client on one end and
//! hyper (reads, then shutdown) on the [`GuardedIo`] end.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::*;
use crate::framing::Limits;

fn reject() -> Reject {
    Arc::new(|v: &Violation| {
        format!(
            "HTTP/1.1 {} X\r\nconnection: close\r\n\r\n{}",
            v.status, v.reason
        )
        .into_bytes()
    })
}

fn guarded(timeouts: Timeouts) -> (DuplexStream, GuardedIo<DuplexStream>) {
    let (client, server) = duplex(64 * 1024);
    let io = GuardedIo::new(server, Guard::new(Limits::default()), timeouts, reject());
    (client, io)
}

fn long() -> Timeouts {
    Timeouts {
        header_read: Duration::from_secs(30),
        idle: Duration::from_secs(30),
        body: Duration::from_secs(30),
    }
}

/// What hyper would see: everything readable until EOF.
async fn read_all(io: &mut GuardedIo<DuplexStream>) -> Vec<u8> {
    let mut seen = Vec::new();
    io.read_to_end(&mut seen)
        .await
        .expect("reading from the guarded stream");
    seen
}

/// What the client receives after the server side shut down.
async fn client_receives(client: &mut DuplexStream) -> Vec<u8> {
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .await
        .expect("reading the client end");
    got
}

#[tokio::test]
async fn valid_requests_pass_through_exactly() {
    let (mut client, mut io) = guarded(long());
    let requests = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    client.write_all(requests).await.expect("client write");
    client.shutdown().await.expect("client shutdown");
    assert_eq!(read_all(&mut io).await, requests);
    assert_eq!(io.violation(), None);
}

#[tokio::test]
async fn bytes_arriving_one_at_a_time_are_released_per_message() {
    let (mut client, mut io) = guarded(long());
    let request = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let writer = tokio::spawn(async move {
        for byte in request {
            client.write_all(&[*byte]).await.expect("client write");
            tokio::task::yield_now().await;
        }
        client
    });
    let mut seen = vec![0; request.len()];
    io.read_exact(&mut seen).await.expect("the whole head");
    assert_eq!(&seen, request);
    drop(writer.await.expect("writer task"));
}

#[tokio::test]
async fn violation_sends_nothing_to_hyper_and_rejects_on_shutdown() {
    let (mut client, mut io) = guarded(long());
    let handle = io.violation_handle();
    client
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .await
        .expect("client write");
    assert_eq!(
        read_all(&mut io).await,
        b"",
        "hyper sees EOF and nothing else"
    );
    assert_eq!(handle.get().map(|v| v.reason), Some(Reason::ClTeConflict));
    io.shutdown().await.expect("shutdown writes the rejection");
    assert_eq!(
        client_receives(&mut client).await,
        b"HTTP/1.1 400 X\r\nconnection: close\r\n\r\nhttp.cl_te_conflict"
    );
}

#[tokio::test]
async fn valid_request_before_a_violation_is_still_served() {
    let (mut client, mut io) = guarded(long());
    let first = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut input = first.to_vec();
    input.extend_from_slice(b"GET /b HTTP/1.1\nHost: h\r\n\r\n");
    client.write_all(&input).await.expect("client write");
    assert_eq!(read_all(&mut io).await, first);
    assert_eq!(io.violation().map(|v| v.reason), Some(Reason::LineEnding));
    // hyper answers the first request, then shuts down: the rejection follows the response.
    io.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .expect("response");
    io.shutdown().await.expect("shutdown");
    let got = client_receives(&mut client).await;
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got.ends_with(b"http.line_ending"));
}

#[tokio::test]
async fn nothing_after_connection_close_reaches_hyper() {
    let (mut client, mut io) = guarded(long());
    let first = b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let mut input = first.to_vec();
    input.extend_from_slice(b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
    // The client keeps the connection open: EOF must come from the guard, not the client.
    client.write_all(&input).await.expect("client write");
    assert_eq!(read_all(&mut io).await, first);
    assert_eq!(io.violation(), None);
    io.shutdown().await.expect("shutdown");
    assert_eq!(
        client_receives(&mut client).await,
        b"",
        "no rejection after a clean close"
    );
}

#[tokio::test]
async fn incomplete_head_at_client_eof_is_never_released() {
    let (mut client, mut io) = guarded(long());
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        .await
        .expect("client write");
    client.shutdown().await.expect("client shutdown");
    assert_eq!(read_all(&mut io).await, b"");
    assert_eq!(io.violation(), None);
}

#[tokio::test]
async fn slow_head_times_out_with_408() {
    let (mut client, mut io) = guarded(Timeouts {
        header_read: Duration::from_millis(50),
        idle: Duration::from_secs(30),
        body: Duration::from_secs(30),
    });
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        .await
        .expect("client write");
    let started = Instant::now();
    assert_eq!(read_all(&mut io).await, b"");
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(
        io.violation().map(|v| (v.status, v.reason)),
        Some((408, Reason::HeaderTimeout))
    );
    io.shutdown().await.expect("shutdown");
    assert_eq!(
        client_receives(&mut client).await,
        b"HTTP/1.1 408 X\r\nconnection: close\r\n\r\nhttp.header_timeout"
    );
}

#[tokio::test]
async fn idle_connection_times_out_quietly() {
    let (mut client, mut io) = guarded(Timeouts {
        header_read: Duration::from_secs(30),
        idle: Duration::from_millis(50),
        body: Duration::from_secs(30),
    });
    let request = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    client.write_all(request).await.expect("client write");
    let mut seen = vec![0; request.len()];
    io.read_exact(&mut seen).await.expect("the request");
    // Then the client goes quiet: the idle timer, restarted at the end of the message, fires.
    assert_eq!(read_all(&mut io).await, b"");
    assert_eq!(io.violation(), None);
    io.shutdown().await.expect("shutdown");
    assert_eq!(client_receives(&mut client).await, b"");
}

#[tokio::test]
async fn header_timer_not_armed_while_idle() {
    // A connection that never sends a byte is governed by `idle`, not `header_read`.
    let (_client, mut io) = guarded(Timeouts {
        header_read: Duration::from_millis(10),
        idle: Duration::from_millis(80),
        body: Duration::from_secs(30),
    });
    let started = Instant::now();
    assert_eq!(read_all(&mut io).await, b"");
    assert!(started.elapsed() >= Duration::from_millis(70));
    assert_eq!(io.violation(), None);
}

#[tokio::test]
async fn writes_pass_through() {
    let (mut client, mut io) = guarded(long());
    assert!(!io.is_write_vectored() || io.inner().is_write_vectored());
    io.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .expect("write");
    io.flush().await.expect("flush");
    let mut got = vec![0; 27];
    client.read_exact(&mut got).await.expect("client read");
    assert_eq!(got, b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[tokio::test]
async fn held_chunked_body_that_stalls_times_out_with_408() {
    // Regression: a chunked body stalled inside the guard's hold is invisible to hyper and to
    // the gateway's body timeout, so the guard must time it out itself.
    let (mut client, mut io) = guarded(Timeouts {
        header_read: Duration::from_secs(30),
        idle: Duration::from_secs(30),
        body: Duration::from_millis(50),
    });
    client
        .write_all(b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        .await
        .expect("client write");
    let started = Instant::now();
    assert_eq!(
        read_all(&mut io).await,
        b"",
        "nothing of the held message is released"
    );
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(
        io.violation().map(|v| (v.status, v.reason)),
        Some((408, Reason::BodyTimeout))
    );
}

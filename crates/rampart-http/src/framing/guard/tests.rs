//! One test per rule. Every input goes through [`outcome`], which also feeds it byte by byte
//! and in two halves at every split point, and insists the answers are identical.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    released: u64,
    violation: Option<Reason>,
    closed: bool,
    idle: bool,
}

fn run_pieces<'a>(limits: Limits, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut guard = Guard::new(limits);
    let mut last = 0;
    for piece in pieces {
        match guard.feed(piece) {
            Ok(released) => {
                assert!(released >= last, "the watermark never goes back");
                last = released;
            }
            Err(_) => break,
        }
    }
    Outcome {
        released: guard.released(),
        violation: guard.violation().map(|v| v.reason),
        closed: guard.closed(),
        idle: guard.idle(),
    }
}

fn outcome_with(limits: Limits, input: &[u8]) -> Outcome {
    let whole = run_pieces(limits, [input]);
    let bytewise = run_pieces(limits, input.chunks(1));
    assert_eq!(
        whole,
        bytewise,
        "byte by byte differs for {:?}",
        String::from_utf8_lossy(input)
    );
    for split in 0..input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            whole,
            run_pieces(limits, [a, b]),
            "split at {split} differs"
        );
    }
    assert!(whole.released <= input.len() as u64);
    whole
}

fn outcome(input: &[u8]) -> Outcome {
    outcome_with(Limits::default(), input)
}

/// The input is refused for `reason` and nothing is released.
#[track_caller]
fn refused(input: &[u8], reason: Reason) {
    let got = outcome(input);
    assert_eq!(
        got.violation,
        Some(reason),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(got.released, 0, "refused input must release nothing");
}

/// The input is entirely released, without violation.
#[track_caller]
fn accepted(input: &[u8]) {
    let got = outcome(input);
    assert_eq!(
        got.violation,
        None,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        got.released,
        input.len() as u64,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

fn with_headers(headers: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: a\r\n{headers}\r\n").into_bytes()
}

#[test]
fn request_line_valid() {
    accepted(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    accepted(b"GET /a/b?c=d&e=%2F;x HTTP/1.1\r\nHost: a\r\n\r\n");
    accepted(b"GET / HTTP/1.0\r\n\r\n");
    accepted(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    accepted(b"M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn request_line_spacing() {
    refused(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", Reason::RequestLine);
    refused(b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", Reason::Version);
    refused(b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", Reason::MethodInvalid);
    refused(b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", Reason::RequestLine);
    refused(b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", Reason::RequestLine);
    refused(b"GET /\r\n\r\n", Reason::RequestLine);
}

#[test]
fn method_must_be_known() {
    refused(b"get / HTTP/1.1\r\nHost: a\r\n\r\n", Reason::MethodUnknown);
    refused(
        b"MKCOLA / HTTP/1.1\r\nHost: a\r\n\r\n",
        Reason::MethodUnknown,
    );
    refused(
        b"ANNOUNCE / HTTP/1.1\r\nHost: a\r\n\r\n",
        Reason::MethodUnknown,
    );
    refused(
        b"AVERYVERYLONGMETHODNAME / HTTP/1.1\r\n",
        Reason::MethodUnknown,
    );
    refused(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", Reason::MethodInvalid);
    // A TLS ClientHello on the plaintext port.
    refused(b"\x16\x03\x01\x02\x00\x01", Reason::MethodInvalid);
}

#[test]
fn connect_and_h2_preface_refused() {
    let got = outcome(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
    assert_eq!(got.violation, Some(Reason::Connect));
    assert_eq!(Reason::Connect.status(), 501);
    refused(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Reason::H2Preface);
}

#[test]
fn only_origin_form() {
    refused(&get("http://a/"), Reason::TargetForm);
    refused(&get("a.example:80"), Reason::TargetForm);
    refused(&get("*"), Reason::TargetForm);
    refused(
        b"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n",
        Reason::TargetForm,
    );
}

#[test]
fn target_characters() {
    for bad in [
        "#", "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "[", "]", "\x7f", "\x01", "\t", "é",
    ] {
        refused(&get(&format!("/a{bad}b")), Reason::TargetChar);
    }
    refused(&get("/a%zz"), Reason::TargetChar);
    refused(&get("/a%2"), Reason::TargetChar);
    accepted(&get("/a%2fb%C3%A9-._~!$&'()*+,;=:@/?x"));
}

#[test]
fn uri_too_long_is_414() {
    let limits = Limits {
        max_uri_bytes: 8,
        ..Limits::default()
    };
    assert_eq!(outcome_with(limits, &get("/1234567")).violation, None);
    let got = outcome_with(limits, &get("/12345678"));
    assert_eq!(got.violation, Some(Reason::UriTooLong));
    assert_eq!(Reason::UriTooLong.status(), 414);
}

#[test]
fn version_exactly_1_0_or_1_1() {
    for bad in [
        "HTTP/1.2",
        "HTTP/2.0",
        "http/1.1",
        "HTTP/1",
        "ICE/1.0",
        "RTSP/1.0",
        "HTTP/01.1",
    ] {
        refused(
            format!("GET / {bad}\r\nHost: a\r\n\r\n").as_bytes(),
            Reason::Version,
        );
    }
    refused(b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", Reason::RequestLine);
}

#[test]
fn crlf_only() {
    refused(b"GET / HTTP/1.1\nHost: a\r\n\r\n", Reason::LineEnding);
    refused(b"GET / HTTP/1.1\r\nHost: a\n\r\n", Reason::LineEnding);
    refused(b"GET / HTTP/1.1\r\nHost: a\r\n\n", Reason::LineEnding);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        Reason::LineEnding,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\n\rZGET / HTTP/1.1\r\n",
        Reason::LineEnding,
    );
    refused(b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", Reason::LineEnding);
    refused(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Reason::LineEnding);
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    accepted(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn field_names() {
    refused(&with_headers("Content-Length : 4\r\n"), Reason::FieldName);
    refused(&with_headers("X-A\t: 4\r\n"), Reason::FieldName);
    refused(&with_headers(": 4\r\n"), Reason::FieldName);
    refused(&with_headers("X@Y: 4\r\n"), Reason::FieldName);
    refused(&with_headers("X\x01Y: 4\r\n"), Reason::FieldName);
    refused(&with_headers("NoColon\r\n"), Reason::FieldName);
    accepted(&with_headers("X-!#$%&'*+-.^_`|~: 4\r\n"));
}

#[test]
fn field_values() {
    accepted(&with_headers("X: \r\n"));
    accepted(&with_headers("X:\t a \t b \t\r\n"));
    // obs-text is allowed in values (RFC 9110 §5.5).
    accepted(b"POST /p HTTP/1.1\r\nHost: a\r\nX: D\xc3\xbcsseldorf\r\nY: \xff\x80\r\n\r\n");
    refused(&with_headers("X: a\x0cb\r\n"), Reason::FieldValue);
    refused(&with_headers("X: a\x7fb\r\n"), Reason::FieldValue);
    refused(&with_headers("X: a\x00b\r\n"), Reason::FieldValue);
}

#[test]
fn obs_fold_refused() {
    refused(&with_headers("X: a\r\n b\r\n"), Reason::ObsFold);
    refused(&with_headers("X: a\r\n\tb\r\n"), Reason::ObsFold);
    refused(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", Reason::ObsFold);
}

#[test]
fn too_many_fields_is_431() {
    let limits = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    assert_eq!(
        outcome_with(limits, &with_headers("A: 1\r\nB: 2\r\n")).violation,
        None
    );
    let got = outcome_with(limits, &with_headers("A: 1\r\nB: 2\r\nC: 3\r\n"));
    assert_eq!(got.violation, Some(Reason::TooManyFields));
    assert_eq!(Reason::TooManyFields.status(), 431);
}

#[test]
fn head_too_large_is_431() {
    let request = with_headers("X: 0123456789\r\n");
    let exact = Limits {
        max_header_bytes: request.len(),
        ..Limits::default()
    };
    assert_eq!(outcome_with(exact, &request).violation, None);
    let small = Limits {
        max_header_bytes: request.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        outcome_with(small, &request).violation,
        Some(Reason::HeadTooLarge)
    );
    // Empty lines before the request line count too: they cannot be sent forever.
    let mut padded = b"\r\n".repeat(request.len());
    padded.extend_from_slice(&request);
    assert_eq!(
        outcome_with(exact, &padded).violation,
        Some(Reason::HeadTooLarge)
    );
}

#[test]
fn host_rules() {
    refused(b"GET / HTTP/1.1\r\n\r\n", Reason::HostMissing);
    refused(
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
        Reason::HostDuplicate,
    );
    refused(
        b"GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n",
        Reason::HostDuplicate,
    );
    accepted(b"GET / HTTP/1.0\r\n\r\n");
    accepted(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n");
}

#[test]
fn content_length_values() {
    accepted(
        &with_headers("Content-Length: 3\r\n")
            .into_iter()
            .chain(*b"abc")
            .collect::<Vec<_>>(),
    );
    accepted(
        &with_headers("Content-Length: 003\r\n")
            .into_iter()
            .chain(*b"abc")
            .collect::<Vec<_>>(),
    );
    accepted(&with_headers("Content-Length: \t 0 \t\r\n"));
    for bad in [
        "+1",
        "-1",
        "1 2",
        "1,1",
        "",
        " ",
        "0x1",
        "1.0",
        "18446744073709551616",
    ] {
        refused(
            &with_headers(&format!("Content-Length: {bad}\r\n")),
            Reason::ContentLengthInvalid,
        );
    }
    accepted(&with_headers("Content-Length: 0\r\n"));
    // u64::MAX itself is a valid length: the head is released, the body streams.
    let head = with_headers("Content-Length: 18446744073709551615\r\n");
    let got = outcome(&head);
    assert_eq!((got.violation, got.released), (None, head.len() as u64));
}

#[test]
fn content_length_duplicate_refused() {
    refused(
        &with_headers("Content-Length: 1\r\nContent-Length: 1\r\n"),
        Reason::ContentLengthDuplicate,
    );
    refused(
        &with_headers("Content-Length: 1\r\ncontent-length: 2\r\n"),
        Reason::ContentLengthDuplicate,
    );
}

#[test]
fn cl_te_conflict_refused() {
    refused(
        &with_headers("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        Reason::ClTeConflict,
    );
    refused(
        &with_headers("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        Reason::ClTeConflict,
    );
    assert_eq!(Reason::ClTeConflict.code(), "http.cl_te_conflict");
}

#[test]
fn transfer_encoding_only_chunked() {
    let body = "0\r\n\r\n";
    accepted(
        format!(
            "{}{body}",
            String::from_utf8_lossy(&with_headers("Transfer-Encoding: chunked\r\n"))
        )
        .as_bytes(),
    );
    accepted(
        format!(
            "{}{body}",
            String::from_utf8_lossy(&with_headers("transfer-encoding:  CHUNKED \t\r\n"))
        )
        .as_bytes(),
    );
    for bad in [
        "gzip, chunked",
        "chunked, chunked",
        "chunked,",
        "identity",
        "",
        "chunkedchunked",
        "chunk",
        "chunked x",
    ] {
        refused(
            &with_headers(&format!("Transfer-Encoding: {bad}\r\n")),
            Reason::TransferEncodingUnsupported,
        );
    }
    assert_eq!(Reason::TransferEncodingUnsupported.status(), 501);
    refused(
        &with_headers("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        Reason::TransferEncodingDuplicate,
    );
    refused(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        Reason::TransferEncodingHttp10,
    );
}

fn chunked(body: &str) -> Vec<u8> {
    let mut request = with_headers("Transfer-Encoding: chunked\r\n");
    request.extend_from_slice(body.as_bytes());
    request
}

#[test]
fn chunked_bodies() {
    accepted(&chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    accepted(&chunked("A\r\n0123456789\r\n000\r\n\r\n"));
    accepted(&chunked("a\r\n0123456789\r\n0\r\n\r\n"));
    accepted(&chunked("0000000000000001\r\nx\r\n0\r\n\r\n"));
    refused(
        &chunked("00000000000000001\r\nx\r\n0\r\n\r\n"),
        Reason::ChunkSize,
    );
    refused(&chunked("\r\n"), Reason::ChunkSize);
    refused(&chunked("-1\r\n"), Reason::ChunkSize);
    refused(&chunked("0x5\r\nhello\r\n0\r\n\r\n"), Reason::ChunkSize);
    refused(&chunked("3\r\nfoo\r\n\r\n"), Reason::ChunkSize);
    refused(&chunked("5\nhello\r\n0\r\n\r\n"), Reason::LineEnding);
    refused(
        &chunked("5\r\r;a\r\nhello\r\n0\r\n\r\n"),
        Reason::LineEnding,
    );
    refused(&chunked("5\r\nhelloX\r\n0\r\n\r\n"), Reason::ChunkData);
    refused(&chunked("5\r\nhello\n0\r\n\r\n"), Reason::ChunkData);
    refused(&chunked("5\r\nhello\r0\r\n\r\n"), Reason::LineEnding);
    refused(&chunked("0\r\n\n"), Reason::LineEnding);
}

#[test]
fn chunk_extensions() {
    for good in [
        "5;a\r\n",
        "5;a=b\r\n",
        "5;a=\"b c\\\"d\"\r\n",
        "5;a;b=c;d=\"\"\r\n",
        "5 ;a\r\n",
        "5\t; a = b ;c\r\n",
        "5;a=\"x\" ;b\r\n",
    ] {
        accepted(&chunked(&format!("{good}hello\r\n0\r\n\r\n")));
    }
    for (bad, reason) in [
        ("5 \r\n", Reason::ChunkSize),
        ("5 x\r\n", Reason::ChunkSize),
        ("5;\r\n", Reason::ChunkExtension),
        ("5;a=\r\n", Reason::ChunkExtension),
        ("5;a \r\n", Reason::ChunkExtension),
        ("5;a=b \r\n", Reason::ChunkExtension),
        ("5;a=\"b\r\n", Reason::ChunkExtension),
        ("5;a=\"b\"c\r\n", Reason::ChunkExtension),
        ("5;a@b\r\n", Reason::ChunkExtension),
        ("5;a=b\x01\r\n", Reason::ChunkExtension),
        ("5;a=\"\\\r\n", Reason::ChunkExtension),
    ] {
        refused(&chunked(&format!("{bad}hello\r\n0\r\n\r\n")), reason);
    }
    let long = format!(
        "5;a={}\r\nhello\r\n0\r\n\r\n",
        "x".repeat(MAX_CHUNK_EXT_BYTES)
    );
    refused(&chunked(&long), Reason::ChunkExtension);
}

#[test]
fn trailers() {
    accepted(&chunked("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n"));
    for field in [
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Host: b",
        "connection: close",
    ] {
        refused(
            &chunked(&format!("0\r\n{field}\r\n\r\n")),
            Reason::TrailerField,
        );
    }
    refused(&chunked("0\r\nX: a\r\n b\r\n\r\n"), Reason::ObsFold);
    refused(&chunked("0\r\nX : a\r\n\r\n"), Reason::FieldName);
    refused(&chunked("0\r\nX: a\nY: b\r\n\r\n"), Reason::LineEnding);
    let limits = Limits {
        max_headers: 2,
        ..Limits::default()
    };
    let got = outcome_with(limits, &chunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"));
    assert_eq!(got.violation, Some(Reason::TooManyFields));
}

#[test]
fn head_held_until_complete() {
    let request = get("/");
    for end in 0..request.len() {
        let got = outcome(&request[..end]);
        assert_eq!(
            (got.released, got.violation),
            (0, None),
            "prefix of {end} bytes"
        );
    }
    assert_eq!(outcome(&request).released, request.len() as u64);
}

#[test]
fn content_length_body_streams() {
    let head = with_headers("Content-Length: 10\r\n");
    let mut request = head.clone();
    request.extend_from_slice(b"01234");
    let got = outcome(&request);
    assert_eq!(
        got.released,
        request.len() as u64,
        "head and body so far released"
    );
    assert!(!got.idle);
    request.extend_from_slice(b"56789");
    let got = outcome(&request);
    assert_eq!(got.released, request.len() as u64);
    assert!(got.idle);
}

#[test]
fn small_chunked_message_with_bad_chunk_releases_nothing() {
    let request = chunked("5\r\nhello\r\n5\r\nworld\r\nZ\r\n");
    refused(&request, Reason::ChunkSize);
    let whole = chunked("5\r\nhello\r\n0\r\n\r\n");
    for end in 0..whole.len() {
        assert_eq!(
            outcome(&whole[..end]).released,
            0,
            "prefix of {end} bytes held"
        );
    }
    accepted(&whole);
}

#[test]
fn large_chunked_message_streams_after_hold_limit() {
    let limits = Limits {
        hold_body_bytes: 16,
        ..Limits::default()
    };
    let head_len = chunked("").len() as u64;
    let request = chunked("a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    // "a\r\n0123456789\r\n" is 15 bytes: still held; one more validated byte and it streams.
    assert_eq!(
        outcome_with(limits, &request[..head_len as usize + 15]).released,
        0
    );
    let got = outcome_with(limits, &request[..head_len as usize + 16]);
    assert_eq!(got.released, head_len + 16);
    let got = outcome_with(limits, &request[..head_len as usize + 20]);
    assert_eq!(got.released, head_len + 20);
    // A later violation keeps what was already streamed, and stops there.
    let mut bad = request[..head_len as usize + 30].to_vec();
    bad.extend_from_slice(b"Z\r\n");
    let got = outcome_with(limits, &bad);
    assert_eq!(got.violation, Some(Reason::ChunkSize));
    assert_eq!(got.released, head_len + 30);
    let unheld = Limits {
        hold_body_bytes: 0,
        ..Limits::default()
    };
    assert_eq!(
        outcome_with(unheld, &request[..head_len as usize]).released,
        head_len
    );
}

#[test]
fn connection_close_stops_release() {
    let first = b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n";
    let mut input = first.to_vec();
    input.extend_from_slice(&get("/2"));
    let got = outcome(&input);
    assert_eq!(got.violation, None);
    assert!(got.closed);
    assert_eq!(got.released, first.len() as u64);
    // Nor is anything looked at: garbage after close is not a violation.
    let mut input = first.to_vec();
    input.extend_from_slice(b"\x00\x01garbage\n");
    let got = outcome(&input);
    assert_eq!(
        (got.closed, got.violation, got.released),
        (true, None, first.len() as u64)
    );
}

#[test]
fn http10_closes_unless_keep_alive() {
    let first = b"GET /1 HTTP/1.0\r\n\r\n";
    let mut input = first.to_vec();
    input.extend_from_slice(&get("/2"));
    let got = outcome(&input);
    assert!(got.closed);
    assert_eq!(got.released, first.len() as u64);

    let first = b"GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    let mut input = first.to_vec();
    input.extend_from_slice(&get("/2"));
    let got = outcome(&input);
    assert!(!got.closed);
    assert_eq!(got.released, input.len() as u64);
}

#[test]
fn connection_token_lists() {
    for value in [
        "close",
        "CLOSE",
        " close ",
        "a, close",
        "close,",
        ",, close ,",
        "keep-alive, close",
    ] {
        let got = outcome(&with_headers(&format!("Connection: {value}\r\n")));
        assert!(got.closed, "{value:?} closes");
    }
    for value in ["closed", "clos", "keep-alive", "", "upgrade", "x-close"] {
        let got = outcome(&with_headers(&format!("Connection: {value}\r\n")));
        assert_eq!(
            (got.closed, got.violation),
            (false, None),
            "{value:?} keeps alive"
        );
    }
    for value in ["keep alive", "close;x", "\"close\"", "a/b"] {
        refused(
            &with_headers(&format!("Connection: {value}\r\n")),
            Reason::ConnectionInvalid,
        );
    }
}

#[test]
fn expect_and_upgrade_pass() {
    accepted(&with_headers(
        "Expect: 100-continue\r\nContent-Length: 0\r\n",
    ));
    accepted(&with_headers(
        "Connection: upgrade\r\nUpgrade: websocket\r\n",
    ));
}

#[test]
fn pipelined_messages_one_after_another() {
    let mut input = get("/1");
    let one = input.len() as u64;
    input.extend_from_slice(b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    input.extend_from_slice(&chunked("3\r\nabc\r\n0\r\n\r\n"));
    let got = outcome(&input);
    assert_eq!(
        (got.violation, got.released, got.idle),
        (None, input.len() as u64, true)
    );

    // A bad second request keeps the first released and releases nothing of its own.
    let mut input = get("/1");
    input.extend_from_slice(
        b"GET /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    );
    let got = outcome(&input);
    assert_eq!(
        (got.violation, got.released),
        (Some(Reason::ContentLengthDuplicate), one)
    );
}

#[test]
fn phases() {
    let mut guard = Guard::new(Limits::default());
    assert_eq!(guard.phase(), Phase::Idle);
    assert!(guard.idle());
    guard.feed(b"POST / HTTP/1.1\r\n").ok();
    assert_eq!(guard.phase(), Phase::Head);
    guard.feed(b"Host: a\r\nContent-Length: 2\r\n\r\n").ok();
    assert_eq!(guard.phase(), Phase::Body);
    guard.feed(b"ab").ok();
    assert_eq!((guard.phase(), guard.messages()), (Phase::Idle, 1));
    guard.feed(b"\r\n").ok();
    assert_eq!(
        guard.phase(),
        Phase::Head,
        "an empty line starts the next head"
    );
    assert!(guard.feed(b"\n").is_err());
    assert_eq!(guard.phase(), Phase::Failed);
    assert_eq!(
        guard.feed(b"GET / HTTP/1.1\r\n").map_err(|v| v.reason),
        Err(Reason::LineEnding),
        "a violation is final"
    );
}

#[test]
fn every_reason_has_a_code_and_status() {
    let reasons = [
        Reason::RequestLine,
        Reason::MethodInvalid,
        Reason::MethodUnknown,
        Reason::Connect,
        Reason::H2Preface,
        Reason::TargetForm,
        Reason::TargetChar,
        Reason::UriTooLong,
        Reason::Version,
        Reason::LineEnding,
        Reason::FieldName,
        Reason::FieldValue,
        Reason::ObsFold,
        Reason::HeadTooLarge,
        Reason::TooManyFields,
        Reason::HostMissing,
        Reason::HostDuplicate,
        Reason::ContentLengthInvalid,
        Reason::ContentLengthDuplicate,
        Reason::ClTeConflict,
        Reason::TransferEncodingUnsupported,
        Reason::TransferEncodingDuplicate,
        Reason::TransferEncodingHttp10,
        Reason::ConnectionInvalid,
        Reason::ChunkSize,
        Reason::ChunkExtension,
        Reason::ChunkData,
        Reason::TrailerField,
        Reason::HeaderTimeout,
    ];
    let mut codes: Vec<_> = reasons.iter().map(Reason::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), reasons.len(), "codes are unique");
    for reason in reasons {
        assert!(reason.code().starts_with("http."));
        assert!([400, 408, 414, 431, 501].contains(&reason.status()));
        assert_eq!(Violation::from(reason).status, reason.status());
    }
}

/// Real requests, as curl and browsers send them, come out exactly as they went in.
#[test]
fn real_requests_released_exactly() {
    let requests: [&[u8]; 4] = [
        b"GET /v1/orders?status=open&page=2&q=a%20b HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
        b"POST /v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 23\r\nX-API-Key: k_123\r\n\r\n{\"item\":\"book\",\"qty\":2}",
        b"POST /upload HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n7;name=part1\r\nchunk-1\r\n8;name=\"part two\";final\r\nchunk--2\r\n0\r\nX-Checksum: abc123\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbodyGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ];
    for request in requests {
        accepted(request);
    }
    let got = outcome(requests[3]);
    assert!(
        got.closed,
        "the third pipelined request closes the connection"
    );
}

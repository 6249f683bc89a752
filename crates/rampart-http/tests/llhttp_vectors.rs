//! The framing guard against llhttp's (Node.js) HTTP/1 request vectors, the field yardstick
//! for request parsing (../shared/corpora/llhttp-http1-parser-vectors).
//!
//! For strict (`request`) vectors:
//! - every case llhttp errors on is refused: by a violation, or by `Connection: close`
//!   keeping the offending bytes back; either way the release watermark never reaches into
//!   the message llhttp errors in;
//! - every other case releases all of its complete messages, except the ones in [`REFUSED`],
//!   which rampart refuses on purpose, each for the reason listed.
//!
//! Lenient vectors (`request-lenient-*`) exist because llhttp can be told to accept dangerous
//! input; rampart never is, and refuses every one of them.
//!
//! Most vectors send HTTP/1.1 without Host, which rampart refuses first; so that the other
//! rules meet them too, the single-message ones are run again with a Host header added.
//!
//! Each case is fed whole and byte by byte, and both must give the same answer.

use rampart_http::framing::{Guard, Limits};
use rampart_testkit::llhttp::{Case, request_cases};

/// Cases llhttp accepts, or pauses on, that rampart refuses on purpose:
/// (file, case heading, expected reason code, why).
const REFUSED: &[(&str, &str, &str, &str)] = &[
    (
        "connection.md",
        "Setting flag",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Restarting when keep-alive is explicitly",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Setting flag on `close`",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Setting flag on `close` followed by tab",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Sample",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Multiple tokens with folding and LWS",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Setting a flag and pausing",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "connection.md",
        "Emitting part of body and pausing",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "content-length.md",
        "`Content-Length` with zeroes",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "content-length.md",
        "`Content-Length` with follow-up headers",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "content-length.md",
        "Spaces in `Content-Length` (surrounding)",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "content-length.md",
        "Tabs in `Content-Length` (surrounding)",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "content-length.md",
        "Content-Length reset when no body is received",
        "http.host_missing",
        "HTTP/1.1 without Host (and skipBody is a harness mode for HEAD responses)",
    ),
    (
        "method.md",
        "REPORT request",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "method.md",
        "CONNECT request",
        "http.connect_refused",
        "CONNECT: rampart is not a forward proxy",
    ),
    (
        "method.md",
        "CONNECT request with CAPS",
        "http.connect_refused",
        "CONNECT: rampart is not a forward proxy",
    ),
    (
        "method.md",
        "CONNECT with body",
        "http.connect_refused",
        "CONNECT: rampart is not a forward proxy",
    ),
    (
        "method.md",
        "M-SEARCH request",
        "http.target_form",
        "asterisk-form is for OPTIONS only",
    ),
    (
        "method.md",
        "SOURCE request with ICE",
        "http.version",
        "ICE/1.0 is not HTTP/1.x",
    ),
    (
        "method.md",
        "OPTIONS request with RTSP",
        "http.version",
        "RTSP/1.0 is not HTTP/1.x",
    ),
    (
        "method.md",
        "ANNOUNCE request with RTSP",
        "http.method_unknown",
        "ANNOUNCE is an RTSP method, not HTTP",
    ),
    (
        "method.md",
        "PRI request HTTP2",
        "http.h2_preface",
        "HTTP/2 preface on an HTTP/1 listener",
    ),
    (
        "pausing.md",
        "on_message_begin",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_message_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_protocol_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_method_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_url_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_version_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_header_field_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_header_value_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_headers_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_chunk_header",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_chunk_extension_name",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_chunk_extension_value",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pausing.md",
        "on_chunk_complete",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "pipelining.md",
        "Should parse multiple events",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "Simple request",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "Request with method starting with `H`",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "DUMBPACK",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "No headers and no body",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "One header and no body",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "Prefix newline",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "No HTTP version",
        "http.request_line",
        "HTTP/0.9 request line without a version",
    ),
    (
        "sample.md",
        "Request starting with CRLF",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "Extended Characters",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "sample.md",
        "255 ASCII in header value",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Parsing and setting flag",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Parse chunks with lowercase size",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Parse chunks with uppercase size",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "POST with `Transfer-Encoding: chunked`",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Two chunks and triple zero prefixed end chunk",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Trailing headers",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Chunk extensions",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "Chunk extensions quoting",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "transfer-encoding.md",
        "POST with `chunked` as last transfer-encoding",
        "http.target_char",
        "`#` fragment in the request-target (and `deflate, chunked` is refused too)",
    ),
    (
        "transfer-encoding.md",
        "POST with `chunked` as last transfer-encoding (multiple headers)",
        "http.target_char",
        "`#` fragment in the request-target (and two TE headers are refused too)",
    ),
    (
        "uri.md",
        "Quotes in URI",
        "http.target_char",
        "`\"` is not allowed in a request-target",
    ),
    (
        "uri.md",
        "Query URL with question mark",
        "http.host_missing",
        "HTTP/1.1 without Host",
    ),
    (
        "uri.md",
        "Host terminated by a query string",
        "http.target_form",
        "absolute-form request-target",
    ),
    (
        "uri.md",
        "`host:port` terminated by a query string",
        "http.target_form",
        "absolute-form request-target",
    ),
    (
        "uri.md",
        "Query URL with vertical bar character",
        "http.target_char",
        "`|` is not allowed in a request-target",
    ),
    (
        "uri.md",
        "`host:port` terminated by a space",
        "http.target_form",
        "absolute-form request-target",
    ),
    (
        "uri.md",
        "Fragment in URI",
        "http.target_char",
        "a `#` fragment is never sent in a request-target",
    ),
    (
        "uri.md",
        "Underscore in hostname",
        "http.connect_refused",
        "CONNECT: rampart is not a forward proxy",
    ),
    (
        "uri.md",
        "`host:port` and basic auth",
        "http.target_form",
        "absolute-form request-target with userinfo",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    released: u64,
    violation: Option<&'static str>,
    closed: bool,
}

fn run<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Run {
    let mut guard = Guard::new(Limits::default());
    for piece in pieces {
        if guard.feed(piece).is_err() {
            break;
        }
    }
    Run {
        released: guard.released(),
        violation: guard.violation().map(|v| v.reason.code()),
        closed: guard.closed(),
    }
}

/// Feeds the case whole and byte by byte; they must agree.
fn run_case(case: &Case, failures: &mut Vec<String>) -> Run {
    let whole = run([case.raw.as_slice()]);
    let bytewise = run(case.raw.chunks(1));
    if whole != bytewise {
        failures.push(format!(
            "{}: whole {whole:?} but byte by byte {bytewise:?}",
            id(case)
        ));
    }
    whole
}

fn id(case: &Case) -> String {
    format!("{}:{} {:?}", case.file, case.line, case.name)
}

/// The end of the last message llhttp completed before its error: nothing of the erroneous
/// message may be released.
fn error_bound(case: &Case) -> u64 {
    match case.expect.messages_before_error {
        0 => 0,
        n => case.expect.message_ends[n - 1] as u64,
    }
}

#[test]
fn strict_vectors() {
    let cases: Vec<Case> = request_cases()
        .into_iter()
        .filter(|c| c.kind == "request")
        .collect();
    assert!(
        cases.len() > 100,
        "expected the whole llhttp request corpus, got {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    let (mut must_error, mut by_violation, mut by_close, mut must_error_released) = (0, 0, 0, 0);
    let (mut released_ok, mut refused) = (0, 0);
    let mut refused_seen = vec![false; REFUSED.len()];

    for case in &cases {
        let got = run_case(case, &mut failures);
        let listed = REFUSED
            .iter()
            .position(|(file, name, _, _)| *file == case.file && *name == case.name);
        if let Some(error) = &case.expect.error {
            must_error += 1;
            let bound = error_bound(case);
            let stopped = got.violation.is_some() || (got.closed && got.released <= bound);
            if !stopped || got.released > bound {
                must_error_released += 1;
                failures.push(format!(
                    "{}: llhttp says {error:?} at {:?} but the guard released {} of {} bytes (bound {bound}): {got:?}",
                    id(case),
                    case.expect.error_offset,
                    got.released,
                    case.raw.len()
                ));
            } else if got.violation.is_some() {
                by_violation += 1;
            } else {
                by_close += 1;
            }
            if listed.is_some() {
                failures.push(format!(
                    "{}: llhttp errors on it, drop it from REFUSED",
                    id(case)
                ));
            }
            continue;
        }
        if let Some(k) = listed {
            refused_seen[k] = true;
            refused += 1;
            let (_, _, code, why) = REFUSED[k];
            if got.violation != Some(code) {
                failures.push(format!(
                    "{}: listed as refused ({why}) with {code}, got {got:?}",
                    id(case)
                ));
            }
            continue;
        }
        let complete = case.expect.message_ends.last().map_or(0, |&end| end as u64);
        // After an upgrade pause the bytes are not HTTP/1 to llhttp; only what precedes counts.
        let unexpected_violation = got.violation.is_some() && !case.expect.upgrade_pause;
        if got.released < complete || unexpected_violation {
            failures.push(format!(
                "{}: llhttp completes {} message(s) ending at {complete}, the guard gave {got:?}",
                id(case),
                case.expect.message_ends.len()
            ));
        } else {
            released_ok += 1;
        }
    }
    for (k, seen) in refused_seen.iter().enumerate() {
        if !seen {
            failures.push(format!("REFUSED entry {:?} matches no case", REFUSED[k]));
        }
    }

    println!(
        "llhttp strict vectors: {} cases; {must_error} must-error ({by_violation} by violation, {by_close} by Connection: close), \
         {refused} refused on purpose, {released_ok} released in full, {must_error_released} must-error released",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(must_error_released, 0);
}

#[test]
fn lenient_vectors_are_all_refused() {
    let cases: Vec<Case> = request_cases()
        .into_iter()
        .filter(|c| c.kind.starts_with("request-lenient-"))
        .collect();
    assert!(!cases.is_empty(), "no lenient llhttp vectors found");
    let mut failures = Vec::new();
    let (mut by_violation, mut by_close) = (0, 0);
    for case in &cases {
        let got = run_case(case, &mut failures);
        if got.violation.is_some() {
            by_violation += 1;
        } else if got.closed && got.released < case.raw.len() as u64 {
            by_close += 1;
        } else {
            failures.push(format!(
                "{} [{}]: lenient input accepted: {got:?}",
                id(case),
                case.kind
            ));
        }
    }
    println!(
        "llhttp lenient vectors: {} cases, {} refused ({by_violation} by violation, {by_close} by Connection: close)",
        cases.len(),
        by_violation + by_close
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The vectors refused only for lacking Host, again with `Host: x` after the request line:
/// must-error ones must still be refused, the others fully released.
#[test]
fn host_less_vectors_with_host_added() {
    const HOST: &[u8] = b"Host: x\r\n";
    let mut failures = Vec::new();
    let (mut still_refused, mut released_ok, mut skipped) = (0, 0, 0);
    for case in request_cases().iter().filter(|c| c.kind == "request") {
        if run([case.raw.as_slice()]).violation != Some("http.host_missing") {
            continue;
        }
        if case.expect.message_ends.len() > 1 {
            // Pipelined: every message would need its own Host; the unit tests cover these.
            skipped += 1;
            continue;
        }
        let start = case
            .raw
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let Some(line_end) = case.raw[start..].windows(2).position(|w| w == b"\r\n") else {
            failures.push(format!("{}: no request line", id(case)));
            continue;
        };
        let at = start + line_end + 2;
        let mut raw = case.raw[..at].to_vec();
        raw.extend_from_slice(HOST);
        raw.extend_from_slice(&case.raw[at..]);
        let mut with_host = case.clone();
        with_host.raw = raw;
        let got = run_case(&with_host, &mut failures);
        let shift = |end: usize| (if end >= at { end + HOST.len() } else { end }) as u64;
        if case.expect.error.is_some() {
            let bound = match case.expect.messages_before_error {
                0 => 0,
                n => shift(case.expect.message_ends[n - 1]),
            };
            if got.released > bound || !(got.violation.is_some() || got.closed) {
                failures.push(format!(
                    "{}: with Host, must-error input released: {got:?}",
                    id(case)
                ));
            } else {
                still_refused += 1;
            }
        } else {
            let complete = case.expect.message_ends.last().map_or(0, |&end| shift(end));
            if got.released < complete || (got.violation.is_some() && !case.expect.upgrade_pause) {
                failures.push(format!(
                    "{}: with Host, expected {complete} released, got {got:?}",
                    id(case)
                ));
            } else {
                released_ok += 1;
            }
        }
    }
    println!(
        "llhttp Host-less vectors with Host added: {still_refused} must-error still refused, {released_ok} released in full, {skipped} pipelined skipped"
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! The strict HTTP/1 request framing guard: rampart's request-smuggling defence.
//!
//! Every byte a client sends on an HTTP/1 connection (plaintext or TLS) passes through this
//! module before hyper's parser sees it. hyper is lenient in places (it accepts
//! `Content-Length` together with `Transfer-Encoding`, any token as a method, whitespace after
//! a chunk size, ...), and an upstream may be lenient in other places; a message that two
//! parsers can frame differently is how requests get smuggled. So the guard holds each request
//! back until its framing is proven unambiguous under RFC 9110/9112, and ends the connection
//! on anything else, before a single byte of the offending message reaches hyper.
//!
//! - [`Guard`] is the sans-IO state machine: bytes go in through [`Guard::feed`], a *release
//!   watermark* (how much of the stream hyper may see) or a [`Violation`] comes out. It
//!   allocates nothing after construction and keeps a few dozen bytes of state whatever the
//!   input, so it can be fuzzed and tested without sockets.
//! - [`GuardedIo`] wraps a connection's stream for hyper: it reads from the socket, feeds the
//!   guard, hands hyper only released bytes, applies the idle and header-read timeouts
//!   (slowloris), and on a violation sends the gateway's rejection response and closes.
//!
//! What a client is told is decided once, by the `reject` callback the gateway passes to
//! [`GuardedIo::new`], from the [`Violation`]'s status and reason code.

mod guard;
mod io;

pub use guard::{Guard, Phase, is_registered_method};
pub use io::{GuardedIo, Reject, Timeouts, ViolationHandle};

/// Size limits on the parts of a request the guard must buffer. Anything larger is refused,
/// which is what keeps a connection's memory bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole request head: request line, field lines and the blank line (and any empty
    /// lines before the request line). Also the bound on a chunked body's trailer section.
    /// Larger: 431.
    pub max_header_bytes: usize,
    /// Field lines in the head (and, separately, in the trailer section). More: 431.
    pub max_headers: usize,
    /// The request-target. Longer: 414.
    pub max_uri_bytes: usize,
    /// How much of a chunked body (framing included) is held back until the whole message is
    /// validated. A small chunked request with a bad chunk releases nothing; past this many
    /// validated bytes the body streams, each byte released once validated.
    pub hold_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            hold_body_bytes: 64 * 1024,
        }
    }
}

/// Why a connection was ended. The codes are stable: they go to the audit log and metrics and
/// `rampart explain` documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The request line is not `method SP request-target SP HTTP-version CRLF` (double
    /// spaces, a missing version, trailing whitespace, ...).
    RequestLine,
    /// The method contains a byte that is not a token character.
    MethodInvalid,
    /// The method is a valid token but not a registered HTTP method.
    MethodUnknown,
    /// `CONNECT`: rampart is not a forward proxy.
    Connect,
    /// `PRI`: the HTTP/2 connection preface sent to an HTTP/1 listener.
    H2Preface,
    /// The request-target is not in origin-form (absolute-form, authority-form, or `*` for a
    /// method other than OPTIONS).
    TargetForm,
    /// A byte RFC 3986 does not allow in a path or query (space, control, non-ASCII, `#`,
    /// `"`, `<`, `\`, ...), or a `%` not followed by two hex digits.
    TargetChar,
    /// The request-target is longer than [`Limits::max_uri_bytes`].
    UriTooLong,
    /// The version is not exactly `HTTP/1.1` or `HTTP/1.0`.
    Version,
    /// A bare LF, a bare CR, or a CR not followed by LF.
    LineEnding,
    /// A field name that is empty, has a non-token byte, or whitespace before the colon.
    FieldName,
    /// A control character other than HTAB in a field value.
    FieldValue,
    /// A field line that starts with whitespace (obs-fold, or whitespace right after the
    /// request line).
    ObsFold,
    /// The head (or trailer section) is larger than [`Limits::max_header_bytes`].
    HeadTooLarge,
    /// More field lines than [`Limits::max_headers`].
    TooManyFields,
    /// An HTTP/1.1 request without a Host header.
    HostMissing,
    /// More than one Host header.
    HostDuplicate,
    /// A Content-Length value that is not `1*DIGIT` within u64.
    ContentLengthInvalid,
    /// A second Content-Length header, even with the same value.
    ContentLengthDuplicate,
    /// Content-Length and Transfer-Encoding in the same request.
    ClTeConflict,
    /// A Transfer-Encoding other than exactly `chunked` (another coding, a list, empty).
    TransferEncodingUnsupported,
    /// A second Transfer-Encoding header.
    TransferEncodingDuplicate,
    /// Transfer-Encoding in an HTTP/1.0 request, which has no chunked framing.
    TransferEncodingHttp10,
    /// A Connection header that is not a comma-separated list of tokens.
    ConnectionInvalid,
    /// A chunk-size line that is not `1*16HEXDIG [chunk-ext] CRLF`.
    ChunkSize,
    /// A malformed chunk extension, or chunk extensions too large in total.
    ChunkExtension,
    /// Chunk data not followed by CRLF.
    ChunkData,
    /// A framing or routing field (Content-Length, Transfer-Encoding, Host, Connection) in the
    /// trailer section.
    TrailerField,
    /// The request head did not arrive within the header-read timeout (slowloris).
    HeaderTimeout,
    /// A body the guard was still holding did not arrive within the body timeout.
    BodyTimeout,
}

impl Reason {
    /// The stable reason code, e.g. `http.cl_te_conflict`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RequestLine => "http.request_line",
            Self::MethodInvalid => "http.method_invalid",
            Self::MethodUnknown => "http.method_unknown",
            Self::Connect => "http.connect_refused",
            Self::H2Preface => "http.h2_preface",
            Self::TargetForm => "http.target_form",
            Self::TargetChar => "http.target_char",
            Self::UriTooLong => "http.uri_too_long",
            Self::Version => "http.version",
            Self::LineEnding => "http.line_ending",
            Self::FieldName => "http.field_name",
            Self::FieldValue => "http.field_value",
            Self::ObsFold => "http.obs_fold",
            Self::HeadTooLarge => "http.head_too_large",
            Self::TooManyFields => "http.too_many_fields",
            Self::HostMissing => "http.host_missing",
            Self::HostDuplicate => "http.host_duplicate",
            Self::ContentLengthInvalid => "http.cl_invalid",
            Self::ContentLengthDuplicate => "http.cl_duplicate",
            Self::ClTeConflict => "http.cl_te_conflict",
            Self::TransferEncodingUnsupported => "http.te_unsupported",
            Self::TransferEncodingDuplicate => "http.te_duplicate",
            Self::TransferEncodingHttp10 => "http.te_http10",
            Self::ConnectionInvalid => "http.connection_invalid",
            Self::ChunkSize => "http.chunk_size",
            Self::ChunkExtension => "http.chunk_extension",
            Self::ChunkData => "http.chunk_data",
            Self::TrailerField => "http.trailer_field",
            Self::HeaderTimeout => "http.header_timeout",
            Self::BodyTimeout => "http.body_timeout",
        }
    }

    /// The response status for this reason: the one table from cause to status.
    pub fn status(&self) -> u16 {
        match self {
            // RFC 9110 §15.6.2: a method (or transfer coding) the server does not implement.
            Self::MethodUnknown | Self::Connect | Self::TransferEncodingUnsupported => 501,
            Self::UriTooLong => 414,
            Self::HeadTooLarge | Self::TooManyFields => 431,
            Self::HeaderTimeout | Self::BodyTimeout => 408,
            _ => 400,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A request the guard refuses: the connection ends after the rejection response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP/1 framing violation {reason} (status {status})")]
pub struct Violation {
    /// 400, 408, 414, 431 or 501; always `reason.status()`.
    pub status: u16,
    /// What was wrong, as a stable code.
    pub reason: Reason,
}

impl From<Reason> for Violation {
    fn from(reason: Reason) -> Self {
        Self {
            status: reason.status(),
            reason,
        }
    }
}

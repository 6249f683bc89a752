//! The sans-IO framing state machine.
//!
//! The client's byte stream enters through [`Guard::feed`] in pieces of any size; the guard
//! walks it one state transition at a time (bodies in bulk) and answers with the *release
//! watermark*: how many bytes, counted from the start of the connection, are validated and
//! may be handed to the HTTP parser. Splitting the stream differently never changes the
//! answer, because the only memory is the small [`State`] and the counters beside it.
//!
//! Release rules, which are the whole point:
//! - a request head is released only once all of it is validated, so a bad field refuses the
//!   whole message;
//! - a Content-Length body is released as it arrives: its framing is already fixed by the head;
//! - a chunked message (head and body) is held until the final CRLF after its trailers, or
//!   until [`Limits::hold_body_bytes`] of its body are validated, after which it streams;
//! - after a message that ends the connection (`Connection: close`, HTTP/1.0 without
//!   keep-alive) nothing more is ever released.

use super::{Limits, Reason, Violation};

/// The request methods the guard lets through: the IANA HTTP Method Registry plus the
/// non-registered ones llhttp (Node.js) accepts for HTTP. hyper takes any token as a method,
/// other parsers refuse unknown ones; a method one hop accepts and another refuses is a
/// desync waiting to happen, so anything else is a 501. CONNECT and PRI are listed so that
/// they get their own reasons.
const METHODS: &[&[u8]] = &[
    b"ACL",
    b"BASELINE-CONTROL",
    b"BIND",
    b"CHECKIN",
    b"CHECKOUT",
    b"CONNECT",
    b"COPY",
    b"DELETE",
    b"GET",
    b"HEAD",
    b"LABEL",
    b"LINK",
    b"LOCK",
    b"M-SEARCH",
    b"MERGE",
    b"MKACTIVITY",
    b"MKCALENDAR",
    b"MKCOL",
    b"MKREDIRECTREF",
    b"MKWORKSPACE",
    b"MOVE",
    b"NOTIFY",
    b"OPTIONS",
    b"ORDERPATCH",
    b"PATCH",
    b"POST",
    b"PRI",
    b"PROPFIND",
    b"PROPPATCH",
    b"PURGE",
    b"PUT",
    b"QUERY",
    b"REBIND",
    b"REPORT",
    b"SEARCH",
    b"SOURCE",
    b"SUBSCRIBE",
    b"TRACE",
    b"UNBIND",
    b"UNCHECKOUT",
    b"UNLINK",
    b"UNLOCK",
    b"UNSUBSCRIBE",
    b"UPDATE",
    b"UPDATEREDIRECTREF",
    b"VERSION-CONTROL",
];

/// Is `method` one the guard accepts (IANA's HTTP method registry plus the few extras llhttp
/// knows)? The gateway applies the same list to HTTP/2 requests, which bypass the guard.
pub fn is_registered_method(method: &[u8]) -> bool {
    METHODS.contains(&method)
}

/// Length of the longest entry of [`METHODS`]: a longer method is refused before its end.
const MAX_METHOD: usize = 17;

/// Chunk-size digits: 16 hex digits fill a u64, so the size can never overflow.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// Total chunk-extension bytes per message. hyper refuses more than 16 KiB mid-body; refusing
/// earlier and lower means a body is never cut off half-way by hyper after we released it.
const MAX_CHUNK_EXT_BYTES: usize = 4096;

/// Where the connection is, as the I/O wrapper needs it for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between messages: no byte of the next request head yet.
    Idle,
    /// A request head has started and is not complete.
    Head,
    /// A body or trailer section is being read.
    Body,
    /// A message that ends the connection is complete: nothing more is released.
    Closed,
    /// A violation ended the connection.
    Failed,
}

/// The per-connection framing guard. See the module docs for the release rules.
#[derive(Debug, Clone)]
pub struct Guard {
    limits: Limits,
    state: State,
    failed: Option<Violation>,
    /// Bytes of the stream consumed (validated) so far.
    pos: u64,
    /// Bytes of the stream that may be handed to the parser; never decreases.
    released: u64,
    /// Complete messages so far.
    messages: u64,
    msg: Message,
    /// Bytes of the current head (or trailer section), for `max_header_bytes`.
    section_bytes: usize,
    /// Field lines in the current head (or trailer section), for `max_headers`.
    fields: usize,
    target_len: usize,
    method: [u8; MAX_METHOD],
    method_len: usize,
    field: Field,
    chunk_size: u64,
    chunk_digits: u8,
    ext_bytes: usize,
    /// Where the current chunked body starts, to know when `hold_body_bytes` is reached.
    body_start: u64,
}

/// What the head of the current message said about its framing.
#[derive(Debug, Clone, Copy, Default)]
struct Message {
    options: bool,
    http10: bool,
    hosts: u8,
    content_length_seen: bool,
    content_length: u64,
    transfer_encoding_seen: bool,
    chunked: bool,
    close: bool,
    keep_alive: bool,
    /// The head is complete and a chunked body (or its trailers) is being read.
    chunked_body: bool,
    /// The body has streamed past `hold_body_bytes`: validated bytes are released at once.
    streaming: bool,
    /// Field lines now belong to the trailer section.
    trailers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line; empty lines (CRLF) are allowed here, as RFC 9112 §2.2 asks.
    Start,
    StartLf,
    Method,
    TargetStart,
    Target,
    TargetPct1,
    TargetPct2,
    Asterisk,
    /// Index into `HTTP/1.x\r\n`.
    Version(u8),
    /// Start of a field line or of the blank line that ends the section.
    LineStart,
    EndLf,
    Name,
    Value,
    ValueLf,
    /// Content-Length body: bytes left.
    Body(u64),
    SizeStart,
    Size,
    SizeBws,
    ExtPreName,
    ExtName,
    ExtAfterName,
    ExtPreValue,
    ExtToken,
    ExtQuoted,
    ExtQuotedPair,
    ExtAfterQuoted,
    ExtAfterValue,
    SizeLf,
    /// Chunk data: bytes left.
    Data(u64),
    DataCr,
    DataLf,
    Closed,
}

impl State {
    /// States inside a head or trailer section, whose bytes count against `max_header_bytes`.
    fn in_section(self) -> bool {
        matches!(
            self,
            Self::Start
                | Self::StartLf
                | Self::Method
                | Self::TargetStart
                | Self::Target
                | Self::TargetPct1
                | Self::TargetPct2
                | Self::Asterisk
                | Self::Version(_)
                | Self::LineStart
                | Self::EndLf
                | Self::Name
                | Self::Value
                | Self::ValueLf
        )
    }

    /// States inside a chunk-size line after the size, whose bytes count as extension bytes.
    fn in_extension(self) -> bool {
        matches!(
            self,
            Self::SizeBws
                | Self::ExtPreName
                | Self::ExtName
                | Self::ExtAfterName
                | Self::ExtPreValue
                | Self::ExtToken
                | Self::ExtQuoted
                | Self::ExtQuotedPair
                | Self::ExtAfterQuoted
                | Self::ExtAfterValue
        )
    }
}

/// The fields whose value the guard must understand, matched case-insensitively.
const KNOWN_FIELDS: [(&[u8], Kind); 4] = [
    (b"host", Kind::Host),
    (b"content-length", Kind::ContentLength),
    (b"transfer-encoding", Kind::TransferEncoding),
    (b"connection", Kind::Connection),
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Other,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
}

/// Where a value parser is relative to the (single, or current list) element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Pos {
    /// Leading whitespace, nothing of the element yet.
    #[default]
    Lead,
    Item,
    /// Whitespace after the element.
    Trail,
}

/// The field line being read: the name is matched against [`KNOWN_FIELDS`] byte by byte, so
/// no name is ever buffered.
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    name_len: usize,
    /// Bit k set while the name can still be `KNOWN_FIELDS[k]`.
    candidates: u8,
    kind: Kind,
    pos: Pos,
    /// Content-Length digits so far.
    number: u64,
    /// Transfer-Encoding: bytes of `chunked` matched; Connection: token length.
    item_len: usize,
    /// Connection: bit 0 while the token can be `close`, bit 1 `keep-alive`.
    item_candidates: u8,
}

const CLOSE: &[u8] = b"close";
const KEEP_ALIVE: &[u8] = b"keep-alive";
const CHUNKED: &[u8] = b"chunked";

impl Guard {
    /// A guard for a new connection.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Start,
            failed: None,
            pos: 0,
            released: 0,
            messages: 0,
            msg: Message::default(),
            section_bytes: 0,
            fields: 0,
            target_len: 0,
            method: [0; MAX_METHOD],
            method_len: 0,
            field: Field::default(),
            chunk_size: 0,
            chunk_digits: 0,
            ext_bytes: 0,
            body_start: 0,
        }
    }

    /// Feed the next bytes the client sent (the stream continues from previous calls).
    ///
    /// Returns how many bytes of the stream, counted from the very start of the connection,
    /// are now validated and may be released to the HTTP parser, or the violation that ends
    /// the connection. A violation is final: later calls return it again. Bytes released
    /// before it stay released (they belong to earlier, valid messages), see
    /// [`Guard::released`]. After [`Guard::closed`], input is ignored.
    pub fn feed(&mut self, input: &[u8]) -> Result<u64, Violation> {
        if let Some(violation) = &self.failed {
            return Err(violation.clone());
        }
        let mut rest = input;
        while let Some((&byte, tail)) = rest.split_first() {
            match self.state {
                // Whatever follows a closing message is never released, so never looked at.
                State::Closed => break,
                State::Body(left) => {
                    let n = bulk(left, rest.len());
                    rest = &rest[n..];
                    self.pos += n as u64;
                    self.released = self.pos;
                    if left == n as u64 {
                        self.complete_message();
                    } else {
                        self.state = State::Body(left - n as u64);
                    }
                }
                State::Data(left) => {
                    let n = bulk(left, rest.len());
                    rest = &rest[n..];
                    self.pos += n as u64;
                    self.state = if left == n as u64 {
                        State::DataCr
                    } else {
                        State::Data(left - n as u64)
                    };
                    self.chunk_progress();
                }
                _ => {
                    rest = tail;
                    self.pos += 1;
                    if let Err(reason) = self.step(byte) {
                        let violation = Violation::from(reason);
                        self.failed = Some(violation.clone());
                        return Err(violation);
                    }
                    if self.msg.chunked_body {
                        self.chunk_progress();
                    }
                }
            }
        }
        Ok(self.released)
    }

    /// The limits this guard enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The release watermark: bytes of the stream validated for the parser. Unlike the value
    /// returned by [`Guard::feed`], it is also available after a violation.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// True once a message with `Connection: close` (or HTTP/1.0 without keep-alive) is
    /// complete: bytes after it are never released.
    pub fn closed(&self) -> bool {
        self.failed.is_none() && self.state == State::Closed
    }

    /// True when no bytes of a next request head have arrived yet (between messages).
    pub fn idle(&self) -> bool {
        self.phase() == Phase::Idle
    }

    /// Where the connection is; see [`Phase`].
    pub fn phase(&self) -> Phase {
        if self.failed.is_some() {
            Phase::Failed
        } else if self.state == State::Closed {
            Phase::Closed
        } else if self.state == State::Start && self.section_bytes == 0 {
            Phase::Idle
        } else if self.state.in_section() && !self.msg.trailers {
            Phase::Head
        } else {
            Phase::Body
        }
    }

    /// How many messages are complete so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// The violation that ended the connection, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.failed.as_ref()
    }

    /// Once a chunked body has been validated past `hold_body_bytes`, release as it comes.
    fn chunk_progress(&mut self) {
        if !self.msg.streaming && self.pos - self.body_start >= self.limits.hold_body_bytes as u64 {
            self.msg.streaming = true;
        }
        if self.msg.streaming {
            self.released = self.pos;
        }
    }

    /// One byte, outside the bulk body states. `self.pos` already counts it.
    fn step(&mut self, b: u8) -> Result<(), Reason> {
        if self.state.in_section() {
            self.section_bytes += 1;
            if self.section_bytes > self.limits.max_header_bytes {
                return Err(Reason::HeadTooLarge);
            }
        } else if self.state.in_extension() || self.state == State::Size {
            // A bare LF ends no line in a strict parser, and ends a chunk line in a lenient one.
            if b == b'\n' {
                return Err(Reason::LineEnding);
            }
        }
        if self.state.in_extension() {
            self.ext_bytes += 1;
            if self.ext_bytes > MAX_CHUNK_EXT_BYTES {
                return Err(Reason::ChunkExtension);
            }
        }
        match self.state {
            State::Start => match b {
                b'\r' => self.state = State::StartLf,
                b'\n' => return Err(Reason::LineEnding),
                _ => {
                    self.method_len = 0;
                    self.state = State::Method;
                    return self.method_byte(b);
                }
            },
            State::StartLf => {
                expect_lf(b)?;
                self.state = State::Start;
            }
            State::Method => return self.method_byte(b),
            State::TargetStart => match b {
                b'/' => {
                    self.target_byte()?;
                    self.state = State::Target;
                }
                b'*' if self.msg.options => {
                    self.target_byte()?;
                    self.state = State::Asterisk;
                }
                b' ' | b'\r' | b'\n' => return Err(Reason::RequestLine),
                _ => return Err(Reason::TargetForm),
            },
            State::Target => match b {
                b' ' => self.state = State::Version(0),
                b'%' => {
                    self.target_byte()?;
                    self.state = State::TargetPct1;
                }
                // No version: an HTTP/0.9 request line.
                b'\r' | b'\n' => return Err(Reason::RequestLine),
                _ if is_target_char(b) => self.target_byte()?,
                _ => return Err(Reason::TargetChar),
            },
            State::TargetPct1 | State::TargetPct2 => {
                if !b.is_ascii_hexdigit() {
                    return Err(Reason::TargetChar);
                }
                self.target_byte()?;
                self.state = if self.state == State::TargetPct1 {
                    State::TargetPct2
                } else {
                    State::Target
                };
            }
            State::Asterisk => match b {
                b' ' => self.state = State::Version(0),
                _ => return Err(Reason::TargetForm),
            },
            State::Version(i) => self.version_byte(i, b)?,
            State::LineStart => match b {
                b'\r' => self.state = State::EndLf,
                b'\n' => return Err(Reason::LineEnding),
                b' ' | b'\t' => return Err(Reason::ObsFold),
                _ if is_tchar(b) => {
                    self.fields += 1;
                    if self.fields > self.limits.max_headers {
                        return Err(Reason::TooManyFields);
                    }
                    self.field = Field {
                        candidates: (1 << KNOWN_FIELDS.len()) - 1,
                        ..Field::default()
                    };
                    self.name_byte(b);
                    self.state = State::Name;
                }
                _ => return Err(Reason::FieldName),
            },
            State::Name => match b {
                b':' => {
                    self.name_end()?;
                    self.state = State::Value;
                }
                _ if is_tchar(b) => self.name_byte(b),
                // Includes whitespace before the colon, which RFC 9112 §5.1 says to reject.
                _ => return Err(Reason::FieldName),
            },
            State::Value => match b {
                b'\r' => {
                    self.value_end()?;
                    self.state = State::ValueLf;
                }
                b'\n' => return Err(Reason::LineEnding),
                b'\t' | b' '..=b'~' | 0x80..=0xff => self.value_byte(b)?,
                _ => return Err(Reason::FieldValue),
            },
            State::ValueLf => {
                expect_lf(b)?;
                self.state = State::LineStart;
            }
            State::EndLf => {
                expect_lf(b)?;
                if self.msg.trailers {
                    self.complete_message();
                } else {
                    self.head_complete()?;
                }
            }
            State::SizeStart => match hex_value(b) {
                Some(v) => {
                    self.chunk_size = u64::from(v);
                    self.chunk_digits = 1;
                    self.state = State::Size;
                }
                None => return Err(Reason::ChunkSize),
            },
            State::Size => match b {
                b'\r' => self.state = State::SizeLf,
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::SizeBws,
                _ => match hex_value(b) {
                    Some(v) if self.chunk_digits < MAX_CHUNK_SIZE_DIGITS => {
                        self.chunk_digits += 1;
                        self.chunk_size = (self.chunk_size << 4) | u64::from(v);
                    }
                    _ => return Err(Reason::ChunkSize),
                },
            },
            // RFC 9112 §7.1.1: BWS may only precede the `;` of an extension.
            State::SizeBws => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::ExtPreName,
                _ => return Err(Reason::ChunkSize),
            },
            State::ExtPreName => match b {
                b' ' | b'\t' => {}
                _ if is_tchar(b) => self.state = State::ExtName,
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtName => match b {
                b'=' => self.state = State::ExtPreValue,
                b' ' | b'\t' => self.state = State::ExtAfterName,
                b';' => self.state = State::ExtPreName,
                b'\r' => self.state = State::SizeLf,
                _ if is_tchar(b) => {}
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtAfterName => match b {
                b' ' | b'\t' => {}
                b'=' => self.state = State::ExtPreValue,
                b';' => self.state = State::ExtPreName,
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtPreValue => match b {
                b' ' | b'\t' => {}
                b'"' => self.state = State::ExtQuoted,
                _ if is_tchar(b) => self.state = State::ExtToken,
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtToken => match b {
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::ExtAfterValue,
                b'\r' => self.state = State::SizeLf,
                _ if is_tchar(b) => {}
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtQuoted => match b {
                b'"' => self.state = State::ExtAfterQuoted,
                b'\\' => self.state = State::ExtQuotedPair,
                // qdtext
                b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {}
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtQuotedPair => match b {
                b'\t' | b' '..=b'~' | 0x80..=0xff => self.state = State::ExtQuoted,
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtAfterQuoted => match b {
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::ExtAfterValue,
                b'\r' => self.state = State::SizeLf,
                _ => return Err(Reason::ChunkExtension),
            },
            State::ExtAfterValue => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::ExtPreName,
                _ => return Err(Reason::ChunkExtension),
            },
            State::SizeLf => {
                expect_lf(b)?;
                if self.chunk_size == 0 {
                    self.msg.trailers = true;
                    self.section_bytes = 0;
                    self.fields = 0;
                    self.state = State::LineStart;
                } else {
                    self.state = State::Data(self.chunk_size);
                }
            }
            State::DataCr => match b {
                b'\r' => self.state = State::DataLf,
                _ => return Err(Reason::ChunkData),
            },
            State::DataLf => {
                expect_lf(b)?;
                self.state = State::SizeStart;
            }
            // Handled in bulk by `feed`, which never calls `step` in these states.
            State::Body(_) | State::Data(_) | State::Closed => {}
        }
        Ok(())
    }

    fn method_byte(&mut self, b: u8) -> Result<(), Reason> {
        if b == b' ' {
            return self.method_end();
        }
        if b == b'\r' || b == b'\n' {
            return Err(Reason::RequestLine);
        }
        if !is_tchar(b) {
            return Err(Reason::MethodInvalid);
        }
        if self.method_len == MAX_METHOD {
            return Err(Reason::MethodUnknown);
        }
        self.method[self.method_len] = b;
        self.method_len += 1;
        Ok(())
    }

    fn method_end(&mut self) -> Result<(), Reason> {
        let method = &self.method[..self.method_len];
        match method {
            b"" => return Err(Reason::RequestLine),
            b"CONNECT" => return Err(Reason::Connect),
            b"PRI" => return Err(Reason::H2Preface),
            _ if !METHODS.contains(&method) => return Err(Reason::MethodUnknown),
            _ => {}
        }
        self.msg.options = method == b"OPTIONS";
        self.state = State::TargetStart;
        Ok(())
    }

    fn target_byte(&mut self) -> Result<(), Reason> {
        self.target_len += 1;
        if self.target_len > self.limits.max_uri_bytes {
            return Err(Reason::UriTooLong);
        }
        Ok(())
    }

    /// `HTTP/1.0` or `HTTP/1.1`, then CRLF. `i` indexes the bytes of `HTTP/1.x\r\n`.
    fn version_byte(&mut self, i: u8, b: u8) -> Result<(), Reason> {
        const PREFIX: &[u8] = b"HTTP/1.";
        let i = usize::from(i);
        match i {
            _ if i < PREFIX.len() => {
                if b != PREFIX[i] {
                    return Err(Reason::Version);
                }
            }
            7 => match b {
                b'1' => self.msg.http10 = false,
                b'0' => self.msg.http10 = true,
                _ => return Err(Reason::Version),
            },
            8 => match b {
                b'\r' => {}
                b'\n' => return Err(Reason::LineEnding),
                _ => return Err(Reason::RequestLine),
            },
            _ => {
                expect_lf(b)?;
                self.state = State::LineStart;
                return Ok(());
            }
        }
        // `i` is at most 8 here.
        self.state = State::Version(i as u8 + 1);
        Ok(())
    }

    fn name_byte(&mut self, b: u8) {
        let lower = b.to_ascii_lowercase();
        let i = self.field.name_len;
        for (k, (name, _)) in KNOWN_FIELDS.iter().enumerate() {
            if name.get(i) != Some(&lower) {
                self.field.candidates &= !(1 << k);
            }
        }
        self.field.name_len = i.saturating_add(1);
    }

    fn name_end(&mut self) -> Result<(), Reason> {
        let kind = KNOWN_FIELDS
            .iter()
            .enumerate()
            .find(|(k, (name, _))| {
                self.field.candidates & (1 << k) != 0 && name.len() == self.field.name_len
            })
            .map_or(Kind::Other, |(_, (_, kind))| *kind);
        self.field.kind = kind;
        if kind != Kind::Other && self.msg.trailers {
            return Err(Reason::TrailerField);
        }
        let msg = &mut self.msg;
        match kind {
            Kind::Host => {
                msg.hosts += 1;
                if msg.hosts > 1 {
                    return Err(Reason::HostDuplicate);
                }
            }
            Kind::ContentLength => {
                if msg.content_length_seen {
                    return Err(Reason::ContentLengthDuplicate);
                }
                if msg.transfer_encoding_seen {
                    return Err(Reason::ClTeConflict);
                }
                msg.content_length_seen = true;
            }
            Kind::TransferEncoding => {
                if msg.transfer_encoding_seen {
                    return Err(Reason::TransferEncodingDuplicate);
                }
                if msg.content_length_seen {
                    return Err(Reason::ClTeConflict);
                }
                if msg.http10 {
                    return Err(Reason::TransferEncodingHttp10);
                }
                msg.transfer_encoding_seen = true;
            }
            Kind::Connection | Kind::Other => {}
        }
        Ok(())
    }

    /// A byte of a field value (CR, LF and controls other than HTAB are already handled).
    fn value_byte(&mut self, b: u8) -> Result<(), Reason> {
        let ows = b == b' ' || b == b'\t';
        let f = &mut self.field;
        match f.kind {
            Kind::Other | Kind::Host => {}
            Kind::ContentLength => match (f.pos, b) {
                (Pos::Lead | Pos::Trail, _) if ows => {}
                (Pos::Item, _) if ows => f.pos = Pos::Trail,
                (Pos::Lead | Pos::Item, b'0'..=b'9') => {
                    f.number = f
                        .number
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(b - b'0')))
                        .ok_or(Reason::ContentLengthInvalid)?;
                    f.pos = Pos::Item;
                }
                _ => return Err(Reason::ContentLengthInvalid),
            },
            Kind::TransferEncoding => match f.pos {
                Pos::Lead | Pos::Trail if ows => {}
                Pos::Item if ows && f.item_len == CHUNKED.len() => f.pos = Pos::Trail,
                Pos::Lead | Pos::Item
                    if CHUNKED.get(f.item_len) == Some(&b.to_ascii_lowercase()) =>
                {
                    f.item_len += 1;
                    f.pos = Pos::Item;
                }
                _ => return Err(Reason::TransferEncodingUnsupported),
            },
            Kind::Connection => match f.pos {
                _ if b == b',' => {
                    self.connection_token_end();
                    self.field.pos = Pos::Lead;
                }
                Pos::Lead | Pos::Trail if ows => {}
                Pos::Item if ows => f.pos = Pos::Trail,
                Pos::Lead | Pos::Item if is_tchar(b) => {
                    if f.pos == Pos::Lead {
                        f.pos = Pos::Item;
                        f.item_len = 0;
                        f.item_candidates = 0b11;
                    }
                    let lower = b.to_ascii_lowercase();
                    if CLOSE.get(f.item_len) != Some(&lower) {
                        f.item_candidates &= !0b01;
                    }
                    if KEEP_ALIVE.get(f.item_len) != Some(&lower) {
                        f.item_candidates &= !0b10;
                    }
                    f.item_len = f.item_len.saturating_add(1);
                }
                _ => return Err(Reason::ConnectionInvalid),
            },
        }
        Ok(())
    }

    fn connection_token_end(&mut self) {
        let f = &self.field;
        if f.pos == Pos::Lead {
            // An empty list element, which RFC 9110 §5.6.1 says to accept and ignore.
            return;
        }
        if f.item_candidates & 0b01 != 0 && f.item_len == CLOSE.len() {
            self.msg.close = true;
        }
        if f.item_candidates & 0b10 != 0 && f.item_len == KEEP_ALIVE.len() {
            self.msg.keep_alive = true;
        }
    }

    fn value_end(&mut self) -> Result<(), Reason> {
        let f = self.field;
        match f.kind {
            Kind::Other | Kind::Host => {}
            Kind::ContentLength => {
                if f.pos == Pos::Lead {
                    return Err(Reason::ContentLengthInvalid);
                }
                self.msg.content_length = f.number;
            }
            Kind::TransferEncoding => {
                if f.item_len != CHUNKED.len() {
                    return Err(Reason::TransferEncodingUnsupported);
                }
                self.msg.chunked = true;
            }
            Kind::Connection => self.connection_token_end(),
        }
        Ok(())
    }

    /// The blank line after the head: decide the body's framing.
    fn head_complete(&mut self) -> Result<(), Reason> {
        if self.msg.hosts == 0 && !self.msg.http10 {
            return Err(Reason::HostMissing);
        }
        if self.msg.chunked {
            self.msg.chunked_body = true;
            self.body_start = self.pos;
            self.chunk_size = 0;
            self.chunk_digits = 0;
            self.ext_bytes = 0;
            self.state = State::SizeStart;
        } else if self.msg.content_length > 0 {
            // The head fixes the body's length: nothing left to be ambiguous about.
            self.released = self.pos;
            self.state = State::Body(self.msg.content_length);
        } else {
            self.complete_message();
        }
        Ok(())
    }

    fn complete_message(&mut self) {
        self.released = self.pos;
        self.messages += 1;
        if self.msg.close || (self.msg.http10 && !self.msg.keep_alive) {
            self.state = State::Closed;
        } else {
            self.state = State::Start;
            self.msg = Message::default();
            self.section_bytes = 0;
            self.fields = 0;
            self.target_len = 0;
        }
    }
}

/// How many bytes of a body with `left` bytes to go are in `available` bytes of input.
fn bulk(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

fn expect_lf(b: u8) -> Result<(), Reason> {
    if b == b'\n' {
        Ok(())
    } else {
        Err(Reason::LineEnding)
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 3986 path and query characters other than `%`: unreserved, sub-delims, `:@/?`.
fn is_target_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'?'
        )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

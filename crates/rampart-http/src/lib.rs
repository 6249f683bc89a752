//! Wire-level strictness, kept apart from the gateway so that it can be fuzzed and tested
//! without sockets.
//!
//! - [`framing`]: a sans-IO HTTP/1 request framing guard. Every byte a client sends passes
//!   through it before hyper sees it; anything ambiguous (CL+TE, duplicate Content-Length,
//!   bad chunk sizes, obs-fold, bare LF, ...) is refused before any of the message is released.
//! - [`normalize`]: request-path normalization. Routing, every later check and the upstream
//!   see the one normalized path it produces; ambiguous forms are refused.
#![forbid(unsafe_code)]

pub mod framing;
pub mod normalize;

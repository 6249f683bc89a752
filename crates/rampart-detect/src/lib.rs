//! rampart's injection detector (issue 5, in progress; see `docs/design/input-validation.md`).
//!
//! Today: [`decode`], the decodings an upstream might apply to a value before it reaches
//! code that may be vulnerable; [`sql`], SQL injection by tokenizing; [`xss`], markup and
//! script a browser would run; [`cmd`], shell command injection; [`path`], traversal and
//! file inclusion; [`ssrf`], URLs aimed at the machine itself, its metadata service or the
//! private network; [`markers`], NoSQL operators, template expressions and XML external
//! entities. Every decoder is bounded: its output is never longer than
//! its input, and [`decode::variants`] applies them a fixed number of times, so that the
//! detector's time stays linear in the size of what it inspects.
#![forbid(unsafe_code)]

pub mod cmd;
pub mod decode;
pub mod markers;
pub mod path;
pub mod sql;
pub mod ssrf;
pub mod xss;

//! Test support for rampart.
#![forbid(unsafe_code)]

//! Test support for rampart: readers for the field corpora in `../shared/corpora` (the
//! yardstick for parsing and detection), and the helpers integration tests share.
//!
//! Corpus readers panic with a clear message when a corpus is missing: a test that cannot
//! find its yardstick must fail, not skip.
#![forbid(unsafe_code)]

pub mod llhttp;

use std::path::PathBuf;

/// The shared corpora directory: `../shared/corpora` next to the workspace root.
pub fn corpora_dir() -> PathBuf {
    // This crate lives at `<workspace>/crates/rampart-testkit`.
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..");
    workspace.join("..").join("shared").join("corpora")
}

pub mod client;
pub mod oidc;
pub mod redis;
pub mod upstream;

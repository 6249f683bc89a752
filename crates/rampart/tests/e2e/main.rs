//! The `rampart` binary driven as a user drives it. One test binary for both files, so that
//! CI links it once.

mod cli;
mod keys;

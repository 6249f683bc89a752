//! rampart's identity checks.
//!
//! - [`api_key`]: the API-key format and its only stored form (a peppered HMAC), with
//!   constant-time verification;
//! - [`keys`]: the in-memory key table the gateway checks requests against, kept in step
//!   with the store;
//! - [`master`]: the master key file and the keys derived from it (the API-key pepper).
//!
//! JWT, introspection, mTLS and authorization rules follow the plan in
//! `docs/design/identity.md`.
#![forbid(unsafe_code)]

pub mod api_key;
pub mod jose;
pub mod jwk;
pub mod jwt;
pub mod keys;
pub mod master;

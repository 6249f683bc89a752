//! rampart's identity checks.
//!
//! Today: [`api_key`], the API-key format and its only stored form (a peppered HMAC), with
//! constant-time verification. The store, the `rampart keys` commands and the pipeline stage
//! that uses them, then JWT, introspection, mTLS and authorization rules, follow the plan in
//! `docs/design/identity.md`.
#![forbid(unsafe_code)]

pub mod api_key;

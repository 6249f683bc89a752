//! rampart's data plane.
//!
//! How a request flows: [`server`] accepts it (TLS, limits, the HTTP/1 framing guard from
//! `rampart-http`), [`pipeline`] runs the checks in order and forwards it through [`proxy`],
//! [`problem`] decides what a refused request is told, [`headers`] applies the header rules
//! in both directions, and [`access_log`] and [`metrics`] record what happened.
#![forbid(unsafe_code)]

pub mod abuse;
pub mod access_log;
pub mod admin;
pub mod auth;
pub mod bans;
pub mod body;
pub mod cors;
pub mod headers;
pub mod inspect;
pub mod introspection;
pub mod jwt;
pub mod leaks;
pub mod metrics;
pub mod pipeline;
pub mod pool;
pub mod problem;
pub mod proxy;
pub mod ratelimit;
pub mod redis_backend;
pub mod request_id;
pub mod router;
pub mod server;
pub mod stall;
pub mod tls;
pub mod validate;

pub use server::{Gateway, StartError, prepare};

//! The gateway's end-to-end tests: real sockets, real TLS, a real upstream, Redis and an
//! OpenID Provider where a feature is about them. One test binary, so that CI links the
//! gateway and its dependencies once rather than once per file.

mod abuse;
mod cluster;
mod common;
mod gateway;
mod injection;
mod introspection;
mod jwt;
mod jwt_rotation;
mod leaks;
mod mtls;
mod openapi;
mod ratelimit;

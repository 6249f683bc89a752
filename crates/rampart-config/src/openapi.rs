//! `openapi` on a route or an upstream: validate requests against an OpenAPI 3.0/3.1 spec.
//!
//! ```toml
//! [[upstreams]]
//! openapi = "specs/orders.yaml"      # every route to this upstream
//!
//! [[routes]]
//! openapi = { spec = "specs/orders.yaml", strict = true, unknown_operations = "reject",
//!             base_path = "/v1", max_json_depth = 32, max_json_elements = 10000,
//!             responses = "log_only" }
//! # or openapi = "off" to leave a route of such an upstream unchecked
//! ```
//!
//! A route's `openapi` replaces its upstream's. The spec file is read and compiled when the
//! gateway builds (and by `rampart check`), not here.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::compile::Ctx;

/// What a request for an operation the spec does not describe gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownOperations {
    /// 404 (unknown path) or 405 (unknown method): the spec is the allowlist.
    Reject,
    /// Passed on unchecked.
    Allow,
}

/// Whether upstream responses are checked against the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseValidation {
    Off,
    /// Mismatches are logged (`event = "response_invalid"`); the response is sent.
    LogOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApi {
    pub spec: PathBuf,
    pub strict: bool,
    pub unknown_operations: UnknownOperations,
    /// The API's path prefix as clients call it; `None` takes it from the spec's `servers`.
    pub base_path: Option<String>,
    pub max_json_depth: usize,
    pub max_json_elements: usize,
    pub responses: ResponseValidation,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpenApi {
    spec: String,
    strict: Option<bool>,
    unknown_operations: Option<String>,
    base_path: Option<String>,
    max_json_depth: Option<i64>,
    max_json_elements: Option<i64>,
    responses: Option<String>,
}

/// What a route or upstream said: nothing, `"off"`, or a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    Unset,
    Off,
    On(OpenApi),
}

pub(crate) fn compile(
    ctx: &mut Ctx,
    key: &str,
    value: Option<toml::Value>,
    base: &Path,
) -> Setting {
    let raw = match value {
        None => return Setting::Unset,
        Some(toml::Value::String(s)) if s == "off" => return Setting::Off,
        Some(toml::Value::String(spec)) => RawOpenApi {
            spec,
            strict: None,
            unknown_operations: None,
            base_path: None,
            max_json_depth: None,
            max_json_elements: None,
            responses: None,
        },
        Some(table @ toml::Value::Table(_)) => match ctx.section::<RawOpenApi>(key, table) {
            Some(raw) => raw,
            None => return Setting::Unset,
        },
        Some(_) => {
            ctx.error(
                key,
                "a spec file, \"off\", or a table { spec, strict, unknown_operations, base_path, max_json_depth, max_json_elements, responses }",
            );
            return Setting::Unset;
        }
    };
    if raw.spec.is_empty() {
        ctx.error(
            format!("{key}.spec"),
            "name the OpenAPI file (YAML or JSON)",
        );
    }
    let unknown_operations = match raw.unknown_operations.as_deref() {
        None | Some("reject") => UnknownOperations::Reject,
        Some("allow") => {
            ctx.warn(
                format!("{key}.unknown_operations"),
                "requests for operations the spec does not describe are passed on unchecked",
            );
            UnknownOperations::Allow
        }
        Some(other) => {
            ctx.error(
                format!("{key}.unknown_operations"),
                format!("\"{other}\" is not \"reject\" or \"allow\""),
            );
            UnknownOperations::Reject
        }
    };
    let responses = match raw.responses.as_deref() {
        None | Some("off") => ResponseValidation::Off,
        Some("log_only") => ResponseValidation::LogOnly,
        Some(other) => {
            ctx.error(
                format!("{key}.responses"),
                format!("\"{other}\" is not \"off\" or \"log_only\""),
            );
            ResponseValidation::Off
        }
    };
    let base_path = raw.base_path.map(|b| {
        if !(b.is_empty() || b.starts_with('/')) || b.contains(['?', '#', '{', '}']) {
            ctx.error(
                format!("{key}.base_path"),
                "a path prefix such as \"/v1\" (or \"\" for none)",
            );
        }
        b.trim_end_matches('/').to_owned()
    });
    let mut bound = |name: &str, value: Option<i64>, default: usize, max: i64| match value {
        None => default,
        Some(v) if (1..=max).contains(&v) => v as usize,
        Some(_) => {
            ctx.error(
                format!("{key}.{name}"),
                format!("must be between 1 and {max}"),
            );
            default
        }
    };
    let max_json_depth = bound("max_json_depth", raw.max_json_depth, 32, 128);
    let max_json_elements = bound(
        "max_json_elements",
        raw.max_json_elements,
        10_000,
        10_000_000,
    );
    Setting::On(OpenApi {
        spec: base.join(raw.spec),
        strict: raw.strict.unwrap_or(false),
        unknown_operations,
        base_path,
        max_json_depth,
        max_json_elements,
        responses,
    })
}

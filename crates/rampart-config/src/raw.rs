//! The config file as written: serde structs that mirror the TOML one to one.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than a silently
//! ignored setting. Nothing here is trusted: [`crate::compile`] turns these into the validated
//! runtime types, reporting every problem with its key path.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Server {
    pub(crate) listen: Option<String>,
    pub(crate) tls: Option<Tls>,
    pub(crate) http_redirect_listen: Option<String>,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) max_header_bytes: Option<u64>,
    pub(crate) max_headers: Option<u64>,
    pub(crate) max_uri_bytes: Option<u64>,
    pub(crate) header_read_timeout: Option<String>,
    pub(crate) body_read_timeout: Option<String>,
    pub(crate) idle_timeout: Option<String>,
    pub(crate) max_connections: Option<u64>,
    pub(crate) trusted_proxies: Option<Vec<String>>,
    pub(crate) hosts: Option<Vec<String>>,
    pub(crate) worker_threads: Option<u64>,
    pub(crate) shutdown_timeout: Option<String>,
    pub(crate) secure_headers: Option<SecureHeaders>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    pub(crate) cert: String,
    pub(crate) key: String,
    pub(crate) hsts: Option<Hsts>,
    pub(crate) client_ca: Option<String>,
    pub(crate) client_crls: Option<Vec<String>>,
    pub(crate) client_auth: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hsts {
    pub(crate) max_age: Option<String>,
    pub(crate) include_subdomains: Option<bool>,
    pub(crate) preload: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecureHeaders {
    pub(crate) cache_control: Option<String>,
    pub(crate) content_security_policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Admin {
    pub(crate) listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Log {
    pub(crate) access: Option<String>,
    pub(crate) level: Option<String>,
    pub(crate) headers: Option<Vec<String>>,
    pub(crate) sensitive_query_params: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) connect_timeout: Option<String>,
    pub(crate) request_timeout: Option<String>,
    pub(crate) pool_idle_timeout: Option<String>,
    pub(crate) pool_max_idle: Option<u64>,
    pub(crate) preserve_host: Option<bool>,
    pub(crate) ca: Option<String>,
    pub(crate) dangerous_skip_upstream_verify: Option<bool>,
    /// A spec file or a table (see `crate::openapi`).
    pub(crate) openapi: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) upstream: String,
    pub(crate) auth: Option<Vec<String>>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) step_up: Option<StepUp>,
    pub(crate) owner: Option<Owner>,
    pub(crate) pass_upstream_errors: Option<bool>,
    pub(crate) cors: Option<Cors>,
    /// One limit table or an array of them (see `crate::ratelimit`).
    pub(crate) rate_limit: Option<toml::Value>,
    /// A mode string or a table (see `crate::injection`).
    pub(crate) injection: Option<toml::Value>,
    /// A spec file, "off", or a table (see `crate::openapi`).
    pub(crate) openapi: Option<toml::Value>,
    /// A mode string or a table (see `crate::leaks`).
    pub(crate) leak_detection: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepUp {
    pub(crate) acr: Option<Vec<String>>,
    pub(crate) amr: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Owner {
    pub(crate) param: String,
    pub(crate) claim: String,
    pub(crate) unless_roles: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cors {
    pub(crate) allow_origins: Vec<String>,
    pub(crate) allow_methods: Option<Vec<String>>,
    pub(crate) allow_headers: Option<Vec<String>>,
    pub(crate) expose_headers: Option<Vec<String>>,
    pub(crate) allow_credentials: Option<bool>,
    pub(crate) max_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Store {
    pub(crate) path: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) master_key_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtIssuer {
    pub(crate) issuer: String,
    pub(crate) audiences: Option<Vec<String>>,
    pub(crate) discovery_url: Option<String>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) jwks_file: Option<String>,
    pub(crate) algorithms: Option<Vec<String>>,
    pub(crate) leeway: Option<String>,
    pub(crate) required_claims: Option<Vec<String>>,
    pub(crate) roles_claim: Option<String>,
    pub(crate) consumer_claim: Option<String>,
    pub(crate) jwks_refresh: Option<String>,
    pub(crate) ca: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Introspection {
    pub(crate) url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret_file: String,
    pub(crate) issuer: Option<String>,
    pub(crate) audiences: Option<Vec<String>>,
    pub(crate) cache_ttl: Option<String>,
    pub(crate) negative_ttl: Option<String>,
    pub(crate) roles_claim: Option<String>,
    pub(crate) consumer_claim: Option<String>,
    pub(crate) ca: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Abuse {
    pub(crate) enabled: Option<bool>,
    pub(crate) max_auth_failures: Option<u64>,
    pub(crate) window: Option<String>,
    pub(crate) ban_for: Option<String>,
    pub(crate) max_rate_limited: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Auth {
    pub(crate) api_key_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Consumer {
    pub(crate) name: String,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) keys: Option<Vec<DeclaredKey>>,
    pub(crate) mtls: Option<ConsumerMtls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsumerMtls {
    pub(crate) sha256: Option<Vec<String>>,
    pub(crate) san: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeclaredKey {
    pub(crate) id: String,
    pub(crate) hash: String,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) expires: Option<String>,
}

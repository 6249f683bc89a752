//! rampart's configuration.
//!
//! A TOML file is read in two steps, in the manner of "parse, don't validate":
//! 1. [`raw`] mirrors the file with serde structs that deny unknown fields;
//! 2. [`compile`] turns them into the validated types of this module, which the gateway uses
//!    as they are: durations parsed, addresses resolved, references between sections checked,
//!    defaults filled in with the safe value.
//!
//! Every problem is collected, each with the key path it concerns, so that `rampart check`
//! reports all of them at once. Settings that weaken security are named `dangerous_*` and
//! produce a warning whenever they are on.
#![forbid(unsafe_code)]

mod compile;
mod duration;
mod injection;
mod leaks;
mod openapi;
mod ratelimit;
mod raw;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use compile::{is_fetchable_url, is_name, is_scope};
pub use duration::parse_duration;
pub use injection::{Exclusion, Injection, InjectionMode, Policy};
pub use ipnet::IpNet;
pub use leaks::{LeakDetection, LeakMode};
pub use openapi::{OpenApi, ResponseValidation, UnknownOperations};
pub use ratelimit::{
    Backend, FailMode, Limit, LimitKey, LimitKind, QuotaPeriod, RateLimiting, Redis,
};

/// A validated configuration, ready for the gateway.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub admin: Admin,
    pub log: Log,
    pub upstreams: Vec<Upstream>,
    pub routes: Vec<Route>,
    /// `[store]`: where consumers and keys live; required by API-key authentication.
    pub store: Option<Store>,
    pub auth: Auth,
    /// Consumers declared in the file (hashed keys only), for git-managed setups.
    pub consumers: Vec<Consumer>,
    /// Issuers whose JWT access tokens are accepted on `auth = ["jwt"]` routes.
    pub jwt_issuers: Vec<JwtIssuer>,
    /// Brute-force protection for authentication (on by default).
    pub abuse: Abuse,
    /// `[introspection]`: the RFC 7662 endpoint for opaque tokens (`auth = ["introspection"]`).
    pub introspection: Option<Introspection>,
    /// `[ratelimit]`: the counts' backend, the pre-authentication limit, global limits.
    pub ratelimit: RateLimiting,
    /// Things that are allowed but that a reviewer should see (public routes, dangerous options).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub tls: Option<Tls>,
    /// A plain-HTTP listener that answers every request with a 308 to the HTTPS listener.
    pub http_redirect_listen: Option<SocketAddr>,
    pub limits: Limits,
    pub trusted_proxies: Vec<IpNet>,
    /// The host names the data plane answers for (lower case, without port); empty means
    /// any. A request for another host gets 421, so a forged `Host` can never reach the
    /// upstream as `X-Forwarded-Host`.
    pub hosts: Vec<String>,
    /// Tokio worker threads for the data plane; `None` means one per core.
    pub worker_threads: Option<usize>,
    pub shutdown_timeout: Duration,
    pub secure_headers: SecureHeaders,
}

/// Request-hardening limits, all with safe defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_uri_bytes: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub hsts: Hsts,
    /// Client certificates (mTLS), when `client_ca` is set.
    pub client_auth: Option<ClientAuth>,
}

/// Client certificates are verified against `ca` (and the CRLs) during the handshake;
/// `required` refuses a handshake without one, otherwise routes with `auth = ["mtls"]`
/// require it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    pub ca: PathBuf,
    pub crls: Vec<PathBuf>,
    pub required: bool,
}

/// The `Strict-Transport-Security` header sent on every TLS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hsts {
    pub max_age: Duration,
    pub include_subdomains: bool,
    pub preload: bool,
}

impl Hsts {
    /// The header value, e.g. `max-age=31536000; includeSubDomains`.
    pub fn header_value(&self) -> String {
        let mut value = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if self.preload {
            value.push_str("; preload");
        }
        value
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureHeaders {
    pub cache_control: String,
    pub content_security_policy: String,
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub access: AccessLog,
    pub level: String,
    /// Request headers copied into the access log; everything else is left out, so that
    /// credentials can never be logged by accident.
    pub headers: Vec<String>,
    /// Query parameters whose values are masked in the logged query string.
    pub sensitive_query_params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub scheme: UpstreamScheme,
    /// `host:port` to connect to.
    pub authority: String,
    /// The path prefix of the upstream URL, without a trailing slash ("" for none).
    pub base_path: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle: usize,
    pub preserve_host: bool,
    /// Extra CA certificates (PEM) trusted for this upstream, besides the system roots.
    pub ca: Option<PathBuf>,
    pub dangerous_skip_upstream_verify: bool,
    /// The spec that requests to this upstream are validated against, unless their route
    /// names its own (or `"off"`).
    pub openapi: Option<OpenApi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamScheme {
    Http,
    Https,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub path: String,
    /// Allowed methods as upper-case tokens; empty means every method.
    pub methods: Vec<String>,
    /// Index into [`Config::upstreams`].
    pub upstream: usize,
    pub auth: Vec<AuthMethod>,
    /// Scopes the caller must hold, all of them.
    pub scopes: Vec<String>,
    /// Roles of which the caller must hold one (any of); empty means no role is needed.
    pub roles: Vec<String>,
    /// Step-up: the caller's token must show a strong enough authentication.
    pub step_up: Option<StepUp>,
    /// An object-level rule: the path parameter must name the caller's own object.
    pub owner: Option<Owner>,
    pub pass_upstream_errors: bool,
    pub cors: Option<Cors>,
    /// The route's own limits (the global ones in [`RateLimiting::limits`] apply too).
    pub limits: Vec<Limit>,
    /// How requests on this route are inspected for attacks.
    pub injection: Injection,
    /// The spec requests on this route are validated against (its own or its upstream's).
    pub openapi: Option<OpenApi>,
    /// What is done with upstream responses that leak errors, traces or debug pages.
    pub leak_detection: LeakDetection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The route is public. Allowed, but always reported by `check` and `audit`.
    None,
    /// An API key in the configured header (`X-API-Key` by default).
    ApiKey,
    /// A JWT access token (`Authorization: Bearer`) from one of `[[jwt_issuers]]`.
    Jwt,
    /// An opaque bearer token, checked at the `[introspection]` endpoint (RFC 7662).
    Introspection,
    /// A client certificate verified in the TLS handshake, mapped to a consumer.
    Mtls,
}

/// An RFC 7662 introspection endpoint, called with HTTP Basic client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    pub url: String,
    pub client_id: String,
    /// A file holding the client secret (owner-only); the secret is never in the config.
    pub client_secret_file: PathBuf,
    /// If set, an `iss` in the answer must be this.
    pub issuer: Option<String>,
    /// If set, the answer's `aud` must name one of these.
    pub audiences: Vec<String>,
    /// Active answers are reused for at most this long (and never past the token's `exp`).
    pub cache_ttl: Duration,
    /// Inactive answers are reused for this long.
    pub negative_ttl: Duration,
    pub roles_claim: Option<String>,
    pub consumer_claim: String,
    pub ca: Option<PathBuf>,
}

/// The JWS algorithms an issuer may use. Symmetric (HS*) and `none` are not among them.
pub const JWT_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssuer {
    /// The exact `iss` value of its tokens.
    pub issuer: String,
    /// A token's `aud` must name one of these.
    pub audiences: Vec<String>,
    pub keys: JwksSource,
    /// Names from [`JWT_ALGORITHMS`].
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf`, `iat`: default 30 s, at most 60 s.
    pub leeway: Duration,
    /// Claims that must be present besides `iss`, `aud`, `exp`.
    pub required_claims: Vec<String>,
    /// Dot path to the roles (`roles`, `realm_access.roles`).
    pub roles_claim: Option<String>,
    /// The claim that names the caller (default `sub`).
    pub consumer_claim: String,
    /// How often the JWKS is fetched again (default 5 min); an unknown `kid` also
    /// triggers a fetch, at most once per 10 s.
    pub jwks_refresh: Duration,
    /// Extra CA certificates (PEM) for the identity provider's HTTPS, besides the system's.
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// OpenID Connect discovery: the document's `issuer` must match, its `jwks_uri` is used.
    Discovery(String),
    Url(String),
    File(PathBuf),
}

/// Satisfied when the token's `acr` is one of `acr`, or its `amr` holds one of `amr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    pub acr: Vec<String>,
    pub amr: Vec<String>,
}

/// `/users/{id}` only when `id` equals the caller's `claim` (for API keys: `sub` and
/// `consumer` are the consumer's name), unless the caller holds one of `unless_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub param: String,
    pub claim: String,
    pub unless_roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// The SQLite file; `None` for a database-less setup (keys declared in the config only).
    pub path: Option<PathBuf>,
    /// 32 random bytes, hex, owner-only; API-key hashes are keyed by a pepper derived from it.
    pub master_key_file: PathBuf,
}

/// `[abuse]`: repeated authentication failures from one client IP, or against one key id,
/// within `window` are slowed, then banned for `ban_for`, doubled with each repeat offence.
/// A client refused by rate limits `max_rate_limited` times within `window` is banned the
/// same way (0 turns that off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abuse {
    pub enabled: bool,
    pub max_auth_failures: u32,
    pub max_rate_limited: u32,
    pub window: Duration,
    pub ban_for: Duration,
}

impl Default for Abuse {
    fn default() -> Self {
        Abuse {
            enabled: true,
            max_auth_failures: 20,
            max_rate_limited: 100,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The request header that carries API keys, lower case.
    pub api_key_header: String,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            api_key_header: "x-api-key".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: String,
    pub roles: Vec<String>,
    pub keys: Vec<DeclaredKey>,
    /// Client certificates that identify this consumer: by SHA-256 fingerprint of the leaf
    /// certificate (lower-case hex) or by a DNS name or IP address in its SANs.
    pub cert_sha256: Vec<[u8; 32]>,
    pub cert_san: Vec<String>,
}

/// A key declared in the config: its public id and peppered hash, never the key itself
/// (`rampart keys declare` prints the entry for a new key).
#[derive(Clone, PartialEq, Eq)]
pub struct DeclaredKey {
    pub id: String,
    pub hash: [u8; 32],
    pub scopes: Vec<String>,
    /// Seconds since the Unix epoch.
    pub expires: Option<i64>,
}

impl fmt::Debug for DeclaredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredKey")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: CorsOrigins,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, never together with credentials.
    Any,
    /// Exact, lower-cased `scheme://host[:port]` origins.
    List(Vec<String>),
}

/// One problem or warning, tied to the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The key path, e.g. `routes[2].upstream`.
    pub key: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Every error found in a config, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: Option<PathBuf>,
    pub errors: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self
            .file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".to_owned());
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{file}: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Parses and validates a config held in memory. Relative paths are taken as relative to
    /// the current directory.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigErrors> {
        compile::compile(text, Path::new("")).map_err(|errors| ConfigErrors { file: None, errors })
    }

    /// Reads, parses and validates a config file. Relative paths in it are taken as relative
    /// to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let fail = |message: String| ConfigErrors {
            file: Some(path.to_owned()),
            errors: vec![Diagnostic::new("", message)],
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let base = path.parent().unwrap_or(Path::new(""));
        compile::compile(&text, base).map_err(|errors| ConfigErrors {
            file: Some(path.to_owned()),
            errors,
        })
    }
}

//! `rampart init [DIR]`: a secure-by-default, commented config, a master key and a
//! development certificate.
//!
//! Nothing is overwritten: if any file exists already, init stops before writing anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The config `init` writes. `rampart demo` runs the same text with its own ports.
pub(crate) const DEFAULT_CONFIG: &str = r#"# rampart configuration. Every key is documented in SPEC.md; `rampart check --config FILE`
# validates this file and lists every problem at once.

[server]
listen = "127.0.0.1:8443"
# TLS 1.3 and 1.2 only, ECDHE + AEAD suites only. Omit only for local development.
tls = { cert = "certs/dev-cert.pem", key = "certs/dev-key.pem" }
# HSTS is sent on every TLS response: max-age one year, includeSubDomains.
# tls = { cert = "...", key = "...", hsts = { max_age = "365d", include_subdomains = true, preload = false } }
# A plain-HTTP listener that only answers 308 redirects to HTTPS:
# http_redirect_listen = "127.0.0.1:8080"

# Request hardening (these are the defaults).
max_body_bytes = 1048576          # 413 past it, enforced while streaming
max_header_bytes = 16384          # whole request head; 431 past it
max_headers = 100
max_uri_bytes = 8192              # 414 past it
header_read_timeout = "10s"       # slowloris cut-off
body_read_timeout = "30s"
idle_timeout = "60s"
max_connections = 10000
# Only these peers may set X-Forwarded-For / Forwarded; everyone else's are replaced.
trusted_proxies = []
# The host names this gateway answers for; any other Host gets 421. Empty: any host.
# hosts = ["api.example.com"]

[admin]
# Metrics (/metrics), /healthz and /readyz. Keep it on loopback.
listen = "127.0.0.1:9443"

[log]
access = "stdout"                 # or "off", or a file path
headers = ["user-agent"]          # request headers logged; credentials can never be listed
# Values of these query parameters are masked (added to a built-in list: token, api_key, ...).
sensitive_query_params = []

[store]
path = "data/rampart.db"          # consumers and API keys (SQLite); `rampart keys` manages them
# 32 random bytes, owner-only (refused if others can read it). API keys are stored only as
# HMAC-SHA256 under a pepper derived from it. Back it up apart from the database.
master_key_file = "data/master.key"

# [auth]
# api_key_header = "X-API-Key"    # the header that carries API keys (the default)

# Consumers can also be declared here, for git-managed setups without a database:
# `rampart keys declare --config FILE --consumer NAME --scopes a,b` prints the entry.
# [[consumers]]
# name = "billing"
# keys = [{ id = "...", hash = "...", scopes = ["orders:read"] }]

# JWT access tokens (`auth = ["jwt"]`, header `Authorization: Bearer`) from an identity
# provider. Keys come from OpenID Connect discovery, a JWKS URL or a JWKS file; they are
# refreshed every jwks_refresh and when a token names an unknown kid (at most every 10 s).
# Only RS*/PS*/ES256/ES384/EdDSA: HS* and "none" are refused.
# [[jwt_issuers]]
# issuer = "https://idp.example.com"
# audiences = ["orders-api"]
# discovery_url = "https://idp.example.com/.well-known/openid-configuration"
# algorithms = ["RS256", "ES256"]
# leeway = "30s"                  # clock skew on exp/nbf/iat, at most 60s
# roles_claim = "roles"           # or a dot path, e.g. "realm_access.roles"

# Brute-force protection (on by default; these are the defaults). Wrong credentials from one
# client address, or against one key id, are slowed past half the allowance, then banned
# (429 with Retry-After); each repeat offence doubles the ban. A missing credential is not
# counted.
[abuse]
max_auth_failures = 20
max_rate_limited = 100            # rate-limit refusals within `window` before a ban
window = "1m"
ban_for = "5m"

# Rate limits. `pre_auth` is a rate per client address checked before any credential is
# looked at, so that a flood costs no authentication work. `limits` apply to every route;
# routes add their own with `rate_limit`. `per` is a duration (a smooth GCRA rate with
# `burst`), "day" or "month" (calendar quotas, UTC), or "in_flight" (concurrent requests).
# Keys: "ip", "consumer", "route", "consumer_route", "header:NAME", "claim:PATH".
# `log_only = true` counts and logs without refusing. Refusals get 429 with Retry-After;
# limited routes answer with RateLimit-Policy and RateLimit headers.
[ratelimit]
backend = "local"                 # or "redis://127.0.0.1:6379/0" for several gateways
pre_auth = { limit = 100, per = "1s", burst = 200, key = "ip" }
limits = [{ name = "per-consumer", limit = 600, per = "1m", burst = 100, key = "consumer" }]

[[upstreams]]
name = "orders"
url = "http://127.0.0.1:18080"
connect_timeout = "2s"
request_timeout = "15s"

# Deny by default: a request that matches no route gets 404, a method not listed 405, and
# every route must say how callers authenticate (auth = ["none"] makes one public, and
# `rampart check` and `rampart audit` flag it). A caller without a valid key gets 401; one
# whose key lacks a scope the route requires gets 403.
[[routes]]
name = "orders-read"
path = "/v1/orders/{id}"
methods = ["GET"]
upstream = "orders"
auth = ["api_key"]
scopes = ["orders:read"]          # all of them required

[[routes]]
name = "orders-list"
path = "/v1/orders"
methods = ["GET"]
upstream = "orders"
auth = ["api_key"]
scopes = ["orders:read"]
cors = { allow_origins = ["https://app.example.com"], allow_methods = ["GET", "POST"], allow_headers = ["content-type", "x-api-key"] }

[[routes]]
name = "orders-create"
path = "/v1/orders"
methods = ["POST"]
upstream = "orders"
auth = ["api_key"]
scopes = ["orders:write"]
rate_limit = [
  { name = "writes", limit = 30, per = "1m", key = "consumer" },
  { name = "daily-writes", limit = 5000, per = "day", key = "consumer" },
]

# Roles (any of) and object-level rules: a caller reads only its own user record (the path
# parameter must equal its `sub` claim, or for API keys its consumer name), unless it holds
# the role admin. Roles come from a token's roles_claim or `rampart consumers set-roles`.
[[routes]]
name = "users-read"
path = "/v1/users/{id}"
methods = ["GET"]
upstream = "orders"
auth = ["api_key"]
scopes = ["users:read"]
owner = { param = "id", claim = "sub", unless_roles = ["admin"] }
"#;

pub(crate) fn init(dir: &Path) -> anyhow::Result<()> {
    let config = dir.join("rampart.toml");
    let certs = dir.join("certs");
    let cert = certs.join("dev-cert.pem");
    let key = certs.join("dev-key.pem");
    let master = dir.join("data").join("master.key");
    for path in [&config, &cert, &key, &master] {
        if path.exists() {
            bail!(
                "{} exists already; init never overwrites files",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(&certs)
        .with_context(|| format!("cannot create {}", certs.display()))?;
    write_dev_certificate(&cert, &key)?;
    write_master_key(&master)?;
    write_new(&config, DEFAULT_CONFIG.as_bytes(), 0o644)?;
    println!("wrote {}", config.display());
    println!(
        "wrote {} (owner-only; back it up apart from the database)",
        master.display()
    );
    println!(
        "wrote {} and {} (development only: self-signed for localhost)",
        cert.display(),
        key.display()
    );
    println!("next: rampart check --config {}", config.display());
    println!(
        "      rampart keys create --config {} --consumer me --scopes orders:read",
        config.display()
    );
    Ok(())
}

/// A fresh master key, readable by the owner only.
pub(crate) fn write_master_key(path: &Path) -> anyhow::Result<()> {
    rampart_auth::master::MasterKey::generate()
        .context("cannot generate a master key")?
        .write_new(path)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A self-signed certificate for `localhost` and `127.0.0.1`; the key is readable by the
/// owner only.
pub(crate) fn write_dev_certificate(cert: &Path, key: &Path) -> anyhow::Result<()> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    write_new(cert, generated.cert.pem().as_bytes(), 0o644)?;
    write_new(key, generated.key_pair.serialize_pem().as_bytes(), 0o600)?;
    Ok(())
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A fresh directory for files that live as long as the process (the demo's certificate).
pub(crate) fn temp_dir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{:x}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

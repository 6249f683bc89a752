//! Raw config -> validated [`Config`].
//!
//! Each section and each array element is deserialized on its own, so that one bad route does
//! not hide the problems of the next one; then every value is checked and cross-references
//! (routes -> upstreams) are resolved. All problems are collected with their key paths.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::duration::parse_duration;
use crate::{
    Abuse, AccessLog, Admin, Auth, AuthMethod, ClientAuth, Config, Consumer, Cors, CorsOrigins,
    DeclaredKey, Diagnostic, Hsts, Introspection, IpNet, JWT_ALGORITHMS, JwksSource, JwtIssuer,
    LimitKey, Limits, Log, Owner, RateLimiting, Route, SecureHeaders, Server, StepUp, Store, Tls,
    Upstream, UpstreamScheme, raw,
};

const SECTIONS: &[&str] = &[
    "server",
    "admin",
    "log",
    "store",
    "auth",
    "consumers",
    "jwt_issuers",
    "abuse",
    "introspection",
    "ratelimit",
    "injection",
    "leak_detection",
    "upstreams",
    "routes",
];

/// Sections the product will have (SPEC.md) that this build does not implement yet. A config
/// that uses them is refused rather than run without the protection it asks for.
const NOT_YET: &[&str] = &[];

/// Request headers that may never be copied into the access log.
const NEVER_LOGGED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "client_secret",
    "code",
    "id_token",
    "key",
    "passwd",
    "password",
    "refresh_token",
    "secret",
    "session",
    "sig",
    "signature",
    "token",
];

pub(crate) struct Ctx {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Ctx {
    pub(crate) fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(key, message));
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Diagnostic::new(key, message));
    }

    /// Deserializes one section or element, recording a failure under `key`.
    pub(crate) fn section<T: DeserializeOwned>(
        &mut self,
        key: &str,
        value: toml::Value,
    ) -> Option<T> {
        match value.try_into::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                let message = e.message().trim().to_owned();
                self.error(key, message);
                None
            }
        }
    }

    /// A duration of at most two years (HSTS max-age is the longest one anyone needs).
    pub(crate) fn duration(
        &mut self,
        key: String,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        self.bounded_duration(key, value, default, Duration::from_secs(2 * 365 * 86_400))
    }

    /// A timeout: at most one day. Longer ones are mistakes, and deadlines computed from
    /// absurd values would overflow the clock.
    pub(crate) fn timeout(
        &mut self,
        key: String,
        value: Option<&str>,
        default: Duration,
    ) -> Duration {
        self.bounded_duration(key, value, default, Duration::from_secs(86_400))
    }

    pub(crate) fn bounded_duration(
        &mut self,
        key: String,
        value: Option<&str>,
        default: Duration,
        max: Duration,
    ) -> Duration {
        match value.map(parse_duration) {
            None => default,
            Some(Ok(d)) if d.is_zero() => {
                self.error(key, "must be greater than zero");
                default
            }
            Some(Ok(d)) if d > max => {
                self.error(key, format!("at most {}", humantime::format_duration(max)));
                default
            }
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.error(key, e);
                default
            }
        }
    }

    /// A count between 1 and `max`: the upper bounds keep settings that would allocate or
    /// overflow from ever reaching the gateway.
    pub(crate) fn positive(
        &mut self,
        key: String,
        value: Option<u64>,
        default: usize,
        max: u64,
    ) -> usize {
        match value {
            None => default,
            Some(0) => {
                self.error(key, "must be greater than zero");
                default
            }
            Some(v) if v > max => {
                self.error(key, format!("at most {max}"));
                default
            }
            Some(v) => match usize::try_from(v) {
                Ok(v) => v,
                Err(_) => {
                    self.error(key, "is too large");
                    default
                }
            },
        }
    }

    pub(crate) fn socket_addr(&mut self, key: &str, text: &str) -> Option<SocketAddr> {
        let parsed = match text.strip_prefix("localhost:") {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            None => text.parse::<SocketAddr>().ok(),
        };
        if parsed.is_none() {
            self.error(
                key,
                format!("\"{text}\" is not an address; write IP:PORT, e.g. \"127.0.0.1:8443\""),
            );
        }
        parsed
    }
}

pub(crate) fn compile(text: &str, base: &Path) -> Result<Config, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let e: toml::de::Error = e;
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}")
                })
                .unwrap_or_default();
            return Err(vec![Diagnostic::new(
                at,
                format!("invalid TOML: {}", e.message()),
            )]);
        }
    };
    for key in table.keys() {
        if NOT_YET.contains(&key.as_str()) {
            ctx.error(
                key.as_str(),
                "this section is not supported by this build of rampart yet; remove it rather than run without the protection it asks for",
            );
        } else if !SECTIONS.contains(&key.as_str()) {
            ctx.error(
                key.as_str(),
                format!("unknown section; expected one of: {}", SECTIONS.join(", ")),
            );
        }
    }

    let server: raw::Server = table
        .remove("server")
        .and_then(|v| ctx.section("server", v))
        .unwrap_or_default();
    let admin: raw::Admin = table
        .remove("admin")
        .and_then(|v| ctx.section("admin", v))
        .unwrap_or_default();
    let log: raw::Log = table
        .remove("log")
        .and_then(|v| ctx.section("log", v))
        .unwrap_or_default();
    let store: Option<raw::Store> = table.remove("store").and_then(|v| ctx.section("store", v));
    let auth: raw::Auth = table
        .remove("auth")
        .and_then(|v| ctx.section("auth", v))
        .unwrap_or_default();
    let consumers: Vec<Option<raw::Consumer>> = elements(&mut ctx, &mut table, "consumers");
    let jwt_issuers: Vec<Option<raw::JwtIssuer>> = elements(&mut ctx, &mut table, "jwt_issuers");
    let introspection: Option<raw::Introspection> = table
        .remove("introspection")
        .and_then(|v| ctx.section("introspection", v));
    let abuse: raw::Abuse = table
        .remove("abuse")
        .and_then(|v| ctx.section("abuse", v))
        .unwrap_or_default();
    let ratelimit: crate::ratelimit::RawSection = table
        .remove("ratelimit")
        .and_then(|v| ctx.section("ratelimit", v))
        .unwrap_or_default();
    let injection: crate::injection::RawInjection = table
        .remove("injection")
        .and_then(|v| ctx.section("injection", v))
        .unwrap_or_default();
    let leaks: crate::leaks::RawLeaks = table
        .remove("leak_detection")
        .and_then(|v| ctx.section("leak_detection", v))
        .unwrap_or_default();
    let upstreams: Vec<Option<raw::Upstream>> = elements(&mut ctx, &mut table, "upstreams");
    let routes: Vec<Option<raw::Route>> = elements(&mut ctx, &mut table, "routes");

    let server = compile_server(&mut ctx, server, base);
    let admin = compile_admin(&mut ctx, admin, &server);
    let log = compile_log(&mut ctx, log, base);
    let upstreams = compile_upstreams(&mut ctx, upstreams, base);
    let ratelimit = crate::ratelimit::compile_section(&mut ctx, ratelimit, base);
    let injection = crate::injection::compile_section(&mut ctx, injection);
    let leaks = crate::leaks::compile_section(&mut ctx, leaks);
    let defaults = RouteDefaults {
        ratelimit: &ratelimit,
        injection: &injection,
        leaks,
    };
    let routes = compile_routes(&mut ctx, routes, &upstreams, &defaults, base);
    let store = store.map(|s| compile_store(&mut ctx, s, base));
    let auth = compile_auth_section(&mut ctx, auth, &log);
    let consumers = compile_consumers(&mut ctx, consumers, store.is_some());
    let jwt_issuers = compile_jwt_issuers(&mut ctx, jwt_issuers, base);
    let abuse = compile_abuse(&mut ctx, abuse);
    let introspection = introspection.map(|i| compile_introspection(&mut ctx, i, base));
    let mtls_on = server.tls.as_ref().is_some_and(|t| t.client_auth.is_some());
    for (i, route) in routes.iter().enumerate() {
        if let Some(j) = route.auth.iter().position(|m| *m == AuthMethod::Mtls)
            && !mtls_on
        {
            ctx.error(
                format!("routes[{i}].auth[{j}]"),
                "\"mtls\" needs client certificates on the listener: server.tls.client_ca",
            );
        }
    }
    for (i, route) in routes.iter().enumerate() {
        if let Some(j) = route
            .auth
            .iter()
            .position(|m| *m == AuthMethod::Introspection)
            && introspection.is_none()
        {
            ctx.error(
                format!("routes[{i}].auth[{j}]"),
                "\"introspection\" needs an [introspection] section",
            );
        }
    }
    for (i, route) in routes.iter().enumerate() {
        if let Some(j) = route.auth.iter().position(|m| *m == AuthMethod::Jwt)
            && jwt_issuers.is_empty()
        {
            ctx.error(
                format!("routes[{i}].auth[{j}]"),
                "\"jwt\" needs at least one [[jwt_issuers]] entry",
            );
        }
        if let Some(j) = route.auth.iter().position(|m| *m == AuthMethod::ApiKey)
            && store.is_none()
        {
            ctx.error(
                format!("routes[{i}].auth[{j}]"),
                "\"api_key\" needs a [store] section with master_key_file (keys are verified against hashes keyed by it)",
            );
        }
    }

    if ctx.errors.is_empty() {
        Ok(Config {
            server,
            admin,
            log,
            upstreams: upstreams.into_iter().flatten().collect(),
            routes,
            store,
            auth,
            consumers,
            jwt_issuers,
            abuse,
            introspection,
            ratelimit,
            warnings: ctx.warnings,
        })
    } else {
        Err(ctx.errors)
    }
}

/// Deserializes `[[name]]` element by element. A failed element stays as `None`, so that the
/// indexes of the others (and references to them) remain right.
fn elements<T: DeserializeOwned>(
    ctx: &mut Ctx,
    table: &mut toml::Table,
    name: &str,
) -> Vec<Option<T>> {
    match table.remove(name) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| ctx.section(&format!("{name}[{i}]"), item))
            .collect(),
        Some(_) => {
            ctx.error(
                name,
                format!("must be an array of tables, written [[{name}]]"),
            );
            Vec::new()
        }
    }
}

fn compile_server(ctx: &mut Ctx, raw: raw::Server, base: &Path) -> Server {
    let listen = raw
        .listen
        .as_deref()
        .and_then(|t| ctx.socket_addr("server.listen", t))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
    let tls = raw.tls.map(|tls| {
        let hsts = tls.hsts.map_or(
            Hsts {
                max_age: Duration::from_secs(365 * 86_400),
                include_subdomains: true,
                preload: false,
            },
            |h| Hsts {
                max_age: ctx.duration(
                    "server.tls.hsts.max_age".into(),
                    h.max_age.as_deref(),
                    Duration::from_secs(365 * 86_400),
                ),
                include_subdomains: h.include_subdomains.unwrap_or(true),
                preload: h.preload.unwrap_or(false),
            },
        );
        if hsts.preload
            && (hsts.max_age < Duration::from_secs(365 * 86_400) || !hsts.include_subdomains)
        {
            ctx.error(
                "server.tls.hsts.preload",
                "preload requires max_age of at least one year and include_subdomains = true",
            );
        }
        let required = match tls.client_auth.as_deref() {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => {
                ctx.error(
                    "server.tls.client_auth",
                    format!("\"{other}\": write \"optional\" or \"required\""),
                );
                false
            }
        };
        let client_auth = match tls.client_ca {
            Some(ca) => Some(ClientAuth {
                ca: base.join(ca),
                crls: tls
                    .client_crls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| base.join(c))
                    .collect(),
                required,
            }),
            None => {
                if tls.client_auth.is_some() || tls.client_crls.is_some() {
                    ctx.error(
                        "server.tls.client_ca",
                        "client certificates need the CA that issues them (client_ca)",
                    );
                }
                None
            }
        };
        Tls {
            cert: base.join(&tls.cert),
            key: base.join(&tls.key),
            hsts,
            client_auth,
        }
    });
    if tls.is_none() && !listen.ip().is_loopback() {
        ctx.warn(
            "server.tls",
            "the data plane listens in plain HTTP on a non-loopback address; configure tls",
        );
    }
    let http_redirect_listen = raw
        .http_redirect_listen
        .as_deref()
        .and_then(|t| ctx.socket_addr("server.http_redirect_listen", t));
    if http_redirect_listen.is_some() && tls.is_none() {
        ctx.error(
            "server.http_redirect_listen",
            "redirects to HTTPS need server.tls to be configured",
        );
    }
    if http_redirect_listen == Some(listen) && listen.port() != 0 {
        ctx.error(
            "server.http_redirect_listen",
            "must differ from server.listen",
        );
    }

    let d = Limits::default();
    let limits = Limits {
        max_body_bytes: raw.max_body_bytes.unwrap_or(d.max_body_bytes),
        max_header_bytes: ctx.positive(
            "server.max_header_bytes".into(),
            raw.max_header_bytes,
            d.max_header_bytes,
            1024 * 1024,
        ),
        max_headers: ctx.positive(
            "server.max_headers".into(),
            raw.max_headers,
            d.max_headers,
            10_000,
        ),
        max_uri_bytes: ctx.positive(
            "server.max_uri_bytes".into(),
            raw.max_uri_bytes,
            d.max_uri_bytes,
            64 * 1024,
        ),
        header_read_timeout: ctx.timeout(
            "server.header_read_timeout".into(),
            raw.header_read_timeout.as_deref(),
            d.header_read_timeout,
        ),
        body_read_timeout: ctx.timeout(
            "server.body_read_timeout".into(),
            raw.body_read_timeout.as_deref(),
            d.body_read_timeout,
        ),
        idle_timeout: ctx.timeout(
            "server.idle_timeout".into(),
            raw.idle_timeout.as_deref(),
            d.idle_timeout,
        ),
        max_connections: ctx.positive(
            "server.max_connections".into(),
            raw.max_connections,
            d.max_connections,
            1_000_000,
        ),
    };
    if limits.max_uri_bytes > limits.max_header_bytes {
        ctx.error(
            "server.max_uri_bytes",
            "cannot be larger than server.max_header_bytes (the request line is part of the head)",
        );
    }

    let mut hosts = Vec::new();
    for (i, host) in raw.hosts.clone().unwrap_or_default().iter().enumerate() {
        let host = host.to_ascii_lowercase();
        // A ':' belongs only inside an IPv6 literal: no ports here.
        let valid = !host.is_empty()
            && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if valid {
            hosts.push(host);
        } else {
            ctx.error(
                format!("server.hosts[{i}]"),
                "must be a host name or IP address, without scheme, port or path",
            );
        }
    }
    let trusted_proxies = raw
        .trusted_proxies
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let parsed = text
                .parse::<IpNet>()
                .ok()
                .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from));
            if parsed.is_none() {
                ctx.error(
                    format!("server.trusted_proxies[{i}]"),
                    format!("\"{text}\" is not an IP address or CIDR range"),
                );
            }
            parsed
        })
        .collect::<Vec<_>>();
    for (i, net) in trusted_proxies.iter().enumerate() {
        // A range this wide is (a slice of) the whole internet: whoever is in it can forge
        // X-Forwarded-For. `0.0.0.0/1` + `128.0.0.0/1` is "everyone" in two entries.
        let too_wide = match net {
            IpNet::V4(_) => net.prefix_len() < 8,
            IpNet::V6(_) => net.prefix_len() < 16,
        };
        if too_wide {
            ctx.error(
                format!("server.trusted_proxies[{i}]"),
                "too wide: trusting this range lets any client in it forge X-Forwarded-For; list your proxies' addresses",
            );
        }
    }

    let worker_threads = match raw.worker_threads {
        None | Some(0) => None,
        Some(n) => Some(ctx.positive("server.worker_threads".into(), Some(n), 1, 1024)),
    };
    let shutdown_timeout = ctx.timeout(
        "server.shutdown_timeout".into(),
        raw.shutdown_timeout.as_deref(),
        Duration::from_secs(30),
    );
    let secure_headers = SecureHeaders {
        cache_control: raw
            .secure_headers
            .as_ref()
            .and_then(|s| s.cache_control.clone())
            .unwrap_or_else(|| "no-store".to_owned()),
        content_security_policy: raw
            .secure_headers
            .as_ref()
            .and_then(|s| s.content_security_policy.clone())
            .unwrap_or_else(|| "default-src 'none'; frame-ancestors 'none'".to_owned()),
    };
    for (key, value) in [
        (
            "server.secure_headers.cache_control",
            &secure_headers.cache_control,
        ),
        (
            "server.secure_headers.content_security_policy",
            &secure_headers.content_security_policy,
        ),
    ] {
        if value.is_empty() || value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            ctx.error(
                key,
                "must be a non-empty header value without control characters",
            );
        }
    }

    Server {
        listen,
        tls,
        http_redirect_listen,
        limits,
        trusted_proxies,
        hosts,
        worker_threads,
        shutdown_timeout,
        secure_headers,
    }
}

fn compile_admin(ctx: &mut Ctx, raw: raw::Admin, server: &Server) -> Admin {
    let listen = raw
        .listen
        .as_deref()
        .and_then(|t| ctx.socket_addr("admin.listen", t))
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9443)));
    // Port 0 (pick any free port, for tests) never collides.
    let same = |other: SocketAddr| other == listen && listen.port() != 0;
    if same(server.listen) || server.http_redirect_listen.is_some_and(same) {
        ctx.error(
            "admin.listen",
            "the admin listener must be separate from the data-plane listeners",
        );
    }
    if !listen.ip().is_loopback() {
        ctx.warn(
            "admin.listen",
            "the admin listener (metrics, health) is reachable beyond this machine",
        );
    }
    Admin { listen }
}

fn compile_log(ctx: &mut Ctx, raw: raw::Log, base: &Path) -> Log {
    let access = match raw.access.as_deref() {
        None | Some("stdout") => AccessLog::Stdout,
        Some("off") => AccessLog::Off,
        Some("") => {
            ctx.error("log.access", "write \"stdout\", \"off\" or a file path");
            AccessLog::Stdout
        }
        Some(path) => AccessLog::File(base.join(path)),
    };
    let level = raw.level.unwrap_or_else(|| "info".to_owned());
    if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
        ctx.error(
            "log.level",
            "must be one of trace, debug, info, warn, error",
        );
    }
    let headers: Vec<String> = raw
        .headers
        .unwrap_or_else(|| vec!["user-agent".to_owned()])
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for (i, header) in headers.iter().enumerate() {
        if carries_credentials(header) {
            ctx.error(
                format!("log.headers[{i}]"),
                format!("{header} carries credentials and is never logged"),
            );
        } else if !is_token(header) {
            ctx.error(format!("log.headers[{i}]"), "is not a header name");
        }
    }
    let mut sensitive_query_params: Vec<String> = DEFAULT_SENSITIVE_QUERY_PARAMS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for param in raw.sensitive_query_params.unwrap_or_default() {
        let param = param.to_ascii_lowercase();
        if !sensitive_query_params.contains(&param) {
            sensitive_query_params.push(param);
        }
    }
    Log {
        access,
        level,
        headers,
        sensitive_query_params,
    }
}

fn compile_upstreams(
    ctx: &mut Ctx,
    raw: Vec<Option<raw::Upstream>>,
    base: &Path,
) -> Vec<Option<Upstream>> {
    let mut names = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, up)| {
            let up = up?;
            let key = |field: &str| format!("upstreams[{i}].{field}");
            if !is_name(&up.name) {
                ctx.error(key("name"), "use letters, digits, '-' and '_' only");
            } else if !names.insert(up.name.clone()) {
                ctx.error(key("name"), format!("duplicate upstream name \"{}\"", up.name));
            }
            let parsed = match parse_upstream_url(&up.url) {
                Ok(p) => Some(p),
                Err(e) => {
                    ctx.error(key("url"), e);
                    None
                }
            };
            let dangerous = up.dangerous_skip_upstream_verify.unwrap_or(false);
            if dangerous {
                ctx.warn(
                    key("dangerous_skip_upstream_verify"),
                    "upstream TLS certificates are not verified: anyone on the path can read and change this traffic",
                );
            }
            let upstream = Upstream {
                name: up.name,
                scheme: UpstreamScheme::Http,
                authority: String::new(),
                base_path: String::new(),
                connect_timeout: ctx.timeout(key("connect_timeout"), up.connect_timeout.as_deref(), Duration::from_secs(5)),
                request_timeout: ctx.timeout(key("request_timeout"), up.request_timeout.as_deref(), Duration::from_secs(30)),
                pool_idle_timeout: ctx.timeout(
                    key("pool_idle_timeout"),
                    up.pool_idle_timeout.as_deref(),
                    Duration::from_secs(90),
                ),
                pool_max_idle: match up.pool_max_idle {
                    Some(n) if n > 100_000 => {
                        ctx.error(key("pool_max_idle"), "at most 100000");
                        256
                    }
                    Some(n) => usize::try_from(n).unwrap_or(256),
                    None => 256,
                },
                preserve_host: up.preserve_host.unwrap_or(false),
                ca: up.ca.map(|c| base.join(c)),
                dangerous_skip_upstream_verify: dangerous,
                openapi: match crate::openapi::compile(ctx, &key("openapi"), up.openapi, base) {
                    crate::openapi::Setting::On(o) => Some(o),
                    crate::openapi::Setting::Off | crate::openapi::Setting::Unset => None,
                },
            };
            let (scheme, authority, base_path) = parsed?;
            if scheme == UpstreamScheme::Http && (upstream.ca.is_some() || dangerous) {
                ctx.error(key("url"), "ca and dangerous_skip_upstream_verify apply to https upstreams only");
            }
            Some(Upstream {
                scheme,
                authority,
                base_path,
                ..upstream
            })
        })
        .collect()
}

/// `http[s]://host[:port][/base]`, without user info, query or fragment.
fn parse_upstream_url(url: &str) -> Result<(UpstreamScheme, String, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (UpstreamScheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (UpstreamScheme::Https, rest)
    } else {
        return Err(format!("\"{url}\" must start with http:// or https://"));
    };
    if rest.contains(['?', '#', '@']) || rest.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(format!(
            "\"{url}\" may not contain user info, a query, a fragment or spaces"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("\"{url}\" has no host"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("\"{url}\" has an invalid port"))?;
            (h, port)
        }
        _ => (
            authority,
            if scheme == UpstreamScheme::Http {
                80
            } else {
                443
            },
        ),
    };
    if host.is_empty() || port == 0 {
        return Err(format!("\"{url}\" has an invalid host or port"));
    }
    Ok((scheme, format!("{host}:{port}"), path.to_owned()))
}

/// What routes inherit from the top-level sections.
struct RouteDefaults<'a> {
    ratelimit: &'a RateLimiting,
    injection: &'a crate::injection::Injection,
    leaks: crate::LeakDetection,
}

fn compile_routes(
    ctx: &mut Ctx,
    raw: Vec<Option<raw::Route>>,
    upstreams: &[Option<Upstream>],
    defaults: &RouteDefaults<'_>,
    base: &Path,
) -> Vec<Route> {
    let ratelimit = defaults.ratelimit;
    let mut names = HashSet::new();
    let mut routes = Vec::new();
    let mut used = vec![false; upstreams.len()];
    for (i, route) in raw.into_iter().enumerate() {
        let Some(route) = route else { continue };
        let key = |field: &str| format!("routes[{i}].{field}");
        if !is_name(&route.name) {
            ctx.error(key("name"), "use letters, digits, '-' and '_' only");
        } else if !names.insert(route.name.clone()) {
            ctx.error(
                key("name"),
                format!("duplicate route name \"{}\"", route.name),
            );
        }
        if let Err(e) = check_path_template(&route.path) {
            ctx.error(key("path"), e);
        }
        if route.methods.as_ref().is_some_and(Vec::is_empty) {
            ctx.error(
                key("methods"),
                "an empty list would allow nothing; list the methods, or omit the key to allow every method",
            );
        }
        let mut methods = Vec::new();
        for (j, method) in route.methods.unwrap_or_default().into_iter().enumerate() {
            let method = method.to_ascii_uppercase();
            if !is_token(&method) {
                ctx.error(format!("routes[{i}].methods[{j}]"), "is not an HTTP method");
            } else if method == "CONNECT" || method == "TRACE" {
                ctx.error(
                    format!("routes[{i}].methods[{j}]"),
                    format!("{method} is not proxied by rampart"),
                );
            } else if !methods.contains(&method) {
                methods.push(method);
            }
        }
        let upstream = upstreams
            .iter()
            .position(|u| u.as_ref().is_some_and(|u| u.name == route.upstream));
        match upstream {
            Some(u) => used[u] = true,
            None => {
                // A broken upstream element has been reported already; don't pile on.
                let reported = upstreams.iter().any(Option::is_none);
                if !reported {
                    ctx.error(
                        key("upstream"),
                        format!("no upstream is named \"{}\"", route.upstream),
                    );
                }
            }
        }
        let auth = compile_auth(ctx, &key("auth"), route.auth);
        if auth == [AuthMethod::None] {
            ctx.warn(
                key("auth"),
                format!(
                    "route \"{}\" is public (auth = [\"none\"]): anyone can call it",
                    route.name
                ),
            );
        }
        let scopes = scope_list(ctx, &key("scopes"), route.scopes);
        if !scopes.is_empty() && auth.contains(&AuthMethod::None) {
            ctx.error(
                key("scopes"),
                "a public route has no caller to hold scopes; remove them or require authentication",
            );
        }
        let roles = scope_list(ctx, &key("roles"), route.roles);
        let step_up = route.step_up.map(|s| {
            let acr = scope_list(ctx, &key("step_up.acr"), s.acr);
            let amr = scope_list(ctx, &key("step_up.amr"), s.amr);
            if acr.is_empty() && amr.is_empty() {
                ctx.error(
                    key("step_up"),
                    "name the acr values or amr methods that satisfy it",
                );
            }
            StepUp { acr, amr }
        });
        let owner = route.owner.map(|o| {
            let param_ok = route
                .path
                .split('/')
                .any(|seg| seg == format!("{{{}}}", o.param) || seg == format!("{{*{}}}", o.param));
            if !param_ok {
                ctx.error(
                    key("owner.param"),
                    format!("the path {} has no parameter {{{}}}", route.path, o.param),
                );
            }
            if o.claim.is_empty()
                || !o
                    .claim
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
            {
                ctx.error(key("owner.claim"), "is not a claim name");
            }
            Owner {
                param: o.param,
                claim: o.claim,
                unless_roles: scope_list(ctx, &key("owner.unless_roles"), o.unless_roles),
            }
        });
        let public = auth.contains(&AuthMethod::None);
        if public && (!roles.is_empty() || step_up.is_some() || owner.is_some()) {
            ctx.error(
                key("auth"),
                "a public route has no caller for roles, step_up or owner rules to check",
            );
        }
        if step_up.is_some() && !auth.contains(&AuthMethod::Jwt) {
            ctx.error(
                key("step_up"),
                "step-up is read from a token's acr/amr claims: the route must accept \"jwt\"",
            );
        }
        let cors = route.cors.map(|c| compile_cors(ctx, &key("cors"), c));
        let limits = crate::ratelimit::compile_limits(
            ctx,
            &key("rate_limit"),
            route.rate_limit,
            "default",
            &ratelimit.limits,
        );
        if public
            && let Some(j) = limits.iter().position(|l| {
                matches!(
                    l.key,
                    LimitKey::Consumer | LimitKey::ConsumerRoute | LimitKey::Claim(_)
                )
            })
        {
            ctx.warn(
                format!("routes[{i}].rate_limit"),
                format!(
                    "limit \"{}\" counts by caller, but the route is public: it counts by client address",
                    limits[j].name
                ),
            );
        }
        let injection = crate::injection::compile_route(
            ctx,
            &key("injection"),
            route.injection,
            defaults.injection,
        );
        let leak_detection = crate::leaks::compile_route(
            ctx,
            &key("leak_detection"),
            route.leak_detection,
            defaults.leaks,
        );
        let openapi = match crate::openapi::compile(ctx, &key("openapi"), route.openapi, base) {
            crate::openapi::Setting::On(o) => Some(o),
            crate::openapi::Setting::Off => None,
            crate::openapi::Setting::Unset => upstream
                .and_then(|u| upstreams[u].as_ref())
                .and_then(|u| u.openapi.clone()),
        };
        routes.push(Route {
            name: route.name,
            path: route.path,
            methods,
            upstream: upstream.unwrap_or(0),
            auth,
            scopes,
            roles,
            step_up,
            owner,
            pass_upstream_errors: route.pass_upstream_errors.unwrap_or(false),
            cors,
            limits,
            injection,
            openapi,
            leak_detection,
        });
    }
    for (i, up) in upstreams.iter().enumerate() {
        if let Some(up) = up
            && !used[i]
        {
            ctx.warn(
                format!("upstreams[{i}]"),
                format!("upstream \"{}\" is not used by any route", up.name),
            );
        }
    }
    routes
}

fn compile_auth(ctx: &mut Ctx, key: &str, raw: Option<Vec<String>>) -> Vec<AuthMethod> {
    let Some(raw) = raw else {
        ctx.error(
            key,
            "every route must say how callers authenticate (deny by default); write auth = [\"none\"] to make it public",
        );
        return Vec::new();
    };
    if raw.is_empty() {
        ctx.error(key, "must name at least one method");
    }
    let mut auth = Vec::new();
    for (j, method) in raw.iter().enumerate() {
        match method.as_str() {
            "none" => auth.push(AuthMethod::None),
            "api_key" if !auth.contains(&AuthMethod::ApiKey) => auth.push(AuthMethod::ApiKey),
            "jwt" if !auth.contains(&AuthMethod::Jwt) => auth.push(AuthMethod::Jwt),
            "introspection" if !auth.contains(&AuthMethod::Introspection) => {
                auth.push(AuthMethod::Introspection)
            }
            "mtls" if !auth.contains(&AuthMethod::Mtls) => auth.push(AuthMethod::Mtls),
            "api_key" | "jwt" | "introspection" | "mtls" => {
                ctx.error(format!("{key}[{j}]"), "listed twice")
            }
            other => ctx.error(
                format!("{key}[{j}]"),
                format!("unknown auth method \"{other}\""),
            ),
        }
    }
    if auth.contains(&AuthMethod::None) && raw.len() > 1 {
        ctx.error(key, "\"none\" cannot be combined with other methods");
    }
    auth
}

fn compile_store(ctx: &mut Ctx, raw: raw::Store, base: &Path) -> Store {
    if raw.url.is_some() {
        ctx.error(
            "store.url",
            "PostgreSQL stores are not available in this build of rampart yet; use path = \"...\" (SQLite)",
        );
    }
    let master_key_file = match raw.master_key_file {
        Some(p) if !p.is_empty() => base.join(p),
        _ => {
            ctx.error(
                "store.master_key_file",
                "required: the file `rampart init` writes (32 random bytes, hex, mode 0600)",
            );
            Default::default()
        }
    };
    let path = match raw.path {
        Some(p) if p.is_empty() => {
            ctx.error("store.path", "must not be empty");
            None
        }
        Some(p) => Some(base.join(p)),
        None => None,
    };
    Store {
        path,
        master_key_file,
    }
}

fn compile_auth_section(ctx: &mut Ctx, raw: raw::Auth, log: &Log) -> Auth {
    let Some(header) = raw.api_key_header else {
        return Auth::default();
    };
    let header = header.to_ascii_lowercase();
    const RESERVED: &[&str] = &[
        "host",
        "authorization",
        "proxy-authorization",
        "cookie",
        "connection",
        "content-length",
        "content-type",
        "transfer-encoding",
        "te",
        "upgrade",
        "forwarded",
        "x-forwarded-for",
        "x-request-id",
    ];
    if !is_token(&header) {
        ctx.error("auth.api_key_header", "is not a valid header name");
    } else if RESERVED.contains(&header.as_str()) {
        ctx.error(
            "auth.api_key_header",
            format!(
                "\"{header}\" has another meaning in HTTP; pick a header of its own, like X-API-Key"
            ),
        );
    }
    if log.headers.contains(&header) {
        ctx.error(
            "log.headers",
            format!("\"{header}\" carries API keys and can never be logged"),
        );
    }
    Auth {
        api_key_header: header,
    }
}

fn compile_consumers(
    ctx: &mut Ctx,
    raw: Vec<Option<raw::Consumer>>,
    have_store: bool,
) -> Vec<Consumer> {
    let declares_keys = raw
        .iter()
        .flatten()
        .any(|c| c.keys.as_ref().is_some_and(|k| !k.is_empty()));
    if declares_keys && !have_store {
        ctx.error(
            "consumers",
            "declared keys are hashed under the pepper from [store].master_key_file; add a [store] section",
        );
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut consumers = Vec::new();
    for (i, consumer) in raw.into_iter().enumerate() {
        let Some(consumer) = consumer else { continue };
        if !is_name(&consumer.name) {
            ctx.error(
                format!("consumers[{i}].name"),
                "use letters, digits, '-' and '_' only",
            );
        } else if !names.insert(consumer.name.clone()) {
            ctx.error(
                format!("consumers[{i}].name"),
                format!("duplicate consumer \"{}\"", consumer.name),
            );
        }
        let mut keys = Vec::new();
        for (j, key) in consumer.keys.unwrap_or_default().into_iter().enumerate() {
            let at = |field: &str| format!("consumers[{i}].keys[{j}].{field}");
            let id_ok = key.id.len() == 12 && key.id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !id_ok {
                ctx.error(
                    at("id"),
                    "must be the 12-character key id (the characters after rmpt_)",
                );
            } else if !ids.insert(key.id.clone()) {
                ctx.error(at("id"), format!("key id {} is declared twice", key.id));
            }
            let hash = decode_hash(&key.hash);
            if hash.is_none() {
                ctx.error(
                    at("hash"),
                    "must be 64 hex digits, as `rampart keys declare` prints; never the key itself",
                );
            }
            let scopes = scope_list(ctx, &at("scopes"), key.scopes);
            let expires =
                key.expires
                    .as_deref()
                    .and_then(|text| match humantime::parse_rfc3339_weak(text) {
                        Ok(t) => t
                            .duration_since(std::time::UNIX_EPOCH)
                            .ok()
                            .and_then(|d| i64::try_from(d.as_secs()).ok()),
                        Err(e) => {
                            ctx.error(
                                at("expires"),
                                format!("{e}; write an RFC 3339 time like 2027-01-31T00:00:00Z"),
                            );
                            None
                        }
                    });
            keys.push(DeclaredKey {
                id: key.id,
                hash: hash.unwrap_or([0; 32]),
                scopes,
                expires,
            });
        }
        let roles = scope_list(ctx, &format!("consumers[{i}].roles"), consumer.roles);
        let mut cert_sha256 = Vec::new();
        let mut cert_san = Vec::new();
        if let Some(mtls) = consumer.mtls {
            for (j, hex) in mtls.sha256.unwrap_or_default().iter().enumerate() {
                match decode_hash(&hex.replace(':', "").to_ascii_lowercase()) {
                    Some(h) => cert_sha256.push(h),
                    None => ctx.error(
                        format!("consumers[{i}].mtls.sha256[{j}]"),
                        "must be the SHA-256 of the certificate (64 hex digits)",
                    ),
                }
            }
            for (j, san) in mtls.san.unwrap_or_default().into_iter().enumerate() {
                let ok = !san.is_empty()
                    && san.len() <= 253
                    && san
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
                if ok {
                    cert_san.push(san.to_ascii_lowercase());
                } else {
                    ctx.error(
                        format!("consumers[{i}].mtls.san[{j}]"),
                        "must be a DNS name or an IP address",
                    );
                }
            }
        }
        consumers.push(Consumer {
            name: consumer.name,
            roles,
            keys,
            cert_sha256,
            cert_san,
        });
    }
    consumers
}

fn compile_introspection(ctx: &mut Ctx, raw: raw::Introspection, base: &Path) -> Introspection {
    check_fetch_url(ctx, "introspection.url", &raw.url);
    if raw.client_id.is_empty() {
        ctx.error("introspection.client_id", "must not be empty");
    }
    if raw.client_secret_file.is_empty() {
        ctx.error(
            "introspection.client_secret_file",
            "must name the file holding the secret",
        );
    }
    let cache_ttl = ctx.bounded_duration(
        "introspection.cache_ttl".to_owned(),
        raw.cache_ttl.as_deref(),
        Duration::from_secs(60),
        Duration::from_secs(3600),
    );
    let negative_ttl = ctx.bounded_duration(
        "introspection.negative_ttl".to_owned(),
        raw.negative_ttl.as_deref(),
        Duration::from_secs(5),
        Duration::from_secs(60),
    );
    Introspection {
        url: raw.url,
        client_id: raw.client_id,
        client_secret_file: base.join(raw.client_secret_file),
        issuer: raw.issuer,
        audiences: raw.audiences.unwrap_or_default(),
        cache_ttl,
        negative_ttl,
        roles_claim: raw.roles_claim,
        consumer_claim: raw.consumer_claim.unwrap_or_else(|| "sub".to_owned()),
        ca: raw.ca.map(|c| base.join(c)),
    }
}

fn compile_abuse(ctx: &mut Ctx, raw: raw::Abuse) -> Abuse {
    let defaults = Abuse::default();
    let enabled = raw.enabled.unwrap_or(true);
    if !enabled {
        ctx.warn(
            "abuse.enabled",
            "brute-force protection is off: failed authentications are never slowed or banned",
        );
    }
    let max_auth_failures = ctx.positive(
        "abuse.max_auth_failures".to_owned(),
        raw.max_auth_failures,
        defaults.max_auth_failures as usize,
        10_000,
    ) as u32;
    let window = ctx.timeout(
        "abuse.window".to_owned(),
        raw.window.as_deref(),
        defaults.window,
    );
    let ban_for = ctx.timeout(
        "abuse.ban_for".to_owned(),
        raw.ban_for.as_deref(),
        defaults.ban_for,
    );
    let max_rate_limited = match raw.max_rate_limited {
        Some(0) => 0,
        other => ctx.positive(
            "abuse.max_rate_limited".to_owned(),
            other,
            defaults.max_rate_limited as usize,
            1_000_000,
        ) as u32,
    };
    Abuse {
        enabled,
        max_auth_failures,
        max_rate_limited,
        window,
        ban_for,
    }
}

fn compile_jwt_issuers(
    ctx: &mut Ctx,
    raw: Vec<Option<raw::JwtIssuer>>,
    base: &Path,
) -> Vec<JwtIssuer> {
    let mut seen = HashSet::new();
    let mut issuers = Vec::new();
    for (i, raw) in raw.into_iter().enumerate() {
        let Some(raw) = raw else { continue };
        let at = |field: &str| format!("jwt_issuers[{i}].{field}");
        if raw.issuer.is_empty() || raw.issuer.len() > 1024 {
            ctx.error(at("issuer"), "must be the exact iss value of the tokens");
        } else if !seen.insert(raw.issuer.clone()) {
            ctx.error(at("issuer"), format!("{} is configured twice", raw.issuer));
        }
        let audiences = raw.audiences.unwrap_or_default();
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            ctx.error(
                at("audiences"),
                "list the audiences this gateway accepts (a token for another API must not pass)",
            );
        }
        let sources = [
            raw.discovery_url.is_some(),
            raw.jwks_url.is_some(),
            raw.jwks_file.is_some(),
        ];
        let keys = match (raw.discovery_url, raw.jwks_url, raw.jwks_file) {
            _ if sources.iter().filter(|s| **s).count() != 1 => {
                ctx.error(
                    at("jwks_url"),
                    "give exactly one of discovery_url, jwks_url and jwks_file",
                );
                JwksSource::File(Default::default())
            }
            (Some(url), _, _) => {
                check_fetch_url(ctx, &at("discovery_url"), &url);
                JwksSource::Discovery(url)
            }
            (_, Some(url), _) => {
                check_fetch_url(ctx, &at("jwks_url"), &url);
                JwksSource::Url(url)
            }
            (_, _, Some(file)) => JwksSource::File(base.join(file)),
            _ => JwksSource::File(Default::default()),
        };
        let mut algorithms = Vec::new();
        for (j, alg) in raw.algorithms.unwrap_or_default().into_iter().enumerate() {
            if JWT_ALGORITHMS.contains(&alg.as_str()) {
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            } else if alg.eq_ignore_ascii_case("none") || alg.to_ascii_uppercase().starts_with("HS")
            {
                ctx.error(
                    format!("jwt_issuers[{i}].algorithms[{j}]"),
                    format!(
                        "{alg} is refused: rampart verifies asymmetric signatures only ({})",
                        JWT_ALGORITHMS.join(", ")
                    ),
                );
            } else {
                ctx.error(
                    format!("jwt_issuers[{i}].algorithms[{j}]"),
                    format!(
                        "unknown algorithm {alg}; use one of {}",
                        JWT_ALGORITHMS.join(", ")
                    ),
                );
            }
        }
        if algorithms.is_empty() {
            ctx.error(
                at("algorithms"),
                "list the algorithms the issuer signs with, e.g. [\"RS256\"]",
            );
        }
        let leeway = ctx.bounded_duration(
            at("leeway"),
            raw.leeway.as_deref(),
            Duration::from_secs(30),
            Duration::from_secs(60),
        );
        let jwks_refresh = ctx.timeout(
            at("jwks_refresh"),
            raw.jwks_refresh.as_deref(),
            Duration::from_secs(300),
        );
        if jwks_refresh < Duration::from_secs(10) {
            ctx.error(
                at("jwks_refresh"),
                "at least 10s (the identity provider is not to be hammered)",
            );
        }
        let claim_name = |ctx: &mut Ctx, key: String, name: &str| {
            let ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b));
            if !ok {
                ctx.error(key, format!("\"{name}\" is not a claim name"));
            }
        };
        let required_claims = raw.required_claims.unwrap_or_default();
        for (j, claim) in required_claims.iter().enumerate() {
            claim_name(ctx, format!("jwt_issuers[{i}].required_claims[{j}]"), claim);
        }
        if let Some(roles) = &raw.roles_claim {
            claim_name(ctx, at("roles_claim"), roles);
        }
        let consumer_claim = raw.consumer_claim.unwrap_or_else(|| "sub".to_owned());
        claim_name(ctx, at("consumer_claim"), &consumer_claim);
        issuers.push(JwtIssuer {
            issuer: raw.issuer,
            audiences,
            keys,
            algorithms,
            leeway,
            required_claims,
            roles_claim: raw.roles_claim,
            consumer_claim,
            jwks_refresh,
            ca: raw.ca.map(|c| base.join(c)),
        });
    }
    issuers
}

/// Keys are fetched over HTTPS; plain HTTP only from the machine itself (loopback), where
/// no one can sit in the middle.
fn check_fetch_url(ctx: &mut Ctx, key: &str, url: &str) {
    if url.starts_with("http://") {
        if !is_fetchable_url(url) {
            ctx.error(
                key,
                "must be https:// (plain http:// is allowed only for loopback addresses)",
            );
        }
    } else if !is_fetchable_url(url) {
        ctx.error(key, format!("\"{url}\" is not an https:// URL"));
    }
}

/// May rampart fetch keys or introspection answers from `url`? `https://`, or plain
/// `http://` to a loopback address only (no one can sit in the middle there). The config
/// checks configured URLs with it; the gateway checks URLs a discovery document names.
pub fn is_fetchable_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// OAuth scope tokens (RFC 6749 §3.3): printable ASCII except space, '"' and '\\'.
fn scope_list(ctx: &mut Ctx, key: &str, raw: Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (j, scope) in raw.unwrap_or_default().into_iter().enumerate() {
        if !is_scope(&scope) {
            ctx.error(
                format!("{key}[{j}]"),
                "each value is 1 to 128 printable ASCII characters without spaces, quotes or backslashes",
            );
        } else if !out.contains(&scope) {
            out.push(scope);
        }
    }
    out
}

fn compile_cors(ctx: &mut Ctx, key: &str, raw: raw::Cors) -> Cors {
    let allow_credentials = raw.allow_credentials.unwrap_or(false);
    let allow_origins = if raw.allow_origins.iter().any(|o| o == "*") {
        if raw.allow_origins.len() > 1 {
            ctx.error(
                format!("{key}.allow_origins"),
                "\"*\" cannot be combined with other origins",
            );
        }
        if allow_credentials {
            ctx.error(
                format!("{key}.allow_origins"),
                "\"*\" is never allowed together with allow_credentials = true; list the origins",
            );
        }
        CorsOrigins::Any
    } else {
        let mut list = Vec::new();
        for (j, origin) in raw.allow_origins.iter().enumerate() {
            match check_origin(origin) {
                Ok(o) => list.push(o),
                Err(e) => ctx.error(format!("{key}.allow_origins[{j}]"), e),
            }
        }
        if list.is_empty() && raw.allow_origins.is_empty() {
            ctx.error(
                format!("{key}.allow_origins"),
                "must list at least one origin",
            );
        }
        CorsOrigins::List(list)
    };
    let mut tokens = |field: &str, values: Option<Vec<String>>, upper: bool| -> Vec<String> {
        let mut out = Vec::new();
        for (j, v) in values.unwrap_or_default().into_iter().enumerate() {
            let v = if upper {
                v.to_ascii_uppercase()
            } else {
                v.to_ascii_lowercase()
            };
            if is_token(&v) {
                out.push(v);
            } else {
                ctx.error(format!("{key}.{field}[{j}]"), "is not a valid token");
            }
        }
        out
    };
    let allow_methods = tokens("allow_methods", raw.allow_methods, true);
    let allow_headers = tokens("allow_headers", raw.allow_headers, false);
    let expose_headers = tokens("expose_headers", raw.expose_headers, false);
    let max_age = ctx.duration(
        format!("{key}.max_age"),
        raw.max_age.as_deref(),
        Duration::from_secs(600),
    );
    if max_age > Duration::from_secs(86_400) {
        ctx.error(
            format!("{key}.max_age"),
            "at most 24h (browsers cap it anyway)",
        );
    }
    Cors {
        allow_origins,
        allow_methods,
        allow_headers,
        expose_headers,
        allow_credentials,
        max_age,
    }
}

/// An origin is `scheme://host[:port]`, nothing more (no path, no trailing slash).
fn check_origin(origin: &str) -> Result<String, String> {
    let lower = origin.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("\"{origin}\" must be scheme://host[:port]"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if valid {
        Ok(lower)
    } else {
        Err(format!(
            "\"{origin}\" must be scheme://host[:port], without path or wildcard"
        ))
    }
}

/// Checks a route template: `/segment/{param}/.../{*rest}`.
pub(crate) fn check_path_template(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("must start with '/'".to_owned());
    }
    if path.len() > 1024 {
        return Err("is longer than 1024 bytes".to_owned());
    }
    // The router (matchit) supports a bounded number of parameters per route.
    if path.matches('{').count() > 16 {
        return Err("has more than 16 parameters".to_owned());
    }
    if path.contains(['?', '#', '%', '\\']) || path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err("may not contain '?', '#', '%', '\\', spaces or non-ASCII".to_owned());
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut params = HashSet::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if segment.is_empty() && !last {
            return Err("may not contain empty segments ('//')".to_owned());
        }
        if *segment == "." || *segment == ".." {
            return Err("may not contain '.' or '..' segments".to_owned());
        }
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, catch_all) = match inner.strip_prefix('*') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if !is_name(name) {
                return Err(format!(
                    "parameter \"{segment}\" needs a name of letters, digits and '_'"
                ));
            }
            if catch_all && !last {
                return Err(format!("catch-all \"{segment}\" must be the last segment"));
            }
            if !params.insert(name) {
                return Err(format!("parameter \"{name}\" appears twice"));
            }
        } else if segment.contains(['{', '}']) {
            return Err(format!(
                "\"{segment}\": a parameter must be a whole segment, like {{id}}"
            ));
        }
    }
    Ok(())
}

/// An OAuth scope token: 1 to 128 printable ASCII characters, no space, '"' or '\\'.
pub fn is_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 128
        && scope
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// A name for a route, upstream or consumer: 1 to 64 letters, digits, '-' and '_'.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Could this header carry a credential? Known names, and any name that says so.
pub(crate) fn carries_credentials(header: &str) -> bool {
    const HINTS: &[&str] = &[
        "auth",
        "token",
        "secret",
        "password",
        "cookie",
        "key",
        "session",
        "signature",
        "credential",
    ];
    NEVER_LOGGED_HEADERS.contains(&header) || HINTS.iter().any(|hint| header.contains(hint))
}

/// RFC 9110 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use crate::{AccessLog, AuthMethod, Config, CorsOrigins, UpstreamScheme};
    use std::time::Duration;

    const MINIMAL: &str = r#"
        [[upstreams]]
        name = "orders"
        url = "http://127.0.0.1:18080"

        [[routes]]
        name = "orders-read"
        path = "/v1/orders/{id}"
        methods = ["get"]
        upstream = "orders"
        auth = ["none"]
    "#;

    fn errors(text: &str) -> Vec<String> {
        match Config::from_toml_str(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_config_gets_safe_defaults() {
        let config = Config::from_toml_str(MINIMAL).expect("valid");
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9443");
        assert_eq!(config.server.limits.max_body_bytes, 1_048_576);
        assert_eq!(
            config.server.limits.header_read_timeout,
            Duration::from_secs(10)
        );
        assert_eq!(config.log.access, AccessLog::Stdout);
        assert_eq!(config.routes[0].methods, ["GET"]);
        assert_eq!(config.routes[0].auth, [AuthMethod::None]);
        assert_eq!(config.upstreams[0].scheme, UpstreamScheme::Http);
        assert_eq!(config.upstreams[0].authority, "127.0.0.1:18080");
        assert!(config.server.secure_headers.cache_control == "no-store");
        // A public route is allowed, but never silently.
        assert!(config.warnings.iter().any(|w| w.key == "routes[0].auth"));
    }

    #[test]
    fn every_error_is_reported_at_once_with_its_key() {
        let text = r#"
            [server]
            listen = "nowhere"
            header_read_timeout = "10"
            bogus = 1

            [[upstreams]]
            name = "a"
            url = "ftp://x"

            [[routes]]
            name = "r1"
            path = "v1/orders"
            upstream = "a"
            auth = ["none"]

            [[routes]]
            name = "r2"
            path = "/v1/{id}/{id}"
            upstream = "missing"
        "#;
        let errors = errors(text);
        // `bogus` fails the [server] section as a whole (serde stops there), the rest are
        // independent and all reported.
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("server: unknown field `bogus`")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("upstreams[0].url:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("routes[0].path:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("routes[1].path:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("routes[1].auth:")),
            "{errors:?}"
        );
        assert!(errors.len() >= 5, "{errors:?}");
    }

    #[test]
    fn server_values_are_checked_individually() {
        let errors = errors(&format!(
            "[server]\nlisten = \"nowhere\"\nheader_read_timeout = \"10\"\nmax_headers = 0\n{MINIMAL}"
        ));
        assert!(
            errors.iter().any(|e| e.starts_with("server.listen:")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("server.header_read_timeout:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("server.max_headers:")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_route_without_auth_is_denied_by_default() {
        let text = MINIMAL.replace("auth = [\"none\"]", "");
        let errors = errors(&text);
        assert!(
            errors.iter().any(|e| e.starts_with("routes[0].auth:")),
            "{errors:?}"
        );
    }

    const KEYED: &str = r#"
        [store]
        path = "data/rampart.db"
        master_key_file = "data/master.key"

        [[consumers]]
        name = "billing"
        keys = [{ id = "AbCdEf123456", hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", scopes = ["orders:read"], expires = "2027-01-31T00:00:00Z" }]

        [[upstreams]]
        name = "orders"
        url = "http://127.0.0.1:18080"

        [[routes]]
        name = "orders-read"
        path = "/v1/orders/{id}"
        upstream = "orders"
        auth = ["api_key"]
        scopes = ["orders:read", "orders:read"]
    "#;

    #[test]
    fn api_key_routes_store_and_declared_consumers_compile() {
        let config = Config::from_toml_str(KEYED).expect("valid");
        assert_eq!(config.routes[0].auth, [AuthMethod::ApiKey]);
        assert_eq!(config.routes[0].scopes, ["orders:read"], "deduplicated");
        let store = config.store.as_ref().expect("store");
        assert!(
            store
                .path
                .as_ref()
                .is_some_and(|p| p.ends_with("data/rampart.db"))
        );
        assert_eq!(config.auth.api_key_header, "x-api-key");
        let key = &config.consumers[0].keys[0];
        assert_eq!(key.hash[0], 0x00);
        assert_eq!(key.hash[31], 0xff);
        assert_eq!(key.expires, Some(1_801_353_600));
        assert!(
            !format!("{key:?}").contains("0011"),
            "hashes stay out of Debug"
        );
    }

    #[test]
    fn api_key_mistakes_are_reported_with_their_keys() {
        let cases = [
            ("", "", ""),
            ("path = \"data/rampart.db\"\n", "", "store.master_key_file:"),
            ("url = \"postgres://localhost/db\"\n", "", "store.url:"),
            ("", "id = \"short\"", "consumers[0].keys[0].id:"),
            ("", "hash = \"rmpt_notahash\"", "consumers[0].keys[0].hash:"),
            (
                "",
                "expires = \"next week\"",
                "consumers[0].keys[0].expires:",
            ),
            (
                "",
                "scopes = [\"has space\"]",
                "consumers[0].keys[0].scopes[0]:",
            ),
        ];
        for (store_line, key_edit, want) in cases {
            let mut text = KEYED.to_owned();
            if !store_line.is_empty() {
                text = text.replace(
                    "path = \"data/rampart.db\"\n        master_key_file = \"data/master.key\"\n",
                    store_line,
                );
            }
            if let Some((field, _)) = key_edit.split_once(" = ") {
                let start = text.find(&format!("{field} = ")).expect("field");
                let end = start + text[start..].find([',', '}']).expect("end of field");
                let end = if text[start..end].contains('[') {
                    start + text[start..].find(']').expect("list end") + 1
                } else {
                    end
                };
                text.replace_range(start..end, key_edit);
            }
            let found = errors(&text);
            if want.is_empty() {
                assert!(found.is_empty(), "{found:?}");
            } else {
                assert!(
                    found.iter().any(|e| e.starts_with(want)),
                    "{want}: {found:?}"
                );
            }
        }
        // api_key without a store, scopes on a public route, a credential header logged.
        let found = errors(&MINIMAL.replace("[\"none\"]", "[\"api_key\"]"));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].auth[0]:")),
            "{found:?}"
        );
        let found =
            errors(&MINIMAL.replace("auth = [\"none\"]", "auth = [\"none\"]\nscopes = [\"a\"]"));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].scopes:")),
            "{found:?}"
        );
        let found = errors(&format!(
            "[auth]\napi_key_header = \"X-Partner\"\n[log]\nheaders = [\"x-partner\"]\n{KEYED}"
        ));
        assert!(
            found.iter().any(|e| e.starts_with("log.headers")),
            "{found:?}"
        );
        let found = errors(&format!("[auth]\napi_key_header = \"Cookie\"\n{KEYED}"));
        assert!(
            found.iter().any(|e| e.starts_with("auth.api_key_header:")),
            "{found:?}"
        );
    }

    #[test]
    fn jwt_issuers_compile_and_their_mistakes_are_reported() {
        let issuer = r#"
            [[jwt_issuers]]
            issuer = "https://idp.example.com"
            audiences = ["orders-api"]
            discovery_url = "https://idp.example.com/.well-known/openid-configuration"
            algorithms = ["RS256", "ES256"]
            roles_claim = "realm_access.roles"
        "#;
        let text = format!(
            "{issuer}{}",
            MINIMAL.replace("[\"none\"]", "[\"api_key\", \"jwt\"]")
        )
        .replace(
            "[[upstreams]]",
            "[store]\nmaster_key_file = \"m.key\"\n[[upstreams]]",
        );
        let config = Config::from_toml_str(&text).expect("valid");
        let jwt = &config.jwt_issuers[0];
        assert_eq!(jwt.leeway, Duration::from_secs(30));
        assert_eq!(jwt.consumer_claim, "sub");
        assert_eq!(config.routes[0].auth, [AuthMethod::ApiKey, AuthMethod::Jwt]);

        let cases = [
            (
                "algorithms = [\"RS256\", \"ES256\"]",
                "algorithms = [\"HS256\"]",
                "jwt_issuers[0].algorithms[0]:",
            ),
            (
                "algorithms = [\"RS256\", \"ES256\"]",
                "algorithms = [\"none\"]",
                "jwt_issuers[0].algorithms[0]:",
            ),
            (
                "roles_claim",
                "leeway = \"5m\"\nroles_claim",
                "jwt_issuers[0].leeway:",
            ),
            (
                "https://idp.example.com/.well-known",
                "http://idp.example.com/.well-known",
                "jwt_issuers[0].discovery_url:",
            ),
            (
                "audiences = [\"orders-api\"]",
                "audiences = []",
                "jwt_issuers[0].audiences:",
            ),
            (
                "roles_claim",
                "jwks_file = \"keys.json\"\nroles_claim",
                "jwt_issuers[0].jwks_url:",
            ),
        ];
        for (from, to, want) in cases {
            let found = errors(&text.replace(from, to));
            assert!(
                found.iter().any(|e| e.starts_with(want)),
                "{want}: {found:?}"
            );
        }
        // Loopback may use plain http (a local identity provider).
        let local = text.replace(
            "https://idp.example.com/.well-known",
            "http://127.0.0.1:9000/.well-known",
        );
        assert!(errors(&local).is_empty(), "{:?}", errors(&local));
        // A jwt route without any issuer.
        let found = errors(&MINIMAL.replace("[\"none\"]", "[\"jwt\"]"));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].auth[0]:")),
            "{found:?}"
        );
    }

    #[test]
    fn authorization_rules_are_checked_against_the_route() {
        let keyed = KEYED.replace("scopes = [\"orders:read\", \"orders:read\"]", "");
        let with = |line: &str| {
            keyed.replace(
                "auth = [\"api_key\"]",
                &format!("auth = [\"api_key\"]\n{line}"),
            )
        };
        let config = Config::from_toml_str(&with(
            "roles = [\"admin\"]\nowner = { param = \"id\", claim = \"sub\", unless_roles = [\"admin\"] }",
        ))
        .expect("valid");
        assert_eq!(config.routes[0].roles, ["admin"]);
        assert_eq!(
            config.routes[0].owner.as_ref().map(|o| o.param.as_str()),
            Some("id")
        );
        let cases = [
            (
                "owner = { param = \"user\", claim = \"sub\" }",
                "routes[0].owner.param:",
            ),
            (
                "owner = { param = \"id\", claim = \"a b\" }",
                "routes[0].owner.claim:",
            ),
            ("step_up = { acr = [\"urn:mfa\"] }", "routes[0].step_up:"),
            ("step_up = {}", "routes[0].step_up:"),
            ("roles = [\"has space\"]", "routes[0].roles[0]:"),
        ];
        for (line, want) in cases {
            let found = errors(&with(line));
            assert!(
                found.iter().any(|e| e.starts_with(want)),
                "{line}: {found:?}"
            );
        }
        let public = MINIMAL.replace(
            "auth = [\"none\"]",
            "auth = [\"none\"]\nroles = [\"admin\"]",
        );
        assert!(
            errors(&public)
                .iter()
                .any(|e| e.starts_with("routes[0].auth:"))
        );
    }

    #[test]
    fn mtls_needs_a_client_ca_and_consumers_name_certificates() {
        let tls = "[server]\ntls = { cert = \"c.pem\", key = \"k.pem\", client_ca = \"ca.pem\", client_auth = \"required\" }\n";
        let consumer = "[[consumers]]\nname = \"payments\"\nmtls = { san = [\"client.example.com\"], sha256 = [\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"] }\n";
        let text = format!(
            "{tls}{consumer}{}",
            MINIMAL.replace("[\"none\"]", "[\"mtls\"]")
        );
        let config = Config::from_toml_str(&text).expect("valid: no store needed without keys");
        let auth = config
            .server
            .tls
            .as_ref()
            .and_then(|t| t.client_auth.as_ref())
            .expect("mtls");
        assert!(auth.required);
        assert_eq!(config.consumers[0].cert_sha256[0][10], 0xaa);
        assert_eq!(config.consumers[0].cert_san, ["client.example.com"]);

        let found = errors(&MINIMAL.replace("[\"none\"]", "[\"mtls\"]"));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].auth[0]:")),
            "{found:?}"
        );
        let found = errors(&text.replace("\"required\"", "\"sometimes\""));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("server.tls.client_auth:")),
            "{found:?}"
        );
        let found = errors(&text.replace("00112233", "zz112233"));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("consumers[0].mtls.sha256[0]:")),
            "{found:?}"
        );
        let found = errors(&text.replace("client.example.com", "not a name"));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("consumers[0].mtls.san[0]:")),
            "{found:?}"
        );
    }

    #[test]
    fn auth_methods_not_built_yet_are_refused_not_ignored() {
        let errors = errors(&MINIMAL.replace("[\"none\"]", "[\"oauth1\"]"));
        assert!(
            errors.iter().any(|e| e.starts_with("routes[0].auth[0]:")),
            "{errors:?}"
        );
        let errors = errors_of_section("[ratelimits]\nbackend = \"local\"\n");
        assert!(
            errors.iter().any(|e| e.starts_with("ratelimits:")),
            "a misspelt section is refused: {errors:?}"
        );
    }

    fn errors_of_section(section: &str) -> Vec<String> {
        errors(&format!("{MINIMAL}\n{section}"))
    }

    #[test]
    fn cors_wildcard_with_credentials_is_refused() {
        let text =
            format!("{MINIMAL}\ncors = {{ allow_origins = [\"*\"], allow_credentials = true }}\n");
        let refused = errors(&text);
        assert!(
            refused
                .iter()
                .any(|e| e.starts_with("routes[0].cors.allow_origins:")),
            "{refused:?}"
        );

        let text = format!(
            "{MINIMAL}\ncors = {{ allow_origins = [\"https://App.example.com\"], allow_credentials = true }}\n"
        );
        let config = Config::from_toml_str(&text).expect("valid");
        let cors = config.routes[0].cors.as_ref().expect("cors");
        assert_eq!(
            cors.allow_origins,
            CorsOrigins::List(vec!["https://app.example.com".into()])
        );

        let with_path = errors(&format!(
            "{MINIMAL}\ncors = {{ allow_origins = [\"https://a.com/path\"] }}\n"
        ));
        assert!(!with_path.is_empty());
    }

    #[test]
    fn secrets_never_go_to_the_log() {
        let errors = errors_of_section("[log]\nheaders = [\"Authorization\", \"user-agent\"]\n");
        assert!(
            errors.iter().any(|e| e.starts_with("log.headers[0]:")),
            "{errors:?}"
        );
    }

    #[test]
    fn dangerous_options_warn() {
        let text = MINIMAL.replace(
            "url = \"http://127.0.0.1:18080\"",
            "url = \"https://api.internal:8443/base/\"\ndangerous_skip_upstream_verify = true",
        );
        let config = Config::from_toml_str(&text).expect("valid");
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.key == "upstreams[0].dangerous_skip_upstream_verify")
        );
        assert_eq!(config.upstreams[0].base_path, "/base");
        assert_eq!(config.upstreams[0].authority, "api.internal:8443");
    }

    #[test]
    fn trusting_everyone_is_refused() {
        let errors = errors(&format!(
            "[server]\ntrusted_proxies = [\"0.0.0.0/0\", \"10.0.0.1\", \"0.0.0.0/1\", \"::/8\", \"fd00::/16\"]\n{MINIMAL}"
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("server.trusted_proxies[0]:"));
        assert!(errors[1].starts_with("server.trusted_proxies[2]:"));
        assert!(errors[2].starts_with("server.trusted_proxies[3]:"));
    }

    #[test]
    fn misconfigurations_a_reviewer_would_flag_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("methods = [\"get\", \"TRACE\"]", "routes[0].methods[1]:"),
            ("auth = [\"none\", \"api_key\"]", "routes[0].auth:"),
            (
                "cors = { allow_origins = [\"https://a.example\"], max_age = \"2d\" }",
                "routes[0].cors.max_age:",
            ),
        ];
        for (line, key) in cases {
            let base = MINIMAL
                .replace("methods = [\"get\"]", "")
                .replace("auth = [\"none\"]", "");
            let text = if line.starts_with("auth") {
                format!("{base}{line}\n")
            } else {
                format!("{base}auth = [\"none\"]\n{line}\n")
            };
            let found = errors(&text);
            assert!(
                found.iter().any(|e| e.starts_with(key)),
                "{line}: {found:?}"
            );
        }
        let found = errors(&format!("[server]\nlisten = \"127.0.0.1:9443\"\n{MINIMAL}"));
        assert!(
            found.iter().any(|e| e.starts_with("admin.listen:")),
            "{found:?}"
        );
        let found = errors(&format!(
            "[server]\ntls = {{ cert = \"c.pem\", key = \"k.pem\", hsts = {{ max_age = \"1d\", preload = true }} }}\n{MINIMAL}"
        ));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("server.tls.hsts.preload:")),
            "{found:?}"
        );
        let found = errors(&format!(
            "[server]\nsecure_headers = {{ cache_control = \"a\\nb\" }}\n{MINIMAL}"
        ));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("server.secure_headers.cache_control:")),
            "{found:?}"
        );
        let config = Config::from_toml_str(&format!(
            "[server]\nlisten = \"0.0.0.0:8443\"\n[admin]\nlisten = \"0.0.0.0:9443\"\n{MINIMAL}"
        ))
        .expect("valid");
        assert!(config.warnings.iter().any(|w| w.key == "server.tls"));
        assert!(config.warnings.iter().any(|w| w.key == "admin.listen"));
    }

    #[test]
    fn absurd_values_are_refused_before_they_can_overflow_or_panic() {
        // Regression: these passed `check`, then panicked the gateway (semaphore size,
        // deadline arithmetic, the router's parameter limit).
        let found = errors(&format!(
            "[server]\nmax_connections = 4000000000000000000\nidle_timeout = \"300000000000y\"\nbody_read_timeout = \"2d\"\nmax_header_bytes = 99999999999\n{MINIMAL}"
        ));
        for key in [
            "server.max_connections:",
            "server.idle_timeout:",
            "server.body_read_timeout:",
            "server.max_header_bytes:",
        ] {
            assert!(found.iter().any(|e| e.starts_with(key)), "{key} {found:?}");
        }
        let params: String = (b'a'..=b'z')
            .map(|c| format!("/{{{}}}", c as char))
            .collect();
        let found = errors(&MINIMAL.replace("/v1/orders/{id}", &params));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].path:")),
            "{found:?}"
        );
        // An empty method list is not "every method".
        let found = errors(&MINIMAL.replace("methods = [\"get\"]", "methods = []"));
        assert!(
            found.iter().any(|e| e.starts_with("routes[0].methods:")),
            "{found:?}"
        );
    }

    #[test]
    fn hosts_are_names_without_ports() {
        let config = Config::from_toml_str(&format!(
            "[server]\nhosts = [\"API.example.com\", \"[::1]\", \"127.0.0.1\"]\n{MINIMAL}"
        ))
        .expect("valid");
        assert_eq!(
            config.server.hosts,
            ["api.example.com", "[::1]", "127.0.0.1"]
        );
        let found = errors(&format!(
            "[server]\nhosts = [\"api.example.com:8443\", \"https://x\", \"\"]\n{MINIMAL}"
        ));
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let errors = errors("[server]\nlisten = \n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("line 2: invalid TOML"), "{errors:?}");
    }
}

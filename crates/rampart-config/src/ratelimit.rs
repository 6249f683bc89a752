//! `[ratelimit]` and the routes' `rate_limit`: what is limited, by what key, where the
//! counts live.
//!
//! One shape declares all three kinds of limit; `per` says which:
//!
//! ```toml
//! rate_limit = [
//!   { limit = 100, per = "1m", key = "consumer" },                 # a rate (GCRA)
//!   { name = "plan", limit = 10000, per = "month", key = "consumer" },   # a calendar quota
//!   { name = "parallel", limit = 5, per = "in_flight", key = "ip" },     # a concurrency limit
//! ]
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::compile::{Ctx, is_name};

/// `[ratelimit]`: where counts live, what happens when that place is unreachable, the
/// pre-authentication limit and the limits every route shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiting {
    pub backend: Backend,
    pub fail_mode: FailMode,
    /// Gateways sharing the limits; with `fail_mode = "local"` each admits its share.
    pub instances: u32,
    /// How long one decision may wait for Redis before the fail mode applies.
    pub timeout: Duration,
    /// Prefix of every Redis key (several gateways or tests can share one Redis).
    pub prefix: String,
    /// Local table bound: distinct keys kept per kind (rates, quotas, in flight).
    pub max_keys: usize,
    /// IPv6 clients are keyed by this prefix length (one /64 is one client).
    pub ipv6_prefix: u8,
    /// Per client IP, before any authentication work is spent.
    pub pre_auth: Option<Limit>,
    /// Limits that apply to every route, beside the route's own.
    pub limits: Vec<Limit>,
}

impl Default for RateLimiting {
    fn default() -> Self {
        RateLimiting {
            backend: Backend::Local,
            fail_mode: FailMode::Local,
            instances: 1,
            timeout: Duration::from_millis(50),
            prefix: "rampart".to_owned(),
            max_keys: 1_000_000,
            ipv6_prefix: 64,
            pre_auth: None,
            limits: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Counts kept in this process.
    Local,
    /// Counts shared through Redis.
    Redis(Redis),
}

/// A Redis server: the URL without any password; the password, if any, in an owner-only
/// file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redis {
    /// `redis://[user@]host[:port][/db]` or `rediss://...` (TLS).
    pub url: String,
    pub password_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) for `rediss://`, besides the system roots.
    pub ca: Option<PathBuf>,
}

/// What a decision does when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Each gateway limits on its own, at `limit / instances`.
    Local,
    /// Requests pass unlimited (a warning is logged while it lasts).
    Open,
    /// Requests are refused with 503.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Unique among the limits that apply to a route; the policy name in the
    /// `RateLimit-Policy` header, in logs and in metrics.
    pub name: String,
    pub kind: LimitKind,
    pub key: LimitKey,
    /// Count and report, but never refuse.
    pub log_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `limit` per `per`, at most `burst` at once (default: `limit`).
    Rate {
        limit: u64,
        per: Duration,
        burst: u64,
    },
    /// `limit` per calendar period (UTC).
    Quota { limit: u32, period: QuotaPeriod },
    /// `limit` requests in flight at once.
    InFlight { limit: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    Month,
}

/// What a limit counts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKey {
    /// The client's address (after `server.trusted_proxies`).
    Ip,
    /// The authenticated consumer; the client's address on public routes.
    Consumer,
    /// The route: one count shared by every caller of it.
    Route,
    /// The consumer on this route.
    ConsumerRoute,
    /// A request header's value (lower-case name); the client's address when absent.
    Header(String),
    /// A claim of the caller's token (dot path); the consumer when absent.
    Claim(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSection {
    backend: Option<String>,
    fail_mode: Option<String>,
    instances: Option<u64>,
    timeout: Option<String>,
    prefix: Option<String>,
    password_file: Option<String>,
    ca: Option<String>,
    max_keys: Option<u64>,
    ipv6_prefix: Option<u64>,
    pre_auth: Option<toml::Value>,
    limits: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    name: Option<String>,
    limit: u64,
    per: String,
    burst: Option<u64>,
    key: Option<String>,
    log_only: Option<bool>,
}

/// The largest `limit` (and `burst`) accepted.
const MAX_LIMIT: u64 = 1_000_000_000;

pub(crate) fn compile_section(ctx: &mut Ctx, raw: RawSection, base: &Path) -> RateLimiting {
    let defaults = RateLimiting::default();
    let backend = match raw.backend.as_deref() {
        None | Some("local") => Backend::Local,
        Some(url) => match check_redis_url(url) {
            Ok(()) => Backend::Redis(Redis {
                url: url.to_owned(),
                password_file: raw.password_file.as_ref().map(|f| base.join(f)),
                ca: raw.ca.as_ref().map(|f| base.join(f)),
            }),
            Err(e) => {
                ctx.error("ratelimit.backend", e);
                Backend::Local
            }
        },
    };
    if backend == Backend::Local {
        for (key, set) in [
            ("ratelimit.password_file", raw.password_file.is_some()),
            ("ratelimit.ca", raw.ca.is_some()),
        ] {
            if set {
                ctx.error(key, "only used with a Redis backend");
            }
        }
    }
    if let Backend::Redis(redis) = &backend
        && redis.ca.is_some()
        && !redis.url.starts_with("rediss://")
    {
        ctx.error("ratelimit.ca", "a CA is only used with TLS (rediss://)");
    }
    let fail_mode = match raw.fail_mode.as_deref() {
        None | Some("local") => FailMode::Local,
        Some("open") => {
            ctx.warn(
                "ratelimit.fail_mode",
                "\"open\": while Redis is unreachable, requests are not rate limited at all",
            );
            FailMode::Open
        }
        Some("closed") => FailMode::Closed,
        Some(other) => {
            ctx.error(
                "ratelimit.fail_mode",
                format!("\"{other}\" is not one of \"local\", \"open\", \"closed\""),
            );
            FailMode::Local
        }
    };
    let instances = ctx.positive("ratelimit.instances".to_owned(), raw.instances, 1, 10_000) as u32;
    let timeout = ctx.bounded_duration(
        "ratelimit.timeout".to_owned(),
        raw.timeout.as_deref(),
        defaults.timeout,
        Duration::from_secs(5),
    );
    let prefix = raw.prefix.unwrap_or(defaults.prefix);
    if !is_name(&prefix) {
        ctx.error("ratelimit.prefix", "use letters, digits, '-' and '_' only");
    }
    let max_keys = ctx.positive(
        "ratelimit.max_keys".to_owned(),
        raw.max_keys,
        defaults.max_keys,
        100_000_000,
    );
    let ipv6_prefix = match raw.ipv6_prefix {
        None => defaults.ipv6_prefix,
        Some(bits @ 32..=128) => bits as u8,
        Some(_) => {
            ctx.error(
                "ratelimit.ipv6_prefix",
                "between 32 and 128 (one IPv6 client usually holds a whole /64)",
            );
            defaults.ipv6_prefix
        }
    };
    let pre_auth = raw.pre_auth.and_then(|value| {
        let raw: RawLimit = ctx.section("ratelimit.pre_auth", value)?;
        let limit = compile_limit(ctx, "ratelimit.pre_auth", raw, "pre-auth")?;
        if !matches!(limit.kind, LimitKind::Rate { .. }) {
            ctx.error(
                "ratelimit.pre_auth.per",
                "the pre-authentication limit is a rate: per = a duration such as \"1s\"",
            );
        }
        if limit.key != LimitKey::Ip {
            ctx.error(
                "ratelimit.pre_auth.key",
                "the pre-authentication limit counts by client address (\"ip\"): nothing else is known before authentication",
            );
        }
        Some(limit)
    });
    let limits = compile_limits(ctx, "ratelimit.limits", raw.limits, "global", &[]);
    RateLimiting {
        backend,
        fail_mode,
        instances,
        timeout,
        prefix,
        max_keys,
        ipv6_prefix,
        pre_auth,
        limits,
    }
}

/// A route's `rate_limit`: one table or an array of them. Names must differ from each
/// other and from the global limits'.
pub(crate) fn compile_limits(
    ctx: &mut Ctx,
    key: &str,
    value: Option<toml::Value>,
    default_name: &str,
    taken: &[Limit],
) -> Vec<Limit> {
    let elements = match value {
        None => return Vec::new(),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("{key}[{i}]"), v))
            .collect(),
        Some(table @ toml::Value::Table(_)) => vec![(key.to_owned(), table)],
        Some(_) => {
            ctx.error(key, "a table { limit, per, key } or an array of them");
            return Vec::new();
        }
    };
    let single = elements.len() == 1;
    let mut names: HashSet<String> = taken.iter().map(|l| l.name.clone()).collect();
    let mut limits = Vec::new();
    for (i, (at, value)) in elements.into_iter().enumerate() {
        let Some(raw) = ctx.section::<RawLimit>(&at, value) else {
            continue;
        };
        let default = match single {
            true => default_name.to_owned(),
            false => format!("{default_name}-{i}"),
        };
        let Some(limit) = compile_limit(ctx, &at, raw, &default) else {
            continue;
        };
        if !names.insert(limit.name.clone()) {
            ctx.error(
                format!("{at}.name"),
                format!(
                    "another limit of this route is named \"{}\" (global limits included); name each one",
                    limit.name
                ),
            );
            continue;
        }
        limits.push(limit);
    }
    limits
}

fn compile_limit(ctx: &mut Ctx, at: &str, raw: RawLimit, default_name: &str) -> Option<Limit> {
    let errors = ctx.error_count();
    let name = raw.name.unwrap_or_else(|| default_name.to_owned());
    if !is_name(&name) {
        ctx.error(
            format!("{at}.name"),
            "use letters, digits, '-' and '_' only",
        );
    }
    if raw.limit == 0 || raw.limit > MAX_LIMIT {
        ctx.error(format!("{at}.limit"), format!("between 1 and {MAX_LIMIT}"));
    }
    let kind = match raw.per.as_str() {
        "day" | "month" | "in_flight" if raw.burst.is_some() => {
            ctx.error(
                format!("{at}.burst"),
                "burst applies to rates only (per = a duration)",
            );
            None
        }
        "day" => Some(LimitKind::Quota {
            limit: raw.limit as u32,
            period: QuotaPeriod::Day,
        }),
        "month" => Some(LimitKind::Quota {
            limit: raw.limit as u32,
            period: QuotaPeriod::Month,
        }),
        "in_flight" => Some(LimitKind::InFlight {
            limit: raw.limit as u32,
        }),
        text => match crate::parse_duration(text) {
            Ok(per) if per >= Duration::from_millis(1) && per <= Duration::from_secs(86_400) => {
                let burst = raw.burst.unwrap_or(raw.limit);
                if burst == 0 || burst > MAX_LIMIT {
                    ctx.error(format!("{at}.burst"), format!("between 1 and {MAX_LIMIT}"));
                }
                if raw.limit > 0 && per.as_nanos() / u128::from(raw.limit) == 0 {
                    ctx.error(format!("{at}.limit"), "more than one a nanosecond");
                }
                Some(LimitKind::Rate {
                    limit: raw.limit,
                    per,
                    burst,
                })
            }
            Ok(_) => {
                ctx.error(
                    format!("{at}.per"),
                    "between 1ms and 1d; for longer periods use \"day\" or \"month\" (calendar quotas)",
                );
                None
            }
            Err(e) => {
                ctx.error(
                    format!("{at}.per"),
                    format!("{e}; or \"day\", \"month\" (quotas), \"in_flight\" (concurrency)"),
                );
                None
            }
        },
    };
    let key = match raw.key.as_deref() {
        None => {
            ctx.error(
                format!("{at}.key"),
                "say what the limit counts by: \"ip\", \"consumer\", \"route\", \"consumer_route\", \"header:NAME\" or \"claim:NAME\"",
            );
            None
        }
        Some("ip") => Some(LimitKey::Ip),
        Some("consumer") => Some(LimitKey::Consumer),
        Some("route") => Some(LimitKey::Route),
        Some("consumer_route") => Some(LimitKey::ConsumerRoute),
        Some(other) => match other.split_once(':') {
            Some(("header", name)) if is_header_name(name) => {
                Some(LimitKey::Header(name.to_ascii_lowercase()))
            }
            Some(("claim", path)) if is_claim_path(path) => Some(LimitKey::Claim(path.to_owned())),
            _ => {
                ctx.error(
                    format!("{at}.key"),
                    format!(
                        "\"{other}\" is not one of \"ip\", \"consumer\", \"route\", \"consumer_route\", \"header:NAME\", \"claim:NAME\""
                    ),
                );
                None
            }
        },
    };
    if let Some(LimitKey::Header(name)) = &key
        && crate::compile::carries_credentials(name)
    {
        ctx.error(
            format!("{at}.key"),
            "a header that carries credentials would put secrets into limiter keys; key by \"consumer\" instead",
        );
    }
    let log_only = raw.log_only.unwrap_or(false);
    if log_only {
        ctx.warn(
            format!("{at}.log_only"),
            format!("limit \"{name}\" is counted and logged but never enforced"),
        );
    }
    if ctx.error_count() > errors {
        return None;
    }
    Some(Limit {
        name,
        kind: kind?,
        key: key?,
        log_only,
    })
}

/// A `redis://` or `rediss://` URL with a host, without a password.
fn check_redis_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("redis://")
        .or_else(|| url.strip_prefix("rediss://"))
        .ok_or_else(|| "\"local\", or a redis:// or rediss:// URL".to_owned())?;
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            if userinfo.contains(':') {
                return Err(
                    "no password in the URL (it would sit in the config and the logs): put it in password_file".to_owned(),
                );
            }
            host
        }
        None => authority,
    };
    if host.is_empty() {
        return Err("the URL names no host".to_owned());
    }
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Err(format!("\"/{db}\" is not a database number"));
    }
    if url.contains(['?', '#', ' ']) {
        return Err("query strings and fragments are not supported".to_owned());
    }
    Ok(())
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

fn is_claim_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-:".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    const BASE: &str = r#"
        [[upstreams]]
        name = "orders"
        url = "http://127.0.0.1:18080"
    "#;

    fn route(extra: &str) -> String {
        format!(
            "{BASE}\n[[routes]]\nname = \"r\"\npath = \"/r\"\nupstream = \"orders\"\nauth = [\"none\"]\n{extra}\n"
        )
    }

    fn errors(text: &str) -> Vec<String> {
        match Config::from_toml_str(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn one_shape_declares_rates_quotas_and_concurrency() {
        let text = format!(
            "[ratelimit]\npre_auth = {{ limit = 50, per = \"1s\", burst = 100, key = \"ip\" }}\nlimits = [{{ name = \"per-consumer\", limit = 1000, per = \"1m\", key = \"consumer\" }}]\n{}",
            route(
                r#"rate_limit = [
                    { limit = 10, per = "1s", burst = 20, key = "ip" },
                    { name = "plan", limit = 10000, per = "month", key = "claim:org.id" },
                    { name = "parallel", limit = 5, per = "in_flight", key = "header:X-Tenant", log_only = true },
                ]"#
            )
        );
        let config = Config::from_toml_str(&text).expect("valid");
        let limits = &config.routes[0].limits;
        assert_eq!(limits.len(), 3);
        assert_eq!(limits[0].name, "default-0");
        assert_eq!(
            limits[0].kind,
            LimitKind::Rate {
                limit: 10,
                per: Duration::from_secs(1),
                burst: 20
            }
        );
        assert_eq!(
            limits[1].kind,
            LimitKind::Quota {
                limit: 10_000,
                period: QuotaPeriod::Month
            }
        );
        assert_eq!(limits[1].key, LimitKey::Claim("org.id".into()));
        assert_eq!(limits[2].kind, LimitKind::InFlight { limit: 5 });
        assert_eq!(limits[2].key, LimitKey::Header("x-tenant".into()));
        assert!(limits[2].log_only);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.message.contains("never enforced")),
            "log-only is a warning"
        );
        let rl = &config.ratelimit;
        assert_eq!(rl.backend, Backend::Local);
        assert_eq!(rl.limits[0].name, "per-consumer");
        assert!(rl.pre_auth.is_some());
        // A single limit is "default"; defaults are safe.
        let one = Config::from_toml_str(&route(
            "rate_limit = { limit = 1, per = \"1m\", key = \"consumer\" }",
        ))
        .expect("valid");
        assert_eq!(one.routes[0].limits[0].name, "default");
        assert_eq!(one.ratelimit, RateLimiting::default());
        assert!(
            one.warnings
                .iter()
                .any(|w| w.message.contains("counts by client address")),
            "a consumer key on a public route says what it really counts by"
        );
    }

    #[test]
    fn limit_mistakes_are_reported_with_their_keys() {
        let text = route(
            r#"rate_limit = [
                { limit = 0, per = "1m", key = "ip" },
                { limit = 5, per = "5", key = "ip" },
                { limit = 5, per = "year", key = "ip" },
                { limit = 5, per = "day", burst = 3, key = "ip" },
                { limit = 5, per = "1m" },
                { limit = 5, per = "1m", key = "cookie" },
                { limit = 5, per = "1m", key = "header:authorization" },
                { limit = 5, per = "1m", key = "ip", colour = "red" },
                { name = "x", limit = 5, per = "1m", key = "ip" },
                { name = "x", limit = 5, per = "1m", key = "ip" },
                { limit = 2000000000, per = "1s", key = "ip" },
                { limit = 5, per = "2d", key = "ip" },
            ]"#,
        );
        let errors = errors(&text);
        let has = |key: &str, text: &str| {
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with(key) && e.contains(text)),
                "{key} / {text} in {errors:#?}"
            );
        };
        has("routes[0].rate_limit[0].limit", "between 1");
        has("routes[0].rate_limit[1].per", "no unit");
        has("routes[0].rate_limit[2].per", "\"day\", \"month\"");
        has("routes[0].rate_limit[3].burst", "rates only");
        has(
            "routes[0].rate_limit[4].key",
            "say what the limit counts by",
        );
        has("routes[0].rate_limit[5].key", "is not one of");
        has("routes[0].rate_limit[6].key", "credentials");
        has("routes[0].rate_limit[7]", "unknown field");
        has("routes[0].rate_limit[9].name", "another limit");
        has("routes[0].rate_limit[10].limit", "between 1");
        has("routes[0].rate_limit[11].per", "between 1ms and 1d");
    }

    #[test]
    fn the_section_is_checked_and_secrets_stay_out_of_it() {
        let bad = |section: &str| errors(&format!("{}\n[ratelimit]\n{section}", route("")));
        let e = bad("backend = \"redis://:hunter2@127.0.0.1:6379/0\"");
        assert!(e.iter().any(|e| e.contains("password_file")), "{e:?}");
        assert!(
            !e.iter().any(|e| e.contains("hunter2")),
            "the secret is not echoed"
        );
        assert!(!bad("backend = \"memcached://x\"").is_empty());
        assert!(!bad("backend = \"redis://\"").is_empty());
        assert!(!bad("backend = \"redis://h/db\"").is_empty());
        assert!(!bad("fail_mode = \"maybe\"").is_empty());
        assert!(!bad("instances = 0").is_empty());
        assert!(!bad("timeout = \"1h\"").is_empty());
        assert!(!bad("prefix = \"a b\"").is_empty());
        assert!(!bad("ipv6_prefix = 8").is_empty());
        assert!(!bad("password_file = \"p\"").is_empty(), "only with Redis");
        assert!(
            !bad("backend = \"redis://127.0.0.1\"\nca = \"ca.pem\"").is_empty(),
            "a CA without TLS"
        );
        assert!(!bad("pre_auth = { limit = 5, per = \"day\", key = \"ip\" }").is_empty());
        assert!(!bad("pre_auth = { limit = 5, per = \"1s\", key = \"consumer\" }").is_empty());
        let redis = Config::from_toml_str(&format!(
            "{}\n[ratelimit]\nbackend = \"rediss://gateway@cache.internal:6380/2\"\npassword_file = \"redis.pass\"\nfail_mode = \"closed\"\ninstances = 3",
            route("")
        ))
        .expect("valid");
        assert_eq!(redis.ratelimit.fail_mode, FailMode::Closed);
        assert_eq!(redis.ratelimit.instances, 3);
        assert!(matches!(
            &redis.ratelimit.backend,
            Backend::Redis(r) if r.password_file.as_deref() == Some(Path::new("redis.pass"))
        ));
        let open = Config::from_toml_str(&format!(
            "{}\n[ratelimit]\nbackend = \"redis://127.0.0.1\"\nfail_mode = \"open\"",
            route("")
        ))
        .expect("valid");
        assert!(
            open.warnings.iter().any(|w| w.key == "ratelimit.fail_mode"),
            "failing open is flagged"
        );
    }
}

//! Rate limits, quotas and concurrency limits in the pipeline.
//!
//! The gateway owns one [`Limiter`] (the counts, kept across config reloads); each config
//! generation compiles every route's limits, its own and the global ones, into a
//! [`RouteLimits`]. Two stages use them:
//!
//! - before authentication, the `[ratelimit] pre_auth` rate per client address, so that a
//!   flood costs no key lookup, HMAC or signature check;
//! - after authorization, the route's limits in order: rates (GCRA), calendar quotas,
//!   requests in flight. The first refusal answers 429 with `Retry-After`; a `log_only`
//!   limit that would refuse is logged and counted instead.
//!
//! With `[ratelimit] backend = "redis://..."` the route limits are counted in Redis
//! ([`crate::redis_backend`]), one round trip per request; the pre-authentication limit
//! stays per gateway (it protects this gateway's authentication work). While Redis is
//! unreachable, `fail_mode` decides: `local` counts here at `limit / instances`, `open`
//! admits, `closed` answers 503.
//!
//! Responses on limited routes carry `RateLimit-Policy` and `RateLimit` (IETF httpapi
//! rate-limit headers draft): one item per rate or quota, named after the limit.
//! Every refusal is an audit event (`target: rampart::audit`), and counted per route, limit
//! and decision in `rampart_ratelimit_decisions_total`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_auth::jwt::Verified;
use rampart_config::{FailMode, LimitKey, LimitKind, QuotaPeriod, RateLimiting};
use rampart_ratelimit::{KeyHasher, Local, Period, Permit, Quota, Rate, Verdict};

use crate::redis_backend::{Call, RedisBackend};

/// `RateLimit-Policy`: the limits of the route.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`: what is left of each, and when it resets.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// How often idle keys are swept from the tables.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The counts of one gateway, shared by every config generation.
#[derive(Debug)]
pub struct Limiter {
    local: Arc<Local>,
    hasher: KeyHasher,
    epoch: Instant,
    /// The cluster's counts, with `backend = "redis://..."`.
    shared: Option<Arc<RedisBackend>>,
}

impl Limiter {
    /// The limiter for `settings`. With a Redis backend, its password file and CA are read
    /// now (a mistake there stops the start); the connection is made by [`Limiter::start`].
    pub fn new(settings: &RateLimiting) -> Result<Limiter, String> {
        let shared = match &settings.backend {
            rampart_config::Backend::Local => None,
            rampart_config::Backend::Redis(redis) => Some(Arc::new(RedisBackend::new(
                redis,
                settings.timeout,
                &settings.prefix,
            )?)),
        };
        Ok(Limiter {
            local: Arc::new(Local::new(settings.max_keys)),
            hasher: KeyHasher::new(),
            epoch: Instant::now(),
            shared,
        })
    }

    /// A limiter with local counts only, for `rampart check`.
    pub fn local(settings: &RateLimiting) -> Limiter {
        Limiter {
            local: Arc::new(Local::new(settings.max_keys.min(1024))),
            hasher: KeyHasher::new(),
            epoch: Instant::now(),
            shared: None,
        }
    }

    /// The shared backend, if any.
    pub fn shared(&self) -> Option<&Arc<RedisBackend>> {
        self.shared.as_ref()
    }

    /// Starts the sweeper and, with Redis, the connection and its probe.
    pub fn start(self: &Arc<Self>) {
        self.start_sweeper();
        if let Some(shared) = &self.shared {
            shared.start();
        }
    }

    fn now_ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sweeps idle keys every [`SWEEP_EVERY`] until the limiter is dropped.
    fn start_sweeper(self: &Arc<Self>) {
        let weak: Weak<Limiter> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limiter) = weak.upgrade() else {
                    return;
                };
                let now = limiter.now_ns(Instant::now());
                let removed = limiter.local.sweep(now, unix_now());
                let memory = limiter.local.memory();
                crate::metrics::ratelimit_keys(memory.keys, memory.heap_bytes, removed);
            }
        });
    }

    /// Keys and heap bytes held now (for tests and the benchmark note).
    pub fn memory(&self) -> rampart_ratelimit::MemoryUse {
        self.local.memory()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Rate(Rate),
    Quota(Quota),
    InFlight(u32),
}

/// One limit, compiled for one route.
#[derive(Debug)]
struct Compiled {
    name: Arc<str>,
    /// The table seed of the limit: global limits share theirs across routes.
    id: u64,
    kind: Kind,
    /// The limit each gateway applies on its own while the shared backend is down
    /// (`fail_mode = "local"`): its share, `limit / instances`.
    fallback: Kind,
    /// The start of its Redis keys: `{prefix}:rl:{scope/name:` (a hash tag opens).
    shared_key: String,
    key: LimitKey,
    log_only: bool,
    /// `rampart_ratelimit_decisions_total` for allow, deny, log_only.
    counters: [metrics::Counter; 3],
}

/// The limits of one route, in the order they are checked.
#[derive(Debug)]
pub struct RouteLimits {
    pre_auth: Option<Compiled>,
    limits: Vec<Compiled>,
    /// `RateLimit-Policy`, fixed per route; `None` when no rate or quota applies.
    policy: Option<HeaderValue>,
    ipv6_prefix: u8,
    fail_mode: FailMode,
}

/// What the caller is known by when the route's limits are checked.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub ip: IpAddr,
    pub consumer: Option<&'a str>,
    pub route: &'a str,
    pub headers: &'a HeaderMap,
    pub token: Option<&'a Verified>,
}

/// A refusal: which limit, the reason code, and when to come back.
#[derive(Debug)]
pub struct Refusal {
    pub limit: Arc<str>,
    pub code: &'static str,
    /// Whole seconds, rounded up.
    pub retry_after: u64,
}

/// What passing the limits leaves behind: the headers for the response, and the slots of
/// concurrency limits (held until the response has been sent).
#[derive(Debug, Default)]
pub struct Admitted {
    pub headers: Option<(HeaderValue, HeaderValue)>,
    pub permits: Vec<Slot>,
}

/// Why the limits did not admit a request.
#[derive(Debug)]
pub enum Denied {
    /// A limit refused; the headers describe the route's limits.
    Limited(Refusal, Option<(HeaderValue, HeaderValue)>),
    /// The shared backend is down and `fail_mode = "closed"`.
    Unavailable,
}

/// A concurrency slot, given back when dropped.
#[derive(Debug)]
pub enum Slot {
    Local(Permit),
    Shared(SharedSlot),
}

#[derive(Debug)]
pub struct SharedSlot {
    backend: Arc<RedisBackend>,
    key: String,
    member: String,
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        self.backend.release(
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.member),
        );
    }
}

impl RouteLimits {
    /// Compiles the limits of `route` (its own, then the global ones).
    pub fn new(
        limiter: &Limiter,
        settings: &RateLimiting,
        route: &rampart_config::Route,
    ) -> RouteLimits {
        // The config has checked every rate; one that `Rate::new` still refused would be
        // dropped with an error in the log rather than be enforced wrongly.
        let compile = |limit: &rampart_config::Limit, scope: &str| -> Option<Compiled> {
            let kind = match limit.kind {
                LimitKind::Rate {
                    limit: n,
                    per,
                    burst,
                } => match Rate::new(n, per, burst) {
                    Some(rate) => Kind::Rate(rate),
                    None => {
                        tracing::error!(limit = %limit.name, "rate out of range; limit not applied");
                        return None;
                    }
                },
                LimitKind::Quota { limit, period } => Kind::Quota(Quota {
                    limit,
                    period: match period {
                        QuotaPeriod::Day => Period::Day,
                        QuotaPeriod::Month => Period::Month,
                    },
                }),
                LimitKind::InFlight { limit } => Kind::InFlight(limit),
            };
            let instances = settings.instances.max(1);
            let fallback = match kind {
                Kind::Rate(rate) => Kind::Rate(rate.share(u64::from(instances))),
                Kind::Quota(quota) => Kind::Quota(Quota {
                    limit: (quota.limit / instances).max(1),
                    ..quota
                }),
                Kind::InFlight(n) => Kind::InFlight((n / instances).max(1)),
            };
            Some(Compiled {
                name: Arc::from(limit.name.as_str()),
                id: limiter.hasher.limit_id(&format!("{scope}/{}", limit.name)),
                kind,
                fallback,
                shared_key: format!("{}:rl:{{{scope}/{}:", settings.prefix, limit.name),
                key: limit.key.clone(),
                log_only: limit.log_only,
                counters: ["allow", "deny", "log_only"].map(|decision| {
                    metrics::counter!(
                        "rampart_ratelimit_decisions_total",
                        "route" => route.name.clone(),
                        "limit" => limit.name.clone(),
                        "decision" => decision,
                    )
                }),
            })
        };
        let scope = format!("route/{}", route.name);
        let limits: Vec<Compiled> = route
            .limits
            .iter()
            .filter_map(|l| compile(l, &scope))
            .chain(settings.limits.iter().filter_map(|l| compile(l, "global")))
            .collect();
        let mut policy = String::new();
        for limit in &limits {
            let (q, w) = match limit.kind {
                Kind::Rate(rate) => (rate.limit(), rate.period()),
                Kind::Quota(quota) => (u64::from(quota.limit), quota.period.nominal()),
                Kind::InFlight(_) => continue,
            };
            if !policy.is_empty() {
                policy.push_str(", ");
            }
            let _ = write!(policy, "\"{}\";q={q};w={}", limit.name, w.as_secs().max(1));
        }
        RouteLimits {
            pre_auth: settings
                .pre_auth
                .as_ref()
                .and_then(|l| compile(l, "global")),
            limits,
            policy: HeaderValue::from_str(&policy)
                .ok()
                .filter(|_| !policy.is_empty()),
            ipv6_prefix: settings.ipv6_prefix,
            fail_mode: settings.fail_mode,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pre_auth.is_none() && self.limits.is_empty()
    }

    /// The pre-authentication rate for the client's address.
    pub fn pre_auth(&self, limiter: &Limiter, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(limit) = &self.pre_auth else {
            return Ok(());
        };
        let Kind::Rate(rate) = limit.kind else {
            return Ok(());
        };
        let key = limiter
            .hasher
            .key(limit.id, ip_key(ip, self.ipv6_prefix).as_slice());
        let (verdict, _) = limiter.local.rate(&rate, key, limiter.now_ns(now));
        settle(limit, &verdict, "ratelimit.pre_auth")
    }

    /// The route's limits, in order; the first enforced refusal decides. Locally the check
    /// stops there; in Redis all limits are asked in the same round trip, and slots taken
    /// for a refused request are given back.
    pub async fn check(
        &self,
        limiter: &Limiter,
        caller: &Caller<'_>,
        now: Instant,
    ) -> Result<Admitted, Denied> {
        if self.limits.is_empty() {
            return Ok(Admitted::default());
        }
        let values: Vec<Vec<u8>> = self
            .limits
            .iter()
            .map(|limit| key_value(&limit.key, caller, self.ipv6_prefix))
            .collect();
        let mut fallback = false;
        if let Some(shared) = &limiter.shared {
            if shared.is_up() {
                match self.check_shared(shared, &values).await {
                    Ok(decisions) => return self.conclude(decisions),
                    Err(e) => {
                        tracing::debug!(error = %e, "shared limiter failed; the fail mode applies")
                    }
                }
            }
            crate::metrics::ratelimit_fallback(self.fail_mode_name());
            match self.fail_mode {
                FailMode::Open => return Ok(Admitted::default()),
                FailMode::Closed => return Err(Denied::Unavailable),
                FailMode::Local => fallback = true,
            }
        }
        let now_ns = limiter.now_ns(now);
        let unix = unix_now();
        let mut decisions = Vec::with_capacity(self.limits.len());
        for (limit, value) in self.limits.iter().zip(&values) {
            let key = limiter.hasher.key(limit.id, value);
            let kind = if fallback { limit.fallback } else { limit.kind };
            let decision = match kind {
                Kind::Rate(rate) => (limiter.local.rate(&rate, key, now_ns).0, None),
                Kind::Quota(quota) => (limiter.local.quota(&quota, key, unix).0, None),
                Kind::InFlight(max) => {
                    let permit = limiter.local.acquire(max, key);
                    (in_flight(permit.is_some()), permit.map(Slot::Local))
                }
            };
            let refused = !decision.0.allowed && !limit.log_only;
            decisions.push(decision);
            if refused {
                break;
            }
        }
        self.conclude(decisions)
    }

    fn fail_mode_name(&self) -> &'static str {
        match self.fail_mode {
            FailMode::Local => "local",
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }

    /// Every limit of the route asked of Redis in one round trip.
    async fn check_shared(
        &self,
        shared: &Arc<RedisBackend>,
        values: &[Vec<u8>],
    ) -> Result<Vec<(Verdict, Option<Slot>)>, crate::redis_backend::BackendError> {
        let unix = unix_now();
        let calls: Vec<Call> = self
            .limits
            .iter()
            .zip(values)
            .map(|(limit, value)| {
                let mut key = limit.shared_key.clone();
                key.push_str(&shared_key_hash(value));
                key.push('}');
                match limit.kind {
                    Kind::Rate(rate) => Call::Rate {
                        key,
                        interval_us: rate.interval_ns().div_ceil(1_000),
                        tolerance_us: rate.tolerance_ns() / 1_000,
                    },
                    Kind::Quota(quota) => {
                        let window = quota.period.window(unix);
                        let _ = write!(key, ":{}", window.id);
                        Call::Quota {
                            key,
                            limit: quota.limit,
                            ends: window.end,
                        }
                    }
                    Kind::InFlight(max) => Call::InFlight {
                        key,
                        limit: max,
                        member: format!("{:032x}", rand::random::<u128>()),
                    },
                }
            })
            .collect();
        let answers = shared.decide(&calls).await?;
        let micros = |n: i64| Duration::from_micros(u64::try_from(n).unwrap_or(0));
        Ok(calls
            .into_iter()
            .zip(answers)
            .map(|(call, [allowed, remaining, reset, retry])| {
                let allowed = allowed == 1;
                let remaining = u64::try_from(remaining).unwrap_or(0);
                match call {
                    Call::InFlight { key, member, .. } => (
                        in_flight(allowed),
                        allowed.then(|| {
                            Slot::Shared(SharedSlot {
                                backend: Arc::clone(shared),
                                key,
                                member,
                            })
                        }),
                    ),
                    Call::Quota { ends, .. } => {
                        let left = Duration::from_secs(u64::try_from(ends - unix).unwrap_or(0));
                        let verdict = Verdict {
                            allowed,
                            remaining,
                            reset: left,
                            retry_after: if allowed { Duration::ZERO } else { left },
                        };
                        (verdict, None)
                    }
                    Call::Rate { .. } => {
                        let verdict = Verdict {
                            allowed,
                            remaining,
                            reset: micros(reset),
                            retry_after: micros(retry),
                        };
                        (verdict, None)
                    }
                }
            })
            .collect())
    }

    /// Settles each decision in order: counts it, stops at the first enforced refusal,
    /// writes the headers.
    fn conclude(&self, decisions: Vec<(Verdict, Option<Slot>)>) -> Result<Admitted, Denied> {
        let mut admitted = Admitted::default();
        let mut status = String::new();
        let mut refusal = None;
        for (limit, (verdict, slot)) in self.limits.iter().zip(decisions) {
            admitted.permits.extend(slot);
            let code = match limit.kind {
                Kind::Rate(_) => "ratelimit.exceeded",
                Kind::Quota(_) => "ratelimit.quota_exceeded",
                Kind::InFlight(_) => "ratelimit.concurrency",
            };
            if !matches!(limit.kind, Kind::InFlight(_)) {
                if !status.is_empty() {
                    status.push_str(", ");
                }
                let _ = write!(
                    status,
                    "\"{}\";r={};t={}",
                    limit.name,
                    verdict.remaining,
                    ceil_secs(verdict.reset)
                );
            }
            if let Err(refused) = settle(limit, &verdict, code) {
                refusal = Some(refused);
                break;
            }
        }
        let headers = self.policy.clone().zip(
            HeaderValue::from_str(&status)
                .ok()
                .filter(|_| !status.is_empty()),
        );
        match refusal {
            // The slots taken are given back as `admitted` drops.
            Some(refused) => Err(Denied::Limited(refused, headers)),
            None => {
                admitted.headers = headers;
                Ok(admitted)
            }
        }
    }
}

fn in_flight(allowed: bool) -> Verdict {
    Verdict {
        allowed,
        remaining: 0,
        reset: Duration::ZERO,
        retry_after: Duration::from_secs(u64::from(!allowed)),
    }
}

/// The key value's part of a Redis key: 128 bits of its SHA-256, in hex, so that keys
/// have a fixed length and carry no client data.
fn shared_key_hash(value: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value);
    digest.as_ref()[..16]
        .iter()
        .fold(String::with_capacity(32), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Counts the decision; a refusal of an enforced limit becomes the error.
fn settle(limit: &Compiled, verdict: &Verdict, code: &'static str) -> Result<(), Refusal> {
    if verdict.allowed {
        limit.counters[0].increment(1);
        return Ok(());
    }
    if limit.log_only {
        limit.counters[2].increment(1);
        tracing::warn!(
            target: "rampart::audit",
            event = "rate_limit_log_only",
            limit = &*limit.name,
            code,
            "a log-only limit would have refused this request"
        );
        return Ok(());
    }
    limit.counters[1].increment(1);
    Err(Refusal {
        limit: Arc::clone(&limit.name),
        code,
        retry_after: ceil_secs(verdict.retry_after).max(1),
    })
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The bytes a limit counts by for this caller.
fn key_value(key: &LimitKey, caller: &Caller<'_>, ipv6_prefix: u8) -> Vec<u8> {
    let by_ip = || {
        let mut v = b"ip:".to_vec();
        v.extend_from_slice(&ip_key(caller.ip, ipv6_prefix));
        v
    };
    let by_consumer = || match caller.consumer {
        Some(name) => [b"c:", name.as_bytes()].concat(),
        None => by_ip(),
    };
    match key {
        LimitKey::Ip => by_ip(),
        LimitKey::Consumer => by_consumer(),
        LimitKey::Route => caller.route.as_bytes().to_vec(),
        LimitKey::ConsumerRoute => {
            let mut v = by_consumer();
            v.push(0);
            v.extend_from_slice(caller.route.as_bytes());
            v
        }
        LimitKey::Header(name) => match caller.headers.get(name.as_str()) {
            Some(value) => [b"h:", value.as_bytes()].concat(),
            None => by_ip(),
        },
        LimitKey::Claim(path) => match caller.token.and_then(|t| claim(t, path)) {
            Some(value) => [b"t:", value.as_bytes()].concat(),
            None => by_consumer(),
        },
    }
}

/// A claim by dot path, as text (strings as they are, numbers and booleans printed).
fn claim(token: &Verified, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let mut value = token.claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An address as a limiter key: IPv4 (and IPv4-mapped IPv6) whole, IPv6 cut to its prefix.
pub fn ip_key(ip: IpAddr, ipv6_prefix: u8) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => {
                let bits = u32::from(ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                (u128::from(v6) & mask).to_be_bytes().to_vec()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_prefix_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(ip_key(a, 64), ip_key(b, 64));
        assert_ne!(ip_key(a, 64), ip_key(c, 64));
        assert_ne!(ip_key(a, 128), ip_key(b, 128));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(ip_key(mapped, 64), ip_key(v4, 64));
    }

    #[test]
    fn claims_are_read_by_dot_path_as_text() {
        let claims = serde_json::json!({
            "org": { "id": "acme", "tier": 3 },
            "beta": true,
            "roles": ["a"],
        });
        let token = Verified {
            issuer: Arc::from("https://idp"),
            consumer: Arc::from("alice"),
            scopes: Box::new([]),
            roles: Box::new([]),
            acr: None,
            amr: Box::new([]),
            expires: 0,
            claims: claims.as_object().cloned().unwrap_or_default(),
        };
        assert_eq!(claim(&token, "org.id").as_deref(), Some("acme"));
        assert_eq!(claim(&token, "org.tier").as_deref(), Some("3"));
        assert_eq!(claim(&token, "beta").as_deref(), Some("true"));
        assert_eq!(claim(&token, "roles"), None, "arrays are not keys");
        assert_eq!(claim(&token, "org.missing"), None);
        let headers = HeaderMap::new();
        let caller = Caller {
            ip: "192.0.2.1".parse().expect("ip"),
            consumer: Some("alice"),
            route: "r",
            headers: &headers,
            token: Some(&token),
        };
        let by_org = key_value(&LimitKey::Claim("org.id".into()), &caller, 64);
        let bob_token = Verified {
            consumer: Arc::from("bob"),
            claims: token.claims.clone(),
            issuer: Arc::clone(&token.issuer),
            scopes: Box::new([]),
            roles: Box::new([]),
            acr: None,
            amr: Box::new([]),
            expires: 0,
        };
        let bob = Caller {
            consumer: Some("bob"),
            token: Some(&bob_token),
            ..caller
        };
        assert_eq!(
            key_value(&LimitKey::Claim("org.id".into()), &bob, 64),
            by_org,
            "two callers of one organisation share its count"
        );
    }

    #[test]
    fn keys_fall_back_to_what_is_known() {
        let headers = HeaderMap::new();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let anonymous = Caller {
            ip,
            consumer: None,
            route: "r",
            headers: &headers,
            token: None,
        };
        let by_ip = key_value(&LimitKey::Ip, &anonymous, 64);
        assert_eq!(key_value(&LimitKey::Consumer, &anonymous, 64), by_ip);
        assert_eq!(
            key_value(&LimitKey::Header("x-tenant".into()), &anonymous, 64),
            by_ip
        );
        let known = Caller {
            consumer: Some("alice"),
            ..anonymous
        };
        assert_eq!(
            key_value(&LimitKey::Claim("tenant".into()), &known, 64),
            key_value(&LimitKey::Consumer, &known, 64)
        );
        // A consumer named like an address cannot share the address's count.
        let tricky = Caller {
            consumer: Some("ip:\u{c0}"),
            ..anonymous
        };
        assert_ne!(key_value(&LimitKey::Consumer, &tricky, 64), by_ip);
    }
}

//! The shared counts of a cluster: limits (and, with them, bans) kept in Redis.
//!
//! - One multiplexed connection per gateway (`ConnectionManager`), so concurrent requests
//!   share it and their commands are pipelined on the wire.
//! - One round trip per decision: a route's limits go as one pipeline of `EVALSHA` calls,
//!   each script touching one key whose name carries a Redis Cluster hash tag, so every
//!   script stays within one slot.
//! - The scripts read the server's clock (`TIME`), so gateways with skewed clocks agree.
//! - A decision that fails or outlasts `timeout` marks the backend down; while down no
//!   request waits on Redis (the fail mode applies at once), and a probe every
//!   [`PROBE_EVERY`] brings it back up. Both changes are logged and in the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, Script};
use zeroize::Zeroizing;

/// How often a down backend is probed (and a missing connection retried).
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How long a concurrency slot is leased in Redis: a gateway that dies mid-request gives
/// its slots back after this.
pub const LEASE: Duration = Duration::from_secs(300);

/// GCRA on the server's clock, in microseconds. KEYS[1]: the TAT. ARGV: interval and
/// tolerance (µs). Returns {allowed, remaining, reset µs, retry µs}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.floor((new_tat - now) / 1000) + 1)
return {1, math.floor((now + tolerance + interval - new_tat) / interval), new_tat - now, 0}
";

/// A calendar quota. KEYS[1]: the period's count. ARGV: limit, the period's end (Unix
/// seconds). Returns {allowed, remaining, 0, 0}.
const QUOTA: &str = r"
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= limit then
  return {0, 0, 0, 0}
end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIREAT', KEYS[1], ARGV[2]) end
return {1, limit - used, 0, 0}
";

/// A concurrency slot as a lease in a sorted set. KEYS[1]: the set. ARGV: limit, member,
/// lease (ms). Returns {allowed, 0, 0, 0}.
const IN_FLIGHT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {0, 0, 0, 0}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, 0, 0, 0}
";

/// One script call of a decision.
#[derive(Debug, Clone)]
pub enum Call {
    Rate {
        key: String,
        interval_us: u64,
        tolerance_us: u64,
    },
    Quota {
        key: String,
        limit: u32,
        ends: i64,
    },
    InFlight {
        key: String,
        limit: u32,
        member: String,
    },
}

/// A script's answer: allowed, remaining, reset (µs), retry (µs).
pub type Answer = [i64; 4];

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the shared limiter is down")]
    Down,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
}

pub struct RedisBackend {
    client: redis::Client,
    conn: ArcSwapOption<ConnectionManager>,
    up: AtomicBool,
    timeout: Duration,
    prefix: String,
    scripts: [Script; 3],
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("up", &self.up.load(Ordering::Relaxed))
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// A backend for `settings`; the password and CA are read now, the connection is made
    /// by [`RedisBackend::start`].
    pub fn new(
        redis: &rampart_config::Redis,
        timeout: Duration,
        prefix: &str,
    ) -> Result<RedisBackend, String> {
        let mut info = redis::IntoConnectionInfo::into_connection_info(redis.url.as_str())
            .map_err(|e| format!("ratelimit.backend: {e}"))?;
        if let Some(file) = &redis.password_file {
            let password: Zeroizing<String> = rampart_auth::master::read_private_file(file)
                .map_err(|e| format!("ratelimit.password_file: {e}"))?;
            info.redis.password = Some(password.trim_end_matches(['\n', '\r']).to_owned());
        }
        let client = match &redis.ca {
            Some(ca) => {
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("ratelimit.ca: cannot read {}: {e}", ca.display()))?;
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| format!("ratelimit.backend: {e}"))?;
        Ok(RedisBackend {
            client,
            conn: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            timeout,
            prefix: prefix.to_owned(),
            scripts: [
                Script::new(GCRA),
                Script::new(QUOTA),
                Script::new(IN_FLIGHT),
            ],
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Connects, then probes while down, until the backend is dropped.
    pub fn start(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        crate::metrics::ratelimit_backend_up(false);
        tokio::spawn(async move {
            loop {
                let Some(backend) = weak.upgrade() else {
                    return;
                };
                if !backend.is_up() {
                    backend.probe().await;
                }
                drop(backend);
                tokio::time::sleep(PROBE_EVERY).await;
            }
        });
    }

    async fn probe(&self) {
        let conn = match self.conn.load_full() {
            Some(conn) => conn,
            None => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(self.timeout.max(Duration::from_millis(250)))
                    .set_number_of_retries(1);
                let made = tokio::time::timeout(
                    Duration::from_secs(2),
                    self.client.get_connection_manager_with_config(config),
                )
                .await;
                match made {
                    Ok(Ok(conn)) => {
                        let conn = Arc::new(conn);
                        self.conn.store(Some(Arc::clone(&conn)));
                        conn
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "shared limiter: cannot connect yet");
                        return;
                    }
                    Err(_) => return,
                }
            }
        };
        let mut c = (*conn).clone();
        let loaded = tokio::time::timeout(Duration::from_secs(1), async {
            for script in &self.scripts {
                script.prepare_invoke().load_async(&mut c).await?;
            }
            Ok::<(), redis::RedisError>(())
        })
        .await;
        if matches!(loaded, Ok(Ok(()))) {
            self.mark(true, "reachable again");
        }
    }

    /// Connects now (for the CLI): an error if Redis cannot be reached or refuses us.
    pub async fn connect_now(&self) -> Result<(), String> {
        self.probe().await;
        match self.is_up() {
            true => Ok(()),
            false => Err(
                "cannot reach the Redis of ratelimit.backend (or it refused the credentials)"
                    .to_owned(),
            ),
        }
    }

    fn mark(&self, up: bool, why: &str) {
        if self.up.swap(up, Ordering::AcqRel) != up {
            crate::metrics::ratelimit_backend_up(up);
            if up {
                tracing::info!(why, "shared limiter (Redis) is up: limits are cluster-wide");
            } else {
                tracing::warn!(
                    why,
                    "shared limiter (Redis) is down: the fail mode applies until it is back"
                );
            }
        }
    }

    /// Runs the calls of one decision in one round trip.
    pub async fn decide(&self, calls: &[Call]) -> Result<Vec<Answer>, BackendError> {
        if !self.is_up() {
            return Err(BackendError::Down);
        }
        let Some(conn) = self.conn.load_full() else {
            return Err(BackendError::Down);
        };
        let mut c = (*conn).clone();
        let mut reloaded = false;
        loop {
            let mut pipe = redis::pipe();
            for call in calls {
                let cmd = pipe.cmd("EVALSHA");
                match call {
                    Call::Rate {
                        key,
                        interval_us,
                        tolerance_us,
                    } => cmd
                        .arg(self.scripts[0].get_hash())
                        .arg(1)
                        .arg(key)
                        .arg(interval_us)
                        .arg(tolerance_us),
                    Call::Quota { key, limit, ends } => cmd
                        .arg(self.scripts[1].get_hash())
                        .arg(1)
                        .arg(key)
                        .arg(limit)
                        .arg(ends),
                    Call::InFlight { key, limit, member } => cmd
                        .arg(self.scripts[2].get_hash())
                        .arg(1)
                        .arg(key)
                        .arg(limit)
                        .arg(member)
                        .arg(LEASE.as_millis() as u64),
                };
            }
            let answer =
                tokio::time::timeout(self.timeout, pipe.query_async::<Vec<Answer>>(&mut c)).await;
            match answer {
                Ok(Ok(answers)) => return Ok(answers),
                // Redis restarted and forgot the scripts: load them, once.
                Ok(Err(e)) if e.kind() == ErrorKind::NoScriptError && !reloaded => {
                    reloaded = true;
                    for script in &self.scripts {
                        if let Err(e) = script.prepare_invoke().load_async(&mut c).await {
                            self.mark(false, "cannot load scripts");
                            return Err(e.into());
                        }
                    }
                }
                Ok(Err(e)) => {
                    self.mark(false, "a decision failed");
                    return Err(e.into());
                }
                Err(_) => {
                    self.mark(false, "a decision timed out");
                    return Err(BackendError::Timeout(self.timeout));
                }
            }
        }
    }

    /// Gives a concurrency slot back (in the background; the lease ends it anyway).
    pub fn release(self: &Arc<Self>, key: String, member: String) {
        let Some(conn) = self.conn.load_full() else {
            return;
        };
        let timeout = self.timeout;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut c = (*conn).clone();
                let _ = tokio::time::timeout(
                    timeout,
                    redis::cmd("ZREM")
                        .arg(&key)
                        .arg(&member)
                        .query_async::<i64>(&mut c),
                )
                .await;
            });
        }
    }

    /// A connection for other users of the backend (bans), if connected.
    pub fn connection(&self) -> Option<ConnectionManager> {
        self.conn.load_full().map(|c| (*c).clone())
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

//! Bans shared between gateways, and with the CLI (`rampart bans list|lift`).
//!
//! The [`crate::abuse`] table decides *when* to ban; the [`BanBook`] decides *where* the
//! ban lives:
//!
//! - with a Redis backend, in Redis: a sorted set of subjects scored by the ban's end, and
//!   a hash of reasons and offence counts (`{prefix:bans}`, one hash tag, one slot);
//! - otherwise, with a `[store]` path, in the store's `bans` table;
//! - otherwise, in this gateway's memory only (the CLI cannot see those).
//!
//! Every gateway reads the shared bans every [`FOLLOW_EVERY`], so a ban made on one
//! gateway applies on all of them, and a lift everywhere, within a second. A ban made here
//! applies here at once, before it is written; if the write fails (Redis down), it holds
//! here until it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rampart_store::{BanRecord, Store};
use redis::Script;

use crate::redis_backend::RedisBackend;

/// How often the shared bans are read.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// KEYS: the set, the details. ARGV: subject, reason, until (ms), offences, since (ms),
/// forget-before (ms). Returns {until, offences, since}.
const PUT: &str = r"
local offences = tonumber(ARGV[4])
local since = tonumber(ARGV[5])
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local o, s = string.match(old, '^%S+ (%d+) (%d+)$')
  if o then
    offences = math.max(tonumber(o) + 1, offences)
    since = tonumber(s)
  end
end
local untl = tonumber(ARGV[3])
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) > untl then untl = tonumber(current) end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])) do
  redis.call('HDEL', KEYS[2], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])
redis.call('ZADD', KEYS[1], untl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. offences .. ' ' .. since)
return {untl, offences, since}
";

/// KEYS: the set, the details. ARGV: now (ms). Returns {subject, until, details} triples.
const LIST: &str = r"
local out = {}
local bans = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
for i = 1, #bans, 2 do
  local details = redis.call('HGET', KEYS[2], bans[i]) or 'unknown 1 0'
  table.insert(out, bans[i])
  table.insert(out, bans[i + 1])
  table.insert(out, details)
end
return out
";

/// KEYS: the set. ARGV: subject, now (ms). Ends the ban now; 1 if there was one in force.
const LIFT: &str = r"
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
";

/// Where bans live.
pub enum BanBackend {
    Redis(Arc<RedisBackend>),
    Store(Arc<dyn Store>),
}

impl std::fmt::Debug for BanBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BanBackend::Redis(_) => "BanBackend::Redis",
            BanBackend::Store(_) => "BanBackend::Store",
        })
    }
}

impl BanBackend {
    fn keys(redis: &RedisBackend) -> (String, String) {
        let set = format!("{{{}:bans}}", redis.prefix());
        let details = format!("{set}:details");
        (set, details)
    }

    /// Writes a ban; returns it as stored (the later end, the grown offence count).
    pub async fn put(&self, ban: BanRecord) -> Result<BanRecord, String> {
        match self {
            BanBackend::Redis(redis) => {
                let mut conn = redis.connection().ok_or("Redis is not connected")?;
                let (set, details) = Self::keys(redis);
                let forget = ban.since_ms - rampart_store::BAN_MEMORY_MS;
                let answer: (i64, u32, i64) = tokio::time::timeout(
                    Duration::from_secs(2),
                    Script::new(PUT)
                        .key(&set)
                        .key(&details)
                        .arg(&ban.subject)
                        .arg(&ban.reason)
                        .arg(ban.until_ms)
                        .arg(ban.offences)
                        .arg(ban.since_ms)
                        .arg(forget)
                        .invoke_async(&mut conn),
                )
                .await
                .map_err(|_| "Redis did not answer".to_owned())?
                .map_err(|e| e.to_string())?;
                Ok(BanRecord {
                    until_ms: answer.0,
                    offences: answer.1,
                    since_ms: answer.2,
                    ..ban
                })
            }
            BanBackend::Store(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.put_ban(&ban))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Bans in force at `now_ms`, the longest first.
    pub async fn list(&self, now_ms: i64) -> Result<Vec<BanRecord>, String> {
        match self {
            BanBackend::Redis(redis) => {
                let mut conn = redis.connection().ok_or("Redis is not connected")?;
                let (set, details) = Self::keys(redis);
                let flat: Vec<String> = tokio::time::timeout(
                    Duration::from_secs(2),
                    Script::new(LIST)
                        .key(&set)
                        .key(&details)
                        .arg(now_ms)
                        .invoke_async(&mut conn),
                )
                .await
                .map_err(|_| "Redis did not answer".to_owned())?
                .map_err(|e| e.to_string())?;
                let mut bans: Vec<BanRecord> = flat
                    .chunks_exact(3)
                    .filter_map(|item| {
                        let mut details = item[2].split(' ');
                        Some(BanRecord {
                            subject: item[0].clone(),
                            until_ms: item[1].parse::<f64>().ok()? as i64,
                            reason: details.next()?.to_owned(),
                            offences: details.next()?.parse().ok()?,
                            since_ms: details.next()?.parse().ok()?,
                        })
                    })
                    .collect();
                bans.sort_by_key(|b| std::cmp::Reverse(b.until_ms));
                Ok(bans)
            }
            BanBackend::Store(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.list_bans(now_ms))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Ends a ban now; `false` if the subject was not banned.
    pub async fn lift(&self, subject: &str, now_ms: i64) -> Result<bool, String> {
        match self {
            BanBackend::Redis(redis) => {
                let mut conn = redis.connection().ok_or("Redis is not connected")?;
                let (set, _) = Self::keys(redis);
                let lifted: i64 = tokio::time::timeout(
                    Duration::from_secs(2),
                    Script::new(LIFT)
                        .key(&set)
                        .arg(subject)
                        .arg(now_ms)
                        .invoke_async(&mut conn),
                )
                .await
                .map_err(|_| "Redis did not answer".to_owned())?
                .map_err(|e| e.to_string())?;
                Ok(lifted == 1)
            }
            BanBackend::Store(store) => {
                let store = Arc::clone(store);
                let subject = subject.to_owned();
                tokio::task::spawn_blocking(move || store.lift_ban(&subject, now_ms))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// The bans this gateway enforces on top of its own table: the shared ones, as last read,
/// and the ones it just made.
#[derive(Debug)]
pub struct BanBook {
    backend: BanBackend,
    /// Subject -> end (ms since the epoch).
    shared: ArcSwap<HashMap<String, i64>>,
    /// Bans made here that a read of the shared bans may not show yet.
    recent: Mutex<Vec<Recent>>,
}

#[derive(Debug)]
struct Recent {
    subject: String,
    until_ms: i64,
    /// When the write landed; a read begun after it shows the ban unless it was lifted.
    written: Option<Instant>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl BanBook {
    pub fn new(backend: BanBackend) -> BanBook {
        BanBook {
            backend,
            shared: ArcSwap::from_pointee(HashMap::new()),
            recent: Mutex::new(Vec::new()),
        }
    }

    /// If `subject` is banned, for how much longer.
    pub fn banned(&self, subject: &str, now_ms: i64) -> Option<Duration> {
        let shared = self.shared.load();
        let until = *shared.get(subject)?;
        (until > now_ms).then(|| Duration::from_millis(u64::try_from(until - now_ms).unwrap_or(0)))
    }

    /// Whether any ban is known (a quick test before subjects are spelled out).
    pub fn any(&self) -> bool {
        !self.shared.load().is_empty()
    }

    /// Enforces a ban here at once and writes it to the shared place.
    pub fn publish(self: &Arc<Self>, ban: BanRecord) {
        {
            let now = now_ms();
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|r| r.until_ms > now);
            recent.push(Recent {
                subject: ban.subject.clone(),
                until_ms: ban.until_ms,
                written: None,
            });
        }
        self.shared.rcu(|current| {
            let mut next = HashMap::clone(current);
            let until = next.entry(ban.subject.clone()).or_insert(0);
            *until = (*until).max(ban.until_ms);
            next
        });
        let book = Arc::clone(self);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let (subject, until_ms) = (ban.subject.clone(), ban.until_ms);
                match book.backend.put(ban).await {
                    Ok(_) => {
                        let mut recent = book.recent.lock().unwrap_or_else(|p| p.into_inner());
                        for r in recent.iter_mut() {
                            if r.subject == subject && r.until_ms == until_ms {
                                r.written = Some(Instant::now());
                            }
                        }
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "a ban could not be shared; it holds on this gateway only, until it ends"
                    ),
                }
            });
        }
    }

    /// Reads the shared bans every [`FOLLOW_EVERY`] until the book is dropped.
    pub fn start_following(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                let Some(book) = weak.upgrade() else { return };
                book.refresh().await;
            }
        });
    }

    async fn refresh(&self) {
        if let BanBackend::Redis(redis) = &self.backend
            && !redis.is_up()
        {
            // Keep what is known; the fail mode covers the limits meanwhile.
            return;
        }
        let now = now_ms();
        let read_from = Instant::now();
        let bans = match self.backend.list(now).await {
            Ok(bans) => bans,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the shared bans; keeping the last ones");
                return;
            }
        };
        let mut next: HashMap<String, i64> =
            bans.into_iter().map(|b| (b.subject, b.until_ms)).collect();
        // A ban made here counts on its own until a read begun after its write landed
        // (that read shows it, or it was lifted meanwhile). One whose write failed holds
        // here until it ends.
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.retain(|r| {
            let settled = r.written.is_some_and(|at| at <= read_from);
            let keep = !settled && r.until_ms > now;
            if keep {
                let until = next.entry(r.subject.clone()).or_insert(0);
                *until = (*until).max(r.until_ms);
            }
            keep
        });
        drop(recent);
        self.shared.store(Arc::new(next));
    }

    pub fn backend(&self) -> &BanBackend {
        &self.backend
    }
}

/// Where the bans of `config` live, if anywhere the CLI can reach: Redis (with a Redis
/// backend), else the store (with a `[store]` path). Redis is connected before this
/// returns, or it is an error.
pub async fn backend_for(config: &rampart_config::Config) -> Result<Option<BanBackend>, String> {
    if let rampart_config::Backend::Redis(redis) = &config.ratelimit.backend {
        let backend = Arc::new(RedisBackend::new(
            redis,
            config.ratelimit.timeout.max(Duration::from_secs(1)),
            &config.ratelimit.prefix,
        )?);
        backend.connect_now().await?;
        return Ok(Some(BanBackend::Redis(backend)));
    }
    store_backend(config)
}

/// The store's `bans` table, with a `[store]` path.
fn store_backend(config: &rampart_config::Config) -> Result<Option<BanBackend>, String> {
    if config
        .store
        .as_ref()
        .and_then(|s| s.path.as_ref())
        .is_none()
    {
        return Ok(None);
    }
    let store = crate::auth::open_store(config)?;
    Ok(Some(BanBackend::Store(Arc::new(store))))
}

/// The book a gateway shares its bans through: Redis with a Redis backend, the store with
/// a `[store]` path, none otherwise.
pub fn book_for(
    config: &rampart_config::Config,
    limiter: &crate::ratelimit::Limiter,
) -> Result<Option<Arc<BanBook>>, String> {
    if let Some(shared) = limiter.shared() {
        return Ok(Some(Arc::new(BanBook::new(BanBackend::Redis(Arc::clone(
            shared,
        ))))));
    }
    Ok(store_backend(config)?.map(|backend| Arc::new(BanBook::new(backend))))
}

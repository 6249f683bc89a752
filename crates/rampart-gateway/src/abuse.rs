//! Brute-force and abuse protection: authentication failures and rate-limit refusals are
//! counted per subject (a client IP, an API key id) in a fixed window. Past half the
//! allowance each further authentication failure is answered more slowly; at either
//! allowance the subject is banned for `ban_for`, doubled with every repeat offence (at
//! most a day). A banned subject gets 429 with `Retry-After` before any credential is
//! looked at. Every ban is an audit event with its reason, and counted.
//!
//! The state outlives config reloads (the gateway owns one [`Abuse`] and hands it to each
//! pipeline generation) and is bounded: at most [`MAX_SUBJECTS`] subjects are tracked, the
//! stale ones dropped first. The rate-limiting work (issue 4) builds its bans on the same
//! table, and moves it to Redis for clusters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Tracked subjects at most; beyond it, stale entries are dropped, then new subjects are
/// not tracked until room frees up (memory stays bounded under a flood of addresses).
pub const MAX_SUBJECTS: usize = 100_000;
const MAX_BAN: Duration = Duration::from_secs(86_400);
/// The longest answer delay for a failing subject.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Who failed: the client's address, and the key id it presented, if any.
#[derive(Debug, Clone, Copy)]
pub struct Subjects<'a> {
    pub ip: IpAddr,
    pub key_id: Option<&'a str>,
}

/// What a subject did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// A presented credential was refused.
    AuthFailure,
    /// A rate limit, quota or concurrency limit refused a request.
    RateLimited,
}

impl Offence {
    pub fn reason(self) -> &'static str {
        match self {
            Offence::AuthFailure => "auth_failures",
            Offence::RateLimited => "rate_limited",
        }
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    limited: u32,
    window_start: Instant,
    banned_until: Option<Instant>,
    /// Bans so far; each new ban lasts `ban_for * 2^offences`.
    offences: u32,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            failures: 0,
            limited: 0,
            window_start: now,
            banned_until: None,
            offences: 0,
        }
    }

    fn stale(&self, now: Instant, window: Duration) -> bool {
        self.banned_until.is_none_or(|until| until <= now)
            && now.duration_since(self.window_start) >= window
    }
}

#[derive(Debug, Default)]
struct Table {
    ips: HashMap<IpAddr, Entry>,
    keys: HashMap<Box<str>, Entry>,
    /// Sweeps of stale entries run at most once a second, so that a flood of new subjects
    /// cannot make every failure walk the whole table.
    last_sweep: Option<Instant>,
}

impl Table {
    fn len(&self) -> usize {
        self.ips.len() + self.keys.len()
    }
}

#[derive(Debug)]
pub struct Abuse {
    /// Where bans are shared (Redis or the store), when they are; then bans live there.
    book: arc_swap::ArcSwapOption<crate::bans::BanBook>,
    settings: Mutex<rampart_config::Abuse>,
    table: Mutex<Table>,
    /// When the last ban given ends, in milliseconds after `epoch`: past it, no subject is
    /// banned and requests skip the table (and its lock) entirely.
    ban_horizon: AtomicU64,
    epoch: Instant,
}

impl Default for Abuse {
    fn default() -> Self {
        Abuse::new(rampart_config::Abuse::default())
    }
}

impl Abuse {
    pub fn new(settings: rampart_config::Abuse) -> Abuse {
        Abuse {
            book: arc_swap::ArcSwapOption::empty(),
            settings: Mutex::new(settings),
            table: Mutex::new(Table::default()),
            ban_horizon: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Shares bans through `book` from now on: they are written there, read from there,
    /// and lifted there (`rampart bans lift`).
    pub fn share(&self, book: std::sync::Arc<crate::bans::BanBook>) {
        self.book.store(Some(book));
    }

    /// New settings from a reloaded config; counts and bans are kept.
    pub fn configure(&self, settings: &rampart_config::Abuse) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings.clone();
    }

    fn settings(&self) -> rampart_config::Abuse {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// If the client or the key id is banned, how long until the ban ends.
    pub fn banned(&self, who: Subjects<'_>, now: Instant) -> Option<Duration> {
        let shared = self.shared_ban(who);
        if self.ban_horizon.load(Ordering::Relaxed) <= self.millis(now) {
            return shared.filter(|_| self.settings().enabled);
        }
        if !self.settings().enabled {
            return None;
        }
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let ip = table.ips.get(&who.ip).and_then(|e| e.banned_until);
        let key = who
            .key_id
            .and_then(|id| table.keys.get(id))
            .and_then(|e| e.banned_until);
        [ip, key]
            .into_iter()
            .flatten()
            .filter(|until| *until > now)
            .map(|until| until - now)
            .chain(shared)
            .max()
    }

    /// A shared ban of the address or the key id, if any.
    fn shared_ban(&self, who: Subjects<'_>) -> Option<Duration> {
        let book = self.book.load();
        let book = book.as_ref().filter(|b| b.any())?;
        let now = crate::bans::now_ms();
        let ip = book.banned(&subject("ip", &who.ip), now);
        let key = who
            .key_id
            .and_then(|id| book.banned(&subject("key_id", &id), now));
        ip.max(key)
    }

    /// Records a failed authentication. Returns how long to delay the answer (zero until
    /// half the allowance is used).
    pub fn failure(&self, who: Subjects<'_>, now: Instant) -> Duration {
        self.offence(who, Offence::AuthFailure, now)
    }

    /// Records a request refused by a rate limit.
    pub fn rate_limited(&self, who: Subjects<'_>, now: Instant) {
        self.offence(who, Offence::RateLimited, now);
    }

    fn offence(&self, who: Subjects<'_>, offence: Offence, now: Instant) -> Duration {
        let settings = self.settings();
        let allowance = match offence {
            Offence::AuthFailure => settings.max_auth_failures,
            Offence::RateLimited => settings.max_rate_limited,
        };
        if !settings.enabled || allowance == 0 {
            return Duration::ZERO;
        }
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let sweep_due = table
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if table.len() >= MAX_SUBJECTS && sweep_due {
            let window = settings.window;
            table.ips.retain(|_, e| !e.stale(now, window));
            table.keys.retain(|_, e| !e.stale(now, window));
            table.last_sweep = Some(now);
        }
        let full = table.len() >= MAX_SUBJECTS;
        let mut delay = Duration::ZERO;
        let mut count =
            |entry: Option<&mut Entry>, kind: &'static str, what: &dyn std::fmt::Display| {
                let Some(entry) = entry else {
                    crate::metrics::abuse_untracked();
                    return;
                };
                if let Some(ban) = self.count(entry, offence, allowance, &settings, now) {
                    if let Some(book) = self.book.load_full() {
                        // The shared place holds the ban (and lifts it); this table only
                        // counts.
                        entry.banned_until = None;
                        let now_ms = crate::bans::now_ms();
                        book.publish(rampart_store::BanRecord {
                            subject: subject(kind, what),
                            reason: offence.reason().to_owned(),
                            until_ms: now_ms
                                .saturating_add(i64::try_from(ban.as_millis()).unwrap_or(i64::MAX)),
                            offences: entry.offences,
                            since_ms: now_ms,
                        });
                    }
                    crate::metrics::abuse_ban(kind);
                    crate::metrics::ban_reason(offence.reason());
                    tracing::warn!(
                        target: "rampart::audit",
                        event = "ban",
                        subject = %what,
                        kind,
                        reason = offence.reason(),
                        ban_seconds = ban.as_secs(),
                        offence = entry.offences,
                        "banned after repeated offences"
                    );
                } else if offence == Offence::AuthFailure {
                    delay = delay.max(slow_down(entry.failures, allowance));
                }
            };
        let ip_entry = match table.ips.contains_key(&who.ip) || !full {
            true => Some(table.ips.entry(who.ip).or_insert_with(|| Entry::new(now))),
            false => None,
        };
        count(ip_entry, "ip", &who.ip);
        if let Some(id) = who.key_id {
            let full = table.len() >= MAX_SUBJECTS;
            let key_entry = if table.keys.contains_key(id) {
                table.keys.get_mut(id)
            } else if !full {
                Some(
                    table
                        .keys
                        .entry(id.into())
                        .or_insert_with(|| Entry::new(now)),
                )
            } else {
                None
            };
            count(key_entry, "key_id", &id);
        }
        delay
    }

    /// Counts one failure; returns the ban given, if this one crossed the allowance.
    fn count(
        &self,
        entry: &mut Entry,
        offence: Offence,
        allowance: u32,
        settings: &rampart_config::Abuse,
        now: Instant,
    ) -> Option<Duration> {
        if now.duration_since(entry.window_start) >= settings.window {
            entry.window_start = now;
            entry.failures = 0;
            entry.limited = 0;
        }
        let counter = match offence {
            Offence::AuthFailure => &mut entry.failures,
            Offence::RateLimited => &mut entry.limited,
        };
        *counter = counter.saturating_add(1);
        if *counter < allowance {
            return None;
        }
        let factor = 1u32 << entry.offences.min(16);
        let ban = settings.ban_for.saturating_mul(factor).min(MAX_BAN);
        let until = now + ban;
        entry.banned_until = Some(until);
        entry.offences += 1;
        entry.failures = 0;
        entry.limited = 0;
        entry.window_start = now;
        self.ban_horizon
            .fetch_max(self.millis(until), Ordering::Relaxed);
        Some(ban)
    }

    /// Subjects tracked now (for tests).
    pub fn tracked(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// How a subject is written in shared bans and by `rampart bans`: `ip:ADDRESS`, `key:ID`.
pub fn subject(kind: &str, what: &dyn std::fmt::Display) -> String {
    match kind {
        "ip" => format!("ip:{what}"),
        _ => format!("key:{what}"),
    }
}

/// Past half the allowance, each failure waits 100 ms longer (at most [`MAX_DELAY`]).
fn slow_down(failures: u32, allowance: u32) -> Duration {
    let half = allowance / 2;
    if failures <= half {
        return Duration::ZERO;
    }
    (Duration::from_millis(100) * (failures - half)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abuse(max: u32, ban_secs: u64) -> Abuse {
        Abuse::new(rampart_config::Abuse {
            enabled: true,
            max_auth_failures: max,
            max_rate_limited: max,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(ban_secs),
        })
    }

    #[test]
    fn failures_slow_then_ban_and_bans_grow() {
        let a = abuse(10, 5);
        let ip = Subjects {
            ip: "203.0.113.9".parse().expect("ip"),
            key_id: None,
        };
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..9).map(|_| a.failure(ip, t0)).collect();
        assert_eq!(delays[4], Duration::ZERO, "no delay in the first half");
        assert!(delays[8] > delays[6], "growing delay: {delays:?}");
        assert!(a.banned(ip, t0).is_none());
        a.failure(ip, t0);
        assert_eq!(a.banned(ip, t0), Some(Duration::from_secs(5)));
        let after = t0 + Duration::from_secs(6);
        assert!(a.banned(ip, after).is_none(), "the ban ends");
        for _ in 0..10 {
            a.failure(ip, after);
        }
        assert_eq!(
            a.banned(ip, after),
            Some(Duration::from_secs(10)),
            "doubled"
        );
    }

    #[test]
    fn the_window_resets_counts_and_subjects_are_separate() {
        let a = abuse(3, 5);
        let ip = Subjects {
            ip: "203.0.113.9".parse().expect("ip"),
            key_id: None,
        };
        let key = Subjects {
            ip: "198.51.100.1".parse().expect("ip"),
            key_id: Some("AAAAAAAAAAAA"),
        };
        let t0 = Instant::now();
        a.failure(ip, t0);
        a.failure(ip, t0);
        let later = t0 + Duration::from_secs(61);
        a.failure(ip, later);
        assert!(a.banned(ip, later).is_none(), "old failures expired");
        for _ in 0..3 {
            a.failure(key, later);
        }
        assert!(a.banned(key, later).is_some());
        assert!(a.banned(ip, later).is_none());
    }

    #[test]
    fn rate_limit_refusals_ban_on_their_own_count_without_slowing() {
        let a = Abuse::new(rampart_config::Abuse {
            max_rate_limited: 3,
            ..abuse(10, 5).settings()
        });
        let ip = Subjects {
            ip: "203.0.113.9".parse().expect("ip"),
            key_id: None,
        };
        let t0 = Instant::now();
        a.rate_limited(ip, t0);
        a.rate_limited(ip, t0);
        assert!(a.banned(ip, t0).is_none());
        // Authentication failures are counted apart: two of them don't add up to a ban.
        assert_eq!(a.failure(ip, t0), Duration::ZERO);
        assert!(a.banned(ip, t0).is_none());
        a.rate_limited(ip, t0);
        assert_eq!(a.banned(ip, t0), Some(Duration::from_secs(5)));
        // 0 turns the rate-limit bans off.
        let off = Abuse::new(rampart_config::Abuse {
            max_rate_limited: 0,
            ..abuse(10, 5).settings()
        });
        for _ in 0..100 {
            off.rate_limited(ip, t0);
        }
        assert!(off.banned(ip, t0).is_none());
    }

    #[test]
    fn off_means_off_and_the_table_is_bounded() {
        let a = Abuse::new(rampart_config::Abuse {
            enabled: false,
            ..rampart_config::Abuse::default()
        });
        let ip = Subjects {
            ip: "203.0.113.9".parse().expect("ip"),
            key_id: None,
        };
        for _ in 0..100 {
            a.failure(ip, Instant::now());
        }
        assert!(a.banned(ip, Instant::now()).is_none());
        assert_eq!(a.tracked(), 0);

        let a = abuse(5, 5);
        let t0 = Instant::now();
        for i in 0..(MAX_SUBJECTS as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv6Addr::from(u128::from(i)));
            a.failure(Subjects { ip, key_id: None }, t0);
        }
        assert!(a.tracked() <= MAX_SUBJECTS);
    }
}

//! The limiter state of one gateway: rates, quotas and requests in flight, each a bounded
//! [`Table`].

use std::sync::Arc;

use crate::table::{Pressure, Table};
use crate::{Quota, Rate, Verdict};

#[derive(Debug)]
pub struct Local {
    /// GCRA theoretical arrival times, nanoseconds on the caller's monotonic clock.
    rates: Table<u64>,
    /// Quota counts packed as `period id << 32 | count`.
    quotas: Table<u64>,
    /// Requests in flight per key; entries go when their count returns to zero.
    inflight: Table<u32>,
}

/// How much memory the tables hold, and their bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    pub keys: usize,
    pub heap_bytes: usize,
    pub bound_bytes: usize,
}

impl Local {
    /// Tables for at most `max_keys` keys each.
    pub fn new(max_keys: usize) -> Local {
        Local {
            rates: Table::new(max_keys),
            quotas: Table::new(max_keys),
            inflight: Table::new(max_keys),
        }
    }

    /// One request against a rate, at `now` nanoseconds.
    pub fn rate(&self, rate: &Rate, key: u64, now: u64) -> (Verdict, Pressure) {
        self.rates.update(
            key,
            |tat| Rate::idle(*tat, now),
            true,
            |tat| rate.decide(tat, now),
        )
    }

    /// One request against a quota, at `unix` seconds.
    pub fn quota(&self, quota: &Quota, key: u64, unix: i64) -> (Verdict, Pressure) {
        let unpack = |v: u64| ((v >> 32) as u32, v as u32);
        self.quotas.update(
            key,
            |v| quota.idle(unpack(*v).0, unix),
            true,
            |stored| {
                let (verdict, new) = quota.decide(stored.map(unpack), unix);
                (
                    verdict,
                    new.map(|(id, n)| (u64::from(id) << 32) | u64::from(n)),
                )
            },
        )
    }

    /// Takes one of `limit` slots for `key`; the slot is given back when the permit drops.
    /// `None` when all are taken (or the table is full of requests in flight).
    pub fn acquire(self: &Arc<Self>, limit: u32, key: u64) -> Option<Permit> {
        let (taken, pressure) = self.inflight.update(
            key,
            |n| *n == 0,
            false,
            |n| match n.unwrap_or(0) {
                n if n >= limit => (false, None),
                n => (true, Some(n + 1)),
            },
        );
        (taken && !pressure.full).then(|| Permit {
            local: Arc::clone(self),
            key,
        })
    }

    /// Requests in flight for `key`.
    pub fn in_flight(&self, key: u64) -> u32 {
        self.inflight.get(key).unwrap_or(0)
    }

    /// Drops what no decision needs any more: TATs in the past and counts of periods that
    /// are over. Returns the entries removed.
    pub fn sweep(&self, now: u64, unix: i64) -> usize {
        let day = crate::Period::Day.window(unix).id;
        let month = crate::Period::Month.window(unix).id;
        let rates = self.rates.sweep(|tat| Rate::idle(*tat, now));
        let quotas = self.quotas.sweep(|v| {
            let id = (v >> 32) as u32;
            match id & crate::quota::MONTH {
                0 => id < day,
                _ => id < month,
            }
        });
        rates + quotas
    }

    pub fn memory(&self) -> MemoryUse {
        MemoryUse {
            keys: self.rates.len() + self.quotas.len() + self.inflight.len(),
            heap_bytes: self.rates.heap_bytes()
                + self.quotas.heap_bytes()
                + self.inflight.heap_bytes(),
            bound_bytes: Table::<u64>::bound_bytes(self.rates.max_keys()) * 2
                + Table::<u32>::bound_bytes(self.inflight.max_keys()),
        }
    }

    /// Rate keys held now.
    pub fn rate_keys(&self) -> usize {
        self.rates.len()
    }
}

/// A slot of a concurrency limit, given back on drop.
#[derive(Debug)]
pub struct Permit {
    local: Arc<Local>,
    key: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.local
            .inflight
            .modify(self.key, |n| n.checked_sub(1).filter(|n| *n > 0));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{KeyHasher, Period};

    #[test]
    fn keys_are_limited_apart() {
        let local = Local::new(1_000);
        let hasher = KeyHasher::new();
        let limit = hasher.limit_id("orders/per-consumer");
        let rate = Rate::new(2, Duration::from_secs(1), 2).expect("rate");
        let (alice, bob) = (hasher.key(limit, b"alice"), hasher.key(limit, b"bob"));
        let now = 1_000_000_000;
        let admitted = |key| {
            (0..5)
                .filter(|_| local.rate(&rate, key, now).0.allowed)
                .count()
        };
        assert_eq!(admitted(alice), 2);
        assert_eq!(admitted(bob), 2);
        let other = hasher.key(hasher.limit_id("other"), b"alice");
        assert_eq!(admitted(other), 2, "another limit, its own count");
    }

    #[test]
    fn permits_count_requests_in_flight() {
        let local = Arc::new(Local::new(1_000));
        let a = local.acquire(2, 7).expect("first");
        let b = local.acquire(2, 7).expect("second");
        assert!(local.acquire(2, 7).is_none(), "third refused");
        assert!(local.acquire(2, 8).is_some(), "another key");
        drop(a);
        let c = local.acquire(2, 7).expect("a slot came back");
        drop((b, c));
        assert_eq!(local.in_flight(7), 0);
        assert_eq!(local.memory().keys, 0, "no entry left behind");
    }

    #[test]
    fn sweeping_forgets_only_what_no_decision_needs() {
        let local = Local::new(10_000);
        let rate = Rate::new(1, Duration::from_secs(10), 1).expect("rate");
        let daily = Quota {
            limit: 5,
            period: Period::Day,
        };
        let monthly = Quota {
            limit: 5,
            period: Period::Month,
        };
        let unix = 1_796_083_200 + 3_600; // 2026-12-01T01:00Z
        let now = 5_000_000_000;
        let hasher = KeyHasher::new();
        let key = |n: u64| hasher.key(7, &n.to_le_bytes());
        for n in 0..100 {
            local.rate(&rate, key(n), now);
            local.quota(&daily, key(n), unix);
            local.quota(&monthly, key(1_000 + n), unix);
        }
        assert_eq!(local.sweep(now, unix), 0, "everything is live");
        // Eleven seconds on, the rates are idle; the quotas still count.
        assert_eq!(local.sweep(now + 11_000_000_000, unix + 11), 100);
        // The next day the daily counts go; the monthly ones stay.
        assert_eq!(local.sweep(now, unix + 86_400), 100);
        assert_eq!(local.memory().keys, 100);
        let (v, _) = local.quota(&monthly, key(1_000), unix + 86_400);
        assert_eq!(v.remaining, 3, "the month's count was kept");
    }
}

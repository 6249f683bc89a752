//! The generic cell rate algorithm (GCRA): a rate of `limit` per `period` with a burst of
//! `burst`, kept as one number per key, the theoretical arrival time (TAT).
//!
//! Each admitted request moves the TAT one emission interval (`period / limit`) later; a
//! request is admitted while the TAT is at most `tolerance` (the burst less one interval)
//! ahead of now. It is smooth (no window edges to race at) and burst-tolerant, and a TAT
//! in the past carries no information, so such entries can be dropped without changing any
//! decision. The Redis script in the gateway runs the same arithmetic on the server's clock.

use std::time::Duration;

use crate::Verdict;

/// A rate limit, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    limit: u64,
    period: Duration,
    burst: u64,
    /// Nanoseconds between two requests at the sustained rate.
    interval: u64,
    /// How far ahead of now the TAT may run: `interval * (burst - 1)`.
    tolerance: u64,
}

impl Rate {
    /// `limit` requests per `period`, at most `burst` at once. `None` when a value is zero
    /// or the rate is finer than one request a nanosecond.
    pub fn new(limit: u64, period: Duration, burst: u64) -> Option<Rate> {
        let period_ns = u64::try_from(period.as_nanos()).ok()?;
        if limit == 0 || burst == 0 {
            return None;
        }
        let interval = period_ns / limit;
        if interval == 0 {
            return None;
        }
        Some(Rate {
            limit,
            period,
            burst,
            interval,
            tolerance: interval.checked_mul(burst - 1)?,
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    pub fn burst(&self) -> u64 {
        self.burst
    }

    pub fn interval_ns(&self) -> u64 {
        self.interval
    }

    pub fn tolerance_ns(&self) -> u64 {
        self.tolerance
    }

    /// The same rate shared by `instances` gateways that cannot see each other's counts:
    /// each admits its share (at least one request per period).
    pub fn share(&self, instances: u64) -> Rate {
        let instances = instances.max(1);
        let limit = (self.limit / instances).max(1);
        let burst = (self.burst / instances).max(1);
        Rate::new(limit, self.period, burst).unwrap_or(*self)
    }

    /// Decides one request arriving at `now` (nanoseconds on any monotonic clock) for a key
    /// whose stored TAT is `tat`. Returns the verdict and the TAT to store (`None`: keep).
    pub fn decide(&self, tat: Option<u64>, now: u64) -> (Verdict, Option<u64>) {
        let tat = tat.unwrap_or(now).max(now);
        let allow_at = tat.saturating_sub(self.tolerance);
        if now < allow_at {
            let verdict = Verdict {
                allowed: false,
                remaining: 0,
                reset: Duration::from_nanos(tat - now),
                retry_after: Duration::from_nanos(allow_at - now),
            };
            return (verdict, None);
        }
        let new_tat = tat.saturating_add(self.interval);
        let headroom = (now + self.tolerance + self.interval).saturating_sub(new_tat);
        let verdict = Verdict {
            allowed: true,
            remaining: headroom / self.interval,
            reset: Duration::from_nanos(new_tat - now),
            retry_after: Duration::ZERO,
        };
        (verdict, Some(new_tat))
    }

    /// Whether a stored TAT can be forgotten at `now` without changing any decision.
    pub fn idle(tat: u64, now: u64) -> bool {
        tat <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    /// Runs `n` requests at `now`, storing the TAT, and counts the admitted ones.
    fn admit(rate: &Rate, tat: &mut Option<u64>, now: u64, n: u32) -> u32 {
        let mut admitted = 0;
        for _ in 0..n {
            let (verdict, new) = rate.decide(*tat, now);
            if let Some(new) = new {
                *tat = Some(new);
            }
            admitted += u32::from(verdict.allowed);
        }
        admitted
    }

    #[test]
    fn a_burst_is_admitted_then_the_sustained_rate() {
        let rate = Rate::new(10, Duration::from_secs(1), 10).expect("rate");
        let mut tat = None;
        let t0 = 1_000 * SECOND;
        assert_eq!(admit(&rate, &mut tat, t0, 25), 10, "the burst, at once");
        // One emission interval (100 ms) later, exactly one more.
        assert_eq!(admit(&rate, &mut tat, t0 + SECOND / 10, 5), 1);
        // Over the next ten seconds, at a steady 20 a second offered: 10 a second pass.
        let mut admitted = 0;
        for i in 1..=200 {
            admitted += admit(&rate, &mut tat, t0 + SECOND / 10 + i * SECOND / 20, 1);
        }
        assert_eq!(admitted, 100);
    }

    #[test]
    fn remaining_retry_after_and_reset_are_exact() {
        let rate = Rate::new(4, Duration::from_secs(2), 4).expect("rate");
        let now = 50 * SECOND;
        let (first, tat) = rate.decide(None, now);
        assert!(first.allowed);
        assert_eq!(first.remaining, 3);
        assert_eq!(first.reset, Duration::from_millis(500));
        let mut tat = tat;
        for expected in [2, 1, 0] {
            let (v, new) = rate.decide(tat, now);
            assert!(v.allowed);
            assert_eq!(v.remaining, expected);
            tat = new;
        }
        let (refused, keep) = rate.decide(tat, now);
        assert!(!refused.allowed);
        assert_eq!(keep, None, "a refusal does not move the TAT");
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        assert_eq!(refused.reset, Duration::from_secs(2));
        // At the retry time it passes.
        let (later, _) = rate.decide(tat, now + SECOND / 2);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn a_smaller_burst_smooths_and_idle_state_is_forgettable() {
        let rate = Rate::new(60, Duration::from_secs(60), 1).expect("rate");
        let mut tat = None;
        let now = 7 * SECOND;
        assert_eq!(admit(&rate, &mut tat, now, 5), 1, "burst of one");
        let stored = tat.expect("stored");
        assert!(!Rate::idle(stored, now));
        assert!(Rate::idle(stored, now + SECOND));
        // Forgetting an idle TAT decides the same as keeping it.
        let later = now + 3 * SECOND;
        assert_eq!(rate.decide(tat, later), rate.decide(None, later));
    }

    #[test]
    fn degenerate_rates_are_refused_and_shares_never_reach_zero() {
        assert!(Rate::new(0, Duration::from_secs(1), 1).is_none());
        assert!(Rate::new(1, Duration::from_secs(1), 0).is_none());
        assert!(Rate::new(2_000_000_000, Duration::from_secs(1), 1).is_none());
        assert!(Rate::new(1, Duration::MAX, 1).is_none());
        let rate = Rate::new(100, Duration::from_secs(60), 20).expect("rate");
        let share = rate.share(3);
        assert_eq!((share.limit(), share.burst()), (33, 6));
        assert_eq!(rate.share(1000).limit(), 1);
        assert_eq!(rate.share(0), rate);
    }
}

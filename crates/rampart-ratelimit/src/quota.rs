//! Calendar quotas: at most `limit` requests per UTC day or per UTC month, counted per key
//! and reset when the period ends (not a sliding window: a plan's "10,000 a month" means the
//! calendar month).

use std::time::Duration;

use crate::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

/// The top bit of a month's window id, so that day and month ids never meet.
pub(crate) const MONTH: u32 = 1 << 31;

/// One period: a number that tells periods apart, and when it ends (Unix seconds). Ids of
/// days and months never coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub id: u32,
    pub end: i64,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The period that holds `unix` (seconds since the epoch, UTC).
    pub fn window(self, unix: i64) -> Window {
        let day = unix.div_euclid(86_400);
        match self {
            Period::Day => Window {
                id: u32::try_from(day.clamp(0, i64::from(!MONTH))).unwrap_or(0),
                end: (day + 1) * 86_400,
            },
            Period::Month => {
                let (year, month, _) = civil_from_days(day);
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                let index = year * 12 + i64::from(month) - 1;
                Window {
                    id: MONTH | u32::try_from(index.clamp(0, i64::from(!MONTH))).unwrap_or(0),
                    end: days_from_civil(next_year, next_month, 1) * 86_400,
                }
            }
        }
    }

    /// The nominal length, for the `w` parameter of `RateLimit-Policy`.
    pub fn nominal(self) -> Duration {
        match self {
            Period::Day => Duration::from_secs(86_400),
            Period::Month => Duration::from_secs(30 * 86_400),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Period,
}

impl Quota {
    /// Decides one request at `unix` for a key whose stored count is `stored` (period id,
    /// count). Returns the verdict and what to store (`None`: keep).
    pub fn decide(&self, stored: Option<(u32, u32)>, unix: i64) -> (Verdict, Option<(u32, u32)>) {
        let window = self.period.window(unix);
        let used = match stored {
            Some((id, count)) if id == window.id => count,
            _ => 0,
        };
        let until_end = Duration::from_secs(u64::try_from(window.end - unix).unwrap_or(0));
        if used >= self.limit {
            let verdict = Verdict {
                allowed: false,
                remaining: 0,
                reset: until_end,
                retry_after: until_end,
            };
            return (verdict, None);
        }
        let verdict = Verdict {
            allowed: true,
            remaining: u64::from(self.limit - used - 1),
            reset: until_end,
            retry_after: Duration::ZERO,
        };
        (verdict, Some((window.id, used + 1)))
    }

    /// Whether a stored count belongs to a period that is over.
    pub fn idle(&self, stored_id: u32, unix: i64) -> bool {
        stored_id < self.period.window(unix).id
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T00:00:00Z.
    const DEC_1: i64 = 1_796_083_200;

    #[test]
    fn calendar_arithmetic_round_trips() {
        for days in [-1_000_000, -1, 0, 59, 365, 11_016, 20_423, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(DEC_1 / 86_400), (2026, 12, 1));
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
    }

    #[test]
    fn periods_end_at_midnight_and_at_the_month_boundary() {
        let noon = DEC_1 + 12 * 3_600;
        assert_eq!(Period::Day.window(noon).end, DEC_1 + 86_400);
        // December ends on January 1st of the next year.
        let jan_1 = days_from_civil(2027, 1, 1) * 86_400;
        assert_eq!(Period::Month.window(noon).end, jan_1);
        assert_ne!(
            Period::Month.window(jan_1).id,
            Period::Month.window(noon).id
        );
        assert_eq!(
            Period::Month.window(jan_1 - 1).id,
            Period::Month.window(DEC_1).id
        );
        // February of a leap year.
        let feb = days_from_civil(2028, 2, 10) * 86_400;
        assert_eq!(
            Period::Month.window(feb).end,
            days_from_civil(2028, 3, 1) * 86_400
        );
    }

    #[test]
    fn a_quota_runs_out_and_resets_with_the_period() {
        let quota = Quota {
            limit: 3,
            period: Period::Day,
        };
        let at = DEC_1 + 23 * 3_600;
        let mut stored = None;
        for expected in [2, 1, 0] {
            let (v, new) = quota.decide(stored, at);
            assert!(v.allowed);
            assert_eq!(v.remaining, expected);
            stored = new;
        }
        let (refused, keep) = quota.decide(stored, at + 1_800);
        assert!(!refused.allowed);
        assert_eq!(keep, None);
        assert_eq!(refused.retry_after, Duration::from_secs(1_800));
        let tomorrow = DEC_1 + 86_400;
        let id = stored.expect("count").0;
        assert!(quota.idle(id, tomorrow));
        assert!(!quota.idle(id, tomorrow - 1));
        let (v, _) = quota.decide(stored, tomorrow);
        assert!(v.allowed, "a new day, a new quota");
        assert_eq!(v.remaining, 2);
    }
}

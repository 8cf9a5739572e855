//! Time as the session sees it: milliseconds on a monotonic clock the I/O layer owns.
//!
//! The session never reads a clock. Every call to [`crate::fsm::Session::handle`] says what time it
//! is, so a run is a pure function of its inputs and tests can replay it exactly.

use std::fmt;
use std::ops::Add;
use std::time::Duration;

/// A point in time: milliseconds since an origin the I/O layer picks (its start, usually).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

impl Time {
    pub const ZERO: Time = Time(0);

    pub const fn from_millis(ms: u64) -> Time {
        Time(ms)
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `now` on a clock that started at `origin` (zero when `now` is earlier).
    pub fn since(origin: std::time::Instant, now: std::time::Instant) -> Time {
        Time(millis(now.saturating_duration_since(origin)))
    }

    /// How long after `earlier` this is (zero when it is not after).
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Whole milliseconds, saturating; timers are never finer than that.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturating: a timer too far away to represent never fires.
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(millis(d)))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_millis(1500);
        assert_eq!(t + Duration::from_secs(2), Time::from_millis(3500));
        assert_eq!(
            Time::from_millis(u64::MAX - 1) + Duration::from_secs(1),
            Time::from_millis(u64::MAX)
        );
        assert_eq!(
            t.saturating_duration_since(Time::from_millis(500)),
            Duration::from_secs(1)
        );
        assert_eq!(Time::ZERO.saturating_duration_since(t), Duration::ZERO);
        assert_eq!(t.to_string(), "1.500s");
    }
}

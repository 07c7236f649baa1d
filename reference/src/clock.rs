//! Injectable time.
//!
//! Every TTL in the gateway (authorization codes, pending logins, access and refresh tokens) reads
//! the current time through [`Clock`], never from the system directly, so tests move time with
//! [`ManualClock`] instead of sleeping. [`OffsetClock`] is wall time pushed forward on request,
//! for the test-only `/__test/clock` hook (`test_clock.rs`) that lets a harness outside the
//! process check TTLs without waiting.
//!
//! Invariant: time has a resolution of one second, the resolution of JWT `iat`/`exp` (RFC 7519 §2
//! NumericDate), so a TTL of 120 s means "valid while `now < issued_at + 120`".

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (RFC 7519 NumericDate without fractions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The instant `d` after `self`, saturating instead of overflowing.
    pub fn after(self, d: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(d.as_secs()))
    }

    /// Seconds from `self` until `later`, zero if `later` is not after `self`.
    pub fn until(self, later: UnixTime) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the gateway gets "now" from.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UnixTime(secs)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// Starts at `start` (tests usually pass the system time, so tokens look realistic).
    pub fn new(start: UnixTime) -> ManualClock {
        ManualClock {
            now: AtomicU64::new(start.0),
        }
    }

    /// Starts at the current system time.
    pub fn starting_now() -> ManualClock {
        ManualClock::new(SystemClock.now())
    }

    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub fn set(&self, to: UnixTime) {
        self.now.store(to.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.now.load(Ordering::SeqCst))
    }
}

/// The wall clock plus an offset that only grows: real time keeps flowing, and
/// [`OffsetClock::advance`] adds to the offset. The gateway's clock when started with
/// `--test-clock`, so that a conformance suite can expire codes and tokens over HTTP (it never
/// goes back: a clock that rewinds would make a used code or a rotated refresh token live again).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicU64,
}

impl OffsetClock {
    /// Starts at the system time (offset 0).
    pub fn new() -> OffsetClock {
        OffsetClock::default()
    }

    /// Moves the clock forward by `by` (whole seconds, the clock's resolution), saturating.
    pub fn advance(&self, by: Duration) {
        let secs = by.as_secs();
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = self
            .offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(secs))
            });
    }

    /// Seconds added to the system time so far.
    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::SeqCst)
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixTime {
        SystemClock.now().after(Duration::from_secs(self.offset()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(UnixTime(1_000));
        assert_eq!(clock.now(), UnixTime(1_000));
        clock.advance(Duration::from_secs(120));
        assert_eq!(clock.now(), UnixTime(1_120));
        assert_eq!(UnixTime(1_000).until(clock.now()), 120);
        assert_eq!(clock.now().until(UnixTime(1_000)), 0);
    }

    #[test]
    fn offset_clock_is_system_time_plus_what_was_advanced() {
        let clock = OffsetClock::new();
        assert_eq!(clock.offset(), 0);
        let before = SystemClock.now();
        let now = clock.now();
        assert!(before <= now && now.0 <= SystemClock.now().0);

        clock.advance(Duration::from_secs(121));
        clock.advance(Duration::from_millis(3_999)); // whole seconds only
        assert_eq!(clock.offset(), 124);
        let before = SystemClock.now();
        let now = clock.now();
        assert!(before.after(Duration::from_secs(124)) <= now);
        assert!(now <= SystemClock.now().after(Duration::from_secs(124)));

        clock.advance(Duration::from_secs(u64::MAX));
        assert_eq!(clock.offset(), u64::MAX, "saturates instead of wrapping");
    }
}

//! Where time is read: the system clock, or tokio's (which tests pause).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the retry loop and the checks read the time and sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The operating system's monotonic clock.
    System,
    /// Tokio's clock, which tests can pause and advance.
    Tokio,
}

impl TimeSource {
    #[inline]
    pub fn now(self) -> Instant {
        match self {
            TimeSource::System => Instant::now(),
            TimeSource::Tokio => tokio::time::Instant::now().into_std(),
        }
    }
}

/// Microseconds since the Unix epoch: the wall clock as results record it.
pub fn unix_us() -> i64 {
    i64::try_from(since_epoch().as_micros()).unwrap_or(i64::MAX)
}

/// Unix microseconds as an RFC 3339 time in UTC, to the millisecond:
/// `2026-12-06T10:00:00.000Z`.
pub fn rfc3339_ms(unix_us: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_micros(unix_us.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Nanoseconds since the Unix epoch.
pub fn unix_ns() -> u64 {
    since_epoch().as_nanos() as u64
}

/// Seconds since the Unix epoch.
pub fn unix_s() -> u64 {
    since_epoch().as_secs()
}

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

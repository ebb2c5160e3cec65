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

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

//! When the workers start, for drivers that must start together: at a
//! wall-clock instant every driver was given (`run --start-at TIME`), or
//! once every driver of the run is ready (`--start-at barrier`, see
//! [`barrier`]). The driver waits after its load phase and before its
//! workers start, on the system clock, to about a millisecond: it sleeps
//! until shortly before the instant and spins (yielding the core) for the
//! rest. A driver ready only after the instant starts at once and says
//! how late it is.

pub mod barrier;

use std::time::Duration;

pub use barrier::Barrier;

use super::Interrupt;
use crate::metrics::{StartHow, StartInfo};
use crate::vocab::time::{rfc3339_ms, unix_us};

/// When this driver's workers start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPlan {
    /// At this wall-clock instant, Unix microseconds.
    At(i64),
    /// When every driver of the run is ready, plus a lead.
    Barrier(Barrier),
}

/// Why a driver could not begin at the agreed instant. Nothing was
/// measured; the barrier's ready file is all the driver wrote.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A start instant is wall-clock time, but the run reads tokio's clock
    /// (which tests pause), on which no wall-clock instant ever comes. Run
    /// on the system clock, or without a start plan.
    #[error(
        "a start instant (--start-at) needs the system clock, and this run reads tokio's clock"
    )]
    PausedClock,
    /// The barrier's directory could not be made, read or written: a
    /// missing mount, or no permission. Fix the --results-dir volume.
    #[error("start barrier: {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// This shard's ready file was there already: a driver of this run id
    /// and shard has run before (or is running). Nothing was overwritten;
    /// give the run a new --run-id.
    #[error(
        "start barrier: {path} already exists: shard {shard} of this run id was ready before (the run id is used already; nothing overwritten): choose a new --run-id"
    )]
    AlreadyReady { path: String, shard: String },
    /// A file in the barrier's directory is named as a ready file but does
    /// not hold Unix microseconds, or is of another number of drivers:
    /// drivers with different --shards (or Job completions) share the run
    /// id, or something else writes there. Give each run its own id.
    #[error("start barrier: {path}: {why}; give every run its own --run-id")]
    Foreign { path: String, why: String },
    /// Not every driver was ready before --barrier-timeout: those named did
    /// not start, or are still loading. Start them (check the Job's pods),
    /// or raise --barrier-timeout.
    #[error(
        "start barrier: shards {} not ready after {} (ready files in {dir}); start them, or raise --barrier-timeout",
        missing.join(", "), humantime::format_duration(*after)
    )]
    Timeout {
        /// `I/N` of each missing shard.
        missing: Vec<String>,
        after: Duration,
        dir: String,
    },
}

/// How the wait went, to be recorded once the measured phase's start is
/// known ([`Waited::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    pub how: StartHow,
    /// The agreed start of the workers.
    pub at_unix_us: i64,
    /// When this driver was ready to start.
    pub ready_unix_us: i64,
    /// It was ready only after `at_unix_us`, and started at once.
    pub late: bool,
}

impl Waited {
    /// The result's `start` section: the workers started at the agreed
    /// instant (or late), so the measured phase was to begin `warmup`
    /// after it; it really began at `measure_start_unix_us`.
    pub fn info(&self, warmup: Duration, measure_start_unix_us: i64) -> StartInfo {
        let measure_at = self.at_unix_us + micros(warmup);
        StartInfo {
            how: self.how,
            at_unix_us: self.at_unix_us,
            measure_at_unix_us: measure_at,
            skew_us: measure_start_unix_us - measure_at,
            ready_unix_us: self.ready_unix_us,
            late: self.late,
        }
    }
}

/// How long before the instant the coarse sleep ends; the rest is spun.
/// Generous: on a busy machine a sleeping process wakes milliseconds late.
const FINE: Duration = Duration::from_millis(10);

/// The longest sleep between looks at the interrupt.
const STEP: Duration = Duration::from_millis(50);

/// Waits for the plan's instant. `None`: the interrupt fired first.
pub async fn wait(plan: &StartPlan, interrupt: &Interrupt) -> Result<Option<Waited>, StartError> {
    let ready = unix_us();
    let (how, at) = match plan {
        StartPlan::At(at) => (StartHow::Time, *at),
        StartPlan::Barrier(b) => match b.meet(ready, interrupt).await? {
            Some(at) => (StartHow::Barrier, at),
            None => return Ok(None),
        },
    };
    let now = unix_us();
    let late = now > at;
    if late {
        eprintln!(
            "tikv-bench: start: late by {}: the start was {}, this driver was ready at {}; it starts now, and its result records the skew",
            seconds(now - at),
            rfc3339_ms(at),
            rfc3339_ms(now)
        );
    } else {
        eprintln!("start at {}, in {}", rfc3339_ms(at), seconds(at - now));
        if !sleep_until(at, interrupt).await {
            return Ok(None);
        }
    }
    Ok(Some(Waited {
        how,
        at_unix_us: at,
        ready_unix_us: ready,
        late,
    }))
}

/// Sleeps until the wall clock reads `at_unix_us`: in steps until
/// [`FINE`] before it (an interrupt ends the wait: `false`), then spinning.
async fn sleep_until(at_unix_us: i64, interrupt: &Interrupt) -> bool {
    let fine = micros(FINE);
    loop {
        if interrupt.fired() {
            return false;
        }
        let left = at_unix_us - unix_us();
        if left <= fine {
            break;
        }
        let step = Duration::from_micros((left - fine) as u64).min(STEP);
        tokio::time::sleep(step).await;
    }
    // Tokio's timer wakes to the millisecond at best, and later on a busy
    // machine: the last few milliseconds are spun on the clock itself.
    while unix_us() < at_unix_us {
        std::thread::yield_now();
    }
    true
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `12.3s`, `0.004s`: a span of microseconds, to the millisecond.
fn seconds(us: i64) -> String {
    let s = us as f64 / 1e6;
    if s.abs() < 10.0 {
        format!("{s:.3}s")
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skew_is_the_measured_start_against_the_instant_plus_warmup() {
        let waited = Waited {
            how: StartHow::Time,
            at_unix_us: 10_000_000,
            ready_unix_us: 9_000_000,
            late: false,
        };
        let info = waited.info(Duration::from_secs(2), 12_000_250);
        assert_eq!(info.measure_at_unix_us, 12_000_000);
        assert_eq!(info.skew_us, 250);
        assert_eq!(info.ready_unix_us, 9_000_000);
        let early = waited.info(Duration::ZERO, 9_999_990);
        assert_eq!(early.skew_us, -10);
    }

    #[tokio::test]
    async fn a_wait_ends_at_the_instant_to_the_millisecond() {
        let at = unix_us() + 200_000;
        let plan = StartPlan::At(at);
        let waited = wait(&plan, &Interrupt::default()).await.unwrap().unwrap();
        let now = unix_us();
        assert!(!waited.late);
        assert!(now >= at, "woke {}us early", at - now);
        // Generous: the machine may be busy.
        assert!(now - at < 200_000, "woke {}us late", now - at);
    }

    #[tokio::test]
    async fn an_instant_passed_starts_at_once_and_is_late() {
        let at = unix_us() - 5_000_000;
        let waited = wait(&StartPlan::At(at), &Interrupt::default())
            .await
            .unwrap()
            .unwrap();
        assert!(waited.late);
        assert!(waited.ready_unix_us - at >= 5_000_000);
    }

    #[tokio::test]
    async fn an_interrupt_ends_the_wait() {
        let interrupt = Interrupt::default();
        interrupt.fire();
        let plan = StartPlan::At(unix_us() + 60_000_000);
        assert_eq!(wait(&plan, &interrupt).await.unwrap(), None);
    }
}

//! The retry loop: one attempt after another, as the workload's
//! [`RetryPolicy`] allows, with exponential backoff, jitter, an attempt
//! limit and a time budget. Used for every op and for the load phase.

use std::time::{Duration, Instant};

use rand::RngExt;

use crate::backend::{Backend, ErrorKind, Events, Op, OpError, Outcome};
use crate::workload::stream::Rng;
use crate::workload::{Jitter, RetryPolicy};

/// Computes backoff delays; owns the jitter random stream so that jitter
/// never disturbs the op stream.
#[derive(Debug, Clone)]
pub struct Backoff {
    rng: Rng,
}

impl Backoff {
    pub fn new(rng: Rng) -> Backoff {
        Backoff { rng }
    }

    /// The sleep before attempt `attempt + 1`, after `attempt` failures.
    pub fn delay(&mut self, policy: &RetryPolicy, attempt: u32) -> Duration {
        let exp = policy
            .multiplier
            .powi(attempt.saturating_sub(1).min(1000) as i32);
        let raw = policy.base_delay.as_secs_f64() * exp;
        let capped = Duration::from_secs_f64(raw.min(policy.max_delay.as_secs_f64()));
        match policy.jitter {
            Jitter::None => capped,
            Jitter::Full => capped.mul_f64(self.rng.random::<f64>()),
            Jitter::Equal => capped / 2 + (capped / 2).mul_f64(self.rng.random::<f64>()),
        }
    }
}

/// How an op ended after all its attempts.
#[derive(Debug)]
pub struct Attempts {
    pub result: Result<Outcome, OpError>,
    /// Some attempt's effect is unknown, so a final failure is "unknown",
    /// not "failed".
    pub undetermined: bool,
    pub attempts: u32,
}

/// Where the retry loop reads the time and sleeps.
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

/// Runs `op` until it succeeds, fails with an error the policy does not
/// retry, runs out of attempts, or would overrun `deadline`. `on_retry` is
/// told of every retry with its cause and the sleep that precedes it.
#[allow(clippy::too_many_arguments)]
pub async fn execute<B: Backend>(
    backend: &B,
    op: Op<'_>,
    mutates: bool,
    policy: &RetryPolicy,
    backoff: &mut Backoff,
    deadline: Instant,
    time: TimeSource,
    events: &mut Events,
    mut on_retry: impl FnMut(ErrorKind, Duration),
) -> Attempts {
    let mut attempt = 1;
    let mut undetermined = false;
    loop {
        let result =
            match tokio::time::timeout_at(deadline.into(), backend.execute(op, events)).await {
                Ok(r) => r,
                Err(_) => Err(OpError {
                    kind: ErrorKind::Timeout,
                    undetermined: mutates,
                    message: format!(
                        "retry budget of {} used up during attempt {attempt}",
                        humantime::format_duration(policy.budget)
                    ),
                }),
            };
        let err = match result {
            Ok(outcome) => {
                return Attempts {
                    result: Ok(outcome),
                    undetermined,
                    attempts: attempt,
                };
            }
            Err(e) => e,
        };
        undetermined |= err.undetermined;
        if attempt >= policy.max_attempts || !policy.retries(err.kind) {
            return Attempts {
                result: Err(err),
                undetermined,
                attempts: attempt,
            };
        }
        let delay = backoff.delay(policy, attempt);
        if time.now() + delay >= deadline {
            return Attempts {
                result: Err(err),
                undetermined,
                attempts: attempt,
            };
        }
        on_retry(err.kind, delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::stream::rng_for;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            multiplier: 2.0,
            max_delay: Duration::from_millis(100),
            jitter,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let mut b = Backoff::new(rng_for(1, 1));
        let p = policy(Jitter::None);
        let ms: Vec<u128> = (1..=6).map(|a| b.delay(&p, a).as_millis()).collect();
        assert_eq!(ms, vec![10, 20, 40, 80, 100, 100]);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let mut b = Backoff::new(rng_for(1, 1));
        for attempt in 1..8 {
            let cap = policy(Jitter::None);
            let full_max = Backoff::new(rng_for(0, 0)).delay(&cap, attempt);
            for _ in 0..200 {
                let f = b.delay(&policy(Jitter::Full), attempt);
                assert!(f <= full_max);
                let e = b.delay(&policy(Jitter::Equal), attempt);
                assert!(e >= full_max / 2 && e <= full_max, "{e:?} vs {full_max:?}");
            }
        }
    }
}

//! The retry loop: one attempt after another, as the workload's
//! [`RetryPolicy`] allows, with exponential backoff, jitter, an attempt
//! limit and a time budget. Used for every op and for the load phase.

use std::time::{Duration, Instant};

use super::{Backend, Operation};
use crate::vocab::trace::{self, Step};
use crate::vocab::{Backoff, ErrorKind, Events, OpError, Outcome, RetryPolicy, TimeSource};

/// How one op is retried: the workload's policy, the caller's backoff (its
/// own random stream), the op's deadline and the clock.
#[derive(Debug)]
pub struct Retry<'a> {
    pub policy: &'a RetryPolicy,
    pub backoff: &'a mut Backoff,
    /// No attempt runs, and no sleep ends, past this instant.
    pub deadline: Instant,
    pub time: TimeSource,
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

/// Runs `op` until it succeeds, fails with an error the policy does not
/// retry, runs out of attempts, or would overrun the deadline. `on_retry`
/// is told of every retry with its cause and the sleep that precedes it,
/// and the op's trace gets it as a step.
pub async fn execute<B: Backend, O: Operation>(
    backend: &B,
    op: &O,
    retry: Retry<'_>,
    events: &mut Events,
    mut on_retry: impl FnMut(ErrorKind, Duration),
) -> Attempts {
    let Retry {
        policy,
        backoff,
        deadline,
        time,
    } = retry;
    let mutates = op.mutates();
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
        let step = Step::Retry {
            attempt,
            kind: err.kind,
        };
        events.trace_mut().push(trace::now(), delay, step);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        attempt += 1;
    }
}

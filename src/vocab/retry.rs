//! The retry policy and the one backoff that the driver, the client and the
//! checks all sleep by.

use std::time::Duration;

use rand::RngExt;
use serde::Serialize;

use super::error::ErrorKind;
use super::fmt::ser_duration;
use super::rng::Rng;

/// How the computed delay is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Sleep exactly the computed delay.
    None,
    /// Sleep uniformly in [0, delay].
    Full,
    /// Sleep delay/2 plus uniformly in [0, delay/2].
    Equal,
}

/// When and how often an operation is tried again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    #[serde(serialize_with = "ser_duration")]
    pub base_delay: Duration,
    pub multiplier: f64,
    #[serde(serialize_with = "ser_duration")]
    pub max_delay: Duration,
    pub jitter: Jitter,
    /// Time allowed for one operation, all attempts and sleeps included.
    #[serde(serialize_with = "ser_duration")]
    pub budget: Duration,
    /// Error kinds worth another attempt.
    #[serde(serialize_with = "ser_kinds")]
    pub on: Vec<ErrorKind>,
}

impl RetryPolicy {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(2);
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(500);
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);
    /// Transient errors: routing, overload, locks and conflicts.
    pub const DEFAULT_ON: &'static [ErrorKind] = &[
        ErrorKind::ServerIsBusy,
        ErrorKind::Unavailable,
        ErrorKind::NotLeader,
        ErrorKind::EpochNotMatch,
        ErrorKind::RegionNotFound,
        ErrorKind::KeyNotInRegion,
        ErrorKind::KeyIsLocked,
        ErrorKind::WriteConflict,
        ErrorKind::Deadlock,
    ];

    pub fn retries(&self, kind: ErrorKind) -> bool {
        self.on.contains(&kind)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_delay: Self::DEFAULT_BASE_DELAY,
            multiplier: Self::DEFAULT_MULTIPLIER,
            max_delay: Self::DEFAULT_MAX_DELAY,
            jitter: Jitter::Full,
            budget: Self::DEFAULT_BUDGET,
            on: Self::DEFAULT_ON.to_vec(),
        }
    }
}

fn ser_kinds<S: serde::Serializer>(kinds: &[ErrorKind], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(kinds.iter().map(|k| k.as_str()))
}

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

    /// The sleep before attempt `attempt + 1`, after `attempt` failures:
    /// `base * multiplier^(attempt-1)`, at most `max_delay`, then jittered.
    pub fn delay(&mut self, policy: &RetryPolicy, attempt: u32) -> Duration {
        let capped = Self::unjittered(policy, attempt);
        match policy.jitter {
            Jitter::None => capped,
            Jitter::Full => capped.mul_f64(self.rng.random::<f64>()),
            Jitter::Equal => capped / 2 + (capped / 2).mul_f64(self.rng.random::<f64>()),
        }
    }

    /// The delay before jitter (for policies without jitter no random
    /// stream is needed).
    pub fn unjittered(policy: &RetryPolicy, attempt: u32) -> Duration {
        exponential(
            policy.base_delay,
            policy.multiplier,
            policy.max_delay,
            attempt,
        )
    }

    /// Plain doubling from `base` up to `max`, without jitter: the shape of
    /// a fixed internal backoff (waiting out a live lock's holder).
    pub fn doubling(base: Duration, max: Duration, attempt: u32) -> Duration {
        exponential(base, 2.0, max, attempt)
    }
}

/// `base * multiplier^(attempt-1)`, at most `max`.
fn exponential(base: Duration, multiplier: f64, max: Duration, attempt: u32) -> Duration {
    let exp = multiplier.powi(attempt.saturating_sub(1).min(1000) as i32);
    Duration::from_secs_f64((base.as_secs_f64() * exp).min(max.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::rng::rng_for;

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
    fn doubling_is_the_policy_without_jitter() {
        let ms = Duration::from_millis;
        let d: Vec<u128> = (1..=8)
            .map(|a| Backoff::doubling(ms(1), ms(32), a).as_millis())
            .collect();
        assert_eq!(d, vec![1, 2, 4, 8, 16, 32, 32, 32]);
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

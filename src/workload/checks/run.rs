//! The checks around a run: [`setup`] writes each check's data before the
//! measured phase, a [`Monitor`] task reads it every `every` while the
//! workers run, and [`verify`] judges the workers' logs against what is
//! read after the run, one [`CheckVerdict`] per check.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::verdict::Found;
use super::{CheckVerdict, Checks, Judge, Observed, WorkerLog};
use crate::backend::retry::{self, Retry};
use crate::backend::{Backend, RawLoad, TxnLoad};
use crate::vocab::{Backoff, CheckMode, Events, OpError, RetryPolicy, Stream, TimeSource};
use crate::workload::Workload;

/// Reads for the checks, each retried (any error) with the workload's
/// backoff until it succeeds or `patience` has passed: the faults go on
/// after the workers stop.
pub struct Reads<'a, B> {
    backend: &'a B,
    policy: &'a RetryPolicy,
    time: TimeSource,
}

impl<'a, B: Backend> Reads<'a, B> {
    pub fn new(backend: &'a B, policy: &'a RetryPolicy, time: TimeSource) -> Reads<'a, B> {
        Reads {
            backend,
            policy,
            time,
        }
    }

    /// How long one read may keep retrying.
    fn patience(&self) -> Duration {
        self.policy.budget.max(Duration::from_secs(20))
    }

    async fn retrying<T, F: Future<Output = Result<T, OpError>>>(
        &self,
        mut read: impl FnMut() -> F,
    ) -> Result<T, OpError> {
        let deadline = self.time.now() + self.patience();
        let mut backoff = Backoff::new(Stream::ChecksJitter.rng(0));
        let mut attempt = 0;
        loop {
            let err = match read().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            attempt += 1;
            let delay = backoff
                .delay(self.policy, attempt)
                .max(Duration::from_millis(1));
            if self.time.now() + delay >= deadline {
                return Err(err);
            }
            tokio::time::sleep(delay).await;
        }
    }

    pub async fn raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.retrying(|| self.backend.read_raw(keys)).await
    }

    pub async fn txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.retrying(|| self.backend.read_txn(keys)).await
    }

    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, OpError> {
        self.retrying(|| self.backend.scan_raw(start, end, limit))
            .await
    }

    /// Reads `keys` in the space `mode` names (raw for CAS).
    pub async fn in_space(
        &self,
        mode: CheckMode,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        match mode {
            CheckMode::Cas => self.raw(keys).await,
            _ => self.txn(keys).await,
        }
    }
}

/// The least time the setup's writes may take, whatever the op budget.
const SETUP_BUDGET: Duration = Duration::from_secs(10);

/// Why the checks could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A check's initial data could not be written within the retry
    /// policy (the cluster is down or overloaded): fix the target, or give
    /// `client.retry` more attempts or budget.
    #[error("check setup: writing {what} failed after {attempts} attempt(s): {error}")]
    Write {
        what: &'static str,
        attempts: u32,
        error: OpError,
    },
}

/// Writes each check's initial data (bank accounts, stock, a free lock),
/// retried by the workload's policy. A failure stops the run: checking
/// data that was never written proves nothing.
pub async fn setup<B: Backend>(
    w: &Workload,
    backend: &B,
    time: TimeSource,
) -> Result<(), SetupError> {
    let policy = &w.client.retry;
    let mut backoff = Backoff::new(Stream::ChecksJitter.rng(w.seed));
    let mut events = Events::default();
    for s in w.checks.setups() {
        // Setup is not measured: it may take as long as a check's read.
        let retry = Retry {
            policy,
            backoff: &mut backoff,
            deadline: time.now() + policy.budget.max(SETUP_BUDGET),
            time,
        };
        let out = if s.txn {
            let op = TxnLoad { pairs: &s.pairs };
            retry::execute(backend, &op, retry, &mut events, |_, _| {}).await
        } else {
            let op = RawLoad { pairs: &s.pairs };
            retry::execute(backend, &op, retry, &mut events, |_, _| {}).await
        };
        if let Err(error) = out.result {
            return Err(SetupError::Write {
                what: s.what,
                attempts: out.attempts,
                error,
            });
        }
    }
    Ok(())
}

/// One check's reads during the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Reads that answered (bank: snapshots).
    pub reads: u64,
    /// Reads that failed (faults); not violations.
    pub failed_reads: u64,
    pub first_error: Option<String>,
    pub found: Found,
}

impl Seen {
    /// Counts a read that failed, keeping the first error.
    pub fn failed(&mut self, e: &OpError) {
        self.failed_reads += 1;
        self.first_error.get_or_insert_with(|| e.to_string());
    }
}

/// The checker task that reads during the run (bank totals, the stock).
pub struct Monitor {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Observed>,
}

impl Monitor {
    /// Starts the task if a check reads during the run. Each read is tried
    /// once: a read that meets a fault is counted, and the next one comes
    /// `every` later.
    pub fn start<B: Backend>(w: &Workload, backend: Arc<B>, time: TimeSource) -> Option<Monitor> {
        let checks: Checks = w.checks.clone();
        if !checks.observes() {
            return None;
        }
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let base = time.now();
            let mut seen = Observed::default();
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(checks.every) => {}
                }
                let at = time.now().saturating_duration_since(base);
                checks.observe(&*backend, at, &mut seen).await;
            }
            seen
        });
        Some(Monitor { stop, task })
    }

    /// Stops the task and returns what it saw.
    pub async fn stop(self) -> Observed {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// What the verification needs beyond the backend.
#[derive(Debug)]
pub struct Input<'a> {
    pub workload: &'a Workload,
    /// Every worker's log.
    pub logs: Vec<WorkerLog>,
    pub observed: Observed,
    /// Whether the load phase wrote records `0..load.records` (their
    /// values are known); otherwise keys nobody wrote are not judged.
    pub preloaded: bool,
    /// Times in messages count from here (the start of the run).
    pub base: Instant,
    pub time: TimeSource,
}

/// Judges every check that is on, after the run.
pub async fn verify<B: Backend>(backend: &B, input: Input<'_>) -> Vec<CheckVerdict> {
    let w = input.workload;
    let judge = Judge {
        workload: w,
        logs: &input.logs,
        reads: Reads::new(backend, &w.client.retry, input.time),
        preloaded: input.preloaded,
        base: input.base,
    };
    w.checks.verify(&judge, input.observed).await
}

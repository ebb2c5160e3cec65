//! The checks around a run: [`setup`] writes each check's data before the
//! measured phase, a [`Monitor`] task reads it every `every` while the
//! workers run, and [`verify`] judges the workers' logs against what is
//! read after the run, one [`CheckVerdict`] per check.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::config::{Checks, LOCK_FREE, LOCK_KEY, STOCK_KEY, account_key};
use super::readback::Model;
use super::tracker::WorkerLog;
use super::verdict::Found;
use super::{CheckVerdict, bank, inventory, lock, readback};
use crate::backend::Backend;
use crate::backend::retry;
use crate::vocab::RetryPolicy;
use crate::vocab::TimeSource;
use crate::vocab::{Backoff, Stream};
use crate::vocab::{CheckMode, Events, Op, OpError};
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

/// Every bank account's key.
pub(super) fn account_keys(accounts: u32) -> Vec<Vec<u8>> {
    (0..accounts).map(account_key).collect()
}

/// The least time the setup's writes may take, whatever the op budget.
const SETUP_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes each check's initial data (bank accounts, stock, a free lock),
/// retried by the workload's policy. A failure stops the run: checking
/// data that was never written proves nothing.
pub async fn setup<B: Backend>(w: &Workload, backend: &B, time: TimeSource) -> anyhow::Result<()> {
    let c = &w.checks;
    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
    let mut writes: Vec<(&str, bool, Pairs)> = Vec::new();
    if let Some(b) = c.bank {
        let balance = b.initial.to_string().into_bytes();
        let pairs = account_keys(b.accounts)
            .into_iter()
            .map(|k| (k, balance.clone()))
            .collect();
        writes.push(("the bank accounts", true, pairs));
    }
    if let Some(i) = c.inventory {
        let pairs = vec![(STOCK_KEY.to_vec(), i.stock.to_string().into_bytes())];
        writes.push(("the inventory stock", i.mode != CheckMode::Cas, pairs));
    }
    if let Some(l) = c.lock {
        let pairs = vec![(LOCK_KEY.to_vec(), LOCK_FREE.to_vec())];
        writes.push(("the free lock", l.mode != CheckMode::Cas, pairs));
    }
    let policy = &w.client.retry;
    let mut backoff = Backoff::new(Stream::ChecksJitter.rng(w.seed));
    let mut events = Events::default();
    for (what, txn, pairs) in &writes {
        let op = if *txn {
            Op::TxnBatchPut { pairs }
        } else {
            Op::BatchPut { pairs }
        };
        // Setup is not measured: it may take as long as a check's read.
        let deadline = time.now() + policy.budget.max(SETUP_BUDGET);
        let out = retry::execute(
            backend,
            op,
            true,
            policy,
            &mut backoff,
            deadline,
            time,
            &mut events,
            |_, _| {},
        )
        .await;
        if let Err(e) = out.result {
            anyhow::bail!(
                "check setup: writing {what} failed after {} attempt(s): {e}",
                out.attempts
            );
        }
    }
    Ok(())
}

/// What the checker task saw during the run, per check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub bank: Seen,
    pub inventory: Seen,
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
    fn failed(&mut self, e: &OpError) {
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
        let c: Checks = w.checks.clone();
        if c.bank.is_none() && c.inventory.is_none() {
            return None;
        }
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let base = time.now();
            let accounts = c.bank.map(|b| account_keys(b.accounts)).unwrap_or_default();
            let stock = [STOCK_KEY.to_vec()];
            let mut seen = Observed::default();
            let mut last_stock = None;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(c.every) => {}
                }
                let at = time.now().saturating_duration_since(base);
                if let Some(b) = c.bank {
                    match backend.read_txn(&accounts).await {
                        Ok(values) => {
                            seen.bank.reads += 1;
                            bank::observe(&b, &values, at, &mut seen.bank.found);
                        }
                        Err(e) => seen.bank.failed(&e),
                    }
                }
                if let Some(i) = c.inventory {
                    let read = match i.mode {
                        CheckMode::Cas => backend.read_raw(&stock).await,
                        _ => backend.read_txn(&stock).await,
                    };
                    match read {
                        Ok(v) => {
                            seen.inventory.reads += 1;
                            let found = &mut seen.inventory.found;
                            inventory::observe(&i, v[0].as_deref(), at, &mut last_stock, found);
                        }
                        Err(e) => seen.inventory.failed(&e),
                    }
                }
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
    let c = &w.checks;
    let reads = Reads::new(backend, &w.client.retry, input.time);
    let logs = &input.logs;
    let mut out = Vec::new();
    if let Some(b) = c.bank {
        let last = reads.txn(&account_keys(b.accounts)).await;
        out.push(bank::verify(&b, logs, &input.observed.bank, last));
    }
    if let Some(i) = c.inventory {
        let last = reads.in_space(i.mode, &[STOCK_KEY.to_vec()]).await;
        out.push(inventory::verify(&i, logs, &input.observed.inventory, last));
    }
    if let Some(l) = c.lock {
        out.push(lock::verify(&l, logs, input.base));
    }
    if c.readback.is_some() {
        let model = Model::new(w, logs, input.preloaded, input.base);
        out.push(readback::verify(&model, &reads).await);
        if c.scan.is_some() {
            out.push(readback::verify_scan(&model, &reads).await);
        }
    }
    out
}

//! The load phase: records `0..load.records` (this driver's share) written
//! into each key space the ops use, in batches, from `load.concurrency`
//! tasks. A batch that still fails after the retry policy stops the run:
//! measuring over missing data is useless.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::progress::{Phase, Progress};
use super::{RunError, share};
use crate::backend::retry::{self, Retry};
use crate::backend::{Backend, Operation, RawLoad, TxnLoad};
use crate::metrics::result::LoadResult;
use crate::vocab::{Backoff, Events, Pair, RetryPolicy, Stream, TimeSource};
use crate::workload::keys::KeyFormat;
use crate::workload::stream::ValuePool;
use crate::workload::{Api, Load, Workload};

/// The least time a load batch has, attempts and sleeps included. A
/// workload's `retry.budget` is set for its measured ops (a tight one
/// measures how often ops give up); loading is not measured, and a batch
/// that gave up would stop the run.
pub const LOAD_BUDGET_FLOOR: Duration = Duration::from_secs(10);

/// Writes `records` in batches and says how long it took.
pub(super) async fn run<B: Backend>(
    workload: &Workload,
    records: Range<u64>,
    backend: &Arc<B>,
    values: &ValuePool,
    time: TimeSource,
    progress: &Progress,
) -> Result<LoadResult, RunError> {
    let l = workload.load;
    let count = records.end - records.start;
    let started = time.now();
    let done = Arc::new(AtomicU64::new(0));
    let spaces = usize::from(workload.uses_raw()) + usize::from(workload.uses_txn());
    progress.set(Phase::Load {
        done: done.clone(),
        total: count * spaces as u64,
        spaces: spaces as u64,
    });
    let tasks = l
        .concurrency
        .min(count.div_ceil(u64::from(l.batch)).max(1) as u32) as usize;
    let mut set = tokio::task::JoinSet::new();
    let mut from = records.start;
    for t in 0..tasks {
        let n = share(count, t, tasks);
        let task = Task {
            backend: backend.clone(),
            values: values.clone(),
            done: done.clone(),
            formats: [Api::Raw, Api::Txn].map(|api| KeyFormat::new(&workload.keys, api)),
            policy: workload.client.retry.clone(),
            load: l,
            raw: workload.uses_raw(),
            txn: workload.uses_txn(),
            backoff: Backoff::new(Stream::LoadJitter(t as u32).rng(workload.seed)),
            time,
        };
        set.spawn(task.write(from..from + n));
        from += n;
    }
    while let Some(joined) = set.join_next().await {
        joined.map_err(|source| RunError::Task {
            what: "load task".into(),
            source,
        })??;
    }
    Ok(LoadResult {
        records: count,
        duration_s: elapsed_s(started, time.now()),
    })
}

/// One load task: its share of the records and what it needs to write them.
struct Task<B> {
    backend: Arc<B>,
    values: ValuePool,
    /// Records written so far, by all tasks (for the progress display).
    done: Arc<AtomicU64>,
    /// The raw and the transactional key format.
    formats: [KeyFormat; 2],
    policy: RetryPolicy,
    load: Load,
    /// Whether to fill the raw and the transactional key space.
    raw: bool,
    txn: bool,
    backoff: Backoff,
    time: TimeSource,
}

impl<B: Backend> Task<B> {
    /// Writes `range`, batch by batch, into each key space.
    async fn write(mut self, range: Range<u64>) -> Result<(), RunError> {
        let mut events = Events::default();
        let mut pairs = Vec::with_capacity(self.load.batch as usize);
        let mut next = range.start;
        while next < range.end {
            let end = (next + u64::from(self.load.batch)).min(range.end);
            if self.raw {
                self.fill(&mut pairs, Api::Raw, next..end);
                self.batch(&RawLoad { pairs: &pairs }, next..end, &mut events)
                    .await?;
            }
            if self.txn {
                self.fill(&mut pairs, Api::Txn, next..end);
                self.batch(&TxnLoad { pairs: &pairs }, next..end, &mut events)
                    .await?;
            }
            next = end;
        }
        Ok(())
    }

    /// Puts the pairs of records `span` in `api`'s key space into `pairs`.
    fn fill(&self, pairs: &mut Vec<Pair>, api: Api, span: Range<u64>) {
        let format = &self.formats[api as usize];
        pairs.clear();
        pairs.extend(span.map(|i| (format.key(i), self.values.for_index(i).to_vec())));
    }

    /// Writes one batch (records `span`) with the workload's retry policy,
    /// given at least [`LOAD_BUDGET_FLOOR`] in all.
    async fn batch<O: Operation>(
        &mut self,
        op: &O,
        span: Range<u64>,
        events: &mut Events,
    ) -> Result<(), RunError> {
        let retry = Retry {
            policy: &self.policy,
            backoff: &mut self.backoff,
            deadline: self.time.now() + self.policy.budget.max(LOAD_BUDGET_FLOOR),
            time: self.time,
        };
        let out = retry::execute(&*self.backend, op, retry, events, |_, _| {}).await;
        if let Err(error) = out.result {
            return Err(RunError::Load {
                from: span.start,
                to: span.end,
                attempts: out.attempts,
                error,
            });
        }
        self.done
            .fetch_add(span.end - span.start, Ordering::Relaxed);
        Ok(())
    }
}

fn elapsed_s(from: Instant, to: Instant) -> f64 {
    (to.saturating_duration_since(from).as_secs_f64() * 1000.0).round() / 1000.0
}

//! Runs a [`Workload`] against a [`Backend`]: the load phase, then the
//! workers through warmup and the measured phase, with a collector merging
//! their reports and a progress display reading the collector's view.

pub mod progress;
pub mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

pub use progress::ProgressMode;
pub use worker::{Pacing, StopAt};

use crate::backend::retry::{self, Retry};
use crate::backend::{Backend, RawLoad, TxnLoad};
use crate::metrics::result::LoadResult;
use crate::metrics::{Clock, Collector, Live, RunInfo, RunResult, ShardInfo};
use crate::vocab::Events;
use crate::vocab::{Backoff, Stream, TimeSource};
use crate::workload::checks;
use crate::workload::keys::{KeyFormat, SharedKeys};
use crate::workload::stream::ValuePool;
use crate::workload::{Stop, Workload};
use progress::{Phase, Progress};

/// How to run, beyond what the workload says.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub progress: ProgressMode,
    pub time: TimeSource,
    /// The workload file, recorded in the result.
    pub workload_file: Option<String>,
    /// Skip the load phase (the data is already there).
    pub skip_load: bool,
    /// This driver's part of the workload when several drivers share it.
    pub shard: Shard,
    /// Where the collector publishes its running view (a metrics endpoint
    /// reads it); `None`: a private one for the progress display.
    pub live: Option<Arc<Mutex<Live>>>,
}

/// Driver `index` (0-based) of `count` drivers sharing one workload. Each
/// takes a contiguous share of the workers (with their global numbers, so
/// their op streams and schedules are exactly those the workers would have
/// in one driver), hence of the rate and the op count, and its share of the
/// records to preload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole workload: one driver.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with I counted from 1, as users count drivers.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("'{s}' is not a shard; write I/N with 1 <= I <= N, e.g. 2/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }

    /// The contiguous share `[start, end)` of `0..total` this driver takes.
    pub fn range(self, total: u64) -> std::ops::Range<u64> {
        let (i, n) = (self.index as usize, self.count as usize);
        let start: u64 = (0..i).map(|j| share(total, j, n)).sum();
        start..start + share(total, i, n)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: ProgressMode::Off,
            time: TimeSource::System,
            workload_file: None,
            skip_load: false,
            shard: Shard::WHOLE,
            live: None,
        }
    }
}

/// Runs the workload and returns its result. Fails only on setup errors
/// (a load phase that cannot write); failed ops are counted, not fatal.
pub async fn run<B: Backend>(
    workload: &Workload,
    backend: Arc<B>,
    opts: &RunOptions,
) -> anyhow::Result<RunResult> {
    let time = opts.time;
    let clock = Clock::new(time.now());
    let started_unix_us = clock.unix_us(time.now());
    let shard = opts.shard;
    let ids = shard.range(u64::from(workload.concurrency));
    if ids.is_empty() {
        anyhow::bail!(
            "shard {}/{} gets no workers: the workload has {} workers for {} drivers; raise concurrency",
            shard.index + 1,
            shard.count,
            workload.concurrency,
            shard.count
        );
    }
    let progress = Progress::start(opts.progress);
    let keys = SharedKeys::sharded(
        &workload.keys,
        u64::from(shard.index),
        u64::from(shard.count),
    );
    let values = ValuePool::new(workload.seed, workload.values.size);

    let records = shard.range(workload.load.records);
    let load = if opts.skip_load || records.is_empty() {
        LoadResult::default()
    } else {
        load(workload, records, &backend, &values, time, &progress).await?
    };
    let checking = !workload.checks.is_empty();
    if checking {
        checks::setup(workload, &*backend, time).await?;
    }

    let start = time.now();
    let measure_start = start + workload.warmup;
    let pacing = match workload.rate {
        None => Pacing::Closed,
        Some(rate) => Pacing::Open {
            interval: Duration::from_secs_f64(f64::from(workload.concurrency) / rate),
        },
    };
    let total_workers = workload.concurrency as usize;
    let live = opts.live.clone().unwrap_or_default();
    let mut collector =
        Collector::with_live(workload.ops.len(), (ids.end - ids.start) as usize, live);
    progress.set(Phase::Run {
        start,
        measure_start,
        stop: workload.stop,
        live: collector.live(),
    });
    let shared = Arc::new(worker::Shared {
        workload: workload.clone(),
        backend,
        keys,
        values,
        clock,
        time,
        pacing,
        measure_start,
        start,
    });
    let monitor = checks::Monitor::start(workload, shared.backend.clone(), time);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handles: Vec<_> = ids
        .clone()
        .enumerate()
        .map(|(local, global)| {
            let global = global as usize;
            let stop = match workload.stop {
                Stop::Duration(d) => StopAt::Time(measure_start + d),
                Stop::Operations(n) => StopAt::Quota(share(n, global, total_workers)),
            };
            let id = worker::Id { local, global };
            tokio::spawn(worker::run(shared.clone(), id, stop, tx.clone()))
        })
        .collect();
    drop(tx);
    while let Some(report) = rx.recv().await {
        collector.add(report);
    }
    let ended = time.now();
    let observed = match monitor {
        Some(m) => m.stop().await,
        None => checks::Observed::default(),
    };
    let mut logs = Vec::with_capacity(handles.len());
    for (id, h) in handles.into_iter().enumerate() {
        logs.push(h.await.with_context(|| format!("worker {id} failed"))?);
    }
    progress.finish();

    let summary = collector.finish();
    let workers = ids.end - ids.start;
    let mut result = RunResult::build(
        workload,
        &summary,
        RunInfo {
            workload_file: opts.workload_file.clone(),
            target: shared.backend.target(),
            started_unix_us,
            measure_start_unix_us: clock.unix_us(measure_start),
            ended_unix_us: clock.unix_us(ended).max(clock.unix_us(measure_start)),
            warmup_s: workload.warmup.as_secs_f64(),
            load,
        },
    );
    if checking {
        let input = checks::run::Input {
            workload,
            logs,
            observed,
            preloaded: !opts.skip_load && shard == Shard::WHOLE,
            base: start,
            time,
        };
        result.checks = Some(checks::verify(&*shared.backend, input).await);
    }
    if shard != Shard::WHOLE {
        result.concurrency = workers as u32;
        result.rate = workload
            .rate
            .map(|r| r * workers as f64 / total_workers as f64);
        result.shard = Some(ShardInfo {
            index: shard.index + 1,
            count: shard.count,
            workers: [ids.start, ids.end],
        });
    }
    Ok(result)
}

/// Worker `i`'s share of `n` items split over `parts`.
pub fn share(n: u64, i: usize, parts: usize) -> u64 {
    let parts = parts as u64;
    n / parts + u64::from((i as u64) < n % parts)
}

/// Writes records `0..load.records` into each key space the ops use, in
/// batches, from `load.concurrency` tasks. A batch that still fails after
/// the retry policy stops the run: measuring over missing data is useless.
async fn load<B: Backend>(
    workload: &Workload,
    records: std::ops::Range<u64>,
    backend: &Arc<B>,
    values: &ValuePool,
    time: TimeSource,
    progress: &Progress,
) -> anyhow::Result<LoadResult> {
    let l = workload.load;
    let count = records.end - records.start;
    let started = time.now();
    let done = Arc::new(AtomicU64::new(0));
    let spaces = usize::from(workload.uses_raw()) + usize::from(workload.uses_txn());
    progress.set(Phase::Load {
        done: done.clone(),
        total: count * spaces as u64,
    });
    let tasks = l
        .concurrency
        .min(count.div_ceil(u64::from(l.batch)).max(1) as u32) as usize;
    let mut set = tokio::task::JoinSet::new();
    let mut from = records.start;
    for t in 0..tasks {
        let n = share(count, t, tasks);
        let range = from..from + n;
        from += n;
        let (backend, values, done) = (backend.clone(), values.clone(), done.clone());
        let (format, policy) = (
            KeyFormat::new(&workload.keys),
            workload.client.retry.clone(),
        );
        let (raw_space, txn_space, seed) =
            (workload.uses_raw(), workload.uses_txn(), workload.seed);
        set.spawn(async move {
            let mut backoff = Backoff::new(Stream::LoadJitter(t as u32).rng(seed));
            let mut events = Events::default();
            let mut pairs = Vec::with_capacity(l.batch as usize);
            let mut next = range.start;
            while next < range.end {
                let end = (next + u64::from(l.batch)).min(range.end);
                pairs.clear();
                pairs.extend((next..end).map(|i| (format.key(i), values.for_index(i).to_vec())));
                for txn in [false, true] {
                    if (txn && !txn_space) || (!txn && !raw_space) {
                        continue;
                    }
                    let retry = Retry { policy: &policy, backoff: &mut backoff, deadline: time.now() + policy.budget, time };
                    let out = if txn {
                        retry::execute(&*backend, &TxnLoad { pairs: &pairs }, retry, &mut events, |_, _| {}).await
                    } else {
                        retry::execute(&*backend, &RawLoad { pairs: &pairs }, retry, &mut events, |_, _| {}).await
                    };
                    if let Err(e) = out.result {
                        anyhow::bail!(
                            "load phase: writing records {next}..{end} failed after {} attempt(s): {e}",
                            out.attempts
                        );
                    }
                    done.fetch_add(end - next, Ordering::Relaxed);
                }
                next = end;
            }
            Ok(())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined.context("load task failed")??;
    }
    Ok(LoadResult {
        records: count,
        duration_s: elapsed_s(started, time.now()),
    })
}

fn elapsed_s(from: Instant, to: Instant) -> f64 {
    (to.saturating_duration_since(from).as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for n in [0u64, 1, 7, 100, 1001] {
            for parts in [1usize, 2, 3, 16] {
                let s: Vec<u64> = (0..parts).map(|i| share(n, i, parts)).collect();
                assert_eq!(s.iter().sum::<u64>(), n);
                assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
            }
        }
    }
}

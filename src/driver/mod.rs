//! Runs a [`Workload`] against a [`Backend`]: the load phase, then the
//! workers through warmup and the measured phase, with a collector merging
//! their reports and a progress display reading the collector's view.

mod load;
mod os;
pub mod pacer;
pub mod plan;
pub mod progress;
pub mod search;
mod staging;
pub mod start;
pub mod worker;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

pub use progress::ProgressMode;
pub use start::{StartError, StartPlan};
pub use worker::{Pacing, StopAt};

use crate::backend::Backend;
use crate::checks::thresholds::AbortWatch;
use crate::metrics::impact::{self, FaultImpact, FaultLog, FineTimeline};
use crate::metrics::result::{LoadResult, new_run_id};
use crate::metrics::{
    AbortInfo, Clock, Collector, CpuUse, Live, Report, RunInfo, RunResult, ShardInfo, Summary,
};
use crate::vocab::{OpError, TimeSource};
use crate::workload::checks::{self, WorkerLog, run::SetupError};
use crate::workload::keys::SharedKeys;
use crate::workload::stream::ValuePool;
use crate::workload::{Stop, Workload};
use plan::Plan;
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
    /// Fired (by Ctrl-C, say) to end the run early, keeping what was
    /// measured.
    pub interrupt: Interrupt,
    /// When the workers start (`--start-at`): at once when `None`, else,
    /// once loaded, at an agreed wall-clock instant (system clock only).
    pub start: Option<StartPlan>,
    /// The id the drivers of one sharded run share (`--run-id`), recorded
    /// in the result's `shard` section.
    pub run_id: Option<String>,
    /// Where the injected fault events are read at the end (the embedded
    /// cluster's log), for the result's `faults` section; their instants
    /// are mapped with this run's own `Clock`.
    pub fault_log: Option<FaultLog>,
}

/// A request to end a run early: the workers start no new op, the ops in
/// flight finish (or use up their budget), and the result covers the span
/// measured so far, marked `interrupted`. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn fire(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn fired(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A shard that is not `I/N` with `1 <= I <= N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a shard; write I/N with 1 <= I <= N, e.g. 2/3")]
pub struct ShardError {
    pub text: String,
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
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError {
            text: s.to_string(),
        };
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

    /// `shard-I-of-N` (I counted from 1): the name of this shard's result
    /// directory under a run's directory, and of its ready file at a start
    /// barrier.
    pub fn file_name(self) -> String {
        format!("shard-{}-of-{}", self.index + 1, self.count)
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
            interrupt: Interrupt::default(),
            start: None,
            run_id: None,
            fault_log: None,
        }
    }
}

/// Why a run could not be measured. Failed ops are counted in the result,
/// never reported here.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// More drivers than workers: this driver would run nothing. Raise the
    /// workload's `concurrency`, or run fewer drivers.
    #[error(
        "shard {index}/{count} gets no workers: the workload has {workers} workers for {count} drivers; raise concurrency"
    )]
    NoWorkers {
        index: u32,
        count: u32,
        workers: u32,
    },
    /// A batch of the load phase still failed after the retry policy: the
    /// target is down or refuses writes. Fix the target, or skip the load
    /// phase when the data is already there.
    #[error("load phase: writing records {from}..{to} failed after {attempts} attempt(s): {error}")]
    Load {
        from: u64,
        to: u64,
        attempts: u32,
        error: OpError,
    },
    /// A check's initial data could not be written.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The driver could not begin at the agreed instant (`--start-at`):
    /// the barrier timed out or its files could not be used.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The run was interrupted before its measured phase began: nothing was
    /// measured, so there is no result to keep.
    #[error("interrupted before the measured phase began: nothing was measured")]
    InterruptedEarly,
    /// A worker or load task panicked: a bug in tikv-bench. Please report
    /// it with the workload file.
    #[error("{what} failed")]
    Task {
        what: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Runs the workload and returns its result. Fails only on setup errors
/// (a load phase that cannot write, a start barrier not met); failed ops
/// are counted, not fatal.
pub async fn run<B: Backend>(
    workload: &Workload,
    backend: Arc<B>,
    opts: &RunOptions,
) -> Result<RunResult, RunError> {
    let time = opts.time;
    if opts.start.is_some() && time != TimeSource::System {
        return Err(StartError::PausedClock.into());
    }
    let clock = Clock::new(time.now());
    let started_unix_us = clock.unix_us(time.now());
    let ids = workers(workload, opts.shard)?;
    let progress = Progress::start(opts.progress);
    let shard = opts.shard;
    let keys = SharedKeys::sharded(
        &workload.keys,
        u64::from(shard.index),
        u64::from(shard.count),
    );
    let values = ValuePool::new(workload.seed, workload.values.size);
    let load = prepare(workload, &backend, &values, opts, &progress).await?;
    let waited = match &opts.start {
        Some(plan) => {
            progress.set(Phase::Idle);
            let waited = start::wait(plan, &opts.interrupt).await?;
            Some(waited.ok_or(RunError::InterruptedEarly)?)
        }
        None => None,
    };
    let start = time.now();
    // After a wait, the wall clock is read again as the workers start, so
    // that the measured phase's start is read as closely as the other
    // drivers read theirs.
    let clock = if waited.is_some() {
        Clock::new(start)
    } else {
        clock
    };
    let plan = Plan::new(workload, start);
    let shared = Arc::new(worker::Shared {
        workload: workload.clone(),
        backend,
        keys,
        values,
        clock,
        time,
        pacing: pacing(workload),
        measure_start: plan.stages().list[0].measure_from(),
        start,
        plan: plan.view(),
        per_stage: staged(workload),
        interrupt: opts.interrupt.clone(),
    });
    let measured = measure(&shared, &plan, ids.clone(), opts, &progress).await?;
    progress.finish();
    let info = run_info(&shared, opts, started_unix_us, load, &measured);
    let mut result = RunResult::build(workload, &measured.summary, info);
    result.faults = fault_impact(&result, &measured.summary.fine, opts, &shared.clock);
    result.start =
        waited.map(|w| w.info(shared.measure_start - start, result.measured_from_unix_us));
    result.host = os::host_name();
    finish(&mut result, workload, &shared, measured, opts, ids).await;
    Ok(result)
}

/// The load phase (this driver's share of the records) and the checks'
/// initial data; an interrupt by then ends the run with nothing measured.
async fn prepare<B: Backend>(
    workload: &Workload,
    backend: &Arc<B>,
    values: &ValuePool,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<LoadResult, RunError> {
    let time = opts.time;
    let records = opts.shard.range(workload.load.records);
    let load = if opts.skip_load || records.is_empty() {
        LoadResult::default()
    } else {
        load::run(workload, records, backend, values, time, progress).await?
    };
    if !workload.checks.is_empty() {
        checks::setup(workload, &**backend, time).await?;
    }
    if opts.interrupt.fired() {
        return Err(RunError::InterruptedEarly);
    }
    Ok(load)
}

/// Completes the result: how it ended (interrupted, aborted), the stages,
/// the checks' verdicts, the shard, the transport's counts.
async fn finish<B: Backend>(
    result: &mut RunResult,
    workload: &Workload,
    shared: &worker::Shared<B>,
    measured: Measured,
    opts: &RunOptions,
    ids: Range<u64>,
) {
    let shard = opts.shard;
    // An abort fires the interrupt too, but is reported as itself.
    result.interrupted = opts.interrupt.fired() && measured.aborted.is_none();
    result.aborted = measured.aborted.clone();
    if staged(workload) {
        measured.staging.attach(result, workload, &measured.summary);
    }
    if !workload.checks.is_empty() {
        let input = checks::run::Input {
            workload,
            logs: measured.logs,
            observed: measured.observed,
            preloaded: !opts.skip_load && shard == Shard::WHOLE,
            base: shared.start,
            time: shared.time,
        };
        result.checks = Some(checks::verify(&*shared.backend, input).await);
    }
    if shard != Shard::WHOLE {
        mark_shard(result, workload, shard, ids, opts.run_id.clone());
    }
    // Counted over the load, the checks and the measured ops.
    result.transport = shared.backend.transport();
}

/// The `faults` section: the injected events (read now, mapped with the
/// workers' own clock) and those observed, with their impact.
fn fault_impact(
    result: &RunResult,
    fine: &impact::Fine,
    opts: &RunOptions,
    clock: &Clock,
) -> Option<FaultImpact> {
    let (injected, dropped) = match &opts.fault_log {
        Some(log) => log.read(clock),
        None => (Vec::new(), 0),
    };
    let span = impact::span(
        result.measured_from_unix_us,
        result.measured_to_unix_us,
        &result.timeline,
    );
    FaultImpact::build(injected, dropped, FineTimeline::from_fine(fine), &span)
}

/// The global numbers of the workers this driver runs.
fn workers(workload: &Workload, shard: Shard) -> Result<Range<u64>, RunError> {
    let ids = shard.range(u64::from(workload.concurrency));
    if ids.is_empty() {
        return Err(RunError::NoWorkers {
            index: shard.index + 1,
            count: shard.count,
            workers: workload.concurrency,
        });
    }
    Ok(ids)
}

/// Open loop (a rate, rate stages, a search) or closed.
fn pacing(workload: &Workload) -> Pacing {
    match workload.open_loop() {
        true => Pacing::Open,
        false => Pacing::Closed,
    }
}

/// What the result records of the run itself.
fn run_info<B: Backend>(
    shared: &worker::Shared<B>,
    opts: &RunOptions,
    started_unix_us: i64,
    load: LoadResult,
    measured: &Measured,
) -> RunInfo {
    let clock = shared.clock;
    RunInfo {
        run_id: new_run_id(started_unix_us),
        workload_file: opts.workload_file.clone(),
        target: shared.backend.target(),
        started_unix_us,
        measure_start_unix_us: clock.unix_us(shared.measure_start),
        ended_unix_us: clock
            .unix_us(measured.ended)
            .max(clock.unix_us(shared.measure_start)),
        warmup_s: shared.workload.warmup.as_secs_f64(),
        load,
        cpu: measured.cpu,
    }
}

/// Whether the result has a `stages` section: the workload has stages or
/// a search.
fn staged(workload: &Workload) -> bool {
    !workload.stages.is_empty() || workload.search.is_some()
}

/// What the workers measured, and what the checks saw.
struct Measured {
    summary: Summary,
    logs: Vec<WorkerLog>,
    observed: checks::Observed,
    ended: Instant,
    cpu: Option<CpuUse>,
    staging: staging::Staging,
    /// The `abort_on_fail` threshold that stopped the run.
    aborted: Option<AbortInfo>,
}

/// Warmup and the measured phase: the workers `ids`, the collector merging
/// their reports and handing over each stage as it completes, and the
/// checks' reads during the run.
async fn measure<B: Backend>(
    shared: &Arc<worker::Shared<B>>,
    plan: &Plan,
    ids: Range<u64>,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<Measured, RunError> {
    let w = &shared.workload;
    let live = opts.live.clone().unwrap_or_default();
    let mut collector = Collector::with_live(w.ops.len(), (ids.end - ids.start) as usize, live);
    progress.set(Phase::Run {
        start: shared.start,
        measure_start: shared.measure_start,
        stop: w.stop,
        live: collector.live(),
        plan: staged(w).then(|| (shared.plan.clone(), w.search.is_some())),
    });
    let monitor = checks::Monitor::start(w, shared.backend.clone(), shared.time);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let total = w.concurrency as usize;
    let cpu = CpuMeter::start(shared);
    let pacer = start_pacer(shared, ids.clone());
    let gates = pacer.as_ref().map(pacer::Pacer::gates);
    let handles: Vec<_> = ids
        .enumerate()
        .map(|(local, global)| {
            let global = global as usize;
            let stop = match w.stop {
                Stop::Operations(n) if w.stages.is_empty() && w.search.is_none() => {
                    StopAt::Quota(share(n, global, total))
                }
                _ => StopAt::Plan,
            };
            let id = worker::Id { local, global };
            tokio::spawn(worker::run(
                shared.clone(),
                id,
                stop,
                tx.clone(),
                gates.clone(),
            ))
        })
        .collect();
    drop(tx);
    let mut staging = staging::Staging::new(w, shared.start, staged(w));
    if shared.time == TimeSource::System {
        staging.meter_cpu(plan.view(), shared.backend.target().runs_in_process());
    }
    let aborted = collect(shared, plan, &mut rx, &mut collector, &mut staging, opts).await;
    hold_to_the_end(shared, plan, opts).await;
    let ended = shared.time.now();
    staging.collect(&mut collector, plan, ended, opts.interrupt.fired());
    drop(pacer);
    let cpu = cpu
        .stop(ended, shared.pacing == Pacing::Closed)
        .await
        .map(|c| c.with_target(shared.backend.target().runs_in_process()));
    let observed = match monitor {
        Some(m) => m.stop().await,
        None => checks::Observed::default(),
    };
    let mut logs = Vec::with_capacity(handles.len());
    for (id, h) in handles.into_iter().enumerate() {
        logs.push(h.await.map_err(|source| RunError::Task {
            what: format!("worker {id}"),
            source,
        })?);
    }
    Ok(Measured {
        summary: collector.finish(),
        logs,
        observed,
        ended,
        cpu,
        staging,
        aborted,
    })
}

/// Merges the workers' reports until the last worker is done, handing
/// each stage to `staging` as it completes; with thresholds that
/// `abort_on_fail`, judges them once a second on the run so far and, at
/// the first miss, fires the interrupt and returns the miss.
async fn collect<B>(
    shared: &worker::Shared<B>,
    plan: &Plan,
    rx: &mut UnboundedReceiver<Report>,
    collector: &mut Collector,
    staging: &mut staging::Staging,
    opts: &RunOptions,
) -> Option<AbortInfo> {
    let w = &shared.workload;
    let mut watch = AbortWatch::new(&w.thresholds);
    let names: Vec<&str> = w.ops.iter().map(|o| o.name.as_str()).collect();
    let types: Vec<&str> = w.ops.iter().map(|o| o.kind.type_name()).collect();
    let mut second = tokio::time::interval(Duration::from_secs(1));
    let mut aborted = None;
    loop {
        let report = match &mut watch {
            None => rx.recv().await,
            Some(watch) => tokio::select! {
                r = rx.recv() => r,
                _ = second.tick() => {
                    let now = shared.time.now();
                    let secs = plan.stages().measured_by(now).as_secs_f64();
                    if aborted.is_none() && secs > 0.0 {
                        aborted = watch.check(collector.totals(), &names, &types, secs);
                        if aborted.is_some() {
                            opts.interrupt.fire();
                        }
                    }
                    continue;
                }
            },
        };
        let Some(report) = report else {
            return aborted;
        };
        collector.add(report);
        let now = shared.time.now();
        staging.collect(collector, plan, now, opts.interrupt.fired());
    }
}

/// Open loop: the workers stop after their last slot before the plan's
/// end, which at a low rate is well before it (at 1 op/s, up to a
/// second); the measured phase still lasts to the end, so that its rate
/// is the schedule's. Waits in short steps, so an interrupt still ends the
/// run at once.
async fn hold_to_the_end<B>(shared: &worker::Shared<B>, plan: &Plan, opts: &RunOptions) {
    let stages = plan.stages();
    let end = stages.list.last().and_then(|s| s.end());
    let (Pacing::Open, Some(end)) = (shared.pacing, end) else {
        return;
    };
    while !opts.interrupt.fired() {
        let now = shared.time.now();
        if now >= end {
            break;
        }
        let step = (end - now).min(Duration::from_millis(50));
        tokio::time::sleep(step).await;
    }
}

/// Measures the process's CPU over the measured phase (the system clock
/// only: on tokio's paused clock no wall time passes).
enum CpuMeter {
    Off,
    /// The first reading, taken.
    Read(Option<os::CpuMark>),
    /// The first reading, taken when the measured phase starts.
    Waiting(tokio::task::JoinHandle<Option<os::CpuMark>>),
}

impl CpuMeter {
    fn start<B>(shared: &worker::Shared<B>) -> CpuMeter {
        if shared.time != TimeSource::System {
            return CpuMeter::Off;
        }
        let from = shared.measure_start;
        if Instant::now() >= from {
            return CpuMeter::Read(os::CpuMark::now());
        }
        CpuMeter::Waiting(tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            os::CpuMark::now()
        }))
    }

    /// The use from the first reading to now (`ended`); `None` when the
    /// run ended before the measured phase began.
    async fn stop(self, ended: Instant, closed_loop: bool) -> Option<CpuUse> {
        let first = match self {
            CpuMeter::Off => return None,
            CpuMeter::Read(first) => first?,
            CpuMeter::Waiting(handle) if handle.is_finished() => handle.await.ok()??,
            CpuMeter::Waiting(handle) => {
                handle.abort();
                return None;
            }
        };
        first.use_until(ended, closed_loop)
    }
}

/// Open loop on the system clock: the pacer of the workers `ids`. `None`
/// in closed loop and under tokio's clock (the workers sleep on tokio's
/// timer, exact when paused), and if its alarm thread cannot start (then
/// the workers fall back to tokio's timer, and their lateness shows it).
fn start_pacer<B>(shared: &worker::Shared<B>, ids: Range<u64>) -> Option<pacer::Pacer> {
    let (Pacing::Open, TimeSource::System) = (shared.pacing, shared.time) else {
        return None;
    };
    let setup = pacer::PacerSetup {
        workers: ids.start as usize..ids.end as usize,
        plan: shared.plan.clone(),
        tuning: pacer::Tuning::default(),
    };
    pacer::Pacer::start(setup, shared.start).ok()
}

/// Records this driver's share of the workload in a shard's result.
fn mark_shard(
    result: &mut RunResult,
    workload: &Workload,
    shard: Shard,
    ids: Range<u64>,
    run: Option<String>,
) {
    let workers = ids.end - ids.start;
    let total = f64::from(workload.concurrency);
    result.concurrency = workers as u32;
    result.rate = workload.rate.map(|r| r * workers as f64 / total);
    result.shard = Some(ShardInfo {
        index: shard.index + 1,
        count: shard.count,
        workers: [ids.start, ids.end],
        run,
    });
}

/// Worker `i`'s share of `n` items split over `parts`.
pub fn share(n: u64, i: usize, parts: usize) -> u64 {
    let parts = parts as u64;
    n / parts + u64::from((i as u64) < n % parts)
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

//! The worker loop: the one loop every worker runs, whatever the pacing,
//! stop condition or retry policy, which it reads as data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::pacer::Gates;
use crate::backend::Backend;
use crate::backend::retry::{self, Retry};
use crate::metrics::{Clock, Completion, Recorder, Report};
use crate::vocab::Events;
use crate::vocab::{Backoff, Stream, TimeSource};
use crate::workload::Workload;
use crate::workload::checks::{Tracker, WorkerLog};
use crate::workload::keys::SharedKeys;
use crate::workload::stream::{Generator, ValuePool};

/// When to start each op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Start the next op as soon as the last one finishes.
    Closed,
    /// Start ops on a fixed schedule, one every `interval` per worker;
    /// latency runs from the scheduled start.
    Open { interval: Duration },
}

/// When the worker stops issuing ops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopAt {
    /// No op is started at or after this instant.
    Time(Instant),
    /// After this many measured ops.
    Quota(u64),
}

/// What every worker shares.
pub struct Shared<B> {
    pub workload: Workload,
    pub backend: Arc<B>,
    pub keys: Arc<SharedKeys>,
    pub values: ValuePool,
    pub clock: Clock,
    pub time: TimeSource,
    pub pacing: Pacing,
    /// Ops intended to start before this are warmup.
    pub measure_start: Instant,
    /// The instant the schedule starts (open loop).
    pub start: Instant,
    /// When fired, no new op starts.
    pub interrupt: super::Interrupt,
}

/// A worker's numbers: `local` among this driver's workers (how the
/// collector knows it), `global` among the workload's workers (what its op
/// stream and schedule derive from, so that shards of a workload together
/// run exactly the workers of one driver).
#[derive(Debug, Clone, Copy)]
pub struct Id {
    pub local: usize,
    pub global: usize,
}

/// Open loop: the first slot of worker `global` of `workers`. Its schedule
/// is offset by global/workers of an interval, so the workers' sends
/// interleave instead of bunching.
pub(super) fn first_slot(
    start: Instant,
    interval: Duration,
    global: usize,
    workers: usize,
) -> Instant {
    start + interval.mul_f64(global as f64 / workers as f64)
}

/// When a worker starts its ops, and when it stops.
struct Schedule {
    pacing: Pacing,
    stop: StopAt,
    interrupt: super::Interrupt,
    /// Open loop: the next op's slot.
    next_slot: Instant,
    /// Measured ops started (for a quota).
    measured_started: u64,
}

impl Schedule {
    fn new<B>(ctx: &Shared<B>, id: Id, stop: StopAt) -> Schedule {
        let workers = ctx.workload.concurrency as usize;
        let next_slot = match ctx.pacing {
            Pacing::Closed => ctx.start,
            Pacing::Open { interval } => first_slot(ctx.start, interval, id.global, workers),
        };
        Schedule {
            pacing: ctx.pacing,
            stop,
            interrupt: ctx.interrupt.clone(),
            next_slot,
            measured_started: 0,
        }
    }

    /// The next op's intended start (closed loop: `now`), or `None` when
    /// the worker stops.
    #[inline]
    fn next(&mut self, now: Instant, rec: &Recorder) -> Option<Instant> {
        if self.interrupt.fired() {
            return None;
        }
        let intended = match self.pacing {
            Pacing::Closed => now,
            Pacing::Open { interval } => {
                let slot = self.next_slot;
                self.next_slot += interval;
                slot
            }
        };
        match self.stop {
            StopAt::Time(end) if intended >= end => return None,
            StopAt::Quota(q) if rec.measured(intended) => {
                if self.measured_started >= q {
                    return None;
                }
                self.measured_started += 1;
            }
            _ => {}
        }
        Some(intended)
    }
}

/// Runs a worker until its stop condition, then sends its final report.
/// Returns what its checks' tracker recorded. Open loop, it waits for each
/// slot at the pacer's `gates` when there are any (the system clock), else
/// on tokio's timer (exact under the paused clock).
pub async fn run<B: Backend>(
    ctx: Arc<Shared<B>>,
    id: Id,
    stop: StopAt,
    tx: UnboundedSender<Report>,
    gates: Option<Arc<Gates>>,
) -> WorkerLog {
    let w = &ctx.workload;
    let time = ctx.time;
    let policy = &w.client.retry;
    let mut stream = Generator::new(w, ctx.keys.clone(), ctx.values.clone(), id.global as u64);
    let mut backoff = Backoff::new(Stream::WorkerJitter(id.global as u32).rng(w.seed));
    let mut rec = Recorder::new(
        id.local,
        w.ops.len(),
        ctx.clock,
        time.now(),
        ctx.measure_start,
        ctx.pacing != Pacing::Closed,
    );
    let mut events = Events::default();
    let mut tracker = Tracker::new(&w.checks);
    let mut schedule = Schedule::new(&ctx, id, stop);
    let send = |r: Option<Report>| {
        if let Some(r) = r {
            // The collector outlives the workers; a send can only fail when
            // the run is being torn down, and then nothing is lost that matters.
            let _ = tx.send(r);
        }
    };

    let mut now = time.now();
    while let Some(intended) = schedule.next(now, &rec) {
        if intended > now {
            send(rec.tick(now));
            match &gates {
                Some(g) => g.wait(id.local, intended).await,
                None => tokio::time::sleep_until(intended.into()).await,
            }
            now = time.now();
        }
        let (op_index, op) = stream.next_op();
        let start = now;
        let retry = Retry {
            policy,
            backoff: &mut backoff,
            deadline: start + policy.budget,
            time,
        };
        let outcome = retry::execute(&*ctx.backend, &op, retry, &mut events, |kind, delay| {
            rec.retry(op_index, intended, kind, delay)
        })
        .await;
        now = time.now();
        let (result, undetermined) = (&outcome.result, outcome.undetermined);
        tracker.record(&op, result, undetermined, outcome.attempts, (start, now));
        let completion = Completion {
            result,
            undetermined,
            intended,
            start,
            end: now,
        };
        send(rec.record(op_index, &events, completion));
        events.clear();
    }
    send(Some(rec.finish()));
    tracker.finish()
}

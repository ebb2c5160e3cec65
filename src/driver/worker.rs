//! The worker loop: the one loop every worker runs, whatever the pacing,
//! stop condition or retry policy, which it reads as data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::pacer::Gates;
use super::plan::PlanView;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Start the next op as soon as the last one finishes, while the
    /// stage's level keeps the worker busy.
    Closed,
    /// Start ops on the plan's schedule; latency runs from the scheduled
    /// start.
    Open,
}

/// When the worker stops issuing ops, beyond the plan's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// At the end of the plan's last stage.
    Plan,
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
    /// The first stage's measured span starts here.
    pub measure_start: Instant,
    /// The instant the first stage starts.
    pub start: Instant,
    /// The stages, as the driver publishes them.
    pub plan: PlanView,
    /// Keep per-stage stats (the result has a `stages` section).
    pub per_stage: bool,
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

/// What a worker does next.
enum Next {
    /// Start an op intended at this instant.
    Op(Instant),
    /// Closed loop, the stage's level leaves this worker idle: look again
    /// then.
    Idle(Instant),
    /// The stage has no more ops for this worker.
    StageOver,
    Stop,
}

/// When a worker starts its ops, and when it stops.
struct Schedule {
    pacing: Pacing,
    global: usize,
    stop: StopAt,
    interrupt: super::Interrupt,
    plan: PlanView,
    /// The stage the worker is in, and (open loop) its next op's number
    /// among this worker's ops of the stage.
    stage: usize,
    k: u64,
    /// Measured ops started (for a quota).
    measured_started: u64,
}

impl Schedule {
    fn new<B>(ctx: &Shared<B>, id: Id, stop: StopAt) -> Schedule {
        Schedule {
            pacing: ctx.pacing,
            global: id.global,
            stop,
            interrupt: ctx.interrupt.clone(),
            plan: ctx.plan.clone(),
            stage: 0,
            k: 0,
            measured_started: 0,
        }
    }

    /// The next op's intended start (closed loop: `now`) in the current
    /// stage.
    #[inline]
    fn next(&mut self, now: Instant, rec: &Recorder) -> Next {
        if self.interrupt.fired() {
            return Next::Stop;
        }
        let Some(stage) = self.plan.get(self.stage) else {
            return Next::StageOver;
        };
        let intended = match self.pacing {
            Pacing::Open => match stage.slot(self.global, self.k) {
                Some(t) => {
                    self.k += 1;
                    t
                }
                None => return Next::StageOver,
            },
            Pacing::Closed => match (stage.next_busy(self.global, now), stage.end()) {
                (Some(t), _) if t <= now => now,
                (Some(t), _) => return Next::Idle(t),
                (None, Some(end)) if now < end => return Next::Idle(end),
                (None, Some(_)) => return Next::StageOver,
                (None, None) => return Next::Stop,
            },
        };
        if let StopAt::Quota(q) = self.stop
            && rec.measured(intended)
        {
            if self.measured_started >= q {
                return Next::Stop;
            }
            self.measured_started += 1;
        }
        Next::Op(intended)
    }

    /// Enters the current stage (waiting for it to be published); false
    /// when the plan ends before it.
    async fn enter(&mut self, rec: &mut Recorder) -> bool {
        let Some(stage) = self.plan.wait(self.stage).await else {
            return false;
        };
        let spans = self.plan.known().list.iter().map(|s| {
            let end = s.end().unwrap_or(far_future(s.start));
            (s.measure_from(), end)
        });
        rec.enter_stage(stage.measure_from(), spans);
        true
    }

    /// Moves past the current stage; false when the plan has no next.
    async fn advance(&mut self, rec: &mut Recorder, send: &impl Fn(Option<Report>)) -> bool {
        // Sent before waiting: the driver judges a search step once every
        // worker has moved past it, and only then publishes the next.
        send(rec.leave_stage());
        self.stage += 1;
        self.k = 0;
        self.enter(rec).await
    }
}

/// Waits for `slot`: at the pacer's gate when there is one (the system
/// clock), else on tokio's timer (exact under the paused clock).
async fn wait(gates: Option<&Gates>, local: usize, slot: Instant) {
    match gates {
        Some(g) => g.wait(local, slot).await,
        None => tokio::time::sleep_until(slot.into()).await,
    }
}

/// The worker's recorder, keeping per-stage stats when the run has stages.
fn recorder<B>(ctx: &Shared<B>, id: Id) -> Recorder {
    let mut rec = Recorder::new(
        id.local,
        ctx.workload.ops.len(),
        ctx.clock,
        ctx.time.now(),
        ctx.measure_start,
        ctx.pacing != Pacing::Closed,
    );
    if ctx.per_stage {
        rec.keep_stages();
    }
    rec
}

/// An instant no run reaches: the end of a stage that has none.
fn far_future(t: Instant) -> Instant {
    t + Duration::from_secs(100 * 365 * 24 * 3600)
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
    let mut rec = recorder(&ctx, id);
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
    let mut live = schedule.enter(&mut rec).await;
    while live {
        let intended = match schedule.next(now, &rec) {
            Next::Op(t) => t,
            Next::Idle(until) => {
                send(rec.tick(now));
                tokio::time::sleep_until(until.into()).await;
                now = time.now();
                continue;
            }
            Next::StageOver => {
                live = schedule.advance(&mut rec, &send).await;
                now = time.now();
                continue;
            }
            Next::Stop => break,
        };
        if intended > now {
            send(rec.tick(now));
            wait(gates.as_deref(), id.local, intended).await;
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

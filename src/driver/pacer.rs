//! Exact open-loop pacing. tokio's timer fires on whole milliseconds, so a
//! worker that slept on it started each op up to a millisecond late, and
//! that lateness landed in every open-loop latency. Instead one task, the
//! pacer, walks the schedule of this driver's workers in slot order and
//! releases each slot at its instant to the worker that owns it:
//!
//! - Far from the next slot, the pacer sleeps on the **alarm**, a
//!   dedicated thread whose sleeps are precise to microseconds (tokio's
//!   are not), and asks to be woken `lead` before the slot.
//! - Within `lead` of the slot, it yields to the runtime until the slot's
//!   instant: other tasks run meanwhile, and the yield loop is precise to
//!   a microsecond or two.
//! - At the slot it releases the worker. The pacer runs on a runtime
//!   thread, so the worker wakes on that same thread and runs next: no
//!   wake-up of another thread stands between the slot and the send.
//!
//! `lead` tunes itself to how late the alarm's wake-ups reach the pacer
//! (the thread's sleep overshoot and the runtime's wake-up), so the pacer
//! spins no longer than it must. The cost: the pacer spins about `lead`
//! per slot, so from rates where slots come closer than that (about
//! 10-20k ops/s) it keeps one core busy; below, a fraction of one. The
//! workers never spin. Under tokio's paused clock (tests) the workers
//! sleep on tokio's timer instead, which is exact there; the pacer does not
//! run.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::plan::PlanView;

/// How the pacer's lead tunes itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// The lead it starts from.
    pub lead: Duration,
    /// The bounds of the lead.
    pub min_lead: Duration,
    pub max_lead: Duration,
    /// Added to the alarm's observed lateness to make the lead.
    pub margin: Duration,
    /// The pacer sleeps on the alarm only when that saves at least this
    /// much spinning.
    pub min_sleep: Duration,
    /// Within this of a slot the pacer holds its thread until the slot
    /// instead of letting other tasks run first.
    pub hold: Duration,
    /// Before slots far apart the pacer is woken a `1/idle_share` of the
    /// gap early, up to `idle_lead` (see [`Tuning::early`]).
    pub idle_share: u32,
    pub idle_lead: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            lead: Duration::from_micros(100),
            min_lead: Duration::from_micros(20),
            max_lead: Duration::from_micros(500),
            margin: Duration::from_micros(25),
            min_sleep: Duration::from_micros(20),
            hold: Duration::from_micros(20),
            idle_share: 20,
            idle_lead: Duration::from_millis(2),
        }
    }
}

impl Tuning {
    /// How long before a slot `gap` away to be woken: the lead, or when
    /// slots are far apart a share of the gap (up to `idle_lead`), since a
    /// machine idle that long wakes slowly (on this project's VM up to a
    /// millisecond and more for the first wake-up after a long sleep, too
    /// rare for `lead` to learn it). It costs at most `1/idle_share` of a
    /// core, and at low rates, where it applies, far less.
    fn early(&self, lead: Duration, gap: Duration) -> Duration {
        lead.max((gap / self.idle_share).min(self.idle_lead))
    }

    /// The next lead, given that the alarm reached the pacer `late` after
    /// the instant it was set for: up quickly, down slowly, so the lead
    /// tracks the high end of the alarm's lateness.
    fn adapt(&self, lead: Duration, late: Duration) -> Duration {
        let want = (late + self.margin).clamp(self.min_lead, self.max_lead);
        if want > lead {
            lead + (want - lead) / 4
        } else {
            lead - (lead - want) / 64
        }
    }
}

/// What the pacer walks: the slots of the workers `workers` (global
/// numbers; gate `i` is worker `workers.start + i`) in the plan's stages,
/// as they are published.
pub struct PacerSetup {
    pub workers: std::ops::Range<usize>,
    pub plan: PlanView,
    pub tuning: Tuning,
}

/// One worker's gate: the latest slot the pacer released to it.
struct Gate {
    /// Nanoseconds from `Gates::base` to the released slot, plus one; 0
    /// when none is, [`GONE`] once the pacer has stopped.
    released: AtomicU64,
    notify: Notify,
}

/// The pacer stopped: workers fall back to tokio's timer.
const GONE: u64 = u64::MAX;

/// What the pacer and the workers share: a gate per worker.
pub struct Gates {
    base: Instant,
    gates: Vec<Gate>,
}

impl Gates {
    fn key(&self, slot: Instant) -> u64 {
        let ns = slot.saturating_duration_since(self.base).as_nanos();
        (ns.min(u128::from(GONE - 2)) as u64) + 1
    }

    fn release(&self, worker: usize, slot: Instant) {
        let gate = &self.gates[worker];
        gate.released.store(self.key(slot), Ordering::Release);
        gate.notify.notify_one();
    }

    fn close(&self) {
        for gate in &self.gates {
            gate.released.store(GONE, Ordering::Release);
            gate.notify.notify_one();
        }
    }

    /// Waits until the pacer releases `slot` to worker `worker` (or, if
    /// the pacer has stopped, until the slot on tokio's timer).
    pub async fn wait(&self, worker: usize, slot: Instant) {
        let gate = &self.gates[worker];
        let key = self.key(slot);
        loop {
            match gate.released.load(Ordering::Acquire) {
                // The pacer ends right after releasing its last slot, and
                // its closing may overwrite that release before the worker
                // looks: a slot already due starts now (tokio's timer would
                // hold even a past deadline until its next tick, up to a
                // millisecond).
                GONE if Instant::now() >= slot => return,
                GONE => return tokio::time::sleep_until(slot.into()).await,
                r if r >= key => return,
                // A permit left by an earlier release (a slot this worker
                // passed while busy) wakes it once too early; it looks again.
                _ => gate.notify.notified().await,
            }
        }
    }
}

/// The pacer task and its alarm thread; both stop when this is dropped.
pub struct Pacer {
    gates: Arc<Gates>,
    task: tokio::task::JoinHandle<()>,
    alarm: Arc<Alarm>,
    thread: Option<JoinHandle<()>>,
}

impl Pacer {
    /// Starts the alarm thread and the pacer task (on the current runtime)
    /// over `plan`, counting from `base`, an instant at or before every
    /// slot.
    pub fn start(plan: PacerSetup, base: Instant) -> std::io::Result<Pacer> {
        let gates = Arc::new(Gates {
            base,
            gates: (0..plan.workers.len())
                .map(|_| Gate {
                    released: AtomicU64::new(0),
                    notify: Notify::new(),
                })
                .collect(),
        });
        let alarm = Arc::new(Alarm::default());
        let thread = {
            let alarm = alarm.clone();
            std::thread::Builder::new()
                .name("tikv-bench-alarm".into())
                .spawn(move || alarm.run())?
        };
        let task = tokio::spawn(walk(gates.clone(), plan, alarm.clone()));
        Ok(Pacer {
            gates,
            task,
            alarm,
            thread: Some(thread),
        })
    }

    /// What the workers wait on.
    pub fn gates(&self) -> Arc<Gates> {
        self.gates.clone()
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        // Aborting drops the walk, whose guard closes the gates.
        self.task.abort();
        self.alarm.stop();
        if let Some(t) = self.thread.take() {
            // The thread sees the flag at once: it waits on the condvar.
            let _ = t.join();
        }
    }
}

/// Closes the gates however the walk ends (done, aborted, or a panic), so
/// that no worker waits for a release that never comes.
struct Close(Arc<Gates>);

impl Drop for Close {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The slots of the plan in order: within a stage, op j = k·W + g goes
/// to worker g, and j's intended start rises with j; this driver's workers
/// are `ids`, its gate `i` worker `ids.start + i`.
struct Slots {
    plan: PlanView,
    ids: std::ops::Range<usize>,
    stage: usize,
    k: u64,
    i: usize,
}

/// The next slot as far as the stages published tell.
enum Peek {
    Slot(usize, Instant),
    /// The next slot is in a stage not yet published.
    Unknown,
    End,
}

impl Slots {
    fn peek(&mut self) -> Peek {
        loop {
            let Some(stage) = self.plan.get(self.stage) else {
                return match self.plan.known().closed {
                    true => Peek::End,
                    false => Peek::Unknown,
                };
            };
            match stage.slot(self.ids.start + self.i, self.k) {
                Some(t) => return Peek::Slot(self.i, t),
                None => {
                    self.stage += 1;
                    self.k = 0;
                    self.i = 0;
                }
            }
        }
    }

    /// The next slot and the worker it belongs to, waiting for its stage
    /// to be published; `None` at the plan's end.
    async fn current(&mut self) -> Option<(usize, Instant)> {
        loop {
            match self.peek() {
                Peek::Slot(i, t) => return Some((i, t)),
                Peek::End => return None,
                Peek::Unknown => {
                    self.plan.wait(self.stage).await?;
                }
            }
        }
    }

    fn advance(&mut self) {
        self.i += 1;
        if self.i == self.ids.len() {
            self.i = 0;
            self.k += 1;
        }
    }
}

/// Releases every slot of `plan` at its instant.
async fn walk(gates: Arc<Gates>, plan: PacerSetup, alarm: Arc<Alarm>) {
    let _close = Close(gates.clone());
    let PacerSetup {
        workers,
        plan,
        tuning,
    } = plan;
    if workers.is_empty() {
        return;
    }
    let mut slots = Slots {
        plan,
        ids: workers,
        stage: 0,
        k: 0,
        i: 0,
    };
    let mut lead = tuning.lead;
    // The alarm set for the current slot: (its instant, its number).
    let mut armed: Option<(Instant, u64)> = None;
    loop {
        let Some((worker, slot)) = slots.current().await else {
            return;
        };
        if armed.is_none() && slot > Instant::now() + lead + tuning.min_sleep {
            let early = tuning.early(lead, slot.saturating_duration_since(Instant::now()));
            armed = Some((slot - early, alarm.set(slot - early)));
        }
        if let Some((wake, set)) = armed.take() {
            alarm.wait(set).await;
            lead = tuning.adapt(lead, Instant::now().saturating_duration_since(wake));
        }
        slots.advance();
        // Set the alarm for the next slot now, while there is time to
        // spare, so that waking the alarm thread never delays a release.
        if let Peek::Slot(_, next) = slots.peek()
            && next > slot + lead + tuning.min_sleep
        {
            let early = tuning.early(lead, next - slot);
            armed = Some((next - early, alarm.set(next - early)));
        }
        SpinUntil {
            slot,
            hold: tuning.hold,
        }
        .await;
        gates.release(worker, slot);
        if armed.is_none() {
            // The worker just released runs next on this thread; were the
            // pacer to wake itself now, it would push the worker out to the
            // run queue, whence another thread might take it, later.
            tokio::task::yield_now().await;
        }
    }
}

/// Completes at `slot`: until `hold` before it, it lets every other task
/// of its thread run between two looks at the clock (it wakes itself, so
/// it queues behind them, not behind a poll of the I/O driver as a
/// `yield_now` would); within `hold`, it keeps the thread.
struct SpinUntil {
    slot: Instant,
    hold: Duration,
}

impl Future for SpinUntil {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let now = Instant::now();
            if now >= self.slot {
                return Poll::Ready(());
            }
            if self.slot - now > self.hold {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            std::hint::spin_loop();
        }
    }
}

/// A thread that wakes one task at one instant, precisely: its sleeps
/// have no timer slack (see `os::precise_sleeps`).
#[derive(Default)]
struct Alarm {
    state: Mutex<AlarmState>,
    cv: Condvar,
}

#[derive(Default)]
struct AlarmState {
    /// When to fire next, if set.
    at: Option<Instant>,
    /// Who to wake when it fires.
    waker: Option<Waker>,
    /// How many times the alarm was set, and how many of those have fired.
    set: u64,
    fired: u64,
    stop: bool,
}

impl Alarm {
    fn lock(&self) -> MutexGuard<'_, AlarmState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the alarm for `t`, replacing any earlier setting; returns the
    /// setting's number for [`Alarm::wait`].
    fn set(&self, t: Instant) -> u64 {
        let mut st = self.lock();
        st.set += 1;
        st.at = Some(t);
        st.waker = None;
        self.cv.notify_one();
        st.set
    }

    /// Completes when setting `set` fires (at once if it has).
    fn wait(&self, set: u64) -> AlarmWait<'_> {
        AlarmWait { alarm: self, set }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.cv.notify_one();
    }

    /// The alarm thread: sleeps until the instant set, fires, repeats.
    fn run(&self) {
        super::os::precise_sleeps();
        let mut st = self.lock();
        while !st.stop {
            let Some(t) = st.at else {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let now = Instant::now();
            if now < t {
                st = self
                    .cv
                    .wait_timeout(st, t - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            st.at = None;
            st.fired = st.set;
            if let Some(w) = st.waker.take() {
                drop(st);
                w.wake();
                st = self.lock();
            }
        }
    }
}

/// The future of [`Alarm::wait`].
struct AlarmWait<'a> {
    alarm: &'a Alarm,
    set: u64,
}

impl Future for AlarmWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.alarm.lock();
        if st.fired >= self.set || st.stop {
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pacer's last release can be overwritten by its closing before
    /// the worker looks; a slot already due must then start at once, not
    /// on tokio's next timer tick (the last send of every run was about
    /// 1.1 ms late).
    #[tokio::test]
    async fn a_due_slot_passes_a_closed_gate_at_once() {
        let base = Instant::now();
        let gates = Gates {
            base,
            gates: vec![Gate {
                released: AtomicU64::new(0),
                notify: Notify::new(),
            }],
        };
        gates.release(0, base);
        gates.close();
        let mut wait = std::pin::pin!(gates.wait(0, base));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_ready(), "no timer tick");
    }

    #[test]
    fn the_lead_rises_quickly_and_falls_slowly_within_its_bounds() {
        let t = Tuning::default();
        let us = Duration::from_micros;
        let up = t.adapt(us(100), us(300) - t.margin);
        assert_eq!(up, us(150), "a quarter of the way to 300");
        let down = t.adapt(us(100), us(0));
        assert!(down < us(100) && down > us(98), "{down:?}");
        assert_eq!(t.adapt(us(500), us(10_000)), us(500), "capped");
        let mut lead = us(500);
        for _ in 0..10_000 {
            lead = t.adapt(lead, Duration::ZERO);
        }
        assert_eq!(t.early(us(30), Duration::from_secs(1)), t.idle_lead);
        assert_eq!(t.early(us(30), us(4_000)), us(200), "a 20th of the gap");
        assert_eq!(t.early(us(30), us(100)), us(30), "the lead");
        let floor = t.margin.max(t.min_lead);
        assert!(lead >= floor && lead < floor + us(1), "{lead:?}");
    }
}

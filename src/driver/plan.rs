//! The plan of a run: its load stages, one after another. A workload's
//! `stages:` make the plan; a workload without them makes one stage of its
//! `warmup`, `stop` and `rate`, so that every run goes through the one
//! scheduling path. The SLO search publishes its steps as it decides them;
//! the workers and the pacer wait for a stage not yet published, and a
//! closed plan ends the run.
//!
//! Open loop, a stage's ops are numbered j = 0, 1, 2.. over all the
//! workload's workers; op j is intended at N⁻¹(j), where N(t) is the
//! stage's cumulative offered ops (held at R: R·t; ramped from R0 to R1
//! over D: R0·t + (R1-R0)·t²/2D), and worker g of W takes the ops
//! j ≡ g (mod W). Closed loop, worker g runs ops while g < C(t), the
//! stage's level (a ramp moves it linearly).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::metrics::{LevelKind, StageLevel};
use crate::workload::{Level, Stop, Workload};

/// One stage of a run, placed in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    /// Rate stages (open loop) or concurrency stages (closed loop).
    pub kind: LevelKind,
    /// The level at the stage's start and end (equal when held).
    pub from: f64,
    pub to: f64,
    pub start: Instant,
    /// The unmeasured start of the stage.
    pub warmup: Duration,
    /// `None`: until the op quota (`operations:`) is done.
    pub duration: Option<Duration>,
    /// Held open loop: one worker's interval between ops, `workers / rate`.
    interval: Option<Duration>,
    /// The workload's workers (all drivers').
    workers: usize,
}

impl Planned {
    /// A stage at `level` from `start`, ramped from `from` when `ramp`.
    pub fn new(level: Level, from: f64, ramp: bool, start: Instant, workers: usize) -> Planned {
        let (kind, to) = match level {
            Level::Rate(r) => (LevelKind::Rate, r),
            Level::Workers(n) => (LevelKind::Concurrency, f64::from(n)),
        };
        let from = if ramp { from } else { to };
        let interval = (kind == LevelKind::Rate && from == to && to > 0.0)
            .then(|| Duration::from_secs_f64(workers as f64 / to));
        Planned {
            kind,
            from,
            to,
            start,
            warmup: Duration::ZERO,
            duration: None,
            interval,
            workers,
        }
    }

    pub fn with_span(mut self, warmup: Duration, duration: Option<Duration>) -> Planned {
        self.warmup = warmup;
        self.duration = duration;
        self
    }

    /// Where the measured span begins.
    pub fn measure_from(&self) -> Instant {
        self.start + self.warmup
    }

    /// Where the stage ends (`None`: at the quota).
    pub fn end(&self) -> Option<Instant> {
        self.duration.map(|d| self.start + d)
    }

    pub fn level(&self) -> StageLevel {
        StageLevel {
            kind: self.kind,
            from: self.from,
            to: self.to,
        }
    }

    /// The level `t` into the stage.
    pub fn level_at(&self, t: Duration) -> f64 {
        match self.duration {
            Some(d) if self.from != self.to && !d.is_zero() => {
                let x = (t.as_secs_f64() / d.as_secs_f64()).min(1.0);
                self.from + (self.to - self.from) * x
            }
            _ => self.to,
        }
    }

    /// Open loop: the intended start of worker `g`'s `k`-th op in this
    /// stage, `None` at or after the stage's end. Held, it is exactly
    /// `start + interval·g/W + k·interval`.
    #[inline]
    pub fn slot(&self, g: usize, k: u64) -> Option<Instant> {
        let at = match self.interval {
            Some(interval) => {
                let first = interval.mul_f64(g as f64 / self.workers as f64);
                let nanos = (interval.as_nanos() as u64).saturating_mul(k);
                first + Duration::from_nanos(nanos)
            }
            None => {
                let j = k as f64 * self.workers as f64 + g as f64;
                self.start_of_op(j)?
            }
        };
        let t = self.start + at;
        match self.end() {
            Some(end) if t >= end => None,
            _ => Some(t),
        }
    }

    /// N⁻¹(j) of a ramp (or of a held rate of 0: never).
    fn start_of_op(&self, j: f64) -> Option<Duration> {
        if j == 0.0 {
            return (self.from > 0.0 || self.to > 0.0).then_some(Duration::ZERO);
        }
        let d = self.duration?.as_secs_f64();
        let a = (self.to - self.from) / (2.0 * d);
        let disc = self.from * self.from + 4.0 * a * j;
        // Written so that it is stable whatever the sign of `a`:
        // t = 2j / (R0 + sqrt(R0² + 4aj)).
        let den = self.from + disc.max(0.0).sqrt();
        if disc < 0.0 || den <= 0.0 {
            return None;
        }
        let t = 2.0 * j / den;
        (t.is_finite() && t < d).then(|| Duration::from_secs_f64(t))
    }

    /// Closed loop: the first instant at or after `now` in this stage when
    /// worker `g` runs ops (g < C(t)), `None` if none before its end.
    pub fn next_busy(&self, g: usize, now: Instant) -> Option<Instant> {
        let t = now.max(self.start);
        if self.end().is_some_and(|end| t >= end) {
            return None;
        }
        let g = g as f64;
        let into = t - self.start;
        if g < self.level_at(into) {
            return Some(t);
        }
        // Only a rising ramp can still reach g: C(t') > g from
        // t' = (g - C0)·D/(C1 - C0) on.
        let d = self.duration?;
        if self.to <= g {
            return None;
        }
        let from = d.mul_f64((g - self.from) / (self.to - self.from));
        let at = self.start + from + Duration::from_nanos(1);
        (at < self.start + d).then_some(at.max(t))
    }
}

/// The stages published so far.
#[derive(Debug, Clone, Default)]
pub struct Stages {
    pub list: Vec<Planned>,
    /// No stage will be added: the run ends after the last.
    pub closed: bool,
}

impl Stages {
    /// The stage whose span (warmup included) holds `t`.
    pub fn at(&self, t: Instant) -> Option<(usize, &Planned)> {
        self.list
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| s.start <= t)
    }
}

impl Stages {
    /// The measured time up to `now`: the parts of the stages' measured
    /// spans before it.
    pub fn measured_by(&self, now: Instant) -> Duration {
        self.list
            .iter()
            .map(|s| {
                let to = s.end().map_or(now, |end| end.min(now));
                to.saturating_duration_since(s.measure_from())
            })
            .sum()
    }
}

/// The driver's side of the plan: publishes stages, closes it.
pub struct Plan {
    tx: watch::Sender<Arc<Stages>>,
}

impl Plan {
    /// The workload's plan from `start`: its stages, or one stage of its
    /// warmup, stop and rate; a search's first step, the plan open.
    pub fn new(w: &Workload, start: Instant) -> Plan {
        let workers = w.concurrency as usize;
        let mut stages = Stages::default();
        if let Some(search) = &w.search {
            let first = crate::driver::search::SearchState::new(search).first();
            stages.list.push(step(first, search, start, workers));
        } else if w.stages.is_empty() {
            let level = match w.rate {
                Some(r) => Level::Rate(r),
                None => Level::Workers(w.concurrency),
            };
            let duration = match w.stop {
                Stop::Duration(d) => Some(w.warmup + d),
                Stop::Operations(_) => None,
            };
            let s = Planned::new(level, 0.0, false, start, workers);
            stages.list.push(s.with_span(w.warmup, duration));
            stages.closed = true;
        } else {
            let (mut at, mut from) = (start, 0.0);
            for st in &w.stages {
                let s = Planned::new(st.level, from, st.ramp, at, workers);
                stages.list.push(s.with_span(st.warmup, Some(st.duration)));
                at += st.duration;
                from = s.to;
            }
            stages.closed = true;
        }
        Plan {
            tx: watch::channel(Arc::new(stages)).0,
        }
    }

    pub fn view(&self) -> PlanView {
        PlanView::new(self.tx.subscribe())
    }

    pub fn stages(&self) -> Arc<Stages> {
        self.tx.borrow().clone()
    }

    /// Adds a stage (a search's next step).
    pub fn publish(&self, stage: Planned) {
        self.tx.send_modify(|s| Arc::make_mut(s).list.push(stage));
    }

    /// No more stages: the workers stop after the last.
    pub fn close(&self) {
        self.tx.send_modify(|s| Arc::make_mut(s).closed = true);
    }
}

/// A search step at `rate` from `start`: its warmup, then its hold.
pub fn step(
    rate: f64,
    search: &crate::workload::Search,
    start: Instant,
    workers: usize,
) -> Planned {
    Planned::new(Level::Rate(rate), 0.0, false, start, workers)
        .with_span(search.warmup, Some(search.warmup + search.hold))
}

/// A worker's or the pacer's view of the plan: the stages it knows, and
/// the wait for the next.
#[derive(Debug, Clone)]
pub struct PlanView {
    rx: watch::Receiver<Arc<Stages>>,
    known: Arc<Stages>,
}

impl PlanView {
    fn new(mut rx: watch::Receiver<Arc<Stages>>) -> PlanView {
        let known = rx.borrow_and_update().clone();
        PlanView { rx, known }
    }

    pub fn known(&self) -> &Stages {
        &self.known
    }

    /// The stages published so far, including any this view has not
    /// waited for.
    pub fn latest(&self) -> Arc<Stages> {
        self.rx.borrow().clone()
    }

    /// Stage `k` as known now, without waiting.
    #[inline]
    pub fn get(&self, k: usize) -> Option<&Planned> {
        self.known.list.get(k)
    }

    /// Stage `k`, waiting for it to be published; `None` when the plan
    /// closes without it.
    pub async fn wait(&mut self, k: usize) -> Option<Planned> {
        loop {
            if let Some(s) = self.known.list.get(k) {
                return Some(*s);
            }
            if self.known.closed {
                return None;
            }
            if self.rx.changed().await.is_err() {
                // The driver dropped the plan: the run is over.
                self.known = self.rx.borrow().clone();
                return self.known.list.get(k).copied();
            }
            self.known = self.rx.borrow_and_update().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_stage_is_the_fixed_interval_schedule_exactly() {
        let start = Instant::now();
        let s = Planned::new(Level::Rate(3000.0), 0.0, false, start, 7)
            .with_span(Duration::ZERO, Some(Duration::from_secs(1)));
        let interval = Duration::from_secs_f64(7.0 / 3000.0);
        for g in 0..7 {
            let mut slot = start + interval.mul_f64(g as f64 / 7.0);
            for k in 0.. {
                let want = (slot < start + Duration::from_secs(1)).then_some(slot);
                assert_eq!(s.slot(g, k), want, "worker {g} op {k}");
                if want.is_none() {
                    break;
                }
                slot += interval;
            }
        }
        let ops: usize = (0..7)
            .map(|g| (0..).take_while(|k| s.slot(g, *k).is_some()).count())
            .sum();
        // The interval is whole nanoseconds (2333333 ns, a third of a ns
        // short), as the schedule always had it: one op more fits.
        assert_eq!(ops, 3001);
    }

    #[test]
    fn a_ramp_places_op_j_where_n_of_t_reaches_j() {
        let start = Instant::now();
        let d = 4.0;
        let (r0, r1) = (300.0, 100.0);
        let s = Planned::new(Level::Rate(r1), r0, true, start, 3)
            .with_span(Duration::ZERO, Some(Duration::from_secs_f64(d)));
        let n = |t: f64| r0 * t + (r1 - r0) * t * t / (2.0 * d);
        let mut count = 0;
        for k in 0.. {
            let mut any = false;
            for g in 0..3 {
                if let Some(at) = s.slot(g, k) {
                    let t = (at - start).as_secs_f64();
                    let j = (3 * k + g as u64) as f64;
                    assert!((n(t) - j).abs() < 1e-6, "op {j} at {t}");
                    count += 1;
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        assert_eq!(count, 800, "N(4 s) = (300 + 100)·4/2");
    }

    #[test]
    fn a_concurrency_ramp_wakes_worker_g_when_the_level_passes_g() {
        let start = Instant::now();
        let s = Planned::new(Level::Workers(10), 0.0, true, start, 10)
            .with_span(Duration::ZERO, Some(Duration::from_secs(10)));
        let at = s.next_busy(4, start).unwrap();
        assert_eq!(at - start, Duration::from_secs(4) + Duration::from_nanos(1));
        assert_eq!(s.next_busy(4, at), Some(at));
        let down = Planned::new(Level::Workers(0), 10.0, true, start, 10)
            .with_span(Duration::ZERO, Some(Duration::from_secs(10)));
        assert_eq!(down.next_busy(4, start), Some(start));
        assert_eq!(down.next_busy(4, start + Duration::from_secs(6)), None);
    }
}

//! What one worker records: per op, counts, errors by kind, retries and
//! latency histograms, kept in plain fields it alone owns, and the slowest
//! ops with their traces (`slow`). At each
//! wall-clock second boundary the worker hands the finished second to the
//! collector as one [`Report`]; nothing is shared or sent per operation.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::hist::{Hist, new_hist};
use super::impact::{Fine, FineRec};
use super::places::{PlaceRec, Places};
use super::server_time::ServerStats;
use super::slow::{Finished, SlowOp, Slowest};
use crate::vocab::{ErrorKind, Events, OpError, Outcome};

/// Maps monotonic instants to wall-clock time, fixed once per run so that
/// every worker (and every driver process, to the clock's accuracy) cuts
/// intervals at the same wall-clock seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
    base_unix_us: i64,
}

impl Clock {
    /// Pins `base` (an instant from the run's time source) to the system's
    /// wall-clock time now.
    pub fn new(base: Instant) -> Clock {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            base,
            base_unix_us: unix.as_micros() as i64,
        }
    }

    pub fn unix_us(&self, t: Instant) -> i64 {
        match t.checked_duration_since(self.base) {
            Some(d) => self.base_unix_us + d.as_micros() as i64,
            None => self.base_unix_us - self.base.duration_since(t).as_micros() as i64,
        }
    }

    /// The wall-clock second `t` falls in.
    pub fn second(&self, t: Instant) -> i64 {
        self.unix_us(t).div_euclid(1_000_000)
    }

    /// The instant wall-clock second `s` begins.
    pub fn start_of(&self, s: i64) -> Instant {
        let us = s * 1_000_000 - self.base_unix_us;
        if us >= 0 {
            self.base + Duration::from_micros(us as u64)
        } else {
            self.base - Duration::from_micros(us.unsigned_abs())
        }
    }
}

/// One op's figures over some span (an interval, a phase, a whole run).
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Successful ops: latency from the intended start (closed loop: the
    /// actual start), retries and backoff included.
    pub latency: Hist,
    /// Successful ops: service time from the actual start (open loop only).
    pub service: Option<Hist>,
    /// Every op, whatever its outcome: how late the worker started it, the
    /// actual start minus the intended one (open loop only). The harness's
    /// own error: what it adds to `latency` beyond the service time and
    /// queueing behind the op's own worker.
    pub lateness: Option<Hist>,
    /// Failed and unknown-outcome ops: latency as above.
    pub failed_latency: Option<Hist>,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Final errors by kind (failed + unknown).
    pub errors: [u64; ErrorKind::COUNT],
    /// Attempts that were retried, by the kind of error that caused them.
    pub retries: [u64; ErrorKind::COUNT],
    pub backoff_us: u64,
    pub not_found: u64,
    pub cas_mismatch: u64,
    pub events: Events,
    /// The RPCs whose answers said how long the store took, split into
    /// network and queueing, store wait and store work.
    pub server: ServerStats,
    /// The first message seen for each error kind.
    pub samples: Vec<(ErrorKind, String)>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            latency: new_hist(),
            service: None,
            lateness: None,
            failed_latency: None,
            ok: 0,
            failed: 0,
            unknown: 0,
            errors: [0; ErrorKind::COUNT],
            retries: [0; ErrorKind::COUNT],
            backoff_us: 0,
            not_found: 0,
            cas_mismatch: 0,
            events: Events::default(),
            server: ServerStats::default(),
            samples: Vec::new(),
        }
    }
}

impl OpStats {
    pub fn total(&self) -> u64 {
        self.ok + self.failed + self.unknown
    }

    pub fn retry_count(&self) -> u64 {
        self.retries.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0 && self.retry_count() == 0 && self.events.is_empty()
    }

    /// Adds everything in `other` into `self` (exact: histograms are added).
    pub fn merge(&mut self, other: &OpStats) {
        super::hist::add(&mut self.latency, &other.latency);
        merge_opt(&mut self.service, &other.service);
        merge_opt(&mut self.lateness, &other.lateness);
        merge_opt(&mut self.failed_latency, &other.failed_latency);
        self.ok += other.ok;
        self.failed += other.failed;
        self.unknown += other.unknown;
        for k in 0..ErrorKind::COUNT {
            self.errors[k] += other.errors[k];
            self.retries[k] += other.retries[k];
        }
        self.backoff_us += other.backoff_us;
        self.not_found += other.not_found;
        self.cas_mismatch += other.cas_mismatch;
        self.events.merge(&other.events);
        self.server.merge(&other.server);
        for (kind, msg) in &other.samples {
            if !self.samples.iter().any(|(k, _)| k == kind) {
                self.samples.push((*kind, msg.clone()));
            }
        }
    }
}

fn merge_opt(dst: &mut Option<Hist>, src: &Option<Hist>) {
    if let Some(s) = src {
        super::hist::add(dst.get_or_insert_with(new_hist), s);
    }
}

/// What a worker sends to the collector when a second ends.
#[derive(Debug)]
pub struct Report {
    pub worker: usize,
    /// The wall-clock second the stats cover; the worker has reported
    /// everything up to and including it.
    pub second: i64,
    /// Measured stats per op, indexed like the workload's ops (empty when
    /// the worker completed nothing measured in that second).
    pub ops: Vec<OpStats>,
    /// The worker's warmup stats, sent once with its last report.
    pub warmup: Option<Vec<OpStats>>,
    /// The worker's slowest measured ops, per op, sent once with its last
    /// report.
    pub slow: Option<Vec<Vec<SlowOp>>>,
    /// The worker has finished.
    pub last: bool,
    /// With per-stage stats kept: the stage the worker moved past (or was
    /// in when it finished).
    pub stage: Option<StageReport>,
    /// Per store and region, the measured ops' RPCs (see
    /// [`super::places`]).
    pub places: Option<Places>,
    /// The measured ops' fine timeline (see [`super::impact`]).
    pub fine: Option<Fine>,
}

/// One worker's figures of one load stage, sent once when it moves past
/// the stage or finishes: the ops intended in the stage's measured span,
/// and how many of its ops (any stage's) completed inside that span.
#[derive(Debug)]
pub struct StageReport {
    pub index: usize,
    pub ops: Vec<OpStats>,
    pub completed_in_span: u64,
}

/// Per-stage stats of one worker.
#[derive(Debug)]
struct StageRec {
    index: usize,
    ops: Vec<OpStats>,
    /// The measured spans of the stages known, by index.
    spans: Vec<(Instant, Instant)>,
    /// Ops completed inside each known stage's measured span.
    completed: Vec<u64>,
    /// The stage the last completion fell in or before (completions come
    /// in time order).
    cursor: usize,
}

impl StageRec {
    #[inline]
    fn completed(&mut self, end: Instant) {
        while self.cursor + 1 < self.spans.len() && end >= self.spans[self.cursor].1 {
            self.cursor += 1;
        }
        if let Some((from, to)) = self.spans.get(self.cursor)
            && end >= *from
            && end < *to
        {
            self.completed[self.cursor] += 1;
        }
    }

    fn take(&mut self, nops: usize) -> StageReport {
        StageReport {
            index: self.index,
            ops: std::mem::replace(&mut self.ops, fresh(nops)),
            completed_in_span: self.completed.get(self.index).copied().unwrap_or(0),
        }
    }
}

/// How one attempt-loop ended, as the recorder needs it.
pub struct Completion<'a> {
    pub result: &'a Result<Outcome, OpError>,
    /// Some attempt's outcome is unknown (a timeout after sending).
    pub undetermined: bool,
    pub intended: Instant,
    pub start: Instant,
    pub end: Instant,
}

/// One worker's recorder.
#[derive(Debug)]
pub struct Recorder {
    worker: usize,
    clock: Clock,
    measure_start: Instant,
    open_loop: bool,
    nops: usize,
    second: i64,
    next_boundary: Instant,
    current: Vec<OpStats>,
    touched: bool,
    warmup: Vec<OpStats>,
    slowest: Slowest,
    stages: Option<StageRec>,
    places: PlaceRec,
    fine: FineRec,
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

impl Recorder {
    pub fn new(
        worker: usize,
        nops: usize,
        clock: Clock,
        now: Instant,
        measure_start: Instant,
        open_loop: bool,
    ) -> Recorder {
        let second = clock.second(now);
        Recorder {
            worker,
            clock,
            measure_start,
            open_loop,
            nops,
            second,
            next_boundary: clock.start_of(second + 1),
            current: fresh(nops),
            touched: false,
            warmup: fresh(nops),
            slowest: Slowest::new(nops),
            stages: None,
            places: PlaceRec::default(),
            fine: FineRec::new(clock),
        }
    }

    /// Keeps per-stage stats from here on, the worker in stage 0 (until
    /// [`Recorder::enter_stage`]).
    pub fn keep_stages(&mut self) {
        self.stages = Some(StageRec {
            index: 0,
            ops: fresh(self.nops),
            spans: Vec::new(),
            completed: Vec::new(),
            cursor: 0,
        });
    }

    /// The worker enters its next stage, whose measured span starts at
    /// `measure_from`; `spans` are the measured spans of every stage known
    /// (by index). Ops intended from here on are measured from
    /// `measure_from`.
    pub fn enter_stage(
        &mut self,
        measure_from: Instant,
        spans: impl IntoIterator<Item = (Instant, Instant)>,
    ) {
        self.measure_start = measure_from;
        if let Some(st) = &mut self.stages {
            st.spans.clear();
            st.spans.extend(spans);
            if st.completed.len() < st.spans.len() {
                st.completed.resize(st.spans.len(), 0);
            }
        }
    }

    /// The worker moves past its stage: with per-stage stats, the report of
    /// the stage, for the caller to send (the next stage's number follows).
    pub fn leave_stage(&mut self) -> Option<Report> {
        let nops = self.nops;
        let st = self.stages.as_mut()?;
        let stage = st.take(nops);
        st.index += 1;
        Some(Report {
            worker: self.worker,
            // Everything before the current second has been reported.
            second: self.second - 1,
            ops: Vec::new(),
            warmup: None,
            slow: None,
            last: false,
            stage: Some(stage),
            places: None,
            fine: None,
        })
    }

    /// Whether an op intended to start at `t` is measured (not warmup).
    #[inline]
    pub fn measured(&self, intended: Instant) -> bool {
        intended >= self.measure_start
    }

    /// Records a finished op. Returns a report when `c.end` crossed into a
    /// new second; the caller sends it.
    #[inline]
    pub fn record(&mut self, op: usize, events: &Events, c: Completion<'_>) -> Option<Report> {
        let report = self.tick(c.end);
        let measured = self.measured(c.intended);
        let latency = micros(c.end.saturating_duration_since(c.intended));
        if measured {
            self.touched = true;
            count(&mut self.current[op], self.open_loop, &c, latency, events);
        } else {
            count(&mut self.warmup[op], self.open_loop, &c, latency, events);
        }
        if let Some(st) = &mut self.stages {
            if measured {
                count(&mut st.ops[op], self.open_loop, &c, latency, events);
            }
            st.completed(c.end);
        }
        if measured {
            let trace = events.trace();
            self.places.record(trace);
            self.fine.record(c.end, c.result.is_ok(), latency, trace);
            let done = Finished {
                latency_us: latency,
                intended: c.intended,
                start: c.start,
                result: c.result,
                undetermined: c.undetermined,
            };
            self.slowest.offer(op, done, events.trace());
        }
        report
    }

    /// Counts a retry of `op` caused by `kind`, after sleeping `backoff`.
    pub fn retry(&mut self, op: usize, intended: Instant, kind: ErrorKind, backoff: Duration) {
        let measured = self.measured(intended);
        let stats = if measured {
            self.touched = true;
            &mut self.current[op]
        } else {
            &mut self.warmup[op]
        };
        stats.retries[kind as usize] += 1;
        stats.backoff_us += micros(backoff);
        if let Some(st) = self.stages.as_mut().filter(|_| measured) {
            st.ops[op].retries[kind as usize] += 1;
            st.ops[op].backoff_us += micros(backoff);
        }
    }

    /// Closes the current second if `now` is past it. Called after each op
    /// and before a worker sleeps, so idle workers still report.
    #[inline]
    pub fn tick(&mut self, now: Instant) -> Option<Report> {
        if now < self.next_boundary {
            return None;
        }
        let report = self.take(false);
        self.second = self.clock.second(now);
        self.next_boundary = self.clock.start_of(self.second + 1);
        Some(report)
    }

    fn take(&mut self, last: bool) -> Report {
        let ops = if self.touched {
            self.touched = false;
            std::mem::replace(&mut self.current, fresh(self.nops))
        } else {
            Vec::new()
        };
        Report {
            worker: self.worker,
            second: self.second,
            ops,
            warmup: last.then(|| std::mem::take(&mut self.warmup)),
            slow: last.then(|| self.slowest.take(&self.clock)),
            last,
            stage: match &mut self.stages {
                Some(st) if last => Some(st.take(self.nops)),
                _ => None,
            },
            places: self.places.take(last),
            fine: self.fine.take(last),
        }
    }

    /// The final report: the current second and the warmup stats.
    pub fn finish(mut self) -> Report {
        self.take(true)
    }
}

/// Counts a finished op into `stats`.
#[inline]
fn count(stats: &mut OpStats, open_loop: bool, c: &Completion<'_>, latency: u64, events: &Events) {
    if open_loop {
        let late = micros(c.start.saturating_duration_since(c.intended));
        super::hist::record(stats.lateness.get_or_insert_with(new_hist), late);
    }
    match c.result {
        Ok(outcome) => {
            stats.ok += 1;
            super::hist::record(&mut stats.latency, latency);
            if open_loop {
                let service = micros(c.end.saturating_duration_since(c.start));
                super::hist::record(stats.service.get_or_insert_with(new_hist), service);
            }
            match outcome {
                Outcome::Done | Outcome::Held { .. } => {}
                Outcome::NotFound => stats.not_found += 1,
                Outcome::Mismatch => stats.cas_mismatch += 1,
            }
        }
        Err(e) => {
            if c.undetermined || e.undetermined {
                stats.unknown += 1;
            } else {
                stats.failed += 1;
            }
            stats.errors[e.kind as usize] += 1;
            super::hist::record(stats.failed_latency.get_or_insert_with(new_hist), latency);
            if !stats.samples.iter().any(|(k, _)| *k == e.kind) {
                stats.samples.push((e.kind, e.message.clone()));
            }
        }
    }
    if !events.is_empty() {
        stats.events.merge(events);
    }
    stats.server.record(events.trace());
}

fn fresh(n: usize) -> Vec<OpStats> {
    (0..n).map(|_| OpStats::default()).collect()
}

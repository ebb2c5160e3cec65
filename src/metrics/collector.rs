//! Merges the workers' per-second reports into run totals and a per-second
//! timeline. A second is final once every running worker has reported past
//! it; final seconds are reduced to counts, percentiles and an encoded
//! histogram, so memory stays bounded however long the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::hist::{self, Hist, Percentiles, new_hist};
use super::impact::Fine;
use super::memory;
use super::places::Places;
use super::recorder::{OpStats, Report, StageReport};
use super::slow::{SlowOp, keep_slowest};
use super::timeline::Timeline;
pub use super::timeline::{Second, SecondOp};

/// Everything the workers measured.
#[derive(Debug, Clone)]
pub struct Summary {
    pub ops: Vec<OpStats>,
    pub warmup: Vec<OpStats>,
    pub timeline: Vec<Second>,
    /// Per op, the slowest measured ops with their traces, slowest first.
    pub slow: Vec<Vec<SlowOp>>,
    /// The process's peak resident set when the run ended, bytes (`None`
    /// where it cannot be read).
    pub peak_rss_bytes: Option<u64>,
    /// Per store and region, the measured ops' RPCs.
    pub places: Places,
    /// The measured ops' fine timeline.
    pub fine: Fine,
}

/// A running view for progress displays and the metrics endpoint, updated
/// once per report (counts) and once per final second (per-op figures).
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub measured_ops: u64,
    pub warmup_ops: u64,
    pub errors: u64,
    pub retries: u64,
    /// The last final second: ops completed and p99 in microseconds.
    pub last_second: Option<(i64, u64, u64)>,
    /// Per op (indexed like the workload's ops), measured so far, as of the
    /// last final second.
    pub ops: Vec<LiveOp>,
    /// Per store, the measured ops' RPCs so far, as of the last final
    /// second (empty when none was traced).
    pub stores: Vec<super::places::LiveStore>,
}

/// One op's measured totals so far.
#[derive(Debug, Clone, Default)]
pub struct LiveOp {
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    pub errors: Vec<(crate::vocab::ErrorKind, u64)>,
    pub retries: Vec<(crate::vocab::ErrorKind, u64)>,
    pub latency: Percentiles,
}

impl LiveOp {
    fn of(s: &OpStats) -> LiveOp {
        let nonzero = |counts: &[u64; crate::vocab::ErrorKind::COUNT]| {
            crate::vocab::ErrorKind::ALL
                .iter()
                .filter(|k| counts[**k as usize] > 0)
                .map(|k| (*k, counts[*k as usize]))
                .collect()
        };
        LiveOp {
            ok: s.ok,
            failed: s.failed,
            unknown: s.unknown,
            errors: nonzero(&s.errors),
            retries: nonzero(&s.retries),
            latency: Percentiles::of(&s.latency),
        }
    }
}

pub struct Collector {
    nops: usize,
    totals: Vec<OpStats>,
    warmup: Vec<OpStats>,
    pending: BTreeMap<i64, Vec<OpStats>>,
    /// Per worker: the last second it reported, and whether it finished.
    marks: Vec<(i64, bool)>,
    timeline: Timeline,
    /// The last final second: ops completed and p99 in microseconds.
    last_second: Option<(i64, u64, u64)>,
    slow: Vec<Vec<SlowOp>>,
    live: Arc<Mutex<Live>>,
    /// Per stage, what the workers have sent of it so far.
    stages: Vec<StageReport>,
    /// Per worker, how many stages it has moved past.
    passed: Vec<usize>,
    places: Places,
    fine: Fine,
}

impl Collector {
    pub fn new(nops: usize, workers: usize) -> Collector {
        Collector::with_live(nops, workers, Arc::default())
    }

    /// A collector that publishes its running view into `live` (shared with
    /// a metrics endpoint started before the run).
    pub fn with_live(nops: usize, workers: usize, live: Arc<Mutex<Live>>) -> Collector {
        Collector {
            nops,
            totals: (0..nops).map(|_| OpStats::default()).collect(),
            warmup: (0..nops).map(|_| OpStats::default()).collect(),
            pending: BTreeMap::new(),
            marks: vec![(i64::MIN, false); workers],
            timeline: Timeline::default(),
            last_second: None,
            slow: vec![Vec::new(); nops],
            live,
            stages: Vec::new(),
            passed: vec![0; workers],
            places: Places::default(),
            fine: Fine::default(),
        }
    }

    pub fn live(&self) -> Arc<Mutex<Live>> {
        self.live.clone()
    }

    /// The measured totals so far, per op (what an abort watch judges).
    pub fn totals(&self) -> &[OpStats] {
        &self.totals
    }

    pub fn add(&mut self, r: Report) {
        let mut live_delta = (0u64, 0u64, 0u64);
        if !r.ops.is_empty() {
            let slot = self
                .pending
                .entry(r.second)
                .or_insert_with(|| (0..self.nops).map(|_| OpStats::default()).collect());
            for (i, s) in r.ops.iter().enumerate() {
                live_delta.0 += s.total();
                live_delta.1 += s.failed + s.unknown;
                live_delta.2 += s.retry_count();
                slot[i].merge(s);
                self.totals[i].merge(s);
            }
        }
        let mut warm = 0;
        if let Some(w) = &r.warmup {
            for (i, s) in w.iter().enumerate() {
                warm += s.total();
                self.warmup[i].merge(s);
            }
        }
        for (kept, more) in self.slow.iter_mut().zip(r.slow.into_iter().flatten()) {
            keep_slowest(kept, more);
        }
        if let Some(p) = &r.places {
            self.places.merge(p);
        }
        if let Some(f) = &r.fine {
            self.fine.merge(f);
        }
        if let Some(st) = r.stage {
            self.passed[r.worker] = self.passed[r.worker].max(st.index + 1);
            self.add_stage(st);
        }
        self.marks[r.worker] = (r.second, r.last);
        let finalized = self.finalize(false);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if finalized || live.ops.len() != self.nops {
            live.ops = self.totals.iter().map(LiveOp::of).collect();
        }
        if finalized {
            live.stores = self.places.live();
        }
        live.measured_ops += live_delta.0;
        live.errors += live_delta.1;
        live.retries += live_delta.2;
        live.warmup_ops += warm;
        if self.last_second.is_some() {
            live.last_second = self.last_second;
        }
    }

    fn add_stage(&mut self, st: StageReport) {
        while self.stages.len() <= st.index {
            self.stages.push(StageReport {
                index: self.stages.len(),
                ops: (0..self.nops).map(|_| OpStats::default()).collect(),
                completed_in_span: 0,
            });
        }
        let acc = &mut self.stages[st.index];
        for (i, s) in st.ops.iter().enumerate() {
            acc.ops[i].merge(s);
        }
        acc.completed_in_span += st.completed_in_span;
    }

    /// Whether every worker has sent its figures of stage `index`: each
    /// has moved past it or finished.
    pub fn stage_complete(&self, index: usize) -> bool {
        self.passed
            .iter()
            .zip(&self.marks)
            .all(|(passed, (_, done))| *passed > index || *done)
    }

    /// Stage `index`'s figures once it is complete (see
    /// [`Collector::stage_complete`]); a stage no worker ran ops in is
    /// empty. Taken once.
    pub fn take_stage(&mut self, index: usize) -> Option<StageReport> {
        if !self.stage_complete(index) {
            return None;
        }
        let empty = || StageReport {
            index,
            ops: (0..self.nops).map(|_| OpStats::default()).collect(),
            completed_in_span: 0,
        };
        Some(match self.stages.get_mut(index) {
            Some(st) => std::mem::replace(st, empty()),
            None => empty(),
        })
    }

    /// Turns pending seconds that no running worker can still add to into
    /// timeline entries, each with the resident set read as it became
    /// final; with `all`, every pending second. Returns whether any second
    /// became final.
    fn finalize(&mut self, all: bool) -> bool {
        let watermark = self
            .marks
            .iter()
            .filter(|(_, done)| !done)
            .map(|(s, _)| *s)
            .min()
            .unwrap_or(i64::MAX);
        let mut rss = None;
        let mut any = false;
        while let Some(entry) = self.pending.first_entry() {
            // A worker's report for second s means it has moved past s, so
            // s is final once every running worker has reported s or later.
            if !all && *entry.key() > watermark {
                break;
            }
            let (unix_s, stats) = entry.remove_entry();
            let rss = *rss.get_or_insert_with(memory::rss_bytes);
            let mut h: Hist = new_hist();
            stats.iter().for_each(|s| hist::add(&mut h, &s.latency));
            let ops = stats.iter().map(|s| s.ok + s.failed + s.unknown).sum();
            self.last_second = Some((unix_s, ops, Percentiles::of(&h).p99));
            self.timeline.push(unix_s, &stats, rss);
            any = true;
        }
        any
    }

    pub fn finish(mut self) -> Summary {
        self.finalize(true);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.ops = self.totals.iter().map(LiveOp::of).collect();
        live.stores = self.places.live();
        drop(live);
        Summary {
            ops: self.totals,
            warmup: self.warmup,
            timeline: self.timeline.finish(),
            slow: self.slow,
            peak_rss_bytes: memory::peak_rss_bytes(),
            places: self.places,
            fine: self.fine,
        }
    }
}

//! Merges the workers' per-second reports into run totals and a per-second
//! timeline. A second is final once every running worker has reported past
//! it; final seconds are reduced to counts, percentiles and an encoded
//! histogram, so memory stays bounded however long the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::hist::{self, Hist, Percentiles, new_hist};
use super::recorder::{OpStats, Report};
use super::slow::{SlowOp, keep_slowest};

/// One op in one second of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondOp {
    pub ok: u64,
    pub failed: u64,
    pub latency: Percentiles,
    /// The second's latency histogram, encoded (see [`hist::encode`]).
    pub histogram: String,
}

/// One wall-clock second of the measured phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    pub unix_s: i64,
    /// Per op, indexed like the workload's ops; `None` when idle.
    pub ops: Vec<Option<SecondOp>>,
    /// All ops together.
    pub all: Percentiles,
}

/// Everything the workers measured.
#[derive(Debug, Clone)]
pub struct Summary {
    pub ops: Vec<OpStats>,
    pub warmup: Vec<OpStats>,
    pub timeline: Vec<Second>,
    /// Per op, the slowest measured ops with their traces, slowest first.
    pub slow: Vec<Vec<SlowOp>>,
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
    timeline: Vec<Second>,
    slow: Vec<Vec<SlowOp>>,
    live: Arc<Mutex<Live>>,
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
            timeline: Vec::new(),
            slow: vec![Vec::new(); nops],
            live,
        }
    }

    pub fn live(&self) -> Arc<Mutex<Live>> {
        self.live.clone()
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
        self.marks[r.worker] = (r.second, r.last);
        let finalized = self.finalize(false);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if finalized || live.ops.len() != self.nops {
            live.ops = self.totals.iter().map(LiveOp::of).collect();
        }
        live.measured_ops += live_delta.0;
        live.errors += live_delta.1;
        live.retries += live_delta.2;
        live.warmup_ops += warm;
        if let Some(last) = self.timeline.last() {
            let ops: u64 = last.ops.iter().flatten().map(|o| o.ok + o.failed).sum();
            live.last_second = Some((last.unix_s, ops, last.all.p99));
        }
    }

    /// Turns pending seconds that no running worker can still add to into
    /// timeline entries; with `all`, every pending second. Returns whether
    /// any second became final.
    fn finalize(&mut self, all: bool) -> bool {
        let before = self.timeline.len();
        let watermark = self
            .marks
            .iter()
            .filter(|(_, done)| !done)
            .map(|(s, _)| *s)
            .min()
            .unwrap_or(i64::MAX);
        while let Some(entry) = self.pending.first_entry() {
            // A worker's report for second s means it has moved past s, so
            // s is final once every running worker has reported s or later.
            if !all && *entry.key() > watermark {
                break;
            }
            let (unix_s, stats) = entry.remove_entry();
            let mut all: Hist = new_hist();
            let ops = stats
                .into_iter()
                .map(|s| {
                    hist::add(&mut all, &s.latency);
                    (s.total() > 0).then(|| SecondOp {
                        ok: s.ok,
                        failed: s.failed + s.unknown,
                        latency: Percentiles::of(&s.latency),
                        histogram: hist::encode(&s.latency),
                    })
                })
                .collect();
            self.timeline.push(Second {
                unix_s,
                ops,
                all: Percentiles::of(&all),
            });
        }
        self.timeline.len() != before
    }

    pub fn finish(mut self) -> Summary {
        self.finalize(true);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.ops = self.totals.iter().map(LiveOp::of).collect();
        drop(live);
        Summary {
            ops: self.totals,
            warmup: self.warmup,
            timeline: self.timeline,
            slow: self.slow,
        }
    }
}

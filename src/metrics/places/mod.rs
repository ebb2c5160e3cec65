//! Where the ops went: per store and per region, the RPCs our client sent
//! (count, answers, latency), read off each measured op's trace, so that a
//! slow store or a hot region shows.
//!
//! **What is counted.** Every `Step::Rpc` of a measured op's trace is one
//! RPC attempt to a store, for a region. Per store and per region: the
//! attempts, their answers by class (ok, key error, region error, failed:
//! see [`Answers`]), the ops that sent it at least one attempt, and a
//! latency histogram of its *answered* attempts: the span's client-side
//! duration (send to answer) of every attempt the store answered (ok, key
//! error or region error). Failed attempts (timeouts, unreachable stores)
//! are counted but kept out of the histogram: their duration is the
//! client's timeout, not the store's latency. Per region also the stores
//! that served it (more than one: its leader moved).
//!
//! **Design: one second of samples per worker, histograms once.** A worker
//! does not keep a histogram per region: with thousands of regions and a
//! thousand workers that is workers × regions histograms (tens of KB each).
//! Instead [`PlaceRec::record`] appends one small [`Sample`] per RPC to a
//! buffer it reuses (no allocation once the buffer has reached a busy
//! second's size), and [`PlaceRec::take`] hands the second's samples over
//! with the worker's report of that second. The collector folds them into
//! the one set of per-store and per-region accumulators of the run
//! ([`Places::merge`]). So a worker's memory is one second of its own RPCs
//! (24 bytes each), the collector's is one histogram per store and one
//! per region touched (regions' at [`REGION_SIGFIG`] significant digits,
//! a few KB each), whatever the number of workers; the per-second work is
//! proportional to the RPCs sent in that second, as the per-op work is.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::hist::{self, Hist, Percentiles, new_hist};
use crate::vocab::trace::{Answer, Step, Trace};

mod table;

pub use table::{
    Answers, PlaceDecodeError, RegionRest, RegionRow, RegionTable, StoreRow, TOP_REGIONS,
    flag_stores, hot, merge_regions, merge_stores, regions_of, slow, stores_of,
};

/// Significant digits of the per-region histograms (the per-store ones
/// have [`hist::SIGFIG`]): 1% resolution, so that a run touching thousands
/// of regions keeps its collector small.
pub const REGION_SIGFIG: u8 = 2;

/// One RPC attempt, as a worker buffers it for the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub store: u64,
    pub region: u64,
    /// The attempt's client-side duration, µs (`u32::MAX` at most).
    pub us: u32,
    pub class: Class,
    /// The op's first RPC to this store (counts the op for the store).
    pub first_at_store: bool,
    /// The op's first RPC for this region (counts the op for the region).
    pub first_at_region: bool,
}

/// An answer's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ok,
    KeyError,
    RegionError,
    Failed,
}

impl Class {
    fn of(a: &Answer) -> Class {
        match a {
            Answer::Ok => Class::Ok,
            Answer::KeyError(_) => Class::KeyError,
            Answer::RegionError(_) => Class::RegionError,
            Answer::Failed(_) => Class::Failed,
        }
    }

    /// Whether the store answered (the attempt's latency is the store's).
    fn answered(self) -> bool {
        self != Class::Failed
    }
}

/// Samples a worker buffers before it folds them into its own
/// accumulators (a worker sending more RPCs than this in one second).
pub const SAMPLE_CAP: usize = 16_384;

/// One worker's per-place figures, kept by its recorder: the current
/// second's samples (see the module doc), and for a worker that sends more
/// than [`SAMPLE_CAP`] RPCs in a second, accumulators the excess is folded
/// into (their memory kept between seconds, so that a busy worker does
/// not allocate once warm either).
#[derive(Debug, Default)]
pub struct PlaceRec {
    samples: Vec<Sample>,
    folded: Places,
    overflowed: bool,
}

impl PlaceRec {
    /// Counts the RPCs of one measured op, from its trace. An op's trace
    /// holds at most `MAX_STEPS` spans, so finding whether a store or
    /// region was met earlier in the op is a bounded scan.
    #[inline]
    pub fn record(&mut self, trace: &Trace) {
        let spans = trace.spans();
        for (i, span) in spans.iter().enumerate() {
            let Step::Rpc {
                store,
                region,
                answer,
                ..
            } = span.step
            else {
                continue;
            };
            let (mut seen_store, mut seen_region) = (false, false);
            for earlier in &spans[..i] {
                if let Step::Rpc {
                    store: s,
                    region: r,
                    ..
                } = earlier.step
                {
                    seen_store |= s == store;
                    seen_region |= r == region;
                }
            }
            if self.samples.len() >= SAMPLE_CAP {
                self.fold();
            }
            self.samples.push(Sample {
                store,
                region,
                us: u32::try_from(span.dur.as_micros()).unwrap_or(u32::MAX),
                class: Class::of(&answer),
                first_at_store: !seen_store,
                first_at_region: !seen_region,
            });
        }
    }

    fn fold(&mut self) {
        for s in &self.samples {
            self.folded.add_sample(s);
        }
        self.samples.clear();
        self.overflowed = true;
    }

    /// What the worker hands the collector with its report of a second
    /// (`last`: its final report): the second's samples (and what was
    /// folded), `None` when it sent no RPC. The buffers keep their memory
    /// for the next second.
    pub fn take(&mut self, _last: bool) -> Option<Places> {
        if self.samples.is_empty() && !self.overflowed {
            return None;
        }
        let mut places = Places {
            samples: self.samples.clone(),
            ..Places::default()
        };
        self.samples.clear();
        if self.overflowed {
            self.overflowed = false;
            places.take_counted(&mut self.folded);
        }
        Some(places)
    }
}

/// One store's figures so far.
#[derive(Debug, Clone)]
pub struct StoreAcc {
    pub rpcs: u64,
    pub ops: u64,
    pub answers: Answers,
    /// Answered attempts' client-side durations, µs.
    pub latency: Hist,
}

impl Default for StoreAcc {
    fn default() -> Self {
        StoreAcc {
            rpcs: 0,
            ops: 0,
            answers: Answers::default(),
            latency: new_hist(),
        }
    }
}

/// One region's figures so far.
#[derive(Debug, Clone)]
pub struct RegionAcc {
    pub rpcs: u64,
    pub ops: u64,
    /// Attempts not answered ok (key errors, region errors, failures).
    pub errors: u64,
    /// The stores that served it, sorted.
    pub stores: Vec<u64>,
    /// Answered attempts' client-side durations, µs, at
    /// [`REGION_SIGFIG`] digits.
    pub latency: Hist,
}

impl Default for RegionAcc {
    fn default() -> Self {
        RegionAcc {
            rpcs: 0,
            ops: 0,
            errors: 0,
            stores: Vec::new(),
            latency: Histogram::new(REGION_SIGFIG).expect("2 significant digits is valid"),
        }
    }
}

/// Per-place figures: what a worker reports (a second's samples) and what
/// the collector adds them up into (per store and per region).
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Samples not yet folded in (a worker's report).
    pub samples: Vec<Sample>,
    pub stores: BTreeMap<u64, StoreAcc>,
    pub regions: HashMap<u64, RegionAcc>,
}

impl Places {
    /// Adds `other` into `self` (exact): its samples are folded into the
    /// accumulators, its accumulators added.
    pub fn merge(&mut self, other: &Places) {
        for s in &other.samples {
            self.add_sample(s);
        }
        for (id, o) in &other.stores {
            let acc = self.stores.entry(*id).or_default();
            acc.rpcs += o.rpcs;
            acc.ops += o.ops;
            acc.answers.add(&o.answers);
            hist::add(&mut acc.latency, &o.latency);
        }
        for (id, o) in &other.regions {
            let acc = self.regions.entry(*id).or_default();
            acc.rpcs += o.rpcs;
            acc.ops += o.ops;
            acc.errors += o.errors;
            for s in &o.stores {
                served_by(&mut acc.stores, *s);
            }
            hist::add(&mut acc.latency, &o.latency);
        }
    }

    fn add_sample(&mut self, s: &Sample) {
        let store = self.stores.entry(s.store).or_default();
        store.rpcs += 1;
        store.ops += u64::from(s.first_at_store);
        store.answers.count(s.class);
        let region = self.regions.entry(s.region).or_default();
        region.rpcs += 1;
        region.ops += u64::from(s.first_at_region);
        region.errors += u64::from(s.class != Class::Ok);
        served_by(&mut region.stores, s.store);
        if s.class.answered() {
            hist::record(&mut store.latency, u64::from(s.us));
            hist::record(&mut region.latency, u64::from(s.us));
        }
    }

    /// Copies `from`'s places that counted any RPC into `self` and zeroes
    /// them in `from`, keeping its memory.
    fn take_counted(&mut self, from: &mut Places) {
        for (id, s) in from.stores.iter_mut().filter(|(_, s)| s.rpcs > 0) {
            self.stores.insert(*id, s.clone());
            s.rpcs = 0;
            s.ops = 0;
            s.answers = Answers::default();
            s.latency.reset();
        }
        for (id, r) in from.regions.iter_mut().filter(|(_, r)| r.rpcs > 0) {
            self.regions.insert(*id, r.clone());
            r.rpcs = 0;
            r.ops = 0;
            r.errors = 0;
            r.stores.clear();
            r.latency.reset();
        }
    }

    /// Whether no RPC was counted.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.stores.is_empty()
    }

    /// The per-store totals for the running view, in store order.
    pub fn live(&self) -> Vec<LiveStore> {
        self.stores
            .iter()
            .map(|(id, s)| LiveStore {
                store: *id,
                rpcs: s.rpcs,
                answers: s.answers,
                latency: Percentiles::of(&s.latency),
            })
            .collect()
    }
}

fn served_by(stores: &mut Vec<u64>, store: u64) {
    if let Err(at) = stores.binary_search(&store) {
        stores.insert(at, store);
    }
}

/// One store's totals in the running view (`collector::Live`), for the
/// Prometheus endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStore {
    pub store: u64,
    pub rpcs: u64,
    pub answers: Answers,
    /// Of its answered RPCs, client side.
    pub latency: Percentiles,
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::vocab::ErrorKind;

    fn rpc(store: u64, region: u64, answer: Answer) -> Step {
        Step::Rpc {
            rpc: "KvGet",
            store,
            region,
            answer,
            server: None,
        }
    }

    #[test]
    fn an_op_counts_once_per_store_and_region_and_failures_stay_out_of_latency() {
        let mut t = Trace::default();
        let at = Instant::now();
        let ms = Duration::from_millis(1);
        t.push(at, ms, rpc(1, 7, Answer::RegionError("not_leader")));
        t.push(at, 2 * ms, rpc(2, 7, Answer::Ok));
        t.push(
            at,
            3 * ms,
            rpc(2, 8, Answer::KeyError(ErrorKind::KeyIsLocked)),
        );
        t.push(at, 9 * ms, rpc(2, 8, Answer::Failed(ErrorKind::Timeout)));
        let mut rec = PlaceRec::default();
        rec.record(&t);
        rec.record(&t);
        let mut all = Places::default();
        all.merge(&rec.take(false).unwrap());
        assert!(rec.take(true).is_none(), "the buffer was handed over");
        let s2 = &all.stores[&2];
        assert_eq!((s2.rpcs, s2.ops), (6, 2));
        assert_eq!(
            s2.answers,
            Answers {
                ok: 2,
                key_error: 2,
                region_error: 0,
                failed: 2
            }
        );
        assert_eq!(s2.latency.len(), 4, "the failed attempts are not latency");
        assert!(s2.latency.max() < 3_100);
        let r7 = &all.regions[&7];
        assert_eq!((r7.rpcs, r7.ops, r7.errors), (4, 2, 2));
        assert_eq!(r7.stores, [1, 2], "the leader moved");
        let r8 = &all.regions[&8];
        assert_eq!((r8.rpcs, r8.ops, r8.errors), (4, 2, 4));
    }

    #[test]
    fn a_busy_worker_folds_its_samples_and_loses_none() {
        let mut t = Trace::default();
        let at = Instant::now();
        t.push(at, Duration::from_micros(250), rpc(3, 9, Answer::Ok));
        let mut rec = PlaceRec::default();
        let n = SAMPLE_CAP * 2 + 5;
        for _ in 0..n {
            rec.record(&t);
        }
        let mut all = Places::default();
        all.merge(&rec.take(false).unwrap());
        assert_eq!(all.stores[&3].rpcs, n as u64);
        assert_eq!(all.regions[&9].latency.len(), n as u64);
        rec.record(&t);
        let next = rec.take(false).unwrap();
        let mut second = Places::default();
        second.merge(&next);
        assert_eq!(second.stores[&3].rpcs, 1, "the folded figures were zeroed");
    }

    #[test]
    fn merging_accumulators_adds_them_exactly() {
        let mut t = Trace::default();
        let at = Instant::now();
        for (store, us) in [(1, 100), (2, 5_000), (1, 300)] {
            t.clear();
            t.push(
                at,
                Duration::from_micros(us),
                rpc(store, store * 10, Answer::Ok),
            );
            let mut rec = PlaceRec::default();
            rec.record(&t);
            let mut part = Places::default();
            part.merge(&rec.take(false).unwrap());
            let mut whole = Places::default();
            whole.merge(&part);
            whole.merge(&part);
            assert_eq!(whole.stores[&store].rpcs, 2);
            assert_eq!(whole.regions[&(store * 10)].latency.len(), 2);
        }
    }
}

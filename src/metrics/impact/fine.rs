//! The fine timeline: per 100 ms slot of wall-clock time, the measured ops
//! that completed in it (ok and failed) and the RPC answers their traces
//! carry that signal a fault (region errors by reason, unreachable
//! stores). Workers count into a few slots they already hold; the
//! collector adds their reports up; the result keeps the timeline, so
//! `merge` can add several drivers' exactly and recompute the impact.
//!
//! 100 ms: fine enough to time a failover of 300 ms and a recovery to
//! within a slot, coarse enough that an hour is 36 000 slots. Memory is
//! bounded: the collector keeps the first hour from the first measured
//! completion ([`MAX_SLOTS`]); completions after it are not in the fine
//! timeline (events after it get no figures, the per-second timeline
//! still shows them).

use serde::{Deserialize, Serialize};

use crate::metrics::Clock;
use crate::vocab::trace::{Answer, Step, Trace};

/// The width of a slot, ms.
pub const SLOT_MS: i64 = 100;

/// Slots kept: one hour of 100 ms slots.
pub const MAX_SLOTS: usize = 36_000;

/// Stores whose answers the signals tell apart (ids 1 to 64, one bit each).
pub const MAX_STORES: u64 = 64;

/// What the RPC answers of one slot signalled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// `not_leader` answers: a leader moved.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_leader: u32,
    /// `epoch_not_match` answers: a region split or merged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch_not_match: u32,
    /// `server_is_busy` answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_is_busy: u32,
    /// Other region errors (region not found, stale command, ...).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_region_error: u32,
    /// RPCs with no usable answer (unreachable store, timeout).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: u32,
    /// The stores (bit `id - 1`) an RPC got no usable answer from.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub failed_stores: u64,
    /// The stores (bit `id - 1`) that answered at all.
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub answered_stores: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero64(n: &u64) -> bool {
    *n == 0
}

impl Signals {
    pub fn is_empty(&self) -> bool {
        self.not_leader == 0
            && self.epoch_not_match == 0
            && self.server_is_busy == 0
            && self.other_region_error == 0
            && self.failed == 0
    }

    /// Adds `o` into `self` (exact: counts summed, store sets joined).
    pub fn merge(&mut self, o: &Signals) {
        self.not_leader += o.not_leader;
        self.epoch_not_match += o.epoch_not_match;
        self.server_is_busy += o.server_is_busy;
        self.other_region_error += o.other_region_error;
        self.failed += o.failed;
        self.failed_stores |= o.failed_stores;
        self.answered_stores |= o.answered_stores;
    }

    #[inline]
    fn count(&mut self, store: u64, answer: Answer) {
        let bit = match store {
            1..=MAX_STORES => 1u64 << (store - 1),
            _ => 0,
        };
        match answer {
            Answer::Failed(_) => {
                self.failed += 1;
                self.failed_stores |= bit;
                return;
            }
            Answer::RegionError("not_leader") => self.not_leader += 1,
            Answer::RegionError("epoch_not_match") => self.epoch_not_match += 1,
            Answer::RegionError("server_is_busy") => self.server_is_busy += 1,
            Answer::RegionError(_) => self.other_region_error += 1,
            Answer::Ok | Answer::KeyError(_) => {}
        }
        self.answered_stores |= bit;
    }
}

/// One slot: completions and signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FineSlot {
    pub ok: u64,
    pub failed: u64,
    pub signals: Signals,
    /// Some RPC was counted in the slot.
    pub rpcs: bool,
}

impl FineSlot {
    fn merge(&mut self, o: &FineSlot) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.signals.merge(&o.signals);
        self.rpcs |= o.rpcs;
    }
}

/// A fine timeline as a worker reports it and the collector adds it up:
/// dense slots from slot number `first` (Unix time in [`SLOT_MS`] units).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fine {
    pub first: i64,
    pub slots: Vec<FineSlot>,
}

impl Fine {
    /// The slot numbered `n`, made if missing (slots before `first` are
    /// put in front).
    #[inline]
    fn slot(&mut self, n: i64) -> &mut FineSlot {
        if self.slots.is_empty() {
            self.first = n;
        } else if n < self.first {
            let more = (self.first - n) as usize;
            self.slots
                .splice(0..0, std::iter::repeat_n(FineSlot::default(), more));
            self.first = n;
        }
        let i = (n - self.first) as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, FineSlot::default());
        }
        &mut self.slots[i]
    }

    /// Adds `other` into `self` (exact), keeping at most [`MAX_SLOTS`]
    /// from the first.
    pub fn merge(&mut self, other: &Fine) {
        for (i, s) in other.slots.iter().enumerate() {
            let n = other.first + i as i64;
            if !self.slots.is_empty() && n >= self.first + MAX_SLOTS as i64 {
                break;
            }
            self.slot(n).merge(s);
        }
        self.slots.truncate(MAX_SLOTS);
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// One worker's fine timeline, kept by its recorder: the slots since its
/// last report, in memory reused from report to report.
#[derive(Debug)]
pub struct FineRec {
    clock: Clock,
    cur: Fine,
}

impl FineRec {
    pub fn new(clock: Clock) -> FineRec {
        FineRec {
            clock,
            cur: Fine {
                first: 0,
                slots: Vec::with_capacity(16),
            },
        }
    }

    /// Counts one measured op that ended at `end` (`ok`: it succeeded),
    /// and the fault signals among its trace's RPC answers, each in the
    /// slot its answer came in.
    #[inline]
    pub fn record(&mut self, end: std::time::Instant, ok: bool, _latency_us: u64, trace: &Trace) {
        let n = self.clock.unix_us(end).div_euclid(SLOT_MS * 1000);
        let slot = self.cur.slot(n);
        if ok {
            slot.ok += 1;
        } else {
            slot.failed += 1;
        }
        for span in trace.spans() {
            if let Step::Rpc { store, answer, .. } = span.step {
                let at = self.clock.unix_us(span.at + span.dur);
                // Answers of a slot already reported go in the op's own.
                let m = at.div_euclid(SLOT_MS * 1000).max(self.cur.first);
                let slot = self.cur.slot(m);
                slot.rpcs = true;
                slot.signals.count(store, answer);
            }
        }
    }

    /// What the worker hands the collector with its report of a second:
    /// the slots counted since the last (`None` when none), its own memory
    /// kept for the next.
    pub fn take(&mut self, _last: bool) -> Option<Fine> {
        if self.cur.slots.is_empty() {
            return None;
        }
        let fine = Fine {
            first: self.cur.first,
            slots: self.cur.slots.clone(),
        };
        self.cur.slots.clear();
        Some(fine)
    }
}

/// The fine timeline as the result keeps it: completions per slot, dense,
/// and the signals of the slots that had any, sparse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FineTimeline {
    pub slot_ms: u32,
    /// The first slot's start, Unix ms.
    pub from_unix_ms: i64,
    /// Measured ops that succeeded, per slot (by completion time).
    pub ok: Vec<u64>,
    /// Measured ops that failed (or whose outcome is unknown), per slot.
    pub failed: Vec<u64>,
    /// The slots whose RPC answers signalled a fault, by slot index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalSlot>,
    /// Some op went through RPCs (a cluster target, not an in-process one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rpcs: bool,
}

/// The signals of slot `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalSlot {
    pub i: u32,
    #[serde(flatten)]
    pub signals: Signals,
}

impl FineTimeline {
    pub fn from_fine(f: &Fine) -> FineTimeline {
        // A slot's signals are kept when it has any, or when a store that
        // had failed answered in it (the store is reachable again).
        let mut down = 0u64;
        let mut keep = |s: &Signals| {
            let back = down & s.answered_stores;
            down = (down & !s.answered_stores) | (s.failed_stores & !s.answered_stores);
            !s.is_empty() || back != 0
        };
        let kept: Vec<bool> = f.slots.iter().map(|s| keep(&s.signals)).collect();
        FineTimeline {
            slot_ms: SLOT_MS as u32,
            from_unix_ms: f.first * SLOT_MS,
            ok: f.slots.iter().map(|s| s.ok).collect(),
            failed: f.slots.iter().map(|s| s.failed).collect(),
            signals: f
                .slots
                .iter()
                .enumerate()
                .filter(|(i, _)| kept[*i])
                .map(|(i, s)| SignalSlot {
                    i: i as u32,
                    signals: s.signals,
                })
                .collect(),
            rpcs: f.slots.iter().any(|s| s.rpcs),
        }
    }

    /// Back into dense slots (for adding up and reading).
    pub fn to_fine(&self) -> Fine {
        let width = i64::from(self.slot_ms.max(1));
        let mut slots: Vec<FineSlot> = self
            .ok
            .iter()
            .zip(&self.failed)
            .map(|(&ok, &failed)| FineSlot {
                ok,
                failed,
                ..FineSlot::default()
            })
            .collect();
        for s in &self.signals {
            if let Some(slot) = slots.get_mut(s.i as usize) {
                slot.signals = s.signals;
            }
        }
        if let Some(first) = slots.first_mut() {
            first.rpcs = self.rpcs;
        }
        Fine {
            first: self.from_unix_ms.div_euclid(width),
            slots,
        }
    }

    /// Adds up several timelines exactly (no cap: each is capped already).
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a FineTimeline>) -> FineTimeline {
        let mut total = Fine::default();
        let mut rpcs = false;
        for t in all {
            rpcs |= t.rpcs;
            for (i, s) in t.to_fine().slots.iter().enumerate() {
                total
                    .slot(t.from_unix_ms.div_euclid(SLOT_MS) + i as i64)
                    .merge(s);
            }
        }
        let mut out = FineTimeline::from_fine(&total);
        out.rpcs = rpcs;
        out
    }

    /// Ok completions per second in slot `i` (0 outside).
    pub fn ok_rate(&self, i: i64) -> f64 {
        let per_s = 1000.0 / f64::from(self.slot_ms.max(1));
        usize::try_from(i)
            .ok()
            .and_then(|i| self.ok.get(i))
            .map_or(0.0, |&n| n as f64 * per_s)
    }

    /// The index of the slot holding Unix time `us` (may be outside).
    pub fn index_of(&self, us: i64) -> i64 {
        (us.div_euclid(1000) - self.from_unix_ms).div_euclid(i64::from(self.slot_ms.max(1)))
    }

    /// The Unix µs slot `i` starts at.
    pub fn start_us(&self, i: i64) -> i64 {
        (self.from_unix_ms + i * i64::from(self.slot_ms)) * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fine(first: i64, ok: &[u64]) -> Fine {
        Fine {
            first,
            slots: ok
                .iter()
                .map(|&ok| FineSlot {
                    ok,
                    ..FineSlot::default()
                })
                .collect(),
        }
    }

    #[test]
    fn fine_timelines_add_up_exactly_in_any_order() {
        let (a, b) = (fine(10, &[1, 2, 3]), fine(8, &[5, 0, 0, 7, 1, 1]));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.first, 8);
        let ok: Vec<u64> = ab.slots.iter().map(|s| s.ok).collect();
        assert_eq!(ok, [5, 0, 1, 9, 4, 1]);
        let t = FineTimeline::sum([&FineTimeline::from_fine(&a), &FineTimeline::from_fine(&b)]);
        assert_eq!(t.ok, ok);
        assert_eq!(t.from_unix_ms, 800);
    }

    #[test]
    fn the_collector_keeps_one_hour_of_slots() {
        let mut f = fine(0, &[1]);
        f.merge(&fine(MAX_SLOTS as i64 - 1, &[1, 1, 1]));
        assert_eq!(f.slots.len(), MAX_SLOTS);
    }
}

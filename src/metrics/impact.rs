//! Fault impact: the fault events of a run (injected by the stand-in, or
//! what our client observed of a real cluster) and, for each, the
//! throughput dip, the p99 spike and the time to recover, read off a fine
//! (sub-second) timeline of completions. (Issue 22: the shared interface;
//! the figures are filled in by the module's owner.)

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::vocab::trace::Trace;

/// One worker's fine timeline, kept by its recorder.
#[derive(Debug, Default)]
pub struct FineRec {}

impl FineRec {
    /// Counts one measured op that ended at `end` (`ok`: it succeeded;
    /// `latency_us` from its intended start), with its trace (what it
    /// observed of the cluster).
    #[inline]
    pub fn record(&mut self, _end: Instant, _ok: bool, _latency_us: u64, _trace: &Trace) {}

    /// What the worker hands the collector with its report of a second.
    pub fn take(&mut self, _last: bool) -> Option<Fine> {
        None
    }
}

/// A fine timeline as a worker reports it and the collector adds it up.
#[derive(Debug, Clone, Default)]
pub struct Fine {}

impl Fine {
    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, _other: &Fine) {}
}

/// The result's `faults` section: the events and their impact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FaultImpact {}

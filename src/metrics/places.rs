//! Where the ops went: per store and per region, the RPCs our client sent
//! (count, latency histogram, answers), read off each measured op's trace,
//! so that a slow store or a hot region shows. (Issue 22: the shared
//! interface; the figures are filled in by the module's owner.)

use serde::{Deserialize, Serialize};

use crate::vocab::trace::Trace;

/// One worker's per-place figures, kept by its recorder.
#[derive(Debug, Default)]
pub struct PlaceRec {}

impl PlaceRec {
    /// Counts the RPCs of one measured op, from its trace.
    #[inline]
    pub fn record(&mut self, _trace: &Trace) {}

    /// What the worker hands the collector with its report of a second
    /// (`last`: its final report).
    pub fn take(&mut self, _last: bool) -> Option<Places> {
        None
    }
}

/// Per-place figures as a worker reports them and the collector adds them
/// up.
#[derive(Debug, Clone, Default)]
pub struct Places {}

impl Places {
    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, _other: &Places) {}
}

/// One store's row in the result (`stores`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRow {
    pub store: u64,
}

/// The hottest regions in the result (`regions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RegionTable {}

//! The SLO search: which rate to try next, and whether a step met the SLO.
//! The driver runs each step as a load stage, drains it, builds its
//! [`StageResult`], asks [`judge`] for its verdict and [`SearchState`] for
//! the next rate.

use crate::metrics::{SearchResult, StageResult, StepVerdict};
use crate::workload::Search;

/// Judges a step on its own figures: each SLO condition, the error rate
/// against `max_error_rate`, and the driver's self-check (a step whose
/// sends started late while its service time met the SLO failed because
/// of the driver: `driver_limited`).
pub fn judge(search: &Search, step: &StageResult) -> StepVerdict {
    let _ = (search, step);
    todo!("lead writes this")
}

/// Where a search stands: the steps run, the highest pass, the lowest
/// failure.
#[derive(Debug, Clone)]
pub struct SearchState {
    search: Search,
}

impl SearchState {
    pub fn new(search: &Search) -> SearchState {
        SearchState {
            search: search.clone(),
        }
    }

    /// The first step's rate.
    pub fn first(&self) -> f64 {
        self.search.start
    }

    /// Records the step at `rate` (index `stage` in the run's stages,
    /// `achieved` ops/s delivered) and its verdict; returns the next
    /// step's rate, or `None` when the search is over.
    pub fn step_done(
        &mut self,
        stage: usize,
        rate: f64,
        achieved: f64,
        verdict: &StepVerdict,
    ) -> Option<f64> {
        let _ = (stage, rate, achieved, verdict);
        todo!("lead writes this")
    }

    /// The run was interrupted during a step: that step is not judged.
    pub fn interrupted(&mut self) {
        todo!("lead writes this")
    }

    /// What the search found so far.
    pub fn result(&self) -> SearchResult {
        todo!("lead writes this")
    }
}

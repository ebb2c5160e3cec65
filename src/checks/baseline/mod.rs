//! Judging a run against a baseline: every threshold relative to a
//! baseline (`p99 of read < baseline + 10%`, `goodput > baseline - 5%`)
//! gets a verdict (improved, unchanged, regressed) with its effect size
//! and an interval for it.
//!
//! # The test
//! A metric is a figure of the per-second rows of the runs' timelines
//! (a rate, an error ratio, or a latency quantile of the rows' histograms
//! added together). Its interval comes from a **hierarchical moving-block
//! bootstrap** ([`bootstrap`]): each resample draws the side's runs with
//! replacement, and from each drawn run blocks of consecutive seconds
//! (so that slow drifts within a run count as noise, not as signal) until
//! it has as many seconds as the run; the metric of the resample is taken
//! on both sides and their difference kept. The 2.5th and 97.5th
//! percentiles of 2000 such differences are the 95% interval. With one
//! run a side, the interval covers the noise within a run only; the
//! threshold's margin covers what differs from run to run, and repeats
//! (`run --repeat N`) bring that into the interval too.
//!
//! # The verdict
//! With `w` the direction in which the metric gets worse (up for
//! latencies and the error rate, down for rates), the worsening
//! `W = w·(value − baseline)`, its interval `[W_lo, W_hi]` and the
//! margin's allowance `M = w·(limit − baseline)`:
//! - **regressed** (the threshold fails) when `W > M` and `W_lo >
//!   min(M, 0)`: the limit is missed, and the interval does not reach
//!   back to no change (or, for a margin that demands an improvement, to
//!   the limit) -- noise cannot explain the miss;
//! - **improved** when `W_hi < 0`: the whole interval is better;
//! - **unchanged** otherwise: within noise, or worse but within the
//!   margin.
//!
//! The rule's false-alarm rate over identical runs is measured by
//! `scripts/false-alarms.sh` and stated in docs/regressions.md.

pub mod bootstrap;
pub mod samples;

use crate::metrics::{BaselineComparison, RunResult};
use crate::workload::thresholds::{Threshold, ThresholdError};

/// Bootstrap resamples behind each interval.
pub const RESAMPLES: u32 = 2000;
/// The intervals' confidence.
pub const CONFIDENCE: f64 = 0.95;
/// The seed of the bootstrap's generator: the same results always get the
/// same intervals.
pub const SEED: u64 = 0x5eed_ba5e;

/// Why a run cannot be judged against a baseline. Each message names the
/// file and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    /// A result without whole seconds in its timeline (an old result, or
    /// a run shorter than a second): nothing to sample. Run longer.
    #[error(
        "{file}: the result has no per-second timeline to sample (measured {secs:.1}s); a baseline comparison needs runs of at least 2 seconds"
    )]
    NoTimeline { file: String, secs: f64 },
    /// A threshold names an op one side's results lack: the runs are of
    /// different workloads. Compare runs of the same ops.
    #[error(
        "threshold '{threshold}': {file} has no op named (or of type) '{op}'; its ops are: {ops}"
    )]
    MissingOp {
        threshold: String,
        op: String,
        file: String,
        ops: String,
    },
    /// A recorded threshold no longer parses.
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
    /// No results on one side.
    #[error("no {side} results to compare")]
    Empty { side: &'static str },
}

/// A result and the file it came from (for messages and the section).
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub file: &'a str,
    pub result: &'a RunResult,
}

/// The thresholds to judge `runs` by: the relative thresholds of the
/// workload as run (of the first run), or, when it has none,
/// [`default_thresholds`]. The flag says which.
pub fn thresholds_for(run: &RunResult) -> Result<(Vec<Threshold>, bool), ThresholdError> {
    let relative: Vec<Threshold> = super::thresholds::from_result(run)?
        .into_iter()
        .filter(Threshold::relative)
        .collect();
    Ok(if relative.is_empty() {
        (default_thresholds(run), false)
    } else {
        (relative, true)
    })
}

/// What `compare --baseline` judges when the workload names nothing: the
/// goodput (throughput without transactions) may fall 5%, the error rate
/// rise 0.1 percentage points, and each op's p99 rise 10%.
pub fn default_thresholds(run: &RunResult) -> Vec<Threshold> {
    let txn = run.ops.values().any(|o| o.op_type == "txn");
    let mut texts = vec![
        if txn {
            "goodput > baseline - 5%".to_string()
        } else {
            "throughput > baseline - 5%".to_string()
        },
        "error rate < baseline + 0.1%".to_string(),
    ];
    texts.extend(
        run.ops
            .keys()
            .map(|name| format!("p99 of {name} < baseline + 10%")),
    );
    texts
        .iter()
        .filter_map(|t| Threshold::parse(t).ok())
        .collect()
}

/// Judges every relative threshold of `thresholds` on `runs` against
/// `baseline` (several runs a side are repeats: judged together).
/// `from_workload` is recorded in each verdict.
pub fn judge(
    thresholds: &[Threshold],
    from_workload: bool,
    baseline: &[Named<'_>],
    runs: &[Named<'_>],
) -> Result<BaselineComparison, BaselineError> {
    let _ = (thresholds, from_workload, baseline, runs);
    todo!("lead: implemented in the next commit")
}

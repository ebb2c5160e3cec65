//! The `stages` and `search` sections of a result: per load stage, the
//! figures of its measured span with their histograms (the stages' ops add
//! up exactly to the run's `ops`), and, for an SLO search, each step's
//! verdict and the search's answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::recorder::OpStats;
use super::result::{OpResult, PhaseResult, op_result, phase, round3};
use super::sections::ThresholdVerdict;
use super::selfcheck::{CpuUse, DriverCheck};

/// One load stage (or search step) of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    /// The offered load: `rate` (ops/s, all drivers together when merged)
    /// or `concurrency` (busy workers); `from` differs from `to` on a ramp.
    pub level: StageLevel,
    /// When the stage began, seconds after the run's first stage began.
    pub start_s: f64,
    /// Its unmeasured start.
    pub warmup_s: f64,
    /// Its measured span, after the warmup.
    pub duration_s: f64,
    /// Ops intended to start in the measured span (their latency counts
    /// from the intended start), by outcome; rates over `duration_s`.
    pub measured: PhaseResult,
    /// Ops (any outcome) that completed inside the measured span, per
    /// second of it: what the target delivered. Below the offered rate
    /// when the target falls behind; the x of the latency-throughput curve.
    pub achieved_per_s: f64,
    /// Per op name, as in the run's `ops`.
    pub ops: BTreeMap<String, OpResult>,
    /// The driver's self-check over this stage alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_check: Option<DriverCheck>,
    /// A search step's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<StepVerdict>,
}

/// A stage's offered load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageLevel {
    /// `rate` or `concurrency`.
    pub kind: LevelKind,
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelKind {
    Rate,
    Concurrency,
}

/// Why a search step passed or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepVerdict {
    pub passed: bool,
    /// Each SLO condition judged on the step's own histograms.
    pub slo: Vec<ThresholdVerdict>,
    /// Why it failed, as a person reads it: the SLO conditions missed, the
    /// error rate over its bound, the driver falling behind. Empty when it
    /// passed.
    pub reasons: Vec<String>,
    /// The failure is the driver's, not the target's: sends started late
    /// while the service time (from the actual start) met the SLO. The
    /// search stops there: its answer is a floor of the target's capacity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub driver_limited: bool,
}

/// What an SLO search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The SLO as written.
    pub slo: Vec<String>,
    /// The highest offered rate whose step met the SLO (`None`: none did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_rate: Option<f64>,
    /// What the target delivered at `best_rate` (ops/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_achieved_per_s: Option<f64>,
    /// The lowest offered rate whose step missed it (`None`: none did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_rate: Option<f64>,
    /// Why that step missed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// Why the search stopped.
    pub ended: SearchEnd,
    /// The steps it ran, in order: indexes into the result's `stages`.
    pub steps: Vec<usize>,
}

/// Why a search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchEnd {
    /// The highest pass and the lowest failure are within the precision.
    Converged,
    /// A step failed because the driver could not keep the schedule: the
    /// answer is a floor, not the target's capacity.
    DriverLimited,
    /// Steps passed up to the search's `max` rate.
    ReachedMax,
    /// `max_steps` ran out before converging.
    OutOfSteps,
    /// The run was interrupted.
    Interrupted,
}

/// Why a run stopped before its end: a threshold with `abort_on_fail`
/// missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortInfo {
    pub threshold: String,
    pub measured: String,
    /// Seconds into the measured phase.
    pub at_s: f64,
}

/// What a stage is made of, for [`StageResult::build`].
pub struct StageSpan<'a> {
    pub level: StageLevel,
    pub start_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Per op of the workload: the ops intended in the measured span.
    pub stats: &'a [OpStats],
    /// The op names, indexed like `stats`.
    pub names: &'a [&'a str],
    /// The op types, indexed like `stats`.
    pub types: &'a [&'a str],
    /// Ops that completed inside the measured span.
    pub completed_in_span: u64,
    /// The process's CPU over the measured span, when it was read.
    pub cpu: Option<CpuUse>,
}

impl StageResult {
    /// A stage's section from its per-op stats; no verdict, and the
    /// driver's self-check from the stage's lateness and CPU.
    pub fn build(span: StageSpan<'_>) -> StageResult {
        let secs = span.duration_s;
        let ops = span
            .names
            .iter()
            .zip(span.types)
            .zip(span.stats)
            .map(|((name, ty), s)| (name.to_string(), op_result(ty, s, secs)))
            .collect();
        let mut lateness: Option<super::hist::Hist> = None;
        for h in span.stats.iter().filter_map(|s| s.lateness.as_ref()) {
            super::hist::add(lateness.get_or_insert_with(super::hist::new_hist), h);
        }
        StageResult {
            level: span.level,
            start_s: round3(span.start_s),
            warmup_s: round3(span.warmup_s),
            duration_s: round3(secs),
            measured: phase(span.stats, secs),
            achieved_per_s: super::result::rate(span.completed_in_span, secs),
            ops,
            driver_check: DriverCheck::judge(lateness.as_ref(), span.cpu),
            verdict: None,
        }
    }
}

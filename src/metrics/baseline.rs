//! The result's `baseline` section: a run judged against a baseline result
//! (`run --baseline`, `compare --baseline`), one verdict per metric. The
//! judging itself is `checks::baseline`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A run (or several repeats) judged against one or more baseline runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    /// The baseline results, as their files were named.
    pub files: Vec<String>,
    /// The baseline runs' ids.
    pub baseline_runs: Vec<String>,
    /// The ids of the runs judged: this run, or every repeat compared.
    pub runs: Vec<String>,
    /// How the intervals were found, in one sentence.
    pub method: String,
    /// The intervals' confidence (0.95).
    pub confidence: f64,
    /// Bootstrap resamples behind each interval.
    pub resamples: u32,
    /// One per metric, in the order of the thresholds.
    pub verdicts: Vec<BaselineVerdict>,
}

impl BaselineComparison {
    /// Whether every metric's threshold held.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }
}

/// What happened to a metric, judged with its noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Better than the baseline beyond the noise: the whole interval lies
    /// on the better side of no change.
    Improved,
    /// No change the noise cannot explain (the interval holds zero), or a
    /// change within the threshold's margin.
    Unchanged,
    /// Worse than the threshold allows, beyond the noise: the threshold
    /// fails.
    Regressed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Improved => "improved",
            Change::Unchanged => "unchanged",
            Change::Regressed => "regressed",
        }
    }
}

/// The unit of a metric's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricUnit {
    /// Microseconds (latencies).
    Us,
    /// Per second (throughput, goodput).
    PerS,
    /// A fraction (the error rate).
    Ratio,
}

/// One metric of a run against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineVerdict {
    /// The threshold judged, as written (`p99 of read < baseline + 10%`).
    pub threshold: String,
    /// Whether the workload wrote it; false for the defaults that
    /// `compare --baseline` judges when the workload has none.
    pub from_workload: bool,
    /// The metric and its ops, e.g. `p99 of read`, `goodput`.
    pub metric: String,
    /// The unit of `baseline`, `value`, `change`, `interval` and `limit`.
    pub unit: MetricUnit,
    /// The baseline's figure (all its runs together).
    pub baseline: f64,
    /// This run's figure (all runs judged together).
    pub value: f64,
    /// `value - baseline`: the effect size.
    pub change: f64,
    /// The interval of `change` at the comparison's confidence.
    pub interval: [f64; 2],
    /// The change as a fraction of the baseline (`value / baseline - 1`)
    /// and its interval (of the resamples' ratios, so a rate never falls
    /// below -100%); absent when a baseline figure is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<[f64; 3]>,
    /// The limit the value had to meet: the baseline moved by the margin.
    pub limit: f64,
    pub verdict: Change,
    /// Why, in a few words ("within noise: the interval holds 0").
    pub reason: String,
    /// Whole and partial seconds sampled: baseline, this run.
    pub seconds: [usize; 2],
    /// Whether the threshold held (false exactly when `regressed`).
    pub passed: bool,
}

impl fmt::Display for BaselineVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({} vs baseline {}: {}; {})",
            self.verdict.as_str(),
            self.threshold,
            self.fmt_value(self.value),
            self.fmt_value(self.baseline),
            self.effect(),
            self.reason
        )
    }
}

impl BaselineVerdict {
    /// A figure of this metric as a person reads it.
    pub fn fmt_value(&self, v: f64) -> String {
        match self.unit {
            MetricUnit::Us => crate::vocab::fmt::micros(v.max(0.0).round() as u64),
            MetricUnit::PerS => format!("{v:.1}/s"),
            MetricUnit::Ratio => format!("{:.3}%", v * 100.0),
        }
    }

    /// The change with its interval: relative (`+12.3% [+8.1%, +16.0%]`)
    /// when the baseline is not zero, else in the metric's unit. The error
    /// rate's change is in percentage points.
    pub fn effect(&self) -> String {
        match (self.unit, self.relative) {
            (MetricUnit::Ratio, _) | (_, None) => {
                let d = |x: f64| match self.unit {
                    MetricUnit::Ratio => format!("{:+.3} pp", x * 100.0),
                    MetricUnit::Us => match x.abs().round() as u64 {
                        0 => "0µs".to_string(),
                        us => format!(
                            "{}{}",
                            if x < 0.0 { "-" } else { "+" },
                            crate::vocab::fmt::micros(us)
                        ),
                    },
                    MetricUnit::PerS => format!("{x:+.1}/s"),
                };
                format!(
                    "{} [{}, {}]",
                    d(self.change),
                    d(self.interval[0]),
                    d(self.interval[1])
                )
            }
            (_, Some([c, lo, hi])) => format!(
                "{:+.1}% [{:+.1}%, {:+.1}%]",
                c * 100.0,
                lo * 100.0,
                hi * 100.0
            ),
        }
    }
}

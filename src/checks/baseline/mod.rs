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
//! percentiles of 2000 such differences are the 95% interval. (A run of
//! more than [`samples::MAX_ROWS`] rows is first added up in groups of
//! consecutive seconds, which bounds the cost of a long run.) With one
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

use bootstrap::Estimate;
use samples::Samples;

use crate::metrics::{BaselineComparison, BaselineVerdict, Change, MetricUnit, RunResult};
use crate::workload::thresholds::{Cmp, Margin, Metric, Threshold, ThresholdError};

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
/// `from_workload` is recorded in each verdict. Absolute thresholds are
/// left to [`super::thresholds::evaluate`].
pub fn judge(
    thresholds: &[Threshold],
    from_workload: bool,
    baseline: &[Named<'_>],
    runs: &[Named<'_>],
) -> Result<BaselineComparison, BaselineError> {
    if baseline.is_empty() {
        return Err(BaselineError::Empty { side: "baseline" });
    }
    if runs.is_empty() {
        return Err(BaselineError::Empty { side: "judged" });
    }
    let verdicts = thresholds
        .iter()
        .filter(|t| t.relative())
        .enumerate()
        .map(|(k, t)| {
            let samples = Samples::of(t, baseline, runs)?;
            let e = bootstrap::estimate(&samples, RESAMPLES, CONFIDENCE, SEED + k as u64);
            Ok(verdict(t, from_workload, &e, samples.seconds()))
        })
        .collect::<Result<Vec<_>, BaselineError>>()?;
    Ok(BaselineComparison {
        files: baseline.iter().map(|n| n.file.to_string()).collect(),
        baseline_runs: baseline.iter().map(|n| n.result.run_id.clone()).collect(),
        runs: runs.iter().map(|n| n.result.run_id.clone()).collect(),
        method: METHOD.to_string(),
        confidence: CONFIDENCE,
        resamples: RESAMPLES,
        verdicts,
    })
}

/// The method, as the result and the summaries state it.
pub const METHOD: &str = "hierarchical moving-block bootstrap over the timelines' per-second rows (each side's runs drawn with replacement, then from each run blocks of ceil(cbrt(n)) consecutive seconds); the interval is of this run's figure minus the baseline's; regressed = the limit is missed and the interval does not reach back to no change";

/// The verdict on one threshold from its estimate.
fn verdict(
    t: &Threshold,
    from_workload: bool,
    e: &Estimate,
    seconds: [usize; 2],
) -> BaselineVerdict {
    let margin = t.baseline.unwrap_or(Margin::Relative(0.0));
    let limit = margin.limit(e.baseline);
    let (change, reason) = decide(t.cmp, e, limit);
    let relative = e.rel.map(|[lo, hi]| [e.value / e.baseline - 1.0, lo, hi]);
    let metric = t
        .text
        .split(['<', '>'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    BaselineVerdict {
        threshold: t.text.clone(),
        from_workload,
        metric,
        unit: unit(t.metric),
        baseline: e.baseline,
        value: e.value,
        change: e.change(),
        interval: [e.lo, e.hi],
        relative,
        limit,
        verdict: change,
        reason,
        seconds,
        passed: change != Change::Regressed,
    }
}

/// The rule of the module doc: `cmp` says which way is worse, `limit` is
/// the baseline moved by the margin.
pub fn decide(cmp: Cmp, e: &Estimate, limit: f64) -> (Change, String) {
    let w = match cmp {
        Cmp::Lt | Cmp::Le => 1.0,
        Cmp::Gt | Cmp::Ge => -1.0,
    };
    let worse = w * e.change();
    let (lo, hi) = if w > 0.0 {
        (e.lo, e.hi)
    } else {
        (-e.hi, -e.lo)
    };
    let allowed = w * (limit - e.baseline);
    let missed = worse > allowed;
    let (change, why) = if missed && lo > allowed.min(0.0) {
        (Change::Regressed, "the limit is missed, beyond noise")
    } else if hi < 0.0 {
        (Change::Improved, "the whole interval is better")
    } else if missed {
        (
            Change::Unchanged,
            "past the limit, but within noise: the interval reaches back to no change",
        )
    } else if lo > 0.0 {
        (
            Change::Unchanged,
            "worse beyond noise, but within the allowed margin",
        )
    } else {
        (
            Change::Unchanged,
            "within noise: the interval holds no change",
        )
    };
    (change, why.to_string())
}

fn unit(m: Metric) -> MetricUnit {
    match m {
        Metric::Quantile(_) | Metric::Max | Metric::Mean => MetricUnit::Us,
        Metric::Throughput | Metric::Goodput => MetricUnit::PerS,
        Metric::ErrorRate => MetricUnit::Ratio,
        // Refused against a baseline when parsed; for completeness.
        Metric::Fault(_) => MetricUnit::Us,
    }
}

#[cfg(test)]
mod tests {
    use super::samples::Row;
    use super::*;

    fn rate_rows(values: &[f64]) -> Vec<Row> {
        values
            .iter()
            .map(|&v| Row {
                num: v,
                den: 1.0,
                hist: Vec::new(),
            })
            .collect()
    }

    fn rates(a: &[&[f64]], b: &[&[f64]]) -> Samples {
        Samples {
            metric: Metric::Throughput,
            baseline: a.iter().map(|r| rate_rows(r)).collect(),
            runs: b.iter().map(|r| rate_rows(r)).collect(),
            values: Vec::new(),
        }
    }

    fn est(s: &Samples) -> Estimate {
        bootstrap::estimate(s, RESAMPLES, CONFIDENCE, SEED)
    }

    /// A noisy but level series of per-second rates around `mean`.
    fn noisy(mean: f64, n: usize, seed: u64) -> Vec<f64> {
        use rand::RngExt;
        let mut rng = crate::vocab::rng::rng_for(seed, 1);
        (0..n)
            .map(|_| mean * (1.0 + rng.random_range(-0.1..0.1)))
            .collect()
    }

    #[test]
    fn the_rule_names_each_case() {
        let e = |baseline: f64, value: f64, lo: f64, hi: f64| Estimate {
            baseline,
            value,
            lo,
            hi,
            rel: None,
        };
        // p99 < baseline + 10%: 100 -> 130, interval [20, 40]: regressed.
        let (c, _) = decide(Cmp::Lt, &e(100.0, 130.0, 20.0, 40.0), 110.0);
        assert_eq!(c, Change::Regressed);
        // Past the limit, but the interval reaches back to no change.
        let (c, why) = decide(Cmp::Lt, &e(100.0, 130.0, -5.0, 60.0), 110.0);
        assert_eq!(c, Change::Unchanged);
        assert!(why.contains("within noise"), "{why}");
        // Worse beyond noise, within the margin.
        let (c, why) = decide(Cmp::Lt, &e(100.0, 105.0, 2.0, 8.0), 110.0);
        assert_eq!(c, Change::Unchanged);
        assert!(why.contains("within the allowed margin"), "{why}");
        // Better, wholly: improved.
        assert_eq!(
            decide(Cmp::Lt, &e(100.0, 80.0, -30.0, -10.0), 110.0).0,
            Change::Improved
        );
        // goodput > baseline - 5%: lower is worse. 1000 -> 900, [-120, -80].
        assert_eq!(
            decide(Cmp::Gt, &e(1000.0, 900.0, -120.0, -80.0), 950.0).0,
            Change::Regressed
        );
        assert_eq!(
            decide(Cmp::Gt, &e(1000.0, 1100.0, 80.0, 120.0), 950.0).0,
            Change::Improved
        );
        assert_eq!(
            decide(Cmp::Gt, &e(1000.0, 990.0, -30.0, 10.0), 950.0).0,
            Change::Unchanged
        );
        // A margin that demands an improvement (goodput > baseline + 10%):
        // missed, and the interval stays short of the limit.
        assert_eq!(
            decide(Cmp::Gt, &e(1000.0, 1020.0, 0.0, 40.0), 1100.0).0,
            Change::Regressed
        );
        // An error rate of zero on both sides is no change.
        assert_eq!(
            decide(Cmp::Lt, &e(0.0, 0.0, 0.0, 0.0), 0.0),
            (
                Change::Unchanged,
                "within noise: the interval holds no change".to_string()
            )
        );
    }

    #[test]
    fn the_same_rows_give_the_same_interval_around_zero() {
        let a = noisy(1000.0, 30, 1);
        let s = rates(&[&a], &[&a]);
        let e = est(&s);
        assert_eq!((e.baseline, e.value), (e.value, e.baseline));
        assert!(e.lo < 0.0 && e.hi > 0.0, "{e:?}");
        assert_eq!(e, est(&s), "the same samples give the same interval");
    }

    #[test]
    fn a_shift_beyond_the_noise_is_found_and_one_within_it_is_not() {
        let a = noisy(1000.0, 30, 1);
        let b = noisy(900.0, 30, 2);
        let e = est(&rates(&[&a], &[&b]));
        assert!(e.hi < 0.0, "a 10% drop against ±10% noise: {e:?}");
        let [lo, hi] = e.rel.expect("no resample's baseline is zero");
        assert!(-0.2 < lo && lo < -0.05 && hi < 0.0, "{e:?}");
        // A rate that all but stops: its relative interval stays above -100%.
        let b = noisy(10.0, 30, 2);
        let [lo, _] = est(&rates(&[&a], &[&b])).rel.unwrap();
        assert!(lo > -1.0 && lo < -0.98, "{lo}");
        assert!(e.lo < e.change() && e.change() < e.hi);
        // The same seconds in another order: the same mean, no change.
        let b: Vec<f64> = a.iter().rev().copied().collect();
        let e = est(&rates(&[&a], &[&b]));
        assert!(e.lo < 0.0 && 0.0 < e.hi, "{e:?}");
    }

    /// The same values, drifting (a slow half then a fast half) or
    /// alternating: blocks of consecutive seconds keep the drift, so its
    /// interval is wider. Seconds drawn one by one would make them equal.
    #[test]
    fn blocks_of_seconds_widen_the_interval_of_a_drifting_run() {
        let drift: Vec<f64> = (0..27)
            .map(|i| if i < 13 { 900.0 } else { 1100.0 })
            .collect();
        let mut alt = drift.clone();
        alt.sort_by(f64::total_cmp);
        let alt: Vec<f64> = (0..27)
            .map(|i| {
                if i % 2 == 0 {
                    alt[i / 2]
                } else {
                    alt[26 - i / 2]
                }
            })
            .collect();
        let steady: Vec<f64> = vec![1000.0; 27];
        let width = |a: &[f64]| {
            let e = est(&rates(&[a], &[&steady]));
            e.hi - e.lo
        };
        assert_eq!(bootstrap::block_len(27), 3);
        assert!(
            width(&drift) > 1.2 * width(&alt),
            "drift {} vs alternating {}",
            width(&drift),
            width(&alt)
        );
    }

    /// Two repeats a side whose levels differ: the interval takes in the
    /// difference between runs, which the seconds of one run cannot show.
    #[test]
    fn repeats_bring_the_run_to_run_spread_into_the_interval() {
        let (a1, a2) = (noisy(1000.0, 20, 1), noisy(1200.0, 20, 2));
        let (b1, b2) = (noisy(1000.0, 20, 3), noisy(1200.0, 20, 4));
        let one = est(&rates(&[&a1], &[&b1]));
        let two = est(&rates(&[&a1, &a2], &[&b1, &b2]));
        assert!(two.hi - two.lo > 2.0 * (one.hi - one.lo), "{one:?} {two:?}");
        assert!(two.lo < 0.0 && two.hi > 0.0);
    }

    #[test]
    fn a_quantile_is_read_off_the_added_histograms() {
        // Values 10, 20, 30 µs; the baseline has 50 ops at 10 and 50 at
        // 30 (p50 = 10, p99 = 30); the run 100 at 20.
        let row = |hist: Vec<(u32, u64)>| Row {
            num: 0.0,
            den: 0.0,
            hist,
        };
        let s = |q| Samples {
            metric: Metric::Quantile(q),
            baseline: vec![vec![
                row(vec![(0, 25), (2, 25)]),
                row(vec![(0, 25), (2, 25)]),
            ]],
            runs: vec![vec![row(vec![(1, 50)]), row(vec![(1, 50)])]],
            values: vec![10, 20, 30],
        };
        let e = est(&s(0.5));
        assert_eq!((e.baseline, e.value), (10.0, 20.0));
        let e = est(&s(0.99));
        assert_eq!((e.baseline, e.value), (30.0, 20.0));
    }
}

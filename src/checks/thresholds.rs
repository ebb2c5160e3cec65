//! Thresholds judged on a result: each condition of the workload's
//! `thresholds:` (parsed in [`crate::workload::thresholds`]) against the
//! figures of a [`RunResult`].

use std::collections::BTreeMap;

pub use super::abort::AbortWatch;
use crate::metrics::hist::{self, Percentiles};
use crate::metrics::impact::{EventImpact, FaultImpact};
use crate::metrics::result::OpResult;
use crate::metrics::{RunResult, ThresholdVerdict};
pub use crate::workload::thresholds::{
    Cmp, FaultFigure, FaultMetric, Margin, Metric, Threshold, ThresholdError,
};

/// The thresholds in the workload as run, recorded in the result.
pub fn from_result(result: &RunResult) -> Result<Vec<Threshold>, ThresholdError> {
    let Some(list) = result.workload.get("thresholds").and_then(|t| t.as_array()) else {
        return Ok(Vec::new());
    };
    list.iter().map(recorded).collect()
}

/// One threshold as the workload as run writes it: its text, or the map
/// `{threshold, abort_on_fail, delay}`.
fn recorded(v: &serde_json::Value) -> Result<Threshold, ThresholdError> {
    let text = v
        .as_str()
        .or_else(|| v.get("threshold").and_then(|t| t.as_str()))
        .unwrap_or_default();
    let mut t = Threshold::parse(text)?;
    if v.get("abort_on_fail").and_then(|a| a.as_bool()) == Some(true) {
        let delay = v.get("delay").and_then(|d| d.as_str()).unwrap_or("0s");
        t.abort = Some(humantime::parse_duration(delay).unwrap_or_default());
    }
    Ok(t)
}

/// Judges every threshold against `result`: the ops' figures, and the
/// fault events' impact (`recovery after store_offline < 2s`).
pub fn evaluate(thresholds: &[Threshold], result: &RunResult) -> Vec<ThresholdVerdict> {
    let mut verdicts = evaluate_ops(thresholds, &result.ops, result.measured.duration_s);
    for t in thresholds {
        if let Some(f) = t.fault() {
            let (value, measured) = measure_fault(f, result.faults.as_ref());
            verdicts.push(ThresholdVerdict {
                threshold: t.text.clone(),
                passed: value.is_some_and(|v| t.cmp.holds(v, t.limit)),
                measured,
            });
        }
    }
    verdicts
}

/// The worst figure of the events of `f.kind`, with what to print; `None`
/// (a failed verdict) when there is none to judge: no event of the kind,
/// or one that did not recover.
fn measure_fault(f: FaultMetric, faults: Option<&FaultImpact>) -> (Option<f64>, String) {
    let events: Vec<&EventImpact> = faults.map_or(Vec::new(), |x| x.of_kind(f.kind).collect());
    if events.is_empty() {
        return (None, format!("no {} event in the run", f.kind));
    }
    let n = events.len();
    let worst = |xs: Vec<f64>| xs.into_iter().reduce(f64::max);
    match f.figure {
        FaultFigure::Recovery => {
            let judged: Vec<&&EventImpact> = events.iter().filter(|e| e.judged()).collect();
            if judged.is_empty() {
                return (
                    None,
                    format!(
                        "no {} event with a pre-fault level and time to recover",
                        f.kind
                    ),
                );
            }
            let stuck = judged.iter().filter(|e| e.not_recovered()).count();
            if stuck > 0 {
                return (
                    None,
                    format!("{stuck} of {n} {} events not recovered", f.kind),
                );
            }
            let ms = worst(
                judged
                    .iter()
                    .filter_map(|e| e.recovery_ms)
                    .map(|m| m as f64)
                    .collect(),
            );
            let us = ms.unwrap_or(0.0) * 1000.0;
            let text = format!("worst of {n}: {}", crate::vocab::fmt::micros(us as u64));
            (Some(us), text)
        }
        FaultFigure::Dip => match worst(events.iter().filter_map(|e| e.dip).collect()) {
            Some(d) => (Some(d), format!("worst of {n}: {:.1}%", d * 100.0)),
            None => (None, format!("no {} event with a pre-fault level", f.kind)),
        },
        FaultFigure::P99Spike => {
            let peak = events.iter().filter_map(|e| e.p99_peak_us).max();
            match peak {
                Some(p) => (
                    Some(p as f64),
                    format!("worst of {n}: {}", crate::vocab::fmt::micros(p)),
                ),
                None => (None, format!("no p99 after the {} events", f.kind)),
            }
        }
    }
}

/// Judges every absolute threshold against per-op figures over `secs`
/// measured seconds: a run's, one stage's, or a run so far. Thresholds
/// relative to a baseline are left out: [`super::baseline`] judges them.
pub fn evaluate_ops(
    thresholds: &[Threshold],
    ops: &BTreeMap<String, OpResult>,
    secs: f64,
) -> Vec<ThresholdVerdict> {
    thresholds
        .iter()
        .filter(|t| !t.relative() && t.fault().is_none())
        .map(|t| {
            let (value, measured) = measure(t, ops, secs);
            ThresholdVerdict {
                threshold: t.text.clone(),
                measured,
                passed: t.cmp.holds(value, t.limit),
            }
        })
        .collect()
}

fn measure(t: &Threshold, ops: &BTreeMap<String, OpResult>, secs: f64) -> (f64, String) {
    let ops: Vec<&OpResult> = ops
        .iter()
        .filter(|(name, o)| match &t.op {
            Some(op) => *name == op || &o.op_type == op,
            None => true,
        })
        .map(|(_, o)| o)
        .collect();
    match t.metric {
        Metric::Quantile(_) | Metric::Max | Metric::Mean => {
            let mut h = hist::new_hist();
            for o in &ops {
                if let Ok(x) = hist::decode(&o.histogram) {
                    hist::add(&mut h, &x);
                }
            }
            let us = match t.metric {
                Metric::Quantile(q) if !h.is_empty() => h.value_at_quantile(q) as f64,
                Metric::Max => Percentiles::of(&h).max as f64,
                Metric::Mean => Percentiles::of(&h).mean,
                _ => 0.0,
            };
            (us, crate::vocab::fmt::micros(us as u64))
        }
        Metric::ErrorRate => {
            let bad: u64 = ops.iter().map(|o| o.failed + o.unknown).sum();
            let all: u64 = ops.iter().map(|o| o.ok + o.failed + o.unknown).sum();
            let v = if all == 0 {
                0.0
            } else {
                bad as f64 / all as f64
            };
            (v, format!("{:.4}% ({bad} of {all})", v * 100.0))
        }
        Metric::Throughput => {
            let n: u64 = ops.iter().map(|o| o.ok + o.failed + o.unknown).sum();
            let v = if secs > 0.0 { n as f64 / secs } else { 0.0 };
            (v, format!("{v:.1}/s"))
        }
        Metric::Fault(_) => (0.0, String::new()),
        Metric::Goodput => {
            let txn: Vec<_> = ops.iter().filter(|o| o.op_type == "txn").collect();
            let n: u64 = if t.op.is_none() && !txn.is_empty() {
                txn.iter().map(|o| o.ok).sum()
            } else {
                ops.iter().map(|o| o.ok).sum()
            };
            let v = if secs > 0.0 { n as f64 / secs } else { 0.0 };
            (v, format!("{v:.1}/s"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let t = Threshold::parse("p99 of read < 20ms").unwrap();
        assert_eq!(
            (t.metric, t.op.as_deref(), t.cmp, t.limit),
            (Metric::Quantile(0.99), Some("read"), Cmp::Lt, 20_000.0)
        );
        let t = Threshold::parse("Error Rate <= 0.1%").unwrap();
        assert_eq!((t.metric, t.op, t.cmp), (Metric::ErrorRate, None, Cmp::Le));
        assert!((t.limit - 0.001).abs() < 1e-12);
        let t = Threshold::parse("goodput > 1_500/s").unwrap();
        assert_eq!(
            (t.metric, t.cmp, t.limit),
            (Metric::Goodput, Cmp::Gt, 1500.0)
        );
        assert_eq!(
            Threshold::parse("p99.9 of txn >= 1.5s").unwrap().limit,
            1_500_000.0
        );
    }

    #[test]
    fn bad_thresholds_say_what_is_valid() {
        assert!(
            Threshold::parse("p99 of read 20ms")
                .unwrap_err()
                .to_string()
                .contains("no comparison")
        );
        assert!(
            Threshold::parse("p98 < 2ms")
                .unwrap_err()
                .to_string()
                .contains("choose from: p50")
        );
        assert!(
            Threshold::parse("p99 < fast")
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert!(
            Threshold::parse("error rate < 150%")
                .unwrap_err()
                .to_string()
                .contains("not a ratio")
        );
        assert!(
            Threshold::parse("p99 of  < 1ms")
                .unwrap_err()
                .to_string()
                .contains("name an op")
        );
        let t = Threshold::parse("p99 of wrte < 1ms").unwrap();
        assert!(
            t.check_op(&[("write", "put")])
                .unwrap_err()
                .to_string()
                .contains("its ops are: write")
        );
        assert!(
            t.check_op(&[("x", "wrte")]).is_ok(),
            "an op type also matches"
        );
    }

    #[test]
    fn thresholds_relative_to_a_baseline_keep_their_margin() {
        let m = |text: &str| Threshold::parse(text).unwrap().baseline;
        assert_eq!(
            m("p99 of read < baseline + 10%"),
            Some(Margin::Relative(0.1))
        );
        assert_eq!(m("goodput > Baseline - 5%"), Some(Margin::Relative(-0.05)));
        assert_eq!(m("p50 < baseline + 2ms"), Some(Margin::Absolute(2000.0)));
        assert_eq!(
            m("throughput >= baseline - 1_000/s"),
            Some(Margin::Absolute(-1000.0))
        );
        assert_eq!(m("p99 < baseline"), Some(Margin::Relative(0.0)));
        // The error rate's percentage is of points, not of the baseline.
        let Some(Margin::Absolute(a)) = m("error rate < baseline + 0.1%") else {
            panic!("an absolute margin")
        };
        assert!((a - 0.001).abs() < 1e-12);
        assert_eq!(m("p99 < 20ms"), None);
        assert_eq!(Margin::Relative(0.1).limit(200.0), 220.00000000000003);
        assert_eq!(Margin::Absolute(-50.0).limit(200.0), 150.0);
        for (bad, says) in [
            ("max < baseline", "max cannot be judged"),
            ("p99 < baseline * 2", "not a margin for p99"),
            ("p99 < baseline + 2", "not a margin for p99"),
            (
                "error rate < baseline + 150%",
                "not a margin for error rate",
            ),
        ] {
            let e = Threshold::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        // Judged only against a baseline: the plain evaluation skips it.
        let list = [Threshold::parse("p99 < baseline").unwrap()];
        assert!(evaluate_ops(&list, &BTreeMap::new(), 1.0).is_empty());
    }

    #[test]
    fn thresholds_recorded_in_a_result_keep_their_abort() {
        let t = recorded(&serde_json::json!("p99 < 2ms")).unwrap();
        assert_eq!((t.limit, t.abort), (2_000.0, None));
        let t = recorded(&serde_json::json!(
            {"threshold": "p99 < 2ms", "abort_on_fail": true, "delay": "5s"}
        ))
        .unwrap();
        assert_eq!(t.abort, Some(std::time::Duration::from_secs(5)));
        assert_eq!(t.text, "p99 < 2ms");
    }
}

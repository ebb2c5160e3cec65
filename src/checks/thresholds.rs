//! Thresholds: pass/fail conditions on a result, written in the workload as
//! short sentences (`p99 of read < 20ms`, `error rate < 0.1%`,
//! `goodput > 500/s`). A run whose result misses one exits 1, so CI can
//! gate on a benchmark.
//!
//! Grammar: `METRIC [of OP] CMP VALUE`, where
//! - METRIC is a latency (`p50`, `p90`, `p99`, `p99.9`, `max`, `mean`:
//!   successful ops, VALUE a duration such as `20ms`), a ratio (`error
//!   rate`: failed and unknown ops over all ops, VALUE a percentage or a
//!   fraction), or a rate (`throughput`: completed ops/s; `goodput`:
//!   successful transactions/s, or successful ops/s when the mix has no
//!   transactions; VALUE like `500/s`);
//! - OP is an op name, or an op type meaning every op of that type
//!   (default: every op);
//! - CMP is `<`, `<=`, `>` or `>=`.

use std::fmt;

use serde::Serialize;

use crate::metrics::RunResult;
use crate::metrics::hist::{self, Percentiles};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency quantile (0.5, 0.9, 0.99, 0.999), in microseconds.
    Quantile(f64),
    Max,
    Mean,
    ErrorRate,
    Throughput,
    Goodput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => value < limit,
            Cmp::Le => value <= limit,
            Cmp::Gt => value > limit,
            Cmp::Ge => value >= limit,
        }
    }
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub text: String,
    pub metric: Metric,
    /// Op name or type; `None`: every op.
    pub op: Option<String>,
    pub cmp: Cmp,
    /// Microseconds for latencies, a fraction for ratios, per second for rates.
    pub limit: f64,
}

const METRICS: &str = "p50, p90, p99, p99.9, max, mean, error rate, throughput, goodput";

impl Threshold {
    /// Parses one threshold; the error says what is wrong and what is valid.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let Some((lhs, cmp, rhs)) = split_cmp(text.trim()) else {
            return Err(format!(
                "threshold '{text}' has no comparison; write e.g. 'p99 of read < 20ms' (one of <, <=, >, >=)"
            ));
        };
        let (metric_text, op) = match lhs.split_once(" of ").or_else(|| lhs.split_once(" OF ")) {
            Some((m, op)) => (m.trim(), Some(op.trim().to_string())),
            None => (lhs.trim(), None),
        };
        if op.as_deref() == Some("") {
            return Err(format!("threshold '{text}': name an op after 'of'"));
        }
        let metric_name = metric_text.split_whitespace().collect::<Vec<_>>().join(" ");
        let metric = match metric_name.to_ascii_lowercase().as_str() {
            "p50" => Metric::Quantile(0.5),
            "p90" => Metric::Quantile(0.9),
            "p99" => Metric::Quantile(0.99),
            "p99.9" | "p999" => Metric::Quantile(0.999),
            "max" => Metric::Max,
            "mean" => Metric::Mean,
            "error rate" => Metric::ErrorRate,
            "throughput" => Metric::Throughput,
            "goodput" => Metric::Goodput,
            other => {
                return Err(format!(
                    "threshold '{text}': unknown metric '{other}'; choose from: {METRICS}"
                ));
            }
        };
        let rhs = rhs.trim();
        let limit = match metric {
            Metric::Quantile(_) | Metric::Max | Metric::Mean => humantime::parse_duration(rhs)
                .map(|d| d.as_secs_f64() * 1e6)
                .map_err(|_| format!("threshold '{text}': '{rhs}' is not a duration; write e.g. 20ms, 1.5s, 800us"))?,
            Metric::ErrorRate => parse_ratio(rhs)
                .ok_or_else(|| format!("threshold '{text}': '{rhs}' is not a ratio; write e.g. 0.1% or 0.001"))?,
            Metric::Throughput | Metric::Goodput => parse_rate(rhs)
                .ok_or_else(|| format!("threshold '{text}': '{rhs}' is not a rate; write e.g. 500/s"))?,
        };
        Ok(Threshold {
            text: text.trim().to_string(),
            metric,
            op,
            cmp,
            limit,
        })
    }

    /// Whether the threshold names an op the workload has: `ops` lists
    /// (name, type) pairs.
    pub fn check_op(&self, ops: &[(&str, &str)]) -> Result<(), String> {
        match &self.op {
            Some(op) if !ops.iter().any(|(n, t)| n == op || t == op) => {
                let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
                Err(format!(
                    "threshold '{}': the workload has no op named (or of type) '{op}'; its ops are: {}",
                    self.text,
                    names.join(", ")
                ))
            }
            _ => Ok(()),
        }
    }
}

fn split_cmp(s: &str) -> Option<(&str, Cmp, &str)> {
    for (sym, cmp) in [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ] {
        if let Some(i) = s.find(sym) {
            return Some((&s[..i], cmp, &s[i + sym.len()..]));
        }
    }
    None
}

fn parse_ratio(s: &str) -> Option<f64> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => s.parse::<f64>().ok()?,
    };
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

fn parse_rate(s: &str) -> Option<f64> {
    let n = s.strip_suffix("/s").unwrap_or(s).trim().replace('_', "");
    let v = n.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// A threshold against a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub threshold: String,
    /// The measured value, as a person reads it.
    pub measured: String,
    pub passed: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "pass" } else { "FAIL" };
        write!(f, "{mark}: {} (measured {})", self.threshold, self.measured)
    }
}

/// The thresholds in the workload as run, recorded in the result.
pub fn from_result(result: &RunResult) -> Result<Vec<Threshold>, String> {
    let Some(list) = result.workload.get("thresholds").and_then(|t| t.as_array()) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|v| Threshold::parse(v.as_str().unwrap_or_default()))
        .collect()
}

/// Judges every threshold against `result`.
pub fn evaluate(thresholds: &[Threshold], result: &RunResult) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|t| {
            let (value, measured) = measure(t, result);
            Verdict {
                threshold: t.text.clone(),
                measured,
                passed: t.cmp.holds(value, t.limit),
            }
        })
        .collect()
}

fn measure(t: &Threshold, r: &RunResult) -> (f64, String) {
    let ops: Vec<&crate::metrics::result::OpResult> = r
        .ops
        .iter()
        .filter(|(name, o)| match &t.op {
            Some(op) => *name == op || &o.op_type == op,
            None => true,
        })
        .map(|(_, o)| o)
        .collect();
    let secs = r.measured.duration_s;
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
                .contains("no comparison")
        );
        assert!(
            Threshold::parse("p98 < 2ms")
                .unwrap_err()
                .contains("choose from: p50")
        );
        assert!(
            Threshold::parse("p99 < fast")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            Threshold::parse("error rate < 150%")
                .unwrap_err()
                .contains("not a ratio")
        );
        assert!(
            Threshold::parse("p99 of  < 1ms")
                .unwrap_err()
                .contains("name an op")
        );
        let t = Threshold::parse("p99 of wrte < 1ms").unwrap();
        assert!(
            t.check_op(&[("write", "put")])
                .unwrap_err()
                .contains("its ops are: write")
        );
        assert!(
            t.check_op(&[("x", "wrte")]).is_ok(),
            "an op type also matches"
        );
    }
}

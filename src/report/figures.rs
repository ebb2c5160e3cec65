//! The figures a comparison reads off one result: goodput, abort rate,
//! retries and lock waits per commit, merged txn latency, the lock mode and
//! sweep cell the result belongs to, and the run-to-run noise of its
//! per-second goodput.
//!
//! Transactions (`txn` ops) are what a comparison is about: goodput is
//! committed transactions per second. A result without txn ops is compared
//! on the throughput of all its ops instead, and says so.

use std::path::{Path, PathBuf};

use super::ReportError;
use crate::metrics::{RunResult, SweptValue, hist};

/// One result, as a comparison sees it.
#[derive(Debug, Clone)]
pub struct Figures {
    /// A short unique name: the sweep cell's id, else the workload name.
    pub label: String,
    pub path: PathBuf,
    pub name: String,
    /// `optimistic`, `pessimistic` or `mixed`; none without txn ops.
    pub lock: Option<String>,
    /// The sweep cell's values, in the sweep's order.
    pub sweep: Vec<(String, SweptValue)>,
    /// Whether the result has txn ops (goodput) or not (throughput).
    pub txn: bool,
    /// Committed txns/s (ok/s of the txn ops), or ok ops/s without txns.
    pub goodput: f64,
    /// (failed + unknown) / all, over the txn ops.
    pub abort_rate: Option<f64>,
    pub retries_per_commit: Option<f64>,
    pub lock_waits_per_commit: Option<f64>,
    pub lock_wait_us_per_commit: Option<f64>,
    /// From the txn ops' histograms added together (all ops without txns).
    pub p50_us: u64,
    pub p99_us: u64,
    pub noise: Noise,
}

/// The spread of the per-second goodput over the whole seconds of the
/// timeline (partial seconds, `span_s < 1`, left out).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Noise {
    pub seconds: usize,
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
}

impl Noise {
    pub fn of(samples: &[f64]) -> Noise {
        let n = samples.len();
        if n == 0 {
            return Noise::default();
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            let ss: f64 = samples.iter().map(|x| (x - mean).powi(2)).sum();
            (ss / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Noise {
            seconds: n,
            mean,
            sd,
        }
    }

    /// Standard error of the per-second mean.
    pub fn se(&self) -> f64 {
        if self.seconds == 0 {
            0.0
        } else {
            self.sd / (self.seconds as f64).sqrt()
        }
    }
}

/// Whether a difference between two results' goodput stands out from the
/// noise of their timelines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseVerdict {
    /// |B - A| is below `threshold` (two standard errors of the difference).
    WithinNoise {
        threshold: f64,
    },
    Beyond {
        threshold: f64,
    },
    /// A timeline has fewer than two whole seconds.
    Unknown,
}

/// The rule: a difference is within noise when it is smaller than two
/// standard errors of the difference of the per-second means,
/// `2 * sqrt(se_a^2 + se_b^2)`.
pub fn judge(a: &Noise, b: &Noise, diff: f64) -> NoiseVerdict {
    if a.seconds < 2 || b.seconds < 2 {
        return NoiseVerdict::Unknown;
    }
    let threshold = 2.0 * (a.se().powi(2) + b.se().powi(2)).sqrt();
    if diff.abs() < threshold {
        NoiseVerdict::WithinNoise { threshold }
    } else {
        NoiseVerdict::Beyond { threshold }
    }
}

/// Reads the figures off one result.
pub fn of(path: &Path, r: &RunResult) -> Result<Figures, ReportError> {
    let names = r.op_names();
    let txn_ops: Vec<&String> = names
        .iter()
        .filter(|n| r.ops[*n].op_type == "txn")
        .collect();
    let txn = !txn_ops.is_empty();
    let counted: Vec<&String> = if txn {
        txn_ops.clone()
    } else {
        names.iter().collect()
    };
    let sum = |f: &dyn Fn(&crate::metrics::result::OpResult) -> u64| -> u64 {
        counted.iter().map(|n| f(&r.ops[*n])).sum()
    };
    let ok = sum(&|o| o.ok);
    let failed = sum(&|o| o.failed + o.unknown);
    let per_commit = |x: u64| {
        if txn && ok > 0 {
            Some(x as f64 / ok as f64)
        } else {
            None
        }
    };
    let mut merged = hist::new_hist();
    for n in &counted {
        let h =
            hist::decode(&r.ops[*n].histogram).map_err(|source| ReportError::ResultHistogram {
                path: path.to_path_buf(),
                op: n.to_string(),
                source,
            })?;
        hist::add(&mut merged, &h);
    }
    let q = |p: f64| {
        if merged.is_empty() {
            0
        } else {
            merged.value_at_quantile(p)
        }
    };
    let samples: Vec<f64> = r
        .timeline
        .iter()
        .filter(|iv| iv.span_s >= 0.999)
        .map(|iv| {
            let ok: u64 = counted
                .iter()
                .filter_map(|n| iv.ops.get(*n).map(|o| o.ok))
                .sum();
            ok as f64 / iv.span_s
        })
        .collect();
    let lock = r
        .sweep
        .as_ref()
        .and_then(|s| s.value("lock")?.as_str().map(String::from))
        .or_else(|| workload_lock(r));
    Ok(Figures {
        label: r
            .sweep
            .as_ref()
            .map_or_else(|| r.name.clone(), |s| s.id.clone()),
        path: path.to_path_buf(),
        name: r.name.clone(),
        lock,
        sweep: r.sweep.as_ref().map_or(Vec::new(), |s| s.values.clone()),
        txn,
        goodput: counted.iter().map(|n| r.ops[*n].ok_per_s).sum(),
        abort_rate: (txn && ok + failed > 0).then(|| failed as f64 / (ok + failed) as f64),
        retries_per_commit: per_commit(sum(&|o| o.retries)),
        lock_waits_per_commit: per_commit(sum(&|o| event(o, "lock_waits"))),
        lock_wait_us_per_commit: per_commit(sum(&|o| event(o, "lock_wait_us"))),
        p50_us: q(0.50),
        p99_us: q(0.99),
        noise: Noise::of(&samples),
    })
}

fn event(o: &crate::metrics::result::OpResult, name: &str) -> u64 {
    o.events.get(name).copied().unwrap_or(0)
}

/// The lock mode of the workload's txn ops (`optimistic` when unsaid), or
/// `mixed` when they differ.
fn workload_lock(r: &RunResult) -> Option<String> {
    let ops = r.workload.get("ops")?.as_array()?;
    let mut modes: Vec<&str> = ops
        .iter()
        .filter(|o| o.get("type").and_then(|t| t.as_str()) == Some("txn"))
        .map(|o| {
            o.get("lock")
                .and_then(|l| l.as_str())
                .unwrap_or("optimistic")
        })
        .collect();
    modes.sort_unstable();
    modes.dedup();
    match modes.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        _ => Some("mixed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_the_spread_of_the_seconds() {
        let n = Noise::of(&[10.0, 12.0, 14.0]);
        assert_eq!(n.seconds, 3);
        assert_eq!(n.mean, 12.0);
        assert!((n.sd - 2.0).abs() < 1e-12);
        assert!((n.se() - 2.0 / 3f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn differences_are_judged_against_two_standard_errors() {
        let a = Noise::of(&[100.0, 102.0, 98.0, 100.0]);
        let b = Noise::of(&[101.0, 103.0, 99.0, 101.0]);
        // se of each: sd 1.633 / 2 = 0.816; threshold 2 * sqrt(2) * 0.816 = 2.31
        assert!(matches!(
            judge(&a, &b, 1.0),
            NoiseVerdict::WithinNoise { .. }
        ));
        assert!(matches!(judge(&a, &b, 3.0), NoiseVerdict::Beyond { .. }));
        assert_eq!(judge(&a, &Noise::of(&[1.0]), 0.0), NoiseVerdict::Unknown);
    }
}

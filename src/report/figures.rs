//! The figures a comparison reads off one result: goodput, abort rate,
//! retries and lock waits per commit, merged txn latency, the lock and
//! commit modes and sweep cell the result belongs to, and the run-to-run noise of its
//! per-second goodput.
//!
//! Transactions (`txn` ops) are what a comparison is about: goodput is
//! committed transactions per second. A result without txn ops is compared
//! on the throughput of all its ops instead, and says so.

use std::path::{Path, PathBuf};

use super::ReportError;
use crate::metrics::{RepeatInfo, RunResult, SweptValue, hist};

/// One result, as a comparison sees it.
#[derive(Debug, Clone)]
pub struct Figures {
    /// A short unique name: the sweep cell's id, else the workload name.
    pub label: String,
    pub path: PathBuf,
    pub name: String,
    /// `optimistic`, `pessimistic` or `mixed`; none without txn ops.
    pub lock: Option<String>,
    /// `2pc`, `async`, `1pc` or `mixed`; none without txn ops.
    pub commit: Option<String>,
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
    /// Which of `run --repeat N`'s runs the result is.
    pub repeat: Option<RepeatInfo>,
    /// After [`combine_repeats`]: the figures above are the medians of
    /// these runs, which spread so.
    pub spread: Option<Spread>,
}

/// The lowest and the highest of one figure over the repeats of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// How the repeats of one run spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub runs: usize,
    pub goodput: Range,
    pub p99_us: Range,
    pub abort_rate: Option<Range>,
}

/// The repeats of each run (same label, lock and commit mode) as one [`Figures`]:
/// each figure the median of the runs, with their [`Spread`]; the noise is
/// that of the runs' goodputs. Results without repeats are left as they
/// are; the order of first appearance is kept.
pub fn combine_repeats(figs: Vec<Figures>) -> Vec<Figures> {
    let mut groups: Vec<Vec<Figures>> = Vec::new();
    for f in figs {
        let same = |g: &Vec<Figures>| {
            f.repeat.is_some()
                && g[0].repeat.is_some()
                && g[0].label == f.label
                && g[0].lock == f.lock
                && g[0].commit == f.commit
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    groups.into_iter().map(combine).collect()
}

fn combine(mut runs: Vec<Figures>) -> Figures {
    if runs.len() == 1 {
        return runs.remove(0);
    }
    let all = |get: &dyn Fn(&Figures) -> f64| -> Vec<f64> { runs.iter().map(get).collect() };
    let some = |get: &dyn Fn(&Figures) -> Option<f64>| -> Option<Vec<f64>> {
        runs.iter().map(get).collect()
    };
    let goodputs = all(&|f| f.goodput);
    let p99s = all(&|f| f.p99_us as f64);
    let aborts = some(&|f| f.abort_rate);
    let spread = Spread {
        runs: runs.len(),
        goodput: range(&goodputs),
        p99_us: range(&p99s),
        abort_rate: aborts.as_deref().map(range),
    };
    let mut out = runs[0].clone();
    out.goodput = median(&goodputs);
    out.abort_rate = aborts.as_deref().map(median);
    out.retries_per_commit = some(&|f| f.retries_per_commit).map(|v| median(&v));
    out.lock_waits_per_commit = some(&|f| f.lock_waits_per_commit).map(|v| median(&v));
    out.lock_wait_us_per_commit = some(&|f| f.lock_wait_us_per_commit).map(|v| median(&v));
    out.p50_us = median(&all(&|f| f.p50_us as f64)).round() as u64;
    out.p99_us = median(&p99s).round() as u64;
    out.noise = Noise::of(&goodputs);
    out.spread = Some(spread);
    out
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn range(values: &[f64]) -> Range {
    Range {
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// The spread of the per-second goodput over the whole seconds of the
/// timeline (partial seconds, `span_s < 1`, and the coarse rows of a long
/// run left out).
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
        .filter(|iv| iv.width_s == 1 && iv.span_s >= 0.999)
        .map(|iv| {
            let ok: u64 = counted
                .iter()
                .filter_map(|n| iv.ops.get(*n).map(|o| o.ok))
                .sum();
            ok as f64 / iv.span_s
        })
        .collect();
    let lock = mode(r, "lock", "optimistic");
    let commit = mode(r, "commit", "2pc");
    Ok(Figures {
        label: r
            .sweep
            .as_ref()
            .map_or_else(|| r.name.clone(), |s| s.id.clone()),
        path: path.to_path_buf(),
        name: r.name.clone(),
        lock,
        commit,
        sweep: r.sweep.as_ref().map_or(Vec::new(), |s| s.values.clone()),
        txn,
        goodput: counted.iter().map(|n| r.ops[*n].ok_per_s).sum(),
        abort_rate: (txn && ok + failed > 0).then(|| failed as f64 / (ok + failed) as f64),
        retries_per_commit: per_commit(sum(&|o| o.retries + o.client_retries)),
        lock_waits_per_commit: per_commit(sum(&|o| event(o, "lock_waits"))),
        lock_wait_us_per_commit: per_commit(sum(&|o| event(o, "lock_wait_us"))),
        p50_us: q(0.50),
        p99_us: q(0.99),
        noise: Noise::of(&samples),
        repeat: r.repeat,
        spread: None,
    })
}

fn event(o: &crate::metrics::result::OpResult, name: &str) -> u64 {
    o.events.get(name).copied().unwrap_or(0)
}

/// The result's `lock` or `commit` mode: its sweep cell's value, else its
/// txn ops'.
fn mode(r: &RunResult, field: &str, default: &str) -> Option<String> {
    r.sweep
        .as_ref()
        .and_then(|s| s.value(field)?.as_str().map(String::from))
        .or_else(|| txn_mode(r, field, default))
}

/// The workload's txn ops' `field` (`lock` or `commit`; `default` when
/// unsaid), or `mixed` when they differ.
fn txn_mode(r: &RunResult, field: &str, default: &str) -> Option<String> {
    let ops = r.workload.get("ops")?.as_array()?;
    let mut modes: Vec<&str> = ops
        .iter()
        .filter(|o| o.get("type").and_then(|t| t.as_str()) == Some("txn"))
        .map(|o| o.get(field).and_then(|l| l.as_str()).unwrap_or(default))
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
    fn repeats_combine_into_medians_with_their_range() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let run = |i: u32, goodput: f64, p99: u64| Figures {
            label: "lock=optimistic".into(),
            path: PathBuf::from(format!("r{i}/result.json")),
            name: "w".into(),
            lock: Some("optimistic".into()),
            commit: Some("2pc".into()),
            sweep: Vec::new(),
            txn: true,
            goodput,
            abort_rate: Some(goodput / 1000.0),
            retries_per_commit: Some(0.5),
            lock_waits_per_commit: None,
            lock_wait_us_per_commit: None,
            p50_us: p99 / 2,
            p99_us: p99,
            noise: Noise::default(),
            repeat: Some(RepeatInfo { index: i, count: 3 }),
            spread: None,
        };
        let mut other = run(1, 7.0, 7);
        other.lock = Some("pessimistic".into());
        let mut one_pc = run(2, 8.0, 8);
        one_pc.commit = Some("1pc".into());
        let figs = vec![
            run(1, 100.0, 900),
            other,
            run(2, 300.0, 100),
            one_pc,
            run(3, 200.0, 500),
        ];
        let combined = combine_repeats(figs);
        assert_eq!(
            combined.len(),
            3,
            "one per label, lock and commit mode, in order"
        );
        assert_eq!(combined[2].commit.as_deref(), Some("1pc"));
        let c = &combined[0];
        assert_eq!((c.goodput, c.p99_us, c.p50_us), (200.0, 500, 250));
        let s = c.spread.unwrap();
        assert_eq!(s.runs, 3);
        assert_eq!(
            s.goodput,
            Range {
                min: 100.0,
                max: 300.0
            }
        );
        assert_eq!(
            s.p99_us,
            Range {
                min: 100.0,
                max: 900.0
            }
        );
        assert_eq!(c.noise.seconds, 3, "the noise is the runs'");
        assert!(combined[1].spread.is_none(), "a lone run stays as it is");
    }

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

//! The hierarchical moving-block bootstrap of a metric's change between
//! two sides (see the module doc of [`super`]).

use rand::RngExt;

use super::samples::{Row, Samples, Side};
use crate::vocab::rng::{Rng, rng_for};
use crate::workload::thresholds::Metric;

/// A metric on both sides and the interval of its change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The metric over every row of the baseline's runs.
    pub baseline: f64,
    /// The metric over every row of the runs judged.
    pub value: f64,
    /// The interval of `value - baseline`.
    pub lo: f64,
    pub hi: f64,
}

impl Estimate {
    pub fn change(&self) -> f64 {
        self.value - self.baseline
    }
}

/// The point figures of `s` and the `confidence` interval of their
/// difference from `resamples` resamples, drawn from `seed`.
pub fn estimate(s: &Samples, resamples: u32, confidence: f64, seed: u64) -> Estimate {
    let mut scratch = Vec::new();
    let all = |side: &Side, scratch: &mut Vec<u64>| {
        let rows: Vec<&Row> = side.iter().flatten().collect();
        statistic(s, &rows, scratch)
    };
    let baseline = all(&s.baseline, &mut scratch);
    let value = all(&s.runs, &mut scratch);
    let mut rng = rng_for(seed, 0);
    let mut rows = Vec::new();
    let mut diffs: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            resample(&s.baseline, &mut rng, &mut rows);
            let a = statistic(s, &rows, &mut scratch);
            resample(&s.runs, &mut rng, &mut rows);
            let b = statistic(s, &rows, &mut scratch);
            b - a
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |p: f64| {
        let i = (p * diffs.len() as f64).floor() as usize;
        diffs[i.min(diffs.len() - 1)]
    };
    Estimate {
        baseline,
        value,
        lo: at(tail),
        hi: at(1.0 - tail),
    }
}

/// The length of the blocks of consecutive rows drawn from a run of `n`
/// rows: the cube root of `n`, rounded up (the usual order for estimating
/// a variance from dependent samples).
pub fn block_len(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize).clamp(1, n.max(1))
}

/// One resample of a side into `out`: its runs drawn with replacement,
/// and from each drawn run as many rows as it has, in blocks of
/// [`block_len`] consecutive rows starting anywhere (wrapping round).
fn resample<'a>(side: &'a Side, rng: &mut Rng, out: &mut Vec<&'a Row>) {
    out.clear();
    for _ in 0..side.len() {
        let run = &side[rng.random_range(0..side.len())];
        let n = run.len();
        let l = block_len(n);
        let mut taken = 0;
        while taken < n {
            let start = rng.random_range(0..n);
            for k in 0..l.min(n - taken) {
                out.push(&run[(start + k) % n]);
            }
            taken += l.min(n - taken);
        }
    }
}

/// The metric of a multiset of rows: a ratio of sums, or a quantile of
/// the rows' histograms added together (0 without ops).
fn statistic(s: &Samples, rows: &[&Row], counts: &mut Vec<u64>) -> f64 {
    let q = match s.metric {
        Metric::Quantile(q) => q,
        // `max` is refused against a baseline; the top of the histogram.
        Metric::Max => 1.0,
        _ => {
            let (num, den) = rows
                .iter()
                .fold((0.0, 0.0), |(n, d), r| (n + r.num, d + r.den));
            return if den > 0.0 { num / den } else { 0.0 };
        }
    };
    counts.clear();
    counts.resize(s.values.len(), 0);
    let mut total = 0u64;
    for r in rows {
        for &(i, c) in &r.hist {
            counts[i as usize] += c;
            total += c;
        }
    }
    if total == 0 {
        return 0.0;
    }
    // The value at rank ceil(q·total), as HdrHistogram reads a quantile.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return s.values[i] as f64;
        }
    }
    s.values.last().copied().unwrap_or_default() as f64
}

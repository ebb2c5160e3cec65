//! The per-second samples of a metric, read off results' timelines: for
//! each row of a run's timeline, what the metric adds up (a count and a
//! span, failures and ops, or a latency histogram), so that the metric of
//! any multiset of rows is exact.

use std::collections::BTreeSet;

use super::{BaselineError, Named};
use crate::metrics::hist;
use crate::metrics::result::Interval;
use crate::workload::thresholds::{Metric, Threshold};

/// What one row adds to a metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Rates: ops counted; error rate: failed and unknown ops; mean: the
    /// sum of latencies (µs).
    pub num: f64,
    /// Rates: the row's measured span (s); error rate and mean: ops.
    pub den: f64,
    /// Quantiles: the row's latency histogram as (index into
    /// [`Samples::values`], count), ascending.
    pub hist: Vec<(u32, u64)>,
}

/// A [`Row`] whose histogram is keyed by latency value, before the values
/// of both sides are known.
struct RawRow {
    num: f64,
    den: f64,
    hist: Vec<(u64, u64)>,
}

/// One side of a comparison: its runs, each a list of rows in time order.
pub type Side = Vec<Vec<Row>>;

/// A metric's rows on both sides, and the latency values the histograms'
/// indices stand for (each bucket's highest equivalent value, ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub metric: Metric,
    pub baseline: Side,
    pub runs: Side,
    pub values: Vec<u64>,
}

impl Samples {
    /// The rows of `t`'s metric in every result of both sides.
    pub fn of(
        t: &Threshold,
        baseline: &[Named<'_>],
        runs: &[Named<'_>],
    ) -> Result<Samples, BaselineError> {
        let mut raw = [Vec::new(), Vec::new()];
        for (side, named) in [baseline, runs].into_iter().enumerate() {
            for n in named {
                raw[side].push(rows_of(t, n)?);
            }
        }
        let values: Vec<u64> = raw
            .iter()
            .flatten()
            .flatten()
            .flat_map(|r| r.hist.iter().map(|&(v, _)| v))
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect();
        let index = |v: u64| values.binary_search(&v).unwrap_or_default() as u32;
        let [a, b] = raw.map(|side| {
            side.into_iter()
                .map(|run| {
                    run.into_iter()
                        .map(|r| Row {
                            num: r.num,
                            den: r.den,
                            hist: r.hist.into_iter().map(|(v, c)| (index(v), c)).collect(),
                        })
                        .collect()
                })
                .collect()
        });
        Ok(Samples {
            metric: t.metric,
            baseline: a,
            runs: b,
            values,
        })
    }

    /// Seconds sampled on each side (rows, whatever their width).
    pub fn seconds(&self) -> [usize; 2] {
        [&self.baseline, &self.runs].map(|s| s.iter().map(Vec::len).sum())
    }
}

/// A run's rows of `t`'s metric, histograms keyed by value (not yet by
/// index). Rows with no measured span are left out.
fn rows_of(t: &Threshold, n: &Named<'_>) -> Result<Vec<RawRow>, BaselineError> {
    let r = n.result;
    let ops = matching_ops(t, n)?;
    let rows: Vec<&Interval> = r.timeline.iter().filter(|i| i.span_s > 0.0).collect();
    if rows.len() < 2 {
        return Err(BaselineError::NoTimeline {
            file: n.file.to_string(),
            secs: r.measured.duration_s,
        });
    }
    let rows: Vec<RawRow> = rows.into_iter().map(|i| row(t.metric, i, &ops)).collect();
    Ok(coarsen(rows, MAX_ROWS))
}

/// The most rows a run keeps: a longer run's consecutive rows are added
/// together in groups, so that a resample of an hour's run costs what one
/// of two minutes does. Groups of consecutive seconds are what the block
/// bootstrap draws anyway.
pub const MAX_ROWS: usize = 120;

/// `rows` added together in consecutive groups of `ceil(len / max)`.
fn coarsen(rows: Vec<RawRow>, max: usize) -> Vec<RawRow> {
    let group = rows.len().div_ceil(max.max(1));
    if group <= 1 {
        return rows;
    }
    rows.chunks(group)
        .map(|chunk| {
            let mut hist: Vec<(u64, u64)> =
                chunk.iter().flat_map(|r| r.hist.iter().copied()).collect();
            hist.sort_unstable();
            hist.dedup_by(|b, a| {
                let same = a.0 == b.0;
                if same {
                    a.1 += b.1;
                }
                same
            });
            RawRow {
                num: chunk.iter().map(|r| r.num).sum(),
                den: chunk.iter().map(|r| r.den).sum(),
                hist,
            }
        })
        .collect()
}

/// The names of the ops `t` covers in `n`: its op (by name or type), or
/// every op; for goodput without an op, the transactions when there are
/// any, as [`crate::checks::thresholds`] counts it.
fn matching_ops(t: &Threshold, n: &Named<'_>) -> Result<Vec<String>, BaselineError> {
    let ops = &n.result.ops;
    let names: Vec<String> = match &t.op {
        Some(op) => ops
            .iter()
            .filter(|(name, o)| *name == op || &o.op_type == op)
            .map(|(name, _)| name.clone())
            .collect(),
        None if t.metric == Metric::Goodput && ops.values().any(|o| o.op_type == "txn") => ops
            .iter()
            .filter(|(_, o)| o.op_type == "txn")
            .map(|(name, _)| name.clone())
            .collect(),
        None => ops.keys().cloned().collect(),
    };
    match (&t.op, names.is_empty()) {
        (Some(op), true) => Err(BaselineError::MissingOp {
            threshold: t.text.clone(),
            op: op.clone(),
            file: n.file.to_string(),
            ops: ops.keys().cloned().collect::<Vec<_>>().join(", "),
        }),
        _ => Ok(names),
    }
}

/// What one timeline row adds to `metric` over the ops named.
fn row(metric: Metric, i: &Interval, names: &[String]) -> RawRow {
    let ops: Vec<_> = names.iter().filter_map(|n| i.ops.get(n)).collect();
    let ok: u64 = ops.iter().map(|o| o.ok).sum();
    let failed: u64 = ops.iter().map(|o| o.failed).sum();
    let mut out = RawRow {
        num: 0.0,
        den: 0.0,
        hist: Vec::new(),
    };
    match metric {
        Metric::Throughput => (out.num, out.den) = ((ok + failed) as f64, i.span_s),
        Metric::Goodput => (out.num, out.den) = (ok as f64, i.span_s),
        Metric::ErrorRate => (out.num, out.den) = (failed as f64, (ok + failed) as f64),
        // Refused against a baseline when parsed.
        Metric::Fault(_) => {}
        Metric::Quantile(_) | Metric::Mean | Metric::Max => {
            let mut h = hist::new_hist();
            for o in &ops {
                if let Ok(x) = hist::decode(&o.histogram) {
                    hist::add(&mut h, &x);
                }
            }
            for v in h.iter_recorded() {
                let value = h.highest_equivalent(v.value_iterated_to());
                out.hist.push((value, v.count_at_value()));
                out.num += value as f64 * v.count_at_value() as f64;
                out.den += v.count_at_value() as f64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_is_added_up_in_groups_of_consecutive_rows() {
        let rows: Vec<RawRow> = (0..250u64)
            .map(|i| RawRow {
                num: i as f64,
                den: 1.0,
                hist: vec![(10 + i % 3, 1), (100, 2)],
            })
            .collect();
        let out = coarsen(rows, MAX_ROWS);
        assert_eq!(out.len(), 84, "groups of 3");
        assert_eq!(out[0].num, 0.0 + 1.0 + 2.0);
        assert_eq!(out[0].den, 3.0);
        assert_eq!(out[0].hist, [(10, 1), (11, 1), (12, 1), (100, 6)]);
        let last = out.last().unwrap();
        assert_eq!((last.num, last.den), (249.0, 1.0));
        let total: f64 = out.iter().map(|r| r.num).sum();
        assert_eq!(total, (0..250).sum::<u64>() as f64);
        let short: Vec<RawRow> = (0..5)
            .map(|_| RawRow {
                num: 1.0,
                den: 1.0,
                hist: Vec::new(),
            })
            .collect();
        assert_eq!(coarsen(short, MAX_ROWS).len(), 5);
    }
}

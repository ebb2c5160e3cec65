//! Merging timelines: the drivers' rows lined up by wall-clock second (a
//! driver's coarse rows of a long run take the other drivers' seconds they
//! cover), counts summed, histograms added.

use std::collections::{BTreeMap, BTreeSet};

use super::{MergeError, decode};
use crate::metrics::hist::{self, Percentiles};
use crate::metrics::result::{Interval, IntervalOp, RunResult, rate, round3};

/// The row of the merged timeline an interval goes into: the widest row
/// of any result that holds its start (rows are aligned in Unix time and
/// each width divides the next, so a narrower row lies wholly inside).
fn merged_row(widths: &BTreeSet<(i64, u32)>, i: &Interval) -> (i64, u32) {
    widths
        .iter()
        .rev()
        .map(|&(_, w)| w)
        .filter(|&w| w > i.width_s)
        .map(|w| (i.unix_s - i.unix_s.rem_euclid(i64::from(w)), w))
        .find(|row| widths.contains(row))
        .unwrap_or((i.unix_s, i.width_s))
}

/// Lines the drivers' timelines up by row and adds them: counts summed,
/// histograms added; where one driver has coarse rows and another still
/// per-second ones, the seconds go into the coarse row. The memory of a
/// row is the largest of the drivers' (each driver is its own process).
pub(super) fn merge_timeline(
    results: &[RunResult],
    window: (i64, i64),
) -> Result<Vec<Interval>, MergeError> {
    let coarse: BTreeSet<(i64, u32)> = results
        .iter()
        .flat_map(|r| &r.timeline)
        .filter(|i| i.width_s > 1)
        .map(|i| (i.unix_s, i.width_s))
        .collect();
    let mut rows: BTreeMap<(i64, u32), Vec<&Interval>> = BTreeMap::new();
    for i in results.iter().flat_map(|r| &r.timeline) {
        rows.entry(merged_row(&coarse, i)).or_default().push(i);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, parts) in rows {
        out.push(merge_row(row, &parts, window)?);
    }
    Ok(out)
}

/// One row of the merged timeline from the drivers' parts of it.
fn merge_row(
    (unix_s, width_s): (i64, u32),
    parts: &[&Interval],
    window: (i64, i64),
) -> Result<Interval, MergeError> {
    let span_s = if width_s == 1 {
        parts.iter().map(|i| i.span_s).fold(0.0, f64::max)
    } else {
        // A coarse row: its part inside the merged measured window.
        let start = unix_s * 1_000_000;
        let end = (unix_s + i64::from(width_s)) * 1_000_000;
        round3((end.min(window.1) - start.max(window.0)).max(0) as f64 / 1e6)
    };
    let mut names: Vec<&String> = parts.iter().flat_map(|i| i.ops.keys()).collect();
    names.sort();
    names.dedup();
    let mut all = hist::new_hist();
    let mut total = 0;
    let mut ops = BTreeMap::new();
    for name in names {
        let mut h = hist::new_hist();
        let (mut ok, mut failed) = (0, 0);
        for op in parts.iter().filter_map(|i| i.ops.get(name)) {
            hist::add(&mut h, &decode(name, &op.histogram)?);
            ok += op.ok;
            failed += op.failed;
        }
        hist::add(&mut all, &h);
        total += ok + failed;
        let p = Percentiles::of(&h);
        ops.insert(
            name.clone(),
            IntervalOp {
                ok,
                failed,
                p50_us: p.p50,
                p99_us: p.p99,
                max_us: p.max,
                histogram: hist::encode(&h),
            },
        );
    }
    let p = Percentiles::of(&all);
    Ok(Interval {
        unix_s,
        width_s,
        t_s: round3((unix_s * 1_000_000 - window.0) as f64 / 1e6),
        span_s,
        ops_per_s: rate(total, span_s),
        p50_us: p.p50,
        p99_us: p.p99,
        ops,
        rss_bytes: parts.iter().filter_map(|i| i.rss_bytes).max(),
    })
}

//! The table printed at the end of several runs (a sweep's cells, the
//! repeats of `run --repeat N`): one line per run, repeats combined into
//! their median and range, then each SLO search's answer, so the terminal
//! says what the comparison page shows without opening it.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::ReportError;
use super::figures::{self, Figures, Range};
use super::page::rate;
use crate::metrics::RunResult;
use crate::vocab::fmt::micros;

/// The table of `results`.
pub fn table(results: &[(PathBuf, RunResult)]) -> Result<String, ReportError> {
    let figs = results
        .iter()
        .map(|(p, r)| figures::of(p, r))
        .collect::<Result<Vec<_>, _>>()?;
    let figs = figures::combine_repeats(figs);
    let goodput = if figs.iter().any(|f| f.txn) {
        "goodput/s"
    } else {
        "ok/s"
    };
    let rows: Vec<[String; 5]> = figs.iter().map(row).collect();
    let head = ["run", "lock", goodput, "abort rate", "p99"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            rows.iter()
                .chain([&head])
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in [&head].into_iter().chain(&rows) {
        let _ = write!(out, "  {:<w$}", r[0], w = widths[0]);
        let _ = write!(out, "  {:<w$}", r[1], w = widths[1]);
        for c in 2..5 {
            let _ = write!(out, "  {:>w$}", r[c], w = widths[c]);
        }
        out.push('\n');
    }
    if let Some(n) = figs.iter().find_map(|f| f.spread.map(|s| s.runs)) {
        let _ = writeln!(out, "  (median of {n} runs [lowest – highest])");
    }
    out.push_str(&super::compare::capacity::lines(
        &super::compare::capacity::of(results)?,
    ));
    Ok(out)
}

fn row(f: &Figures) -> [String; 5] {
    let with = |median: String, r: Option<(String, String)>| match r {
        Some((lo, hi)) => format!("{median} [{lo} – {hi}]"),
        None => median,
    };
    let pct = |x: f64| format!("{:.2}%", x * 100.0);
    let spread = f.spread.as_ref();
    let us = |r: &Range| (micros(r.min.round() as u64), micros(r.max.round() as u64));
    [
        f.label.clone(),
        f.lock.clone().unwrap_or_else(|| "–".into()),
        with(
            rate(f.goodput),
            spread.map(|s| (rate(s.goodput.min), rate(s.goodput.max))),
        ),
        with(
            f.abort_rate.map_or("–".into(), pct),
            spread
                .and_then(|s| s.abort_rate)
                .map(|r| (pct(r.min), pct(r.max))),
        ),
        with(micros(f.p99_us), spread.map(|s| us(&s.p99_us))),
    ]
}

//! The comparison of results with load stages or an SLO search: their
//! latency-throughput curves on one chart (one line per result or sweep
//! cell) and a table of each search's answer, on the page and in the
//! terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::metrics::{RunResult, SearchResult};
use crate::report::ReportError;
use crate::report::curve::Curve;
use crate::report::page::{Table, num, text};
use crate::report::stages;

/// One result with load stages, as the comparison sees it.
pub struct Staged {
    pub curve: Curve,
    pub search: Option<SearchResult>,
}

/// The results that have stages, in order, each labelled by its sweep cell
/// (else its workload), its repeat, and its directory when that is still
/// ambiguous.
pub fn of(results: &[(PathBuf, RunResult)]) -> Result<Vec<Staged>, ReportError> {
    let mut out = Vec::new();
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for (path, r) in results.iter().filter(|(_, r)| r.stages.is_some()) {
        let points = stages::curve(r).map_err(|e| match e {
            ReportError::Histogram { op, source } => ReportError::ResultHistogram {
                path: path.clone(),
                op,
                source,
            },
            other => other,
        })?;
        let mut label = r.sweep.as_ref().map_or(r.name.clone(), |s| s.id.clone());
        if let Some(k) = r.repeat {
            let _ = write!(label, " #{}", k.index);
        }
        *labels.entry(label.clone()).or_default() += 1;
        out.push((path, label, r, points));
    }
    Ok(out
        .into_iter()
        .map(|(path, mut label, r, points)| {
            if labels[&label] > 1
                && let Some(dir) = path.parent().and_then(|p| p.file_name())
            {
                label = format!("{label} ({})", dir.to_string_lossy());
            }
            let knee = stages::knee(r, &points);
            Staged {
                curve: Curve {
                    label,
                    points,
                    knee,
                },
                search: r.search.clone(),
            }
        })
        .collect())
}

/// One row per result with a search: its best rate, what was achieved
/// there, the first failure and why, and how the search ended.
pub fn search_table(caps: &[Staged]) -> String {
    let mut t = Table::new(
        "data searches",
        &[
            "result",
            "SLO",
            "best rate/s",
            "achieved/s",
            "first failed/s",
            "why",
            "ended",
        ],
    );
    for c in caps {
        let Some(s) = &c.search else {
            continue;
        };
        let opt = |x: Option<f64>| x.map_or("–".into(), stages::rate);
        t.row([
            text(&c.curve.label),
            text(s.slo.join(" and ")),
            num(opt(s.best_rate)),
            num(opt(s.best_achieved_per_s)),
            num(opt(s.first_failed_rate)),
            text(if s.why.is_empty() {
                "–".into()
            } else {
                s.why.join("; ")
            }),
            text(stages::ending(s).unwrap_or("converged")),
        ]);
    }
    t.finish()
}

/// Each search's answer, a line per result, for the terminal.
pub fn lines(caps: &[Staged]) -> String {
    let mut out = String::new();
    for c in caps {
        if let Some(s) = &c.search {
            let _ = writeln!(out, "  {}: {}", c.curve.label, stages::answer(s));
        }
    }
    if !out.is_empty() {
        out.insert_str(0, "search answers:\n");
    }
    out
}

/// The note under the curves.
pub fn caption(caps: &[Staged]) -> String {
    let searches = caps.iter().filter(|c| c.search.is_some()).count();
    let knee = if searches == caps.len() {
        "the knee, ringed in black, is each search's best passing step"
    } else if searches == 0 {
        "the knee, ringed in black, is each result's stage with the greatest power: achieved ops/s over p99 (Kleinrock's \"power\")"
    } else {
        "the knee, ringed in black, is a search's best passing step, or for plain stages the stage with the greatest power: achieved ops/s over p99 (Kleinrock's \"power\")"
    };
    format!(
        "p50 and p99 of all ops of each stage or search step (log scale) against the throughput the target achieved, one line per result, points in order of level; failed steps ringed in red; {knee}."
    )
}

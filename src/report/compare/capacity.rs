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
    /// The sweep cell (else the workload) without the repeat: repeats of
    /// one cell share it.
    pub cell: String,
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
        let cell = r.sweep.as_ref().map_or(r.name.clone(), |s| s.id.clone());
        let mut label = cell.clone();
        if let Some(k) = r.repeat {
            let _ = write!(label, " #{}", k.index);
        }
        *labels.entry(label.clone()).or_default() += 1;
        out.push((path, (cell, label), r, points));
    }
    Ok(out
        .into_iter()
        .map(|(path, (cell, mut label), r, points)| {
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
                cell,
            }
        })
        .collect())
}

/// The curves to draw: one per cell. Of several repeats of a cell, the
/// one whose search answer is the median (the first, without a search),
/// so that the chart shows a run as it was, not a line per round.
pub fn one_per_cell(caps: &[Staged]) -> Vec<Curve> {
    let mut cells: Vec<&str> = Vec::new();
    for c in caps {
        if !cells.contains(&c.cell.as_str()) {
            cells.push(&c.cell);
        }
    }
    cells
        .into_iter()
        .filter_map(|cell| {
            let mut runs: Vec<&Staged> = caps.iter().filter(|c| c.cell == cell).collect();
            runs.sort_by(|a, b| best(a).total_cmp(&best(b)));
            let pick = runs.get(runs.len().saturating_sub(1) / 2)?;
            let mut curve = pick.curve.clone();
            if runs.len() > 1 {
                curve.label = format!("{} (median of {} rounds)", curve.label, runs.len());
            }
            Some(curve)
        })
        .collect()
}

fn best(c: &Staged) -> f64 {
    c.search.as_ref().and_then(|s| s.best_rate).unwrap_or(0.0)
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
        "p50 and p99 of all ops of each stage or search step (log scale) against the throughput the target achieved, one line per result (of repeated runs, the round whose search answer is the median), points in order of level; failed steps ringed in red; {knee}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SearchEnd;

    fn run(cell: &str, round: u32, best: f64) -> Staged {
        Staged {
            curve: Curve {
                label: format!("{cell} #{round}"),
                points: Vec::new(),
                knee: None,
            },
            search: Some(SearchResult {
                slo: vec!["p99 < 20ms".into()],
                best_rate: Some(best),
                best_achieved_per_s: Some(best),
                first_failed_rate: None,
                why: Vec::new(),
                ended: SearchEnd::Converged,
                steps: Vec::new(),
            }),
            cell: cell.into(),
        }
    }

    #[test]
    fn repeats_of_a_cell_draw_the_round_with_the_median_answer() {
        let caps = [
            run("lock=optimistic", 1, 1500.0),
            run("lock=pessimistic", 1, 3000.0),
            run("lock=optimistic", 2, 1300.0),
            run("lock=pessimistic", 2, 2400.0),
            run("lock=optimistic", 3, 2000.0),
            run("lock=pessimistic", 3, 2200.0),
        ];
        let labels: Vec<String> = one_per_cell(&caps).into_iter().map(|c| c.label).collect();
        assert_eq!(
            labels,
            [
                "lock=optimistic #1 (median of 3 rounds)",
                "lock=pessimistic #2 (median of 3 rounds)"
            ]
        );
        let single = one_per_cell(&caps[..1]);
        assert_eq!(single[0].label, "lock=optimistic #1", "one round: as it is");
    }
}

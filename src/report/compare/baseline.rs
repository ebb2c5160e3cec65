//! The "Against the baseline" section that `report.html` and
//! `compare.html` both show when a run was judged against a baseline: one
//! row per metric (the baseline's figure, the run's, the change with its
//! interval, the limit, the verdict), the method, and the files and runs
//! compared.

use std::fmt::Write as _;

use crate::metrics::{BaselineComparison, BaselineVerdict, Change};
use crate::report::page::{self, Table, TableCell, esc, num};

/// The section's id, for the pages' navigation and links.
pub const ID: &str = "baseline";
/// The section's heading.
pub const HEADING: &str = "Against the baseline";

/// The whole section: the headline, the table, the method and the files.
pub fn section(c: &BaselineComparison) -> String {
    let mut html = headline(c);
    html.push_str(&table(c));
    html.push_str(&page::para("note", &method(c)));
    html.push_str(&sources(c));
    page::section(ID, HEADING, &html)
}

/// One sentence: passed, or how many metrics regressed.
fn headline(c: &BaselineComparison) -> String {
    let regressed = c
        .verdicts
        .iter()
        .filter(|v| v.verdict == Change::Regressed)
        .count();
    let improved = c
        .verdicts
        .iter()
        .filter(|v| v.verdict == Change::Improved)
        .count();
    let n = c.verdicts.len();
    if c.passed() {
        format!(
            "<p class=\"headline\"><strong class=\"ok\">Passed</strong>: none of {n} metric(s) regressed beyond the noise{}.</p>",
            if improved > 0 {
                format!("; {improved} improved")
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "<p class=\"headline\"><strong class=\"bad\">FAILED</strong>: {regressed} of {n} metric(s) regressed beyond the noise.</p>"
        )
    }
}

/// metric | baseline | this run | change [interval] | limit | verdict.
fn table(c: &BaselineComparison) -> String {
    let run = if c.runs.len() > 1 {
        format!("these {} runs", c.runs.len())
    } else {
        "this run".to_string()
    };
    let change = format!("change [{:.0}% interval]", c.confidence * 100.0);
    let mut t = Table::new(
        "baseline",
        &["metric", "baseline", &run, &change, "limit", "verdict"],
    );
    for v in &c.verdicts {
        t.row([
            metric_cell(v),
            num(v.fmt_value(v.baseline)),
            num(v.fmt_value(v.value)),
            num(v.effect()),
            num(v.fmt_value(v.limit)),
            verdict_cell(v),
        ]);
    }
    t.finish()
}

/// The metric, with the threshold under it (and whether it is a default).
fn metric_cell(v: &BaselineVerdict) -> TableCell {
    let default = if v.from_workload { "" } else { " (default)" };
    TableCell::Html(format!(
        "<strong>{}</strong><br><small><code>{}</code>{default}</small>",
        esc(&v.metric),
        esc(&v.threshold)
    ))
}

/// The verdict, a failure marked as the page marks failures, with why and
/// the seconds sampled.
fn verdict_cell(v: &BaselineVerdict) -> TableCell {
    let word = match v.verdict {
        Change::Regressed => format!("<strong class=\"bad\">{}</strong>", v.verdict.as_str()),
        Change::Improved => format!("<strong class=\"ok\">{}</strong>", v.verdict.as_str()),
        Change::Unchanged => v.verdict.as_str().to_string(),
    };
    TableCell::Html(format!(
        "{word}<br><small>{}; seconds sampled: {} vs {}</small>",
        esc(&v.reason),
        v.seconds[0],
        v.seconds[1]
    ))
}

/// How the intervals were found (the comparison's own sentence), and the
/// rest of the rule.
fn method(c: &BaselineComparison) -> String {
    format!(
        "Method: {}; improved = the whole interval is better; unchanged = neither. {:.0}% intervals from {} resamples.",
        c.method.trim_end().trim_end_matches('.'),
        c.confidence * 100.0,
        page::count(u64::from(c.resamples))
    )
}

/// The baseline files with their run ids, and the runs judged.
fn sources(c: &BaselineComparison) -> String {
    let mut html = String::from("<ol class=\"files\">");
    let paired = c.files.len() == c.baseline_runs.len();
    for (i, file) in c.files.iter().enumerate() {
        let run = match c.baseline_runs.get(i) {
            Some(id) if paired && !id.is_empty() => format!(", run {}", esc(id)),
            _ => String::new(),
        };
        let _ = write!(html, "<li>baseline <code>{}</code>{run}</li>", esc(file));
    }
    if !paired && !c.baseline_runs.is_empty() {
        let _ = write!(
            html,
            "<li>baseline runs: {}</li>",
            esc(&c.baseline_runs.join(", "))
        );
    }
    if !c.runs.is_empty() {
        let _ = write!(html, "<li>judged: run {}</li>", esc(&c.runs.join(", ")));
    }
    html.push_str("</ol>");
    html
}

//! What CI systems read: a Markdown summary ([`markdown`]: for a
//! pull-request comment or GitHub's step summary) and JUnit XML
//! ([`junit`]: one test case per threshold, per metric judged against a
//! baseline, and per check).
//!
//! Both take the runs judged (one run, every repeat of `run --repeat N`,
//! or the results `compare` was given) and, when they were judged against
//! a baseline, the comparison: a single run's is its `baseline` section.

use std::fmt::Write as _;

use crate::metrics::{BaselineComparison, BaselineVerdict, Change, RunResult};

/// The Markdown summary of `runs` and their comparison with a baseline: a
/// heading with the workload and the outcome, the baseline's verdicts,
/// the absolute thresholds and the checks (each a table, when there are
/// any), the runs and the target, and how the verdicts were reached.
pub fn markdown(runs: &[&RunResult], baseline: Option<&BaselineComparison>) -> String {
    let mut out = String::new();
    let name = runs.first().map_or("?", |r| r.name.as_str());
    let _ = writeln!(
        out,
        "### tikv-bench: {} {}\n",
        md(name),
        outcome(runs, baseline)
    );
    if runs.iter().any(|r| r.interrupted) {
        let _ = writeln!(
            out,
            "⚠️ interrupted: the figures cover what was measured before the interrupt.\n"
        );
    }
    if let Some(cmp) = baseline {
        verdict_table(&mut out, cmp, runs.len());
    }
    threshold_table(&mut out, runs);
    check_table(&mut out, runs);
    about_runs(&mut out, runs, baseline);
    if let Some(cmp) = baseline {
        how_judged(&mut out, cmp, runs.len());
    }
    out
}

/// `✅ no regressions`, or `❌` with what failed, counted.
fn outcome(runs: &[&RunResult], baseline: Option<&BaselineComparison>) -> String {
    let regressed = baseline.map_or(0, |c| c.verdicts.iter().filter(|v| !v.passed).count());
    let thresholds: usize = runs
        .iter()
        .filter_map(|r| r.thresholds.as_ref())
        .map(|t| t.iter().filter(|v| !v.passed).count())
        .sum();
    let checks: usize = runs
        .iter()
        .filter_map(|r| r.checks.as_ref())
        .map(|c| c.iter().filter(|v| !v.passed).count())
        .sum();
    let aborted = runs.iter().filter(|r| r.aborted.is_some()).count();
    let mut failed = Vec::new();
    if regressed > 0 {
        failed.push(format!("{regressed} regressed"));
    }
    for (n, one, many) in [
        (thresholds, "threshold failed", "thresholds failed"),
        (checks, "check failed", "checks failed"),
        (aborted, "run aborted", "runs aborted"),
    ] {
        match n {
            0 => {}
            1 => failed.push(format!("1 {one}")),
            n => failed.push(format!("{n} {many}")),
        }
    }
    match (failed.is_empty(), baseline.is_some()) {
        (true, true) => "✅ no regressions".into(),
        (true, false) => "✅ passed".into(),
        (false, _) => format!("❌ {}", failed.join(", ")),
    }
}

/// One row per metric judged against the baseline.
fn verdict_table(out: &mut String, cmp: &BaselineComparison, runs: usize) {
    let _ = writeln!(
        out,
        "**Against the baseline** ({} vs {})\n",
        count(runs, "run"),
        count(cmp.baseline_runs.len(), "baseline run")
    );
    let this = if runs == 1 { "this run" } else { "these runs" };
    let _ = writeln!(
        out,
        "| metric | baseline | {this} | change [{:.0}% interval] | limit | verdict |",
        cmp.confidence * 100.0
    );
    let _ = writeln!(out, "|---|--:|--:|--:|---|---|");
    for v in &cmp.verdicts {
        let mark = match v.verdict {
            Change::Regressed => "❌",
            Change::Improved | Change::Unchanged => "✅",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {mark} {} ({}) |",
            md(&v.metric),
            md(&v.fmt_value(v.baseline)),
            md(&v.fmt_value(v.value)),
            md(&v.effect()),
            md(&limit(v)),
            v.verdict.as_str(),
            md(&v.reason)
        );
    }
    out.push('\n');
}

/// The limit a verdict's value had to meet, with the margin as written:
/// `< 1.32ms (baseline + 10%)`.
fn limit(v: &BaselineVerdict) -> String {
    let t = v.threshold.as_str();
    let Some(at) = t.find(['<', '>']) else {
        return v.fmt_value(v.limit);
    };
    let end = if t[at + 1..].starts_with('=') {
        at + 2
    } else {
        at + 1
    };
    format!(
        "{} {} ({})",
        &t[at..end],
        v.fmt_value(v.limit),
        t[end..].trim()
    )
}

/// The absolute thresholds of every run, when any has some.
fn threshold_table(out: &mut String, runs: &[&RunResult]) {
    let rows: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| {
            r.thresholds.iter().flatten().map(|v| {
                let mark = if v.passed { "✅ pass" } else { "❌ fail" };
                (
                    label(r, runs.len()),
                    format!("{} | {} | {mark}", md(&v.threshold), md(&v.measured)),
                )
            })
        })
        .collect();
    table(
        out,
        "Thresholds",
        "threshold | measured | verdict",
        &rows,
        runs,
    );
}

/// The invariant checks of every run, when any has some.
fn check_table(out: &mut String, runs: &[&RunResult]) {
    let rows: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| {
            r.checks.iter().flatten().map(|v| {
                let mark = if v.passed {
                    "✅ pass".to_string()
                } else {
                    format!("❌ {} violation(s)", v.violation_count)
                };
                (
                    label(r, runs.len()),
                    format!("{} | {} | {mark}", md(&v.name), md(&v.summary)),
                )
            })
        })
        .collect();
    table(
        out,
        "Checks",
        "check | what was verified | verdict",
        &rows,
        runs,
    );
}

/// A table of `rows` (a run's label and its cells), with a `run` column
/// first when there are several runs; nothing when there are no rows.
fn table(
    out: &mut String,
    title: &str,
    header: &str,
    rows: &[(String, String)],
    runs: &[&RunResult],
) {
    if rows.is_empty() {
        return;
    }
    let many = runs.len() > 1;
    let cols = header.matches('|').count() + 1 + usize::from(many);
    let _ = writeln!(out, "**{title}**\n");
    let run_col = if many { "run | " } else { "" };
    let _ = writeln!(out, "| {run_col}{header} |");
    let _ = writeln!(out, "|{}", "---|".repeat(cols));
    for (run, cells) in rows {
        match many {
            true => writeln!(out, "| {} | {cells} |", md(run)),
            false => writeln!(out, "| {cells} |"),
        }
        .unwrap_or_default();
    }
    out.push('\n');
}

/// What names one of several runs: its sweep cell and repeat, else its id.
fn label(r: &RunResult, runs: usize) -> String {
    if runs <= 1 {
        return String::new();
    }
    let mut parts = Vec::new();
    if let Some(s) = &r.sweep {
        parts.push(s.id.clone());
    }
    if let Some(k) = r.repeat {
        parts.push(format!("repeat {}", k.index));
    }
    if parts.is_empty() {
        parts.push(r.run_id.clone());
    }
    parts.join(" ")
}

/// One line: the runs' ids, the baseline's, the target, measured seconds.
fn about_runs(out: &mut String, runs: &[&RunResult], baseline: Option<&BaselineComparison>) {
    let ids = |list: Vec<&str>| {
        list.iter()
            .map(|id| match *id {
                "" => "–".to_string(),
                id => format!("`{}`", id.replace('`', "'")),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut line = format!(
        "Runs: {}",
        ids(runs.iter().map(|r| r.run_id.as_str()).collect())
    );
    if let Some(cmp) = baseline {
        let _ = write!(
            line,
            " · baseline: {} ({})",
            ids(cmp.baseline_runs.iter().map(String::as_str).collect()),
            md(&cmp.files.join(", "))
        );
    }
    if let Some(r) = runs.first() {
        let _ = write!(
            line,
            " · target: {} ({})",
            md(&r.target.kind),
            md(&r.target.description)
        );
    }
    let secs: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.1}s", r.measured.duration_s))
        .collect();
    let _ = writeln!(out, "{line} · measured: {}\n", secs.join(", "));
}

/// How the verdicts were reached, in one line.
fn how_judged(out: &mut String, cmp: &BaselineComparison, runs: usize) {
    let [base, run] = cmp.verdicts.iter().fold([0, 0], |[b, r], v| {
        [b.max(v.seconds[0]), r.max(v.seconds[1])]
    });
    let this = if runs == 1 { "this run" } else { "these runs" };
    let _ = writeln!(
        out,
        "How judged: {}. {:.0}% intervals from {} resamples; seconds sampled: baseline {base}, {this} {run}.",
        md(&cmp.method),
        cmp.confidence * 100.0,
        cmp.resamples
    );
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Text made safe for a GitHub-flavoured Markdown table cell or heading:
/// every character Markdown could read as syntax (`|` above all, which
/// would end the cell) is escaped with a backslash, and line breaks
/// become spaces.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One JUnit test case: its name and, when it failed, the failure's
/// message and text; a passed one may carry what it measured.
struct Case {
    name: String,
    failure: Option<(String, String)>,
    output: String,
}

/// The JUnit XML of `runs` and their comparison with a baseline: one
/// `<testsuites>` with the suites `thresholds` (every run's absolute
/// thresholds), `baseline` (one case per metric judged; a regressed one
/// fails) and `checks` (every run's invariant checks).
pub fn junit(runs: &[&RunResult], baseline: Option<&BaselineComparison>) -> String {
    let name = runs.first().map_or("?", |r| r.name.as_str());
    let prefix = |r: &RunResult| match label(r, runs.len()) {
        l if l.is_empty() => String::new(),
        l => format!("{l}: "),
    };
    let thresholds: Vec<Case> = runs
        .iter()
        .flat_map(|r| {
            r.thresholds.iter().flatten().map(move |v| Case {
                name: format!("{}{}", prefix(r), v.threshold),
                failure: (!v.passed).then(|| (v.to_string(), v.to_string())),
                output: format!("measured {}", v.measured),
            })
        })
        .collect();
    let verdicts: Vec<Case> = baseline
        .iter()
        .flat_map(|c| &c.verdicts)
        .map(|v| Case {
            name: v.threshold.clone(),
            failure: (!v.passed).then(|| {
                (
                    format!("{} regressed: {}", v.metric, v.effect()),
                    v.to_string(),
                )
            }),
            output: v.to_string(),
        })
        .collect();
    let checks: Vec<Case> = runs
        .iter()
        .flat_map(|r| {
            r.checks.iter().flatten().map(move |v| Case {
                name: format!("{}{}", prefix(r), v.name),
                failure: (!v.passed).then(|| {
                    let text = std::iter::once(v.to_string())
                        .chain(v.violations.iter().cloned())
                        .collect::<Vec<_>>()
                        .join("\n");
                    (format!("{} violation(s)", v.violation_count), text)
                }),
                output: v.summary.clone(),
            })
        })
        .collect();
    suites(
        name,
        &[
            ("thresholds", thresholds),
            ("baseline", verdicts),
            ("checks", checks),
        ],
    )
}

/// The XML document of the named suites.
fn suites(name: &str, suites: &[(&str, Vec<Case>)]) -> String {
    let failed = |cases: &[Case]| cases.iter().filter(|c| c.failure.is_some()).count();
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = suites.iter().map(|(_, c)| failed(c)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"tikv-bench {}\" tests=\"{tests}\" failures=\"{failures}\">",
        xml(name)
    );
    for (suite, cases) in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
            cases.len(),
            failed(cases)
        );
        for c in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"tikv-bench.{}.{suite}\" name=\"{}\">",
                xml(name),
                xml(&c.name)
            );
            match &c.failure {
                Some((message, text)) => {
                    let _ = write!(
                        out,
                        "<failure message=\"{}\" type=\"{suite}\">{}</failure>",
                        xml(message),
                        xml(text)
                    );
                }
                None if !c.output.is_empty() => {
                    let _ = write!(out, "<system-out>{}</system-out>", xml(&c.output));
                }
                None => {}
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text made safe for XML, in an attribute or between tags: the five
/// special characters as entities, line breaks as character references
/// (which an attribute keeps), and the control characters XML 1.0 does
/// not allow dropped.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::result::PhaseResult;
    use crate::metrics::{MetricUnit, ThresholdVerdict};

    fn result(name: &str) -> RunResult {
        let phase = serde_json::to_value(PhaseResult {
            duration_s: 3.0,
            ..PhaseResult::default()
        })
        .unwrap();
        serde_json::from_value(serde_json::json!({
            "schema": crate::metrics::SCHEMA,
            "tool": {"name": "tikv-bench", "version": "0"},
            "run_id": "r1",
            "name": name,
            "workload": {},
            "seed": 1,
            "target": {"kind": "noop", "description": "answers at once"},
            "mode": "closed",
            "concurrency": 1,
            "started_at": "2026-01-01T00:00:00Z",
            "ended_at": "2026-01-01T00:00:03Z",
            "load": {"records": 0, "duration_s": 0.0},
            "warmup": phase,
            "measured": phase,
            "ops": {},
            "timeline": [],
        }))
        .unwrap()
    }

    fn verdict(threshold: &str, metric: &str, verdict: Change) -> BaselineVerdict {
        BaselineVerdict {
            threshold: threshold.into(),
            from_workload: true,
            metric: metric.into(),
            unit: MetricUnit::Us,
            baseline: 1000.0,
            value: 2000.0,
            change: 1000.0,
            interval: [900.0, 1100.0],
            relative: Some([1.0, 0.9, 1.1]),
            limit: 1100.0,
            verdict,
            reason: "beyond noise".into(),
            seconds: [3, 3],
            passed: verdict != Change::Regressed,
        }
    }

    fn comparison(verdicts: Vec<BaselineVerdict>) -> BaselineComparison {
        BaselineComparison {
            files: vec!["base.json".into()],
            baseline_runs: vec!["b1".into()],
            runs: vec!["r1".into()],
            method: "a bootstrap".into(),
            confidence: 0.95,
            resamples: 2000,
            verdicts,
        }
    }

    #[test]
    fn markdown_escapes_what_would_break_a_table() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("p99 of x_y < 2ms\nnext"), "p99 of x\\_y \\< 2ms next");
        let mut r = result("pipe|name");
        r.thresholds = Some(vec![ThresholdVerdict {
            threshold: "p99 of a|b < 2ms".into(),
            measured: "1ms".into(),
            passed: true,
        }]);
        let cmp = comparison(vec![verdict(
            "p99 of read < baseline + 10%",
            "p99 of read",
            Change::Regressed,
        )]);
        let text = markdown(&[&r], Some(&cmp));
        assert!(
            text.starts_with("### tikv-bench: pipe\\|name ❌ 1 regressed\n"),
            "{text}"
        );
        assert!(
            text.contains("| p99 of a\\|b \\< 2ms | 1ms | ✅ pass |"),
            "{text}"
        );
        assert!(
            text.contains("| p99 of read | 1.00ms | 2.00ms | +100.0% \\[+90.0%, +110.0%\\] | \\< 1.10ms (baseline + 10%) | ❌ regressed (beyond noise) |"),
            "{text}"
        );
        // Every table row has as many cells as its header.
        for block in text.split("\n\n").filter(|b| b.starts_with('|')) {
            let cells = |l: &str| l.replace("\\|", "").matches('|').count();
            let lines: Vec<&str> = block.lines().collect();
            assert!(lines.iter().all(|l| cells(l) == cells(lines[0])), "{block}");
        }
    }

    #[test]
    fn xml_escapes_the_special_characters_and_drops_control_ones() {
        assert_eq!(
            xml("p99 < 2ms & \"x\" > 'y'\n\u{1}z"),
            "p99 &lt; 2ms &amp; &quot;x&quot; &gt; &apos;y&apos;&#10;z"
        );
    }

    #[test]
    fn junit_counts_every_case_and_failure() {
        let mut a = result("w");
        a.repeat = Some(crate::metrics::RepeatInfo { index: 1, count: 2 });
        a.thresholds = Some(vec![
            ThresholdVerdict {
                threshold: "p99 < 2ms".into(),
                measured: "3ms".into(),
                passed: false,
            },
            ThresholdVerdict {
                threshold: "error rate < 1%".into(),
                measured: "0%".into(),
                passed: true,
            },
        ]);
        let mut b = a.clone();
        b.repeat = Some(crate::metrics::RepeatInfo { index: 2, count: 2 });
        let cmp = comparison(vec![
            verdict(
                "p99 of read < baseline + 10%",
                "p99 of read",
                Change::Regressed,
            ),
            verdict(
                "throughput > baseline - 5%",
                "throughput",
                Change::Unchanged,
            ),
            verdict("p50 < baseline", "p50", Change::Improved),
        ]);
        let x = junit(&[&a, &b], Some(&cmp));
        assert!(
            x.contains("<testsuites name=\"tikv-bench w\" tests=\"7\" failures=\"3\">"),
            "{x}"
        );
        assert!(
            x.contains("<testsuite name=\"thresholds\" tests=\"4\" failures=\"2\""),
            "{x}"
        );
        assert!(
            x.contains("<testsuite name=\"baseline\" tests=\"3\" failures=\"1\""),
            "{x}"
        );
        assert!(
            x.contains("<testsuite name=\"checks\" tests=\"0\" failures=\"0\""),
            "{x}"
        );
        assert!(x.contains("name=\"repeat 2: p99 &lt; 2ms\"><failure message=\"FAIL: p99 &lt; 2ms (measured 3ms)\""), "{x}");
        assert!(x.contains("<failure message=\"p99 of read regressed: +100.0% [+90.0%, +110.0%]\" type=\"baseline\">regressed: p99 of read &lt; baseline + 10%"), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 7);
        assert_eq!(x.matches("<failure ").count(), 3);
    }
}

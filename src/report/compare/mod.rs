//! The comparison of several results: `compare.html` with PNG charts of
//! goodput, abort rate, retries and lock wait per commit, and p50/p99.
//!
//! Results from a sweep (their `sweep` section) are drawn against the swept
//! parameter other than `lock` and `commit`, one line per lock mode, or per
//! (lock, commit) pair when the results differ in commit mode (and per
//! remaining combination of swept values); other results stand side by
//! side as bars. Whenever both lock modes are present, `contention.png`
//! draws goodput, abort rate and p99 with those same lines. For exactly
//! two results a delta table says whether the goodput difference is within
//! the run-to-run noise of their timelines. Results with load stages or
//! an SLO search draw their latency-throughput curves on one chart
//! (`curve.png`) beside a table of the searches' answers. A comparison
//! against a baseline ([`compare_to_dir_with`]) adds its verdicts per
//! metric ([`baseline`], the section `report.html` shows too), and the
//! delta table points to them instead of its own noise note.

pub mod baseline;
pub mod capacity;
mod layout;
mod tables;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::curve::{self, Curve};
use super::figures::{self, Figures};
use super::html::Written;
use super::page;
use super::plot::{Chart, Legend, Panel, Unit};
use crate::metrics::{BaselineComparison, RunResult};
use layout::Layout;
use tables::{definitions, delta_table, pairs_table, results_table};

/// One metric against the parameter (or per result); two to a row.
pub const METRIC_SIZE: (u32, u32) = (720, 420);
/// p50 beside p99.
pub const LATENCY_SIZE: (u32, u32) = (1180, 440);
/// The latency-throughput curves: p50 beside p99.
pub use super::curve::COMPARE_SIZE as CURVE_SIZE;
/// Goodput, abort rate and p99 side by side.
pub const CONTENTION_SIZE: (u32, u32) = (1180, 460);

/// Writes `compare.html` and its PNG charts into `out` (created when
/// missing) and returns the HTML's path. `results` pairs each result with
/// the file it came from; their order is kept (for two results, the first
/// is the baseline A). Call it after a sweep with the cells' results.
pub fn compare_to_dir(
    results: &[(PathBuf, RunResult)],
    out: &Path,
) -> Result<PathBuf, ReportError> {
    compare_to_dir_with(results, out, None)
}

/// [`compare_to_dir`] with the judgement of the results against a
/// baseline (`compare --baseline`), when there is one: its section
/// ("Against the baseline") follows the results table.
pub fn compare_to_dir_with(
    results: &[(PathBuf, RunResult)],
    out: &Path,
    baseline: Option<&BaselineComparison>,
) -> Result<PathBuf, ReportError> {
    Ok(write_with(results, out, baseline)?.html)
}

/// [`compare_to_dir`], returning every file written with the charts' sizes.
pub fn write(results: &[(PathBuf, RunResult)], out: &Path) -> Result<Written, ReportError> {
    write_with(results, out, None)
}

/// [`compare_to_dir_with`], returning every file written with the charts'
/// sizes.
pub fn write_with(
    results: &[(PathBuf, RunResult)],
    out: &Path,
    baseline: Option<&BaselineComparison>,
) -> Result<Written, ReportError> {
    if results.is_empty() {
        return Err(ReportError::NothingToCompare);
    }
    std::fs::create_dir_all(out).map_err(|source| ReportError::OutputDir {
        dir: out.to_path_buf(),
        source,
    })?;
    let figs = results
        .iter()
        .map(|(p, r)| figures::of(p, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut figs = figures::combine_repeats(figs);
    unique_labels(&mut figs);
    let layout = Layout::of(&figs);
    let txn = figs.iter().any(|f| f.txn);
    let goodput_name = if txn { "goodput" } else { "throughput" };

    let mut drawn = Drawn {
        charts: Vec::new(),
        note: note(results),
    };
    let caps = capacity::of(results)?;
    let mut body = heading(&figs, &layout, txn, !caps.is_empty(), baseline.is_some());
    if has_both_locks(&figs) {
        body.push_str(&contention_section(&figs, &layout, out, &mut drawn)?);
    }
    body.push_str(&page::section(
        "results",
        "Results",
        &results_table(&figs, goodput_name),
    ));
    if let Some(c) = baseline {
        body.push_str(&baseline::section(c));
    }
    if !caps.is_empty() {
        body.push_str(&capacity_section(&caps, out, &mut drawn)?);
    }
    if figs.len() == 2 {
        body.push_str(&page::section(
            "deltas",
            "B vs A",
            &delta_table(&figs[0], &figs[1], goodput_name, baseline.is_some()),
        ));
    }
    body.push_str(&charts_section(&figs, &layout, txn, out, &mut drawn)?);
    body.push_str(&page::section(
        "definitions",
        "Definitions",
        &definitions(txn),
    ));

    let html = page::page(
        &format!("tikv-bench comparison of {} results", figs.len()),
        &body,
        &format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
    );
    let path = out.join("compare.html");
    std::fs::write(&path, html).map_err(|source| ReportError::WriteComparison {
        path: path.clone(),
        source,
    })?;
    Ok(Written {
        html: path,
        charts: drawn.charts,
    })
}

/// The charts drawn so far, and the line under each that says what the
/// comparison is of.
struct Drawn {
    charts: Vec<(PathBuf, (u32, u32))>,
    note: String,
}

/// What a comparison's charts are of: the workloads, how many runs, when.
fn note(results: &[(PathBuf, RunResult)]) -> String {
    let mut names: Vec<&str> = results.iter().map(|(_, r)| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let first = results.iter().map(|(_, r)| r.started_at.as_str()).min();
    // Repeated runs are drawn as one point (their median) with whiskers.
    let repeats = results
        .iter()
        .filter_map(|(_, r)| r.repeat.map(|k| k.count))
        .max()
        .filter(|&n| n > 1)
        .map(|n| format!(" (each point the median of {n} runs, whiskers lowest to highest)"))
        .unwrap_or_default();
    format!(
        "comparison of {} results of {}{repeats} · from {} · {} {}",
        results.len(),
        names.join(", "),
        first.unwrap_or("?"),
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    )
}

/// The note without the words on medians and whiskers.
fn note_of_runs(note: &str) -> String {
    match (note.find(" (each point the median"), note.find(") · from")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &note[..a], &note[b + 1..]),
        _ => note.to_string(),
    }
}

/// Draws `chart` into `path` and returns it as an inline figure; the file
/// is added to the drawn charts.
fn figure(
    chart: &Chart,
    path: PathBuf,
    (alt, caption): (&str, &str),
    drawn: &mut Drawn,
) -> Result<String, ReportError> {
    chart.draw(&path, &drawn.note)?;
    let html = page::figure(&path, chart.size, alt, caption)?;
    drawn.charts.push((path, chart.size));
    Ok(html)
}

/// The results with stages: their curves on one chart (`curve.png`) and
/// the searches' answers.
fn capacity_section(
    caps: &[capacity::Staged],
    out: &Path,
    drawn: &mut Drawn,
) -> Result<String, ReportError> {
    let curves: Vec<Curve> = capacity::one_per_cell(caps);
    let mut inner = String::new();
    if caps.iter().any(|c| c.search.is_some()) {
        inner.push_str(&capacity::search_table(caps));
    }
    match curve::compare_chart(&curves) {
        Some(chart) => {
            // Each line is one run, not a median with whiskers.
            let runs = note_of_runs(&drawn.note);
            let note = std::mem::replace(&mut drawn.note, runs);
            let fig = figure(
                &chart,
                out.join("curve.png"),
                (
                    "p50 and p99 against achieved throughput, one line per result",
                    &capacity::caption(caps),
                ),
                drawn,
            );
            drawn.note = note;
            inner.push_str(&fig?);
        }
        None => inner.push_str(&page::para("note", "No stage has measured ops.")),
    }
    Ok(page::section(
        "capacity",
        "Capacity: latency against throughput",
        &inner,
    ))
}

/// Optimistic beside pessimistic: the chart and the table of pairs.
fn contention_section(
    figs: &[Figures],
    layout: &Layout,
    out: &Path,
    drawn: &mut Drawn,
) -> Result<String, ReportError> {
    let mut inner = figure(
        &contention_chart(figs, layout),
        out.join("contention.png"),
        (
            "optimistic vs pessimistic: goodput, abort rate and p99",
            &layout.caption(),
        ),
        drawn,
    )?;
    inner.push_str(&pairs_table(figs, layout));
    let title = if layout.commits {
        "Optimistic vs pessimistic, per commit mode"
    } else {
        "Optimistic vs pessimistic"
    };
    Ok(page::section("contention", title, &inner))
}

/// A chart per metric of [`metrics`] that any result has (not zero), two
/// to a row, then p50 beside p99.
fn charts_section(
    figs: &[Figures],
    layout: &Layout,
    txn: bool,
    out: &Path,
    drawn: &mut Drawn,
) -> Result<String, ReportError> {
    let mut html = String::from("<div class=\"pairs\">");
    let mut skipped = Vec::new();
    for m in metrics(txn) {
        if figs.iter().map(m.get).all(|v| v.is_none_or(|v| v == 0.0)) {
            skipped.push(m.title);
            continue;
        }
        let chart = Chart {
            size: METRIC_SIZE,
            grid: (1, 1),
            panels: vec![layout.panel(figs, m.title, &m.axis, m.unit, m.get)],
            shared_legend: false,
        };
        html.push_str(&figure(
            &chart,
            out.join(m.file),
            (m.title, m.caption),
            drawn,
        )?);
    }
    html.push_str("</div>");
    html.push_str(&figure(
        &latency_chart(figs, layout),
        out.join("latency.png"),
        (
            "p50 and p99 latency",
            "From the histograms of the committed transactions (all ops without transactions), added together: percentiles are never averaged.",
        ),
        drawn,
    )?);
    if !skipped.is_empty() {
        html.push_str(&page::para(
            "note",
            &format!(
                "Not drawn, all zero or not applicable: {}.",
                skipped.join(", ")
            ),
        ));
    }
    Ok(page::section("charts", "Charts", &html))
}

/// p50 beside p99, one legend for both.
fn latency_chart(figs: &[Figures], layout: &Layout) -> Chart {
    Chart {
        size: LATENCY_SIZE,
        grid: (1, 2),
        panels: vec![
            layout.panel(figs, "p50 latency", "p50", Unit::Micros, |f| {
                Some(f.p50_us as f64)
            }),
            layout.panel(figs, "p99 latency", "p99", Unit::Micros, |f| {
                Some(f.p99_us as f64)
            }),
        ]
        .into_iter()
        .map(shared)
        .collect(),
        shared_legend: true,
    }
}

/// Labels that tell results apart: the result's directory is added to
/// repeated names, then a number if still needed.
fn unique_labels(figs: &mut [Figures]) {
    let dup =
        |figs: &[Figures], i: usize| figs.iter().filter(|f| f.label == figs[i].label).count() > 1;
    let dirs: Vec<bool> = (0..figs.len()).map(|i| dup(figs, i)).collect();
    for (f, d) in figs.iter_mut().zip(dirs) {
        if d && let Some(dir) = f.path.parent().and_then(|p| p.file_name()) {
            f.label = format!("{} ({})", f.label, dir.to_string_lossy());
        }
    }
    let again: Vec<bool> = (0..figs.len()).map(|i| dup(figs, i)).collect();
    for (i, (f, d)) in figs.iter_mut().zip(again).enumerate() {
        if d {
            f.label = format!("{} #{}", f.label, i + 1);
        }
    }
}

/// A chart of one figure per result: an entry of [`metrics`].
struct Metric {
    /// The PNG's name.
    file: &'static str,
    title: &'static str,
    axis: String,
    unit: Unit,
    caption: &'static str,
    get: Get,
}

/// The one-figure charts, in page order (those of transactions only when
/// a result has them).
fn metrics(txn: bool) -> Vec<Metric> {
    let mut list = vec![Metric {
        file: "goodput.png",
        title: if txn { "Goodput" } else { "Throughput" },
        axis: if txn { "committed txn/s" } else { "ok ops/s" }.into(),
        unit: Unit::Number,
        caption: if txn {
            "Committed transactions per second over the measured phase."
        } else {
            "Successful ops per second over the measured phase (no transactions in these results)."
        },
        get: |f| Some(f.goodput),
    }];
    if txn {
        list.extend([
            Metric {
                file: "abort-rate.png",
                title: "Abort rate",
                axis: "failed + unknown txns / all txns".into(),
                unit: Unit::Percent,
                caption: "Transactions that gave up (after their retries) or whose outcome is unknown.",
                get: |f| f.abort_rate,
            },
            Metric {
                file: "retries-per-commit.png",
                title: "Retries per commit",
                axis: "retries / committed txn".into(),
                unit: Unit::Number,
                caption: "Extra attempts of transactions per committed transaction.",
                get: |f| f.retries_per_commit,
            },
            Metric {
                file: "lock-wait.png",
                title: "Lock wait per commit",
                axis: "lock wait / committed txn".into(),
                unit: Unit::Micros,
                caption: "Time transactions spent waiting for locks (event lock_wait_us), per committed transaction.",
                get: |f| f.lock_wait_us_per_commit,
            },
        ]);
    }
    list
}

/// A panel of a chart with one legend row for all its panels.
fn shared(mut p: Panel) -> Panel {
    p.legend = Legend::None;
    p
}

fn has_both_locks(figs: &[Figures]) -> bool {
    let has = |m: &str| figs.iter().any(|f| f.lock.as_deref() == Some(m));
    has("optimistic") && has("pessimistic")
}

fn contention_chart(figs: &[Figures], layout: &Layout) -> Chart {
    Chart {
        size: CONTENTION_SIZE,
        grid: (1, 3),
        shared_legend: true,
        panels: [
            layout.ranges(
                layout.panel(figs, "Goodput", "committed txn/s", Unit::Number, |f| {
                    Some(f.goodput)
                }),
                figs,
                |f| f.spread.map(|s| (s.goodput.min, s.goodput.max)),
            ),
            layout.ranges(
                layout.panel(figs, "Abort rate", "aborted txns", Unit::Percent, |f| {
                    f.abort_rate
                }),
                figs,
                |f| f.spread.and_then(|s| s.abort_rate).map(|r| (r.min, r.max)),
            ),
            layout.ranges(
                layout.panel(figs, "p99 latency", "txn p99", Unit::Micros, |f| {
                    Some(f.p99_us as f64)
                }),
                figs,
                |f| f.spread.map(|s| (s.p99_us.min, s.p99_us.max)),
            ),
        ]
        .into_iter()
        .map(shared)
        .collect(),
    }
}

fn heading(figs: &[Figures], layout: &Layout, txn: bool, staged: bool, judged: bool) -> String {
    let mut h = format!("<h1>Comparison of {} results</h1>\n", figs.len());
    let what = match &layout.param {
        Some(p) => format!(
            "A sweep: charts put the swept parameter {p} on the x axis, one line per {}.",
            if figs.iter().any(|f| f.lock.is_some()) {
                format!("{} (and per remaining swept value)", layout.modes())
            } else {
                "remaining combination of swept values".into()
            }
        ),
        None => format!("Results side by side, coloured by {}.", layout.modes()),
    };
    h.push_str(&page::para("lede", &what));
    if !txn {
        h.push_str(&page::para(
            "note",
            "No result has transactions: throughput (ok ops/s of all ops) stands in for goodput.",
        ));
    }
    h.push_str("<nav>");
    // Only the sections the page has: the pairs need both lock modes, the
    // deltas exactly two results.
    for (id, label, present) in [
        (
            "contention",
            "optimistic vs pessimistic",
            has_both_locks(figs),
        ),
        ("results", "results", true),
        (baseline::ID, "baseline", judged),
        ("capacity", "capacity", staged),
        ("deltas", "deltas", figs.len() == 2),
        ("charts", "charts", true),
        ("definitions", "definitions", true),
    ] {
        if present {
            let _ = write!(h, "<a href=\"#{id}\">{label}</a>");
        }
    }
    h.push_str("</nav>\n");
    h
}

/// Reads one figure off a result.
type Get = fn(&Figures) -> Option<f64>;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::metrics::{RepeatInfo, SweptValue};
    use crate::report::figures::{Noise, combine_repeats};

    /// A sweep run three times per cell: the contention chart draws each
    /// cell's median with whiskers from its lowest to its highest run.
    #[test]
    fn the_contention_chart_draws_repeats_as_medians_with_whiskers() {
        let run = |lock: &str, hot: f64, k: u32, goodput: f64| Figures {
            label: format!("lock={lock},hot_set={hot}"),
            path: PathBuf::from(format!("{lock}-{hot}/repeat-{k}/result.json")),
            name: "w".into(),
            lock: Some(lock.into()),
            commit: Some("2pc".into()),
            sweep: vec![
                ("lock".into(), SweptValue::Text(lock.into())),
                (
                    "hot_set".into(),
                    SweptValue::Number(serde_json::Number::from_f64(hot).unwrap()),
                ),
            ],
            txn: true,
            goodput,
            abort_rate: Some(0.0),
            retries_per_commit: None,
            lock_waits_per_commit: None,
            lock_wait_us_per_commit: None,
            p50_us: 10,
            p99_us: goodput as u64,
            noise: Noise::default(),
            repeat: Some(RepeatInfo { index: k, count: 3 }),
            spread: None,
        };
        let mut figs = Vec::new();
        for (lock, hot, goodputs) in [
            ("optimistic", 0.5, [100.0, 300.0, 200.0]),
            ("optimistic", 0.1, [50.0, 60.0, 40.0]),
            ("pessimistic", 0.5, [210.0, 220.0, 230.0]),
        ] {
            for (k, g) in goodputs.into_iter().enumerate() {
                figs.push(run(lock, hot, k as u32 + 1, g));
            }
        }
        let figs = combine_repeats(figs);
        let chart = contention_chart(&figs, &Layout::of(&figs));
        let goodput = &chart.panels[0];
        let opt = goodput
            .series
            .iter()
            .find(|s| s.name == "optimistic")
            .unwrap();
        assert_eq!(opt.points, [(0.1, 50.0), (0.5, 200.0)]);
        let mut ranges = opt.ranges.clone();
        ranges.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(ranges, [(0.1, 40.0, 60.0), (0.5, 100.0, 300.0)]);
        let p99 = &chart.panels[2];
        let pess = p99.series.iter().find(|s| s.name == "pessimistic").unwrap();
        assert_eq!(pess.ranges, [(0.5, 210.0, 230.0)]);

        let lone = combine_repeats(vec![Figures {
            repeat: None,
            ..run("optimistic", 0.5, 1, 100.0)
        }]);
        let chart = contention_chart(&lone, &Layout::of(&lone));
        assert!(chart.panels[0].series[0].ranges.is_empty(), "no repeats");
    }

    /// A cell of a lock x commit x hot_set sweep, as the result gives it.
    fn cell(lock: &str, commit: &str, hot: f64, goodput: f64) -> Figures {
        let text = |s: &str| SweptValue::Text(s.into());
        Figures {
            label: format!("lock={lock},commit={commit},hot_set={hot}"),
            path: PathBuf::from(format!("{lock}-{commit}-{hot}/result.json")),
            name: "w".into(),
            lock: Some(lock.into()),
            commit: Some(commit.into()),
            sweep: vec![
                ("lock".into(), text(lock)),
                ("commit".into(), text(commit)),
                (
                    "hot_set".into(),
                    SweptValue::Number(serde_json::Number::from_f64(hot).unwrap()),
                ),
            ],
            txn: true,
            goodput,
            abort_rate: Some(0.0),
            retries_per_commit: None,
            lock_waits_per_commit: None,
            lock_wait_us_per_commit: None,
            p50_us: 10,
            p99_us: 20,
            noise: Noise::default(),
            repeat: None,
            spread: None,
        }
    }

    /// Runs that differ in lock and commit mode: one line per pair, named
    /// `lock / commit`, against the other swept parameter; the pairs table
    /// puts optimistic beside pessimistic of the same commit mode.
    #[test]
    fn lock_and_commit_modes_draw_one_line_per_pair() {
        let mut figs = Vec::new();
        for (lock, base) in [("optimistic", 100.0), ("pessimistic", 200.0)] {
            for (commit, plus) in [("2pc", 0.0), ("async", 10.0)] {
                for hot in [0.5, 0.1] {
                    figs.push(cell(lock, commit, hot, base + plus + hot));
                }
            }
        }
        let layout = Layout::of(&figs);
        assert_eq!(layout.param.as_deref(), Some("hot_set"));
        assert_eq!(
            layout.series,
            [
                "optimistic / 2pc",
                "optimistic / async",
                "pessimistic / 2pc",
                "pessimistic / async"
            ]
        );
        let chart = contention_chart(&figs, &layout);
        let goodput = &chart.panels[0];
        let line = |name: &str| {
            goodput
                .series
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .points
                .clone()
        };
        assert_eq!(line("pessimistic / async"), [(0.1, 210.1), (0.5, 210.5)]);
        assert_eq!(line("optimistic / 2pc"), [(0.1, 100.1), (0.5, 100.5)]);
        assert!(
            layout
                .caption()
                .contains("one line per lock / commit mode pair")
        );

        let html = tables::pairs_table(&figs, &layout);
        for key in ["commit=2pc, hot_set=0.5", "commit=async, hot_set=0.1"] {
            assert!(html.contains(key), "{key}: {html}");
        }
        // optimistic / async 110.1 beside pessimistic / async 210.1.
        assert!(html.contains("1.91×"), "{html}");

        // One lock mode, several commit modes, nothing else swept: bars,
        // one colour per pair.
        let only: Vec<Figures> = ["2pc", "async", "1pc"]
            .into_iter()
            .map(|c| Figures {
                sweep: vec![("commit".into(), SweptValue::Text(c.into()))],
                ..cell("optimistic", c, 0.5, 1.0)
            })
            .collect();
        let layout = Layout::of(&only);
        assert_eq!(layout.param, None);
        assert_eq!(
            layout.series,
            ["optimistic / 1pc", "optimistic / 2pc", "optimistic / async"]
        );
        // The same commit mode everywhere: lines per lock mode, as ever.
        let same: Vec<Figures> = figs
            .iter()
            .filter(|f| f.commit.as_deref() == Some("2pc"))
            .cloned()
            .collect();
        assert_eq!(Layout::of(&same).series, ["optimistic", "pessimistic"]);
    }
}

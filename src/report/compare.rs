//! The comparison of several results: `compare.html` with PNG charts of
//! goodput, abort rate, retries and lock wait per commit, and p50/p99.
//!
//! Results from a sweep (`extra.sweep`) are drawn against the swept
//! parameter other than `lock`, one line per lock mode (and per remaining
//! combination of swept values); other results stand side by side as bars.
//! Whenever both lock modes are present, `contention.png` puts optimistic
//! and pessimistic side by side: goodput, abort rate and p99. For exactly
//! two results a delta table says whether the goodput difference is within
//! the run-to-run noise of their timelines.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::figures::{self, Figures, Verdict, value_text};
use super::html::Written;
use super::page::{self, Table, num, text};
use super::plot::{Axis, Chart, Legend, Mark, PALETTE, Panel, Scale, Series, Unit};
use crate::metrics::RunResult;

/// One metric against the parameter (or per result); two to a row.
pub const METRIC_SIZE: (u32, u32) = (720, 420);
/// p50 beside p99.
pub const LATENCY_SIZE: (u32, u32) = (1180, 440);
/// Goodput, abort rate and p99 side by side.
pub const CONTENTION_SIZE: (u32, u32) = (1180, 460);

/// Writes `compare.html` and its PNG charts into `out` (created when
/// missing) and returns the HTML's path. `results` pairs each result with
/// the file it came from; their order is kept (for two results, the first
/// is the baseline A). Call it after a sweep with the cells' results.
pub fn compare_to_dir(results: &[(PathBuf, RunResult)], out: &Path) -> anyhow::Result<PathBuf> {
    Ok(write(results, out)?.html)
}

/// [`compare_to_dir`], returning every file written with the charts' sizes.
pub fn write(results: &[(PathBuf, RunResult)], out: &Path) -> anyhow::Result<Written> {
    anyhow::ensure!(
        !results.is_empty(),
        "nothing to compare: give at least one result"
    );
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create output directory", out.display()))?;
    let mut figs = results
        .iter()
        .map(|(p, r)| figures::of(p, r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    unique_labels(&mut figs);
    let layout = Layout::of(&figs);
    let txn = figs.iter().any(|f| f.txn);
    let goodput_name = if txn { "goodput" } else { "throughput" };

    let mut charts = Vec::new();
    let mut body = heading(&figs, &layout, txn);
    let both = has_both_locks(&figs);
    if both {
        let path = out.join("contention.png");
        contention_chart(&figs, &layout).draw(&path)?;
        let mut inner = page::figure(
            &path,
            CONTENTION_SIZE,
            "optimistic vs pessimistic: goodput, abort rate and p99",
            &layout.caption(),
        )?;
        inner.push_str(&pairs_table(&figs, &layout));
        body.push_str(&page::section(
            "contention",
            "Optimistic vs pessimistic",
            &inner,
        ));
        charts.push((path, CONTENTION_SIZE));
    }
    body.push_str(&page::section(
        "results",
        "Results",
        &results_table(&figs, goodput_name),
    ));
    if figs.len() == 2 {
        body.push_str(&page::section(
            "deltas",
            "B vs A",
            &delta_table(&figs[0], &figs[1], goodput_name),
        ));
    }

    let mut figures_html = String::from("<div class=\"pairs\">");
    let mut skipped = Vec::new();
    for m in metrics(txn) {
        let values: Vec<Option<f64>> = figs.iter().map(m.get).collect();
        if values.iter().all(|v| v.is_none_or(|v| v == 0.0)) {
            skipped.push(m.title);
            continue;
        }
        let path = out.join(m.file);
        let panel = layout.panel(&figs, m.title, &m.axis, m.unit, m.get);
        let chart = Chart {
            size: METRIC_SIZE,
            grid: (1, 1),
            panels: vec![panel],
            shared_legend: false,
        };
        chart.draw(&path)?;
        figures_html.push_str(&page::figure(&path, METRIC_SIZE, m.title, m.caption)?);
        charts.push((path, METRIC_SIZE));
    }
    figures_html.push_str("</div>");
    let path = out.join("latency.png");
    let latency = Chart {
        size: LATENCY_SIZE,
        grid: (1, 2),
        panels: vec![
            layout.panel(&figs, "p50 latency", "p50", Unit::Micros, |f| {
                Some(f.p50_us as f64)
            }),
            layout.panel(&figs, "p99 latency", "p99", Unit::Micros, |f| {
                Some(f.p99_us as f64)
            }),
        ]
        .into_iter()
        .map(shared)
        .collect(),
        shared_legend: true,
    };
    latency.draw(&path)?;
    figures_html.push_str(&page::figure(
        &path,
        LATENCY_SIZE,
        "p50 and p99 latency",
        "From the histograms of the committed transactions (all ops without transactions), added together: percentiles are never averaged.",
    )?);
    charts.push((path, LATENCY_SIZE));
    if !skipped.is_empty() {
        figures_html.push_str(&page::para(
            "note",
            &format!(
                "Not drawn, all zero or not applicable: {}.",
                skipped.join(", ")
            ),
        ));
    }
    body.push_str(&page::section("charts", "Charts", &figures_html));
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
    std::fs::write(&path, html).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(Written { html: path, charts })
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

/// Where each result goes on the charts.
struct Layout {
    /// The swept parameter on the x axis; none: side by side by label.
    param: Option<String>,
    scale: Scale,
    /// Per result: x position, series index.
    pos: Vec<(f64, usize)>,
    series: Vec<String>,
}

impl Layout {
    fn of(figs: &[Figures]) -> Layout {
        let param = figs[0]
            .sweep
            .iter()
            .map(|(k, _)| k)
            .find(|k| *k != "lock" && figs.iter().all(|f| f.sweep.iter().any(|(j, _)| j == *k)))
            .cloned();
        let series_of = |f: &Figures| {
            let mut parts: Vec<String> = f.lock.iter().cloned().collect();
            for (k, v) in &f.sweep {
                if Some(k) != param.as_ref() && k != "lock" {
                    parts.push(format!("{k}={}", value_text(v)));
                }
            }
            if parts.is_empty() {
                if f.txn {
                    "all".into()
                } else {
                    "no transactions".into()
                }
            } else {
                parts.join(", ")
            }
        };
        let names: Vec<String> = figs.iter().map(series_of).collect();
        let series: Vec<String> = names
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index = |n: &String| series.iter().position(|s| s == n).unwrap_or(0);
        let (scale, xs) = match &param {
            None => (
                Scale::Categories(figs.iter().map(|f| f.label.clone()).collect()),
                (0..figs.len()).map(|i| i as f64).collect::<Vec<_>>(),
            ),
            Some(p) => {
                let values: Vec<&serde_json::Value> = figs
                    .iter()
                    .map(|f| {
                        &f.sweep
                            .iter()
                            .find(|(k, _)| k == p)
                            .expect("checked above")
                            .1
                    })
                    .collect();
                let numbers: Option<Vec<f64>> = values.iter().map(|v| v.as_f64()).collect();
                match numbers {
                    Some(xs) => {
                        let min = xs.iter().copied().fold(f64::MAX, f64::min);
                        let max = xs.iter().copied().fold(f64::MIN, f64::max);
                        let log = min > 0.0 && max / min >= 20.0;
                        let mut at = xs.clone();
                        at.sort_by(f64::total_cmp);
                        at.dedup();
                        let scale = if at.len() <= 12 {
                            Scale::Values { log, at }
                        } else if log {
                            Scale::Log
                        } else {
                            Scale::Linear
                        };
                        (scale, xs)
                    }
                    None => {
                        let mut cats: Vec<String> = Vec::new();
                        for v in &values {
                            let t = value_text(v);
                            if !cats.contains(&t) {
                                cats.push(t);
                            }
                        }
                        let xs = values
                            .iter()
                            .map(|v| {
                                cats.iter().position(|c| *c == value_text(v)).unwrap_or(0) as f64
                            })
                            .collect();
                        (Scale::Categories(cats), xs)
                    }
                }
            }
        };
        Layout {
            pos: xs.into_iter().zip(names.iter().map(index)).collect(),
            param,
            scale,
            series,
        }
    }

    fn caption(&self) -> String {
        match &self.param {
            Some(p) => format!("Against the swept parameter {p}, one line per lock mode."),
            None => "Each result, coloured by lock mode.".into(),
        }
    }

    fn panel(
        &self,
        figs: &[Figures],
        title: &str,
        axis: &str,
        unit: Unit,
        get: impl Fn(&Figures) -> Option<f64>,
    ) -> Panel {
        let mut series: Vec<Series> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                color: PALETTE[i % PALETTE.len()],
                points: Vec::new(),
            })
            .collect();
        for (f, (x, s)) in figs.iter().zip(&self.pos) {
            if let Some(v) = get(f) {
                series[*s].points.push((*x, v));
            }
        }
        for s in &mut series {
            s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let x_name = self.param.clone().unwrap_or_default();
        Panel {
            title: title.into(),
            x: Axis::new(x_name, self.scale.clone(), Unit::Number),
            y: Axis::new(axis, Scale::Linear, unit),
            mark: if self.param.is_some() {
                Mark::LinesPoints
            } else {
                Mark::Bars
            },
            legend: Legend::Right,
            series,
        }
    }
}

struct Metric {
    file: &'static str,
    title: &'static str,
    axis: String,
    unit: Unit,
    caption: &'static str,
    get: Get,
}

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
            layout.panel(figs, "Goodput", "committed txn/s", Unit::Number, |f| {
                Some(f.goodput)
            }),
            layout.panel(figs, "Abort rate", "aborted txns", Unit::Percent, |f| {
                f.abort_rate
            }),
            layout.panel(figs, "p99 latency", "txn p99", Unit::Micros, |f| {
                Some(f.p99_us as f64)
            }),
        ]
        .into_iter()
        .map(shared)
        .collect(),
    }
}

fn heading(figs: &[Figures], layout: &Layout, txn: bool) -> String {
    let mut h = format!("<h1>Comparison of {} results</h1>\n", figs.len());
    let what = match &layout.param {
        Some(p) => format!(
            "A sweep: charts put the swept parameter {p} on the x axis, one line per {}.",
            if figs.iter().any(|f| f.lock.is_some()) {
                "lock mode (and per remaining swept value)"
            } else {
                "remaining combination of swept values"
            }
        ),
        None => "Results side by side, coloured by lock mode.".into(),
    };
    h.push_str(&page::para("lede", &what));
    if !txn {
        h.push_str(&page::para(
            "note",
            "No result has transactions: throughput (ok ops/s of all ops) stands in for goodput.",
        ));
    }
    h.push_str("<nav>");
    for (id, label) in [
        ("contention", "optimistic vs pessimistic"),
        ("results", "results"),
        ("deltas", "deltas"),
        ("charts", "charts"),
        ("definitions", "definitions"),
    ] {
        let _ = write!(h, "<a href=\"#{id}\">{label}</a>");
    }
    h.push_str("</nav>\n");
    h
}

fn percent(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{:.2}%", x * 100.0))
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.3}"))
}

/// A derived time (a mean per commit): exact zero reads 0.
fn micros_f(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(0.0) => "0".into(),
        Some(x) => super::plot::fmt_micros(x),
    }
}

fn results_table(figs: &[Figures], goodput: &str) -> String {
    let mut t = Table::new(
        "results",
        &[
            "result",
            "lock",
            goodput,
            "per second: mean ± sd (n)",
            "abort rate",
            "retries/commit",
            "lock waits/commit",
            "lock wait/commit",
            "p50",
            "p99",
        ],
    );
    for f in figs {
        let n = &f.noise;
        t.row([
            text(&f.label),
            text(f.lock.clone().unwrap_or_else(|| "–".into())),
            num(page::rate(f.goodput)),
            num(format!(
                "{} ± {} ({}s)",
                page::rate(n.mean),
                page::rate(n.sd),
                n.seconds
            )),
            num(percent(f.abort_rate)),
            num(ratio(f.retries_per_commit)),
            num(ratio(f.lock_waits_per_commit)),
            num(micros_f(f.lock_wait_us_per_commit)),
            num(page::micros(f.p50_us)),
            num(page::micros(f.p99_us)),
        ]);
    }
    let mut html = t.finish();
    html.push_str("<ol class=\"files\">");
    for f in figs {
        let _ = write!(
            html,
            "<li><strong>{}</strong>: workload {}, <code>{}</code></li>",
            page::esc(&f.label),
            page::esc(&f.name),
            page::esc(&f.path.display().to_string())
        );
    }
    html.push_str("</ol>");
    html
}

/// Optimistic beside pessimistic wherever both ran with the same other
/// values: the headline numbers.
fn pairs_table(figs: &[Figures], layout: &Layout) -> String {
    let key = |f: &Figures| {
        f.sweep
            .iter()
            .filter(|(k, _)| k != "lock")
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let opt: Vec<&Figures> = figs
        .iter()
        .filter(|f| f.lock.as_deref() == Some("optimistic"))
        .collect();
    let pes: Vec<&Figures> = figs
        .iter()
        .filter(|f| f.lock.as_deref() == Some("pessimistic"))
        .collect();
    let mut pairs: Vec<(String, &Figures, &Figures)> = Vec::new();
    if layout.param.is_some() {
        for o in &opt {
            if let Some(p) = pes.iter().find(|p| key(p) == key(o)) {
                pairs.push((key(o), o, p));
            }
        }
    } else if let ([o], [p]) = (opt.as_slice(), pes.as_slice()) {
        pairs.push((format!("{} vs {}", o.label, p.label), o, p));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let mut t = Table::new(
        "data",
        &[
            "cell",
            "goodput opt",
            "goodput pess",
            "pess / opt",
            "aborts opt",
            "aborts pess",
            "p99 opt",
            "p99 pess",
        ],
    );
    for (k, o, p) in pairs {
        let r = if o.goodput > 0.0 {
            format!("{:.2}×", p.goodput / o.goodput)
        } else {
            "–".into()
        };
        t.row([
            text(k),
            num(page::rate(o.goodput)),
            num(page::rate(p.goodput)),
            num(r),
            num(percent(o.abort_rate)),
            num(percent(p.abort_rate)),
            num(page::micros(o.p99_us)),
            num(page::micros(p.p99_us)),
        ]);
    }
    t.finish()
}

/// How a delta row prints.
#[derive(Clone, Copy)]
enum Kind {
    Rate,
    Percent,
    Ratio,
    Micros,
}

fn fmt(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Rate => page::rate(x),
        Kind::Percent => format!("{:.2}%", x * 100.0),
        Kind::Ratio => format!("{x:.3}"),
        Kind::Micros => micros_f(Some(x.abs())),
    }
}

fn fmt_delta(kind: Kind, d: f64) -> String {
    if d == 0.0 {
        return if matches!(kind, Kind::Percent) {
            "0 pp".into()
        } else {
            "0".into()
        };
    }
    let sign = if d > 0.0 { "+" } else { "−" };
    match kind {
        Kind::Percent => format!("{sign}{:.2} pp", (d * 100.0).abs()),
        _ => format!("{sign}{}", fmt(kind, d.abs())),
    }
}

/// Reads one figure off a result.
type Get = fn(&Figures) -> Option<f64>;

fn delta_table(a: &Figures, b: &Figures, goodput: &str) -> String {
    let mut html = page::para("note", &format!("A = {}, B = {}.", a.label, b.label));
    let rows: [(&str, Kind, Get); 6] = [
        (goodput, Kind::Rate, |f| Some(f.goodput)),
        ("abort rate", Kind::Percent, |f| f.abort_rate),
        ("retries/commit", Kind::Ratio, |f| f.retries_per_commit),
        ("lock wait/commit", Kind::Micros, |f| {
            f.lock_wait_us_per_commit
        }),
        ("p50", Kind::Micros, |f| Some(f.p50_us as f64)),
        ("p99", Kind::Micros, |f| Some(f.p99_us as f64)),
    ];
    let mut t = Table::new("data", &["metric", "A", "B", "B − A", "relative", "note"]);
    for (i, (name, kind, get)) in rows.into_iter().enumerate() {
        let (Some(x), Some(y)) = (get(a), get(b)) else {
            continue;
        };
        let d = y - x;
        let rel = if x != 0.0 {
            format!("{:+.1}%", d / x * 100.0)
        } else {
            "–".into()
        };
        let note = if i == 0 {
            noise_note(a, b, d)
        } else {
            String::new()
        };
        t.row([
            text(name),
            num(fmt(kind, x)),
            num(fmt(kind, y)),
            num(fmt_delta(kind, d)),
            num(rel),
            text(note),
        ]);
    }
    html.push_str(&t.finish());
    html.push_str(&page::para("note", NOISE_RULE));
    html
}

const NOISE_RULE: &str = "Noise rule: a goodput difference is within the run-to-run noise when it is smaller than two standard errors of the difference of the per-second means, 2·√(s_A²/n_A + s_B²/n_B), where s is the standard deviation of the per-second goodput over the n whole seconds of each result's timeline (partial seconds, shorter than 1 s, are left out).";

fn noise_note(a: &Figures, b: &Figures, d: f64) -> String {
    match figures::judge(&a.noise, &b.noise, d) {
        Verdict::WithinNoise { threshold } => format!(
            "within noise: |B − A| {} < 2 SE {}",
            page::rate(d.abs()),
            page::rate(threshold)
        ),
        Verdict::Beyond { threshold } => format!(
            "beyond noise: |B − A| {} ≥ 2 SE {}",
            page::rate(d.abs()),
            page::rate(threshold)
        ),
        Verdict::Unknown => "noise unknown: a timeline has fewer than two whole seconds".into(),
    }
}

fn definitions(txn: bool) -> String {
    let mut t = Table::new("kv", &[]);
    let rows = [
        (
            if txn { "goodput" } else { "throughput" },
            if txn {
                "committed transactions per second: the sum of ok_per_s of the txn ops (results without txn ops: ok/s of all ops)"
            } else {
                "successful ops per second, all ops"
            },
        ),
        ("abort rate", "failed + unknown txn ops / all txn ops"),
        ("retries/commit", "retries of txn ops / committed txns"),
        (
            "lock waits/commit",
            "events lock_waits of txn ops / committed txns",
        ),
        (
            "lock wait/commit",
            "events lock_wait_us of txn ops / committed txns",
        ),
        (
            "p50, p99",
            "of the txn ops' latency histograms added together (never averaged)",
        ),
        ("noise", NOISE_RULE),
    ];
    for (k, v) in rows {
        t.pair(k, text(v));
    }
    t.finish()
}

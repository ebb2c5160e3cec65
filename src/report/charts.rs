//! The charts of one result, registered in [`CHARTS`]: the latency
//! percentile spectrum per op, ops/s and p99 per second, for a merge each
//! driver's throughput with the drivers' table (`drivers.rs`), the process's
//! resident memory over time, errors and retries per op and kind, and,
//! for a run of load stages or an SLO search, the latency-throughput curve
//! with the stages' table. A new chart is one entry there and the
//! function that draws it; the report gives each entry its section, its
//! PNG and its link.

use std::collections::BTreeSet;

use super::ReportError;
use super::curve::{self, Curve};
use super::drivers;
use super::page::{self, Table, num, text};
use super::plot::{Axis, Chart, Legend, Look, Mark, PALETTE, Panel, RGBColor, Scale, Series, Unit};
use super::stages;
use super::stores_chart;
use crate::metrics::result::Interval;
use crate::metrics::{RunResult, SearchEnd, hist};

/// The latency percentile spectrum, one series per op.
pub const LATENCY_SIZE: (u32, u32) = (1100, 560);
/// Throughput over time above p99 over time.
pub const TIMELINE_SIZE: (u32, u32) = (1100, 760);
/// Resident memory over time.
pub const MEMORY_SIZE: (u32, u32) = (1100, 420);
/// Width of the error chart; its height grows with the number of bars.
pub const ERRORS_WIDTH: u32 = 1100;

/// Height of `errors.png` for `rows` (op, kind) pairs.
pub fn errors_height(rows: usize) -> u32 {
    (110 + 44 * rows as u32).max(260)
}

/// A chart of the report.
pub(super) struct ChartEntry {
    /// Names the PNG (`{id}.png`) and the page's section (`section#{id}`).
    pub id: &'static str,
    /// The section's heading.
    pub heading: &'static str,
    /// The section's link in the page's navigation.
    pub nav: &'static str,
    /// The image's alt text.
    pub alt: &'static str,
    /// The caption under the image.
    pub caption: fn(&RunResult) -> &'static str,
    /// Draws the chart; `None` when the result has nothing to show.
    pub draw: fn(&RunResult) -> Result<Option<Chart>, ReportError>,
    /// HTML after the image (a table of the chart's figures), or empty.
    pub after: fn(&RunResult) -> String,
    /// Said instead of the image when there is no chart.
    pub absent: &'static str,
    /// Whether the result has the section at all (its link included).
    pub shown: fn(&RunResult) -> bool,
}

/// The report's charts, in page order.
pub(super) const CHARTS: &[ChartEntry] = &[
    ChartEntry {
        id: "latency",
        heading: "Latency by percentile",
        nav: "latency",
        alt: "latency percentile spectrum per op",
        caption: latency_caption,
        draw: latency_chart,
        after: nothing,
        absent: "",
        shown: always,
    },
    ChartEntry {
        id: "timeline",
        heading: "Over time",
        nav: "over time",
        alt: "throughput and p99 latency per second",
        caption: timeline_caption,
        draw: timeline_chart,
        after: nothing,
        absent: "",
        shown: always,
    },
    ChartEntry {
        id: "drivers",
        heading: "Drivers",
        nav: "drivers",
        alt: "ok ops per second of each driver merged",
        caption: drivers::caption,
        draw: drivers::chart,
        after: drivers::table,
        absent: "",
        shown: drivers::shown,
    },
    ChartEntry {
        id: "stores",
        heading: "Stores and regions",
        nav: "stores",
        alt: "p50 and p99 latency and share of RPCs per store",
        caption: stores_chart::caption,
        draw: stores_chart::draw,
        after: stores_tables,
        absent: "",
        shown: stores_chart::shown,
    },
    ChartEntry {
        id: "memory",
        heading: "Memory",
        nav: "memory",
        alt: "resident memory of the driver process over time",
        caption: memory_caption,
        draw: memory_chart,
        after: nothing,
        absent: "No memory samples: the resident set is read from /proc, on Linux only.",
        shown: always,
    },
    ChartEntry {
        id: "errors",
        heading: "Errors and retries",
        nav: "errors",
        alt: "errors and retries per op and kind",
        caption: errors_caption,
        draw: errors_chart,
        after: error_table,
        absent: "No errors, no retries.",
        shown: always,
    },
    ChartEntry {
        id: "curve",
        heading: "Stages: latency against throughput",
        nav: "stages",
        alt: "p50 and p99 latency against achieved throughput, one point per stage",
        caption: curve_caption,
        draw: curve_chart,
        after: stage_table,
        absent: "No stage has measured ops.",
        shown: has_stages,
    },
];

/// Under the stores chart: the per-store and hot-region tables.
fn stores_tables(r: &RunResult) -> String {
    super::places::section(r).unwrap_or_default()
}

fn always(_: &RunResult) -> bool {
    true
}

fn has_stages(r: &RunResult) -> bool {
    r.stages.as_ref().is_some_and(|s| !s.is_empty())
}

fn curve_caption(r: &RunResult) -> &'static str {
    if r.search.is_some() {
        "p50 and p99 of all ops of each search step (log scale) against the throughput the target achieved, steps in order of rate. Failed steps are ringed in red; the knee, ringed in black, is the best passing step."
    } else {
        "p50 and p99 of all ops of each stage (log scale) against the throughput the target achieved, stages in order of level. The knee, ringed in black, is the stage with the greatest power: achieved ops/s over p99 (Kleinrock's \"power\")."
    }
}

fn curve_chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let points = stages::curve(r)?;
    let knee = stages::knee(r, &points);
    let title = if r.search.is_some() {
        "Latency against throughput, per search step"
    } else {
        "Latency against throughput, per stage"
    };
    let c = Curve {
        label: r.name.clone(),
        points,
        knee,
    };
    Ok(curve::chart(&c, title))
}

/// The search's answer, then one row per stage or step.
fn stage_table(r: &RunResult) -> String {
    let mut html = String::new();
    if let Some(s) = &r.search {
        let class = if s.ended == SearchEnd::DriverLimited {
            "bad"
        } else {
            "lede"
        };
        html.push_str(&page::para(
            class,
            &format!("Search: {}.", stages::answer(s)),
        ));
    }
    let list = r.stages.as_deref().unwrap_or_default();
    let steps = list.iter().any(|s| s.verdict.is_some());
    let mut head = vec![
        "stage",
        "level",
        "warmup",
        "measured",
        "offered/s",
        "achieved/s",
        "p50",
        "p99",
        "max",
        "errors",
        "driver",
    ];
    if steps {
        head.extend(["verdict", "why"]);
    }
    let mut t = Table::new("data stages", &head);
    for (i, s) in list.iter().enumerate() {
        let [p50, p99, max] = match stages::latency(s) {
            Ok(l) => stages::latency_cells(&l),
            Err(_) => ["?".into(), "?".into(), "?".into()],
        };
        let mut cells = vec![
            num((i + 1).to_string()),
            text(stages::level(&s.level)),
            num(format!("{:.1}s", s.warmup_s)),
            num(format!("{:.2}s", s.duration_s)),
            num(stages::offered(s).map_or("–".into(), page::rate)),
            num(page::rate(s.achieved_per_s)),
            num(p50),
            num(p99),
            num(max),
            num(page::count(s.measured.failed + s.measured.unknown)),
            text(
                s.driver_check
                    .as_ref()
                    .map_or("–".into(), |c| c.verdict.to_string()),
            ),
        ];
        if steps {
            cells.push(text(stages::verdict(s)));
            let why = s.verdict.as_ref().map(|v| v.reasons.join("; "));
            cells.push(text(why.unwrap_or_default()));
        }
        t.row(cells);
    }
    html.push_str(&t.finish());
    html.push_str(&page::para(
        "note",
        "Each stage's figures are those of its measured span (after its warmup): latency of all its ops from their intended start (open loop), offered = ops scheduled per second, achieved = ops completed per second.",
    ));
    html
}

fn nothing(_: &RunResult) -> String {
    String::new()
}

/// Percentile axis position: log10(1 / (1 - q)), so 90% is 1, 99% is 2.
fn percentile_x(q: f64, x_max: f64) -> f64 {
    if q >= 1.0 {
        x_max
    } else {
        (1.0 / (1.0 - q)).log10().min(x_max)
    }
}

fn latency_caption(r: &RunResult) -> &'static str {
    if r.rate.is_some() {
        "Latency of successful ops from the scheduled start, by percentile (log scales, as HdrHistogram plots it)."
    } else {
        "Latency of successful ops by percentile (log scales, as HdrHistogram plots it): the far right is the tail."
    }
}

fn latency_chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let mut decoded = Vec::new();
    for name in r.op_names() {
        let o = &r.ops[&name];
        let h = hist::decode(&o.histogram).map_err(|source| ReportError::Histogram {
            op: name.clone(),
            source,
        })?;
        if !h.is_empty() {
            decoded.push((name, h));
        }
    }
    let most = decoded.iter().map(|(_, h)| h.len()).max().unwrap_or(1);
    let x_max = ((most as f64).log10().ceil()).clamp(2.0, 6.0);
    let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"];
    let ticks = (0..=x_max as usize)
        .map(|i| (i as f64, labels[i].to_string()))
        .collect();
    let series = decoded
        .iter()
        .enumerate()
        .map(|(i, (name, h))| {
            let mut points: Vec<(f64, f64)> = h
                .iter_quantiles(5)
                .map(|v| {
                    (
                        percentile_x(v.quantile_iterated_to(), x_max),
                        v.value_iterated_to() as f64,
                    )
                })
                .collect();
            points.push((x_max, h.max() as f64));
            Series {
                ranges: Vec::new(),
                look: Look::Plain,
                name: name.clone(),
                color: PALETTE[i % PALETTE.len()],
                points,
            }
        })
        .collect();
    Ok(Some(Chart {
        size: LATENCY_SIZE,
        grid: (1, 1),
        shared_legend: false,
        panels: vec![Panel {
            title: "Latency by percentile".into(),
            x: Axis::new("percentile", Scale::Fixed(ticks), Unit::Number),
            y: Axis::new("latency", Scale::Log, Unit::Micros),
            mark: Mark::Lines,
            legend: Legend::Right,
            series,
        }],
    }))
}

fn timeline_caption(r: &RunResult) -> &'static str {
    if r.faults.as_ref().is_some_and(|f| !f.events.is_empty()) {
        "Per wall-clock second of the measured phase (past its first hour per 10 s, past ten hours per minute); the first and last seconds may be partial. Vertical lines mark the fault events, by kind (see \"Faults and recovery\")."
    } else {
        "Per wall-clock second of the measured phase (past its first hour per 10 s, past ten hours per minute); the first and last seconds may be partial."
    }
}

fn timeline_chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let secs: Vec<_> = r.timeline.iter().filter(|iv| iv.span_s > 0.0).collect();
    let mid = |iv: &Interval| iv.t_s.max(0.0) + iv.span_s / 2.0;
    let names = r.op_names();
    let per_op = names.len() > 1;
    let mut rate = vec![Series::plain(
        "all ops",
        ALL_COLOR,
        secs.iter().map(|iv| (mid(iv), iv.ops_per_s)).collect(),
    )];
    let mut p99 = vec![Series::plain(
        "all ops",
        ALL_COLOR,
        secs.iter().map(|iv| (mid(iv), iv.p99_us as f64)).collect(),
    )];
    if per_op {
        for (i, name) in names.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            rate.push(Series::plain(
                name.clone(),
                color,
                secs.iter()
                    .filter_map(|iv| {
                        let o = iv.ops.get(name)?;
                        Some((mid(iv), (o.ok + o.failed) as f64 / iv.span_s))
                    })
                    .collect(),
            ));
            p99.push(Series::plain(
                name.clone(),
                color,
                secs.iter()
                    .filter_map(|iv| Some((mid(iv), iv.ops.get(name)?.p99_us as f64)))
                    .collect(),
            ));
        }
    }
    let marks = super::faults::marks(r);
    rate.extend(marks.iter().cloned());
    p99.extend(marks);
    let mark = if secs.len() < 30 {
        Mark::LinesPoints
    } else {
        Mark::Lines
    };
    let x = Axis::new(
        "seconds into the measured phase",
        Scale::Linear,
        Unit::Number,
    );
    Ok(Some(Chart {
        size: TIMELINE_SIZE,
        grid: (2, 1),
        shared_legend: false,
        panels: vec![
            Panel {
                title: "Throughput (ok + failed ops per second)".into(),
                x: x.clone(),
                y: Axis::new("ops/s", Scale::Linear, Unit::Number),
                mark,
                legend: Legend::Right,
                series: rate,
            },
            Panel {
                title: "p99 latency per second".into(),
                x,
                y: Axis::new("p99", Scale::Auto, Unit::Micros),
                mark,
                legend: Legend::Right,
                series: p99,
            },
        ],
    }))
}

fn memory_caption(r: &RunResult) -> &'static str {
    if r.memory.as_ref().is_some_and(|m| m.includes_target) {
        "The driver process's resident set (VmRSS), the largest sample of each interval (one a second). The target runs in this process, so its data is counted too."
    } else {
        "The driver process's resident set (VmRSS), the largest sample of each interval (one a second). The target runs elsewhere: a serve process's memory is its own."
    }
}

fn memory_chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    const MIB: f64 = 1024.0 * 1024.0;
    let points: Vec<(f64, f64)> = r
        .timeline
        .iter()
        .filter_map(|iv| {
            Some((
                iv.t_s.max(0.0) + iv.span_s / 2.0,
                iv.rss_bytes? as f64 / MIB,
            ))
        })
        .collect();
    if points.is_empty() {
        return Ok(None);
    }
    let title = match &r.memory {
        Some(m) => format!(
            "Resident memory (peak {:.1} MiB)",
            m.peak_rss_bytes as f64 / MIB
        ),
        None => "Resident memory".into(),
    };
    let mark = if points.len() < 30 {
        Mark::LinesPoints
    } else {
        Mark::Lines
    };
    Ok(Some(Chart {
        size: MEMORY_SIZE,
        grid: (1, 1),
        shared_legend: false,
        panels: vec![Panel {
            title,
            x: Axis::new(
                "seconds into the measured phase",
                Scale::Linear,
                Unit::Number,
            ),
            y: Axis::new("MiB", Scale::Linear, Unit::Number),
            mark,
            legend: Legend::Right,
            series: vec![Series {
                ranges: Vec::new(),
                look: Look::Plain,
                name: "resident set".into(),
                color: ALL_COLOR,
                points,
            }],
        }],
    }))
}

/// The total line: near-black, so the per-op colours stay distinct.
const ALL_COLOR: RGBColor = RGBColor(40, 40, 40);

/// The (op, kind) pairs with final errors or retries, in op order.
fn error_rows(r: &RunResult) -> Vec<(String, String, u64, u64)> {
    let mut rows = Vec::new();
    for name in r.op_names() {
        let o = &r.ops[&name];
        let kinds: BTreeSet<&String> = o.errors.keys().chain(o.retries_by_kind.keys()).collect();
        for k in kinds {
            rows.push((
                name.clone(),
                k.clone(),
                o.errors.get(k).copied().unwrap_or(0),
                o.retries_by_kind.get(k).copied().unwrap_or(0),
            ));
        }
    }
    rows
}

fn errors_caption(_: &RunResult) -> &'static str {
    "Final errors (the op failed or its outcome is unknown) and retries (extra attempts), per op and error kind."
}

fn errors_chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let rows = error_rows(r);
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|(o, k, _, _)| format!("{o} · {k}"))
        .collect();
    let bars = |pick: fn(&(String, String, u64, u64)) -> u64| -> Vec<(f64, f64)> {
        rows.iter()
            .enumerate()
            .filter(|(_, row)| pick(row) > 0)
            .map(|(i, row)| (pick(row) as f64, i as f64))
            .collect()
    };
    let size = (ERRORS_WIDTH, errors_height(rows.len()));
    Ok(Some(Chart {
        size,
        grid: (1, 1),
        shared_legend: false,
        panels: vec![Panel {
            title: "Errors and retries by op and kind".into(),
            x: Axis::new("count", Scale::Auto, Unit::Number),
            y: Axis::new("", Scale::Categories(labels), Unit::Number),
            mark: Mark::Bars,
            legend: Legend::Right,
            series: vec![
                Series {
                    ranges: Vec::new(),
                    look: Look::Plain,
                    name: "final errors".into(),
                    color: PALETTE[3],
                    points: bars(|row| row.2),
                },
                Series {
                    ranges: Vec::new(),
                    look: Look::Plain,
                    name: "retries".into(),
                    color: PALETTE[1],
                    points: bars(|row| row.3),
                },
            ],
        }],
    }))
}

/// One row per (op, kind) with errors or retries, and the time slept in
/// backoff.
fn error_table(r: &RunResult) -> String {
    let mut t = Table::new(
        "data",
        &["op", "kind", "final errors", "retries", "first message"],
    );
    for (op, kind, errors, retries) in error_rows(r) {
        let sample = r.ops[&op]
            .error_samples
            .get(&kind)
            .cloned()
            .unwrap_or_default();
        t.row([
            text(&op),
            text(&kind),
            num(page::count(errors)),
            num(page::count(retries)),
            text(sample),
        ]);
    }
    let mut html = t.finish();
    let backoff: Vec<String> = r
        .op_names()
        .into_iter()
        .filter(|n| r.ops[n].backoff_us > 0)
        .map(|n| format!("{n} {}", page::micros(r.ops[&n].backoff_us)))
        .collect();
    if !backoff.is_empty() {
        html.push_str(&page::para(
            "note",
            &format!("Time slept in backoff: {}.", backoff.join(", ")),
        ));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_is_log_of_one_over_the_tail() {
        assert_eq!(percentile_x(0.0, 5.0), 0.0);
        assert!((percentile_x(0.9, 5.0) - 1.0).abs() < 1e-9);
        assert!((percentile_x(0.999, 5.0) - 3.0).abs() < 1e-9);
        assert_eq!(percentile_x(1.0, 5.0), 5.0);
        assert_eq!(percentile_x(0.9999999, 5.0), 5.0);
    }
}

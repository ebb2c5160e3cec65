//! The report of one result: `report.html` (self-contained: styles inline,
//! charts inline as `data:` PNGs, nothing fetched) beside the PNG charts it
//! shows, `latency.png`, `timeline.png` and, when anything failed or was
//! retried, `errors.png`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::page::{self, Table, esc, num, text};
use super::plot::{Axis, Chart, Legend, Mark, PALETTE, Panel, RGBColor, Scale, Series, Unit};
use crate::metrics::result::Interval;
use crate::metrics::{RunResult, hist};

/// The latency percentile spectrum, one series per op.
pub const LATENCY_SIZE: (u32, u32) = (1100, 560);
/// Throughput over time above p99 over time.
pub const TIMELINE_SIZE: (u32, u32) = (1100, 760);
/// Width of the error chart; its height grows with the number of bars.
pub const ERRORS_WIDTH: u32 = 1100;

/// Height of `errors.png` for `rows` (op, kind) pairs.
pub fn errors_height(rows: usize) -> u32 {
    (110 + 44 * rows as u32).max(260)
}

/// What [`write`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    /// Each PNG with its size in pixels.
    pub charts: Vec<(PathBuf, (u32, u32))>,
}

/// Renders `r` into `dir` (created when missing): `report.html` and its
/// charts. Returns the paths written.
pub fn write(r: &RunResult, dir: &Path) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create report directory", dir.display()))?;
    let mut charts = Vec::new();
    let mut figures = String::new();

    let latency = dir.join("latency.png");
    latency_chart(r)?.draw(&latency)?;
    figures.push_str(&page::section(
        "latency",
        "Latency by percentile",
        &page::figure(
            &latency,
            LATENCY_SIZE,
            "latency percentile spectrum per op",
            latency_caption(r),
        )?,
    ));
    charts.push((latency, LATENCY_SIZE));

    let timeline = dir.join("timeline.png");
    timeline_chart(r).draw(&timeline)?;
    figures.push_str(&page::section(
        "timeline",
        "Over time",
        &page::figure(
            &timeline,
            TIMELINE_SIZE,
            "throughput and p99 latency per second",
            "Per wall-clock second of the measured phase; the first and last seconds may be partial.",
        )?,
    ));
    charts.push((timeline, TIMELINE_SIZE));

    let mut errors_html = String::new();
    if let Some(chart) = errors_chart(r) {
        let path = dir.join("errors.png");
        chart.draw(&path)?;
        errors_html.push_str(&page::figure(
            &path,
            chart.size,
            "errors and retries per op and kind",
            "Final errors (the op failed or its outcome is unknown) and retries (extra attempts), per op and error kind.",
        )?);
        errors_html.push_str(&error_table(r));
        charts.push((path, chart.size));
    } else {
        errors_html.push_str(&page::para("ok", "No errors, no retries."));
    }
    figures.push_str(&page::section("errors", "Errors and retries", &errors_html));

    let mut body = header(r);
    body.push_str(&page::section("ops", "Operations", &op_table(r)));
    body.push_str(&figures);
    body.push_str(&page::section("run", "Run", &metadata(r)));
    for (key, value) in &r.extra {
        body.push_str(&page::section(
            &format!("extra-{key}"),
            &extra_heading(key),
            &page::json(value),
        ));
    }
    let yaml = serde_saphyr::to_string(&r.workload)
        .unwrap_or_else(|_| serde_json::to_string_pretty(&r.workload).unwrap_or_default());
    body.push_str(&page::section(
        "workload",
        "Workload as run",
        &format!(
            "{}{}",
            page::para(
                "note",
                "Every default filled in; this block is itself a valid workload file."
            ),
            page::pre(&yaml)
        ),
    ));
    let footer = format!(
        "{} {} · {} · seed {}",
        r.tool.name, r.tool.version, r.schema, r.seed
    );
    let html = page::page(&format!("{} · tikv-bench report", r.name), &body, &footer);
    let path = dir.join("report.html");
    std::fs::write(&path, html)
        .with_context(|| format!("{}: cannot write report", path.display()))?;
    Ok(Written { html: path, charts })
}

fn extra_heading(key: &str) -> String {
    match key {
        "cluster" => "Cluster".into(),
        "checks" => "Checks".into(),
        "sweep" => "Sweep cell".into(),
        other => other.replace('_', " "),
    }
}

fn header(r: &RunResult) -> String {
    let mut h = format!("<h1>{}</h1>\n", esc(&r.name));
    if let Some(d) = r.workload.get("description").and_then(|d| d.as_str())
        && !d.is_empty()
    {
        h.push_str(&page::para("lede", d));
    }
    let m = &r.measured;
    let _ = write!(
        h,
        "<p>{} on <strong>{}</strong>, {}, {} workers, seed {}, measured {:.1}s from {}.</p>",
        esc(&r.name),
        esc(&r.target.kind),
        esc(&mode(r)),
        r.concurrency,
        r.seed,
        m.duration_s,
        esc(&r.started_at)
    );
    let cards = [
        ("ok ops/s", page::rate(m.ok_per_s)),
        ("ops", page::count(m.ops)),
        ("failed", page::count(m.failed)),
        ("unknown", page::count(m.unknown)),
        ("retries", page::count(m.retries)),
    ];
    h.push_str("<div class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    }
    h.push_str("</div>\n<nav>");
    for (id, label) in [
        ("ops", "operations"),
        ("latency", "latency"),
        ("timeline", "over time"),
        ("errors", "errors"),
        ("run", "run"),
        ("workload", "workload"),
    ] {
        let _ = write!(h, "<a href=\"#{id}\">{label}</a>");
    }
    h.push_str("</nav>\n");
    h
}

fn mode(r: &RunResult) -> String {
    match r.rate {
        Some(rate) => format!("open loop at {} ops/s", page::rate(rate)),
        None => "closed loop".into(),
    }
}

fn op_table(r: &RunResult) -> String {
    let service = r.ops.values().any(|o| o.service_us.is_some());
    let mut head = vec![
        "op", "type", "ok", "failed", "unknown", "ok/s", "p50", "p90", "p99", "p99.9", "max",
    ];
    if service {
        head.extend(["service p50", "service p99"]);
    }
    head.extend(["retries", "errors", "outcomes", "events"]);
    let mut t = Table::new("ops", &head);
    for name in r.op_names() {
        let o = &r.ops[&name];
        let l = &o.latency_us;
        let lat = |us: u64| {
            num(if l.count == 0 {
                "–".into()
            } else {
                page::micros(us)
            })
        };
        let mut cells = vec![
            text(&name),
            text(&o.op_type),
            num(page::count(o.ok)),
            num(page::count(o.failed)),
            num(page::count(o.unknown)),
            num(page::rate(o.ok_per_s)),
            lat(l.p50),
            lat(l.p90),
            lat(l.p99),
            lat(l.p999),
            lat(l.max),
        ];
        if service {
            let s = o.service_us.unwrap_or_default();
            cells.push(num(page::micros(s.p50)));
            cells.push(num(page::micros(s.p99)));
        }
        cells.extend([
            num(page::count(o.retries)),
            text(page::counts(&o.errors)),
            text(page::counts(&o.outcomes)),
            text(page::counts(&o.events)),
        ]);
        t.row(cells);
    }
    let mut html = t.finish();
    html.push_str(&page::para(
        "note",
        if r.rate.is_some() {
            "Latency of successful ops from their scheduled start (open loop: queueing counts); service time is the op's own time."
        } else {
            "Latency of successful ops, retries and backoff included. Failed: the op gave up on an error; unknown: its outcome is unknown (a timeout after sending)."
        },
    ));
    html
}

fn latency_caption(r: &RunResult) -> &'static str {
    if r.rate.is_some() {
        "Latency of successful ops from the scheduled start, by percentile (log scales, as HdrHistogram plots it)."
    } else {
        "Latency of successful ops by percentile (log scales, as HdrHistogram plots it): the far right is the tail."
    }
}

/// Percentile axis position: log10(1 / (1 - q)), so 90% is 1, 99% is 2.
fn percentile_x(q: f64, x_max: f64) -> f64 {
    if q >= 1.0 {
        x_max
    } else {
        (1.0 / (1.0 - q)).log10().min(x_max)
    }
}

fn latency_chart(r: &RunResult) -> anyhow::Result<Chart> {
    let mut decoded = Vec::new();
    for name in r.op_names() {
        let o = &r.ops[&name];
        let h = hist::decode(&o.histogram)
            .with_context(|| format!("op '{name}': cannot read its latency histogram"))?;
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
                name: name.clone(),
                color: PALETTE[i % PALETTE.len()],
                points,
            }
        })
        .collect();
    Ok(Chart {
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
    })
}

fn timeline_chart(r: &RunResult) -> Chart {
    let secs: Vec<_> = r.timeline.iter().filter(|iv| iv.span_s > 0.0).collect();
    let mid = |iv: &Interval| iv.t_s.max(0.0) + iv.span_s / 2.0;
    let names = r.op_names();
    let per_op = names.len() > 1;
    let mut rate = vec![Series {
        name: "all ops".into(),
        color: ALL_COLOR,
        points: secs.iter().map(|iv| (mid(iv), iv.ops_per_s)).collect(),
    }];
    let mut p99 = vec![Series {
        name: "all ops".into(),
        color: ALL_COLOR,
        points: secs.iter().map(|iv| (mid(iv), iv.p99_us as f64)).collect(),
    }];
    if per_op {
        for (i, name) in names.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            rate.push(Series {
                name: name.clone(),
                color,
                points: secs
                    .iter()
                    .filter_map(|iv| {
                        let o = iv.ops.get(name)?;
                        Some((mid(iv), (o.ok + o.failed) as f64 / iv.span_s))
                    })
                    .collect(),
            });
            p99.push(Series {
                name: name.clone(),
                color,
                points: secs
                    .iter()
                    .filter_map(|iv| Some((mid(iv), iv.ops.get(name)?.p99_us as f64)))
                    .collect(),
            });
        }
    }
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
    Chart {
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
    }
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

fn errors_chart(r: &RunResult) -> Option<Chart> {
    let rows = error_rows(r);
    if rows.is_empty() {
        return None;
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
    Some(Chart {
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
                    name: "final errors".into(),
                    color: PALETTE[3],
                    points: bars(|row| row.2),
                },
                Series {
                    name: "retries".into(),
                    color: PALETTE[1],
                    points: bars(|row| row.3),
                },
            ],
        }],
    })
}

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

fn metadata(r: &RunResult) -> String {
    let w = &r.workload;
    let s = |v: Option<&serde_json::Value>| {
        v.map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "–".into())
    };
    let mut t = Table::new("kv", &[]);
    t.pair("name", text(&r.name));
    t.pair("description", text(s(w.get("description"))));
    t.pair(
        "workload file",
        text(r.workload_file.clone().unwrap_or_else(|| "(inline)".into())),
    );
    t.pair("seed", text(r.seed.to_string()));
    t.pair(
        "target",
        text(format!("{}: {}", r.target.kind, r.target.description)),
    );
    t.pair("mode", text(mode(r)));
    t.pair("concurrency", text(format!("{} workers", r.concurrency)));
    t.pair(
        "rate",
        text(r.rate.map_or("none (closed loop)".into(), |x| {
            format!("{} ops/s", page::rate(x))
        })),
    );
    let client = w.get("client");
    t.pair(
        "pool size",
        text(s(client.and_then(|c| c.get("pool_size")))),
    );
    t.pair(
        "request timeout",
        text(s(client.and_then(|c| c.get("request_timeout")))),
    );
    t.pair(
        "retry policy",
        text(retry_policy(client.and_then(|c| c.get("retry")))),
    );
    t.pair("started", text(&r.started_at));
    t.pair("ended", text(&r.ended_at));
    t.pair(
        "load",
        text(format!(
            "{} records in {:.2}s",
            page::count(r.load.records),
            r.load.duration_s
        )),
    );
    t.pair(
        "warmup",
        text(format!(
            "{:.2}s, {} ops excluded",
            r.warmup.duration_s,
            page::count(r.warmup.ops)
        )),
    );
    let m = &r.measured;
    t.pair(
        "measured",
        text(format!(
            "{:.2}s: {} ops ({} ops/s), {} ok ({} ok/s), {} failed, {} unknown, {} retries",
            m.duration_s,
            page::count(m.ops),
            page::rate(m.ops_per_s),
            page::count(m.ok),
            page::rate(m.ok_per_s),
            page::count(m.failed),
            page::count(m.unknown),
            page::count(m.retries)
        )),
    );
    t.pair("tool", text(format!("{} {}", r.tool.name, r.tool.version)));
    t.finish()
}

/// The retry policy in one line, from the workload's `client.retry`.
fn retry_policy(retry: Option<&serde_json::Value>) -> String {
    let Some(p) = retry else {
        return "–".into();
    };
    let f = |k: &str| {
        p.get(k).map_or("?".to_string(), |v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    if p.get("max_attempts").and_then(|v| v.as_u64()) == Some(1) {
        return "no retries (max_attempts 1)".into();
    }
    let on: Vec<&str> = p
        .get("on")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|k| k.as_str()).collect())
        .unwrap_or_default();
    format!(
        "up to {} attempts; backoff {} × {} per attempt, at most {}, {} jitter; budget {} per op; retried on: {}",
        f("max_attempts"),
        f("base_delay"),
        f("multiplier"),
        f("max_delay"),
        f("jitter"),
        f("budget"),
        if on.is_empty() {
            "nothing".into()
        } else {
            on.join(", ")
        }
    )
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

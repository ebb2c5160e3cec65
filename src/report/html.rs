//! The report of one result: `report.html` (self-contained: styles inline,
//! charts inline as `data:` PNGs, nothing fetched) beside the PNG charts it
//! shows. A run judged against a baseline (`run --baseline`) opens with
//! its verdicts ("Against the baseline", shared with `compare.html`); then
//! the ops, and the charts, one section each, in the order of the chart
//! table in `charts.rs`:
//! `latency.png`, `timeline.png`, for a merge `drivers.png` with the
//! drivers' table, `memory.png` (when memory was sampled),
//! when anything failed or was retried `errors.png`, and for a run of load
//! stages or an SLO search `curve.png` with the stages' table; then the
//! slowest ops with their traces (`slow.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::charts::{CHARTS, ChartEntry};
pub use super::charts::{ERRORS_WIDTH, LATENCY_SIZE, MEMORY_SIZE, TIMELINE_SIZE, errors_height};
use super::compare::baseline;
pub use super::curve::SIZE as CURVE_SIZE;
use super::page::{self, Table, TableCell, esc, num, text};
use crate::metrics::{DriverCheck, DriverVerdict, RunResult};
use crate::vocab::transport::TransportStats;
use crate::workload::checks::CheckVerdict;

/// What [`write()`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub html: PathBuf,
    /// Each PNG with its size in pixels.
    pub charts: Vec<(PathBuf, (u32, u32))>,
}

/// Renders `r` into `dir` (created when missing): `report.html` and its
/// charts. Returns the paths written.
pub fn write(r: &RunResult, dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::ReportDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut charts = Vec::new();
    let mut body = header(r);
    if let Some(c) = &r.baseline {
        body.push_str(&baseline::section(c));
    }
    body.push_str(&page::section("ops", "Operations", &op_table(r)));
    for entry in CHARTS.iter().filter(|c| (c.shown)(r)) {
        body.push_str(&chart_section(entry, r, dir, &mut charts)?);
    }
    // Where the time went: server against client time (per store and
    // region: under the stores chart), the faults and their impact.
    for (id, heading, inner) in [
        ("server-time", "Server time", super::server_time::section(r)),
        ("faults", "Faults and recovery", super::faults::section(r)),
    ] {
        if let Some(inner) = inner {
            body.push_str(&page::section(id, heading, &inner));
        }
    }
    if let Some(slowest) = super::slow::section(r) {
        body.push_str(&page::section("slow", "Slowest operations", &slowest));
    }
    body.push_str(&page::section("run", "Run", &metadata(r)));
    for (key, heading, inner) in sections(r) {
        body.push_str(&page::section(&format!("extra-{key}"), heading, &inner));
    }
    body.push_str(&workload_section(r));
    let footer = format!(
        "{} {} · {} · seed {}",
        r.tool.name, r.tool.version, r.schema, r.seed
    );
    let html = page::page(&format!("{} · tikv-bench report", r.name), &body, &footer);
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|source| ReportError::WriteReport {
        path: path.clone(),
        source,
    })?;
    Ok(Written { html: path, charts })
}

/// The section of one chart: drawn into `dir` (and noted in `charts`) and
/// inlined, or what stands in for it when the result has nothing to show.
fn chart_section(
    entry: &ChartEntry,
    r: &RunResult,
    dir: &Path,
    charts: &mut Vec<(PathBuf, (u32, u32))>,
) -> Result<String, ReportError> {
    let inner = match (entry.draw)(r)? {
        Some(chart) => {
            let path = dir.join(format!("{}.png", entry.id));
            chart.draw(&path, &chart_note(r))?;
            let mut html = page::figure(&path, chart.size, entry.alt, (entry.caption)(r))?;
            html.push_str(&(entry.after)(r));
            charts.push((path, chart.size));
            html
        }
        None => page::para("ok", entry.absent),
    };
    Ok(page::section(entry.id, entry.heading, &inner))
}

/// What a report's charts are of: the workload, the run and its start.
pub fn chart_note(r: &RunResult) -> String {
    let mut note = format!("{} on {}", r.name, r.target.kind);
    if let Some(s) = &r.sweep {
        note.push_str(&format!(" ({})", s.id));
    }
    if let Some(rep) = &r.repeat {
        note.push_str(&format!(", repeat {}/{}", rep.index, rep.count));
    }
    if !r.run_id.is_empty() {
        note.push_str(&format!(" · run {}", r.run_id));
    }
    format!(
        "{note} · {} · {} {}",
        r.started_at,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    )
}

/// The workload as run, in YAML.
fn workload_section(r: &RunResult) -> String {
    let yaml = serde_saphyr::to_string(&r.workload)
        .unwrap_or_else(|_| serde_json::to_string_pretty(&r.workload).unwrap_or_default());
    page::section(
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
    )
}

/// The result's optional sections present, in the order of their keys,
/// each as (key, heading, HTML): the checks' verdicts as a table, the
/// others as their JSON.
fn sections(r: &RunResult) -> Vec<(&'static str, &'static str, String)> {
    fn json(x: &impl serde::Serialize) -> String {
        page::json(&serde_json::to_value(x).unwrap_or_default())
    }
    let mut out = Vec::new();
    if let Some(v) = &r.checks {
        out.push(("checks", "Checks", checks_table(v)));
    }
    if let Some(c) = &r.cluster {
        out.push(("cluster", "Cluster", super::cluster::section(c)));
    }
    if let Some(c) = &r.driver_check {
        let mut html = driver_table(c, r);
        html.push_str(&lateness_table(r));
        out.push(("driver_check", "Driver self-check", html));
    }
    if let Some(n) = &r.merged_from {
        out.push(("merged_from", "merged from", json(n)));
    }
    if let Some(s) = &r.shard {
        out.push(("shard", "shard", json(s)));
    }
    if let Some(s) = &r.sweep {
        out.push(("sweep", "Sweep cell", json(s)));
    }
    if let Some(t) = &r.thresholds {
        out.push(("thresholds", "thresholds", json(t)));
    }
    if let Some(t) = &r.transport {
        out.push(("transport", "Transport", transport_table(r, t)));
    }
    out
}

/// Ops against the store requests they sent and the BatchCommands
/// messages that carried them, with the batch sizes and reconnects.
fn transport_table(r: &RunResult, t: &TransportStats) -> String {
    let mut table = Table::new("kv", &[]);
    table.pair("transport", text(t.kind.clone()));
    let ops = r.warmup.ops + r.measured.ops;
    table.pair("ops (warmup and measured)", num(page::count(ops)));
    table.pair("store requests (whole run)", num(page::count(t.requests)));
    table.pair("messages (whole run)", num(page::count(t.messages)));
    table.pair(
        "requests per message",
        num(format!("{:.1}", t.mean_batch())),
    );
    let sizes: Vec<String> = t
        .batch_sizes
        .iter()
        .map(|b| format!("≤{}: {}", b.max, b.messages))
        .collect();
    table.pair("messages by requests", text(sizes.join(", ")));
    table.pair("streams opened", num(page::count(t.streams_opened)));
    table.pair("reconnects", num(page::count(t.reconnects)));
    table.pair(
        "requests failed by a broken stream",
        num(page::count(t.broken_requests)),
    );
    table.pair("late answers", num(page::count(t.late_answers)));
    table.finish()
}

/// One row per check: its verdict, what it verified, its figures, and the
/// first violations.
fn checks_table(verdicts: &[CheckVerdict]) -> String {
    let mut t = Table::new(
        "data checks",
        &["check", "verdict", "details", "first violations"],
    );
    for v in verdicts {
        let verdict = if v.passed {
            "<strong class=\"ok\">pass</strong>".to_string()
        } else {
            format!(
                "<strong class=\"bad\">FAIL</strong><br>{} violation(s)",
                page::count(v.violation_count)
            )
        };
        let figures: Vec<String> = v
            .details
            .iter()
            .map(|(k, x)| {
                let x = match x {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{} {}", k.replace('_', " "), x)
            })
            .collect();
        let details = format!(
            "{}<br><small>{}</small>",
            esc(&v.summary),
            esc(&figures.join(", "))
        );
        let violations = if v.violations.is_empty() {
            "–".to_string()
        } else {
            let items: String = v
                .violations
                .iter()
                .map(|x| format!("<li>{}</li>", esc(x)))
                .collect();
            let more = v.violation_count.saturating_sub(v.violations.len() as u64);
            let tail = if more > 0 {
                format!("<small>and {} more</small>", page::count(more))
            } else {
                String::new()
            };
            format!("<ul>{items}</ul>{tail}")
        };
        t.row([
            text(&v.name),
            TableCell::Html(verdict),
            TableCell::Html(details),
            TableCell::Html(violations),
        ]);
    }
    let mut html = t.finish();
    html.push_str(&page::para(
        "note",
        "Invariant checks: each verified what the workers' acknowledged operations imply about the data, during and after the run (see the README's Checks section). Operations whose outcome is unknown are allowed either way, never counted as lost or applied.",
    ));
    html
}

/// Open loop: per op, how late the driver started its sends (empty in
/// closed loop).
fn lateness_table(r: &RunResult) -> String {
    if r.ops.values().all(|o| o.lateness_us.is_none()) {
        return String::new();
    }
    let mut t = Table::new(
        "lateness",
        &[
            "op",
            "sends",
            "late p50",
            "late p90",
            "late p99",
            "late p99.9",
            "late max",
        ],
    );
    for name in r.op_names() {
        let Some(l) = r.ops[&name].lateness_us else {
            continue;
        };
        t.row([
            text(&name),
            num(page::count(l.count)),
            num(page::micros(l.p50)),
            num(page::micros(l.p90)),
            num(page::micros(l.p99)),
            num(page::micros(l.p999)),
            num(page::micros(l.max)),
        ]);
    }
    t.finish()
}

/// The self-check's verdict and the figures it read, with its bounds.
fn driver_table(c: &DriverCheck, r: &RunResult) -> String {
    let mut html = String::new();
    if let Some(w) = super::stages::driver_warning(r) {
        html.push_str(&format!(
            "<p class=\"bad\"><strong>{}</strong></p>",
            esc(&w)
        ));
    }
    if let Some(n) = super::stages::search_note(r) {
        html.push_str(&page::para("note", &n));
    }
    let mut t = Table::new("kv", &[]);
    if let Some(n) = c.note() {
        html.push_str(&page::para("note", &n));
    }
    let verdict = match c.verdict {
        DriverVerdict::Ok => "<strong class=\"ok\">ok</strong>".to_string(),
        DriverVerdict::CpuBound => "<strong>cpu-bound</strong>".to_string(),
        v => format!("<strong class=\"bad\">{v}</strong>"),
    };
    t.pair("verdict", TableCell::Html(verdict));
    if let Some(l) = &c.lateness_us {
        t.pair(
            "sends started late by",
            text(format!(
                "p50 {}, p90 {}, p99 {}, p99.9 {}, max {} ({} sends)",
                page::micros(l.p50),
                page::micros(l.p90),
                page::micros(l.p99),
                page::micros(l.p999),
                page::micros(l.max),
                page::count(l.count)
            )),
        );
        t.pair(
            "late sends",
            text(format!(
                "{} more than {} late; the driver fell behind beyond {}% of sends",
                page::count(c.late_ops.unwrap_or(0)),
                page::micros(c.late_bound_us),
                100.0 * c.late_share_bound
            )),
        );
    }
    if let Some(cpu) = &c.cpu {
        t.pair(
            "process CPU",
            text(format!(
                "{:.2} of {} cores ({:.0}%) over {:.2}s; a closed loop is saturated from {:.0}%",
                cpu.busy * f64::from(cpu.cores),
                cpu.cores,
                100.0 * cpu.busy,
                cpu.wall_us as f64 / 1e6,
                100.0 * c.saturation_bound
            )),
        );
    }
    html.push_str(&t.finish());
    html.push_str(&page::para(
        "note",
        "Lateness: how long after its slot the driver started each open-loop send, its own error, which every open-loop latency includes. CPU: the whole process's, an in-process target's included. See the README's \"Harness accuracy\".",
    ));
    html
}

/// What the reader must know first: the run was aborted by a threshold,
/// the search's answer, the run was interrupted.
fn banners(r: &RunResult) -> String {
    let mut h = String::new();
    if let Some(a) = &r.aborted {
        h.push_str(&page::para(
            "bad",
            &format!(
                "Aborted {:.1}s into the measured phase: threshold '{}' missed (measured {}); the figures cover the run until then.",
                a.at_s, a.threshold, a.measured
            ),
        ));
    }
    if let Some(s) = &r.search {
        h.push_str(&page::para(
            "lede",
            &format!("Search: {}.", super::stages::answer(s)),
        ));
    }
    if r.interrupted {
        h.push_str(&page::para(
            "bad",
            "Interrupted: the run was stopped early (Ctrl-C or SIGTERM); the figures cover the span measured until then.",
        ));
    }
    h
}

/// The headline figures as cards: the measured phase's counts, and the
/// verdicts of the checks, the driver and the baseline when there are any.
fn cards(r: &RunResult) -> String {
    let m = &r.measured;
    let mut cards = vec![
        ("ok ops/s", page::rate(m.ok_per_s)),
        ("ops", page::count(m.ops)),
        ("failed", page::count(m.failed)),
        ("unknown", page::count(m.unknown)),
        ("driver retries", page::count(m.retries)),
        ("client retries", page::count(m.client_retries)),
    ];
    if let Some(v) = r.checks.as_deref() {
        let failed = v.iter().filter(|v| !v.passed).count();
        let card = if failed == 0 {
            format!("{} pass", v.len())
        } else {
            format!("{failed} FAIL")
        };
        cards.push(("checks", card));
    }
    if let Some(c) = &r.driver_check {
        cards.push(("driver", c.verdict.to_string()));
    }
    if let Some(c) = &r.baseline {
        let regressed = c.verdicts.iter().filter(|v| !v.passed).count();
        let card = if regressed == 0 {
            format!("{} pass", c.verdicts.len())
        } else {
            format!("{regressed} regressed")
        };
        cards.push(("vs baseline", card));
    }
    let mut h = String::from("<div class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    }
    h.push_str("</div>");
    h
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
    h.push_str(&banners(r));
    h.push_str(&super::drivers::banner(r));
    h.push_str(&cards(r));
    h.push_str("\n<nav>");
    let charts = CHARTS
        .iter()
        .filter(|c| (c.shown)(r))
        .map(|c| (c.id, c.nav));
    let checks = r.checks.as_ref().map(|_| ("extra-checks", "checks"));
    let driver = r
        .driver_check
        .as_ref()
        .map(|_| ("extra-driver_check", "driver"));
    let judged = r.baseline.as_ref().map(|_| (baseline::ID, "baseline"));
    let timed = r.ops.values().any(|o| o.server_time.is_some());
    let server = timed.then_some(("server-time", "server time"));
    let faults = super::faults::section(r).map(|_| ("faults", "faults"));
    let links = judged
        .into_iter()
        .chain([("ops", "operations")])
        .chain(charts)
        .chain(server)
        .chain(faults)
        .chain(checks)
        .chain(driver)
        .chain([("run", "run"), ("workload", "workload")]);
    for (id, label) in links {
        let _ = write!(h, "<a href=\"#{id}\">{label}</a>");
    }
    h.push_str("</nav>\n");
    if let Some(w) = super::stages::driver_warning(r) {
        h.push_str(&format!(
            "<p class=\"bad\"><strong>Warning: {}</strong></p>\n",
            esc(&w)
        ));
    }
    h
}

fn mode(r: &RunResult) -> String {
    super::stages::mode(r)
}

/// Each op's final errors, notable outcomes and what happened on its way
/// (events), in a table of their own whose lists wrap: beside the figures
/// they made the table too wide to read or paste.
fn on_the_way(r: &RunResult) -> String {
    let mut t = Table::new("on-the-way", &["op", "errors", "outcomes", "events"]);
    for name in r.op_names() {
        let o = &r.ops[&name];
        let list = |m| match page::counts(m) {
            s if s.is_empty() => text("–"),
            s => text(s),
        };
        t.row([
            text(&name),
            list(&o.errors),
            list(&o.outcomes),
            list(&o.events),
        ]);
    }
    t.finish()
}

fn op_table(r: &RunResult) -> String {
    let service = r.ops.values().any(|o| o.service_us.is_some());
    let mut head = vec![
        "op", "type", "ok", "failed", "unknown", "ok/s", "p50", "p90", "p99", "p99.9", "max",
    ];
    if service {
        head.extend(["service p50", "service p99"]);
    }
    head.extend(["retries", "client retries"]);
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
        cells.push(num(page::count(o.retries)));
        cells.push(num(page::count(o.client_retries)));
        t.row(cells);
    }
    let mut html = t.finish();
    html.push_str(&page::para(
        "note",
        if r.rate.is_some() {
            "Latency of successful ops from their scheduled start (open loop: queueing counts); service time is the op's own time. How late the driver started each op (its own error) is in the Driver self-check section."
        } else {
            "Latency of successful ops, retries and backoff included. Failed: the op gave up on an error; unknown: its outcome is unknown (a timeout after sending)."
        },
    ));
    html.push_str(&on_the_way(r));
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
        text(r.rate.map_or(format!("none ({})", mode(r)), |x| {
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

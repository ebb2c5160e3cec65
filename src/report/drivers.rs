//! The drivers of a merged result (its `drivers` rows): in `report.html` a
//! "Drivers" section, registered in the chart table, with a bar chart of
//! each driver's throughput beside its share of the offered rate and a
//! table whose flagged rows are the drivers not to trust (self-check not
//! ok, late, started apart from the others, short of its rate); a banner
//! at the top when a driver is flagged or shards are missing; and a
//! compact table in the text summary.

use std::fmt::Write as _;

use super::ReportError;
use super::page::{self, Table, TableCell, num, text};
use super::plot::{Axis, Chart, Legend, Mark, PALETTE, Panel, Scale, Series, Unit};
use crate::metrics::driver_rows::{RATE_SHARE_BOUND, START_OFFSET_BOUND_US, flags, shard_list};
use crate::metrics::{DriverRow, RunResult};
use crate::vocab::fmt::micros;

/// Width of the drivers chart; its height grows with the drivers.
pub const DRIVERS_WIDTH: u32 = 1100;

/// Height of `drivers.png` for `rows` drivers.
pub fn drivers_height(rows: usize) -> u32 {
    (110 + 36 * rows as u32).max(260)
}

/// Whether the result has driver rows (it is a merge).
pub(super) fn shown(r: &RunResult) -> bool {
    r.drivers.as_ref().is_some_and(|d| !d.is_empty())
}

fn rows(r: &RunResult) -> &[DriverRow] {
    r.drivers.as_deref().unwrap_or_default()
}

/// A driver's name in tables and charts: its shard, else its run id.
fn name(row: &DriverRow) -> String {
    match row.shard {
        Some([i, n]) => format!("{i}/{n}"),
        None => row.run_id.clone(),
    }
}

/// Signed microseconds: a skew may be negative.
fn signed(us: i64) -> String {
    if us == 0 {
        return "0".into();
    }
    let sign = if us < 0 { "-" } else { "" };
    format!("{sign}{}", micros(us.unsigned_abs()))
}

/// The flagged drivers in one sentence, `None` when none is.
fn flagged_line(r: &RunResult) -> Option<String> {
    let flagged: Vec<String> = rows(r)
        .iter()
        .filter_map(|row| {
            let why = flags(row);
            (!why.is_empty()).then(|| format!("{} ({})", name(row), why.join("; ")))
        })
        .collect();
    (!flagged.is_empty()).then(|| {
        format!(
            "{} of {} drivers flagged: {}. Their figures are in the merge; judge them with care.",
            flagged.len(),
            rows(r).len(),
            flagged.join(", ")
        )
    })
}

/// The shards a partial merge lacks, in one sentence.
fn missing_line(r: &RunResult) -> Option<String> {
    let missing = r.missing_shards.as_ref().filter(|m| !m.is_empty())?;
    let count = rows(r).iter().find_map(|row| row.shard).map_or(0, |s| s[1]);
    Some(format!(
        "Partial merge: {} missing; the figures are those of {} of the run's {count} drivers.",
        shard_list(missing, count),
        rows(r).len()
    ))
}

/// The banners at the top of the report: a partial merge, flagged drivers.
pub(super) fn banner(r: &RunResult) -> String {
    [missing_line(r), flagged_line(r)]
        .into_iter()
        .flatten()
        .map(|line| {
            format!(
                "<p class=\"bad\"><strong>{}</strong></p>\n",
                page::esc(&line)
            )
        })
        .collect()
}

pub(super) fn caption(r: &RunResult) -> &'static str {
    if rows(r).iter().any(|row| row.rate.is_some()) {
        "Ok ops per second of each driver over its own measured phase, beside its share of the offered rate; flagged drivers in red."
    } else {
        "Ok ops per second of each driver over its own measured phase; flagged drivers in red."
    }
}

/// Horizontal bars, one slot per driver: its throughput (red when
/// flagged) and, open loop, its share of the rate.
pub(super) fn chart(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let list = rows(r);
    // Slot 0 is at the bottom: the first driver goes at the top, as in
    // the table.
    let labels: Vec<String> = list
        .iter()
        .rev()
        .map(|row| match &row.host {
            Some(h) => format!("{} · {h}", name(row)),
            None => name(row),
        })
        .collect();
    let slot = |i: usize| (list.len() - 1 - i) as f64;
    let bars = |keep: &dyn Fn(&DriverRow) -> Option<f64>| -> Vec<(f64, f64)> {
        list.iter()
            .enumerate()
            .filter_map(|(i, row)| Some((keep(row)?, slot(i))))
            .collect()
    };
    let mut series = vec![
        Series::plain(
            "ok ops/s",
            PALETTE[0],
            bars(&|row| flags(row).is_empty().then_some(row.throughput)),
        ),
        Series::plain(
            "ok ops/s, flagged",
            PALETTE[3],
            bars(&|row| (!flags(row).is_empty()).then_some(row.throughput)),
        ),
    ];
    if list.iter().any(|row| row.rate.is_some()) {
        series.push(Series::plain(
            "offered ops/s",
            PALETTE[7],
            bars(&|row| row.rate),
        ));
    }
    series.retain(|s| !s.points.is_empty());
    Ok(Some(Chart {
        size: (DRIVERS_WIDTH, drivers_height(list.len())),
        grid: (1, 1),
        shared_legend: false,
        panels: vec![Panel {
            title: "Throughput per driver".into(),
            x: Axis::new("ops/s", Scale::Linear, Unit::Number),
            y: Axis::new("", Scale::Categories(labels), Unit::Number),
            mark: Mark::Bars,
            legend: Legend::Right,
            series,
        }],
    }))
}

/// The cells of one driver's row, figures as the page shows them.
fn cells(row: &DriverRow, why: &[String]) -> Vec<TableCell> {
    let or_dash = |x: Option<String>| x.unwrap_or_else(|| "–".into());
    vec![
        text(name(row)),
        text(or_dash(row.host.clone())),
        num(page::count(row.ok + row.failed)),
        num(page::count(row.failed)),
        num(page::rate(row.throughput)),
        num(or_dash(row.rate.map(page::rate))),
        num(signed(row.start_offset_us)),
        num(or_dash(row.skew_us.map(signed))),
        text(or_dash(row.verdict.map(|v| v.to_string()))),
        num(or_dash(row.lateness_p99_us.map(micros))),
        num(or_dash(row.cpu_busy.map(|b| format!("{:.0}%", 100.0 * b)))),
        text(if why.is_empty() {
            "–".into()
        } else {
            why.join("; ")
        }),
    ]
}

/// The flagged line (or that all kept up), then one row per driver,
/// flagged rows marked, and what the columns and flags mean.
pub(super) fn table(r: &RunResult) -> String {
    let mut html = String::new();
    if let Some(line) = missing_line(r) {
        html.push_str(&page::para("bad", &line));
    }
    match flagged_line(r) {
        Some(line) => html.push_str(&page::para("bad flagged-line", &line)),
        None => html.push_str(&page::para(
            "ok flagged-line",
            &format!(
                "None of the {} drivers is flagged: self-checks ok, none late, all measured phases began within {} of each other.",
                rows(r).len(),
                micros(START_OFFSET_BOUND_US as u64)
            ),
        )),
    }
    let head = [
        "driver",
        "host",
        "ops",
        "failed",
        "ok/s",
        "offered/s",
        "start offset",
        "skew",
        "self-check",
        "lateness p99",
        "CPU",
        "flags",
    ];
    let mut t = Table::new("drivers", &head);
    for row in rows(r) {
        let why = flags(row);
        let class = if why.is_empty() { "" } else { "flagged" };
        t.row_of_class(class, cells(row, &why));
    }
    html.push_str(&t.finish());
    html.push_str(&page::para(
        "note",
        &format!(
            "One row per driver, in shard order. Ops: measured ops (failed counts those failed or of unknown outcome); ok/s over the driver's own measured phase; offered/s its share of the rate (open loop). Start offset: how long after the earliest driver's its measured phase began; skew: how long after the agreed instant (run --start-at). A row is flagged when the driver's self-check is not ok, it was ready only after the agreed start, its start offset exceeds {}, it completed less than {:.0}% of its offered rate, or it was interrupted. See docs/merge.md.",
            micros(START_OFFSET_BOUND_US as u64),
            100.0 * RATE_SHARE_BOUND
        ),
    ));
    html
}

/// The text summary's drivers: one compact row each, then the flagged
/// line and a partial merge's missing shards.
pub(super) fn summary(out: &mut String, r: &RunResult) {
    if !shown(r) {
        return;
    }
    let head = [
        "driver", "host", "ops", "ok/s", "offered", "offset", "skew", "check", "late p99", "cpu",
    ];
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for row in rows(r) {
        let dash = "–".to_string();
        table.push(vec![
            format!(
                "{}{}",
                name(row),
                if flags(row).is_empty() { "" } else { " !" }
            ),
            row.host.clone().unwrap_or(dash.clone()),
            (row.ok + row.failed).to_string(),
            format!("{:.1}", row.throughput),
            row.rate.map_or(dash.clone(), |x| format!("{x:.1}")),
            signed(row.start_offset_us),
            row.skew_us.map_or(dash.clone(), signed),
            row.verdict.map_or(dash.clone(), |v| v.to_string()),
            row.lateness_p99_us.map_or(dash.clone(), micros),
            row.cpu_busy.map_or(dash, |b| format!("{:.0}%", 100.0 * b)),
        ]);
    }
    let _ = writeln!(out, "drivers ({} merged; ! flagged):", rows(r).len());
    super::text::aligned(out, &table, 2);
    if let Some(line) = flagged_line(r) {
        let _ = writeln!(out, "\n!!! WARNING: {line}\n");
    }
    if let Some(line) = missing_line(r) {
        let _ = writeln!(out, "!!! {line}");
    }
}

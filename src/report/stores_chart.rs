//! The `stores` chart: per store, p50 and p99 of its answered RPCs (bars,
//! log scale) beside its share of the RPCs, so a slow store and a hot one
//! both stand out.

use super::ReportError;
use super::plot::{Axis, Chart, Legend, Mark, PALETTE, Panel, Scale, Series, Unit};
use crate::metrics::RunResult;

/// Width of the chart; its height grows with the number of stores.
pub const WIDTH: u32 = 1100;

fn height(stores: usize) -> u32 {
    (140 + 60 * stores as u32).max(300)
}

pub(super) fn shown(r: &RunResult) -> bool {
    r.stores.is_some()
}

pub(super) fn caption(_: &RunResult) -> &'static str {
    "Per store: p50 and p99 of the RPC attempts it answered (client-side), and its share of all RPC attempts."
}

pub(super) fn draw(r: &RunResult) -> Result<Option<Chart>, ReportError> {
    let Some(rows) = &r.stores else {
        return Ok(None);
    };
    let labels: Vec<String> = rows
        .iter()
        .map(|s| {
            if s.flags.is_empty() {
                format!("store {}", s.store)
            } else {
                format!("store {} ({})", s.store, s.flags.join(", "))
            }
        })
        .collect();
    let bars = |pick: &dyn Fn(&crate::metrics::places::StoreRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .enumerate()
            .map(|(i, s)| (pick(s), i as f64))
            .filter(|(v, _)| *v > 0.0)
            .collect()
    };
    let y = || Axis::new("", Scale::Categories(labels.clone()), Unit::Number);
    let latency = Panel {
        title: "Latency by store".into(),
        x: Axis::new("latency", Scale::Auto, Unit::Micros),
        y: y(),
        mark: Mark::Bars,
        legend: Legend::Right,
        series: vec![
            Series::plain("p50", PALETTE[0], bars(&|s| s.latency_us.p50 as f64)),
            Series::plain("p99", PALETTE[1], bars(&|s| s.latency_us.p99 as f64)),
        ],
    };
    let share = Panel {
        title: "Share of RPCs".into(),
        x: Axis::new("share", Scale::Linear, Unit::Percent),
        y: y(),
        mark: Mark::Bars,
        legend: Legend::Right,
        series: vec![Series::plain("share", PALETTE[2], bars(&|s| s.share))],
    };
    Ok(Some(Chart {
        size: (WIDTH, height(rows.len())),
        grid: (1, 2),
        shared_legend: false,
        panels: vec![latency, share],
    }))
}

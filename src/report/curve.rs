//! The latency-throughput curve ("hockey stick"): latency (log scale)
//! against achieved throughput, one point per load stage or search step,
//! failed steps ringed, the knee marked. The report draws one result's p50
//! and p99 on one panel; the comparison one line per result on a p50 and
//! a p99 panel.

use super::plot::{Axis, Chart, Legend, Look, Mark, PALETTE, Panel, RGBColor, Scale, Series, Unit};
use super::stages::CurvePoint;

/// One result's curve (the report's, or a line of the comparison).
#[derive(Debug, Clone)]
pub struct Curve {
    pub label: String,
    /// Sorted by level (a search's steps by rate).
    pub points: Vec<CurvePoint>,
    /// Index into `points`.
    pub knee: Option<usize>,
}

/// The report's curve chart.
pub const SIZE: (u32, u32) = (1100, 560);
/// The comparison's: p50 beside p99.
pub const COMPARE_SIZE: (u32, u32) = (1180, 480);

/// Rings round failed steps: red, as failures are elsewhere.
const FAILED: RGBColor = PALETTE[3];
/// The comparison's line colours: the palette without the failed red.
const LINES: [RGBColor; 9] = [
    PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4], PALETTE[5], PALETTE[6], PALETTE[7], PALETTE[8],
    PALETTE[9],
];
/// The knee's mark: near-black, apart from every line's colour.
const KNEE: RGBColor = RGBColor(40, 40, 40);

/// The x axis of every curve panel.
fn x_axis() -> Axis {
    Axis::new("achieved ops/s", Scale::Linear, Unit::Number)
}

/// The points of `picks` (p50, p99) of the curve's points `which` selects.
fn at(
    c: &Curve,
    pick: fn(&CurvePoint) -> u64,
    which: impl Fn(usize, &CurvePoint) -> bool,
) -> Vec<(f64, f64)> {
    c.points
        .iter()
        .enumerate()
        .filter(|(i, p)| which(*i, p))
        .map(|(_, p)| (p.achieved, pick(p) as f64))
        .collect()
}

/// The rings of failed steps and the knee's mark over `picks` of `curves`.
fn marks(curves: &[&Curve], picks: &[fn(&CurvePoint) -> u64]) -> Vec<Series> {
    let mut failed = Vec::new();
    let mut knee = Vec::new();
    for c in curves {
        for pick in picks {
            failed.extend(at(c, *pick, |_, p| p.passed == Some(false)));
            knee.extend(at(c, *pick, |i, _| c.knee == Some(i)));
        }
    }
    let mut out = Vec::new();
    if !failed.is_empty() {
        out.push(series("failed step", FAILED, failed, Look::Rings));
    }
    if !knee.is_empty() {
        out.push(series("knee", KNEE, knee, Look::Marked));
    }
    out
}

fn series(name: &str, color: RGBColor, points: Vec<(f64, f64)>, look: Look) -> Series {
    Series {
        name: name.into(),
        color,
        points,
        ranges: Vec::new(),
        look,
    }
}

fn p50(p: &CurvePoint) -> u64 {
    p.p50_us
}

fn p99(p: &CurvePoint) -> u64 {
    p.p99_us
}

/// One result's p50 and p99 on one panel titled `title`; `None` without
/// points.
pub fn chart(c: &Curve, title: &str) -> Option<Chart> {
    if c.points.is_empty() {
        return None;
    }
    let mut lines = vec![
        series("p50", PALETTE[0], at(c, p50, |_, _| true), Look::Plain),
        series("p99", PALETTE[1], at(c, p99, |_, _| true), Look::Plain),
    ];
    lines.extend(marks(&[c], &[p50, p99]));
    Some(Chart {
        size: SIZE,
        grid: (1, 1),
        shared_legend: false,
        panels: vec![Panel {
            title: title.into(),
            x: x_axis(),
            y: Axis::new("latency", Scale::Log, Unit::Micros),
            mark: Mark::LinesPoints,
            legend: Legend::Right,
            series: lines,
        }],
    })
}

/// Several results' curves: p50 beside p99, one line per result, one
/// legend row; `None` when no result has points.
pub fn compare_chart(curves: &[Curve]) -> Option<Chart> {
    let drawn: Vec<&Curve> = curves.iter().filter(|c| !c.points.is_empty()).collect();
    if drawn.is_empty() {
        return None;
    }
    let panel = |title: &str, pick: fn(&CurvePoint) -> u64| {
        let mut lines: Vec<Series> = drawn
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let color = LINES[i % LINES.len()];
                series(&c.label, color, at(c, pick, |_, _| true), Look::Plain)
            })
            .collect();
        lines.extend(marks(&drawn, &[pick]));
        Panel {
            title: title.into(),
            x: x_axis(),
            y: Axis::new(title, Scale::Log, Unit::Micros),
            mark: Mark::LinesPoints,
            legend: Legend::None,
            series: lines,
        }
    };
    Some(Chart {
        size: COMPARE_SIZE,
        grid: (1, 2),
        shared_legend: true,
        panels: vec![panel("p50", p50), panel("p99", p99)],
    })
}

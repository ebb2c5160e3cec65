//! The fault events of a run and their impact (see `metrics::impact`): the
//! report's "Faults and recovery" section (one row per event of the rare
//! kinds, one per kind for all), the marks on the "Over time" chart, and
//! the text summary's lines.
//!
//! Frequent kinds (more than [`FREQUENT`] events, e.g. a split every
//! 200 ms) overlap: their events are not listed one by one, and their
//! marks carry no label each (the legend names them).

use std::fmt::Write as _;

use super::page::{self, Table, TableCell, num, text};
use super::plot::{Look, RGBColor, Series};
use crate::metrics::RunResult;
use crate::metrics::impact::compute::{HOLD_MS, PRE_WINDOW_MS, RECOVERED, SMOOTH_MS};
use crate::metrics::impact::{EventImpact, FREQUENT, FaultImpact, KindImpact, Source};
use crate::vocab::fmt::micros;

/// The section's HTML, or `None` when the result has no fault event.
pub fn section(r: &RunResult) -> Option<String> {
    let f = r.faults.as_ref().filter(|f| !f.events.is_empty())?;
    let mut html = page::para("note", &explanation());
    let listed: Vec<&EventImpact> = f
        .events
        .iter()
        .filter(|e| !frequent(f, &e.kind, e.source))
        .collect();
    if !listed.is_empty() {
        html.push_str(&events_table(&listed));
    }
    html.push_str("<h3>By kind</h3>");
    html.push_str(&kinds_table(&f.kinds));
    if f.dropped_events > 0 {
        let note = format!(
            "{} more injected events happened but were not kept (the stand-in's log is bounded).",
            page::count(f.dropped_events)
        );
        html.push_str(&page::para("note", &note));
    }
    Some(html)
}

fn explanation() -> String {
    format!(
        "Each fault event, injected by the stand-in or observed by our client in its RPC answers, with its impact. Pre-fault level: ok ops per second over the {}s before the event (or the level before an earlier event that had not recovered yet). Dip: the lowest throughput over {}ms windows after it, as the share of the level lost. p99: the per-second p99 before the event and the highest after it until recovery. Recovery: from the event until throughput is back at {}% of the level and stays there for {}s; \"not recovered\" when the run ended first. Kinds with more than {FREQUENT} events are summed up by kind only.",
        PRE_WINDOW_MS / 1000,
        SMOOTH_MS,
        (RECOVERED * 100.0).round(),
        HOLD_MS as f64 / 1000.0,
    )
}

/// Whether `kind` (from `source`) has too many events to list.
fn frequent(f: &FaultImpact, kind: &str, source: Source) -> bool {
    f.kinds
        .iter()
        .any(|k| k.kind == kind && k.source == source && k.count as usize > FREQUENT)
}

fn source(s: Source) -> &'static str {
    match s {
        Source::Injected => "injected",
        Source::Observed => "observed",
    }
}

fn events_table(events: &[&EventImpact]) -> String {
    let mut t = Table::new(
        "faults",
        &[
            "event",
            "source",
            "at",
            "what",
            "pre-fault ops/s",
            "dip",
            "p99 before → peak",
            "recovery",
        ],
    );
    for e in events {
        let class = if e.not_recovered() { "flagged" } else { "" };
        t.row_of_class(
            class,
            [
                text(e.kind.clone()),
                text(source(e.source)),
                num(format!("{:.2}s", e.t_s)),
                text(e.detail.clone()),
                num(e.level_ops_per_s.map_or("–".into(), page::rate)),
                num(e.dip.map_or("–".into(), percent)),
                num(p99s(e.p99_before_us, e.p99_peak_us)),
                TableCell::Num(recovery(e.recovery_ms, e.note.as_deref())),
            ],
        );
    }
    t.finish()
}

fn kinds_table(kinds: &[KindImpact]) -> String {
    let mut t = Table::new(
        "faults",
        &[
            "kind",
            "source",
            "events",
            "worst recovery",
            "median recovery",
            "not recovered",
            "worst dip",
            "worst p99",
        ],
    );
    for k in kinds {
        let class = if k.not_recovered > 0 { "flagged" } else { "" };
        t.row_of_class(
            class,
            [
                text(k.kind.clone()),
                text(source(k.source)),
                num(page::count(k.count)),
                num(worst(k)),
                num(k.median_recovery_ms.map_or("–".into(), ms)),
                num(page::count(k.not_recovered)),
                num(k.worst_dip.map_or("–".into(), percent)),
                num(k.worst_p99_us.map_or("–".into(), micros)),
            ],
        );
    }
    t.finish()
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn ms(n: u64) -> String {
    match n {
        0 => "0ms".into(),
        n => micros(n * 1000),
    }
}

fn p99s(before: Option<u64>, peak: Option<u64>) -> String {
    match (before, peak) {
        (None, None) => "–".into(),
        (b, p) => format!(
            "{} → {}",
            b.map_or("–".into(), micros),
            p.map_or("–".into(), micros)
        ),
    }
}

fn recovery(ms_: Option<u64>, note: Option<&str>) -> String {
    match (ms_, note) {
        (Some(n), _) => ms(n),
        (None, Some(note)) => note.to_string(),
        (None, None) => "–".into(),
    }
}

/// A kind's worst recovery: "not recovered" when one of its events did
/// not.
fn worst(k: &KindImpact) -> String {
    match k.worst_recovery_ms {
        _ if k.not_recovered > 0 => "not recovered".into(),
        Some(n) => ms(n),
        None => "–".into(),
    }
}

/// The colour of a kind's marks: the outage's steps red to green, the
/// busy burst purple, splits and leader moves grey and brown.
fn color(kind: &str) -> RGBColor {
    match kind {
        "store_offline" | "store_unreachable" => RGBColor(214, 39, 40),
        "failover" => RGBColor(255, 127, 14),
        "store_online" | "store_reachable" => RGBColor(44, 160, 44),
        "busy_burst" | "busy_burst_end" | "server_is_busy" => RGBColor(148, 103, 189),
        "leader_transfer" | "not_leader" => RGBColor(140, 86, 75),
        _ => RGBColor(127, 127, 127),
    }
}

/// The marks for the "Over time" chart: one series of vertical lines per
/// kind, at the events' seconds into the measured phase. The injected
/// events when there are any (the observed ones are the client's view of
/// them), else the observed ones (a real cluster).
pub(super) fn marks(r: &RunResult) -> Vec<Series> {
    let Some(f) = &r.faults else {
        return Vec::new();
    };
    let injected = f.events.iter().any(|e| e.source == Source::Injected);
    let wanted = if injected {
        Source::Injected
    } else {
        Source::Observed
    };
    let span = r.measured.duration_s;
    f.kinds
        .iter()
        .filter(|k| k.source == wanted)
        .filter_map(|k| {
            let at: Vec<(f64, f64)> = f
                .events
                .iter()
                .filter(|e| e.source == wanted && e.kind == k.kind)
                .filter(|e| (0.0..=span).contains(&e.t_s))
                .map(|e| (e.t_s, 0.0))
                .collect();
            if at.is_empty() {
                return None;
            }
            let labelled = k.count as usize <= FREQUENT;
            let name = if labelled {
                k.kind.clone()
            } else {
                format!("{} ×{}", k.kind, k.count)
            };
            Some(Series {
                name,
                color: color(&k.kind),
                points: at,
                ranges: Vec::new(),
                look: Look::Rule { labelled },
            })
        })
        .collect()
}

/// The text summary's lines: one per kind with its worst recovery.
pub(super) fn summary(out: &mut String, r: &RunResult) {
    let Some(f) = r.faults.as_ref().filter(|f| !f.kinds.is_empty()) else {
        return;
    };
    let _ = writeln!(
        out,
        "fault events (recovery: back at {}% of the pre-fault throughput for {}s):",
        (RECOVERED * 100.0).round(),
        HOLD_MS as f64 / 1000.0
    );
    for k in &f.kinds {
        let mut line = format!(
            "  {} ×{} ({}): worst recovery {}",
            k.kind,
            k.count,
            source(k.source),
            worst(k)
        );
        if k.not_recovered > 0 {
            let _ = write!(line, " ({} of {})", k.not_recovered, k.count);
        }
        if let Some(d) = k.worst_dip {
            let _ = write!(line, ", worst dip {}", percent(d));
        }
        if let Some(p) = k.worst_p99_us {
            let _ = write!(line, ", worst p99 {}", micros(p));
        }
        let _ = writeln!(out, "{line}");
    }
}

//! Each event's impact, read off the fine timeline (throughput) and the
//! per-second timeline (p99, whose histograms merge exactly):
//! - the **pre-fault level**: ok completions per second over the
//!   [`PRE_WINDOW_MS`] before the event (from the measured start when it
//!   is nearer; none when less than [`MIN_PRE_MS`] was measured before);
//!   an event that comes while an earlier one has not recovered yet takes
//!   that one's level (the level before the trouble began);
//! - the **dip**: the lowest throughput over [`SMOOTH_MS`] windows from the
//!   event to its recovery (at least [`HOLD_MS`]), as the fraction lost;
//! - the **p99 spike**: the highest per-second p99 from the event's second
//!   to its recovery's, against the p99 of the seconds before it;
//! - the **recovery**: from the event to the start of the first slot from
//!   which every [`SMOOTH_MS`] window over the next [`HOLD_MS`] is back at
//!   [`RECOVERED`] of the level; `None` ("not recovered") when the run
//!   ends first, or (not judged) when less than [`HOLD_MS`] was measured
//!   after the event.

use super::fine::FineTimeline;
use super::{EventImpact, RawEvent};
use crate::metrics::hist;
use crate::metrics::result::Interval;

/// The window before an event whose throughput is its pre-fault level.
pub const PRE_WINDOW_MS: i64 = 5_000;
/// Less measured time than this before an event gives it no level.
pub const MIN_PRE_MS: i64 = 500;
/// Throughput is read over windows this wide (5 slots).
pub const SMOOTH_MS: i64 = 500;
/// Recovered: back at this fraction of the pre-fault level ...
pub const RECOVERED: f64 = 0.9;
/// ... and staying there this long.
pub const HOLD_MS: i64 = 1_000;

/// The note of an event that did not recover before the run ended.
pub const NOT_RECOVERED: &str = "not recovered";
/// The note of an event too near the run's end to judge its recovery
/// (less than [`HOLD_MS`] measured after it).
pub const TOO_LATE: &str = "too near the end to judge";

/// The run's measured span, Unix µs, and its per-second timeline.
pub struct MeasuredSpan<'a> {
    pub from_us: i64,
    pub to_us: i64,
    pub timeline: &'a [Interval],
}

/// The figures of every event, in order.
pub fn impacts(
    events: &[RawEvent],
    fine: &FineTimeline,
    span: &MeasuredSpan<'_>,
) -> Vec<EventImpact> {
    let mut out: Vec<EventImpact> = Vec::with_capacity(events.len());
    // The level before the trouble under way began, and when it ends
    // (Unix µs): an event before then is part of it.
    let mut chain: Option<(f64, i64)> = None;
    for e in events {
        let carried = chain.filter(|&(_, until)| e.at_unix_us < until);
        let row = one(e, carried.map(|(l, _)| l), fine, span);
        if let Some(level) = row.level_ops_per_s {
            let until = row
                .recovery_ms
                .map_or(i64::MAX, |ms| e.at_unix_us + ms as i64 * 1000);
            chain = Some(match carried {
                Some((l, u)) => (l, u.max(until)),
                None => (level, until),
            });
        }
        out.push(row);
    }
    out
}

/// One event's figures; `level` when an earlier event's trouble is still
/// under way.
fn one(
    e: &RawEvent,
    level: Option<f64>,
    fine: &FineTimeline,
    span: &MeasuredSpan<'_>,
) -> EventImpact {
    let mut row = EventImpact::bare(e, span.from_us);
    let slot_us = i64::from(fine.slot_ms.max(1)) * 1000;
    // Slots wholly inside the measured span.
    let first = fine.index_of(span.from_us + slot_us - 1);
    let end = fine.index_of(span.to_us); // exclusive: the last may be cut
    let at = fine.index_of(e.at_unix_us);
    if fine.ok.is_empty() || at >= fine.ok.len() as i64 || e.at_unix_us >= span.to_us {
        row.note = Some("past the fine timeline".into());
        return row;
    }
    let Some(level) = level.or_else(|| pre_level(fine, first, at, slot_us)) else {
        row.note = Some("no pre-fault level (too little measured before it)".into());
        return row;
    };
    row.level_ops_per_s = Some(round1(level));
    let win = (SMOOTH_MS * 1000 / slot_us).max(1);
    let hold = (HOLD_MS * 1000 / slot_us).max(win);
    let mean = |i: i64| (i..i + win).map(|j| fine.ok_rate(j)).sum::<f64>() / win as f64;
    let start = at.max(first);
    let recovered =
        (start..=end - hold).find(|&r| (r..=r + hold - win).all(|j| mean(j) >= RECOVERED * level));
    let dip_to = recovered.map_or(end, |r| r.max(start + hold)) - win;
    let low = (start..=dip_to.max(start))
        .map(mean)
        .fold(f64::INFINITY, f64::min);
    if low.is_finite() && start + win <= end {
        row.low_ops_per_s = Some(round1(low));
        row.dip = Some(round4(if level > 0.0 {
            (1.0 - low / level).max(0.0)
        } else {
            0.0
        }));
    }
    let back_us = recovered.map(|r| fine.start_us(r).max(e.at_unix_us));
    row.recovery_ms = back_us.map(|us| ((us - e.at_unix_us) / 1000) as u64);
    if recovered.is_none() {
        // Recovery needs the hold window measured after the event: with
        // less, the run did not show it either way.
        let note = if start > end - hold {
            TOO_LATE
        } else {
            NOT_RECOVERED
        };
        row.note = Some(note.into());
    }
    let until = back_us.unwrap_or(span.to_us);
    (row.p99_before_us, row.p99_peak_us) = p99s(span.timeline, e.at_unix_us, until);
    row
}

/// Ok completions per second over the window before slot `at`.
fn pre_level(fine: &FineTimeline, first: i64, at: i64, slot_us: i64) -> Option<f64> {
    let from = (at - PRE_WINDOW_MS * 1000 / slot_us).max(first);
    let n = at - from;
    if n * slot_us < MIN_PRE_MS * 1000 {
        return None;
    }
    Some((from..at).map(|i| fine.ok_rate(i)).sum::<f64>() / n as f64)
}

/// The p99 of the whole seconds in the pre-fault window (their histograms
/// added), and the highest per-second p99 from the event's second to the
/// second of `until`.
fn p99s(timeline: &[Interval], at_us: i64, until_us: i64) -> (Option<u64>, Option<u64>) {
    let at_s = at_us.div_euclid(1_000_000);
    let from_s = (at_us - PRE_WINDOW_MS * 1000).div_euclid(1_000_000);
    let mut before = hist::new_hist();
    for i in timeline
        .iter()
        .filter(|i| i.unix_s >= from_s && i.unix_s + i64::from(i.width_s) <= at_s)
    {
        for op in i.ops.values() {
            if let Ok(h) = hist::decode(&op.histogram) {
                hist::add(&mut before, &h);
            }
        }
    }
    let p99_before = (!before.is_empty()).then(|| before.value_at_quantile(0.99));
    let until_s = until_us.div_euclid(1_000_000);
    let peak = timeline
        .iter()
        .filter(|i| i.unix_s + i64::from(i.width_s) > at_s && i.unix_s <= until_s)
        .filter(|i| i.ops.values().any(|o| o.ok > 0))
        .map(|i| i.p99_us)
        .max();
    (p99_before, peak)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// [`impacts`] of the injected and the observed events apart (an observed
/// event is the client's view of an injected one, not a second fault),
/// then in time order.
pub fn impacts_by_source(
    events: &[RawEvent],
    fine: &FineTimeline,
    span: &MeasuredSpan<'_>,
) -> Vec<EventImpact> {
    use super::Source;
    let of =
        |s: Source| -> Vec<RawEvent> { events.iter().filter(|e| e.source == s).cloned().collect() };
    let mut rows = impacts(&of(Source::Injected), fine, span);
    rows.extend(impacts(&of(Source::Observed), fine, span));
    rows.sort_by_key(|r| (r.at_unix_us, r.source));
    rows
}

//! Fault impact: the fault events of a run (injected by the stand-in, or
//! what our client observed of a real cluster) and, for each, the
//! throughput dip, the p99 spike and the time to recover, read off a fine
//! (100 ms) timeline of completions.
//!
//! - [`fine`]: the fine timeline, counted by each worker ([`FineRec`]),
//!   added up by the collector ([`Fine`]) and kept in the result
//!   ([`FineTimeline`]), with the fault signals of the RPC answers;
//! - [`observed`]: the events our client observed, derived from those
//!   signals after the run;
//! - [`compute`]: each event's figures, and what recovery means.
//!
//! The injected events come from the stand-in's event log through a
//! [`FaultLog`] the driver reads at the end of the run, mapping their
//! instants onto the wall clock with its own `Clock` (the one its workers
//! cut seconds and slots with). A merge adds the drivers' fine timelines
//! and per-second timelines, joins their injected events, and computes
//! every figure again from the sums ([`FaultImpact::recompute`]).

pub mod compute;
pub mod fine;
pub mod observed;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use fine::{Fine, FineRec, FineTimeline};

/// The injected events as a log hands them out: (instant, kind, detail).
pub type LoggedEvents = (Vec<(std::time::Instant, &'static str, String)>, u64);
use crate::metrics::Clock;
use crate::metrics::result::Interval;

/// Kinds with more events than this are shown grouped (count, worst and
/// median recovery) rather than one row each.
pub const FREQUENT: usize = 10;

/// Where the driver reads the injected fault events at the end of a run
/// (the embedded cluster's log), with how many were not kept.
#[derive(Clone)]
pub struct FaultLog(Arc<dyn Fn() -> LoggedEvents + Send + Sync>);

impl FaultLog {
    pub fn new(read: impl Fn() -> LoggedEvents + Send + Sync + 'static) -> FaultLog {
        FaultLog(Arc::new(read))
    }

    /// The events so far, their instants mapped with `clock`.
    pub fn read(&self, clock: &Clock) -> (Vec<RawEvent>, u64) {
        let (events, dropped) = (self.0)();
        let raw = events
            .iter()
            .map(|(at, kind, detail)| RawEvent {
                kind: (*kind).into(),
                source: Source::Injected,
                at_unix_us: clock.unix_us(*at),
                detail: detail.clone(),
            })
            .collect();
        (raw, dropped)
    }
}

impl std::fmt::Debug for FaultLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultLog")
    }
}

/// Who saw an event: the stand-in injected it, or our client observed it
/// in its RPC answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Injected,
    Observed,
}

/// An event before its figures: what, who saw it, when (Unix µs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RawEvent {
    pub at_unix_us: i64,
    pub kind: String,
    pub source: Source,
    pub detail: String,
}

impl RawEvent {
    pub fn observed(kind: &str, at_unix_us: i64, detail: String) -> RawEvent {
        RawEvent {
            at_unix_us,
            kind: kind.into(),
            source: Source::Observed,
            detail,
        }
    }
}

/// One event and its impact. Figures are `None` where they cannot be
/// read (see `note`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventImpact {
    pub kind: String,
    pub source: Source,
    pub at_unix_us: i64,
    /// Seconds after the measured phase began.
    pub t_s: f64,
    pub detail: String,
    /// Ok completions per second before it.
    pub level_ops_per_s: Option<f64>,
    /// The lowest throughput after it (500 ms windows).
    pub low_ops_per_s: Option<f64>,
    /// The fraction of the level lost at the lowest (0: none, 1: all).
    pub dip: Option<f64>,
    pub p99_before_us: Option<u64>,
    pub p99_peak_us: Option<u64>,
    /// From the event until throughput was back (see [`compute`]).
    pub recovery_ms: Option<u64>,
    /// Why a figure is missing: "not recovered", "no pre-fault level",
    /// "too near the end", "past the fine timeline".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl EventImpact {
    fn bare(e: &RawEvent, measured_from_us: i64) -> EventImpact {
        EventImpact {
            kind: e.kind.clone(),
            source: e.source,
            at_unix_us: e.at_unix_us,
            t_s: ((e.at_unix_us - measured_from_us) as f64 / 1e3).round() / 1e3,
            detail: e.detail.clone(),
            level_ops_per_s: None,
            low_ops_per_s: None,
            dip: None,
            p99_before_us: None,
            p99_peak_us: None,
            recovery_ms: None,
            note: None,
        }
    }

    /// Whether the event did not recover before the run ended (with the
    /// hold window measured after it).
    pub fn not_recovered(&self) -> bool {
        self.recovery_ms.is_none() && self.note.as_deref() == Some(compute::NOT_RECOVERED)
    }

    /// Whether the event's recovery was judged: it recovered, or did not
    /// with time to.
    pub fn judged(&self) -> bool {
        self.recovery_ms.is_some() || self.not_recovered()
    }

    fn raw(&self) -> RawEvent {
        RawEvent {
            at_unix_us: self.at_unix_us,
            kind: self.kind.clone(),
            source: self.source,
            detail: self.detail.clone(),
        }
    }
}

/// The events of one kind and source, summed up: the worst figures judge
/// a kind (`recovery after split < 1s`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindImpact {
    pub kind: String,
    pub source: Source,
    pub count: u64,
    /// Events of the kind that did not recover before the run ended.
    pub not_recovered: u64,
    /// The longest recovery (`None` when one did not recover, or none had
    /// figures).
    pub worst_recovery_ms: Option<u64>,
    pub median_recovery_ms: Option<u64>,
    pub worst_dip: Option<f64>,
    pub worst_p99_us: Option<u64>,
}

/// The result's `faults` section: the events and their impact, and the
/// fine timeline they were read from (kept so that a merge can add the
/// drivers' up and compute the figures again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FaultImpact {
    /// Every event, injected and observed, in time order, with its figures.
    pub events: Vec<EventImpact>,
    /// Per kind and source.
    pub kinds: Vec<KindImpact>,
    /// Injected events that happened but were not logged (the log is
    /// bounded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_events: u64,
    pub fine: FineTimeline,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FaultImpact {
    /// The section for a run: its injected events (none off the embedded
    /// cluster) and those observed in `fine`; `None` when there are no
    /// events and the run sent no RPC (an in-process target: nothing to
    /// say).
    pub fn build(
        injected: Vec<RawEvent>,
        dropped: u64,
        fine: FineTimeline,
        span: &compute::MeasuredSpan<'_>,
    ) -> Option<FaultImpact> {
        let mut events = injected;
        events.extend(observed::derive(&fine));
        if events.is_empty() && !fine.rpcs {
            return None;
        }
        events.sort();
        events.dedup();
        let rows = compute::impacts_by_source(&events, &fine, span);
        Some(FaultImpact {
            kinds: kinds(&rows),
            events: rows,
            dropped_events: dropped,
            fine,
        })
    }

    /// Merges several results' sections: fine timelines added, injected
    /// events joined, observed ones derived again from the sum, every
    /// figure computed again.
    pub fn recompute(
        all: &[&FaultImpact],
        span: &compute::MeasuredSpan<'_>,
    ) -> Option<FaultImpact> {
        if all.is_empty() {
            return None;
        }
        let fine = FineTimeline::sum(all.iter().map(|f| &f.fine));
        let injected = all
            .iter()
            .flat_map(|f| &f.events)
            .filter(|e| e.source == Source::Injected)
            .map(EventImpact::raw)
            .collect();
        let dropped = all.iter().map(|f| f.dropped_events).sum();
        FaultImpact::build(injected, dropped, fine, span)
    }

    /// The events a threshold on `kind` judges: those of the kind (`any`:
    /// every injected event, or every observed one when none was injected).
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a EventImpact> + 'a {
        let injected = self.events.iter().any(|e| e.source == Source::Injected);
        self.events.iter().filter(move |e| match kind {
            "any" => (e.source == Source::Injected) == injected,
            k => e.kind == k,
        })
    }
}

/// Per kind and source, in order of first appearance.
fn kinds(rows: &[EventImpact]) -> Vec<KindImpact> {
    let mut by: BTreeMap<(Source, &str), Vec<&EventImpact>> = BTreeMap::new();
    for r in rows {
        by.entry((r.source, &r.kind)).or_default().push(r);
    }
    let mut out: Vec<KindImpact> = by
        .into_iter()
        .map(|((source, kind), rows)| {
            let not_recovered = rows.iter().filter(|r| r.not_recovered()).count() as u64;
            let mut rec: Vec<u64> = rows.iter().filter_map(|r| r.recovery_ms).collect();
            rec.sort_unstable();
            KindImpact {
                kind: kind.to_string(),
                source,
                count: rows.len() as u64,
                not_recovered,
                worst_recovery_ms: (not_recovered == 0).then(|| rec.last().copied()).flatten(),
                median_recovery_ms: rec.get(rec.len() / 2).copied(),
                worst_dip: rows.iter().filter_map(|r| r.dip).reduce(f64::max),
                worst_p99_us: rows.iter().filter_map(|r| r.p99_peak_us).max(),
            }
        })
        .collect();
    out.sort_by_key(|k| {
        let first = rows
            .iter()
            .position(|r| r.kind == k.kind && r.source == k.source);
        first.unwrap_or(usize::MAX)
    });
    out
}

/// The span `compute` reads for a result being built or merged.
pub fn span(from_us: i64, to_us: i64, timeline: &[Interval]) -> compute::MeasuredSpan<'_> {
    compute::MeasuredSpan {
        from_us,
        to_us,
        timeline,
    }
}

#[cfg(test)]
mod tests;

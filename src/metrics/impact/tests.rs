//! The impact computation on synthetic timelines.

use super::compute::{HOLD_MS, MeasuredSpan};
use super::*;

const T0: i64 = 1_700_000_000_000; // ms

/// A fine timeline of `ok` per 100 ms slot from T0.
fn timeline(ok: &[u64]) -> FineTimeline {
    FineTimeline {
        slot_ms: 100,
        from_unix_ms: T0,
        ok: ok.to_vec(),
        failed: vec![0; ok.len()],
        signals: Vec::new(),
        rpcs: true,
    }
}

fn event(kind: &str, at_ms: i64) -> RawEvent {
    RawEvent {
        at_unix_us: (T0 + at_ms) * 1000,
        kind: kind.into(),
        source: Source::Injected,
        detail: String::new(),
    }
}

fn run(ok: &[u64], events: Vec<RawEvent>) -> FaultImpact {
    let fine = timeline(ok);
    let span = MeasuredSpan {
        from_us: T0 * 1000,
        to_us: (T0 + 100 * ok.len() as i64) * 1000,
        timeline: &[],
    };
    FaultImpact::build(events, 0, fine, &span).unwrap()
}

/// `secs` of 100 ops per slot (1000/s), then `down` slots of `low`, then
/// 100 again for `after` slots.
fn dip(pre: usize, down: usize, low: u64, after: usize) -> Vec<u64> {
    let mut v = vec![100; pre];
    v.extend(std::iter::repeat_n(low, down));
    v.extend(std::iter::repeat_n(100, after));
    v
}

#[test]
fn a_clean_dip_recovers_when_throughput_is_back_and_stays() {
    // 5 s at 1000/s, an event at 5 s, 1.2 s at 100/s, then back.
    let f = run(&dip(50, 12, 10, 40), vec![event("store_offline", 5_000)]);
    let e = &f.events[0];
    assert_eq!(e.level_ops_per_s, Some(1000.0));
    assert_eq!(e.low_ops_per_s, Some(100.0));
    assert_eq!(e.dip, Some(0.9));
    assert_eq!(e.recovery_ms, Some(1_200), "{e:?}");
    assert_eq!(f.kinds[0].worst_recovery_ms, Some(1_200));
    // A shallower dip that never falls below 90% recovers at once.
    let f = run(&dip(50, 12, 95, 40), vec![event("split", 5_000)]);
    assert_eq!(f.events[0].recovery_ms, Some(0));
    assert_eq!(f.events[0].dip, Some(0.05));
}

#[test]
fn a_run_that_ends_before_recovery_says_not_recovered() {
    let f = run(&dip(50, 30, 0, 0), vec![event("store_offline", 5_000)]);
    let e = &f.events[0];
    assert_eq!(
        (e.recovery_ms, e.note.as_deref()),
        (None, Some("not recovered"))
    );
    assert_eq!(e.dip, Some(1.0));
    assert_eq!(f.kinds[0].not_recovered, 1);
    assert_eq!(f.kinds[0].worst_recovery_ms, None);
    // Back for less than the hold window at the end: still not recovered.
    let hold = (HOLD_MS / 100) as usize;
    let f = run(
        &dip(50, 10, 0, hold - 1),
        vec![event("store_offline", 5_000)],
    );
    assert_eq!(f.events[0].recovery_ms, None);
}

#[test]
fn an_event_too_near_the_end_is_not_judged_not_recovered() {
    // An outage at 5 s that recovers, then a split 0.5 s before the end:
    // less than the hold window after it, so neither recovered nor not.
    let f = run(
        &dip(50, 10, 0, 40),
        vec![event("store_offline", 5_000), event("split", 9_500)],
    );
    let split = &f.events[1];
    assert_eq!(split.recovery_ms, None);
    assert_eq!(split.note.as_deref(), Some(compute::TOO_LATE));
    assert!(!split.not_recovered() && !split.judged());
    assert!(f.events[0].judged());
    assert_eq!(f.kinds[1].not_recovered, 0);
    // The same split with the hold window after it recovers at once.
    let f = run(&dip(50, 10, 0, 50), vec![event("split", 9_500)]);
    assert_eq!(f.events[0].recovery_ms, Some(0));
}

#[test]
fn an_event_inside_an_earlier_ones_trouble_keeps_the_level_before_it() {
    // Down at 5 s for 2 s; a second event at 6 s, mid-outage: its own
    // 5 s before are half outage, but its level is the first's.
    let f = run(
        &dip(50, 20, 0, 40),
        vec![event("store_offline", 5_000), event("failover", 6_000)],
    );
    let (a, b) = (&f.events[0], &f.events[1]);
    assert_eq!(a.recovery_ms, Some(2_000));
    assert_eq!(b.level_ops_per_s, Some(1000.0), "{b:?}");
    assert_eq!(b.recovery_ms, Some(1_000));
    // Without the carried level it would have been 80% of 1000/s.
    let alone = run(&dip(50, 20, 0, 40), vec![event("failover", 6_000)]);
    assert_eq!(alone.events[0].level_ops_per_s, Some(800.0));
}

#[test]
fn an_event_with_too_little_measured_before_it_gets_no_figures() {
    let f = run(&dip(3, 10, 0, 40), vec![event("split", 300)]);
    assert!(
        f.events[0]
            .note
            .as_deref()
            .unwrap()
            .contains("no pre-fault level")
    );
    assert_eq!(f.events[0].recovery_ms, None);
    assert_eq!(f.kinds[0].not_recovered, 0);
}

#[test]
fn frequent_events_are_grouped_by_kind_with_worst_and_median() {
    let ok = dip(50, 5, 0, 100);
    let events = vec![
        event("split", 5_000),
        event("split", 8_000),
        event("split", 11_000),
    ];
    let f = run(&ok, events);
    let k = &f.kinds[0];
    assert_eq!((k.kind.as_str(), k.count), ("split", 3));
    assert_eq!(k.worst_recovery_ms, Some(500));
    assert_eq!(k.median_recovery_ms, Some(0));
}

#[test]
fn observed_events_come_from_the_signals() {
    let mut fine = timeline(&dip(50, 10, 0, 40));
    let down = fine::Signals {
        failed: 3,
        failed_stores: 0b10,
        ..Default::default()
    };
    let back = fine::Signals {
        answered_stores: 0b10,
        ..Default::default()
    };
    let moved = fine::Signals {
        not_leader: 4,
        answered_stores: 0b1,
        ..Default::default()
    };
    let mut f = fine.to_fine();
    f.slots[50].signals = down;
    f.slots[53].signals = moved;
    f.slots[60].signals = back;
    fine = FineTimeline::from_fine(&f);
    let span = MeasuredSpan {
        from_us: T0 * 1000,
        to_us: (T0 + 10_000) * 1000,
        timeline: &[],
    };
    let f = FaultImpact::build(Vec::new(), 0, fine, &span).unwrap();
    let seen: Vec<(&str, f64)> = f.events.iter().map(|e| (e.kind.as_str(), e.t_s)).collect();
    assert_eq!(
        seen,
        [
            ("store_unreachable", 5.0),
            ("not_leader", 5.3),
            ("store_reachable", 6.0)
        ]
    );
    assert!(f.events.iter().all(|e| e.source == Source::Observed));
    assert_eq!(f.events[0].recovery_ms, Some(1_000));
}

//! Fault events as our client observed them, derived after the run from
//! the fine timeline's signals (so a merge derives them again from the
//! drivers' signals added up): a store becoming unreachable (an RPC to it
//! got no usable answer) and reachable again (it answered), and bursts of
//! region errors by reason (`not_leader`: leaders moved;
//! `epoch_not_match`: regions split; `server_is_busy`).

use super::RawEvent;
use super::fine::{FineTimeline, MAX_STORES, Signals};

/// Region errors of one reason less than this far apart belong to one
/// burst (slots of the fine timeline: 1 s).
pub const BURST_GAP_SLOTS: i64 = 10;

/// The observed events, in time order.
pub fn derive(fine: &FineTimeline) -> Vec<RawEvent> {
    let mut out = Vec::new();
    bursts(fine, &mut out);
    stores(fine, &mut out);
    out.sort_by(|a, b| a.at_unix_us.cmp(&b.at_unix_us).then(a.kind.cmp(&b.kind)));
    out
}

type Count = fn(&Signals) -> u32;

/// A burst of one reason's answers: its first slot, as one event.
fn bursts(fine: &FineTimeline, out: &mut Vec<RawEvent>) {
    let reasons: [(&str, Count); 3] = [
        ("not_leader", |s| s.not_leader),
        ("epoch_not_match", |s| s.epoch_not_match),
        ("server_is_busy", |s| s.server_is_busy),
    ];
    for (kind, count) in reasons {
        // (first slot, last slot, answers) of the burst under way.
        let mut burst: Option<(i64, i64, u64)> = None;
        let close = |b: (i64, i64, u64), out: &mut Vec<RawEvent>| {
            let secs = (b.1 - b.0 + 1) as f64 * f64::from(fine.slot_ms) / 1000.0;
            out.push(RawEvent::observed(
                kind,
                fine.start_us(b.0),
                format!("{} {kind} answers over {secs:.1}s", b.2),
            ));
        };
        for s in &fine.signals {
            let (i, n) = (i64::from(s.i), count(&s.signals));
            if n == 0 {
                continue;
            }
            burst = match burst {
                Some((a, last, m)) if i - last <= BURST_GAP_SLOTS => Some((a, i, m + u64::from(n))),
                Some(b) => {
                    close(b, out);
                    Some((i, i, u64::from(n)))
                }
                None => Some((i, i, u64::from(n))),
            };
        }
        if let Some(b) = burst {
            close(b, out);
        }
    }
}

/// Per store: unreachable at the first slot an RPC to it failed, while it
/// was reachable; reachable again at the first later slot it answered.
fn stores(fine: &FineTimeline, out: &mut Vec<RawEvent>) {
    for store in 1..=MAX_STORES {
        let bit = 1u64 << (store - 1);
        let mut down = false;
        for s in &fine.signals {
            let sig = &s.signals;
            let at = fine.start_us(i64::from(s.i));
            if !down && sig.failed_stores & bit != 0 && sig.answered_stores & bit == 0 {
                down = true;
                let detail = format!("store {store}: RPCs got no answer");
                out.push(RawEvent::observed("store_unreachable", at, detail));
            } else if down && sig.answered_stores & bit != 0 {
                down = false;
                let detail = format!("store {store} answered again");
                out.push(RawEvent::observed("store_reachable", at, detail));
            }
        }
    }
}

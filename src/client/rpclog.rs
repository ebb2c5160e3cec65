//! The steps the client itself takes for one op, in the order they start:
//! each store RPC attempt (which RPC, store, region, how long, what came
//! back, and the time the store says it spent on it), each region lookup
//! at PD, each wait for a timestamp, and each backoff before sending again.
//!
//! An op's requests may run concurrently (a batch split by region), so they
//! log into a fixed array of relaxed atomics that lives in the op's
//! [`RequestStats`](super::RequestStats): claiming a slot is one
//! `fetch_add`, writing it five stores; nothing is locked or allocated.
//! When the op is over the backend hands the log to the op's
//! [`Trace`] ([`RpcLog::flush`]). Steps past [`SLOTS`] are counted, not
//! kept.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::rpc::RPC_NAMES;
use super::stats::Reason;
use crate::vocab::ErrorKind;
use crate::vocab::trace::{self, Answer, ServerTime, Step, Trace};

/// Steps kept per op attempt: enough for a read that resolves a lock the
/// most times the default transaction options allow (16 rounds of a read,
/// a timestamp and a `KvCheckTxnStatus`) and a commit besides.
pub const SLOTS: usize = 128;

/// What a slot holds (the low byte of its last word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Rpc = 1,
    Tso = 2,
    PdRegion = 3,
    Backoff = 4,
    /// An RPC whose answer said how long the store spent on it.
    TimedRpc = 5,
}

/// An [`Answer`] in 16 bits: its class in the high byte, the reason or
/// error kind in the low one.
fn encode(answer: Answer) -> u64 {
    match answer {
        Answer::Ok => 0,
        Answer::RegionError(name) => {
            let r = Reason::ALL.iter().position(|r| r.name() == name);
            0x100 | r.unwrap_or(Reason::OtherRegionError as usize) as u64
        }
        Answer::KeyError(kind) => 0x200 | kind as u64,
        Answer::Failed(kind) => 0x300 | kind as u64,
    }
}

fn decode(code: u64) -> Answer {
    let low = (code & 0xff) as usize;
    let kind = || ErrorKind::ALL.get(low).copied().unwrap_or(ErrorKind::Other);
    match code >> 8 {
        1 => Answer::RegionError(Reason::ALL.get(low).map_or("other", |r| r.name())),
        2 => Answer::KeyError(kind()),
        3 => Answer::Failed(kind()),
        _ => Answer::Ok,
    }
}

/// One op attempt's log (see the module doc).
#[derive(Debug)]
pub struct RpcLog {
    origin: Instant,
    next: AtomicUsize,
    /// Per slot: `start << 32 | duration` (µs, the start after `origin`
    /// rounded up),
    /// the region (of an RPC) or the timestamp (of a wait for one), and
    /// `store << 32 | answer << 16 | rpc or reason << 8 | kind`, and for
    /// an RPC with the store's time `total << 32 | wait` and `process <<
    /// 32 | kv read` (µs).
    slots: [[AtomicU64; 5]; SLOTS],
}

impl Default for RpcLog {
    fn default() -> RpcLog {
        RpcLog {
            origin: trace::now(),
            next: AtomicUsize::new(0),
            slots: [const { [const { AtomicU64::new(0) }; 5] }; SLOTS],
        }
    }
}

/// Whole microseconds, at most `u32::MAX` (71 minutes).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).map_or(u64::from(u32::MAX), |us| us.min(u64::from(u32::MAX)))
}

impl RpcLog {
    fn log(&self, at: Instant, dur: Duration, value: u64, meta: u64, server: [u64; 2]) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        // The start rounded up, so that a step never seems to begin before
        // the step of the transaction that made it (a resolution before
        // its `KvCheckTxnStatus`).
        let since = at.saturating_duration_since(self.origin) + Duration::from_nanos(999);
        let [a, b] = server;
        let words = [(micros(since) << 32) | micros(dur), value, meta, a, b];
        for (w, v) in slot.iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
    }

    /// RPC number `rpc` (an index of [`RPC_NAMES`]) to `store` for `region`,
    /// sent at `at` and answered (or given up) now, with the time the store
    /// says it spent on it, if its answer says so.
    pub(crate) fn rpc(
        &self,
        at: Instant,
        rpc: u8,
        (store, region): (u64, u64),
        answer: Answer,
        server: Option<ServerTime>,
    ) {
        let dur = trace::now().saturating_duration_since(at);
        let (kind, words) = match server {
            Some(t) => (
                Kind::TimedRpc,
                [
                    (u64::from(t.total_us) << 32) | u64::from(t.wait_us),
                    (u64::from(t.process_us) << 32) | u64::from(t.kv_read_us),
                ],
            ),
            None => (Kind::Rpc, [0, 0]),
        };
        let meta = (store.min(u64::from(u32::MAX)) << 32)
            | (encode(answer) << 16)
            | (u64::from(rpc) << 8)
            | kind as u64;
        self.log(at, dur, region, meta, words);
    }

    /// A wait for a timestamp, begun at `at`, that got `ts` (0: none).
    pub(crate) fn tso(&self, at: Instant, ts: u64) {
        let dur = trace::now().saturating_duration_since(at);
        self.log(at, dur, ts, Kind::Tso as u64, [0, 0]);
    }

    /// A region lookup at PD, begun at `at`.
    pub(crate) fn pd_region(&self, at: Instant) {
        let dur = trace::now().saturating_duration_since(at);
        self.log(at, dur, 0, Kind::PdRegion as u64, [0, 0]);
    }

    /// A backoff of `slept` for `reason`, starting now.
    pub(crate) fn backoff(&self, reason: Reason, slept: Duration) {
        let meta = ((reason as u64) << 8) | Kind::Backoff as u64;
        self.log(trace::now(), slept, 0, meta, [0, 0]);
    }

    /// Steps logged, kept or not.
    pub fn len(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the logged steps to `trace` (and counts the ones not kept).
    pub fn flush(&self, trace: &mut Trace) {
        let n = self.len();
        for slot in &self.slots[..n.min(SLOTS)] {
            let [when, value, meta, times, work] =
                slot.each_ref().map(|w| w.load(Ordering::Relaxed));
            let step = match (meta & 0xff) as u8 {
                k if k == Kind::Rpc as u8 || k == Kind::TimedRpc as u8 => Step::Rpc {
                    rpc: RPC_NAMES
                        .get(((meta >> 8) & 0xff) as usize)
                        .copied()
                        .unwrap_or("?"),
                    store: meta >> 32,
                    region: value,
                    answer: decode((meta >> 16) & 0xffff),
                    server: (k == Kind::TimedRpc as u8).then_some(ServerTime {
                        total_us: (times >> 32) as u32,
                        wait_us: times as u32,
                        process_us: (work >> 32) as u32,
                        kv_read_us: work as u32,
                    }),
                },
                k if k == Kind::Tso as u8 => Step::Tso { ts: value },
                k if k == Kind::PdRegion as u8 => Step::PdRegion,
                _ => Step::Backoff {
                    reason: Reason::ALL
                        .get(((meta >> 8) & 0xff) as usize)
                        .map_or("other", |r| r.name()),
                },
            };
            let at = self.origin + Duration::from_micros(when >> 32);
            trace.push(at, Duration::from_micros(when & 0xffff_ffff), step);
        }
        trace.count_dropped(n.saturating_sub(SLOTS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_survives_its_encoding() {
        let mut answers = vec![Answer::Ok];
        answers.extend(Reason::ALL.iter().map(|r| Answer::RegionError(r.name())));
        for k in ErrorKind::ALL {
            answers.push(Answer::KeyError(*k));
            answers.push(Answer::Failed(*k));
        }
        for a in answers {
            assert_eq!(decode(encode(a)), a);
        }
    }

    #[test]
    fn the_log_hands_its_steps_to_a_trace() {
        let log = RpcLog::default();
        let at = trace::now();
        log.tso(at, 42);
        log.rpc(
            at,
            3,
            (2, 5),
            Answer::KeyError(ErrorKind::KeyIsLocked),
            None,
        );
        let took = ServerTime {
            total_us: 900,
            wait_us: 300,
            process_us: 600,
            kv_read_us: 200,
        };
        log.rpc(at, 4, (u64::from(u32::MAX), 6), Answer::Ok, Some(took));
        log.backoff(Reason::NotLeader, Duration::from_millis(2));
        let mut t = Trace::default();
        log.flush(&mut t);
        let steps: Vec<Step> = t.spans().iter().map(|s| s.step).collect();
        assert_eq!(
            steps,
            [
                Step::Tso { ts: 42 },
                Step::Rpc {
                    rpc: RPC_NAMES[3],
                    store: 2,
                    region: 5,
                    answer: Answer::KeyError(ErrorKind::KeyIsLocked),
                    server: None,
                },
                Step::Rpc {
                    rpc: RPC_NAMES[4],
                    store: u64::from(u32::MAX),
                    region: 6,
                    answer: Answer::Ok,
                    server: Some(took),
                },
                Step::Backoff {
                    reason: "not_leader"
                }
            ]
        );
        assert_eq!(t.spans()[3].dur, Duration::from_millis(2));
    }
}

//! The slowest ops of the measured phase, per op, each with its trace: the
//! result's `slow_ops` section.
//!
//! Every op is traced ([`Trace`], a buffer each worker reuses), but only
//! the slowest are kept: each recorder keeps, per op, the [`KEEP`] slowest
//! it saw, in slots whose buffers it reuses, so an op that does not beat
//! the slowest kept so far costs one comparison, and one that does costs a
//! copy of its trace into memory the recorder already holds. The collector
//! keeps the [`KEEP`] slowest across workers, and `merge` across results:
//! both exactly, by one order ([`rank`]).

use std::cmp::Ordering;
use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::recorder::Clock;
use crate::vocab::trace::{Answer, Resolution, Span, Step, Trace};
use crate::vocab::{ErrorKind, OpError, Outcome};

/// How many of the slowest ops the result keeps per op. Set here, for
/// every run and every merge.
pub const KEEP: usize = 5;

/// One of the slowest ops, as the result keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SlowOp {
    /// From its intended start to its end (closed loop: from its start),
    /// as the latency histograms count it.
    pub latency_us: u64,
    /// When it started, Unix microseconds.
    pub start_unix_us: i64,
    /// How late it started after its intended start (open loop: behind
    /// schedule); 0 in a closed loop.
    pub queued_us: u64,
    /// `ok`, `failed` or `unknown` (a failure whose effect is unknown).
    pub outcome: String,
    /// The final error's kind, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its steps in the order they began, from its start.
    pub trace: Vec<TraceLine>,
    /// Steps not kept (a trace keeps its first 256).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub steps_not_kept: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One step of a slow op.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TraceLine {
    /// When it began, microseconds after the op started.
    pub at_us: u64,
    /// How long it took, microseconds.
    pub dur_us: u64,
    #[serde(flatten)]
    pub step: TraceStep,
}

/// What a step was (see `vocab::trace::Step`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TraceStep {
    /// Waited for a timestamp from PD and got `ts` (a transaction's first
    /// is its start_ts, the `lock_ts` of its locks in other traces).
    Tso { ts: u64 },
    /// Asked PD for a key's region (a region cache miss).
    PdRegion,
    /// One attempt of a store RPC.
    Rpc {
        rpc: String,
        store: u64,
        region: u64,
        /// `ok`, `region_error`, `key_error` or `failed`.
        answer: String,
        /// The region error, key error or failure, by kind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Slept before sending a request again, after `reason`.
    Backoff { reason: String },
    /// Waited for another transaction's pessimistic lock.
    LockWait,
    /// Resolved a lock on `key` held by transaction `lock_ts` (primary
    /// `primary`): what its primary said.
    Resolve {
        lock_ts: u64,
        key: String,
        primary: String,
        /// `committed`, `rolled_back`, `pushed`, `alive`, `txn_not_found`
        /// or `failed`.
        found: String,
        /// Why the resolution failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Slept because a lock's holder lives (the `attempt`th time).
    LockBackoff { attempt: u32 },
    /// A heartbeat on the transaction's primary.
    Heartbeat { ok: bool },
    /// The driver's `attempt`th attempt failed with `error`; the step is the
    /// backoff slept before the next.
    Retry { attempt: u32, error: String },
}

fn show(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

impl TraceStep {
    fn of(trace: &Trace, step: &Step) -> TraceStep {
        let kind = |k: ErrorKind| Some(k.as_str().to_string());
        match *step {
            Step::Tso { ts } => TraceStep::Tso { ts },
            Step::PdRegion => TraceStep::PdRegion,
            Step::Rpc {
                rpc,
                store,
                region,
                answer,
                ..
            } => {
                let (answer, error) = match answer {
                    Answer::Ok => ("ok", None),
                    Answer::RegionError(e) => ("region_error", Some(e.to_string())),
                    Answer::KeyError(k) => ("key_error", kind(k)),
                    Answer::Failed(k) => ("failed", kind(k)),
                };
                TraceStep::Rpc {
                    rpc: rpc.into(),
                    store,
                    region,
                    answer: answer.into(),
                    error,
                }
            }
            Step::Backoff { reason } => TraceStep::Backoff {
                reason: reason.into(),
            },
            Step::LockWait => TraceStep::LockWait,
            Step::Resolve {
                lock_ts,
                key,
                primary,
                found,
            } => {
                let (found, error) = match found {
                    Resolution::Committed => ("committed", None),
                    Resolution::RolledBack => ("rolled_back", None),
                    Resolution::Pushed => ("pushed", None),
                    Resolution::Alive => ("alive", None),
                    Resolution::TxnNotFound => ("txn_not_found", None),
                    Resolution::Failed(k) => ("failed", kind(k)),
                };
                TraceStep::Resolve {
                    lock_ts,
                    key: show(trace.key(key)),
                    primary: show(trace.key(primary)),
                    found: found.into(),
                    error,
                }
            }
            Step::LockBackoff { attempt } => TraceStep::LockBackoff { attempt },
            Step::Heartbeat { ok } => TraceStep::Heartbeat { ok },
            Step::Retry { attempt, kind } => TraceStep::Retry {
                attempt,
                error: kind.as_str().into(),
            },
        }
    }
}

/// `KvGet store 2 region 5: key_error key_is_locked`, ...
impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let err = |e: &Option<String>| e.as_deref().map(|e| format!(" {e}")).unwrap_or_default();
        match self {
            TraceStep::Tso { ts } => write!(f, "timestamp {ts} from PD"),
            TraceStep::PdRegion => f.write_str("region lookup at PD (cache miss)"),
            TraceStep::Rpc {
                rpc,
                store,
                region,
                answer,
                error,
            } => write!(
                f,
                "{rpc} to store {store}, region {region}: {answer}{}",
                err(error)
            ),
            TraceStep::Backoff { reason } => write!(f, "backoff after {reason}"),
            TraceStep::LockWait => f.write_str("waited for a pessimistic lock"),
            TraceStep::Resolve {
                lock_ts,
                key,
                primary,
                found,
                error,
            } => write!(
                f,
                "resolve lock on {key} of txn {lock_ts} (primary {primary}): {found}{}",
                err(error)
            ),
            TraceStep::LockBackoff { attempt } => {
                write!(f, "backoff #{attempt}: the lock's holder lives")
            }
            TraceStep::Heartbeat { ok } => {
                write!(f, "heartbeat: {}", if *ok { "ok" } else { "failed" })
            }
            TraceStep::Retry { attempt, error } => {
                write!(f, "attempt {attempt} failed ({error}); driver backoff")
            }
        }
    }
}

/// `+1.20ms  350µs  KvGet to store 2, ...`
impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::vocab::fmt::micros;
        let at = format!("+{}", micros(self.at_us));
        write!(f, "{at:>9} {:>8}  {}", micros(self.dur_us), self.step)
    }
}

/// The order of slowness: the slower first; of two as slow, the one that
/// started first; then by every other field, so the order is total and
/// keeping the slowest is exact however results are grouped.
pub fn rank(a: &SlowOp, b: &SlowOp) -> Ordering {
    b.latency_us
        .cmp(&a.latency_us)
        .then(a.start_unix_us.cmp(&b.start_unix_us))
        .then_with(|| a.cmp(b))
}

/// Adds `more` to `kept` and keeps the [`KEEP`] slowest, slowest first.
pub fn keep_slowest(kept: &mut Vec<SlowOp>, more: impl IntoIterator<Item = SlowOp>) {
    kept.extend(more);
    kept.sort_by(rank);
    kept.truncate(KEEP);
}

/// One kept op in a recorder, its trace copied into a reused buffer.
#[derive(Debug)]
struct Slot {
    latency_us: u64,
    start: Instant,
    queued_us: u64,
    result: Result<(), (ErrorKind, bool)>,
    trace: Trace,
}

/// One op's slots in a recorder.
#[derive(Debug, Default)]
struct Top {
    slots: Vec<Slot>,
    /// When all slots are taken: the least latency among them, which an op
    /// must beat to be kept.
    floor: u64,
}

/// What a finished op was, as [`Slowest::offer`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub latency_us: u64,
    pub intended: Instant,
    pub start: Instant,
    pub result: &'a Result<Outcome, OpError>,
    /// Its effect is unknown (a timeout after sending).
    pub undetermined: bool,
}

/// A recorder's slowest ops, per op (see the module doc).
#[derive(Debug)]
pub struct Slowest {
    ops: Vec<Top>,
}

impl Slowest {
    pub fn new(nops: usize) -> Slowest {
        Slowest {
            ops: (0..nops).map(|_| Top::default()).collect(),
        }
    }

    /// Keeps op `op` if it is among the slowest so far. An op slower than
    /// none kept costs one comparison.
    #[inline]
    pub fn offer(&mut self, op: usize, done: Finished<'_>, trace: &Trace) {
        let top = &mut self.ops[op];
        if top.slots.len() == KEEP && done.latency_us <= top.floor {
            return;
        }
        top.admit(done, trace);
    }

    /// The slowest kept, per op, slowest first, for the result; empties
    /// the slots.
    pub fn take(&mut self, clock: &Clock) -> Vec<Vec<SlowOp>> {
        self.ops
            .iter_mut()
            .map(|top| {
                let mut ops: Vec<SlowOp> = top.slots.drain(..).map(|s| s.op(clock)).collect();
                ops.sort_by(rank);
                top.floor = 0;
                ops
            })
            .collect()
    }
}

impl Top {
    /// Takes `done` into a free slot, or into the least slow one's (of
    /// two as slow, the later's: it ranks below).
    #[cold]
    fn admit(&mut self, done: Finished<'_>, trace: &Trace) {
        let result = match done.result {
            Ok(_) => Ok(()),
            Err(e) => Err((e.kind, done.undetermined || e.undetermined)),
        };
        let slot = if self.slots.len() < KEEP {
            self.slots.push(Slot {
                latency_us: 0,
                start: done.start,
                queued_us: 0,
                result,
                trace: Trace::default(),
            });
            self.slots.last_mut()
        } else {
            self.slots
                .iter_mut()
                .min_by(|a, b| a.latency_us.cmp(&b.latency_us).then(b.start.cmp(&a.start)))
        };
        let Some(slot) = slot else {
            return;
        };
        slot.latency_us = done.latency_us;
        slot.start = done.start;
        slot.queued_us = micros(done.start.saturating_duration_since(done.intended));
        slot.result = result;
        slot.trace.copy_from(trace);
        if self.slots.len() == KEEP {
            self.floor = self.slots.iter().map(|s| s.latency_us).min().unwrap_or(0);
        }
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Slot {
    fn op(&self, clock: &Clock) -> SlowOp {
        let mut trace: Vec<TraceLine> = self
            .trace
            .spans()
            .iter()
            .map(|s: &Span| TraceLine {
                at_us: micros(s.at.saturating_duration_since(self.start)),
                dur_us: micros(s.dur),
                step: TraceStep::of(&self.trace, &s.step),
            })
            .collect();
        // In the order they began; of two begun in one microsecond, the
        // longer (a resolution) before the shorter (its RPCs).
        trace.sort_by_key(|l| (l.at_us, std::cmp::Reverse(l.dur_us)));
        let (outcome, error) = match self.result {
            Ok(()) => ("ok", None),
            Err((kind, false)) => ("failed", Some(kind.as_str().to_string())),
            Err((kind, true)) => ("unknown", Some(kind.as_str().to_string())),
        };
        SlowOp {
            latency_us: self.latency_us,
            start_unix_us: clock.unix_us(self.start),
            queued_us: self.queued_us,
            outcome: outcome.into(),
            error,
            trace,
            steps_not_kept: self.trace.dropped(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_recorder_keeps_exactly_the_slowest_with_their_traces() {
        let base = Instant::now();
        let clock = Clock::new(base);
        let mut slowest = Slowest::new(2);
        let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
        let latencies = [5u64, 90, 3, 90, 70, 1, 200, 8, 90, 60, 150, 2];
        for (i, &latency_us) in latencies.iter().enumerate() {
            let start = base + Duration::from_millis(i as u64);
            let mut trace = Trace::default();
            trace.push(
                start,
                Duration::from_micros(latency_us),
                Step::Tso { ts: 1 },
            );
            let done = Finished {
                latency_us,
                intended: start,
                start,
                result: &ok,
                undetermined: false,
            };
            slowest.offer(i % 2, done, &trace);
        }
        let kept = slowest.take(&clock);
        let lat = |ops: &[SlowOp]| ops.iter().map(|o| o.latency_us).collect::<Vec<_>>();
        // Op 0 saw 5, 3, 70, 200, 90, 150; op 1 saw 90, 90, 1, 8, 60, 2.
        assert_eq!(lat(&kept[0]), [200, 150, 90, 70, 5]);
        assert_eq!(lat(&kept[1]), [90, 90, 60, 8, 2]);
        let first_90 = clock.unix_us(base + Duration::from_millis(1));
        assert_eq!(
            kept[1][0].start_unix_us, first_90,
            "ties: the earlier first"
        );
        for op in kept.iter().flatten() {
            assert_eq!(op.trace.len(), 1);
            assert_eq!(op.trace[0].dur_us, op.latency_us, "its own trace");
        }
    }
}

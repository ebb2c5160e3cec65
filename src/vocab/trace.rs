//! What happened on the way through one op, step by step: the timestamps
//! it waited for, each store RPC with its store, region, duration and
//! answer, the backoffs slept, the locks it met and how their resolution
//! went, lock waits, heartbeats, and the driver's retries.
//!
//! Every op is traced, because whether it is slow is known only at its end:
//! a [`Trace`] is a buffer each worker owns (inside its [`Events`]) and
//! reuses, cleared after every op, so recording a step is a push into
//! memory that is already there once the worker is warm. The metrics
//! recorder copies a trace out only when its op is among the slowest.
//!
//! Steps hold instants; they are turned into offsets from the op's start
//! when a slow op is written into the result.
//!
//! [`Events`]: super::Events

use std::time::{Duration, Instant};

use super::error::ErrorKind;

/// Steps kept per op; later ones are only counted ([`Trace::dropped`]).
pub const MAX_STEPS: usize = 256;

/// Bytes kept of each key a step names; longer keys are cut.
pub const MAX_KEY_BYTES: usize = 64;

/// The instant a step is stamped with: tokio's clock (the one tests pause),
/// which is the system's monotonic clock when nothing pauses it.
#[inline]
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// How a store answered one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An answer without error.
    Ok,
    /// A region error (`not_leader`, `epoch_not_match`, ...) or a busy
    /// store: the request is routed and sent again.
    RegionError(&'static str),
    /// An answer carrying a key error of this kind (a lock in the way, a
    /// write conflict, ...): the caller's business.
    KeyError(ErrorKind),
    /// No usable answer: a timeout, an unreachable store, a gRPC error.
    Failed(ErrorKind),
}

/// The time a store says it spent on one RPC: its answer's
/// `exec_details_v2.time_detail_v2`, whole microseconds (`u32::MAX` at
/// most). A store fills it in for the RPCs TiKV fills it in for (see
/// `cluster::store`); the client keeps what came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerTime {
    /// `total_rpc_wall_time_ns`: from the store receiving the request to
    /// its answer being ready.
    pub total_us: u32,
    /// `wait_wall_time_ns`: queued in the store (scheduler latches, read
    /// pool) before it ran.
    pub wait_us: u32,
    /// `process_wall_time_ns`: running it.
    pub process_us: u32,
    /// `kv_read_wall_time_ns`: reading the keys (reads only).
    pub kv_read_us: u32,
}

/// What resolving a lock found out about the transaction that holds it
/// (asked at the lock's primary with `check_txn_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It committed: the lock was committed too (`resolve_lock`).
    Committed,
    /// It was rolled back (or its TTL ran out and it was rolled back now):
    /// the lock was rolled back too.
    RolledBack,
    /// It lives, but will commit after the reader's snapshot: the reader
    /// reads past the lock.
    Pushed,
    /// It lives (its primary is locked and its TTL has not run out).
    Alive,
    /// Its primary holds neither its lock nor a record of it (its prewrite
    /// has not reached the primary yet, or the primary is locked by
    /// another transaction): treated as alive.
    TxnNotFound,
    /// The resolution itself failed.
    Failed(ErrorKind),
}

/// A key a step names, kept in its trace's key buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyRef {
    start: u32,
    len: u32,
}

/// One step of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waited for a timestamp from PD, and got `ts` (0: none). The first
    /// of a transaction is its start_ts, which other ops' traces name when
    /// they meet its locks.
    Tso { ts: u64 },
    /// Asked PD for the region of a key (a region cache miss).
    PdRegion,
    /// One store RPC (`KvGet`, `KvPrewrite`, ...), one attempt of it, with
    /// the time the store says it spent on it when its answer says so.
    Rpc {
        rpc: &'static str,
        store: u64,
        region: u64,
        answer: Answer,
        server: Option<ServerTime>,
    },
    /// Slept before sending a request again, after `reason` (a region
    /// error, a busy or unreachable store).
    Backoff { reason: &'static str },
    /// A pessimistic lock request waited for another transaction's lock.
    LockWait,
    /// Resolved a lock met on `key`, held by transaction `lock_ts` whose
    /// primary is `primary`.
    Resolve {
        lock_ts: u64,
        key: KeyRef,
        primary: KeyRef,
        found: Resolution,
    },
    /// Slept because a lock's holder lives, before trying again (the
    /// `attempt`th time).
    LockBackoff { attempt: u32 },
    /// A heartbeat on the transaction's primary lock.
    Heartbeat { ok: bool },
    /// The driver's `attempt`th attempt failed with `kind`; the step lasts
    /// the backoff slept before the next.
    Retry { attempt: u32, kind: ErrorKind },
}

/// A step with when it began and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub at: Instant,
    pub dur: Duration,
    pub step: Step,
}

/// One op's steps (see the module doc). Cleared, never shrunk, between ops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    spans: Vec<Span>,
    keys: Vec<u8>,
    dropped: u32,
}

impl Trace {
    /// Records `step`, begun at `at`, lasting `dur`.
    #[inline]
    pub fn push(&mut self, at: Instant, dur: Duration, step: Step) {
        if self.spans.len() < MAX_STEPS {
            self.spans.push(Span { at, dur, step });
        } else {
            self.count_dropped(1);
        }
    }

    /// Records `step`, begun at `at` and ended now.
    #[inline]
    pub fn since(&mut self, at: Instant, step: Step) {
        self.push(at, now().saturating_duration_since(at), step);
    }

    /// Records the resolution of a lock on `key` held by `lock_ts` whose
    /// primary is `primary`, begun at `at` and ended now.
    pub fn resolved(
        &mut self,
        at: Instant,
        lock_ts: u64,
        key: &[u8],
        primary: &[u8],
        found: Resolution,
    ) {
        if self.spans.len() >= MAX_STEPS {
            self.count_dropped(1);
            return;
        }
        let key = self.keep(key);
        let primary = self.keep(primary);
        let step = Step::Resolve {
            lock_ts,
            key,
            primary,
            found,
        };
        self.since(at, step);
    }

    fn keep(&mut self, key: &[u8]) -> KeyRef {
        let key = &key[..key.len().min(MAX_KEY_BYTES)];
        let start = self.keys.len() as u32;
        self.keys.extend_from_slice(key);
        KeyRef {
            start,
            len: key.len() as u32,
        }
    }

    /// The key `k` names (empty if it names none of this trace's).
    pub fn key(&self, k: KeyRef) -> &[u8] {
        let (start, end) = (k.start as usize, (k.start + k.len) as usize);
        self.keys.get(start..end).unwrap_or_default()
    }

    /// The steps, in the order they were recorded (which is not always the
    /// order they began in: a transport hands its RPCs over at the end).
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Steps not kept, past [`MAX_STEPS`] (or past a bound of whoever
    /// logged them first).
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Counts `n` steps that were not kept.
    pub fn count_dropped(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.dropped = self.dropped.saturating_add(n);
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.dropped == 0
    }

    /// Forgets every step, keeping the memory.
    pub fn clear(&mut self) {
        self.spans.clear();
        self.keys.clear();
        self.dropped = 0;
    }

    /// Becomes a copy of `other`, reusing this trace's memory.
    pub fn copy_from(&mut self, other: &Trace) {
        self.spans.clear();
        self.spans.extend_from_slice(&other.spans);
        self.keys.clear();
        self.keys.extend_from_slice(&other.keys);
        self.dropped = other.dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_keeps_its_steps_and_keys_up_to_its_bounds() {
        let mut t = Trace::default();
        let at = Instant::now();
        t.push(at, Duration::from_micros(5), Step::Tso { ts: 1 });
        let long = vec![b'k'; MAX_KEY_BYTES + 10];
        t.resolved(at, 7, b"a", &long, Resolution::TxnNotFound);
        let Step::Resolve { key, primary, .. } = t.spans()[1].step else {
            panic!("{:?}", t.spans());
        };
        assert_eq!(t.key(key), b"a");
        assert_eq!(t.key(primary).len(), MAX_KEY_BYTES, "keys are cut");
        for _ in 0..MAX_STEPS {
            t.push(at, Duration::ZERO, Step::LockWait);
        }
        assert_eq!(t.spans().len(), MAX_STEPS);
        assert_eq!(t.dropped(), 2);
        let mut copy = Trace::default();
        copy.copy_from(&t);
        assert_eq!(copy, t);
        t.clear();
        assert!(t.is_empty());
    }
}

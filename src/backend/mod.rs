//! The contract between the driver and whatever executes operations.
//!
//! The driver knows nothing of TiKV: it hands a [`Backend`] one [`Op`] at a
//! time and gets back an [`Outcome`] or an [`OpError`] whose [`ErrorKind`]
//! names what went wrong. Backends report what happened on the way (lock
//! waits, reroutes, rows scanned) into the op's [`Events`]. The in-memory map
//! here, the storage engine and the gRPC client all sit behind this one trait.
//!
//! What each op means is written once, in `ops`, for the two backends that
//! have transactions (the engine in process and the gRPC client). The
//! invariant checks add three ops (`Transfer`, `Decrement`, `Lease`) and
//! three reads that only the checks use, off the hot path (`read_raw`,
//! `scan_raw`, `read_txn`).

mod inproc;
mod memory;
mod noop;
mod ops;
mod tikv;

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

pub use inproc::InprocBackend;
pub use memory::MemoryBackend;
pub use noop::NoopBackend;
pub use tikv::TikvBackend;

/// How a transaction takes its locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Percolator: read at start_ts, detect conflicts at prewrite.
    Optimistic,
    /// Lock each written key as the transaction goes (waiting for holders),
    /// then prewrite and commit.
    Pessimistic,
}

impl LockMode {
    pub const ALL: [LockMode; 2] = [LockMode::Optimistic, LockMode::Pessimistic];

    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Optimistic => "optimistic",
            LockMode::Pessimistic => "pessimistic",
        }
    }
}

/// How a check op reaches its key: a compare-and-swap on the raw key space,
/// or a transaction (either lock mode) on the transactional key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckMode {
    Cas,
    Optimistic,
    Pessimistic,
}

impl CheckMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckMode::Cas => "cas",
            CheckMode::Optimistic => "optimistic",
            CheckMode::Pessimistic => "pessimistic",
        }
    }

    /// The transaction's lock mode; `None` for CAS.
    pub fn lock(self) -> Option<LockMode> {
        match self {
            CheckMode::Cas => None,
            CheckMode::Optimistic => Some(LockMode::Optimistic),
            CheckMode::Pessimistic => Some(LockMode::Pessimistic),
        }
    }
}

/// One operation, borrowing its keys and values from the generator's buffers.
///
/// Raw operations (`Get` .. `Cas`, `BatchPut`) address the raw key space;
/// `Txn` and `TxnBatchPut` address the transactional key space, which is
/// separate, as in TiKV. The check ops address the space their mode names.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Raw point read.
    Get { key: &'a [u8] },
    /// Raw write.
    Put { key: &'a [u8], value: &'a [u8] },
    /// Raw forward scan of at most `limit` pairs from `start`.
    Scan { start: &'a [u8], limit: u32 },
    /// Raw delete of several keys in one request.
    BatchDelete { keys: &'a [Vec<u8>] },
    /// Read the key, then compare-and-swap it from what was read to `value`.
    /// A lost race is [`Outcome::Mismatch`], not an error.
    Cas { key: &'a [u8], value: &'a [u8] },
    /// A transaction: snapshot-read `reads`, then read-modify-write each of
    /// `writes` (setting it to `value`), and commit.
    Txn {
        reads: &'a [Vec<u8>],
        writes: &'a [Vec<u8>],
        value: &'a [u8],
        lock: LockMode,
    },
    /// Raw bulk write, used by the load phase.
    BatchPut { pairs: &'a [(Vec<u8>, Vec<u8>)] },
    /// Transactional bulk write, used by the load phase.
    TxnBatchPut { pairs: &'a [(Vec<u8>, Vec<u8>)] },
    /// The bank check: a transaction reading both balances (decimal i64
    /// text; `get_for_update` when pessimistic), writing `from - amount` and
    /// `to + amount`, and committing. Conflicts are errors.
    Transfer {
        from: &'a [u8],
        to: &'a [u8],
        amount: i64,
        lock: LockMode,
    },
    /// The inventory check: read the stock (decimal text); at 0 answer
    /// [`Outcome::Mismatch`] (sold out), else write it one lower, by
    /// compare-and-swap (a lost race is a `write_conflict` error) or in a
    /// transaction.
    Decrement { key: &'a [u8], mode: CheckMode },
    /// The lock check: take the lock `key` (CAS: a lease of `lease` written
    /// as `owner` and its expiry, refused with `key_is_locked` while another
    /// owner's lease runs; pessimistic: `get_for_update`, waiting for the
    /// holder), note the entry, sleep `hold`, note the exit, release.
    /// Answers [`Outcome::Held`].
    Lease {
        key: &'a [u8],
        owner: u64,
        lease: Duration,
        hold: Duration,
        mode: CheckMode,
    },
}

/// What a successful operation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A read whose key had no value.
    NotFound,
    /// A compare-and-swap whose comparison failed (another writer won), or
    /// a decrement of a sold-out stock.
    Mismatch,
    /// A critical section ran from `entered` to `left` under the lock.
    Held {
        entered: Instant,
        left: Instant,
    },
}

impl Outcome {
    /// Name used in the result file; `None` for a plain success.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Outcome::Done => None,
            Outcome::NotFound => Some("not_found"),
            Outcome::Mismatch => Some("cas_mismatch"),
            Outcome::Held { .. } => None,
        }
    }
}

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every way an operation can fail, each with a stable name used in
        /// workload files (`retry.on`) and result files (`errors.<name>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorKind {
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<ErrorKind> {
                match name {
                    $($name => Some(ErrorKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_kinds! {
    /// The operation (or one attempt of it) ran out of time; its effect is unknown.
    Timeout = "timeout",
    /// The server could not be reached or refused the connection.
    Unavailable = "unavailable",
    /// The server asked us to back off (`ServerIsBusy`).
    ServerIsBusy = "server_is_busy",
    /// The request went to a store that does not lead the region.
    NotLeader = "not_leader",
    /// The region split or merged since we cached it.
    EpochNotMatch = "epoch_not_match",
    /// The store does not know the region.
    RegionNotFound = "region_not_found",
    /// The key is outside the region the request named.
    KeyNotInRegion = "key_not_in_region",
    /// Another transaction holds a lock on a key we need.
    KeyIsLocked = "key_is_locked",
    /// A newer write conflicts with this transaction.
    WriteConflict = "write_conflict",
    /// Waiting for the lock would have closed a wait-for cycle.
    Deadlock = "deadlock",
    /// An insert found the key already present.
    AlreadyExist = "already_exist",
    /// Commit found neither our lock nor a commit record (we were rolled back).
    TxnLockNotFound = "txn_lock_not_found",
    /// The transaction's primary lock is gone and no commit record exists.
    TxnNotFound = "txn_not_found",
    /// The commit timestamp is below the lock's min_commit_ts.
    CommitTsExpired = "commit_ts_expired",
    /// Any other error the server or transport reported.
    Other = "other",
}

impl ErrorKind {
    /// Region errors: the client's routing is stale and a retry after a cache
    /// refresh is expected to succeed.
    pub fn is_region_error(self) -> bool {
        matches!(
            self,
            ErrorKind::NotLeader
                | ErrorKind::EpochNotMatch
                | ErrorKind::RegionNotFound
                | ErrorKind::KeyNotInRegion
        )
    }

    /// Every valid name, comma separated, for error messages.
    pub fn choices() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation (or attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub kind: ErrorKind,
    /// True when the operation may or may not have taken effect (a timeout
    /// after the request was sent). Such operations are counted apart and
    /// never as applied or lost.
    pub undetermined: bool,
    pub message: String,
}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            undetermined: false,
            message: message.into(),
        }
    }

    pub fn undetermined(kind: ErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            undetermined: true,
            message: message.into(),
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for OpError {}

/// Named counters a backend bumps while executing an op: lock waits, lock
/// wait time, reroutes, rows. Owned by one worker, so no synchronisation;
/// a handful of names, so a linear scan beats a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    entries: Vec<(&'static str, u64)>,
}

impl Events {
    pub fn add(&mut self, name: &'static str, n: u64) {
        match self.entries.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => self.entries.push((name, n)),
        }
    }

    pub fn get(&self, name: &str) -> u64 {
        self.entries
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.entries.iter().copied()
    }

    pub fn merge(&mut self, other: &Events) {
        for (k, v) in other.iter() {
            self.add(k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A key and its value, as the checks' scans return them.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Describes a backend for the result file and the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    /// `inproc`, `embedded`, `external`, `noop`, ...
    pub kind: String,
    /// Human description: what serves the requests.
    pub description: String,
}

/// Executes operations. Implementations are shared by all workers.
pub trait Backend: Send + Sync + 'static {
    /// Executes one attempt of `op`. Retries are the driver's business.
    fn execute(
        &self,
        op: Op<'_>,
        events: &mut Events,
    ) -> impl Future<Output = Result<Outcome, OpError>> + Send;

    /// What this backend is, for the result file.
    fn target(&self) -> TargetInfo;

    /// Reads raw `keys` (for checks, not the hot path): one answer per key,
    /// in order.
    fn read_raw(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        let _ = keys;
        async { Err(cannot_read(&self.target())) }
    }

    /// Scans at most `limit` raw pairs of `[start, end)` (empty end:
    /// unbounded) in key order, across regions (for checks; the caller
    /// pages).
    fn scan_raw(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pair>, OpError>> + Send {
        let _ = (start, end, limit);
        async { Err(cannot_read(&self.target())) }
    }

    /// Reads transactional `keys` at one snapshot (one start_ts), for
    /// checks: one answer per key, in order.
    fn read_txn(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        let _ = keys;
        async { Err(cannot_read(&self.target())) }
    }
}

fn cannot_read(target: &TargetInfo) -> OpError {
    OpError::new(
        ErrorKind::Other,
        format!(
            "the {} backend cannot read data back for checks",
            target.kind
        ),
    )
}

//! The operations a driver hands a backend, and what they answer.
//!
//! Raw operations (`Get` .. `Cas`, `BatchPut`) address the raw key space;
//! `Txn` and `TxnBatchPut` the transactional one, which is separate, as in
//! TiKV. The check ops address the space their mode names.

use std::time::{Duration, Instant};

/// A key and its value, as the checks' scans return them.
pub type Pair = (Vec<u8>, Vec<u8>);

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

impl Op<'_> {
    /// Whether the op writes, so that a timeout leaves its effect unknown.
    /// Every op is named: a new one does not compile until it says.
    pub fn mutates(&self) -> bool {
        match self {
            Op::Get { .. } | Op::Scan { .. } => false,
            Op::Put { .. }
            | Op::BatchDelete { .. }
            | Op::Cas { .. }
            | Op::Txn { .. }
            | Op::BatchPut { .. }
            | Op::TxnBatchPut { .. }
            | Op::Transfer { .. }
            | Op::Decrement { .. }
            | Op::Lease { .. } => true,
        }
    }
}

/// The value of a free (released) lease of [`Op::Lease`] by CAS.
pub const LEASE_FREE: &[u8] = b"free";

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

//! Key-level errors in the shapes of kvproto's `KeyError`, `LockInfo`,
//! `WriteConflict` and `Deadlock`, so that the gRPC stand-in can copy them
//! field for field onto the wire and the client can act on them.

use std::fmt;

/// The kind of a lock, numbered as kvproto's `Op` enum (`lock_type` in
/// `LockInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LockType {
    /// A prewritten put.
    Put = 0,
    /// A prewritten delete.
    Del = 1,
    /// A prewritten read lock (`SELECT ... FOR UPDATE` style): commits as a
    /// `Lock` write, changes no value.
    Lock = 2,
    /// A pessimistic lock taken before prewrite; holds no value and never
    /// blocks readers.
    PessimisticLock = 5,
}

impl LockType {
    /// The kvproto `Op` number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// Why a write conflicted, numbered as kvproto's `WriteConflict.Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ConflictReason {
    /// Not given.
    Unknown = 0,
    /// An optimistic prewrite met a write committed after its start_ts.
    Optimistic = 1,
    /// A pessimistic lock met a write newer than its for_update_ts, or its
    /// wait ended because the holder released the lock: retry the lock with
    /// a fresh for_update_ts.
    PessimisticRetry = 2,
    /// The transaction's own rollback record is there: it was rolled back
    /// (by a resolver) before this prewrite arrived.
    SelfRolledBack = 3,
    /// A read-committed read met a newer version (not produced here).
    RcCheckTs = 4,
    /// A deferred uniqueness check failed (not produced here).
    LazyUniquenessCheck = 5,
}

impl ConflictReason {
    /// The kvproto number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// A lock as reported to a reader or writer that ran into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The primary key of the transaction holding the lock.
    pub primary_lock: Vec<u8>,
    /// The holder's start_ts.
    pub lock_version: u64,
    /// The locked key.
    pub key: Vec<u8>,
    /// Time to live in ms, counted from the physical part of `lock_version`.
    pub lock_ttl: u64,
    /// Number of keys the holder writes (a hint for resolvers).
    pub txn_size: u64,
    /// What the lock will do when committed.
    pub lock_type: LockType,
    /// The holder's for_update_ts (pessimistic transactions), else 0.
    pub lock_for_update_ts: u64,
    /// The smallest commit_ts the holder may commit with.
    pub min_commit_ts: u64,
    /// The holder commits asynchronously: its fate is decided by all its
    /// locks together (CheckSecondaryLocks), not by its primary alone.
    pub use_async_commit: bool,
    /// On an async-commit primary lock: every other key of the
    /// transaction. Empty on secondaries.
    pub secondaries: Vec<Vec<u8>>,
}

/// A write-write conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteConflict {
    /// The start_ts of the transaction that got the error.
    pub start_ts: u64,
    /// The start_ts of the transaction it conflicted with (0 if unknown).
    pub conflict_ts: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The primary key of the transaction that got the error.
    pub primary: Vec<u8>,
    /// The commit_ts of the conflicting write (0 if none, e.g. a rollback).
    pub conflict_commit_ts: u64,
    /// Why.
    pub reason: ConflictReason,
}

/// One edge of a wait-for cycle, as kvproto's `deadlock.WaitForEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitForEntry {
    /// The waiting transaction (start_ts).
    pub txn: u64,
    /// The transaction it waits for (start_ts of the lock holder).
    pub wait_for_txn: u64,
    /// Hash of the key it waits on.
    pub key_hash: u64,
    /// The key it waits on.
    pub key: Vec<u8>,
}

/// A key-level failure of a transactional request, one variant per field of
/// kvproto's `KeyError` that this engine produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Another transaction's lock is in the way. Cause: a read at or after
    /// the lock's start_ts, a prewrite, or a pessimistic lock wait that timed
    /// out. Fix: resolve it (check the primary's status, then commit or roll
    /// the lock back) and retry, or back off while the holder is alive.
    #[error(
        "key '{}' is locked by transaction {} (primary '{}', ttl {} ms, {:?})",
        show(&.0.key), .0.lock_version, show(&.0.primary_lock), .0.lock_ttl, .0.lock_type
    )]
    Locked(LockInfo),
    /// The request may succeed if the transaction is retried. Cause, among
    /// others: commit found neither the lock nor a commit record
    /// (`TxnLockNotFound`: the transaction was rolled back by a resolver),
    /// or a pessimistic prewrite found its pessimistic lock gone
    /// (`PessimisticLockNotFound`). Fix: roll back and restart the
    /// transaction.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The request is wrong for the transaction's state (committing after a
    /// rollback, rolling back after a commit, a bad timestamp). Fix: abort.
    #[error("abort: {0}")]
    Abort(String),
    /// A write-write conflict. Fix: optimistic: restart the transaction;
    /// `PessimisticRetry`: retry the lock with a fresh for_update_ts.
    #[error(
        "write conflict ({:?}) on key '{}': transaction {} met transaction {} (commit_ts {})",
        .0.reason, show(&.0.key), .0.start_ts, .0.conflict_ts, .0.conflict_commit_ts
    )]
    Conflict(WriteConflict),
    /// An insert (or existence check) found the key present. Fix: the
    /// application decides; do not retry blindly.
    #[error("key '{}' already exists", show(key))]
    AlreadyExist {
        /// The key.
        key: Vec<u8>,
    },
    /// Waiting for the lock would close a wait-for cycle, so this waiter
    /// was chosen to give up. Fix: roll back the whole transaction (which
    /// lets the others proceed) and retry it.
    #[error(
        "deadlock: waiting for transaction {lock_ts} on key '{}' would close a cycle of {} transaction(s)",
        show(lock_key), wait_chain.len()
    )]
    Deadlock {
        /// The start_ts of the lock the request wanted to wait for.
        lock_ts: u64,
        /// The key of that lock.
        lock_key: Vec<u8>,
        /// Hash of the key (as used by the detector).
        deadlock_key_hash: u64,
        /// The cycle, starting with the edge this request would have added.
        wait_chain: Vec<WaitForEntry>,
    },
    /// The commit_ts is below the lock's min_commit_ts (a reader pushed it).
    /// Fix: commit again with a fresh timestamp.
    #[error(
        "commit_ts {attempted_commit_ts} of transaction {start_ts} is below min_commit_ts {min_commit_ts} on key '{}'",
        show(key)
    )]
    CommitTsExpired {
        /// The transaction.
        start_ts: u64,
        /// The commit_ts that was refused.
        attempted_commit_ts: u64,
        /// The key.
        key: Vec<u8>,
        /// The lock's min_commit_ts.
        min_commit_ts: u64,
    },
    /// The transaction's primary lock is missing and nothing records its
    /// fate (check_txn_status with rollback_if_not_exist unset, or a
    /// heartbeat after the lock went). Fix: for a resolver, wait and retry
    /// (the prewrite may be in flight), or retry with rollback_if_not_exist.
    #[error("transaction {start_ts} not found on primary '{}'", show(primary_key))]
    TxnNotFound {
        /// The transaction.
        start_ts: u64,
        /// Its primary key.
        primary_key: Vec<u8>,
    },
    /// An async-commit or 1PC prewrite would need a commit_ts above the
    /// request's max_commit_ts (a reader with a later timestamp came
    /// first). Fix: fall back to two-phase commit.
    #[error("commit_ts {commit_ts} is too large (above the prewrite's max_commit_ts)")]
    CommitTsTooLarge {
        /// The commit_ts the prewrite would have needed.
        commit_ts: u64,
    },
}

impl KeyError {
    /// The retryable error commit reports when the lock is gone and no
    /// commit record exists.
    pub fn txn_lock_not_found(start_ts: u64, key: &[u8], detail: &str) -> KeyError {
        KeyError::Retryable(format!(
            "TxnLockNotFound: transaction {start_ts} has no lock on key '{}' ({detail})",
            show(key)
        ))
    }

    /// True for the retryable `TxnLockNotFound`.
    pub fn is_txn_lock_not_found(&self) -> bool {
        matches!(self, KeyError::Retryable(m) if m.contains("TxnLockNotFound"))
    }

    /// The write conflict with `reason`, if this is one.
    pub fn conflict_reason(&self) -> Option<ConflictReason> {
        match self {
            KeyError::Conflict(c) => Some(c.reason),
            _ => None,
        }
    }
}

/// A key for messages: printable ASCII as is, other bytes escaped.
pub fn show(key: &[u8]) -> impl fmt::Display + '_ {
    key.escape_ascii()
}

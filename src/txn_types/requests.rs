//! Request and reply types of the transactional API, mirroring the fields
//! of kvproto's requests so the gRPC stand-in can map one onto the other.

use super::errors::{KeyError, LockInfo};

/// What a prewrite mutation does (kvproto `Op`, the values a prewrite
/// accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutationOp {
    /// Write the value.
    Put,
    /// Delete the key.
    Del,
    /// Lock the key without changing it (commits as a `Lock` record).
    Lock,
    /// Write the value; fail with `AlreadyExist` if the key has one.
    Insert,
    /// Fail with `AlreadyExist` if the key has a value; writes nothing.
    CheckNotExists,
}

/// Whether a prewrite mutation must find the transaction's own pessimistic
/// lock (kvproto `PrewriteRequest.PessimisticAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PessimisticAction {
    /// Optimistic key (or not locked pessimistically): check for conflicts.
    #[default]
    SkipPessimisticCheck,
    /// The key must hold this transaction's pessimistic lock, which the
    /// prewrite turns into a normal lock.
    DoPessimisticCheck,
}

/// One mutation of a prewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// What to do.
    pub op: MutationOp,
    /// The key.
    pub key: Vec<u8>,
    /// The value (Put, Insert).
    pub value: Vec<u8>,
}

impl Mutation {
    /// A put.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Mutation {
        Mutation {
            op: MutationOp::Put,
            key: key.into(),
            value: value.into(),
        }
    }

    /// A delete.
    pub fn delete(key: impl Into<Vec<u8>>) -> Mutation {
        Mutation {
            op: MutationOp::Del,
            key: key.into(),
            value: Vec::new(),
        }
    }

    /// A mutation of another kind with an empty value.
    pub fn of(op: MutationOp, key: impl Into<Vec<u8>>) -> Mutation {
        Mutation {
            op,
            key: key.into(),
            value: Vec::new(),
        }
    }
}

/// `KvPrewrite`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrewriteRequest {
    /// The mutations.
    pub mutations: Vec<Mutation>,
    /// The transaction's primary key.
    pub primary_lock: Vec<u8>,
    /// The transaction's start_ts.
    pub start_version: u64,
    /// Lock time to live, ms.
    pub lock_ttl: u64,
    /// Number of keys the transaction writes.
    pub txn_size: u64,
    /// One per mutation (pessimistic transactions); empty means all skip.
    pub pessimistic_actions: Vec<PessimisticAction>,
    /// The for_update_ts of a pessimistic transaction, else 0.
    pub for_update_ts: u64,
    /// The smallest commit_ts the transaction will use, stored in each lock
    /// as sent, as TiKV does: a lock whose min_commit_ts is 0 cannot be
    /// pushed by readers (client-go sends max(start_ts, for_update_ts) + 1).
    pub min_commit_ts: u64,
    /// Async commit: the transaction is committed once every key is
    /// prewritten; each lock gets a min_commit_ts from the store's max_ts.
    pub use_async_commit: bool,
    /// Async commit: every key but the primary, sent with the primary.
    pub secondaries: Vec<Vec<u8>>,
    /// One-phase commit: write the commit records at once, if the store
    /// can (the whole transaction is in this request).
    pub try_one_pc: bool,
    /// Async commit and 1PC: the largest commit_ts the client accepts
    /// (`CommitTsTooLarge` above it); 0: no limit.
    pub max_commit_ts: u64,
}

/// What a prewrite answered besides its errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrewriteResult {
    /// Async commit: the largest min_commit_ts of the locks written (the
    /// transaction commits at the largest over all its prewrites); 0
    /// otherwise.
    pub min_commit_ts: u64,
    /// 1PC: the commit_ts the store committed at; 0 when it did not (the
    /// locks stay and the client commits as usual).
    pub one_pc_commit_ts: u64,
}

/// `KvCheckSecondaryLocks`: what became of an async-commit transaction's
/// keys. Exactly one of: some key committed (`commit_ts > 0`, no locks),
/// some key rolled back (`commit_ts == 0`, no locks), or every key still
/// locked (the locks, one per key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecondaryLocks {
    /// The transaction's locks, when every key asked about has one.
    pub locks: Vec<LockInfo>,
    /// The commit_ts of a key found committed, else 0.
    pub commit_ts: u64,
}

/// `KvPessimisticLock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PessimisticLockRequest {
    /// The keys to lock.
    pub keys: Vec<Vec<u8>>,
    /// The transaction's primary key.
    pub primary_lock: Vec<u8>,
    /// The transaction's start_ts.
    pub start_version: u64,
    /// Lock time to live, ms.
    pub lock_ttl: u64,
    /// Writes newer than this conflict (`PessimisticRetry`).
    pub for_update_ts: u64,
    /// True for the transaction's first lock request.
    pub is_first_lock: bool,
    /// Ms to wait for a held lock: 0 = the engine's default, negative = do
    /// not wait; capped at the engine's default.
    pub wait_timeout: i64,
    /// Return the keys' current values.
    pub return_values: bool,
    /// The smallest commit_ts the transaction will use, stored in each lock
    /// as sent (client-go sends for_update_ts + 1); 0 leaves the lock one
    /// that readers cannot push.
    pub min_commit_ts: u64,
}

/// What a pessimistic lock request got. The wait time is reported whether
/// it succeeded or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PessimisticLockResponse {
    /// The values (one per key, `None` when absent) if asked for, else
    /// empty; or the errors.
    pub result: Result<Vec<Option<Vec<u8>>>, Vec<KeyError>>,
    /// How long the request waited for another transaction's lock.
    pub waited: std::time::Duration,
}

/// `KvCheckTxnStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckTxnStatusRequest {
    /// The transaction's primary key.
    pub primary_key: Vec<u8>,
    /// The transaction's start_ts.
    pub lock_ts: u64,
    /// The start_ts of the asking transaction (its reads may push the
    /// lock's min_commit_ts); 0 or `u64::MAX` push nothing.
    pub caller_start_ts: u64,
    /// Now, for the TTL check.
    pub current_ts: u64,
    /// Write a rollback record when neither lock nor record exists.
    pub rollback_if_not_exist: bool,
    /// The caller met a pessimistic lock: an expired one is only removed.
    pub resolving_pessimistic_lock: bool,
    /// Treat an async-commit lock as a two-phase one: roll it back when
    /// expired, push it for readers (client-go asks this when an async
    /// transaction's secondaries are not all async locks).
    pub force_sync_commit: bool,
}

/// kvproto `Action`: what check_txn_status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Action {
    /// Nothing changed.
    NoAction = 0,
    /// The lock's TTL had expired: rolled back.
    TtlExpireRollback = 1,
    /// No lock and no record: a rollback record was written.
    LockNotExistRollback = 2,
    /// The lock lives; its min_commit_ts was pushed past the caller.
    MinCommitTsPushed = 3,
    /// An expired pessimistic lock was removed (no rollback record).
    TtlExpirePessimisticRollback = 4,
    /// No lock and no record, and the caller resolves a pessimistic lock:
    /// nothing written.
    LockNotExistDoNothing = 5,
}

/// The status of a transaction: exactly one of rolled back
/// (`commit_version == 0 && lock_ttl == 0`, no lock), committed
/// (`commit_version > 0`, `lock_ttl == 0`) or locked (`lock_ttl > 0`, lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnStatus {
    /// Remaining lock TTL (ms) while locked, else 0.
    pub lock_ttl: u64,
    /// The commit_ts if committed, else 0.
    pub commit_version: u64,
    /// What the check did.
    pub action: Action,
    /// The primary lock while locked.
    pub lock_info: Option<LockInfo>,
}

impl TxnStatus {
    /// Committed at this ts.
    pub fn committed(&self) -> Option<u64> {
        (self.commit_version > 0).then_some(self.commit_version)
    }

    /// Rolled back (or never to commit).
    pub fn rolled_back(&self) -> bool {
        self.commit_version == 0 && self.lock_ttl == 0
    }
}

/// One key of a batch get or scan: its value, or the error that hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPair {
    /// The key.
    pub key: Vec<u8>,
    /// The value (empty for key-only scans) or why it cannot be read.
    pub value: Result<Vec<u8>, KeyError>,
}

/// A snapshot scan (`KvScan`) at `version`: at most `limit` keys. Forward:
/// keys in `start..end`; reverse: `start` is the exclusive upper bound and
/// `end` the inclusive lower bound (as TiKV). Empty bounds are unbounded.
/// Locks of `resolved_locks` (transactions known to be past) do not block.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotScan<'a> {
    pub start: &'a [u8],
    pub end: &'a [u8],
    pub limit: usize,
    pub version: u64,
    /// Answer keys with empty values.
    pub key_only: bool,
    pub reverse: bool,
    pub resolved_locks: &'a [u64],
}

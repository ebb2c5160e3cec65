//! The storage engine: an in-memory MVCC store in the shape of TiKV's
//! Percolator implementation, shared by the in-process backend and the gRPC
//! stand-in cluster.
//!
//! It owns:
//! - [`tso`]: the timestamp oracle (physical ms << 18 + logical);
//! - [`raw`]: the raw key space (no versions; CAS; TTLs on its own clock);
//! - `mvcc`: the transactional key space (lock, write and data column
//!   families) and the Percolator actions on it;
//! - [`latches`]: per-key latches that serialize commands on the same keys
//!   (never held across a wait);
//! - [`lock_manager`]: pessimistic lock waits, wake-ups and the wait-for
//!   graph that detects deadlocks.
//!
//! Key errors and request shapes are in [`crate::txn_types`], which the
//! client shares.
//!
//! [`Storage`] is the facade: one method per protocol request, taking the
//! request's fields as plain Rust values and answering in the protocol's
//! shapes. Raw keys and transactional long values share the default column
//! family, as in TiKV's API V1 (see [`raw`]).

pub mod latches;
pub mod lock_manager;
mod mvcc;
pub mod raw;
pub mod tso;
mod walk;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::txn_types::errors::{
    ConflictReason, KeyError, LockInfo, LockType, WaitForEntry, WriteConflict,
};
pub use crate::txn_types::requests::{
    Action, CheckTxnStatusRequest, KvPair, Mutation, MutationOp, PessimisticAction,
    PessimisticLockRequest, PessimisticLockResponse, PrewriteRequest, PrewriteResult,
    SecondaryLocks, SnapshotScan, TxnStatus,
};

use latches::Latches;
use lock_manager::{LockManager, WaitEnd};
pub use mvcc::GcCounts;
use mvcc::{LockFailure, Mvcc, Released};
use raw::RawSpace;
use tso::Tso;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The wait for a held pessimistic lock when the request says 0, and
    /// the ceiling on what a request may ask for (TiKV's
    /// `wait-for-lock-timeout`, 1 s).
    pub wait_timeout: Duration,
    /// After a release wakes the oldest waiter, how long the others wait
    /// before they are woken too (TiKV's `wake-up-delay-duration`, 20 ms).
    pub wake_up_delay: Duration,
    /// Latch slots (rounded up to a power of two).
    pub latch_slots: usize,
    /// Values up to this many bytes live inline in lock and write records.
    pub short_value_max: usize,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            wait_timeout: Duration::from_millis(1000),
            wake_up_delay: Duration::from_millis(20),
            latch_slots: 4096,
            short_value_max: 255,
        }
    }
}

/// What the engine counted. Bumped only on the paths they count (waits,
/// deadlocks, conflicts), never on a plain read or write.
#[derive(Debug, Default)]
pub struct StorageStats {
    lock_waits: AtomicU64,
    lock_wait_us: AtomicU64,
    wait_timeouts: AtomicU64,
    deadlocks: AtomicU64,
    write_conflicts: AtomicU64,
    gc_keys: AtomicU64,
    gc_versions: AtomicU64,
    gc_rollbacks: AtomicU64,
    gc_long_values: AtomicU64,
}

/// A copy of [`StorageStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Pessimistic lock requests that waited for another transaction.
    pub lock_waits: u64,
    /// Total time they waited, µs.
    pub lock_wait_us: u64,
    /// Waits that ended by timeout (answered `KeyIsLocked`).
    pub wait_timeouts: u64,
    /// Requests refused with `Deadlock`.
    pub deadlocks: u64,
    /// `WriteConflict` answers from prewrite or pessimistic lock, including
    /// the `PessimisticRetry` of woken waiters.
    pub write_conflicts: u64,
    /// What garbage collection removed so far (see [`Storage::gc_step`]).
    pub gc: GcCounts,
}

impl StorageStats {
    fn bump(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            lock_waits: g(&self.lock_waits),
            lock_wait_us: g(&self.lock_wait_us),
            wait_timeouts: g(&self.wait_timeouts),
            deadlocks: g(&self.deadlocks),
            write_conflicts: g(&self.write_conflicts),
            gc: GcCounts {
                keys: g(&self.gc_keys),
                versions: g(&self.gc_versions),
                rollbacks: g(&self.gc_rollbacks),
                long_values: g(&self.gc_long_values),
            },
        }
    }
}

/// The engine.
#[derive(Debug)]
pub struct Storage {
    config: StorageConfig,
    tso: Tso,
    raw: RawSpace,
    mvcc: Mvcc,
    latches: Latches,
    locks: LockManager,
    stats: StorageStats,
}

impl Default for Storage {
    fn default() -> Storage {
        Storage::new(StorageConfig::default())
    }
}

impl Storage {
    /// An empty engine.
    pub fn new(config: StorageConfig) -> Storage {
        let default_cf = Arc::new(raw::DefaultCf::new());
        Storage {
            tso: Tso::new(),
            raw: RawSpace::over(default_cf.clone(), config.latch_slots),
            mvcc: Mvcc::new(config.short_value_max, default_cf),
            latches: Latches::new(config.latch_slots),
            locks: LockManager::new(config.wake_up_delay),
            stats: StorageStats::default(),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// The timestamp oracle.
    pub fn tso(&self) -> &Tso {
        &self.tso
    }

    /// One fresh timestamp.
    pub fn timestamp(&self) -> u64 {
        self.tso.next()
    }

    /// The raw key space.
    pub fn raw(&self) -> &RawSpace {
        &self.raw
    }

    /// What the engine counted so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Pessimistic lock requests waiting right now.
    pub fn lock_waiters(&self) -> usize {
        self.locks.waiters()
    }

    /// Edges in the wait-for graph right now.
    pub fn wait_for_edges(&self) -> usize {
        self.locks.edges()
    }

    /// Locks in the lock CF right now.
    pub fn lock_count(&self) -> usize {
        self.mvcc.lock_count()
    }

    /// Write records and spilled values kept (every version garbage
    /// collection has not removed).
    pub fn version_count(&self) -> (usize, usize) {
        self.mvcc.version_count()
    }

    /// TiKV's max_ts: the largest timestamp a read, a status check or a
    /// secondary-lock check was served at (async-commit and 1PC prewrites
    /// commit above it).
    pub fn max_ts(&self) -> u64 {
        self.mvcc.max_ts()
    }

    /// The lock on a transactional key (for tests and checks).
    pub fn lock_info(&self, key: &[u8]) -> Option<LockInfo> {
        self.mvcc.lock(key).map(|l| l.info(key))
    }

    // Garbage collection.

    /// The oldest start_ts among the locks in the lock CF, if any: a
    /// transaction still running (or one dead whose lock nobody resolved
    /// yet) that the GC safe point must not pass.
    pub fn min_lock_ts(&self) -> Option<u64> {
        self.mvcc.min_lock_ts()
    }

    /// One bounded step of garbage collection at `safe_point`: collects up
    /// to `max_keys` keys of the write CF from `from` on (see
    /// [`GcCounts`] for what goes), each under its latch, and returns what
    /// it removed and the key to continue from (`None`: the sweep reached
    /// the end). Reads and writes go on meanwhile; a read at or above
    /// `safe_point` sees what it saw before.
    pub fn gc_step(
        &self,
        safe_point: u64,
        from: &[u8],
        max_keys: usize,
    ) -> (GcCounts, Option<Vec<u8>>) {
        let mut keys = self.mvcc.write_keys_from(from, max_keys.saturating_add(1));
        let next = (keys.len() > max_keys).then(|| keys.pop()).flatten();
        let mut counts = GcCounts::default();
        for k in &keys {
            let _g = self.latches.acquire_one(k);
            self.mvcc.gc_key(k, safe_point, &mut counts);
        }
        let st = &self.stats;
        StorageStats::bump(&st.gc_keys, counts.keys);
        StorageStats::bump(&st.gc_versions, counts.versions);
        StorageStats::bump(&st.gc_rollbacks, counts.rollbacks);
        StorageStats::bump(&st.gc_long_values, counts.long_values);
        (counts, next)
    }

    // Reads.

    /// `KvGet`: the value of `key` at `version` (raising max_ts to it; a
    /// lock whose min_commit_ts is above `version` does not block it).
    /// `resolved_locks` lists
    /// transactions whose locks the caller may read past (their
    /// min_commit_ts was pushed beyond `version`).
    pub fn kv_get(
        &self,
        key: &[u8],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Option<Vec<u8>>, KeyError> {
        // max_ts first, then the lock (see `Mvcc::raise_max_ts`).
        self.mvcc.raise_max_ts(version);
        self.mvcc.get(key, version, resolved_locks)
    }

    /// `KvBatchGet`: the keys that have values at `version`, in request
    /// order, and the keys hidden by locks, with their errors (raises
    /// max_ts to `version`, as [`Storage::kv_get`]).
    pub fn kv_batch_get(
        &self,
        keys: &[Vec<u8>],
        version: u64,
        resolved_locks: &[u64],
    ) -> Vec<KvPair> {
        self.mvcc.raise_max_ts(version);
        keys.iter()
            .filter_map(|k| match self.mvcc.get(k, version, resolved_locks) {
                Ok(Some(v)) => Some(KvPair {
                    key: k.clone(),
                    value: Ok(v),
                }),
                Ok(None) => None,
                Err(e) => Some(KvPair {
                    key: k.clone(),
                    value: Err(e),
                }),
            })
            .collect()
    }

    /// `KvScan`: see [`SnapshotScan`] (raises max_ts to its version, as
    /// [`Storage::kv_get`]).
    pub fn kv_scan(&self, scan: &SnapshotScan<'_>) -> Vec<KvPair> {
        self.mvcc.raise_max_ts(scan.version);
        self.mvcc.scan(scan)
    }

    /// `KvScanLock`: locks with ts <= `max_version` in `start_key ..end_key`,
    /// at most `limit` (0: all).
    pub fn scan_lock(
        &self,
        max_version: u64,
        start_key: &[u8],
        end_key: &[u8],
        limit: u32,
    ) -> Vec<LockInfo> {
        self.mvcc
            .scan_locks(max_version, start_key, end_key, limit as usize)
    }

    // Writes.

    /// `KvPrewrite`. All mutations are written, or none: on locks, every lock
    /// met is reported; on any other error, that error alone.
    ///
    /// Async commit and 1PC (see [`PrewriteRequest`]): the answer carries
    /// the min_commit_ts (async) or the commit_ts (1PC) computed above
    /// max_ts; zeros mean the request fell back to 2PC (its
    /// max_commit_ts was too small), with plain locks written.
    pub fn prewrite(&self, req: &PrewriteRequest) -> Result<PrewriteResult, Vec<KeyError>> {
        let mut released = Vec::new();
        let r = {
            let _g = self
                .latches
                .acquire(req.mutations.iter().map(|m| m.key.as_slice()));
            self.mvcc.prewrite(req, &mut released)
        };
        if let Err(errs) = &r {
            self.count_conflicts(errs);
        }
        self.finish(req.start_version, released);
        r
    }

    /// `KvCommit`: returns the commit_ts.
    pub fn commit(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        commit_version: u64,
    ) -> Result<u64, KeyError> {
        let mut released = Vec::new();
        let r = {
            let _g = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
            self.mvcc
                .commit(keys, start_version, commit_version, &mut released)
        };
        self.finish(start_version, released);
        r.map(|()| commit_version)
    }

    /// `KvBatchRollback`.
    pub fn batch_rollback(&self, keys: &[Vec<u8>], start_version: u64) -> Result<(), KeyError> {
        let mut released = Vec::new();
        let r = {
            let _g = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
            self.mvcc.batch_rollback(keys, start_version, &mut released)
        };
        self.finish(start_version, released);
        r
    }

    /// `KvPessimisticLock`: locks every key or none. A key held by another
    /// transaction makes the request wait (see [`lock_manager`]) unless
    /// `wait_timeout` is negative; the wait ends in `WriteConflict
    /// (PessimisticRetry)` when the holder releases, `KeyIsLocked` on
    /// timeout, or `Deadlock` at once when waiting would close a cycle.
    pub async fn pessimistic_lock(&self, req: &PessimisticLockRequest) -> PessimisticLockResponse {
        let reply = |result, waited| PessimisticLockResponse { result, waited };
        let (handle, held) = {
            let _g = self.latches.acquire(req.keys.iter().map(|k| k.as_slice()));
            match self.mvcc.acquire_pessimistic(req) {
                Ok(values) => return reply(Ok(values), Duration::ZERO),
                Err(LockFailure::Err(e)) => {
                    let errs = vec![e];
                    self.count_conflicts(&errs);
                    return reply(Err(errs), Duration::ZERO);
                }
                Err(LockFailure::Held(info)) => {
                    let Some(timeout) = self.wait_timeout(req.wait_timeout) else {
                        return reply(Err(vec![KeyError::Locked(info)]), Duration::ZERO);
                    };
                    // Registered under the latch: the holder cannot release
                    // the lock (it needs the latch) before we are listed.
                    match self.locks.wait_for(
                        req.start_version,
                        info.lock_version,
                        &info.key,
                        timeout,
                    ) {
                        Ok(h) => (h, info),
                        Err(e) => {
                            StorageStats::bump(&self.stats.deadlocks, 1);
                            return reply(Err(vec![e]), Duration::ZERO);
                        }
                    }
                }
            }
        };
        let began = tokio::time::Instant::now();
        let end = handle.wait().await;
        let waited = began.elapsed();
        StorageStats::bump(&self.stats.lock_waits, 1);
        StorageStats::bump(&self.stats.lock_wait_us, waited.as_micros() as u64);
        let err = match end {
            WaitEnd::Woken { commit_ts } => {
                StorageStats::bump(&self.stats.write_conflicts, 1);
                KeyError::Conflict(WriteConflict {
                    start_ts: req.start_version,
                    conflict_ts: held.lock_version,
                    key: held.key.clone(),
                    primary: req.primary_lock.clone(),
                    conflict_commit_ts: commit_ts,
                    reason: ConflictReason::PessimisticRetry,
                })
            }
            WaitEnd::TimedOut => {
                StorageStats::bump(&self.stats.wait_timeouts, 1);
                KeyError::Locked(held)
            }
        };
        reply(Err(vec![err]), waited)
    }

    /// `KVPessimisticRollback`: removes the pessimistic locks of
    /// `start_version` (with for_update_ts <= `for_update_ts`) on `keys`.
    pub fn pessimistic_rollback(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        for_update_ts: u64,
    ) -> Result<(), KeyError> {
        let mut released = Vec::new();
        {
            let _g = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
            self.mvcc
                .pessimistic_rollback(keys, start_version, for_update_ts, &mut released);
        }
        self.wake(released);
        Ok(())
    }

    /// `KvCheckTxnStatus`: see [`TxnStatus`] for the three outcomes. It
    /// raises max_ts to its timestamps, and leaves an async-commit lock as
    /// it is (answering it, for CheckSecondaryLocks to decide) unless the
    /// request has `force_sync_commit`.
    pub fn check_txn_status(&self, req: &CheckTxnStatusRequest) -> Result<TxnStatus, KeyError> {
        // As TiKV: the check is a read at each of its timestamps.
        for ts in [req.lock_ts, req.current_ts, req.caller_start_ts] {
            self.mvcc.raise_max_ts(ts);
        }
        let mut released = Vec::new();
        let r = {
            let _g = self.latches.acquire_one(&req.primary_key);
            self.mvcc.check_txn_status(req, &mut released)
        };
        if !released.is_empty() {
            self.locks.txn_finished(req.lock_ts);
        }
        self.wake(released);
        r
    }

    /// `KvCheckSecondaryLocks`: what became of async-commit transaction
    /// `start_version` on `keys` (see [`SecondaryLocks`]), as TiKV's
    /// command decides it; a key with neither lock nor record gets a
    /// protected rollback, so the transaction can no longer commit.
    pub fn check_secondary_locks(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
    ) -> Result<SecondaryLocks, KeyError> {
        let mut released = Vec::new();
        let r = {
            let _g = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
            self.mvcc
                .check_secondary_locks(keys, start_version, &mut released)
        };
        self.wake(released);
        Ok(r)
    }

    /// `KvResolveLock`: commits (at `commit_version`) or rolls back (when it
    /// is 0) the locks of `start_version` on `keys`, or, when `keys` is
    /// empty, on every key in `start_key ..end_key` (empty end: unbounded).
    pub fn resolve_lock(
        &self,
        start_version: u64,
        commit_version: u64,
        keys: &[Vec<u8>],
        start_key: &[u8],
        end_key: &[u8],
    ) -> Result<(), KeyError> {
        let scanned: Vec<Vec<u8>>;
        let keys = if keys.is_empty() {
            scanned = self
                .mvcc
                .scan_locks(u64::MAX, start_key, end_key, 0)
                .into_iter()
                .filter(|l| l.lock_version == start_version)
                .map(|l| l.key)
                .collect();
            &scanned
        } else {
            keys
        };
        let mut released = Vec::new();
        let r = {
            let _g = self.latches.acquire(keys.iter().map(|k| k.as_slice()));
            keys.iter().try_for_each(|k| {
                self.mvcc
                    .resolve_key(k, start_version, commit_version, &mut released)
            })
        };
        self.wake(released);
        r
    }

    /// `KvTxnHeartBeat`: raises the primary lock's TTL to at least
    /// `advise_lock_ttl`; returns the TTL.
    pub fn txn_heart_beat(
        &self,
        primary_lock: &[u8],
        start_version: u64,
        advise_lock_ttl: u64,
    ) -> Result<u64, KeyError> {
        let _g = self.latches.acquire_one(primary_lock);
        self.mvcc
            .txn_heart_beat(primary_lock, start_version, advise_lock_ttl)
    }

    fn wait_timeout(&self, ms: i64) -> Option<Duration> {
        match ms {
            ..0 => None,
            0 => Some(self.config.wait_timeout),
            ms => Some(Duration::from_millis(ms as u64).min(self.config.wait_timeout)),
        }
    }

    fn finish(&self, start_ts: u64, released: Vec<Released>) {
        if !released.is_empty() {
            self.locks.txn_finished(start_ts);
        }
        self.wake(released);
    }

    fn wake(&self, released: Vec<Released>) {
        for (key, lock_ts, commit_ts) in released {
            self.locks.wake(&key, lock_ts, commit_ts);
        }
    }

    fn count_conflicts(&self, errs: &[KeyError]) {
        let n = errs
            .iter()
            .filter(|e| matches!(e, KeyError::Conflict(_)))
            .count();
        if n > 0 {
            StorageStats::bump(&self.stats.write_conflicts, n as u64);
        }
    }
}

#[cfg(test)]
mod tests;

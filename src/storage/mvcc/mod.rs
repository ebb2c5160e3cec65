//! Percolator over three column families, each an ordered concurrent map:
//!
//! - lock CF: key -> [`Lock`] (at most one per key);
//! - write CF: (key, commit_ts) newest first -> [`Write`] (`Put`, `Delete`,
//!   `Lock`, `Rollback`, pointing at the start_ts whose data it commits);
//! - default CF: the key's memcomparable encoding with the start_ts
//!   appended (descending) -> value, for values too long to live inline in
//!   the lock and write records (short values do, as in TiKV). As in TiKV's
//!   API V1 it is the raw key space's column family too
//!   ([`DefaultCf`]): raw reads see these entries, and a raw delete of one
//!   leaves its write record pointing at nothing (read as TiKV's "default
//!   not found").
//!
//! This file holds the records and the read path; the write actions live
//! beside it (`prewrite`, `commit`, `pessimistic`, `status`), and so does
//! garbage collection (`gc`). Every write
//! action runs under the latches of its keys (see `latches`); reads take no
//! latch. The order of writes keeps reads consistent without one: a
//! prewrite puts its data before its lock, a commit puts its write record
//! before it removes the lock.

mod commit;
mod gc;
mod pessimistic;
mod prewrite;
mod status;

use std::cmp::Reverse;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crossbeam_skiplist::SkipMap;

use super::raw::{DefaultCf, Slot, value as cf_value};
use super::walk;

use crate::txn_types::errors::{KeyError, LockInfo, LockType};
use crate::txn_types::requests::{KvPair, SnapshotScan};

pub(crate) use commit::Released;
pub use gc::GcCounts;
pub(crate) use pessimistic::LockFailure;

/// A lock in the lock CF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The transaction's primary key.
    pub primary: Vec<u8>,
    /// The transaction's start_ts.
    pub ts: u64,
    /// Time to live, ms from `physical(ts)`.
    pub ttl: u64,
    /// What it commits as.
    pub kind: LockType,
    /// The for_update_ts (pessimistic transactions), else 0.
    pub for_update_ts: u64,
    /// The smallest commit_ts allowed.
    pub min_commit_ts: u64,
    /// Keys in the transaction.
    pub txn_size: u64,
    /// The value, when short enough to live in the lock.
    pub short_value: Option<Vec<u8>>,
    /// Written by an async-commit (or 1PC) prewrite.
    pub use_async_commit: bool,
    /// On an async-commit primary: the transaction's other keys.
    pub secondaries: Vec<Vec<u8>>,
}

impl Lock {
    /// The lock as reported to others.
    pub fn info(&self, key: &[u8]) -> LockInfo {
        LockInfo {
            primary_lock: self.primary.clone(),
            lock_version: self.ts,
            key: key.to_vec(),
            lock_ttl: self.ttl,
            txn_size: self.txn_size,
            lock_type: self.kind,
            lock_for_update_ts: self.for_update_ts,
            min_commit_ts: self.min_commit_ts,
            use_async_commit: self.use_async_commit,
            secondaries: self.secondaries.clone(),
        }
    }

    /// True when the TTL has run out by `current_ts`.
    pub fn expired(&self, current_ts: u64) -> bool {
        use super::tso::physical;
        physical(self.ts).saturating_add(self.ttl) < physical(current_ts)
    }
}

/// The kind of a write record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A committed value.
    Put,
    /// A committed delete.
    Delete,
    /// A committed lock-only mutation (no value change).
    Lock,
    /// The transaction `start_ts` was rolled back on this key (stored at
    /// commit_ts == start_ts).
    Rollback,
}

/// A record in the write CF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// What it records.
    pub kind: WriteKind,
    /// The start_ts of the transaction it belongs to.
    pub start_ts: u64,
    /// The value, when short.
    pub short_value: Option<Vec<u8>>,
    /// A rollback of another transaction whose start_ts equals this
    /// record's commit_ts landed here too.
    pub overlapped_rollback: bool,
    /// A rollback record that must never be collapsed (a primary's).
    pub protected: bool,
}

impl Write {
    fn new(kind: WriteKind, start_ts: u64, short_value: Option<Vec<u8>>) -> Write {
        Write {
            kind,
            start_ts,
            short_value,
            overlapped_rollback: false,
            protected: false,
        }
    }
}

/// What the write CF says about one transaction on one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Committed at this commit_ts.
    Committed(u64),
    /// Rolled back.
    RolledBack,
    /// Nothing.
    None,
}

type WriteKey = (Vec<u8>, Reverse<u64>);

/// The three column families.
#[derive(Debug)]
pub struct Mvcc {
    /// Each lock in its own slot, changed in place: `SkipMap::insert` over
    /// an existing key unlinks the old entry before it links the new one,
    /// and a reader in between would see no lock at all.
    locks: SkipMap<Vec<u8>, RwLock<Lock>>,
    writes: SkipMap<WriteKey, Write>,
    data: Arc<DefaultCf>,
    short_value_max: usize,
    max_ts: AtomicU64,
}

/// The default CF key of `key`'s value written by transaction `start_ts`,
/// as TiKV makes it: the key's memcomparable encoding, then the start_ts
/// complemented, big-endian (newer versions sort first).
pub fn data_key(key: &[u8], start_ts: u64) -> Vec<u8> {
    let mut out = crate::codec::encode(key);
    out.extend_from_slice(&(!start_ts).to_be_bytes());
    out
}

/// Whether a default CF key is one [`data_key`] makes.
fn is_data_key(k: &[u8]) -> bool {
    crate::codec::decode(k).is_ok_and(|(_, rest)| rest.len() == 8)
}

impl Mvcc {
    /// Empty lock and write column families over the default column family
    /// `data`; values up to `short_value_max` bytes live inline in locks and
    /// write records.
    pub fn new(short_value_max: usize, data: Arc<DefaultCf>) -> Mvcc {
        Mvcc {
            locks: SkipMap::new(),
            writes: SkipMap::new(),
            data,
            short_value_max,
            max_ts: AtomicU64::new(0),
        }
    }

    /// TiKV's concurrency-manager max_ts: the largest timestamp a read (or
    /// a status check) has been served at. Async-commit and 1PC prewrites
    /// commit above it, so no reader that came first sees their commit
    /// appear below its snapshot.
    ///
    /// Reads take no latch, so the race with a prewrite is settled by
    /// order, as TiKV's in-memory lock table settles it. The prewrite
    /// publishes its lock (with min_commit_ts 0, which blocks every reader
    /// at or above its start_ts) and then reads max_ts; the reader raises
    /// max_ts and then reads the lock. Both touch max_ts with a SeqCst
    /// read-modify-write, so the two are ordered: if the reader's
    /// `fetch_max` came first, the prewrite's read sees it and the final
    /// min_commit_ts is above the reader; if the prewrite's came first, it
    /// released the lock before it, and the reader's `fetch_max` acquires
    /// it, so the reader sees the lock (placeholder or final) and stops at
    /// it unless its min_commit_ts, final by then, is above the reader.
    pub fn raise_max_ts(&self, ts: u64) {
        if ts != u64::MAX {
            self.max_ts.fetch_max(ts, Ordering::SeqCst);
        }
    }

    /// max_ts now, read with the same SeqCst read-modify-write as
    /// [`Mvcc::raise_max_ts`] (see there for why a plain load would not do).
    pub fn max_ts(&self) -> u64 {
        self.max_ts.fetch_max(0, Ordering::SeqCst)
    }

    /// The lock on `key`.
    pub fn lock(&self, key: &[u8]) -> Option<Lock> {
        self.locks.get(key).map(|e| read(e.value()).clone())
    }

    /// Number of locks.
    pub fn lock_count(&self) -> usize {
        self.locks.len()
    }

    /// Number of write records and long values (versions kept). The long
    /// values are counted by walking the default CF (for tests).
    pub fn version_count(&self) -> (usize, usize) {
        let data = self.data.iter().filter(|e| is_data_key(e.key())).count();
        (self.writes.len(), data)
    }

    /// The newest write record of `key` with commit_ts <= `ts`.
    pub fn seek_write(&self, key: &[u8], ts: u64) -> Option<(u64, Write)> {
        let from = (key.to_vec(), Reverse(ts));
        let e = self.writes.lower_bound(Bound::Included(&from))?;
        let (k, Reverse(commit_ts)) = e.key();
        (k.as_slice() == key).then(|| (*commit_ts, e.value().clone()))
    }

    /// The Put record of the value of `key` visible at `ts` (skipping lock
    /// and rollback records), ignoring locks; none when the newest is a
    /// Delete or there is none.
    fn visible_put(&self, key: &[u8], ts: u64) -> Option<Write> {
        let from = (key.to_vec(), Reverse(ts));
        for e in walk::forward(&self.writes, Bound::Included(&from), Bound::Unbounded) {
            let (k, _) = e.key();
            if k.as_slice() != key {
                return None;
            }
            let w = e.value();
            match w.kind {
                WriteKind::Put => return Some(w.clone()),
                WriteKind::Delete => return None,
                WriteKind::Lock | WriteKind::Rollback => continue,
            }
        }
        None
    }

    /// Whether `key` has a value visible at `ts` (its data is not read).
    pub fn exists_at(&self, key: &[u8], ts: u64) -> bool {
        self.visible_put(key, ts).is_some()
    }

    /// The value of `key` visible at `ts`, ignoring locks. A Put record
    /// whose long value is missing from the default CF (a raw delete
    /// removed it) is TiKV's "default not found" error.
    pub fn value_at(&self, key: &[u8], ts: u64) -> Result<Option<Vec<u8>>, KeyError> {
        self.visible_put(key, ts)
            .map(|w| self.load_value(key, &w))
            .transpose()
    }

    fn load_value(&self, key: &[u8], w: &Write) -> Result<Vec<u8>, KeyError> {
        if let Some(v) = &w.short_value {
            return Ok(v.clone());
        }
        match self.data.get(&data_key(key, w.start_ts)) {
            Some(e) => Ok(cf_value(e.value())),
            None => Err(KeyError::Abort(format!(
                "default not found: key '{}', start_ts {}: the write record has no value in the \
                 default column family (a raw write or delete over transactional keys removed it)",
                String::from_utf8_lossy(key),
                w.start_ts
            ))),
        }
    }

    /// What the write CF records for transaction `start_ts` on `key`.
    pub fn txn_record(&self, key: &[u8], start_ts: u64) -> Record {
        let from = (key.to_vec(), Reverse(u64::MAX));
        for e in walk::forward(&self.writes, Bound::Included(&from), Bound::Unbounded) {
            let (k, Reverse(commit_ts)) = e.key();
            if k.as_slice() != key || *commit_ts < start_ts {
                break;
            }
            let w = e.value();
            if w.start_ts == start_ts {
                return match w.kind {
                    WriteKind::Rollback => Record::RolledBack,
                    _ => Record::Committed(*commit_ts),
                };
            }
            if *commit_ts == start_ts && w.overlapped_rollback {
                return Record::RolledBack;
            }
        }
        Record::None
    }

    /// Snapshot read of `key` at `ts`. A lock blocks it only if it is at or
    /// before `ts`, is not a `Lock` or pessimistic lock, and its txn is not
    /// in `resolved` (locks the caller knows commit after `ts`).
    pub fn get(&self, key: &[u8], ts: u64, resolved: &[u64]) -> Result<Option<Vec<u8>>, KeyError> {
        if let Some(e) = self.locks.get(key) {
            check_read_lock(key, &read(e.value()), ts, resolved)?;
        }
        self.value_at(key, ts)
    }

    /// Snapshot scan at `ts`: at most `limit` keys with values. Forward:
    /// keys in `start ..end`. Reverse: `start` is the exclusive upper bound,
    /// `end` the inclusive lower bound. Empty bounds are unbounded. A
    /// blocking lock appears as a pair with its error.
    pub fn scan(&self, scan: &SnapshotScan<'_>) -> Vec<KvPair> {
        let SnapshotScan {
            start,
            end,
            limit,
            version: ts,
            key_only,
            reverse,
            resolved_locks: resolved,
        } = *scan;
        let mut out = Vec::new();
        // Keys come from the lock CF and the write CF, merged.
        let mut cursor: Option<Vec<u8>> = None;
        while out.len() < limit {
            let next = if reverse {
                let hi = cursor.as_deref().unwrap_or(start);
                self.prev_key(hi, end)
            } else {
                let lo = cursor.as_deref();
                self.next_key(lo.unwrap_or(start), lo.is_some(), end)
            };
            let Some(key) = next else { break };
            match self.get(&key, ts, resolved) {
                Ok(Some(v)) => out.push(KvPair {
                    key: key.clone(),
                    value: Ok(if key_only { Vec::new() } else { v }),
                }),
                Ok(None) => {}
                Err(e) => out.push(KvPair {
                    key: key.clone(),
                    value: Err(e),
                }),
            }
            cursor = Some(key);
        }
        out
    }

    /// The smallest key >= `from` (> when `exclusive`) below `end` (empty:
    /// unbounded) in either CF.
    fn next_key(&self, from: &[u8], exclusive: bool, end: &[u8]) -> Option<Vec<u8>> {
        let lock_key = {
            let b = if exclusive {
                Bound::Excluded(from)
            } else {
                Bound::Included(from)
            };
            walk::forward::<_, _, [u8]>(&self.locks, b, Bound::Unbounded)
                .next()
                .map(|e| e.key().clone())
        };
        let write_key = self.next_write_key(from, exclusive);
        let k = match (lock_key, write_key) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        (end.is_empty() || k.as_slice() < end).then_some(k)
    }

    /// The smallest key of the write CF >= `from` (> when `exclusive`).
    fn next_write_key(&self, from: &[u8], exclusive: bool) -> Option<Vec<u8>> {
        // (from, Reverse(0)) is the last version slot of `from`.
        let lo = if exclusive {
            Bound::Excluded((from.to_vec(), Reverse(0)))
        } else {
            Bound::Included((from.to_vec(), Reverse(u64::MAX)))
        };
        walk::forward(&self.writes, lo.as_ref(), Bound::Unbounded)
            .next()
            .map(|e| e.key().0.clone())
    }

    /// The largest key < `before` (empty: unbounded) and >= `lowest`.
    fn prev_key(&self, before: &[u8], lowest: &[u8]) -> Option<Vec<u8>> {
        let hi: Bound<&[u8]> = if before.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(before)
        };
        let lock_key = walk::backward::<_, _, [u8]>(&self.locks, Bound::Unbounded, hi)
            .next()
            .map(|e| e.key().clone());
        let whi = if before.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded((before.to_vec(), Reverse(u64::MAX)))
        };
        let write_key = walk::backward(&self.writes, Bound::Unbounded, whi.as_ref())
            .next()
            .map(|e| e.key().0.clone());
        let k = match (lock_key, write_key) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b)?,
        };
        (k.as_slice() >= lowest).then_some(k)
    }

    /// Locks with ts <= `max_version` in `start ..end` (empty end:
    /// unbounded), at most `limit` (0: no limit).
    pub fn scan_locks(
        &self,
        max_version: u64,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Vec<LockInfo> {
        let hi: Bound<&[u8]> = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        let limit = if limit == 0 { usize::MAX } else { limit };
        walk::forward::<_, _, [u8]>(&self.locks, Bound::Included(start), hi)
            .map(|e| {
                let lock = read(e.value()).clone();
                (lock, e)
            })
            .filter(|(l, _)| l.ts <= max_version)
            .take(limit)
            .map(|(l, e)| l.info(e.key()))
            .collect()
    }

    // Low-level writes, used by the actions under latches.

    /// Writes `key`'s lock: in place when there is one (callers hold the
    /// key's latch, so no other writer races this).
    fn put_lock(&self, key: &[u8], lock: Lock) {
        match self.locks.get(key) {
            Some(e) => *e.value().write().unwrap_or_else(|p| p.into_inner()) = lock,
            None => {
                self.locks.insert(key.to_vec(), RwLock::new(lock));
            }
        }
    }

    fn remove_lock(&self, key: &[u8]) {
        self.locks.remove(key);
    }

    fn put_write(&self, key: &[u8], commit_ts: u64, w: Write) {
        self.writes.insert((key.to_vec(), Reverse(commit_ts)), w);
    }

    fn remove_write(&self, key: &[u8], commit_ts: u64) {
        self.writes.remove(&(key.to_vec(), Reverse(commit_ts)));
    }

    fn put_data(&self, key: &[u8], start_ts: u64, value: Vec<u8>) {
        self.data
            .insert(data_key(key, start_ts), RwLock::new(Slot::plain(value)));
    }

    fn remove_data(&self, key: &[u8], start_ts: u64) {
        self.data.remove(&data_key(key, start_ts));
    }

    /// Splits a value into (inline, spilled) by size.
    fn place_value(&self, value: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        if value.len() <= self.short_value_max {
            (Some(value.to_vec()), None)
        } else {
            (None, Some(value.to_vec()))
        }
    }
}

/// The lock in a slot (a poisoned slot still holds a whole lock: writers
/// only assign).
fn read(slot: &RwLock<Lock>) -> std::sync::RwLockReadGuard<'_, Lock> {
    slot.read().unwrap_or_else(|p| p.into_inner())
}

/// As TiKV's snapshot-isolation check: a lock blocks a read at `ts` only if
/// it started at or before `ts`, writes a value, may still commit at or
/// below `ts` (its min_commit_ts is not above `ts`; a placeholder's 0 never
/// is), and the caller has not resolved it.
fn check_read_lock(key: &[u8], lock: &Lock, ts: u64, resolved: &[u64]) -> Result<(), KeyError> {
    let blocks = lock.ts <= ts
        && matches!(lock.kind, LockType::Put | LockType::Del)
        && lock.min_commit_ts <= ts
        && !resolved.contains(&lock.ts);
    if blocks {
        Err(KeyError::Locked(lock.info(key)))
    } else {
        Ok(())
    }
}

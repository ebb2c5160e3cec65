//! MVCC garbage collection of one key, as TiKV's GC does it
//! (`src/storage/txn/actions/gc.rs`, and the same rule in
//! `src/server/gc_worker/compaction_filter.rs`): every version above the
//! safe point stays; at or below it, Rollback and Lock records are dropped
//! until the newest Put or Delete; that Put stays (a reader at the safe
//! point sees it) and everything older goes; a newest Delete goes too, last,
//! after everything older. A dropped Put's long value leaves the default
//! column family with it.

use std::cmp::Reverse;
use std::ops::Bound;

use super::{Mvcc, WriteKind, read};
use crate::storage::walk;

/// What collecting some keys removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcCounts {
    /// Keys looked at.
    pub keys: u64,
    /// Put and Delete records removed.
    pub versions: u64,
    /// Rollback and Lock records removed (overlapped rollbacks go with the
    /// record that carries them).
    pub rollbacks: u64,
    /// Long values removed from the default column family.
    pub long_values: u64,
}

impl GcCounts {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &GcCounts) {
        self.keys += o.keys;
        self.versions += o.versions;
        self.rollbacks += o.rollbacks;
        self.long_values += o.long_values;
    }
}

impl Mvcc {
    /// Up to `n` distinct keys of the write CF, from `from` on (inclusive),
    /// ascending.
    pub(crate) fn write_keys_from(&self, from: &[u8], n: usize) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(n);
        while out.len() < n {
            let next = match out.last() {
                Some(last) => self.next_write_key(last, true),
                None => self.next_write_key(from, false),
            };
            let Some(key) = next else { break };
            out.push(key);
        }
        out
    }

    /// The oldest start_ts among the locks, if any.
    pub(crate) fn min_lock_ts(&self) -> Option<u64> {
        self.locks.iter().map(|e| read(e.value()).ts).min()
    }

    /// Collects the versions of `key` that no read at or above
    /// `safe_point` needs (see the module doc). The caller holds the key's
    /// latch. Removes oldest first, so a concurrent reader never sees an
    /// older version surface while a newer one it should see is gone.
    pub(crate) fn gc_key(&self, key: &[u8], safe_point: u64, counts: &mut GcCounts) {
        counts.keys += 1;
        let from = (key.to_vec(), Reverse(safe_point));
        // Versions at or below the safe point, newest first.
        let mut doomed: Vec<(u64, WriteKind, Option<u64>)> = Vec::new();
        let mut kept_put = false;
        let mut newest_delete: Option<u64> = None;
        for e in walk::forward(&self.writes, Bound::Included(&from), Bound::Unbounded) {
            let (k, Reverse(commit_ts)) = e.key();
            if k.as_slice() != key {
                break;
            }
            let w = e.value();
            let long = (w.kind == WriteKind::Put && w.short_value.is_none()).then_some(w.start_ts);
            let settled = kept_put || newest_delete.is_some();
            match w.kind {
                _ if settled => doomed.push((*commit_ts, w.kind, long)),
                WriteKind::Rollback | WriteKind::Lock => doomed.push((*commit_ts, w.kind, None)),
                WriteKind::Put => kept_put = true,
                WriteKind::Delete => newest_delete = Some(*commit_ts),
            }
        }
        for (commit_ts, kind, long) in doomed.into_iter().rev() {
            self.drop_version(key, commit_ts, kind, long, counts);
        }
        if let Some(ts) = newest_delete {
            self.drop_version(key, ts, WriteKind::Delete, None, counts);
        }
    }

    fn drop_version(
        &self,
        key: &[u8],
        commit_ts: u64,
        kind: WriteKind,
        long_value_of: Option<u64>,
        counts: &mut GcCounts,
    ) {
        self.remove_write(key, commit_ts);
        match kind {
            WriteKind::Put | WriteKind::Delete => counts.versions += 1,
            WriteKind::Rollback | WriteKind::Lock => counts.rollbacks += 1,
        }
        let removed = long_value_of.and_then(|ts| self.data.remove(&super::data_key(key, ts)));
        counts.long_values += u64::from(removed.is_some());
    }
}

#[cfg(test)]
impl Mvcc {
    /// Every write record of `key`: (commit_ts, kind), newest first.
    pub(crate) fn write_records(&self, key: &[u8]) -> Vec<(u64, WriteKind)> {
        let from = (key.to_vec(), Reverse(u64::MAX));
        walk::forward(&self.writes, Bound::Included(&from), Bound::Unbounded)
            .take_while(|e| e.key().0.as_slice() == key)
            .map(|e| (e.key().1.0, e.value().kind))
            .collect()
    }

    /// Long values the lock and write CFs point at (each should be in the
    /// default CF).
    pub(crate) fn long_value_refs(&self) -> usize {
        let writes = self.writes.iter().filter(|e| {
            let w = e.value();
            w.kind == WriteKind::Put && w.short_value.is_none()
        });
        let locks = self.locks.iter().filter(|e| {
            let l = read(e.value());
            l.kind == crate::txn_types::errors::LockType::Put && l.short_value.is_none()
        });
        writes.count() + locks.count()
    }
}

//! Commit and rollback: the second phase, and its undoing. Both are
//! idempotent; both report the locks they released so the lock manager can
//! wake waiters.

use super::{Lock, Mvcc, Record, Write, WriteKind};
use crate::txn_types::errors::{KeyError, LockType};

/// A lock this command removed: (key, lock ts, commit_ts or 0).
pub(crate) type Released = (Vec<u8>, u64, u64);

impl Mvcc {
    /// Commits transaction `start_ts` on `keys` at `commit_ts` (caller holds
    /// the latches). Keys already committed are fine; keys whose lock is
    /// gone without a commit record fail with `TxnLockNotFound`.
    pub fn commit(
        &self,
        keys: &[Vec<u8>],
        start_ts: u64,
        commit_ts: u64,
        released: &mut Vec<Released>,
    ) -> Result<(), KeyError> {
        if commit_ts <= start_ts {
            return Err(KeyError::Abort(format!(
                "commit: commit_ts {commit_ts} is not after start_ts {start_ts}"
            )));
        }
        // Check every key before changing any, so a refused commit (expired
        // commit_ts) leaves the transaction as it was.
        for key in keys {
            match self.lock(key) {
                Some(lock) if lock.ts == start_ts => {
                    if lock.kind == LockType::PessimisticLock {
                        return Err(KeyError::txn_lock_not_found(
                            start_ts,
                            key,
                            "only a pessimistic lock, never prewritten",
                        ));
                    }
                    if commit_ts < lock.min_commit_ts {
                        return Err(KeyError::CommitTsExpired {
                            start_ts,
                            attempted_commit_ts: commit_ts,
                            key: key.clone(),
                            min_commit_ts: lock.min_commit_ts,
                        });
                    }
                }
                _ => match self.txn_record(key, start_ts) {
                    Record::Committed(_) => {}
                    Record::RolledBack => {
                        return Err(KeyError::txn_lock_not_found(start_ts, key, "rolled back"));
                    }
                    Record::None => {
                        return Err(KeyError::txn_lock_not_found(
                            start_ts,
                            key,
                            "no lock, no record",
                        ));
                    }
                },
            }
        }
        for key in keys {
            if let Some(lock) = self.lock(key)
                && lock.ts == start_ts
            {
                self.commit_lock(key, &lock, commit_ts);
                released.push((key.clone(), start_ts, commit_ts));
            }
        }
        Ok(())
    }

    /// Turns our prewrite lock into a write record. A rollback record of
    /// another transaction (start_ts == `commit_ts`) already there is kept
    /// as the record's overlapped rollback, as TiKV's `rollback_ts` on the
    /// lock keeps it (async commit chooses its own commit_ts, so it can
    /// land there).
    pub(super) fn commit_lock(&self, key: &[u8], lock: &Lock, commit_ts: u64) {
        let kind = match lock.kind {
            LockType::Put => WriteKind::Put,
            LockType::Del => WriteKind::Delete,
            LockType::Lock | LockType::PessimisticLock => WriteKind::Lock,
        };
        let mut w = Write::new(kind, lock.ts, lock.short_value.clone());
        w.overlapped_rollback = matches!(
            self.seek_write(key, commit_ts),
            Some((ts, old)) if ts == commit_ts
                && (old.kind == WriteKind::Rollback || old.overlapped_rollback)
        );
        self.put_write(key, commit_ts, w);
        self.remove_lock(key);
    }

    /// Rolls transaction `start_ts` back on `keys` (caller holds the
    /// latches): removes its locks and writes rollback records, so a late
    /// prewrite of it fails. Fails if a key was already committed.
    pub fn batch_rollback(
        &self,
        keys: &[Vec<u8>],
        start_ts: u64,
        released: &mut Vec<Released>,
    ) -> Result<(), KeyError> {
        for key in keys {
            if let Record::Committed(commit_ts) = self.committed_unless_locked(key, start_ts) {
                return Err(KeyError::Abort(format!(
                    "rollback: transaction {start_ts} already committed at {commit_ts} on key '{}'",
                    crate::txn_types::errors::show(key)
                )));
            }
        }
        for key in keys {
            self.rollback_key(key, start_ts, false, released);
        }
        Ok(())
    }

    /// The commit record of `start_ts` on `key`, unless it still holds a
    /// lock there.
    fn committed_unless_locked(&self, key: &[u8], start_ts: u64) -> Record {
        match self.lock(key) {
            Some(l) if l.ts == start_ts => Record::None,
            _ => self.txn_record(key, start_ts),
        }
    }

    /// Rolls `start_ts` back on one key: removes its lock if present and
    /// writes a rollback record unless one (or a commit) exists. A primary's
    /// rollback record, or one written with `protect`, is never collapsed.
    pub(super) fn rollback_key(
        &self,
        key: &[u8],
        start_ts: u64,
        protect: bool,
        released: &mut Vec<Released>,
    ) {
        let mut protect = protect;
        if let Some(lock) = self.lock(key)
            && lock.ts == start_ts
        {
            protect |= lock.primary == key;
            if lock.kind == LockType::Put && lock.short_value.is_none() {
                self.remove_data(key, start_ts);
            }
            self.remove_lock(key);
            released.push((key.to_vec(), start_ts, 0));
        }
        match self.txn_record(key, start_ts) {
            Record::Committed(_) | Record::RolledBack => return,
            Record::None => {}
        }
        // A commit of another transaction may sit at commit_ts == start_ts:
        // mark it instead of overwriting it.
        if let Some((commit_ts, mut w)) = self.seek_write(key, start_ts)
            && commit_ts == start_ts
        {
            w.overlapped_rollback = true;
            self.put_write(key, commit_ts, w);
            return;
        }
        if !protect {
            // Keep at most one unprotected rollback below this one, as
            // TiKV does, so aborted transactions do not pile up records.
            if let Some((prev_ts, w)) = self.seek_write(key, start_ts)
                && w.kind == WriteKind::Rollback
                && !w.protected
            {
                self.remove_write(key, prev_ts);
            }
        }
        let mut w = Write::new(WriteKind::Rollback, start_ts, None);
        w.protected = protect;
        self.put_write(key, start_ts, w);
    }
}

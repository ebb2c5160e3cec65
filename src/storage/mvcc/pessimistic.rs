//! Pessimistic locks: taken key by key as a transaction runs, checked
//! against for_update_ts, removed by pessimistic rollback. Waiting for a
//! held lock is the facade's business (it needs the lock manager and must
//! drop the latches first); this file only says who holds it.

use super::{Lock, Mvcc, Record, Released};
use crate::txn_types::errors::{ConflictReason, KeyError, LockInfo, LockType, WriteConflict};
use crate::txn_types::requests::PessimisticLockRequest;

/// Why a pessimistic lock request could not take its locks.
#[derive(Debug)]
pub enum LockFailure {
    /// Another transaction holds this lock: wait for it, or report it.
    Held(LockInfo),
    /// Any other error.
    Err(KeyError),
}

impl Mvcc {
    /// Takes pessimistic locks on every key of `req`, all or none (caller
    /// holds the latches). Returns the values if asked.
    pub fn acquire_pessimistic(
        &self,
        req: &PessimisticLockRequest,
    ) -> Result<Vec<Option<Vec<u8>>>, LockFailure> {
        let start_ts = req.start_version;
        if start_ts == 0 || req.for_update_ts < start_ts {
            return Err(LockFailure::Err(KeyError::Abort(format!(
                "pessimistic lock: bad timestamps (start_ts {start_ts}, for_update_ts {})",
                req.for_update_ts
            ))));
        }
        // Reading the values is a read at for_update_ts (TiKV raises max_ts).
        if req.return_values {
            self.raise_max_ts(req.for_update_ts);
        }
        // Every key is checked before any lock is written.
        let mut writes: Vec<(usize, Lock)> = Vec::new();
        for (i, key) in req.keys.iter().enumerate() {
            if let Some(lock) = self.pessimistic_lock_for(req, key)? {
                writes.push((i, lock));
            }
        }
        for (i, lock) in writes {
            self.put_lock(&req.keys[i], lock);
        }
        if !req.return_values {
            return Ok(Vec::new());
        }
        req.keys
            .iter()
            .map(|k| self.value_at(k, u64::MAX))
            .collect::<Result<_, _>>()
            .map_err(LockFailure::Err)
    }

    /// The lock `req` is to write on `key`: a new pessimistic lock, ours
    /// refreshed, or nothing (our prewrite lock stays as it is); or why
    /// the key cannot be locked.
    fn pessimistic_lock_for(
        &self,
        req: &PessimisticLockRequest,
        key: &[u8],
    ) -> Result<Option<Lock>, LockFailure> {
        let start_ts = req.start_version;
        match self.lock(key) {
            Some(lock) if lock.ts != start_ts => return Err(LockFailure::Held(lock.info(key))),
            // Ours already: refresh a pessimistic lock; a prewrite lock
            // stays as it is.
            Some(mut l) if l.kind == LockType::PessimisticLock => {
                l.ttl = l.ttl.max(req.lock_ttl);
                l.for_update_ts = l.for_update_ts.max(req.for_update_ts);
                l.min_commit_ts = l.min_commit_ts.max(req.min_commit_ts);
                return Ok(Some(l));
            }
            Some(_) => return Ok(None),
            None => {}
        }
        self.check_lockable(req, key).map_err(LockFailure::Err)?;
        Ok(Some(Lock {
            primary: req.primary_lock.clone(),
            ts: start_ts,
            ttl: req.lock_ttl,
            kind: LockType::PessimisticLock,
            for_update_ts: req.for_update_ts,
            // As sent, as TiKV stores it.
            min_commit_ts: req.min_commit_ts,
            txn_size: 0,
            short_value: None,
            use_async_commit: false,
            secondaries: Vec::new(),
        }))
    }

    /// Whether `req` may lock the unlocked `key`: no write committed after
    /// its for_update_ts, and no record of its own transaction there.
    fn check_lockable(&self, req: &PessimisticLockRequest, key: &[u8]) -> Result<(), KeyError> {
        let start_ts = req.start_version;
        if let Some((commit_ts, w)) = self.seek_write(key, u64::MAX)
            && commit_ts > req.for_update_ts
        {
            return Err(KeyError::Conflict(WriteConflict {
                start_ts,
                conflict_ts: w.start_ts,
                key: key.to_vec(),
                primary: req.primary_lock.clone(),
                conflict_commit_ts: commit_ts,
                reason: ConflictReason::PessimisticRetry,
            }));
        }
        match self.txn_record(key, start_ts) {
            Record::RolledBack => Err(KeyError::Abort(format!(
                "PessimisticLockRolledBack: transaction {start_ts} was rolled back on key '{}'",
                crate::txn_types::errors::show(key)
            ))),
            Record::Committed(ts) => Err(KeyError::Abort(format!(
                "pessimistic lock: transaction {start_ts} already committed at {ts} on key '{}'",
                crate::txn_types::errors::show(key)
            ))),
            Record::None => Ok(()),
        }
    }

    /// Removes the pessimistic locks of `start_ts` on `keys` whose
    /// for_update_ts is at most `for_update_ts`; prewrite locks and other
    /// transactions' locks are left alone.
    pub fn pessimistic_rollback(
        &self,
        keys: &[Vec<u8>],
        start_ts: u64,
        for_update_ts: u64,
        released: &mut Vec<Released>,
    ) {
        for key in keys {
            if let Some(lock) = self.lock(key)
                && lock.ts == start_ts
                && lock.kind == LockType::PessimisticLock
                && lock.for_update_ts <= for_update_ts
            {
                self.remove_lock(key);
                released.push((key.clone(), start_ts, 0));
            }
        }
    }
}

//! What resolvers use: the status of a transaction (decided at its primary),
//! resolving its other locks accordingly, and the heartbeat that keeps a
//! long transaction's primary alive.

use super::{Mvcc, Record, Released};
use crate::txn_types::errors::{KeyError, LockType};
use crate::txn_types::requests::{Action, CheckTxnStatusRequest, SecondaryLocks, TxnStatus};

impl Mvcc {
    /// Checks (and settles, if its TTL ran out) the transaction whose primary
    /// is `req.primary_key` (caller holds that key's latch). The facade
    /// raises max_ts first (see `Storage::check_txn_status`).
    pub fn check_txn_status(
        &self,
        req: &CheckTxnStatusRequest,
        released: &mut Vec<Released>,
    ) -> Result<TxnStatus, KeyError> {
        let key = req.primary_key.as_slice();
        let rolled_back = |action| TxnStatus {
            lock_ttl: 0,
            commit_version: 0,
            action,
            lock_info: None,
        };
        if let Some(mut lock) = self.lock(key)
            && lock.ts == req.lock_ts
        {
            // An async lock is never rolled back nor pushed here (its keys
            // decide it), unless the caller forces a sync commit.
            let lock_ttl = lock.ttl.max(1);
            if lock.use_async_commit && !req.force_sync_commit {
                let (action, lock_info) = (Action::NoAction, Some(lock.info(key)));
                return Ok(TxnStatus {
                    lock_ttl,
                    commit_version: 0,
                    action,
                    lock_info,
                });
            }
            if lock.expired(req.current_ts) {
                if lock.kind == LockType::PessimisticLock && req.resolving_pessimistic_lock {
                    self.remove_lock(key);
                    released.push((key.to_vec(), lock.ts, 0));
                    return Ok(rolled_back(Action::TtlExpirePessimisticRollback));
                }
                self.rollback_key(key, lock.ts, true, released);
                return Ok(rolled_back(Action::TtlExpireRollback));
            }
            let mut action = Action::NoAction;
            let caller = req.caller_start_ts;
            // As TiKV: a lock whose min_commit_ts is 0 is never pushed (its
            // client did not ask for it), so its readers wait.
            if lock.kind != LockType::PessimisticLock
                && lock.min_commit_ts != 0
                && caller != 0
                && caller != u64::MAX
                && lock.min_commit_ts <= caller
            {
                // Push the lock's commit past the reader, so the reader may
                // ignore it instead of waiting for it.
                lock.min_commit_ts = caller.saturating_add(1).max(req.current_ts);
                self.put_lock(key, lock.clone());
                action = Action::MinCommitTsPushed;
            }
            return Ok(TxnStatus {
                lock_ttl: lock.ttl.max(1),
                commit_version: 0,
                action,
                lock_info: Some(lock.info(key)),
            });
        }
        match self.txn_record(key, req.lock_ts) {
            Record::Committed(ts) => Ok(TxnStatus {
                lock_ttl: 0,
                commit_version: ts,
                action: Action::NoAction,
                lock_info: None,
            }),
            Record::RolledBack => Ok(rolled_back(Action::NoAction)),
            Record::None if req.resolving_pessimistic_lock => {
                Ok(rolled_back(Action::LockNotExistDoNothing))
            }
            Record::None if req.rollback_if_not_exist => {
                self.rollback_key(key, req.lock_ts, true, released);
                Ok(rolled_back(Action::LockNotExistRollback))
            }
            Record::None => Err(KeyError::TxnNotFound {
                start_ts: req.lock_ts,
                primary_key: key.to_vec(),
            }),
        }
    }

    /// Resolves the lock of `start_ts` on `key`, if there is one: commits it
    /// at `commit_ts`, or rolls it back when `commit_ts` is 0. A leftover
    /// pessimistic lock of a committed transaction is just removed.
    pub fn resolve_key(
        &self,
        key: &[u8],
        start_ts: u64,
        commit_ts: u64,
        released: &mut Vec<Released>,
    ) -> Result<(), KeyError> {
        let Some(lock) = self.lock(key).filter(|l| l.ts == start_ts) else {
            return Ok(());
        };
        if commit_ts == 0 {
            self.rollback_key(key, start_ts, false, released);
        } else if lock.kind == LockType::PessimisticLock {
            self.remove_lock(key);
            released.push((key.to_vec(), start_ts, 0));
        } else if commit_ts <= start_ts {
            return Err(KeyError::Abort(format!(
                "resolve lock: commit_ts {commit_ts} is not after start_ts {start_ts}"
            )));
        } else if commit_ts < lock.min_commit_ts {
            // As TiKV's commit action, which resolving runs.
            return Err(KeyError::CommitTsExpired {
                start_ts,
                attempted_commit_ts: commit_ts,
                key: key.to_vec(),
                min_commit_ts: lock.min_commit_ts,
            });
        } else {
            self.commit_lock(key, &lock, commit_ts);
            released.push((key.to_vec(), start_ts, commit_ts));
        }
        Ok(())
    }

    /// TiKV's `CheckSecondaryLocks` over `keys` of transaction `start_ts`
    /// (caller holds their latches), key by key until one decides: our
    /// prewrite lock is reported; our pessimistic lock is removed and the
    /// key rolled back; a commit record answers its commit_ts; a rollback
    /// record answers rolled back; no lock and no record writes a protected
    /// rollback (the transaction can no longer prewrite there) and answers
    /// rolled back.
    pub fn check_secondary_locks(
        &self,
        keys: &[Vec<u8>],
        start_ts: u64,
        released: &mut Vec<Released>,
    ) -> SecondaryLocks {
        // A commit must not land on the rollback this may write (TiKV).
        self.raise_max_ts(start_ts);
        let mut locks = Vec::new();
        for key in keys {
            match self.lock(key) {
                Some(lock) if lock.ts == start_ts && lock.kind != LockType::PessimisticLock => {
                    locks.push(lock.info(key));
                    continue;
                }
                Some(lock) if lock.ts == start_ts => {
                    self.remove_lock(key);
                    released.push((key.clone(), start_ts, 0));
                }
                _ => {}
            }
            return match self.txn_record(key, start_ts) {
                Record::Committed(commit_ts) => SecondaryLocks {
                    locks: Vec::new(),
                    commit_ts,
                },
                Record::RolledBack => SecondaryLocks::default(),
                Record::None => {
                    self.rollback_key(key, start_ts, true, released);
                    SecondaryLocks::default()
                }
            };
        }
        SecondaryLocks {
            locks,
            commit_ts: 0,
        }
    }

    /// Raises the TTL of the primary lock of `start_ts` to at least
    /// `advise_ttl` and returns the TTL.
    pub fn txn_heart_beat(
        &self,
        primary: &[u8],
        start_ts: u64,
        advise_ttl: u64,
    ) -> Result<u64, KeyError> {
        match self.lock(primary) {
            Some(mut lock) if lock.ts == start_ts => {
                if advise_ttl > lock.ttl {
                    lock.ttl = advise_ttl;
                    self.put_lock(primary, lock.clone());
                }
                Ok(lock.ttl)
            }
            _ => Err(KeyError::TxnNotFound {
                start_ts,
                primary_key: primary.to_vec(),
            }),
        }
    }
}

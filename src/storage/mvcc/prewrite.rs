//! Prewrite: the first phase of two-phase commit. Every mutation is checked
//! first and written only if all pass (a prewrite that meets locks writes
//! nothing and reports every lock it met; any other error stops at once).

use super::{Lock, Mvcc, Record, WriteKind};
use crate::txn_types::errors::{ConflictReason, KeyError, LockType, WriteConflict};
use crate::txn_types::requests::{
    Mutation, MutationOp, PessimisticAction, PrewriteRequest, PrewriteResult,
};

/// What to do with one checked mutation.
enum Plan {
    /// Write a lock (and spilled data).
    Lock(Lock, Option<Vec<u8>>),
    /// Nothing to write (already prewritten, already committed, or a pure
    /// existence check).
    Skip,
}

impl Mvcc {
    /// Prewrites `req` (caller holds the latches of its keys).
    pub fn prewrite(&self, req: &PrewriteRequest) -> Result<PrewriteResult, Vec<KeyError>> {
        if req.start_version == 0 {
            return Err(vec![KeyError::Abort("prewrite: start_version is 0".into())]);
        }
        if !req.pessimistic_actions.is_empty()
            && req.pessimistic_actions.len() != req.mutations.len()
        {
            return Err(vec![KeyError::Abort(format!(
                "prewrite: {} pessimistic actions for {} mutations",
                req.pessimistic_actions.len(),
                req.mutations.len()
            ))]);
        }
        let mut plans = Vec::with_capacity(req.mutations.len());
        let mut locked = Vec::new();
        for (i, m) in req.mutations.iter().enumerate() {
            let action = req.pessimistic_actions.get(i).copied().unwrap_or_default();
            match self.check_mutation(req, m, action) {
                Ok(p) => plans.push((m, p)),
                Err(e @ KeyError::Locked(_)) => locked.push(e),
                Err(e) => return Err(vec![e]),
            }
        }
        if !locked.is_empty() {
            return Err(locked);
        }
        for (m, plan) in plans {
            if let Plan::Lock(lock, spilled) = plan {
                // Data before lock: a reader that sees the lock and later the
                // commit record always finds the value.
                if let Some(v) = spilled {
                    self.put_data(&m.key, req.start_version, v);
                }
                self.put_lock(&m.key, lock);
            }
        }
        Ok(PrewriteResult::default())
    }

    fn check_mutation(
        &self,
        req: &PrewriteRequest,
        m: &Mutation,
        action: PessimisticAction,
    ) -> Result<Plan, KeyError> {
        let start_ts = req.start_version;
        let pessimistic = action == PessimisticAction::DoPessimisticCheck;
        match self.lock(&m.key) {
            Some(lock) if lock.ts != start_ts => {
                if pessimistic {
                    return Err(pessimistic_lock_not_found(
                        start_ts,
                        &m.key,
                        "held by another",
                    ));
                }
                return Err(KeyError::Locked(lock.info(&m.key)));
            }
            Some(lock) if lock.kind != LockType::PessimisticLock => {
                // Our own prewrite lock: this prewrite is a repeat.
                return Ok(Plan::Skip);
            }
            Some(_) => {
                // Our own pessimistic lock: it already excludes conflicts,
                // so turn it into a prewrite lock.
                if matches!(m.op, MutationOp::Insert | MutationOp::CheckNotExists) {
                    self.check_not_exists(&m.key)?;
                }
                return Ok(self.plan_lock(req, m));
            }
            None if pessimistic => {
                return match self.txn_record(&m.key, start_ts) {
                    Record::Committed(_) => Ok(Plan::Skip),
                    _ => Err(pessimistic_lock_not_found(start_ts, &m.key, "not locked")),
                };
            }
            None => {}
        }
        // No lock: look for writes this transaction must not overwrite.
        if let Some((commit_ts, w)) = self.seek_write(&m.key, u64::MAX) {
            if w.start_ts == start_ts && w.kind != WriteKind::Rollback {
                // Committed already: a late repeat of this prewrite.
                return Ok(Plan::Skip);
            }
            let threshold = start_ts.max(req.for_update_ts);
            if commit_ts > threshold {
                return Err(conflict(
                    req,
                    &m.key,
                    w.start_ts,
                    commit_ts,
                    ConflictReason::Optimistic,
                ));
            }
        }
        if let Some((commit_ts, w)) = self.seek_write(&m.key, start_ts)
            && commit_ts == start_ts
            && (w.kind == WriteKind::Rollback || w.overlapped_rollback)
        {
            return Err(conflict(
                req,
                &m.key,
                w.start_ts,
                commit_ts,
                ConflictReason::SelfRolledBack,
            ));
        }
        if matches!(m.op, MutationOp::Insert | MutationOp::CheckNotExists) {
            self.check_not_exists(&m.key)?;
        }
        Ok(self.plan_lock(req, m))
    }

    fn check_not_exists(&self, key: &[u8]) -> Result<(), KeyError> {
        if self.exists_at(key, u64::MAX) {
            Err(KeyError::AlreadyExist { key: key.to_vec() })
        } else {
            Ok(())
        }
    }

    fn plan_lock(&self, req: &PrewriteRequest, m: &Mutation) -> Plan {
        let kind = match m.op {
            MutationOp::Put | MutationOp::Insert => LockType::Put,
            MutationOp::Del => LockType::Del,
            MutationOp::Lock => LockType::Lock,
            MutationOp::CheckNotExists => return Plan::Skip,
        };
        let (short_value, spilled) = if kind == LockType::Put {
            self.place_value(&m.value)
        } else {
            (None, None)
        };
        let lock = Lock {
            primary: req.primary_lock.clone(),
            ts: req.start_version,
            ttl: req.lock_ttl,
            kind,
            for_update_ts: req.for_update_ts,
            // As sent, as TiKV stores it (0 stays 0: readers cannot push
            // such a lock and must wait for it).
            min_commit_ts: req.min_commit_ts,
            txn_size: req.txn_size,
            short_value,
            use_async_commit: req.use_async_commit,
            secondaries: if req.use_async_commit && m.key == req.primary_lock {
                req.secondaries.clone()
            } else {
                Vec::new()
            },
        };
        Plan::Lock(lock, spilled)
    }
}

fn conflict(
    req: &PrewriteRequest,
    key: &[u8],
    conflict_ts: u64,
    conflict_commit_ts: u64,
    reason: ConflictReason,
) -> KeyError {
    KeyError::Conflict(WriteConflict {
        start_ts: req.start_version,
        conflict_ts,
        key: key.to_vec(),
        primary: req.primary_lock.clone(),
        conflict_commit_ts,
        reason,
    })
}

fn pessimistic_lock_not_found(start_ts: u64, key: &[u8], why: &str) -> KeyError {
    KeyError::Retryable(format!(
        "PessimisticLockNotFound: transaction {start_ts} has no pessimistic lock on key '{}' ({why})",
        crate::txn_types::errors::show(key)
    ))
}

//! Prewrite: the first phase of two-phase commit. Every mutation is checked
//! first and written only if all pass (a prewrite that meets locks writes
//! nothing and reports every lock it met; any other error stops at once;
//! a key found committed by this very transaction makes the request a
//! late repeat, which writes nothing and answers the commit_ts, as TiKV's
//! `check_committed_record_on_err` does).
//!
//! Async commit and 1PC (TiKV's `async_commit_timestamps`): each lock gets
//! min_commit_ts = max(max_ts + 1, start_ts + 1, for_update_ts + 1, the
//! request's and an own pessimistic lock's min_commit_ts), published in
//! the order `Mvcc::raise_max_ts` explains. A key whose min_commit_ts would
//! pass a non-zero max_commit_ts falls back, with every key after it in the
//! request, to a plain 2PC lock, and the answer carries no timestamps (the
//! client commits in two phases); keys before it keep their async locks,
//! as in TiKV. 1PC turns the locks into write records at the largest
//! min_commit_ts right away.

use super::{Lock, Mvcc, Record, Released, WriteKind};
use crate::txn_types::errors::{ConflictReason, KeyError, LockType, WriteConflict};
use crate::txn_types::requests::{
    Mutation, MutationOp, PessimisticAction, PrewriteRequest, PrewriteResult,
};

/// What to do with one checked mutation.
enum Plan {
    /// Write a lock (and spilled data).
    Lock(Lock, Option<Vec<u8>>),
    /// Our own prewrite lock is there already: its min_commit_ts when it
    /// is an async-commit lock, else 0.
    Repeat(u64),
    /// Nothing to write: a pure existence check.
    Skip,
    /// This transaction committed the key already, at this commit_ts.
    Committed(u64),
}

impl Mvcc {
    /// Prewrites `req` (caller holds the latches of its keys). A 1PC
    /// prewrite that commits lists the locks it released in `released`.
    pub fn prewrite(
        &self,
        req: &PrewriteRequest,
        released: &mut Vec<Released>,
    ) -> Result<PrewriteResult, Vec<KeyError>> {
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
        // An existence check is a read at start_ts (TiKV raises max_ts).
        if req
            .mutations
            .iter()
            .any(|m| matches!(m.op, MutationOp::Insert | MutationOp::CheckNotExists))
        {
            self.raise_max_ts(req.start_version);
        }
        let mut plans = Vec::with_capacity(req.mutations.len());
        let mut locked = Vec::new();
        for (i, m) in req.mutations.iter().enumerate() {
            let action = req.pessimistic_actions.get(i).copied().unwrap_or_default();
            match self.check_mutation(req, m, action) {
                Ok(Plan::Committed(ts)) => return Ok(answer(req, ts, req.try_one_pc)),
                Ok(p) => plans.push((m, p)),
                Err(e @ KeyError::Locked(_)) => locked.push(e),
                Err(e) => return Err(vec![e]),
            }
        }
        if !locked.is_empty() {
            return Err(locked);
        }
        Ok(self.write_plans(req, plans, released))
    }

    /// Writes the checked plans: data before lock, so a reader that sees
    /// the lock and later the commit record always finds the value.
    fn write_plans(
        &self,
        req: &PrewriteRequest,
        plans: Vec<(&Mutation, Plan)>,
        released: &mut Vec<Released>,
    ) -> PrewriteResult {
        let timed = req.use_async_commit || req.try_one_pc;
        for (m, plan) in &plans {
            if let Plan::Lock(lock, spilled) = plan {
                if let Some(v) = spilled {
                    self.put_data(&m.key, req.start_version, v.clone());
                }
                let mut published = lock.clone();
                if timed {
                    // Not final yet: 0 stops every reader at or above
                    // start_ts until the real min_commit_ts is written.
                    published.min_commit_ts = 0;
                }
                self.put_lock(&m.key, published);
            }
        }
        if !timed {
            return PrewriteResult::default();
        }
        let max_ts = self.max_ts();
        let floor = max_ts
            .max(req.start_version)
            .max(req.for_update_ts)
            .saturating_add(1);
        let mut fell_back = false;
        let mut final_ts = 0;
        let mut written = Vec::new();
        for (m, plan) in plans {
            match plan {
                Plan::Lock(mut lock, _) => {
                    let ts = floor.max(lock.min_commit_ts);
                    fell_back |= req.max_commit_ts != 0 && ts > req.max_commit_ts;
                    if fell_back {
                        lock.use_async_commit = false;
                        lock.secondaries = Vec::new();
                    } else {
                        lock.min_commit_ts = ts;
                        final_ts = final_ts.max(ts);
                    }
                    self.put_lock(&m.key, lock.clone());
                    written.push((m, lock));
                }
                // A repeat of a lock that is not async (it fell back before)
                // makes the rest fall back too.
                Plan::Repeat(0) => fell_back = true,
                Plan::Repeat(ts) if !fell_back => final_ts = final_ts.max(ts),
                Plan::Skip if !fell_back => {
                    let ts = req.min_commit_ts.max(req.start_version.saturating_add(1));
                    final_ts = final_ts.max(ts);
                }
                Plan::Repeat(_) | Plan::Skip | Plan::Committed(_) => {}
            }
        }
        if fell_back || final_ts == 0 {
            return PrewriteResult::default();
        }
        if req.try_one_pc {
            for (m, lock) in written {
                self.commit_lock(&m.key, &lock, final_ts);
                released.push((m.key.clone(), req.start_version, final_ts));
            }
        }
        answer(req, final_ts, req.try_one_pc)
    }

    fn check_mutation(
        &self,
        req: &PrewriteRequest,
        m: &Mutation,
        action: PessimisticAction,
    ) -> Result<Plan, KeyError> {
        let start_ts = req.start_version;
        let pessimistic = action == PessimisticAction::DoPessimisticCheck;
        let committed = || match self.txn_record(&m.key, start_ts) {
            Record::Committed(ts) => Some(Plan::Committed(ts)),
            _ => None,
        };
        match self.lock(&m.key) {
            Some(lock) if lock.ts != start_ts => {
                if let Some(p) = committed() {
                    return Ok(p);
                }
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
                return Ok(Plan::Repeat(if lock.use_async_commit {
                    lock.min_commit_ts
                } else {
                    0
                }));
            }
            Some(own) => {
                // Our own pessimistic lock: it already excludes conflicts,
                // so turn it into a prewrite lock (keeping what it was
                // pushed to).
                if matches!(m.op, MutationOp::Insert | MutationOp::CheckNotExists) {
                    self.check_not_exists(&m.key)?;
                }
                return Ok(match self.plan_lock(req, m) {
                    Plan::Lock(mut lock, spilled) => {
                        lock.ttl = lock.ttl.max(own.ttl);
                        lock.for_update_ts = lock.for_update_ts.max(own.for_update_ts);
                        lock.min_commit_ts = lock.min_commit_ts.max(own.min_commit_ts);
                        Plan::Lock(lock, spilled)
                    }
                    other => other,
                });
            }
            None if pessimistic => {
                return committed()
                    .ok_or_else(|| pessimistic_lock_not_found(start_ts, &m.key, "not locked"));
            }
            None => {}
        }
        // No lock: look for writes this transaction must not overwrite.
        if let Some((commit_ts, w)) = self.seek_write(&m.key, u64::MAX) {
            if w.start_ts == start_ts && w.kind != WriteKind::Rollback {
                // Committed already: a late repeat of this prewrite.
                return Ok(Plan::Committed(commit_ts));
            }
            let threshold = start_ts.max(req.for_update_ts);
            if commit_ts > threshold {
                if let Some(p) = committed() {
                    return Ok(p);
                }
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
            // TiKV marks every lock of an async-commit request, and gives
            // the primary the secondaries (when there are any).
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

/// The answer to a prewrite whose transaction commits at (or after) `ts`.
fn answer(req: &PrewriteRequest, ts: u64, one_pc: bool) -> PrewriteResult {
    PrewriteResult {
        min_commit_ts: if req.use_async_commit { ts } else { 0 },
        one_pc_commit_ts: if one_pc { ts } else { 0 },
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

//! Resolving a lock met on the way: ask the lock's primary what became of
//! its transaction (rolling it back if its TTL ran out), then commit or roll
//! back the lock to match. Each resolution goes into the op's trace with
//! what it found.

use super::{Error, Transport};
use crate::txn_types::ts::physical;
use crate::txn_types::{CheckTxnStatusRequest, KeyError, LockInfo, LockType, SecondaryLocks};
use crate::vocab::Events;
use crate::vocab::trace::{self, Resolution};

/// Event: an expired async-commit transaction settled from its secondary
/// locks (CheckSecondaryLocks).
pub const ASYNC_COMMIT_RECOVERIES: &str = "async_commit_recoveries";

/// What became of a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The lock is gone (its transaction committed or rolled back and the
    /// lock was resolved): retry at once.
    Gone,
    /// The holder lives, but will commit after the caller's start_ts: a
    /// reader may read past it.
    Pushed,
    /// The holder lives: back off, then retry.
    Alive,
}

/// Resolves `lock`. `caller_start_ts` is the reader's start_ts (it may push
/// the holder's min_commit_ts), or 0 for a writer.
pub(crate) async fn resolve<T: Transport>(
    t: &T,
    lock: &LockInfo,
    caller_start_ts: u64,
    events: &mut Events,
) -> Result<Resolved, Error> {
    let began = trace::now();
    let r = settle(t, lock, caller_start_ts, events).await;
    let found = match &r {
        Ok((_, found)) => *found,
        Err(e) => Resolution::Failed(e.kind()),
    };
    let (key, primary) = (&lock.key, &lock.primary_lock);
    let trace = events.trace_mut();
    trace.resolved(began, lock.lock_version, key, primary, found);
    r.map(|(resolved, _)| resolved)
}

/// [`resolve`], saying what it found.
async fn settle<T: Transport>(
    t: &T,
    lock: &LockInfo,
    caller_start_ts: u64,
    events: &mut Events,
) -> Result<(Resolved, Resolution), Error> {
    let mut force_sync_commit = false;
    loop {
        let settled = settle_once(t, lock, caller_start_ts, force_sync_commit, events).await?;
        match settled {
            Some(done) => return Ok(done),
            // An async transaction with a two-phase lock among its keys:
            // its primary decides after all, as client-go asks again with
            // `force_sync_commit`.
            None => force_sync_commit = true,
        }
    }
}

/// One status check of `lock`'s primary and what follows from it; `None`
/// when the primary must be asked again with `force_sync_commit`.
async fn settle_once<T: Transport>(
    t: &T,
    lock: &LockInfo,
    caller_start_ts: u64,
    force_sync_commit: bool,
    events: &mut Events,
) -> Result<Option<(Resolved, Resolution)>, Error> {
    let current_ts = t.timestamp().await?;
    let expired = physical(lock.lock_version).saturating_add(lock.lock_ttl) < physical(current_ts);
    let req = CheckTxnStatusRequest {
        primary_key: lock.primary_lock.clone(),
        lock_ts: lock.lock_version,
        caller_start_ts,
        current_ts,
        // A missing primary of a live lock may still be on its way; only
        // once the lock has expired is "never prewritten" the answer.
        rollback_if_not_exist: expired,
        resolving_pessimistic_lock: lock.lock_type == LockType::PessimisticLock,
        force_sync_commit,
    };
    let status = match t.check_txn_status(&req).await {
        Ok(s) => s,
        Err(Error::Key(errs)) if matches!(errs.first(), Some(KeyError::TxnNotFound { .. })) => {
            return Ok(Some((Resolved::Alive, Resolution::TxnNotFound)));
        }
        Err(e) => return Err(e),
    };
    let keys = [lock.key.clone()];
    if let Some(commit_ts) = status.committed() {
        t.resolve_lock(lock.lock_version, commit_ts, &keys).await?;
        events.add("locks_resolved", 1);
        return Ok(Some((Resolved::Gone, Resolution::Committed)));
    }
    if status.rolled_back() {
        t.resolve_lock(lock.lock_version, 0, &keys).await?;
        events.add("locks_resolved", 1);
        return Ok(Some((Resolved::Gone, Resolution::RolledBack)));
    }
    let asynchronous = status.lock_info.as_ref().filter(|l| l.use_async_commit);
    if let Some(primary) = asynchronous.filter(|_| !force_sync_commit) {
        // The primary of an async-commit transaction cannot tell alone:
        // once it has expired, its secondaries decide.
        let ttl = primary.lock_ttl;
        if physical(lock.lock_version).saturating_add(ttl) < physical(current_ts) {
            return recover_async(t, lock, primary, events).await;
        }
    }
    let pushed = status.lock_info.as_ref().is_some_and(|l| {
        l.lock_type != LockType::PessimisticLock && l.min_commit_ts > caller_start_ts
    });
    if caller_start_ts != 0 && pushed {
        Ok(Some((Resolved::Pushed, Resolution::Pushed)))
    } else {
        Ok(Some((Resolved::Alive, Resolution::Alive)))
    }
}

/// Settles an expired async-commit transaction whose primary lock is
/// `primary`, as client-go's `resolveAsyncCommitLock` and
/// `checkAllSecondaries` (txnkv/txnlock/lock_resolver.go): CheckSecondaryLocks
/// over the secondaries (by region); committed when any key was committed
/// (at its commit_ts), rolled back when any has no lock (the store keeps
/// it from ever being prewritten), else committed at the largest
/// min_commit_ts of all the locks, the primary's among them. Then every key
/// is resolved to that outcome. A secondary lock that is not an async one
/// (a store fell back to two phases, so the transaction commits, if at
/// all, through its primary) answers `None`: the primary is to be asked
/// again with `force_sync_commit`, which settles it as a two-phase lock
/// (client-go's `nonAsyncCommitLock` retry). Rolling the primary back here
/// instead could race with its writer's commit and undo one key of a
/// committed transaction.
async fn recover_async<T: Transport>(
    t: &T,
    lock: &LockInfo,
    primary: &LockInfo,
    events: &mut Events,
) -> Result<Option<(Resolved, Resolution)>, Error> {
    let start_ts = lock.lock_version;
    let secondaries = &primary.secondaries;
    let found = if secondaries.is_empty() {
        SecondaryLocks::default()
    } else {
        t.check_secondary_locks(secondaries, start_ts).await?
    };
    events.add(ASYNC_COMMIT_RECOVERIES, 1);
    if found.locks.iter().any(|l| !l.use_async_commit) {
        return Ok(None);
    }
    let commit_ts = if found.commit_ts != 0 {
        found.commit_ts
    } else if found.locks.len() < secondaries.len() {
        0
    } else {
        let mins = found.locks.iter().map(|l| l.min_commit_ts);
        mins.fold(primary.min_commit_ts, u64::max)
    };
    let mut keys = secondaries.clone();
    keys.push(lock.primary_lock.clone());
    t.resolve_lock(start_ts, commit_ts, &keys).await?;
    events.add("locks_resolved", 1);
    let found = if commit_ts != 0 {
        Resolution::Committed
    } else {
        Resolution::RolledBack
    };
    Ok(Some((Resolved::Gone, found)))
}

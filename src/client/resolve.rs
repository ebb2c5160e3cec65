//! Resolving a lock met on the way: ask the lock's primary what became of
//! its transaction (rolling it back if its TTL ran out), then commit or roll
//! back the lock to match. Each resolution goes into the op's trace with
//! what it found.

use super::{Error, Transport};
use crate::txn_types::ts::physical;
use crate::txn_types::{CheckTxnStatusRequest, KeyError, LockInfo, LockType};
use crate::vocab::Events;
use crate::vocab::trace::{self, Resolution};

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
    };
    let status = match t.check_txn_status(&req).await {
        Ok(s) => s,
        Err(Error::Key(errs)) if matches!(errs.first(), Some(KeyError::TxnNotFound { .. })) => {
            return Ok((Resolved::Alive, Resolution::TxnNotFound));
        }
        Err(e) => return Err(e),
    };
    let keys = [lock.key.clone()];
    if let Some(commit_ts) = status.committed() {
        t.resolve_lock(lock.lock_version, commit_ts, &keys).await?;
        events.add("locks_resolved", 1);
        return Ok((Resolved::Gone, Resolution::Committed));
    }
    if status.rolled_back() {
        t.resolve_lock(lock.lock_version, 0, &keys).await?;
        events.add("locks_resolved", 1);
        return Ok((Resolved::Gone, Resolution::RolledBack));
    }
    let pushed = status.lock_info.as_ref().is_some_and(|l| {
        l.lock_type != LockType::PessimisticLock && l.min_commit_ts > caller_start_ts
    });
    if caller_start_ts != 0 && pushed {
        Ok((Resolved::Pushed, Resolution::Pushed))
    } else {
        Ok((Resolved::Alive, Resolution::Alive))
    }
}

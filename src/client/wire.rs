//! Between the transaction protocol's values (the engine's request and
//! error types, which mirror kvproto) and the kvproto messages the gRPC
//! transport sends and receives. The stand-in's `cluster::store::convert`
//! goes the other way.

use crate::proto::kvrpcpb;
use crate::txn_types::{
    Action, ConflictReason, KeyError, LockInfo, LockType, Mutation, MutationOp, PessimisticAction,
    TxnStatus, WaitForEntry, WriteConflict,
};

pub fn mutation(m: &Mutation) -> kvrpcpb::Mutation {
    let op = match m.op {
        MutationOp::Put => kvrpcpb::Op::Put,
        MutationOp::Del => kvrpcpb::Op::Del,
        MutationOp::Lock => kvrpcpb::Op::Lock,
        MutationOp::Insert => kvrpcpb::Op::Insert,
        MutationOp::CheckNotExists => kvrpcpb::Op::CheckNotExists,
    };
    kvrpcpb::Mutation {
        op: op as i32,
        key: m.key.clone(),
        value: m.value.clone(),
        assertion: 0,
    }
}

pub fn pessimistic_action(a: PessimisticAction) -> i32 {
    use kvrpcpb::prewrite_request::PessimisticAction as P;
    match a {
        PessimisticAction::SkipPessimisticCheck => P::SkipPessimisticCheck as i32,
        PessimisticAction::DoPessimisticCheck => P::DoPessimisticCheck as i32,
    }
}

fn lock_type(op: i32) -> LockType {
    match kvrpcpb::Op::try_from(op) {
        Ok(kvrpcpb::Op::Del) => LockType::Del,
        Ok(kvrpcpb::Op::Lock) => LockType::Lock,
        Ok(kvrpcpb::Op::PessimisticLock) => LockType::PessimisticLock,
        _ => LockType::Put,
    }
}

pub fn lock_info(l: kvrpcpb::LockInfo) -> LockInfo {
    LockInfo {
        primary_lock: l.primary_lock,
        lock_version: l.lock_version,
        key: l.key,
        lock_ttl: l.lock_ttl,
        txn_size: l.txn_size,
        lock_type: lock_type(l.lock_type),
        lock_for_update_ts: l.lock_for_update_ts,
        min_commit_ts: l.min_commit_ts,
    }
}

fn reason(r: i32) -> ConflictReason {
    use kvrpcpb::write_conflict::Reason as R;
    match R::try_from(r) {
        Ok(R::Optimistic) => ConflictReason::Optimistic,
        Ok(R::PessimisticRetry) => ConflictReason::PessimisticRetry,
        Ok(R::SelfRolledBack) => ConflictReason::SelfRolledBack,
        Ok(R::RcCheckTs) => ConflictReason::RcCheckTs,
        Ok(R::LazyUniquenessCheck) => ConflictReason::LazyUniquenessCheck,
        _ => ConflictReason::Unknown,
    }
}

/// A key error as the protocol code knows it. Fields it has no variant for
/// (commit_ts_too_large, assertion_failed, primary_mismatch) become `Abort`.
pub fn key_error(e: kvrpcpb::KeyError) -> KeyError {
    if let Some(l) = e.locked {
        return KeyError::Locked(lock_info(l));
    }
    if let Some(c) = e.conflict {
        return KeyError::Conflict(WriteConflict {
            start_ts: c.start_ts,
            conflict_ts: c.conflict_ts,
            key: c.key,
            primary: c.primary,
            conflict_commit_ts: c.conflict_commit_ts,
            reason: reason(c.reason),
        });
    }
    if let Some(d) = e.deadlock {
        return KeyError::Deadlock {
            lock_ts: d.lock_ts,
            lock_key: d.lock_key,
            deadlock_key_hash: d.deadlock_key_hash,
            wait_chain: d
                .wait_chain
                .into_iter()
                .map(|w| WaitForEntry {
                    txn: w.txn,
                    wait_for_txn: w.wait_for_txn,
                    key_hash: w.key_hash,
                    key: w.key,
                })
                .collect(),
        };
    }
    if let Some(a) = e.already_exist {
        return KeyError::AlreadyExist { key: a.key };
    }
    if let Some(x) = e.commit_ts_expired {
        return KeyError::CommitTsExpired {
            start_ts: x.start_ts,
            attempted_commit_ts: x.attempted_commit_ts,
            key: x.key,
            min_commit_ts: x.min_commit_ts,
        };
    }
    if let Some(t) = e.txn_not_found {
        return KeyError::TxnNotFound {
            start_ts: t.start_ts,
            primary_key: t.primary_key,
        };
    }
    if !e.retryable.is_empty() {
        return KeyError::Retryable(e.retryable);
    }
    if !e.abort.is_empty() {
        return KeyError::Abort(e.abort);
    }
    let what = if let Some(t) = e.commit_ts_too_large {
        format!("commit_ts {} is too large", t.commit_ts)
    } else if let Some(a) = e.assertion_failed {
        format!(
            "assertion failed on key '{}' of transaction {}",
            a.key.escape_ascii(),
            a.start_ts
        )
    } else if e.primary_mismatch.is_some() {
        "primary mismatch".to_string()
    } else {
        "an empty key error".to_string()
    };
    KeyError::Abort(what)
}

fn action(a: i32) -> Action {
    match kvrpcpb::Action::try_from(a) {
        Ok(kvrpcpb::Action::TtlExpireRollback) => Action::TtlExpireRollback,
        Ok(kvrpcpb::Action::LockNotExistRollback) => Action::LockNotExistRollback,
        Ok(kvrpcpb::Action::MinCommitTsPushed) => Action::MinCommitTsPushed,
        Ok(kvrpcpb::Action::TtlExpirePessimisticRollback) => Action::TtlExpirePessimisticRollback,
        Ok(kvrpcpb::Action::LockNotExistDoNothing) => Action::LockNotExistDoNothing,
        _ => Action::NoAction,
    }
}

/// A CheckTxnStatus answer (without a key error) as a status.
pub fn txn_status(r: kvrpcpb::CheckTxnStatusResponse) -> TxnStatus {
    TxnStatus {
        lock_ttl: r.lock_ttl,
        commit_version: r.commit_version,
        action: action(r.action),
        lock_info: r.lock_info.map(lock_info),
    }
}

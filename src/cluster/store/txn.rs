//! The transactional API handlers: Percolator calls onto the engine. Key
//! errors travel as `KeyError` (see `convert::key_error`); keys are checked
//! against the region by their memcomparable encoding, and scans and
//! region-wide calls (ResolveLock without keys, ScanLock) use the region's
//! decoded bounds.

use tonic::Status;

use super::convert::{key_error, lock_info};
use super::{Space, Store, admit, clip_scan, need_key, need_keys, outside};
use crate::proto::kvrpcpb::{
    self, BatchGetRequest, BatchGetResponse, BatchRollbackRequest, BatchRollbackResponse,
    CheckSecondaryLocksRequest, CheckSecondaryLocksResponse, CheckTxnStatusRequest,
    CheckTxnStatusResponse, CleanupRequest, CleanupResponse, CommitRequest, CommitResponse,
    ExecDetailsV2, GetRequest, GetResponse, Op, PessimisticLockRequest, PessimisticLockResponse,
    PessimisticRollbackRequest, PessimisticRollbackResponse, PrewriteRequest, PrewriteResponse,
    ResolveLockRequest, ResolveLockResponse, ScanLockRequest, ScanLockResponse, ScanRequest,
    ScanResponse, TxnHeartBeatRequest, TxnHeartBeatResponse, WriteDetail,
    prewrite_request::PessimisticAction as ProtoAction,
};
use crate::storage::{self, KeyError, MutationOp, PessimisticAction, TxnStatus};

fn resolved_locks(ctx: Option<&kvrpcpb::Context>) -> Vec<u64> {
    ctx.map(|c| c.resolved_locks.clone()).unwrap_or_default()
}

fn pair(p: storage::KvPair) -> kvrpcpb::KvPair {
    match p.value {
        Ok(value) => kvrpcpb::KvPair {
            key: p.key,
            value,
            error: None,
        },
        Err(e) => kvrpcpb::KvPair {
            key: p.key,
            value: Vec::new(),
            error: Some(key_error(e)),
        },
    }
}

fn mutation_op(op: i32) -> Result<MutationOp, Status> {
    match Op::try_from(op) {
        Ok(Op::Put) => Ok(MutationOp::Put),
        Ok(Op::Del) => Ok(MutationOp::Del),
        Ok(Op::Lock) => Ok(MutationOp::Lock),
        Ok(Op::Insert) => Ok(MutationOp::Insert),
        Ok(Op::CheckNotExists) => Ok(MutationOp::CheckNotExists),
        Ok(other) => Err(Status::invalid_argument(format!(
            "mutation op {} cannot be prewritten",
            other.as_str_name()
        ))),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown mutation op {op}"
        ))),
    }
}

fn pessimistic_action(a: i32) -> Result<PessimisticAction, Status> {
    match ProtoAction::try_from(a) {
        Ok(ProtoAction::DoPessimisticCheck) => Ok(PessimisticAction::DoPessimisticCheck),
        // A constraint check is the optimistic check of a key the
        // transaction did not lock.
        Ok(ProtoAction::SkipPessimisticCheck | ProtoAction::DoConstraintCheck) => {
            Ok(PessimisticAction::SkipPessimisticCheck)
        }
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown pessimistic action {a}"
        ))),
    }
}

pub(super) async fn get(s: &Store, req: GetRequest) -> Result<GetResponse, Status> {
    need_key(&req.key, "key")?;
    admit!(s, req, GetResponse, Space::Txn, [req.key.as_slice()]);
    let resolved = resolved_locks(req.context.as_ref());
    Ok(
        match s.shared.storage.kv_get(&req.key, req.version, &resolved) {
            Ok(Some(value)) => GetResponse {
                value,
                ..Default::default()
            },
            Ok(None) => GetResponse {
                not_found: true,
                ..Default::default()
            },
            Err(e) => GetResponse {
                error: Some(key_error(e)),
                ..Default::default()
            },
        },
    )
}

pub(super) async fn batch_get(s: &Store, req: BatchGetRequest) -> Result<BatchGetResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, BatchGetResponse, Space::Txn, keys);
    let resolved = resolved_locks(req.context.as_ref());
    let pairs = s
        .shared
        .storage
        .kv_batch_get(&req.keys, req.version, &resolved);
    Ok(BatchGetResponse {
        pairs: pairs.into_iter().map(pair).collect(),
        ..Default::default()
    })
}

pub(super) async fn scan(s: &Store, req: ScanRequest) -> Result<ScanResponse, Status> {
    let region = admit!(s, req, ScanResponse, Space::Txn, []);
    let Some((start, end)) = clip_scan(
        Space::Txn,
        &region,
        &req.start_key,
        &req.end_key,
        req.reverse,
    ) else {
        return Ok(outside(&req.start_key, &region));
    };
    let resolved = resolved_locks(req.context.as_ref());
    let pairs = s.shared.storage.kv_scan(
        &start,
        &end,
        req.limit,
        req.version,
        req.key_only,
        req.reverse,
        &resolved,
    );
    Ok(ScanResponse {
        pairs: pairs.into_iter().map(pair).collect(),
        ..Default::default()
    })
}

pub(super) async fn prewrite(s: &Store, req: PrewriteRequest) -> Result<PrewriteResponse, Status> {
    need_keys(req.mutations.iter().map(|m| m.key.as_slice()))?;
    if !req.mutations.is_empty() {
        need_key(&req.primary_lock, "primary_lock")?;
    }
    let mutations = req
        .mutations
        .iter()
        .map(|m| {
            Ok(storage::Mutation {
                op: mutation_op(m.op)?,
                key: m.key.clone(),
                value: m.value.clone(),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let mut pessimistic_actions = req
        .pessimistic_actions
        .iter()
        .map(|&a| pessimistic_action(a))
        .collect::<Result<Vec<_>, Status>>()?;
    // The official client shards a prewrite's mutations by region but sends
    // every shard the whole transaction's actions (all DO_PESSIMISTIC_CHECK);
    // TiKV pairs them up positionally and ignores the rest, and so do we.
    if pessimistic_actions.len() > mutations.len() {
        pessimistic_actions.truncate(mutations.len());
    }
    if !pessimistic_actions.is_empty() && pessimistic_actions.len() != mutations.len() {
        return Err(Status::invalid_argument(format!(
            "{} pessimistic actions for {} mutations",
            pessimistic_actions.len(),
            mutations.len()
        )));
    }
    let keys = req.mutations.iter().map(|m| m.key.as_slice());
    let region = admit!(s, req, PrewriteResponse, Space::Txn, keys);
    let r = s.shared.storage.prewrite(&storage::PrewriteRequest {
        mutations,
        primary_lock: req.primary_lock,
        start_version: req.start_version,
        lock_ttl: req.lock_ttl,
        txn_size: req.txn_size,
        pessimistic_actions,
        for_update_ts: req.for_update_ts,
        min_commit_ts: req.min_commit_ts,
    });
    s.written(&region);
    Ok(PrewriteResponse {
        errors: r
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(key_error)
            .collect(),
        ..Default::default()
    })
}

pub(super) async fn commit(s: &Store, req: CommitRequest) -> Result<CommitResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    let region = admit!(s, req, CommitResponse, Space::Txn, keys);
    let r = s
        .shared
        .storage
        .commit(&req.keys, req.start_version, req.commit_version);
    s.written(&region);
    Ok(match r {
        Ok(commit_version) => CommitResponse {
            commit_version,
            ..Default::default()
        },
        Err(e) => CommitResponse {
            error: Some(key_error(e)),
            ..Default::default()
        },
    })
}

pub(super) async fn pessimistic_lock(
    s: &Store,
    req: PessimisticLockRequest,
) -> Result<PessimisticLockResponse, Status> {
    need_keys(req.mutations.iter().map(|m| m.key.as_slice()))?;
    need_key(&req.primary_lock, "primary_lock")?;
    for m in &req.mutations {
        Op::try_from(m.op)
            .map_err(|_| Status::invalid_argument(format!("unknown mutation op {}", m.op)))?;
    }
    let keys = req.mutations.iter().map(|m| m.key.as_slice());
    admit!(s, req, PessimisticLockResponse, Space::Txn, keys);
    let want_values = req.return_values || req.check_existence;
    let out = s
        .shared
        .storage
        .pessimistic_lock(&storage::PessimisticLockRequest {
            keys: req.mutations.into_iter().map(|m| m.key).collect(),
            primary_lock: req.primary_lock,
            start_version: req.start_version,
            lock_ttl: req.lock_ttl,
            for_update_ts: req.for_update_ts,
            is_first_lock: req.is_first_lock,
            wait_timeout: req.wait_timeout,
            return_values: want_values,
        })
        .await;
    let mut resp = PessimisticLockResponse {
        exec_details_v2: Some(ExecDetailsV2 {
            write_detail: Some(WriteDetail {
                pessimistic_lock_wait_nanos: u64::try_from(out.waited.as_nanos())
                    .unwrap_or(u64::MAX),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    match out.result {
        Ok(values) if want_values => {
            resp.not_founds = values.iter().map(Option::is_none).collect();
            if req.return_values {
                resp.values = values.into_iter().map(Option::unwrap_or_default).collect();
            }
        }
        Ok(_) => {}
        Err(errs) => resp.errors = errs.into_iter().map(key_error).collect(),
    }
    Ok(resp)
}

pub(super) async fn pessimistic_rollback(
    s: &Store,
    req: PessimisticRollbackRequest,
) -> Result<PessimisticRollbackResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, PessimisticRollbackResponse, Space::Txn, keys);
    let r = s
        .shared
        .storage
        .pessimistic_rollback(&req.keys, req.start_version, req.for_update_ts);
    Ok(PessimisticRollbackResponse {
        errors: r.err().into_iter().map(key_error).collect(),
        ..Default::default()
    })
}

pub(super) async fn batch_rollback(
    s: &Store,
    req: BatchRollbackRequest,
) -> Result<BatchRollbackResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, BatchRollbackResponse, Space::Txn, keys);
    let r = s
        .shared
        .storage
        .batch_rollback(&req.keys, req.start_version);
    Ok(BatchRollbackResponse {
        error: r.err().map(key_error),
        ..Default::default()
    })
}

/// Exactly one of the three shapes the protocol allows (the official
/// client panics on any other): rolled back (0, 0, no lock), committed
/// (commit_ts, 0, no lock), locked (0, ttl > 0, lock).
fn status_reply(status: TxnStatus, primary: &[u8], lock_ts: u64) -> CheckTxnStatusResponse {
    let action = status.action as i32;
    if let Some(commit_version) = status.committed() {
        return CheckTxnStatusResponse {
            commit_version,
            action,
            ..Default::default()
        };
    }
    if status.lock_info.is_none() && status.lock_ttl == 0 {
        return CheckTxnStatusResponse {
            action,
            ..Default::default()
        };
    }
    let info = status.lock_info.map_or_else(
        || kvrpcpb::LockInfo {
            primary_lock: primary.to_vec(),
            lock_version: lock_ts,
            key: primary.to_vec(),
            lock_ttl: status.lock_ttl,
            ..Default::default()
        },
        lock_info,
    );
    CheckTxnStatusResponse {
        lock_ttl: status.lock_ttl.max(1),
        action,
        lock_info: Some(info),
        ..Default::default()
    }
}

pub(super) async fn check_txn_status(
    s: &Store,
    req: CheckTxnStatusRequest,
) -> Result<CheckTxnStatusResponse, Status> {
    need_key(&req.primary_key, "primary_key")?;
    admit!(
        s,
        req,
        CheckTxnStatusResponse,
        Space::Txn,
        [req.primary_key.as_slice()]
    );
    let r = s
        .shared
        .storage
        .check_txn_status(&storage::CheckTxnStatusRequest {
            primary_key: req.primary_key.clone(),
            lock_ts: req.lock_ts,
            caller_start_ts: req.caller_start_ts,
            current_ts: req.current_ts,
            rollback_if_not_exist: req.rollback_if_not_exist,
            resolving_pessimistic_lock: req.resolving_pessimistic_lock,
        });
    Ok(match r {
        Ok(status) => status_reply(status, &req.primary_key, req.lock_ts),
        Err(e) => CheckTxnStatusResponse {
            error: Some(key_error(e)),
            ..Default::default()
        },
    })
}

/// The status of transaction `start_ts` as seen from `key`, without
/// rolling back a live lock: a missing lock with no record is rolled back
/// (so the transaction can no longer commit), as TiKV does.
fn status_at(s: &Store, key: &[u8], start_ts: u64, current_ts: u64) -> Result<TxnStatus, KeyError> {
    s.shared
        .storage
        .check_txn_status(&storage::CheckTxnStatusRequest {
            primary_key: key.to_vec(),
            lock_ts: start_ts,
            caller_start_ts: 0,
            current_ts,
            rollback_if_not_exist: true,
            resolving_pessimistic_lock: false,
        })
}

pub(super) async fn check_secondary_locks(
    s: &Store,
    req: CheckSecondaryLocksRequest,
) -> Result<CheckSecondaryLocksResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, CheckSecondaryLocksResponse, Space::Txn, keys);
    let mut locks = Vec::new();
    for key in &req.keys {
        // current_ts 0: no lock counts as expired.
        match status_at(s, key, req.start_version, 0) {
            Err(e) => {
                return Ok(CheckSecondaryLocksResponse {
                    error: Some(key_error(e)),
                    ..Default::default()
                });
            }
            Ok(st) if st.committed().is_some() => {
                return Ok(CheckSecondaryLocksResponse {
                    commit_ts: st.commit_version,
                    ..Default::default()
                });
            }
            // One secondary rolled back: the whole transaction is.
            Ok(st) if st.rolled_back() => return Ok(CheckSecondaryLocksResponse::default()),
            Ok(st) => locks.extend(st.lock_info.map(lock_info)),
        }
    }
    Ok(CheckSecondaryLocksResponse {
        locks,
        ..Default::default()
    })
}

pub(super) async fn resolve_lock(
    s: &Store,
    req: ResolveLockRequest,
) -> Result<ResolveLockResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    let region = admit!(s, req, ResolveLockResponse, Space::Txn, keys);
    let (lo, hi) = region.user_range();
    let storage = &s.shared.storage;
    let r = if req.txn_infos.is_empty() {
        storage.resolve_lock(req.start_version, req.commit_version, &req.keys, &lo, &hi)
    } else {
        req.txn_infos
            .iter()
            .try_for_each(|t| storage.resolve_lock(t.txn, t.status, &[], &lo, &hi))
    };
    Ok(ResolveLockResponse {
        error: r.err().map(key_error),
        ..Default::default()
    })
}

pub(super) async fn txn_heart_beat(
    s: &Store,
    req: TxnHeartBeatRequest,
) -> Result<TxnHeartBeatResponse, Status> {
    need_key(&req.primary_lock, "primary_lock")?;
    admit!(
        s,
        req,
        TxnHeartBeatResponse,
        Space::Txn,
        [req.primary_lock.as_slice()]
    );
    Ok(
        match s.shared.storage.txn_heart_beat(
            &req.primary_lock,
            req.start_version,
            req.advise_lock_ttl,
        ) {
            Ok(lock_ttl) => TxnHeartBeatResponse {
                lock_ttl,
                ..Default::default()
            },
            Err(e) => TxnHeartBeatResponse {
                error: Some(key_error(e)),
                ..Default::default()
            },
        },
    )
}

pub(super) async fn scan_lock(s: &Store, req: ScanLockRequest) -> Result<ScanLockResponse, Status> {
    let region = admit!(s, req, ScanLockResponse, Space::Txn, []);
    let from = if req.start_key.is_empty() {
        region.user_range().0
    } else {
        req.start_key.clone()
    };
    let Some((start, end)) = clip_scan(Space::Txn, &region, &from, &req.end_key, false) else {
        return Ok(outside(&from, &region));
    };
    let locks = s
        .shared
        .storage
        .scan_lock(req.max_version, &start, &end, req.limit);
    Ok(ScanLockResponse {
        locks: locks.into_iter().map(lock_info).collect(),
        ..Default::default()
    })
}

pub(super) async fn cleanup(s: &Store, req: CleanupRequest) -> Result<CleanupResponse, Status> {
    need_key(&req.key, "key")?;
    admit!(s, req, CleanupResponse, Space::Txn, [req.key.as_slice()]);
    // current_ts 0 means: roll back whatever the TTL says.
    let now = if req.current_ts == 0 {
        u64::MAX
    } else {
        req.current_ts
    };
    Ok(match status_at(s, &req.key, req.start_version, now) {
        Err(e) => CleanupResponse {
            error: Some(key_error(e)),
            ..Default::default()
        },
        Ok(st) => match st.committed() {
            Some(ts) => CleanupResponse {
                error: Some(key_error(KeyError::Abort(format!(
                    "transaction {} is already committed at {ts}",
                    req.start_version
                )))),
                commit_version: ts,
                ..Default::default()
            },
            None if st.rolled_back() => CleanupResponse::default(),
            None => CleanupResponse {
                error: st.lock_info.map(|l| key_error(KeyError::Locked(l))),
                ..Default::default()
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LockType;

    #[test]
    fn ops_that_cannot_be_prewritten_are_refused() {
        assert_eq!(mutation_op(Op::Put as i32).unwrap(), MutationOp::Put);
        assert!(mutation_op(Op::Rollback as i32).is_err());
        assert!(mutation_op(Op::PessimisticLock as i32).is_err());
        assert!(mutation_op(99).is_err());
        assert!(pessimistic_action(7).is_err());
    }

    #[test]
    fn status_replies_take_exactly_one_shape() {
        let rolled = TxnStatus {
            lock_ttl: 0,
            commit_version: 0,
            action: storage::Action::LockNotExistRollback,
            lock_info: None,
        };
        let r = status_reply(rolled, b"p", 5);
        assert_eq!(
            (r.commit_version, r.lock_ttl, r.lock_info.is_none()),
            (0, 0, true)
        );
        let locked = TxnStatus {
            lock_ttl: 0,
            commit_version: 0,
            action: storage::Action::NoAction,
            lock_info: Some(storage::LockInfo {
                primary_lock: b"p".to_vec(),
                lock_version: 5,
                key: b"p".to_vec(),
                lock_ttl: 100,
                txn_size: 1,
                lock_type: LockType::Put,
                lock_for_update_ts: 0,
                min_commit_ts: 6,
            }),
        };
        // Even with a zero TTL, a lock makes the locked shape.
        let r = status_reply(locked, b"p", 5);
        assert_eq!(r.commit_version, 0);
        assert!(r.lock_ttl >= 1);
        assert_eq!(r.lock_info.map(|l| l.lock_version), Some(5));
    }
}

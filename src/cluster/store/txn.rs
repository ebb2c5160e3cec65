//! The transactional API handlers: Percolator calls onto the engine.
//! Requests and answers convert with `proto::convert` (a request the engine
//! cannot take is `InvalidArgument`), key errors travelling as `KeyError`.
//! Keys are checked against the region by their memcomparable encoding, and
//! scans and region-wide calls (ResolveLock without keys, ScanLock) use the
//! region's decoded bounds.

use tonic::Status;

use super::{Space, Store, admit, clip_scan, convert, need_key, need_keys, outside};
use crate::proto::RegionReply;
use crate::proto::convert::ProtocolError;
use crate::proto::kvrpcpb::{
    self, BatchGetRequest, BatchGetResponse, BatchRollbackRequest, BatchRollbackResponse,
    CheckSecondaryLocksRequest, CheckSecondaryLocksResponse, CheckTxnStatusRequest,
    CheckTxnStatusResponse, CleanupRequest, CleanupResponse, CommitRequest, CommitResponse,
    ExecDetailsV2, GetRequest, GetResponse, PessimisticLockRequest, PessimisticLockResponse,
    PessimisticRollbackRequest, PessimisticRollbackResponse, PrewriteRequest, PrewriteResponse,
    ResolveLockRequest, ResolveLockResponse, ScanLockRequest, ScanLockResponse, ScanRequest,
    ScanResponse, TxnHeartBeatRequest, TxnHeartBeatResponse, WriteDetail,
};
use crate::storage::{self, KeyError, TxnStatus};
use crate::txn_types::SnapshotScan;

fn resolved_locks(ctx: Option<&kvrpcpb::Context>) -> Vec<u64> {
    ctx.map(|c| c.resolved_locks.clone()).unwrap_or_default()
}

/// A request the engine cannot take is the client's mistake.
fn invalid(e: ProtocolError) -> Status {
    Status::invalid_argument(e.to_string())
}

pub(super) async fn get(s: &Store, req: GetRequest) -> Result<GetResponse, Status> {
    need_key(&req.key, "key")?;
    admit!(s, req, GetResponse, Space::Txn, [req.key.as_slice()]);
    let resolved = resolved_locks(req.context.as_ref());
    let reading = tokio::time::Instant::now();
    let read = s.shared.storage.kv_get(&req.key, req.version, &resolved);
    s.clock.read(reading.elapsed());
    Ok(match read {
        Ok(Some(value)) => GetResponse {
            value,
            ..Default::default()
        },
        Ok(None) => GetResponse {
            not_found: true,
            ..Default::default()
        },
        Err(e) => GetResponse {
            error: Some(e.into()),
            ..Default::default()
        },
    })
}

pub(super) async fn batch_get(s: &Store, req: BatchGetRequest) -> Result<BatchGetResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, BatchGetResponse, Space::Txn, keys);
    let resolved = resolved_locks(req.context.as_ref());
    let reading = tokio::time::Instant::now();
    let pairs = s
        .shared
        .storage
        .kv_batch_get(&req.keys, req.version, &resolved);
    s.clock.read(reading.elapsed());
    Ok(BatchGetResponse {
        pairs: pairs.into_iter().map(Into::into).collect(),
        ..Default::default()
    })
}

pub(super) async fn scan(s: &Store, req: ScanRequest) -> Result<ScanResponse, Status> {
    let range = [(req.start_key.as_slice(), req.end_key.as_slice())];
    let region = admit!(s, req, ScanResponse, Space::Txn, []; &range);
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
    let pairs = s.shared.storage.kv_scan(&SnapshotScan {
        start: &start,
        end: &end,
        limit: req.limit as usize,
        version: req.version,
        key_only: req.key_only,
        reverse: req.reverse,
        resolved_locks: &resolved,
    });
    Ok(ScanResponse {
        pairs: pairs.into_iter().map(Into::into).collect(),
        ..Default::default()
    })
}

pub(super) async fn prewrite(s: &Store, req: PrewriteRequest) -> Result<PrewriteResponse, Status> {
    need_keys(req.mutations.iter().map(|m| m.key.as_slice()))?;
    if !req.mutations.is_empty() {
        need_key(&req.primary_lock, "primary_lock")?;
    }
    let prewrite = storage::PrewriteRequest::try_from(&req).map_err(invalid)?;
    let keys = req.mutations.iter().map(|m| m.key.as_slice());
    let region = admit!(s, req, PrewriteResponse, Space::Txn, keys);
    if let Some(e) = convert::entry_too_large(region.id, prost::Message::encoded_len(&req)) {
        return Ok(PrewriteResponse::with_region_error(e));
    }
    let r = s.shared.storage.prewrite(&prewrite);
    s.written(&region);
    Ok(match r {
        Ok(done) => PrewriteResponse {
            min_commit_ts: done.min_commit_ts,
            one_pc_commit_ts: done.one_pc_commit_ts,
            ..Default::default()
        },
        Err(errs) => PrewriteResponse {
            errors: errs.into_iter().map(kvrpcpb::KeyError::from).collect(),
            ..Default::default()
        },
    })
}

pub(super) async fn commit(s: &Store, req: CommitRequest) -> Result<CommitResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    let region = admit!(s, req, CommitResponse, Space::Txn, keys);
    if let Some(e) = convert::entry_too_large(region.id, prost::Message::encoded_len(&req)) {
        return Ok(CommitResponse::with_region_error(e));
    }
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
            error: Some(e.into()),
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
    let lock = storage::PessimisticLockRequest::try_from(&req).map_err(invalid)?;
    let keys = req.mutations.iter().map(|m| m.key.as_slice());
    admit!(s, req, PessimisticLockResponse, Space::Txn, keys);
    // Values are read when asked for, or their existence is.
    let want_values = lock.return_values;
    let out = s.shared.storage.pessimistic_lock(&lock).await;
    // Waiting for another transaction's lock is time in the store before
    // the request could run: TiKV reports it in the write detail (below),
    // not as the time detail's wait.
    s.clock.lock_waited(out.waited);
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
        Err(errs) => resp.errors = errs.into_iter().map(kvrpcpb::KeyError::from).collect(),
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
        errors: r.err().into_iter().map(kvrpcpb::KeyError::from).collect(),
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
        error: r.err().map(kvrpcpb::KeyError::from),
        ..Default::default()
    })
}

/// Exactly one of the three shapes the protocol allows (the official
/// client panics on any other): rolled back (0, 0, no lock), committed
/// (commit_ts, 0, no lock), locked (0, ttl > 0, lock).
fn status_reply(status: TxnStatus, primary: &[u8], lock_ts: u64) -> CheckTxnStatusResponse {
    let action = kvrpcpb::Action::from(status.action) as i32;
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
        kvrpcpb::LockInfo::from,
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
        .check_txn_status(&storage::CheckTxnStatusRequest::from(&req));
    Ok(match r {
        Ok(status) => status_reply(status, &req.primary_key, req.lock_ts),
        Err(e) => CheckTxnStatusResponse {
            error: Some(e.into()),
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
            // Cleanup settles by TTL whatever the lock (TiKV's `cleanup`
            // action has no async-commit case).
            force_sync_commit: true,
        })
}

pub(super) async fn check_secondary_locks(
    s: &Store,
    req: CheckSecondaryLocksRequest,
) -> Result<CheckSecondaryLocksResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, CheckSecondaryLocksResponse, Space::Txn, keys);
    let r = s
        .shared
        .storage
        .check_secondary_locks(&req.keys, req.start_version);
    Ok(match r {
        Ok(st) => CheckSecondaryLocksResponse {
            locks: st.locks.into_iter().map(kvrpcpb::LockInfo::from).collect(),
            commit_ts: st.commit_ts,
            ..Default::default()
        },
        Err(e) => CheckSecondaryLocksResponse {
            error: Some(e.into()),
            ..Default::default()
        },
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
        error: r.err().map(kvrpcpb::KeyError::from),
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
                error: Some(e.into()),
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
        locks: locks.into_iter().map(kvrpcpb::LockInfo::from).collect(),
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
            error: Some(e.into()),
            ..Default::default()
        },
        Ok(st) => match st.committed() {
            Some(ts) => CleanupResponse {
                error: Some(kvrpcpb::KeyError::from(KeyError::Abort(format!(
                    "transaction {} is already committed at {ts}",
                    req.start_version
                )))),
                commit_version: ts,
                ..Default::default()
            },
            None if st.rolled_back() => CleanupResponse::default(),
            None => CleanupResponse {
                error: st
                    .lock_info
                    .map(|l| kvrpcpb::KeyError::from(KeyError::Locked(l))),
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
                use_async_commit: false,
                secondaries: Vec::new(),
            }),
        };
        // Even with a zero TTL, a lock makes the locked shape.
        let r = status_reply(locked, b"p", 5);
        assert_eq!(r.commit_version, 0);
        assert!(r.lock_ttl >= 1);
        assert_eq!(r.lock_info.map(|l| l.lock_version), Some(5));
    }
}

//! The transaction protocol's [`Transport`] over gRPC: each call is routed
//! by its keys' memcomparable encodings, split by region, and the regions'
//! requests sent concurrently (see [`Client::call_grouped`]). Ordering
//! between calls (the primary before the secondaries) is the protocol
//! code's business, in [`super::txn`].
//!
//! Key errors come back as [`Error::Key`], the errors of every region
//! together, with the ones that are not locks first (so the error's kind is
//! the decisive one). A pessimistic lock reports how long the store made it
//! wait (`exec_details_v2.write_detail.pessimistic_lock_wait_nanos`). Each
//! wait for a timestamp goes into the op's log, beside its RPCs.

use std::time::Duration;

use super::keyspace::KeyspaceCodec;
use super::request::Ctx;
use super::tikv::{Client, SAFE_POINT_REFRESH, SNAPSHOT_RECHECK_AGE};
use super::{Error, LockReply, Transport};
use crate::codec;
use crate::proto::kvrpcpb;
use crate::txn_types::{
    CheckTxnStatusRequest, KeyError, KvPair, PessimisticLockRequest, PrewriteRequest,
    PrewriteResult, SecondaryLocks, TxnStatus,
};
use crate::vocab::trace;

/// How long ago (by this machine's clock) PD issued `ts`; zero for a
/// timestamp from the future (clock skew).
fn snapshot_age(ts: u64) -> Duration {
    let now_ms = crate::vocab::time::unix_ms();
    Duration::from_millis(now_ms.saturating_sub(crate::txn_types::ts::physical(ts)))
}

/// The transport for one op (its counters and deadline travel along).
#[derive(Debug, Clone, Copy)]
pub struct Grpc<'a> {
    tikv: &'a Client,
    cx: Ctx<'a>,
}

fn encoded(keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| codec::encode(k)).collect()
}

/// Key errors from every region, non-lock errors first.
fn key_errors(wire_errs: impl IntoIterator<Item = kvrpcpb::KeyError>) -> Result<(), Error> {
    let mut errs: Vec<KeyError> = wire_errs.into_iter().map(KeyError::from).collect();
    if errs.is_empty() {
        return Ok(());
    }
    errs.sort_by_key(|e| matches!(e, KeyError::Locked(_)));
    Err(Error::Key(errs))
}

fn one(e: Option<kvrpcpb::KeyError>) -> Result<(), Error> {
    match e {
        Some(e) => Err(Error::key(e.into())),
        None => Ok(()),
    }
}

/// A context that reads past the locks of `resolved_locks` (the route is
/// filled in when the request is sent).
fn reading_past(resolved_locks: &[u64]) -> Option<kvrpcpb::Context> {
    Some(kvrpcpb::Context {
        resolved_locks: resolved_locks.to_vec(),
        ..Default::default()
    })
}

impl<'a> Grpc<'a> {
    pub(crate) fn new(tikv: &'a Client, cx: Ctx<'a>) -> Grpc<'a> {
        Grpc { tikv, cx }
    }

    /// This op's context, for a call whose timeout leaves the outcome
    /// unknown (`mutates`) or not.
    fn cx(&self, mutates: bool) -> Ctx<'a> {
        Ctx { mutates, ..self.cx }
    }
}

impl Transport for Grpc<'_> {
    fn keyspace(&self) -> Option<&KeyspaceCodec> {
        self.tikv.keyspace.as_ref()
    }

    async fn check_visibility(&self, start_ts: u64) -> Result<(), Error> {
        // An old snapshot is checked against a safe point read now, after
        // the read (one that old is rare: a read retried through an
        // outage); a young one against the cached safe point.
        let fresh = if snapshot_age(start_ts) >= SNAPSHOT_RECHECK_AGE {
            Duration::ZERO
        } else {
            SAFE_POINT_REFRESH
        };
        let safe_point = self.tikv.gc_safe_point_within(fresh).await?;
        if start_ts < safe_point {
            return Err(super::gc_too_early(start_ts, safe_point));
        }
        Ok(())
    }

    async fn timestamp(&self) -> Result<u64, Error> {
        let asked = trace::now();
        let ts = self.tikv.pd.timestamp().await;
        let got = ts.as_ref().map_or(0, |ts| *ts);
        self.cx.stats.log().tso(asked, got);
        ts
    }

    async fn kv_get(
        &self,
        key: &[u8],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Option<Vec<u8>>, Error> {
        let route_key = codec::encode(key);
        let req = kvrpcpb::GetRequest {
            context: reading_past(resolved_locks),
            key: key.to_vec(),
            version,
        };
        let resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, &req)
            .await?;
        one(resp.error)?;
        Ok((!resp.not_found).then_some(resp.value))
    }

    async fn kv_batch_get(
        &self,
        keys: &[Vec<u8>],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Vec<KvPair>, Error> {
        let req = kvrpcpb::BatchGetRequest {
            context: reading_past(resolved_locks),
            keys: keys.to_vec(),
            version,
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), req)
            .await?;
        let mut out = Vec::with_capacity(keys.len());
        for (_, resp) in groups {
            one(resp.error)?;
            out.extend(resp.pairs.into_iter().map(KvPair::from));
        }
        Ok(out)
    }

    async fn prewrite(&self, req: &PrewriteRequest) -> Result<PrewriteResult, Error> {
        let keys: Vec<Vec<u8>> = req
            .mutations
            .iter()
            .map(|m| codec::encode(&m.key))
            .collect();
        // An async-commit or 1PC prewrite that may have been applied
        // leaves the transaction's outcome unknown (client-go's
        // `ErrResultUndetermined`): it may be committed already.
        let commits = req.use_async_commit || req.try_one_pc;
        let groups = self
            .tikv
            .call_grouped(
                &self.cx(commits),
                &keys,
                kvrpcpb::PrewriteRequest::from(req),
            )
            .await?;
        let mut out = PrewriteResult::default();
        let mut errors = Vec::new();
        let mut fell_back = false;
        for (_, resp) in groups {
            // One region without a min_commit_ts makes the whole
            // transaction fall back (client-go's `handleSingleBatchSucceed`).
            fell_back |= resp.min_commit_ts == 0;
            out.min_commit_ts = out.min_commit_ts.max(resp.min_commit_ts);
            out.one_pc_commit_ts = out.one_pc_commit_ts.max(resp.one_pc_commit_ts);
            errors.extend(resp.errors);
        }
        if fell_back {
            out.min_commit_ts = 0;
        }
        key_errors(errors)?;
        Ok(out)
    }

    async fn commit(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        commit_version: u64,
    ) -> Result<u64, Error> {
        let req = kvrpcpb::CommitRequest {
            start_version,
            keys: keys.to_vec(),
            commit_version,
            ..Default::default()
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(true), &encoded(keys), req)
            .await?;
        key_errors(groups.into_iter().filter_map(|(_, resp)| resp.error))?;
        Ok(commit_version)
    }

    async fn pessimistic_lock(&self, req: &PessimisticLockRequest) -> LockReply {
        // Only the primary's part may create the transaction (`BatchRpc`).
        let sent = self
            .tikv
            .call_grouped(
                &self.cx(false),
                &encoded(&req.keys),
                kvrpcpb::PessimisticLockRequest::from(req),
            )
            .await;
        let groups = match sent {
            Ok(g) => g,
            Err(e) => {
                return LockReply {
                    result: Err(e),
                    waited: Duration::ZERO,
                };
            }
        };
        let mut waited = Duration::ZERO;
        let mut errors = Vec::new();
        let mut values: Vec<Option<Vec<u8>>> = vec![None; req.keys.len()];
        for (idx, resp) in groups {
            let nanos = resp
                .exec_details_v2
                .and_then(|d| d.write_detail)
                .map_or(0, |w| w.pessimistic_lock_wait_nanos);
            waited = waited.max(Duration::from_nanos(nanos));
            errors.extend(resp.errors);
            let not_found = resp.not_founds;
            for (j, (i, v)) in idx.iter().zip(resp.values).enumerate() {
                if !not_found.get(j).copied().unwrap_or(false) {
                    values[*i] = Some(v);
                }
            }
        }
        let result = match key_errors(errors) {
            Err(e) => Err(e),
            Ok(()) if req.return_values => Ok(values),
            Ok(()) => Ok(Vec::new()),
        };
        LockReply { result, waited }
    }

    async fn pessimistic_rollback(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        for_update_ts: u64,
    ) -> Result<(), Error> {
        let req = kvrpcpb::PessimisticRollbackRequest {
            context: None,
            start_version,
            for_update_ts,
            keys: keys.to_vec(),
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), req)
            .await?;
        key_errors(groups.into_iter().flat_map(|(_, resp)| resp.errors))
    }

    async fn batch_rollback(&self, keys: &[Vec<u8>], start_version: u64) -> Result<(), Error> {
        let req = kvrpcpb::BatchRollbackRequest {
            start_version,
            keys: keys.to_vec(),
            ..Default::default()
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), req)
            .await?;
        key_errors(groups.into_iter().filter_map(|(_, resp)| resp.error))
    }

    async fn check_txn_status(&self, req: &CheckTxnStatusRequest) -> Result<TxnStatus, Error> {
        let route_key = codec::encode(&req.primary_key);
        let check = kvrpcpb::CheckTxnStatusRequest::from(req);
        let mut resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, &check)
            .await?;
        one(resp.error.take())?;
        Ok(TxnStatus::from(resp))
    }

    async fn check_secondary_locks(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
    ) -> Result<SecondaryLocks, Error> {
        let req = kvrpcpb::CheckSecondaryLocksRequest {
            context: None,
            keys: keys.to_vec(),
            start_version,
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), req)
            .await?;
        let mut out = SecondaryLocks::default();
        let mut settled = false;
        for (idx, resp) in groups {
            one(resp.error)?;
            if resp.commit_ts > 0 {
                out.commit_ts = resp.commit_ts;
                settled = true;
            } else if resp.locks.len() < idx.len() {
                // A key without a lock and no commit: rolled back (as
                // client-go's `asyncResolveData::addKeys` reads it).
                settled = true;
            }
            out.locks.extend(resp.locks.into_iter().map(Into::into));
        }
        if settled {
            out.locks.clear();
        }
        Ok(out)
    }

    async fn resolve_lock(
        &self,
        start_version: u64,
        commit_version: u64,
        keys: &[Vec<u8>],
    ) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let req = kvrpcpb::ResolveLockRequest {
            start_version,
            commit_version,
            keys: keys.to_vec(),
            ..Default::default()
        };
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), req)
            .await?;
        key_errors(groups.into_iter().filter_map(|(_, resp)| resp.error))
    }

    async fn txn_heart_beat(
        &self,
        primary_lock: &[u8],
        start_version: u64,
        advise_lock_ttl: u64,
    ) -> Result<u64, Error> {
        let route_key = codec::encode(primary_lock);
        let req = kvrpcpb::TxnHeartBeatRequest {
            primary_lock: primary_lock.to_vec(),
            start_version,
            advise_lock_ttl,
            ..Default::default()
        };
        let resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, &req)
            .await?;
        one(resp.error)?;
        Ok(resp.lock_ttl)
    }
}

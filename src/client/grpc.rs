//! The transaction protocol's [`Transport`] over gRPC: each call is routed
//! by its keys' memcomparable encodings, split by region, and the regions'
//! requests sent concurrently (see [`Client::call_grouped`]). Ordering
//! between calls (the primary before the secondaries) is the protocol
//! code's business, in [`super::txn`].
//!
//! Key errors come back as [`Error::Key`], the errors of every region
//! together, with the ones that are not locks first (so the error's kind is
//! the decisive one). A pessimistic lock reports how long the store made it
//! wait (`exec_details_v2.write_detail.pessimistic_lock_wait_nanos`).

use std::time::Duration;

use super::request::Ctx;
use super::tikv::Client;
use super::{Error, LockReply, Transport};
use crate::codec;
use crate::proto::kvrpcpb::{self, prewrite_request::PessimisticAction as WireAction};
use crate::txn_types::{
    CheckTxnStatusRequest, KeyError, KvPair, PessimisticLockRequest, PrewriteRequest, TxnStatus,
};

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

fn select(keys: &[Vec<u8>], idx: &[usize]) -> Vec<Vec<u8>> {
    idx.iter().map(|&i| keys[i].clone()).collect()
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
    async fn timestamp(&self) -> Result<u64, Error> {
        self.tikv.pd.timestamp().await
    }

    async fn kv_get(
        &self,
        key: &[u8],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Option<Vec<u8>>, Error> {
        let route_key = codec::encode(key);
        let resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, |r| {
                let mut c = r.store.client();
                let mut context = r.context();
                context.resolved_locks = resolved_locks.to_vec();
                let req = kvrpcpb::GetRequest {
                    context: Some(context),
                    key: key.to_vec(),
                    version,
                };
                async move { c.kv_get(req).await }
            })
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
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), |r, idx| {
                let mut c = r.store.client();
                let mut context = r.context();
                context.resolved_locks = resolved_locks.to_vec();
                let req = kvrpcpb::BatchGetRequest {
                    context: Some(context),
                    keys: select(keys, idx),
                    version,
                };
                async move { c.kv_batch_get(req).await }
            })
            .await?;
        let mut out = Vec::with_capacity(keys.len());
        for (_, resp) in groups {
            one(resp.error)?;
            out.extend(resp.pairs.into_iter().map(KvPair::from));
        }
        Ok(out)
    }

    async fn prewrite(&self, req: &PrewriteRequest) -> Result<(), Error> {
        let keys: Vec<Vec<u8>> = req
            .mutations
            .iter()
            .map(|m| codec::encode(&m.key))
            .collect();
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &keys, |r, idx| {
                let mut c = r.store.client();
                let actions = if req.pessimistic_actions.is_empty() {
                    Vec::new()
                } else {
                    idx.iter()
                        .map(|&i| WireAction::from(req.pessimistic_actions[i]) as i32)
                        .collect()
                };
                let p = kvrpcpb::PrewriteRequest {
                    context: Some(r.context()),
                    mutations: idx
                        .iter()
                        .map(|&i| kvrpcpb::Mutation::from(&req.mutations[i]))
                        .collect(),
                    primary_lock: req.primary_lock.clone(),
                    start_version: req.start_version,
                    lock_ttl: req.lock_ttl,
                    pessimistic_actions: actions,
                    txn_size: req.txn_size,
                    for_update_ts: req.for_update_ts,
                    min_commit_ts: req.min_commit_ts,
                    ..Default::default()
                };
                async move { c.kv_prewrite(p).await }
            })
            .await?;
        key_errors(groups.into_iter().flat_map(|(_, resp)| resp.errors))
    }

    async fn commit(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        commit_version: u64,
    ) -> Result<u64, Error> {
        let groups = self
            .tikv
            .call_grouped(&self.cx(true), &encoded(keys), |r, idx| {
                let mut c = r.store.client();
                let req = kvrpcpb::CommitRequest {
                    context: Some(r.context()),
                    start_version,
                    keys: select(keys, idx),
                    commit_version,
                    ..Default::default()
                };
                async move { c.kv_commit(req).await }
            })
            .await?;
        key_errors(groups.into_iter().filter_map(|(_, resp)| resp.error))?;
        Ok(commit_version)
    }

    async fn pessimistic_lock(&self, req: &PessimisticLockRequest) -> LockReply {
        let keys = encoded(&req.keys);
        let primary = codec::encode(&req.primary_lock);
        let sent = self
            .tikv
            .call_grouped(&self.cx(false), &keys, |r, idx| {
                let mut c = r.store.client();
                // Only the primary's request may create the transaction.
                let first = req.is_first_lock
                    && (idx.len() == keys.len() || idx.iter().any(|&i| keys[i] == primary));
                let p = kvrpcpb::PessimisticLockRequest {
                    context: Some(r.context()),
                    mutations: idx
                        .iter()
                        .map(|&i| kvrpcpb::Mutation {
                            op: kvrpcpb::Op::PessimisticLock as i32,
                            key: req.keys[i].clone(),
                            ..Default::default()
                        })
                        .collect(),
                    primary_lock: req.primary_lock.clone(),
                    start_version: req.start_version,
                    lock_ttl: req.lock_ttl,
                    for_update_ts: req.for_update_ts,
                    is_first_lock: first,
                    wait_timeout: req.wait_timeout,
                    return_values: req.return_values,
                    ..Default::default()
                };
                async move { c.kv_pessimistic_lock(p).await }
            })
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
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), |r, idx| {
                let mut c = r.store.client();
                let req = kvrpcpb::PessimisticRollbackRequest {
                    context: Some(r.context()),
                    start_version,
                    for_update_ts,
                    keys: select(keys, idx),
                };
                async move { c.kv_pessimistic_rollback(req).await }
            })
            .await?;
        key_errors(groups.into_iter().flat_map(|(_, resp)| resp.errors))
    }

    async fn batch_rollback(&self, keys: &[Vec<u8>], start_version: u64) -> Result<(), Error> {
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), |r, idx| {
                let mut c = r.store.client();
                let req = kvrpcpb::BatchRollbackRequest {
                    context: Some(r.context()),
                    start_version,
                    keys: select(keys, idx),
                    ..Default::default()
                };
                async move { c.kv_batch_rollback(req).await }
            })
            .await?;
        key_errors(groups.into_iter().filter_map(|(_, resp)| resp.error))
    }

    async fn check_txn_status(&self, req: &CheckTxnStatusRequest) -> Result<TxnStatus, Error> {
        let route_key = codec::encode(&req.primary_key);
        let mut resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, |r| {
                let mut c = r.store.client();
                let q = kvrpcpb::CheckTxnStatusRequest {
                    context: Some(r.context()),
                    primary_key: req.primary_key.clone(),
                    lock_ts: req.lock_ts,
                    caller_start_ts: req.caller_start_ts,
                    current_ts: req.current_ts,
                    rollback_if_not_exist: req.rollback_if_not_exist,
                    resolving_pessimistic_lock: req.resolving_pessimistic_lock,
                    ..Default::default()
                };
                async move { c.kv_check_txn_status(q).await }
            })
            .await?;
        one(resp.error.take())?;
        Ok(TxnStatus::from(resp))
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
        let groups = self
            .tikv
            .call_grouped(&self.cx(false), &encoded(keys), |r, idx| {
                let mut c = r.store.client();
                let req = kvrpcpb::ResolveLockRequest {
                    context: Some(r.context()),
                    start_version,
                    commit_version,
                    keys: select(keys, idx),
                    ..Default::default()
                };
                async move { c.kv_resolve_lock(req).await }
            })
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
        let resp = self
            .tikv
            .call_one(&self.cx(false), &route_key, |r| {
                let mut c = r.store.client();
                let req = kvrpcpb::TxnHeartBeatRequest {
                    context: Some(r.context()),
                    primary_lock: primary_lock.to_vec(),
                    start_version,
                    advise_lock_ttl,
                    ..Default::default()
                };
                async move { c.kv_txn_heart_beat(req).await }
            })
            .await?;
        one(resp.error)?;
        Ok(resp.lock_ttl)
    }
}

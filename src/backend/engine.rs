//! The in-process transport: every call goes straight to a shared
//! [`Storage`], no serialization, no network.

use std::sync::Arc;

use crate::client::{Error, LockReply, Transport};
use crate::storage::Storage;
use crate::txn_types::{
    CheckTxnStatusRequest, KvPair, PessimisticLockRequest, PrewriteRequest, PrewriteResult,
    SecondaryLocks, TxnStatus,
};

/// A transport onto a [`Storage`] in this process.
#[derive(Debug, Clone)]
pub struct Inproc {
    storage: Arc<Storage>,
}

impl Inproc {
    /// A transport onto `storage`.
    pub fn new(storage: Arc<Storage>) -> Inproc {
        Inproc { storage }
    }

    /// The engine behind it.
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }
}

impl Transport for Inproc {
    async fn timestamp(&self) -> Result<u64, Error> {
        Ok(self.storage.timestamp())
    }

    async fn kv_get(
        &self,
        key: &[u8],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.storage.kv_get(key, version, resolved_locks)?)
    }

    async fn kv_batch_get(
        &self,
        keys: &[Vec<u8>],
        version: u64,
        resolved_locks: &[u64],
    ) -> Result<Vec<KvPair>, Error> {
        Ok(self.storage.kv_batch_get(keys, version, resolved_locks))
    }

    async fn prewrite(&self, req: &PrewriteRequest) -> Result<PrewriteResult, Error> {
        Ok(self.storage.prewrite(req)?)
    }

    async fn commit(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        commit_version: u64,
    ) -> Result<u64, Error> {
        Ok(self.storage.commit(keys, start_version, commit_version)?)
    }

    async fn pessimistic_lock(&self, req: &PessimisticLockRequest) -> LockReply {
        let r = self.storage.pessimistic_lock(req).await;
        LockReply {
            result: r.result.map_err(Error::Key),
            waited: r.waited,
        }
    }

    async fn pessimistic_rollback(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        for_update_ts: u64,
    ) -> Result<(), Error> {
        Ok(self
            .storage
            .pessimistic_rollback(keys, start_version, for_update_ts)?)
    }

    async fn batch_rollback(&self, keys: &[Vec<u8>], start_version: u64) -> Result<(), Error> {
        Ok(self.storage.batch_rollback(keys, start_version)?)
    }

    async fn check_txn_status(&self, req: &CheckTxnStatusRequest) -> Result<TxnStatus, Error> {
        Ok(self.storage.check_txn_status(req)?)
    }

    async fn check_secondary_locks(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
    ) -> Result<SecondaryLocks, Error> {
        Ok(self.storage.check_secondary_locks(keys, start_version)?)
    }

    async fn resolve_lock(
        &self,
        start_version: u64,
        commit_version: u64,
        keys: &[Vec<u8>],
    ) -> Result<(), Error> {
        Ok(self
            .storage
            .resolve_lock(start_version, commit_version, keys, b"", b"")?)
    }

    async fn txn_heart_beat(
        &self,
        primary_lock: &[u8],
        start_version: u64,
        advise_lock_ttl: u64,
    ) -> Result<u64, Error> {
        Ok(self
            .storage
            .txn_heart_beat(primary_lock, start_version, advise_lock_ttl)?)
    }
}

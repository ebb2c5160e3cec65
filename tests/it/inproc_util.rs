//! The in-process transport with a test's faults: a [`Hooks`] value
//! answers the calls a test changes (prewrite, commit, rollback,
//! CheckSecondaryLocks) given the real transport; every other call goes
//! to the engine as it is.

use std::future::Future;

use tikv_bench::backend::Inproc;
use tikv_bench::client::{Error, LockReply, Transport};
use tikv_bench::storage::{PrewriteRequest, PrewriteResult, SecondaryLocks};
use tikv_bench::txn_types::{CheckTxnStatusRequest, KvPair, PessimisticLockRequest, TxnStatus};

/// The calls a test may answer in the store's place; by default each goes
/// to `t`.
pub trait Hooks: Send + Sync {
    fn prewrite(
        &self,
        t: &Inproc,
        req: &PrewriteRequest,
    ) -> impl Future<Output = Result<PrewriteResult, Error>> + Send {
        t.prewrite(req)
    }

    fn commit(
        &self,
        t: &Inproc,
        keys: &[Vec<u8>],
        start: u64,
        commit: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        t.commit(keys, start, commit)
    }

    fn batch_rollback(
        &self,
        t: &Inproc,
        keys: &[Vec<u8>],
        start: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        t.batch_rollback(keys, start)
    }

    fn check_secondary_locks(
        &self,
        t: &Inproc,
        keys: &[Vec<u8>],
        start: u64,
    ) -> impl Future<Output = Result<SecondaryLocks, Error>> + Send {
        t.check_secondary_locks(keys, start)
    }
}

/// [`Inproc`] with `H`'s answers.
pub struct Hooked<H>(pub Inproc, pub H);

impl<H: Hooks> Transport for Hooked<H> {
    async fn timestamp(&self) -> Result<u64, Error> {
        self.0.timestamp().await
    }
    async fn kv_get(&self, key: &[u8], v: u64, r: &[u64]) -> Result<Option<Vec<u8>>, Error> {
        self.0.kv_get(key, v, r).await
    }
    async fn kv_batch_get(&self, k: &[Vec<u8>], v: u64, r: &[u64]) -> Result<Vec<KvPair>, Error> {
        self.0.kv_batch_get(k, v, r).await
    }
    async fn prewrite(&self, req: &PrewriteRequest) -> Result<PrewriteResult, Error> {
        self.1.prewrite(&self.0, req).await
    }
    async fn commit(&self, keys: &[Vec<u8>], start: u64, commit: u64) -> Result<u64, Error> {
        self.1.commit(&self.0, keys, start, commit).await
    }
    async fn pessimistic_lock(&self, req: &PessimisticLockRequest) -> LockReply {
        self.0.pessimistic_lock(req).await
    }
    async fn pessimistic_rollback(&self, k: &[Vec<u8>], s: u64, f: u64) -> Result<(), Error> {
        self.0.pessimistic_rollback(k, s, f).await
    }
    async fn batch_rollback(&self, k: &[Vec<u8>], s: u64) -> Result<(), Error> {
        self.1.batch_rollback(&self.0, k, s).await
    }
    async fn check_txn_status(&self, req: &CheckTxnStatusRequest) -> Result<TxnStatus, Error> {
        self.0.check_txn_status(req).await
    }
    async fn check_secondary_locks(&self, k: &[Vec<u8>], s: u64) -> Result<SecondaryLocks, Error> {
        self.1.check_secondary_locks(&self.0, k, s).await
    }
    async fn resolve_lock(&self, s: u64, c: u64, k: &[Vec<u8>]) -> Result<(), Error> {
        self.0.resolve_lock(s, c, k).await
    }
    async fn txn_heart_beat(&self, p: &[u8], s: u64, ttl: u64) -> Result<u64, Error> {
        self.0.txn_heart_beat(p, s, ttl).await
    }
}

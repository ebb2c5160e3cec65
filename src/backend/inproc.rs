//! The storage engine in this process: raw ops go to its raw key space,
//! transactions run through the client's transaction protocol over the
//! in-process transport, so contention behaves as it would against TiKV
//! (locks, conflicts, waits, deadlocks), minus the network.

use std::sync::Arc;
use std::time::Duration;

use super::engine::Inproc;
use super::protocol::Protocol;
use super::{Backend, Operation, RawKv, TargetInfo, TxnKv};
use crate::client::{Txn, TxnOptions};
use crate::storage::Storage;
use crate::storage::raw::KeyTtl;
use crate::vocab::{Events, OpError, Outcome, Pair, TxnMode};

/// A [`Backend`] over an [`Arc<Storage>`].
#[derive(Debug, Clone)]
pub struct InprocBackend {
    txn: Protocol<Inproc>,
}

impl Default for InprocBackend {
    fn default() -> InprocBackend {
        InprocBackend::new(Arc::new(Storage::default()))
    }
}

impl InprocBackend {
    /// A backend over `storage` with the default transaction options.
    pub fn new(storage: Arc<Storage>) -> InprocBackend {
        InprocBackend::with_options(storage, TxnOptions::default())
    }

    /// A backend over `storage` with these transaction options.
    pub fn with_options(storage: Arc<Storage>, opts: TxnOptions) -> InprocBackend {
        InprocBackend {
            // An async commit's KvCommit is a call into the engine here:
            // sent inline, before the transaction's commit returns.
            txn: Protocol {
                transport: Inproc::new(storage),
                opts,
                finisher: None,
            },
        }
    }

    /// The engine.
    pub fn storage(&self) -> &Arc<Storage> {
        self.txn.transport.storage()
    }
}

/// The engine's raw key space answers at once and never fails.
impl RawKv for InprocBackend {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        Ok(self.storage().raw().get(key))
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), OpError> {
        self.storage().raw().put(key, value, true);
        Ok(())
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let raw = self.storage().raw();
        Ok(raw.scan(start, end, limit as usize, false, false))
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), OpError> {
        self.storage().raw().batch_put(pairs, true);
        Ok(())
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), OpError> {
        self.storage().raw().batch_delete(keys, true);
        Ok(())
    }

    async fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, OpError> {
        let raw = self.storage().raw();
        let swapped = raw.compare_and_swap(key, value, previous, 0);
        Ok(swapped.succeed)
    }

    async fn put_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<(), OpError> {
        self.storage().raw().put_ttl(key, value, true, secs(ttl));
        Ok(())
    }

    async fn cas_ttl(
        &self,
        key: &[u8],
        (previous, value): (Option<&[u8]>, &[u8]),
        ttl: Duration,
    ) -> Result<bool, OpError> {
        let raw = self.storage().raw();
        Ok(raw
            .compare_and_swap(key, value, previous, secs(ttl))
            .succeed)
    }

    async fn get_ttl(&self, key: &[u8]) -> Result<Option<Duration>, OpError> {
        Ok(match self.storage().raw().key_ttl(key) {
            KeyTtl::Absent => None,
            KeyTtl::Forever => Some(Duration::ZERO),
            KeyTtl::Left(s) => Some(Duration::from_secs(s)),
        })
    }
}

/// A TTL in whole seconds, a fraction rounded up.
fn secs(ttl: Duration) -> u64 {
    ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)
}

impl<'a> TxnKv for &'a InprocBackend {
    type Txn = Txn<'a, Inproc>;

    async fn begin(&self, mode: TxnMode) -> Result<Txn<'a, Inproc>, OpError> {
        let b: &'a InprocBackend = self;
        (&b.txn).begin(mode).await
    }
}

impl Backend for InprocBackend {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        op.run(&self, events).await
    }

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let raw = self.storage().raw();
        Ok(keys.iter().map(|k| raw.get(k)).collect())
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        RawKv::scan(self, start, end, limit).await
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        super::snapshot(&&self.txn, keys).await
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "inproc".into(),
            description: "the storage engine in this process (MVCC, Percolator transactions, lock waits), no network".into(),
        }
    }
}

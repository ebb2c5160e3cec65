//! The storage engine in this process: raw ops go to its raw key space,
//! transactions run through the client's transaction protocol over the
//! in-process transport, so contention behaves as it would against TiKV
//! (locks, conflicts, waits, deadlocks), minus the network.

use std::sync::Arc;

use super::engine::Inproc;
use super::ops::{self, RawKv};
use super::{Backend, TargetInfo};
use crate::client::{Error, TxnOptions};
use crate::storage::Storage;
use crate::storage::raw::RawSpace;
use crate::vocab::{Events, Op, OpError, Outcome, Pair};

/// A [`Backend`] over an [`Arc<Storage>`].
#[derive(Debug, Clone)]
pub struct InprocBackend {
    transport: Inproc,
    opts: TxnOptions,
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
            transport: Inproc::new(storage),
            opts,
        }
    }

    /// The engine.
    pub fn storage(&self) -> &Arc<Storage> {
        self.transport.storage()
    }
}

/// The engine's raw key space answers at once and never fails.
impl RawKv for &RawSpace {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(RawSpace::get(self, key))
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        RawSpace::put(self, key, value);
        Ok(())
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, Error> {
        Ok(RawSpace::scan(
            self,
            start,
            end,
            limit as usize,
            false,
            false,
        ))
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), Error> {
        RawSpace::batch_put(self, pairs);
        Ok(())
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), Error> {
        RawSpace::batch_delete(self, keys);
        Ok(())
    }

    async fn cas(&self, key: &[u8], previous: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
        Ok(self
            .compare_and_swap(key, value, previous.is_none(), previous.unwrap_or_default())
            .succeed)
    }
}

impl Backend for InprocBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        ops::run(
            &self.storage().raw(),
            &self.transport,
            self.opts,
            op,
            events,
        )
        .await
        .map_err(|e| e.to_op_error())
    }

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let raw = self.storage().raw();
        Ok(keys.iter().map(|k| raw.get(k)).collect())
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        Ok(self
            .storage()
            .raw()
            .scan(start, end, limit as usize, false, false))
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        ops::snapshot(&self.transport, self.opts, keys)
            .await
            .map_err(|e| e.to_op_error())
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "inproc".into(),
            description: "the storage engine in this process (MVCC, Percolator transactions, lock waits), no network".into(),
        }
    }
}

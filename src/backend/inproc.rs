//! The storage engine in this process: raw ops go to its raw key space,
//! transactions run through the client's transaction protocol over the
//! in-process transport, so contention behaves as it would against TiKV
//! (locks, conflicts, waits, deadlocks), minus the network.

use std::sync::Arc;

use super::check_ops::{self, RawCas};
use super::{Backend, CheckMode, Events, LockMode, Op, OpError, Outcome, Pair, TargetInfo};
use crate::client::{Error, Inproc, Txn, TxnOptions};
use crate::storage::{self, Storage};
use storage::raw::Raw as RawSpace;

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

    async fn txn(
        &self,
        reads: &[Vec<u8>],
        writes: &[Vec<u8>],
        value: &[u8],
        lock: LockMode,
        events: &mut Events,
    ) -> Result<Outcome, Error> {
        let mut txn = Txn::begin(&self.transport, lock, self.opts).await?;
        for k in reads {
            txn.get(k, events).await?;
        }
        for k in writes {
            match lock {
                LockMode::Optimistic => txn.get(k, events).await?,
                LockMode::Pessimistic => txn.get_for_update(k, events).await?,
            };
            txn.put(k, value);
        }
        txn.commit(events).await?;
        Ok(Outcome::Done)
    }

    async fn txn_batch_put(
        &self,
        pairs: &[(Vec<u8>, Vec<u8>)],
        events: &mut Events,
    ) -> Result<Outcome, Error> {
        let mut txn = Txn::begin(&self.transport, LockMode::Optimistic, self.opts).await?;
        for (k, v) in pairs {
            txn.put(k, v);
        }
        txn.commit(events).await?;
        Ok(Outcome::Done)
    }
}

impl RawCas for &RawSpace {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(RawSpace::get(self, key))
    }

    async fn cas(&self, key: &[u8], previous: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
        Ok(self
            .compare_and_swap(key, value, previous.is_none(), previous.unwrap_or_default())
            .succeed)
    }
}

impl InprocBackend {
    async fn check_op(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, Error> {
        let (t, opts, raw) = (&self.transport, self.opts, self.storage().raw());
        match op {
            Op::Transfer {
                from,
                to,
                amount,
                lock,
            } => check_ops::transfer(t, opts, (from, to, amount, lock), events).await,
            Op::Decrement { key, mode } => match mode.lock() {
                None => check_ops::decrement_cas(&raw, key).await,
                Some(lock) => check_ops::decrement_txn(t, opts, key, lock, events).await,
            },
            Op::Lease {
                key,
                owner,
                lease,
                hold,
                mode,
            } => match mode {
                CheckMode::Cas => {
                    check_ops::lease_cas(&raw, (key, owner, lease, hold), events).await
                }
                CheckMode::Pessimistic => {
                    check_ops::lease_pessimistic(t, opts, (key, hold), events).await
                }
                CheckMode::Optimistic => Err(check_ops::no_lease(mode)),
            },
            _ => unreachable!("not a check op: {op:?}"),
        }
    }
}

impl Backend for InprocBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        let raw = self.storage().raw();
        match op {
            Op::Get { key } => Ok(match raw.get(key) {
                Some(_) => Outcome::Done,
                None => Outcome::NotFound,
            }),
            Op::Put { key, value } => {
                raw.put(key, value);
                Ok(Outcome::Done)
            }
            Op::Scan { start, limit } => {
                let rows = raw.scan(start, b"", limit as usize, false, false);
                events.add("rows", rows.len() as u64);
                Ok(Outcome::Done)
            }
            Op::BatchDelete { keys } => {
                raw.batch_delete(keys);
                Ok(Outcome::Done)
            }
            Op::Cas { key, value } => {
                let current = raw.get(key);
                let r = raw.compare_and_swap(
                    key,
                    value,
                    current.is_none(),
                    current.as_deref().unwrap_or_default(),
                );
                Ok(if r.succeed {
                    Outcome::Done
                } else {
                    Outcome::Mismatch
                })
            }
            Op::BatchPut { pairs } => {
                raw.batch_put(pairs);
                Ok(Outcome::Done)
            }
            Op::Txn {
                reads,
                writes,
                value,
                lock,
            } => self
                .txn(reads, writes, value, lock, events)
                .await
                .map_err(|e| e.to_op_error()),
            Op::TxnBatchPut { pairs } => self
                .txn_batch_put(pairs, events)
                .await
                .map_err(|e| e.to_op_error()),
            Op::Transfer { .. } | Op::Decrement { .. } | Op::Lease { .. } => {
                self.check_op(op, events).await.map_err(|e| e.to_op_error())
            }
        }
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
        check_ops::snapshot(&self.transport, self.opts, keys)
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

//! Transactions through the client's Percolator protocol, over any of its
//! transports (gRPC to TiKV or the stand-in, or the engine in process): the
//! [`TxnKv`] and [`Transaction`] capabilities of the two backends that have
//! real transactions.

use crate::client::txn::AsyncFinisher;
use crate::client::{Error, Transport, Txn, TxnOptions};
use crate::vocab::{Events, OpError, TxnMode};

use super::{Transaction, TxnKv};

fn op_error(e: Error) -> OpError {
    e.to_op_error()
}

/// Transactions over transport `T` with options `opts`.
#[derive(Debug, Clone)]
pub(super) struct Protocol<T> {
    pub transport: T,
    pub opts: TxnOptions,
    /// Where an async commit's KvCommit goes after its commit point (none:
    /// the transaction sends it before its commit returns).
    pub finisher: Option<AsyncFinisher>,
}

impl<'a, T: Transport> TxnKv for &'a Protocol<T> {
    type Txn = Txn<'a, T>;

    async fn begin(&self, mode: TxnMode) -> Result<Txn<'a, T>, OpError> {
        let p: &'a Protocol<T> = self;
        let txn = Txn::begin(&p.transport, mode, p.opts).await;
        txn.map(|t| t.with_finisher(p.finisher.clone()))
            .map_err(op_error)
    }
}

impl<T: Transport> Transaction for Txn<'_, T> {
    async fn get(&mut self, key: &[u8], events: &mut Events) -> Result<Option<Vec<u8>>, OpError> {
        Txn::get(self, key, events).await.map_err(op_error)
    }

    async fn get_for_update(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> Result<Option<Vec<u8>>, OpError> {
        Txn::get_for_update(self, key, events)
            .await
            .map_err(op_error)
    }

    async fn batch_get(
        &mut self,
        keys: &[Vec<u8>],
        events: &mut Events,
    ) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        Txn::batch_get(self, keys, events).await.map_err(op_error)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        Txn::put(self, key, value);
    }

    async fn commit(&mut self, events: &mut Events) -> Result<(), OpError> {
        Txn::commit(self, events).await.map(drop).map_err(op_error)
    }

    async fn rollback(&mut self, events: &mut Events) -> Result<(), OpError> {
        Txn::rollback(self, events).await.map_err(op_error)
    }
}

//! A TiKV cluster (real, or the embedded stand-in) through our own client:
//! raw ops on the raw API, transactions through the transaction protocol
//! over the gRPC transport, the load phase as batched raw puts and
//! transactional writes.
//!
//! Each op gets a [`Ctx`] with its own [`RequestStats`] on the stack and a
//! deadline of the retry budget; after the op the counts (cache hits and
//! misses, reroutes by reason, backoff slept) move into the op's events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::ops::{self, RawKv};
use super::{Backend, TargetInfo};
use crate::client::{Client, ClientConfig, Ctx, Error, RawApi, RequestStats, TxnOptions};
use crate::vocab::{Events, Op, OpError, Outcome, Pair};

/// The least time a check's read may take.
/// The least time a check's read, or a bulk write of the load phase or
/// the checks' setup (none of them measured), may take.
pub const CHECK_READ_BUDGET: Duration = Duration::from_secs(10);

/// A [`Backend`] over a [`Client`] connection. Clones share the connection.
#[derive(Debug, Clone)]
pub struct TikvBackend {
    tikv: Arc<Client>,
    opts: TxnOptions,
    target: TargetInfo,
}

impl TikvBackend {
    /// Connects to the cluster whose PD answers at one of `pd`.
    pub async fn connect(
        pd: &[String],
        config: &ClientConfig,
        target: TargetInfo,
    ) -> Result<TikvBackend, Error> {
        let tikv = Client::connect(pd, config.clone()).await?;
        Ok(TikvBackend::new(Arc::new(tikv), target))
    }

    /// A backend over an existing connection.
    pub fn new(tikv: Arc<Client>, target: TargetInfo) -> TikvBackend {
        TikvBackend {
            tikv,
            opts: TxnOptions::default(),
            target,
        }
    }

    /// With these transaction options.
    pub fn with_options(mut self, opts: TxnOptions) -> TikvBackend {
        self.opts = opts;
        self
    }

    /// The connection.
    pub fn client(&self) -> &Arc<Client> {
        &self.tikv
    }

    fn read_budget(&self) -> Duration {
        self.tikv.config().retry.budget.max(CHECK_READ_BUDGET)
    }

    async fn raw_batch_get(
        &self,
        cx: &Ctx<'_>,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let mut found: HashMap<Vec<u8>, Vec<u8>> = self
            .tikv
            .raw()
            .batch_get(cx, keys)
            .await?
            .into_iter()
            .collect();
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }
}

/// Our raw client within one op's context (its deadline and counters).
impl RawKv for (RawApi<'_>, &Ctx<'_>) {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.0.get(self.1, key).await
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.0.put(self.1, key, value).await
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, Error> {
        self.0.scan(self.1, start, end, limit).await
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), Error> {
        self.0.batch_put(self.1, pairs).await
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), Error> {
        self.0.batch_delete(self.1, keys).await
    }

    async fn cas(&self, key: &[u8], previous: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
        Ok(self
            .0
            .compare_and_swap(self.1, key, previous, value)
            .await?
            .succeed)
    }
}

impl Backend for TikvBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        let stats = RequestStats::default();
        // Bulk writes (load phase, check setup) are not measured: like the
        // checks' reads they may take longer than one op's budget.
        let budget = if matches!(op, Op::BatchPut { .. } | Op::TxnBatchPut { .. }) {
            self.read_budget()
        } else {
            self.tikv.config().retry.budget
        };
        let cx = Ctx::new(&stats, budget, op.mutates());
        let transport = self.tikv.transport(cx);
        let raw = (self.tikv.raw(), &cx);
        let result = ops::run(&raw, &transport, self.opts, op, events).await;
        stats.flush(events);
        result.map_err(|e| e.to_op_error())
    }

    fn target(&self) -> TargetInfo {
        self.target.clone()
    }

    // The checks' reads: not measured, so each may take the longer of the
    // retry budget and CHECK_READ_BUDGET (a scan crosses every region); a
    // timeout of a read leaves nothing unknown.

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let r = self.raw_batch_get(&cx, keys).await;
        r.map_err(|e| e.to_op_error())
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let r = self.tikv.raw().scan(&cx, start, end, limit).await;
        r.map_err(|e| e.to_op_error())
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let t = self.tikv.transport(cx);
        let r = ops::snapshot(&t, self.opts, keys).await;
        r.map_err(|e| e.to_op_error())
    }
}

//! A TiKV cluster (real, or the embedded stand-in) through our own client:
//! raw ops on the raw API, transactions through the transaction protocol
//! over the gRPC transport, the load phase as batched raw puts and
//! transactional writes.
//!
//! Each op gets a [`Ctx`] with its own [`RequestStats`] on the stack and a
//! deadline of the retry budget; after the op the counts (cache hits and
//! misses, reroutes by reason, backoff slept) move into the op's events,
//! and the client's log of RPCs, PD lookups, timestamp waits and backoffs
//! into the op's trace (also when the driver's deadline cuts the attempt
//! short).

use crate::vocab::transport::TransportStats;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::protocol::Protocol;
use super::{Backend, Operation, RawKv, TargetInfo, TxnKv};
use crate::client::txn::{AsyncFinisher, Unfinished};
use crate::client::{
    Client, ClientConfig, Ctx, Error, Grpc, RawApi, RequestStats, Txn, TxnOptions,
};
use crate::vocab::events::CLIENT_RETRIES;
use crate::vocab::{Events, LockMode, OpError, Outcome, Pair, TxnMode};

/// The least time a check's read, or a bulk write of the load phase or
/// the checks' setup (none of them measured), may take.
pub const CHECK_READ_BUDGET: Duration = Duration::from_secs(10);

/// Where a transaction's remaining KvCommit goes once it is committed
/// (async commit's every key, two-phase commit's secondaries): a task of
/// its own, as client-go spawns it (`execute` and `doActionOnBatches` in
/// txnkv/transaction/2pc.go), so the op ends at the commit point and its
/// latency and trace hold no KvCommit after it. The task has the retry budget of an
/// op; a key it leaves locked is a resolver's to commit.
fn background_commits(tikv: Arc<Client>) -> AsyncFinisher {
    AsyncFinisher(Arc::new(move |unfinished: Unfinished| {
        let tikv = tikv.clone();
        tokio::spawn(async move {
            let stats = RequestStats::default();
            let cx = Ctx::new(&stats, tikv.config().retry.budget, true);
            unfinished.commit(&tikv.transport(cx)).await;
        });
    }))
}

/// A [`Backend`] over a [`Client`] connection. Clones share the connection.
#[derive(Debug, Clone)]
pub struct TikvBackend {
    tikv: Arc<Client>,
    opts: TxnOptions,
    target: TargetInfo,
    /// Sends async commits' KvCommit in tasks of their own.
    finisher: AsyncFinisher,
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
            finisher: background_commits(tikv.clone()),
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
}

/// Reads raw `keys` in one batch call: one answer per key, in order.
async fn batch_get_in_order(
    raw: &RawApi<'_>,
    cx: &Ctx<'_>,
    keys: &[Vec<u8>],
) -> Result<Vec<Option<Vec<u8>>>, OpError> {
    let found = raw.batch_get(cx, keys).await.map_err(op_error)?;
    let mut found: HashMap<Vec<u8>, Vec<u8>> = found.into_iter().collect();
    Ok(keys.iter().map(|k| found.remove(k)).collect())
}

/// What one attempt of an op may use: our raw client and transactions
/// over the gRPC transport, both within the attempt's context (its
/// deadline and counters).
struct Attempt<'a> {
    raw: RawApi<'a>,
    cx: Ctx<'a>,
    txn: Protocol<Grpc<'a>>,
}

fn op_error(e: Error) -> OpError {
    e.to_op_error()
}

impl RawKv for Attempt<'_> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        self.raw.get(&self.cx, key).await.map_err(op_error)
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), OpError> {
        self.raw
            .put(&self.cx, key, value, None)
            .await
            .map_err(op_error)
    }

    async fn batch_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        batch_get_in_order(&self.raw, &self.cx, keys).await
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let r = self.raw.scan(&self.cx, start, end, limit).await;
        r.map_err(op_error)
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), OpError> {
        self.raw.batch_put(&self.cx, pairs).await.map_err(op_error)
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), OpError> {
        let r = self.raw.batch_delete(&self.cx, keys).await;
        r.map_err(op_error)
    }

    async fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, OpError> {
        let r = self
            .raw
            .compare_and_swap(&self.cx, key, previous, value, None)
            .await;
        Ok(r.map_err(op_error)?.succeed)
    }

    async fn put_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<(), OpError> {
        let r = self.raw.put(&self.cx, key, value, Some(ttl)).await;
        r.map_err(op_error)
    }

    async fn cas_ttl(
        &self,
        key: &[u8],
        (previous, value): (Option<&[u8]>, &[u8]),
        ttl: Duration,
    ) -> Result<bool, OpError> {
        let r = self
            .raw
            .compare_and_swap(&self.cx, key, previous, value, Some(ttl))
            .await;
        Ok(r.map_err(op_error)?.succeed)
    }

    async fn get_ttl(&self, key: &[u8]) -> Result<Option<Duration>, OpError> {
        self.raw.get_key_ttl(&self.cx, key).await.map_err(op_error)
    }
}

impl<'t, 'a> TxnKv for &'t Attempt<'a> {
    type Txn = Txn<'t, Grpc<'a>>;

    async fn begin(&self, mode: TxnMode) -> Result<Txn<'t, Grpc<'a>>, OpError> {
        let a: &'t Attempt<'a> = self;
        (&a.txn).begin(mode).await
    }
}

/// Hands an attempt's log of steps to its op's trace when the attempt
/// ends, however it ends: a timeout of the driver drops the attempt midway,
/// and its steps are what explains it.
struct Handover<'e, 's> {
    events: &'e mut Events,
    stats: &'s RequestStats,
}

impl Drop for Handover<'_, '_> {
    fn drop(&mut self) {
        self.stats.log().flush(self.events.trace_mut());
    }
}

impl Backend for TikvBackend {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        let stats = RequestStats::default();
        // Bulk writes (load phase, check setup) are not measured: like the
        // checks' reads they may take longer than one op's budget.
        let budget = if op.bulk() {
            self.read_budget()
        } else {
            self.tikv.config().retry.budget
        };
        let cx = Ctx::new(&stats, budget, op.mutates());
        let attempt = Attempt {
            raw: self.tikv.raw(),
            cx,
            txn: Protocol {
                transport: self.tikv.transport(cx),
                opts: self.opts,
                finisher: Some(self.finisher.clone()),
            },
        };
        let handover = Handover {
            events,
            stats: &stats,
        };
        let result = op.run(&&attempt, &mut *handover.events).await;
        stats.flush(handover.events);
        let resent = stats.total_retries();
        if resent != 0 {
            handover.events.add(CLIENT_RETRIES, resent);
        }
        result
    }

    fn target(&self) -> TargetInfo {
        self.target.clone()
    }

    fn transport(&self) -> Option<TransportStats> {
        self.client().transport_stats()
    }

    // The checks' reads: not measured, so each may take the longer of the
    // retry budget and CHECK_READ_BUDGET (a scan crosses every region); a
    // timeout of a read leaves nothing unknown.

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        batch_get_in_order(&self.tikv.raw(), &cx, keys).await
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let r = self.tikv.raw().scan(&cx, start, end, limit).await;
        r.map_err(op_error)
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let stats = RequestStats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let t = self.tikv.transport(cx);
        let mut events = Events::default();
        let begun = Txn::begin(&t, LockMode::Optimistic, self.opts).await;
        let r = begun.map_err(op_error)?.batch_get(keys, &mut events).await;
        r.map_err(op_error)
    }
}

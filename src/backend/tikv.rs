//! A TiKV cluster (real, or the embedded stand-in) through our own client:
//! raw ops on the raw API, transactions through the transaction protocol
//! over the gRPC transport, the load phase as batched raw puts and
//! transactional writes.
//!
//! Each op gets a [`Ctx`] with its own [`Stats`] on the stack and a
//! deadline of the retry budget; after the op the counts (cache hits and
//! misses, reroutes by reason, backoff slept) move into the op's events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::check_ops::{self, RawCas};
use super::{Backend, CheckMode, Events, LockMode, Op, OpError, Outcome, Pair, TargetInfo};
use crate::client::{Ctx, Error, Raw, Stats, Tikv, Txn, TxnOptions};
use crate::workload::ClientConfig;

/// The least time a check's read may take.
const CHECK_READ_BUDGET: Duration = Duration::from_secs(10);

/// A [`Backend`] over a [`Tikv`] connection. Clones share the connection.
#[derive(Debug, Clone)]
pub struct TikvBackend {
    tikv: Arc<Tikv>,
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
        let tikv = Tikv::connect(pd, config.clone()).await?;
        Ok(TikvBackend::new(Arc::new(tikv), target))
    }

    /// A backend over an existing connection.
    pub fn new(tikv: Arc<Tikv>, target: TargetInfo) -> TikvBackend {
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
    pub fn client(&self) -> &Arc<Tikv> {
        &self.tikv
    }

    async fn run(&self, op: Op<'_>, cx: &Ctx<'_>, events: &mut Events) -> Result<Outcome, Error> {
        let raw = self.tikv.raw();
        match op {
            Op::Get { key } => Ok(match raw.get(cx, key).await? {
                Some(_) => Outcome::Done,
                None => Outcome::NotFound,
            }),
            Op::Put { key, value } => {
                raw.put(cx, key, value).await?;
                Ok(Outcome::Done)
            }
            Op::Scan { start, limit } => {
                let rows = raw.scan(cx, start, b"", limit).await?;
                events.add("rows", rows.len() as u64);
                Ok(Outcome::Done)
            }
            Op::BatchDelete { keys } => {
                raw.batch_delete(cx, keys).await?;
                Ok(Outcome::Done)
            }
            Op::Cas { key, value } => {
                let current = raw.get(cx, key).await?;
                let swap = raw
                    .compare_and_swap(cx, key, current.as_deref(), value)
                    .await?;
                Ok(if swap.succeed {
                    Outcome::Done
                } else {
                    Outcome::Mismatch
                })
            }
            Op::BatchPut { pairs } => {
                raw.batch_put(cx, pairs).await?;
                Ok(Outcome::Done)
            }
            Op::Txn {
                reads,
                writes,
                value,
                lock,
            } => {
                let t = self.tikv.transport(*cx);
                let mut txn = Txn::begin(&t, lock, self.opts).await?;
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
            Op::TxnBatchPut { pairs } => {
                let t = self.tikv.transport(*cx);
                let mut txn = Txn::begin(&t, LockMode::Optimistic, self.opts).await?;
                for (k, v) in pairs {
                    txn.put(k, v);
                }
                txn.commit(events).await?;
                Ok(Outcome::Done)
            }
            Op::Transfer {
                from,
                to,
                amount,
                lock,
            } => {
                let t = self.tikv.transport(*cx);
                check_ops::transfer(&t, self.opts, (from, to, amount, lock), events).await
            }
            Op::Decrement { key, mode } => match mode.lock() {
                None => check_ops::decrement_cas(&(raw, cx), key).await,
                Some(lock) => {
                    let t = self.tikv.transport(*cx);
                    check_ops::decrement_txn(&t, self.opts, key, lock, events).await
                }
            },
            Op::Lease {
                key,
                owner,
                lease,
                hold,
                mode,
            } => match mode {
                CheckMode::Cas => {
                    check_ops::lease_cas(&(raw, cx), (key, owner, lease, hold), events).await
                }
                CheckMode::Pessimistic => {
                    let t = self.tikv.transport(*cx);
                    check_ops::lease_pessimistic(&t, self.opts, (key, hold), events).await
                }
                CheckMode::Optimistic => Err(check_ops::no_lease(mode)),
            },
        }
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

impl RawCas for (Raw<'_>, &Ctx<'_>) {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.0.get(self.1, key).await
    }

    async fn cas(&self, key: &[u8], previous: Option<&[u8]>, value: &[u8]) -> Result<bool, Error> {
        Ok(self
            .0
            .compare_and_swap(self.1, key, previous, value)
            .await?
            .succeed)
    }
}

/// Whether a timeout of `op` leaves its outcome unknown.
fn mutates(op: &Op<'_>) -> bool {
    !matches!(op, Op::Get { .. } | Op::Scan { .. })
}

impl Backend for TikvBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        let stats = Stats::default();
        let cx = Ctx::new(&stats, self.tikv.config().retry.budget, mutates(&op));
        let result = self.run(op, &cx, events).await;
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
        let stats = Stats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let r = self.raw_batch_get(&cx, keys).await;
        r.map_err(|e| e.to_op_error())
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let stats = Stats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let r = self.tikv.raw().scan(&cx, start, end, limit).await;
        r.map_err(|e| e.to_op_error())
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let stats = Stats::default();
        let cx = Ctx::new(&stats, self.read_budget(), false);
        let t = self.tikv.transport(cx);
        let r = check_ops::snapshot(&t, self.opts, keys).await;
        r.map_err(|e| e.to_op_error())
    }
}

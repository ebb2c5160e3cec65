//! The contract between the driver and whatever executes operations.
//!
//! The driver knows nothing of TiKV: it hands a [`Backend`] one
//! [`Operation`] at a time and gets back an [`Outcome`] or an [`OpError`]
//! whose [`ErrorKind`] names what went wrong. Backends report what happened
//! on the way (lock waits, reroutes, rows scanned) into the op's [`Events`].
//!
//! What an op means is written once, in the op's own file (the workload's
//! op registry), against the capabilities a backend offers here: a raw key
//! space ([`RawKv`]) and transactions ([`TxnKv`], [`Transaction`]). A
//! backend runs an op by handing it those capabilities for one attempt
//! ([`Backend::execute`]); a backend that answers without doing anything
//! (the no-op one, test doubles) need not offer them at all.
//!
//! Three reads that only the checks use, off the hot path, complete the
//! contract (`read_raw`, `scan_raw`, `read_txn`).

mod engine;
mod inproc;
mod memory;
mod noop;
mod protocol;
pub mod retry;
mod tikv;

use crate::vocab::transport::TransportStats;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::vocab::{ErrorKind, Events, LockMode, OpError, Outcome, Pair, TxnMode};

pub use engine::Inproc;
pub use inproc::InprocBackend;
pub use memory::{MemoryBackend, MemoryTxn};
pub use noop::{Capacity, NoopBackend};
pub use tikv::{CHECK_READ_BUDGET, TikvBackend};

/// Describes a backend for the result file and the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    /// `inproc`, `embedded`, `external`, `noop`, ...
    pub kind: String,
    /// Human description: what serves the requests.
    pub description: String,
}

impl TargetInfo {
    /// The target does its work in this process (the embedded cluster, the
    /// in-process engine, the memory map), so the process's CPU is the
    /// driver's and the target's together. noop does no work to speak of.
    pub fn runs_in_process(&self) -> bool {
        matches!(self.kind.as_str(), "embedded" | "inproc" | "memory")
    }
}

/// What a backend without TTLs answers a call that needs one.
fn no_ttl() -> OpError {
    OpError::new(
        ErrorKind::Other,
        "this backend keeps no TTLs: run ops with a ttl against a cluster with \
         api_version v1ttl or v2",
    )
}

/// A raw key space: the calls raw ops make.
pub trait RawKv: Sync {
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Vec<u8>>, OpError>> + Send;

    fn put(&self, key: &[u8], value: &[u8]) -> impl Future<Output = Result<(), OpError>> + Send;

    /// Reads `keys`: one answer per key, in order. By default one `get`
    /// after another; a backend with a batch call overrides it.
    fn batch_get(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        async move {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                out.push(self.get(k).await?);
            }
            Ok(out)
        }
    }

    /// Pairs from `start` (to `end`, empty: unbounded), at most `limit`.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pair>, OpError>> + Send;

    fn batch_put(&self, pairs: &[Pair]) -> impl Future<Output = Result<(), OpError>> + Send;

    fn batch_delete(&self, keys: &[Vec<u8>]) -> impl Future<Output = Result<(), OpError>> + Send;

    /// Writes `value` if the key holds `previous` (`None`: absent);
    /// whether it did.
    fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> impl Future<Output = Result<bool, OpError>> + Send;

    /// Writes `value` to `key` for `ttl`, after which the key is gone. By
    /// default refused: the backend keeps no TTLs.
    fn put_ttl(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), OpError>> + Send {
        let _ = (key, value, ttl);
        async { Err(no_ttl()) }
    }

    /// [`cas`](Self::cas), the value written for `ttl`. By default refused.
    fn cas_ttl(
        &self,
        key: &[u8],
        (previous, value): (Option<&[u8]>, &[u8]),
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, OpError>> + Send {
        let _ = (key, previous, value, ttl);
        async { Err(no_ttl()) }
    }

    /// The time `key` has left: `None` when it has no value, zero when it
    /// never expires. By default refused.
    fn get_ttl(
        &self,
        key: &[u8],
    ) -> impl Future<Output = Result<Option<Duration>, OpError>> + Send {
        let _ = key;
        async { Err(no_ttl()) }
    }
}

/// Transactions over the transactional key space (separate from the raw
/// one, as in TiKV). A transaction that borrows its backend implements
/// this for a reference (`&'a Backend`, with `Txn` borrowing `'a`): a
/// plain associated type keeps the futures of generic ops provably `Send`,
/// where a lifetime-generic one does not.
pub trait TxnKv: Sync {
    /// One running transaction.
    type Txn: Transaction + Send;

    /// Starts a transaction that locks and commits as `mode` says.
    fn begin(&self, mode: TxnMode) -> impl Future<Output = Result<Self::Txn, OpError>> + Send;
}

/// One transaction. Writes are buffered until [`commit`](Self::commit); a
/// method that fails leaves the transaction rolled back.
pub trait Transaction {
    /// Reads `key`: the transaction's own write if any, else its snapshot.
    fn get(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, OpError>> + Send;

    /// Reads `key` for an update: pessimistic transactions lock it first
    /// (waiting for its holder), optimistic ones read it as `get` does and
    /// find conflicts at commit.
    fn get_for_update(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, OpError>> + Send;

    /// Reads `keys` at the snapshot: one answer per key, in order.
    fn batch_get(
        &mut self,
        keys: &[Vec<u8>],
        events: &mut Events,
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send;

    /// Buffers a write of `value` to `key`.
    fn put(&mut self, key: &[u8], value: &[u8]);

    fn commit(&mut self, events: &mut Events) -> impl Future<Output = Result<(), OpError>> + Send;

    /// Gives up: removes whatever locks the transaction holds.
    fn rollback(&mut self, events: &mut Events)
    -> impl Future<Output = Result<(), OpError>> + Send;
}

/// A reference to a raw key space is one.
impl<T: RawKv> RawKv for &T {
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Vec<u8>>, OpError>> + Send {
        (**self).get(key)
    }

    fn put(&self, key: &[u8], value: &[u8]) -> impl Future<Output = Result<(), OpError>> + Send {
        (**self).put(key, value)
    }

    fn batch_get(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        (**self).batch_get(keys)
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pair>, OpError>> + Send {
        (**self).scan(start, end, limit)
    }

    fn batch_put(&self, pairs: &[Pair]) -> impl Future<Output = Result<(), OpError>> + Send {
        (**self).batch_put(pairs)
    }

    fn batch_delete(&self, keys: &[Vec<u8>]) -> impl Future<Output = Result<(), OpError>> + Send {
        (**self).batch_delete(keys)
    }

    fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> impl Future<Output = Result<bool, OpError>> + Send {
        (**self).cas(key, previous, value)
    }

    fn put_ttl(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), OpError>> + Send {
        (**self).put_ttl(key, value, ttl)
    }

    fn cas_ttl(
        &self,
        key: &[u8],
        previous_value: (Option<&[u8]>, &[u8]),
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, OpError>> + Send {
        (**self).cas_ttl(key, previous_value, ttl)
    }

    fn get_ttl(
        &self,
        key: &[u8],
    ) -> impl Future<Output = Result<Option<Duration>, OpError>> + Send {
        (**self).get_ttl(key)
    }
}

/// Both capabilities: what an op may use.
pub trait Kv: RawKv + TxnKv {}

impl<T: RawKv + TxnKv> Kv for T {}

/// One operation as a backend runs it: whether it writes, and how it runs
/// over the capabilities. The workload's ops implement it (one file each),
/// and so do the bulk writes of the load phase and the checks' setup.
pub trait Operation: fmt::Debug + Sync {
    /// Whether the op writes, so that a timeout leaves its effect unknown.
    fn mutates(&self) -> bool;

    /// A bulk write of the load phase or the checks' setup: not measured,
    /// so a backend may give it longer than one op's budget.
    fn bulk(&self) -> bool {
        false
    }

    /// One attempt of the op over `kv`.
    fn run<K: Kv>(
        &self,
        kv: &K,
        events: &mut Events,
    ) -> impl Future<Output = Result<Outcome, OpError>> + Send;
}

/// Executes operations. Implementations are shared by all workers.
pub trait Backend: Send + Sync + 'static {
    /// Executes one attempt of `op`. Retries are the driver's business.
    fn execute<O: Operation>(
        &self,
        op: &O,
        events: &mut Events,
    ) -> impl Future<Output = Result<Outcome, OpError>> + Send;

    /// What this backend is, for the result file.
    fn target(&self) -> TargetInfo;

    /// What its batching transport did so far, if it has one (the
    /// result's `transport` section).
    fn transport(&self) -> Option<TransportStats> {
        None
    }

    /// Reads raw `keys` (for checks, not the hot path): one answer per key,
    /// in order.
    fn read_raw(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        let _ = keys;
        async { Err(cannot_read(&self.target())) }
    }

    /// Scans at most `limit` raw pairs of `[start, end)` (empty end:
    /// unbounded) in key order, across regions (for checks; the caller
    /// pages).
    fn scan_raw(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pair>, OpError>> + Send {
        let _ = (start, end, limit);
        async { Err(cannot_read(&self.target())) }
    }

    /// Reads transactional `keys` at one snapshot (one start_ts), for
    /// checks: one answer per key, in order.
    fn read_txn(
        &self,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, OpError>> + Send {
        let _ = keys;
        async { Err(cannot_read(&self.target())) }
    }
}

/// Raw bulk write of the load phase and the checks' setup.
#[derive(Debug, Clone, Copy)]
pub struct RawLoad<'a> {
    pub pairs: &'a [Pair],
}

impl Operation for RawLoad<'_> {
    fn mutates(&self) -> bool {
        true
    }

    fn bulk(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _events: &mut Events) -> Result<Outcome, OpError> {
        kv.batch_put(self.pairs).await?;
        Ok(Outcome::Done)
    }
}

/// Transactional bulk write (one optimistic transaction) of the load phase
/// and the checks' setup.
#[derive(Debug, Clone, Copy)]
pub struct TxnLoad<'a> {
    pub pairs: &'a [Pair],
}

impl Operation for TxnLoad<'_> {
    fn mutates(&self) -> bool {
        true
    }

    fn bulk(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        let mut txn = kv.begin(LockMode::Optimistic.into()).await?;
        for (k, v) in self.pairs {
            txn.put(k, v);
        }
        txn.commit(events).await?;
        Ok(Outcome::Done)
    }
}

/// Reads `keys` at one snapshot through `kv`'s transactions (the checks'
/// `read_txn` for backends that have transactions).
pub async fn snapshot<K: TxnKv>(kv: &K, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
    let mut events = Events::default();
    let mut txn = kv.begin(LockMode::Optimistic.into()).await?;
    txn.batch_get(keys, &mut events).await
}

fn cannot_read(target: &TargetInfo) -> OpError {
    OpError::new(
        ErrorKind::Other,
        format!(
            "the {} backend cannot read data back for checks",
            target.kind
        ),
    )
}

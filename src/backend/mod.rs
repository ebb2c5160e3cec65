//! The contract between the driver and whatever executes operations.
//!
//! The driver knows nothing of TiKV: it hands a [`Backend`] one [`Op`] at a
//! time and gets back an [`Outcome`] or an [`OpError`] whose [`ErrorKind`]
//! names what went wrong. Backends report what happened on the way (lock
//! waits, reroutes, rows scanned) into the op's [`Events`]. The in-memory map
//! here, the storage engine and the gRPC client all sit behind this one trait.
//!
//! What each op means is written once, in `ops`, for the two backends that
//! have transactions (the engine in process and the gRPC client). The
//! invariant checks add three ops (`Transfer`, `Decrement`, `Lease`) and
//! three reads that only the checks use, off the hot path (`read_raw`,
//! `scan_raw`, `read_txn`).

mod engine;
mod inproc;
mod memory;
mod noop;
mod ops;
pub mod retry;
mod tikv;

use std::future::Future;

use crate::vocab::{ErrorKind, Events, Op, OpError, Outcome, Pair};

pub use engine::Inproc;
pub use inproc::InprocBackend;
pub use memory::MemoryBackend;
pub use noop::NoopBackend;
pub use tikv::TikvBackend;

/// Describes a backend for the result file and the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetInfo {
    /// `inproc`, `embedded`, `external`, `noop`, ...
    pub kind: String,
    /// Human description: what serves the requests.
    pub description: String,
}

/// Executes operations. Implementations are shared by all workers.
pub trait Backend: Send + Sync + 'static {
    /// Executes one attempt of `op`. Retries are the driver's business.
    fn execute(
        &self,
        op: Op<'_>,
        events: &mut Events,
    ) -> impl Future<Output = Result<Outcome, OpError>> + Send;

    /// What this backend is, for the result file.
    fn target(&self) -> TargetInfo;

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

fn cannot_read(target: &TargetInfo) -> OpError {
    OpError::new(
        ErrorKind::Other,
        format!(
            "the {} backend cannot read data back for checks",
            target.kind
        ),
    )
}

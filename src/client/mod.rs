//! A TiKV client anyone could reuse: it depends on the shared vocabulary,
//! the wire types, the key codec and the transaction shapes only.
//!
//! The client side of the TiKV transaction protocol is written once against
//! the [`Transport`] trait: the gRPC transport here and the in-process one
//! (the backend's, straight onto the engine) run the same code.
//!
//! - [`Transport`]: the key-set level calls of the protocol (timestamps,
//!   reads, prewrite, commit, pessimistic lock and rollback, rollback,
//!   check_txn_status, resolve_lock, heartbeat) and their [`Error`].
//! - [`txn::Txn`]: a transaction: snapshot reads that resolve the locks they
//!   meet, pessimistic `get_for_update` with retries, buffered writes, and
//!   two-phase commit; every failure path rolls back what it wrote.
//!
//! And a TiKV client over gRPC, instrumented end to end:
//!
//! - [`Client`] (`tikv`): the client of one cluster, shared by all workers:
//!   the [`PdClient`] (`pd`, with the batched TSO stream in `tso`), the
//!   [`RegionCache`] (`region_cache`), the store channel pools (`stores`).
//! - `rpc`: each store RPC declared once (request, response, method);
//!   `request`: routing a request to its region's leader, the region-error
//!   handling and the retries with backoff; [`Ctx`] carries an op's
//!   deadline and its [`RequestStats`] (`stats`: cache hits, reroutes by reason,
//!   backoff slept; `rpclog`: each RPC, PD lookup, timestamp wait and
//!   backoff in order, for the op's trace).
//! - [`RawApi`] (`raw`): the raw API; [`Grpc`] (`grpc`): the transport that
//!   runs the transaction protocol over gRPC (conversions in
//!   [`crate::proto::convert`]).

mod batch;
pub mod config;
pub mod dial;
mod grpc;
mod join;
pub mod keyspace;
pub mod pd;
pub mod raw;
pub mod region_cache;
mod request;
mod resolve;
mod rpc;
pub mod rpclog;
pub mod stats;
pub mod stores;
mod tikv;
mod tso;
pub mod txn;

use std::future::Future;
use std::time::Duration;

use crate::txn_types::{
    CheckTxnStatusRequest, ConflictReason, KeyError, KvPair, PessimisticLockRequest,
    PrewriteRequest, PrewriteResult, SecondaryLocks, TxnStatus,
};
use crate::vocab::{ErrorKind, OpError};

pub use batch::BatchCounters;
pub use config::ClientConfig;
pub use dial::Dialer;
pub use grpc::Grpc;
pub use keyspace::{KeyMode, KeyspaceCodec};
pub use pd::PdClient;
pub use raw::RawApi;
pub use region_cache::RegionCache;
pub use request::Ctx;
pub use stats::RequestStats;
pub use tikv::Client;
pub use txn::{Txn, TxnOptions};

/// Why a transport call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The engine refused the request for key-level reasons (at least one;
    /// several when a prewrite or lock request met several locks).
    #[error("{}", join(.0))]
    Key(Vec<KeyError>),
    /// Not about keys: a region error, a timeout, an unreachable store.
    #[error("{kind}: {message}")]
    Rpc {
        /// What kind of failure.
        kind: ErrorKind,
        /// Details.
        message: String,
        /// The request may or may not have taken effect.
        undetermined: bool,
    },
}

fn join(errs: &[KeyError]) -> String {
    match errs {
        [] => "key error (none given)".into(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

impl Error {
    /// One key error.
    pub fn key(e: KeyError) -> Error {
        Error::Key(vec![e])
    }

    /// The first key error, if this is one.
    pub fn key_error(&self) -> Option<&KeyError> {
        match self {
            Error::Key(errs) => errs.first(),
            Error::Rpc { .. } => None,
        }
    }

    /// The driver's name for it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Key(errs) => errs.first().map_or(ErrorKind::Other, error_kind),
            Error::Rpc { kind, .. } => *kind,
        }
    }

    /// True when the outcome is unknown (a timeout after sending).
    pub fn undetermined(&self) -> bool {
        matches!(
            self,
            Error::Rpc {
                undetermined: true,
                ..
            }
        )
    }

    /// The error of a primary's commit: any RPC error there leaves the
    /// outcome unknown, as client-go has it (the store may have committed
    /// before its answer was lost). Key errors, region errors and busy
    /// answers say the store did not commit.
    pub(crate) fn on_primary_commit(self) -> Error {
        match self {
            Error::Rpc { kind, message, .. }
                if !kind.is_region_error() && kind != ErrorKind::ServerIsBusy =>
            {
                Error::Rpc {
                    kind,
                    message,
                    undetermined: true,
                }
            }
            e => e,
        }
    }

    /// As the driver's error.
    pub fn to_op_error(&self) -> OpError {
        // `OpError` prints its kind itself: give it the message alone.
        let message = match self {
            Error::Rpc { message, .. } => message.clone(),
            Error::Key(_) => self.to_string(),
        };
        OpError {
            kind: self.kind(),
            undetermined: self.undetermined(),
            message,
        }
    }
}

impl From<Vec<KeyError>> for Error {
    fn from(errs: Vec<KeyError>) -> Error {
        Error::Key(errs)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        Error::key(e)
    }
}

/// The driver's [`ErrorKind`] for a key error.
pub fn error_kind(e: &KeyError) -> ErrorKind {
    match e {
        KeyError::Locked(_) => ErrorKind::KeyIsLocked,
        KeyError::Conflict(_) => ErrorKind::WriteConflict,
        KeyError::Deadlock { .. } => ErrorKind::Deadlock,
        KeyError::AlreadyExist { .. } => ErrorKind::AlreadyExist,
        KeyError::TxnNotFound { .. } => ErrorKind::TxnNotFound,
        KeyError::CommitTsExpired { .. } => ErrorKind::CommitTsExpired,
        KeyError::CommitTsTooLarge { .. } => ErrorKind::Other,
        e if e.is_txn_lock_not_found() => ErrorKind::TxnLockNotFound,
        KeyError::Retryable(_) | KeyError::Abort(_) => ErrorKind::Other,
    }
}

/// What a pessimistic lock request got, and how long it waited for other
/// transactions (reported even when it failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockReply {
    /// The values (one per key, if asked for), or why not.
    pub result: Result<Vec<Option<Vec<u8>>>, Error>,
    /// Time spent waiting for another transaction's lock.
    pub waited: Duration,
}

/// The protocol's transactional calls, at key-set level. A transport routes
/// each call to wherever its keys live (and splits it if they live in
/// several places); the protocol code above it does not care.
pub trait Transport: Send + Sync {
    /// A fresh timestamp.
    fn timestamp(&self) -> impl Future<Output = Result<u64, Error>> + Send;

    /// `KvGet` at `version`, reading past the locks of `resolved_locks`.
    fn kv_get(
        &self,
        key: &[u8],
        version: u64,
        resolved_locks: &[u64],
    ) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;

    /// `KvBatchGet` at `version`: found keys and locked keys (with errors).
    fn kv_batch_get(
        &self,
        keys: &[Vec<u8>],
        version: u64,
        resolved_locks: &[u64],
    ) -> impl Future<Output = Result<Vec<KvPair>, Error>> + Send;

    /// `KvPrewrite`: the largest min_commit_ts over the regions' answers
    /// (async commit; 0 when any region answered 0, which makes the
    /// transaction fall back to two phases), and the 1PC commit_ts when
    /// the store committed. A transport that splits the request asks 1PC
    /// only of a part holding every mutation, and sends the secondaries
    /// only with the primary.
    fn prewrite(
        &self,
        req: &PrewriteRequest,
    ) -> impl Future<Output = Result<PrewriteResult, Error>> + Send;

    /// `KvCommit`; returns the commit_ts.
    fn commit(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        commit_version: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// `KvPessimisticLock`.
    fn pessimistic_lock(
        &self,
        req: &PessimisticLockRequest,
    ) -> impl Future<Output = LockReply> + Send;

    /// `KVPessimisticRollback`.
    fn pessimistic_rollback(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
        for_update_ts: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `KvBatchRollback`.
    fn batch_rollback(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `KvCheckTxnStatus`.
    fn check_txn_status(
        &self,
        req: &CheckTxnStatusRequest,
    ) -> impl Future<Output = Result<TxnStatus, Error>> + Send;

    /// `KvCheckSecondaryLocks` on `keys` (split by region): committed if
    /// any region says so, rolled back if any says so, else every lock.
    fn check_secondary_locks(
        &self,
        keys: &[Vec<u8>],
        start_version: u64,
    ) -> impl Future<Output = Result<SecondaryLocks, Error>> + Send;

    /// `KvResolveLock` on `keys` (commit_version 0: roll back).
    fn resolve_lock(
        &self,
        start_version: u64,
        commit_version: u64,
        keys: &[Vec<u8>],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `KvTxnHeartBeat`; returns the lock's TTL.
    fn txn_heart_beat(
        &self,
        primary_lock: &[u8],
        start_version: u64,
        advise_lock_ttl: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// The keyspace whose transactional keys the transport's calls carry
    /// (API V2): [`txn::Txn`] encodes each user key into it where the key
    /// enters, so every key below (primaries, secondaries, the keys of
    /// locks met and resolved) is a full key. `None`: keys go as they are.
    fn keyspace(&self) -> Option<&KeyspaceCodec> {
        None
    }

    /// Whether what was read at `start_ts` can be trusted: an error of kind
    /// `gc_too_early` when the GC safe point has passed it (versions the
    /// read needed may have been collected). Checked after each snapshot
    /// read, as client-go's `CheckVisibility`; a transport that knows no
    /// safe point accepts every read.
    fn check_visibility(&self, start_ts: u64) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = start_ts;
        async { Ok(()) }
    }
}

/// The error of a read at `start_ts` below the GC safe point, worded as
/// client-go's `ErrGCTooEarly`.
pub fn gc_too_early(start_ts: u64, safe_point: u64) -> Error {
    Error::Rpc {
        kind: ErrorKind::GcTooEarly,
        message: format!(
            "GC life time is shorter than transaction duration, transaction starts at {start_ts}, \
             GC safe point is {safe_point}"
        ),
        undetermined: false,
    }
}

/// True for a pessimistic lock's "retry with a fresh for_update_ts".
pub(crate) fn is_pessimistic_retry(e: &KeyError) -> bool {
    e.conflict_reason() == Some(ConflictReason::PessimisticRetry)
}

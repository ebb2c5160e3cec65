//! The transactional API's shared shapes, as TiKV's own `txn_types`
//! component: timestamps, mutations, locks, key errors and the requests and
//! replies of the Percolator protocol. The engine answers in them, the
//! client's transaction protocol speaks them, and `proto::convert` maps them
//! to and from kvproto for the client and the stand-in. Imports nothing of
//! ours.

pub mod errors;
pub mod requests;
pub mod ts;

pub use errors::{ConflictReason, KeyError, LockInfo, LockType, WaitForEntry, WriteConflict};
pub use requests::{
    Action, CheckTxnStatusRequest, KvPair, Mutation, MutationOp, PessimisticAction,
    PessimisticLockRequest, PessimisticLockResponse, PrewriteRequest, PrewriteResult,
    SecondaryLocks, SnapshotScan, TxnStatus,
};

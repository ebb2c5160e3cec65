//! Every store RPC the client sends, declared once: the request type, the
//! response it gets, the `tikvpb.Tikv` method that sends it, the RPC's
//! name and where its answer carries key errors, one line each in `rpcs!`
//! (as tikv/client-rust's `impl_request!`). A call site builds the request (without its context)
//! and hands it to the routing in `request`, which aims a copy at each
//! route it tries and sends it the way this file says.
//!
//! A request kvproto lets travel in a BatchCommands message names its
//! command there after its method (`raw_get | RawGet`): [`Rpc::into_batch`]
//! wraps it and [`Rpc::from_batch`] unwraps the answer; one without (CAS,
//! TTL reads) always goes unary.
//!
//! A request whose keys may lie in several regions also says how to cut
//! out the part of it for some of its keys ([`BatchRpc`]): one line in
//! `batch_rpcs!` names the field holding its keys; a request with more to
//! cut than one field implements it by hand.

use std::future::Future;

use tonic::transport::Channel;
use tonic::{Response, Status};

use super::batch::{BatchCmd, BatchReply};
use super::region_cache::Route;
use crate::proto::RegionReply;
use crate::proto::kvrpcpb::{self, Context};
use crate::proto::tikvpb::tikv_client::TikvClient;
use crate::vocab::ErrorKind;
use crate::vocab::trace::ServerTime;

/// A store request and how to send it.
pub(crate) trait Rpc: Clone + Send + Sync {
    /// What the store answers.
    type Reply: RegionReply + ServerTimed + Send;

    /// The RPC's name (`RawGet`, `KvPrewrite`, ...), for messages.
    const NAME: &'static str;

    /// Its index in [`RPC_NAMES`] (how an op's trace names it).
    const ID: u8;

    /// The request's context.
    fn context_mut(&mut self) -> &mut Option<Context>;

    /// Sends the request on `client`.
    fn send(
        self,
        client: TikvClient<Channel>,
    ) -> impl Future<Output = Result<Response<Self::Reply>, Status>> + Send;

    /// The request as a BatchCommands command, or itself back when kvproto
    /// does not batch it (it goes unary).
    fn into_batch(self) -> Result<BatchCmd, Self> {
        Err(self)
    }

    /// Its answer out of a BatchCommands answer (`None`: the answer of
    /// another command).
    fn from_batch(answer: BatchReply) -> Option<Self::Reply> {
        let _ = answer;
        None
    }

    /// The kind of the key error an answer carries, if any (for the trace;
    /// the caller reads the errors themselves).
    fn key_error(reply: &Self::Reply) -> Option<ErrorKind>;

    /// Aims the request at `route`'s region and leader, keeping whatever
    /// else its context says (resolved locks, ...).
    fn aim(&mut self, route: &Route) {
        route.aim(self.context_mut().get_or_insert_default());
        self.fit(route);
    }

    /// Fits the request to the route's region (a range cut at its end);
    /// most requests need nothing.
    fn fit(&mut self, _route: &Route) {}
}

/// Declares each RPC: `Request -> Response = tonic_method | BatchCommand,
/// "Name", key errors;` (`| BatchCommand`, its variant in BatchCommands'
/// oneof, only for a command kvproto batches), the last a function from the response to the kind of its key
/// error; optionally `, fit F` after it, a function that fits the request
/// to the route it is aimed at (a range cut at the region's end).
macro_rules! rpcs {
    ($($Req:ident -> $Resp:ident = $method:ident $(| $Batch:ident)?, $name:literal, $errors:expr
        $(, fit $fit:expr)?;)*) => {
        /// Every RPC's name, in the order declared ([`Rpc::ID`] indexes it).
        pub(crate) const RPC_NAMES: &[&str] = &[$($name),*];

        $(impl Rpc for kvrpcpb::$Req {
            type Reply = kvrpcpb::$Resp;
            const NAME: &'static str = $name;
            const ID: u8 = index_of(RPC_NAMES, $name);

            #[inline]
            fn context_mut(&mut self) -> &mut Option<Context> {
                &mut self.context
            }

            $(#[inline]
            fn fit(&mut self, route: &Route) {
                let fit: fn(&mut Self, &Route) = $fit;
                fit(self, route);
            })?

            async fn send(
                self,
                mut client: TikvClient<Channel>,
            ) -> Result<Response<kvrpcpb::$Resp>, Status> {
                client.$method(self).await
            }

            $(#[inline]
            fn into_batch(self) -> Result<BatchCmd, Self> {
                Ok(BatchCmd::$Batch(self))
            }

            #[inline]
            fn from_batch(answer: BatchReply) -> Option<kvrpcpb::$Resp> {
                match answer {
                    BatchReply::$Batch(r) => Some(r),
                    _ => None,
                }
            })?

            #[inline]
            fn key_error(reply: &kvrpcpb::$Resp) -> Option<ErrorKind> {
                let errors: fn(&kvrpcpb::$Resp) -> Option<ErrorKind> = $errors;
                errors(reply)
            }
        })*
    };
}

rpcs! {
    RawGetRequest -> RawGetResponse = raw_get | RawGet, "RawGet", |r| raw(&r.error);
    RawBatchGetRequest -> RawBatchGetResponse = raw_batch_get | RawBatchGet, "RawBatchGet",
        |r| r.pairs.iter().find_map(|p| one(&p.error));
    RawPutRequest -> RawPutResponse = raw_put | RawPut, "RawPut", |r| raw(&r.error);
    RawBatchPutRequest -> RawBatchPutResponse = raw_batch_put | RawBatchPut, "RawBatchPut", |r| raw(&r.error);
    RawDeleteRequest -> RawDeleteResponse = raw_delete | RawDelete, "RawDelete", |r| raw(&r.error);
    RawBatchDeleteRequest -> RawBatchDeleteResponse =
        raw_batch_delete | RawBatchDelete, "RawBatchDelete", |r| raw(&r.error);
    RawScanRequest -> RawScanResponse = raw_scan | RawScan, "RawScan",
        |r| r.kvs.iter().find_map(|p| one(&p.error));
    RawDeleteRangeRequest -> RawDeleteRangeResponse =
        raw_delete_range | RawDeleteRange, "RawDeleteRange", |r| raw(&r.error), fit |r, route| {
            // TiKV refuses an end past the region's (KeyNotInRegion), as
            // client-go knows: each region gets the range cut at its end.
            if let Some(end) = route.end.as_deref().filter(|e| !e.is_empty())
                && (r.end_key.is_empty() || r.end_key.as_slice() > end)
            {
                r.end_key = end.to_vec();
            }
        };
    RawCasRequest -> RawCasResponse = raw_compare_and_swap, "RawCompareAndSwap", |r| raw(&r.error);
    RawGetKeyTtlRequest -> RawGetKeyTtlResponse = raw_get_key_ttl, "RawGetKeyTTL", |r| raw(&r.error);
    GetRequest -> GetResponse = kv_get | Get, "KvGet", |r| one(&r.error);
    BatchGetRequest -> BatchGetResponse = kv_batch_get | BatchGet, "KvBatchGet",
        |r| one(&r.error).or_else(|| r.pairs.iter().find_map(|p| one(&p.error)));
    PrewriteRequest -> PrewriteResponse = kv_prewrite | Prewrite, "KvPrewrite", |r| many(&r.errors);
    CommitRequest -> CommitResponse = kv_commit | Commit, "KvCommit", |r| one(&r.error);
    PessimisticLockRequest -> PessimisticLockResponse =
        kv_pessimistic_lock | PessimisticLock, "KvPessimisticLock", |r| many(&r.errors);
    PessimisticRollbackRequest -> PessimisticRollbackResponse =
        kv_pessimistic_rollback | PessimisticRollback, "KVPessimisticRollback", |r| many(&r.errors);
    BatchRollbackRequest -> BatchRollbackResponse =
        kv_batch_rollback | BatchRollback, "KvBatchRollback", |r| one(&r.error);
    CheckTxnStatusRequest -> CheckTxnStatusResponse =
        kv_check_txn_status | CheckTxnStatus, "KvCheckTxnStatus", |r| one(&r.error);
    ResolveLockRequest -> ResolveLockResponse = kv_resolve_lock | ResolveLock, "KvResolveLock", |r| one(&r.error);
    CheckSecondaryLocksRequest -> CheckSecondaryLocksResponse =
        kv_check_secondary_locks | CheckSecondaryLocks, "KvCheckSecondaryLocks", |r| one(&r.error);
    TxnHeartBeatRequest -> TxnHeartBeatResponse =
        kv_txn_heart_beat | TxnHeartBeat, "KvTxnHeartBeat", |r| one(&r.error);
}

/// An answer that may say how long the store spent on it.
pub(crate) trait ServerTimed {
    /// Its `exec_details_v2`, if its message has the field.
    fn exec_details(&self) -> Option<&kvrpcpb::ExecDetailsV2> {
        None
    }
}

/// The time the store says it spent on an answer (`exec_details_v2.
/// time_detail_v2`), when the answer carries a total: whole microseconds
/// (rounded down, so parts never add up to more than their whole).
pub(crate) fn server_time<R: ServerTimed>(reply: &R) -> Option<ServerTime> {
    let details = reply.exec_details()?;
    let t = details.time_detail_v2.as_ref()?;
    let us = |ns: u64| u32::try_from(ns / 1000).unwrap_or(u32::MAX);
    // A write's waits are in its write detail (TiKV leaves the time
    // detail's wait 0 for scheduler commands): the scheduler's latch wait
    // and a pessimistic lock's wait for another transaction.
    let written = details.write_detail.as_ref().map_or(0, |w| {
        w.latch_wait_nanos
            .saturating_add(w.pessimistic_lock_wait_nanos)
    });
    (t.total_rpc_wall_time_ns > 0).then(|| ServerTime {
        total_us: us(t.total_rpc_wall_time_ns),
        wait_us: us(t.wait_wall_time_ns.saturating_add(written)),
        process_us: us(t.process_wall_time_ns),
        kv_read_us: us(t.kv_read_wall_time_ns),
    })
}

/// Declares which answers have `exec_details_v2` (TiKV's raw answers and
/// `KvScan`'s have none).
macro_rules! server_timed {
    (with: $($With:ident),*; without: $($Without:ident),* $(,)?) => {
        $(impl ServerTimed for kvrpcpb::$With {
            #[inline]
            fn exec_details(&self) -> Option<&kvrpcpb::ExecDetailsV2> {
                self.exec_details_v2.as_ref()
            }
        })*
        $(impl ServerTimed for kvrpcpb::$Without {})*
    };
}

server_timed! {
    with: GetResponse, BatchGetResponse, PrewriteResponse, CommitResponse,
        PessimisticLockResponse, PessimisticRollbackResponse, BatchRollbackResponse,
        CheckTxnStatusResponse, CheckSecondaryLocksResponse, ResolveLockResponse,
        TxnHeartBeatResponse;
    without: RawGetResponse, RawBatchGetResponse, RawPutResponse, RawBatchPutResponse,
        RawDeleteResponse, RawBatchDeleteResponse, RawScanResponse, RawDeleteRangeResponse,
        RawCasResponse, RawGetKeyTtlResponse,
}

/// The position of `name` in `names` (at compile time).
const fn index_of(names: &[&str], name: &str) -> u8 {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        let mut same = a.len() == b.len();
        let mut j = 0;
        while same && j < a.len() {
            same = a[j] == b[j];
            j += 1;
        }
        if same {
            return i as u8;
        }
        i += 1;
    }
    panic!("an RPC name missing from RPC_NAMES")
}

/// A raw answer's error: free text.
fn raw(error: &str) -> Option<ErrorKind> {
    (!error.is_empty()).then_some(ErrorKind::Other)
}

/// The kind of one key error, if there is one.
fn one(error: &Option<kvrpcpb::KeyError>) -> Option<ErrorKind> {
    error.as_ref().map(wire_kind)
}

/// The kind of the decisive one of several key errors: the first that is
/// not a lock, else the first (as the transport reports them).
fn many(errors: &[kvrpcpb::KeyError]) -> Option<ErrorKind> {
    let decisive = errors.iter().find(|e| e.locked.is_none());
    decisive.or(errors.first()).map(wire_kind)
}

/// A key error's kind, read off the wire as `proto::convert` reads it
/// (and `client::error_kind` names it), without converting it.
fn wire_kind(e: &kvrpcpb::KeyError) -> ErrorKind {
    if e.locked.is_some() {
        ErrorKind::KeyIsLocked
    } else if e.conflict.is_some() {
        ErrorKind::WriteConflict
    } else if e.deadlock.is_some() {
        ErrorKind::Deadlock
    } else if e.already_exist.is_some() {
        ErrorKind::AlreadyExist
    } else if e.commit_ts_expired.is_some() {
        ErrorKind::CommitTsExpired
    } else if e.txn_not_found.is_some() {
        ErrorKind::TxnNotFound
    } else if e.retryable.contains("TxnLockNotFound") {
        ErrorKind::TxnLockNotFound
    } else {
        ErrorKind::Other
    }
}

/// A request over several keys that may lie in several regions.
pub(crate) trait BatchRpc: Rpc {
    /// The request for its keys at `idx` alone (indices into its keys, in
    /// the order they were routed). `&mut` only to lend the keys out while
    /// the rest is copied: the request is unchanged afterwards.
    fn part(&mut self, idx: &[usize]) -> Self;

    /// The bytes its `i`th item counts towards [`TXN_BATCH_SIZE`] when
    /// the request is one client-go cuts by size (`None`: never cut).
    fn item_size(&self, i: usize) -> Option<usize> {
        let _ = i;
        None
    }
}

/// The most bytes of keys (and values) one prewrite or commit request
/// carries to a region: client-go's `txnCommitBatchSize` (16 KiB, in
/// txnkv/transaction/2pc.go), so a transaction of any size fits TiKV's raft
/// entry limit.
pub const TXN_BATCH_SIZE: usize = 16 * 1024;

/// `idx` (the items of one region, in order) cut into runs of at most
/// [`TXN_BATCH_SIZE`] bytes by `req`'s item sizes (one run, `idx` itself,
/// when the request is never cut). An item larger than the limit goes
/// alone.
pub(crate) fn by_size<Q: BatchRpc>(req: &Q, idx: Vec<usize>) -> Vec<Vec<usize>> {
    if idx.first().and_then(|&i| req.item_size(i)).is_none() {
        return vec![idx];
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut size = 0;
    for i in idx {
        let n = req.item_size(i).unwrap_or(0);
        match out.last_mut() {
            Some(run) if size + n <= TXN_BATCH_SIZE => {
                run.push(i);
                size += n;
            }
            _ => {
                out.push(vec![i]);
                size = n;
            }
        }
    }
    out
}

/// The items of `all` at `idx`.
fn pick<T: Clone>(all: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| all[i].clone()).collect()
}

/// Declares each request whose keys are one field: `Request.field`.
macro_rules! batch_rpcs {
    ($($Req:ident . $field:ident),* $(,)?) => {$(
        impl BatchRpc for kvrpcpb::$Req {
            fn part(&mut self, idx: &[usize]) -> Self {
                let all = std::mem::take(&mut self.$field);
                let mut part = self.clone();
                part.$field = pick(&all, idx);
                self.$field = all;
                part
            }
        }
    )*};
}

batch_rpcs! {
    RawBatchGetRequest.keys,
    RawBatchPutRequest.pairs,
    RawBatchDeleteRequest.keys,
    BatchGetRequest.keys,
    PessimisticRollbackRequest.keys,
    BatchRollbackRequest.keys,
    ResolveLockRequest.keys,
    CheckSecondaryLocksRequest.keys,
}

/// The keys, cut by their size as client-go cuts commits.
impl BatchRpc for kvrpcpb::CommitRequest {
    fn part(&mut self, idx: &[usize]) -> Self {
        let all = std::mem::take(&mut self.keys);
        let mut part = self.clone();
        part.keys = pick(&all, idx);
        self.keys = all;
        part
    }

    fn item_size(&self, i: usize) -> Option<usize> {
        Some(self.keys[i].len())
    }
}

/// The mutations, and their pessimistic actions if there are any; cut by
/// the size of their keys and values, as client-go cuts prewrites. Async
/// commit's secondaries go only in the part holding the primary (client-go's
/// `isPrimary` batch); 1PC is asked only of a part holding every mutation
/// (client-go turns 1PC off when a prewrite takes more than one batch).
impl BatchRpc for kvrpcpb::PrewriteRequest {
    fn item_size(&self, i: usize) -> Option<usize> {
        let m = &self.mutations[i];
        Some(m.key.len() + m.value.len())
    }

    fn part(&mut self, idx: &[usize]) -> Self {
        let mutations = std::mem::take(&mut self.mutations);
        let actions = std::mem::take(&mut self.pessimistic_actions);
        let secondaries = std::mem::take(&mut self.secondaries);
        let mut part = self.clone();
        let whole = idx.len() == mutations.len();
        part.try_one_pc = self.try_one_pc && whole;
        if whole || idx.iter().any(|&i| mutations[i].key == self.primary_lock) {
            part.secondaries = secondaries.clone();
        }
        part.mutations = pick(&mutations, idx);
        if !actions.is_empty() {
            part.pessimistic_actions = pick(&actions, idx);
        }
        self.secondaries = secondaries;
        self.mutations = mutations;
        self.pessimistic_actions = actions;
        part
    }
}

/// The mutations; only the part holding the primary (or every key) may
/// create the transaction (`is_first_lock`).
impl BatchRpc for kvrpcpb::PessimisticLockRequest {
    fn part(&mut self, idx: &[usize]) -> Self {
        let mutations = std::mem::take(&mut self.mutations);
        let mut part = self.clone();
        part.is_first_lock = self.is_first_lock
            && (idx.len() == mutations.len()
                || idx.iter().any(|&i| mutations[i].key == self.primary_lock));
        part.mutations = pick(&mutations, idx);
        self.mutations = mutations;
        part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_request(keys: &[&[u8]], is_first_lock: bool) -> kvrpcpb::PessimisticLockRequest {
        kvrpcpb::PessimisticLockRequest {
            mutations: keys
                .iter()
                .map(|k| kvrpcpb::Mutation {
                    key: k.to_vec(),
                    ..Default::default()
                })
                .collect(),
            primary_lock: b"p".to_vec(),
            is_first_lock,
            ..Default::default()
        }
    }

    #[test]
    fn prewrites_and_commits_are_cut_at_16_kib_and_other_batches_are_not() {
        let big = |n: usize| kvrpcpb::Mutation {
            key: b"k".to_vec(),
            value: vec![0; n - 1],
            ..Default::default()
        };
        let prewrite = kvrpcpb::PrewriteRequest {
            mutations: vec![big(10_000), big(6_000), big(400), big(20_000), big(1)],
            ..Default::default()
        };
        let runs = by_size(&prewrite, (0..5).collect());
        assert_eq!(runs, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        let commit = kvrpcpb::CommitRequest {
            keys: vec![vec![0; 9000]; 3],
            ..Default::default()
        };
        assert_eq!(
            by_size(&commit, vec![0, 1, 2]),
            vec![vec![0], vec![1], vec![2]]
        );
        let get = kvrpcpb::BatchGetRequest {
            keys: vec![vec![0; 9000]; 3],
            ..Default::default()
        };
        assert_eq!(by_size(&get, vec![0, 1, 2]), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn each_rpc_is_named_by_its_id_and_key_errors_are_read_off_the_wire() {
        assert_eq!(RPC_NAMES[kvrpcpb::GetRequest::ID as usize], "KvGet");
        assert_eq!(
            RPC_NAMES[kvrpcpb::TxnHeartBeatRequest::ID as usize],
            "KvTxnHeartBeat"
        );
        let locked = kvrpcpb::KeyError {
            locked: Some(Default::default()),
            ..Default::default()
        };
        let conflict = kvrpcpb::KeyError {
            conflict: Some(Default::default()),
            ..Default::default()
        };
        let reply = kvrpcpb::PrewriteResponse {
            errors: vec![locked.clone(), conflict],
            ..Default::default()
        };
        assert_eq!(
            kvrpcpb::PrewriteRequest::key_error(&reply),
            Some(ErrorKind::WriteConflict),
            "the decisive error, as the transport reports it"
        );
        let reply = kvrpcpb::BatchGetResponse {
            pairs: vec![kvrpcpb::KvPair {
                error: Some(locked),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            kvrpcpb::BatchGetRequest::key_error(&reply),
            Some(ErrorKind::KeyIsLocked)
        );
        assert_eq!(kvrpcpb::RawGetRequest::key_error(&Default::default()), None);
    }

    #[test]
    fn a_part_holds_its_keys_and_leaves_the_request_whole() {
        let mut req = kvrpcpb::CommitRequest {
            keys: vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
            start_version: 5,
            commit_version: 6,
            ..Default::default()
        };
        let whole = req.clone();
        let part = req.part(&[2, 0]);
        assert_eq!(part.keys, [b"c".to_vec(), b"a".to_vec()]);
        assert_eq!((part.start_version, part.commit_version), (5, 6));
        assert_eq!(req, whole);
    }

    #[test]
    fn a_prewrite_part_takes_its_actions_when_there_are_any() {
        let m = |k: &[u8]| kvrpcpb::Mutation {
            key: k.to_vec(),
            ..Default::default()
        };
        let mut req = kvrpcpb::PrewriteRequest {
            mutations: vec![m(b"a"), m(b"b")],
            pessimistic_actions: vec![1, 2],
            ..Default::default()
        };
        let part = req.part(&[1]);
        assert_eq!(part.mutations, [m(b"b")]);
        assert_eq!(part.pessimistic_actions, [2]);
        req.pessimistic_actions.clear();
        assert!(req.part(&[1]).pessimistic_actions.is_empty());
    }

    #[test]
    fn only_the_primarys_part_has_the_secondaries_and_only_a_whole_prewrite_tries_1pc() {
        let m = |k: &[u8]| kvrpcpb::Mutation {
            key: k.to_vec(),
            ..Default::default()
        };
        let mut req = kvrpcpb::PrewriteRequest {
            mutations: vec![m(b"a"), m(b"p"), m(b"z")],
            primary_lock: b"p".to_vec(),
            secondaries: vec![b"a".to_vec(), b"z".to_vec()],
            use_async_commit: true,
            try_one_pc: true,
            ..Default::default()
        };
        let whole = req.clone();
        let all = req.part(&[0, 1, 2]);
        assert!(all.try_one_pc);
        assert_eq!(all.secondaries, whole.secondaries);
        let primary = req.part(&[1, 2]);
        assert!(!primary.try_one_pc, "a part of the keys never tries 1PC");
        assert_eq!(primary.secondaries, whole.secondaries);
        let other = req.part(&[0]);
        assert!(other.secondaries.is_empty() && other.use_async_commit);
        assert_eq!(req, whole);
    }

    #[test]
    fn only_the_primarys_part_may_create_the_transaction() {
        let mut req = lock_request(&[b"a", b"p", b"z"], true);
        assert!(req.part(&[0, 1, 2]).is_first_lock);
        assert!(req.part(&[1]).is_first_lock);
        assert!(!req.part(&[0, 2]).is_first_lock);
        let mut later = lock_request(&[b"a", b"p"], false);
        assert!(!later.part(&[1]).is_first_lock);
    }
}

//! One store's `tikvpb.Tikv` service: every request passes the same gate
//! before the engine sees it, then runs its raw (`raw`) or transactional
//! (`txn`) handler.
//!
//! The gate, in order: an offline store answers `Unavailable`; injected
//! latency (time on the wire, by the request's read or write [`Cost`],
//! which each RPC names in the `rpcs!` table below); the request must carry a context (else
//! `InvalidArgument`); injected ServerIsBusy; the injected queue wait, after
//! which a request that has been in the store longer than its context's
//! `max_execution_duration_ms` is not carried out (TiKV's deadline check
//! before a request runs: ServerIsBusy "deadline is exceeded"); then the
//! region checks a real store makes: the
//! region exists here (`region_not_found`), this store leads it
//! (`not_leader` with the leader as hint), the epoch's version is current
//! (`epoch_not_match` with the current regions), and every key lies inside
//! it (`key_not_in_region`). Raw keys compare with the region's bounds as
//! they are; transactional keys by their memcomparable encoding.
//!
//! Malformed requests (no context, an empty key where one is required, an
//! unknown enum value) get `InvalidArgument`; nothing a client sends can
//! make a handler panic.
//!
//! `BatchCommands` (`batch`) runs each request it carries through the same
//! handler as its unary RPC.
//!
//! An answer carries the time the request spent in the store
//! (`exec_details_v2`, for the RPCs TiKV fills it for: `timing`).

mod batch;
pub mod convert;
mod raw;
mod timing;
mod txn;
pub(crate) mod version;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::ClusterState;
use super::config::Cost;
use super::regions::Region;
use crate::codec;
use crate::proto::kvrpcpb::{self, Context};
use crate::proto::tikvpb::tikv_server::Tikv;
use crate::proto::tikvpb::{
    BatchCommandsRequest, BatchCommandsResponse, batch_commands_request, batch_commands_response,
};
use crate::proto::{RegionReply, errorpb};
use crate::vocab::ApiVersion;

/// Passes a request through the gate, or returns its refusal (a region
/// error, or the API version check's storage error in the reply's own
/// field). `$keys`: the keys that must lie in the region; after `;`, the
/// ranges a scan reads (for the version check).
macro_rules! admit {
    ($store:expr, $req:expr, $Resp:ty, $space:expr, $keys:expr) => {
        admit!($store, $req, $Resp, $space, $keys; &[])
    };
    ($store:expr, $req:expr, $Resp:ty, $space:expr, $keys:expr; $ranges:expr) => {
        match $store
            .admit(
                $req.context.as_ref(),
                $space,
                <$Resp as $crate::cluster::store::version::Checked>::CMD,
                $keys,
                $ranges,
            )
            .await?
        {
            Ok(region) => region,
            Err($crate::cluster::store::Refusal::Region(e)) => {
                return Ok(<$Resp as $crate::proto::RegionReply>::with_region_error(*e));
            }
            Err($crate::cluster::store::Refusal::Storage(text)) => {
                return Ok(<$Resp as $crate::cluster::store::version::Checked>::refused(text));
            }
        }
    };
}
use admit;

impl Refusal {
    fn region(e: errorpb::Error) -> Refusal {
        Refusal::Region(Box::new(e))
    }
}

/// Why the gate turned a request away (answered in the reply, not as a
/// gRPC error).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A region error (boxed: it is large, and the gate's answer is
    /// mostly `Ok`).
    Region(Box<errorpb::Error>),
    /// The API version check's storage error text.
    Storage(String),
}

/// Which key space a request's keys belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    /// Raw keys, compared with region bounds as they are.
    Raw,
    /// Transactional keys, compared by their memcomparable encoding.
    Txn,
}

impl Space {
    /// Whether `key`, placed as this space places keys, lies in `region`.
    fn contains(self, region: &Region, key: &[u8]) -> bool {
        match self {
            Space::Raw => region.contains(key),
            Space::Txn => region.contains(&codec::encode(key)),
        }
    }

    /// The region's bounds in this space's keys (empty end: unbounded).
    fn bounds(self, region: &Region) -> (Vec<u8>, Vec<u8>) {
        match self {
            Space::Raw => (region.start.clone(), region.end.clone()),
            Space::Txn => region.user_range(),
        }
    }
}

/// The service of one store.
#[derive(Debug, Clone)]
pub struct Store {
    id: u64,
    shared: Arc<ClusterState>,
    /// The cost of the request this copy serves (each RPC gets its own
    /// copy, set by `rpcs!`), which picks its injected latency.
    cost: Cost,
    /// Requests this store has taken and not yet answered, unary or
    /// batched: the transport load it reports.
    in_flight: Arc<AtomicU64>,
    /// The time the request this copy serves spends in the store, for its
    /// answer's `exec_details_v2` (fresh in every copy).
    clock: timing::StoreClock,
}

impl Store {
    pub(crate) fn new(id: u64, shared: Arc<ClusterState>) -> Store {
        Store {
            id,
            shared,
            cost: Cost::Read,
            in_flight: Arc::new(AtomicU64::new(0)),
            clock: timing::StoreClock::default(),
        }
    }

    /// The load a `BatchCommands` answer reports (`transport_layer_load`):
    /// the `transport_load` fault if set, else the requests in flight on
    /// this store. TiKV reports its gRPC threads' CPU use in percent;
    /// client-go batches more above 200.
    fn transport_load(&self) -> u64 {
        let fault = self.shared.faults.transport_load();
        fault.unwrap_or_else(|| self.in_flight.load(Ordering::Relaxed))
    }

    /// `Unavailable` while this store is offline (counted).
    fn refuse_if_offline(&self) -> Result<(), Status> {
        let faults = &self.shared.faults;
        if !faults.is_offline(self.id) {
            return Ok(());
        }
        faults.note_unavailable();
        Err(Status::unavailable(format!(
            "store {} is offline (injected fault)",
            self.id
        )))
    }

    /// This store, serving a request of `cost`.
    fn serving(&self, cost: Cost) -> Store {
        Store {
            cost,
            ..self.clone()
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// How this store places `space`'s keys among region bounds: under
    /// API V2 raw keys are memcomparable-encoded too (TiKV stores them so,
    /// and PD's keyspace bounds are encoded), so they place as
    /// transactional keys do.
    fn placement(&self, space: Space) -> Space {
        match self.shared.config.api_version {
            ApiVersion::V2 => Space::Txn,
            _ => space,
        }
    }

    /// The gate (see the module doc): the region to serve, or the refusal
    /// to answer; a gRPC error for an offline store or a malformed
    /// request. `cmd`: TiKV's name of the command, if TiKV checks its API
    /// version (`version`).
    async fn admit<'k, I>(
        &self,
        ctx: Option<&Context>,
        space: Space,
        cmd: Option<&str>,
        keys: I,
        ranges: &[(&[u8], &[u8])],
    ) -> Result<Result<Region, Refusal>, Status>
    where
        I: IntoIterator<Item = &'k [u8]> + Clone,
    {
        self.refuse_if_offline()?;
        let latency = self.shared.faults.latency(self.cost, self.id);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        // The request has arrived: its deadline runs from here, as TiKV
        // starts it when storage takes the request.
        let arrived = tokio::time::Instant::now();
        self.clock.arrive();
        let ctx = ctx.ok_or_else(|| Status::invalid_argument("the request has no context"))?;
        if let Some(cmd) = cmd {
            let storage = self.shared.config.api_version;
            let scope = if ranges.is_empty() {
                version::Scope::Keys(keys.clone())
            } else {
                version::Scope::Ranges(ranges)
            };
            if let Err(text) = version::check(storage, ctx.api_version, cmd, space, scope) {
                return Ok(Err(Refusal::Storage(text)));
            }
        }
        self.admit_region(ctx, arrived, self.placement(space), keys)
            .await
    }

    /// The rest of the gate, past the version check.
    async fn admit_region<'k>(
        &self,
        ctx: &Context,
        arrived: tokio::time::Instant,
        space: Space,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Result<Result<Region, Refusal>, Status> {
        let faults = &self.shared.faults;
        if faults.busy() {
            let hint = faults.busy_backoff_ms();
            return Ok(Err(Refusal::region(convert::server_is_busy(self.id, hint))));
        }
        let wait = faults.queue_wait();
        if !wait.is_zero() {
            let queued = tokio::time::Instant::now();
            tokio::time::sleep(wait).await;
            self.clock.queued(queued.elapsed());
        }
        if past_deadline(ctx, arrived) {
            faults.note_deadline_exceeded();
            return Ok(Err(Refusal::region(convert::deadline_exceeded())));
        }
        if let Some(peer) = &ctx.peer
            && peer.store_id != 0
            && peer.store_id != self.id
        {
            return Ok(Err(Refusal::region(convert::store_not_match(
                peer.store_id,
                self.id,
            ))));
        }
        let version = ctx.region_epoch.as_ref().map_or(0, |e| e.version);
        let region = match self.shared.regions.check(ctx.region_id, version, self.id) {
            Ok(r) => r,
            Err(e) => return Ok(Err(Refusal::region(convert::region_error(e)))),
        };
        for key in keys {
            if !space.contains(&region, key) {
                return Ok(Err(Refusal::region(convert::key_not_in_region(
                    key, &region,
                ))));
            }
        }
        Ok(Ok(region))
    }

    /// Notes a write to `region` for the split checker.
    fn written(&self, region: &Region) {
        self.shared.splits.mark(region.id);
    }
}

/// Whether a request that arrived at `arrived` has run out of its
/// `max_execution_duration_ms` (0: no limit).
fn past_deadline(ctx: &Context, arrived: tokio::time::Instant) -> bool {
    let limit = ctx.max_execution_duration_ms;
    limit != 0 && arrived.elapsed() >= std::time::Duration::from_millis(limit)
}

/// `InvalidArgument` unless `key` is non-empty.
fn need_key(key: &[u8], what: &str) -> Result<(), Status> {
    if key.is_empty() {
        Err(Status::invalid_argument(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

/// `InvalidArgument` unless every key is non-empty.
fn need_keys<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Result<(), Status> {
    keys.into_iter().try_for_each(|k| need_key(k, "a key"))
}

/// The `key_not_in_region` answer for a key outside `region`.
fn outside<R: RegionReply>(key: &[u8], region: &Region) -> R {
    R::with_region_error(convert::key_not_in_region(key, region))
}

/// Clips a forward scan `[start, end)` (empty end: unbounded) to the
/// region's bounds `[lo, hi)`.
fn clip_end(end: &[u8], hi: &[u8]) -> Vec<u8> {
    match (end.is_empty(), hi.is_empty()) {
        (true, _) => hi.to_vec(),
        (false, true) => end.to_vec(),
        (false, false) => end.min(hi).to_vec(),
    }
}

/// Checks and clips a scan to the region. Forward: `start` must lie in the
/// region and `end` is cut at its end. Reverse (TiKV's convention: `start`
/// is the exclusive upper bound, `end` the inclusive lower one): `start`
/// must lie in `(region start, region end]` and `end` is raised to the
/// region start. Returns the clipped `(start, end)`, or `None` when `start`
/// is outside (answer `key_not_in_region`).
fn clip_scan(
    space: Space,
    region: &Region,
    start: &[u8],
    end: &[u8],
    reverse: bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let (lo, hi) = space.bounds(region);
    if !reverse {
        return space
            .contains(region, start)
            .then(|| (start.to_vec(), clip_end(end, &hi)));
    }
    let upper_ok = if start.is_empty() {
        hi.is_empty()
    } else {
        start > lo.as_slice() && (hi.is_empty() || start <= hi.as_slice())
    };
    upper_ok.then(|| (start.to_vec(), end.max(lo.as_slice()).to_vec()))
}

/// Each RPC runs as a task of its own, to completion even when the client
/// gives up on it (a timeout, a dropped connection), as TiKV's scheduler
/// carries on with a request whose client is gone: a request a client
/// abandoned may still take effect.
///
/// The table: each RPC's cost, name, request and response, its handler,
/// and after `=>` the command it is in a `BatchCommands` message, if
/// kvproto lets it travel there (`run_batched` dispatches those).
macro_rules! rpcs {
    ($($cost:ident $name:ident($Req:ident) -> $Resp:ident = $handler:path $(=> $Cmd:ident)?;)*) => {
        #[tonic::async_trait]
        impl Tikv for Store {
            $(async fn $name(
                &self,
                request: Request<kvrpcpb::$Req>,
            ) -> Result<Response<kvrpcpb::$Resp>, Status> {
                let store = self.serving(Cost::$cost);
                let req = request.into_inner();
                let load = batch::InFlight::enter(&store.in_flight);
                tokio::spawn(async move {
                    let _load = load;
                    let mut reply = $handler(&store, req).await?;
                    let total = timing::UNARY_TIMED.contains(&stringify!($name));
                    store.clock.fill(&mut reply, total, store.cost);
                    Ok(reply)
                })
                .await
                .map_err(|e| Status::internal(format!("the store's handler failed: {e}")))?
                .map(Response::new)
            })*

            async fn batch_commands(
                &self,
                request: Request<Streaming<BatchCommandsRequest>>,
            ) -> Result<Response<BoxStream<BatchCommandsResponse>>, Status> {
                Ok(Response::new(batch::serve(self, request.into_inner())))
            }
        }

        /// Runs one command of a `BatchCommands` message through the
        /// handler of its RPC, at the RPC's cost.
        async fn run_batched(
            store: &Store,
            cmd: batch_commands_request::request::Cmd,
        ) -> Result<batch_commands_response::response::Cmd, Status> {
            use batch_commands_request::request::Cmd as Req;
            use batch_commands_response::response::Cmd as Resp;
            match cmd {
                $($(Req::$Cmd(req) => {
                    let store = store.serving(Cost::$cost);
                    let mut reply = $handler(&store, req).await?;
                    let total = timing::BATCHED_TIMED.contains(&stringify!($Cmd));
                    store.clock.fill(&mut reply, total, store.cost);
                    Ok(Resp::$Cmd(reply))
                })?)*
                Req::Empty(req) => Ok(Resp::Empty(batch::empty(req).await)),
            }
        }
    };
}

rpcs! {
    Read raw_get(RawGetRequest) -> RawGetResponse = raw::get => RawGet;
    Read raw_batch_get(RawBatchGetRequest) -> RawBatchGetResponse = raw::batch_get => RawBatchGet;
    Write raw_put(RawPutRequest) -> RawPutResponse = raw::put => RawPut;
    Write raw_batch_put(RawBatchPutRequest) -> RawBatchPutResponse = raw::batch_put => RawBatchPut;
    Write raw_delete(RawDeleteRequest) -> RawDeleteResponse = raw::delete => RawDelete;
    Write raw_batch_delete(RawBatchDeleteRequest) -> RawBatchDeleteResponse = raw::batch_delete => RawBatchDelete;
    Read raw_scan(RawScanRequest) -> RawScanResponse = raw::scan => RawScan;
    Read raw_batch_scan(RawBatchScanRequest) -> RawBatchScanResponse = raw::batch_scan => RawBatchScan;
    Write raw_delete_range(RawDeleteRangeRequest) -> RawDeleteRangeResponse = raw::delete_range => RawDeleteRange;
    Write raw_compare_and_swap(RawCasRequest) -> RawCasResponse = raw::compare_and_swap;
    Read raw_get_key_ttl(RawGetKeyTtlRequest) -> RawGetKeyTtlResponse = raw::get_key_ttl;
    Read kv_get(GetRequest) -> GetResponse = txn::get => Get;
    Read kv_batch_get(BatchGetRequest) -> BatchGetResponse = txn::batch_get => BatchGet;
    Read kv_scan(ScanRequest) -> ScanResponse = txn::scan => Scan;
    Write kv_prewrite(PrewriteRequest) -> PrewriteResponse = txn::prewrite => Prewrite;
    Write kv_commit(CommitRequest) -> CommitResponse = txn::commit => Commit;
    Write kv_pessimistic_lock(PessimisticLockRequest) -> PessimisticLockResponse = txn::pessimistic_lock => PessimisticLock;
    Write kv_pessimistic_rollback(PessimisticRollbackRequest) -> PessimisticRollbackResponse = txn::pessimistic_rollback => PessimisticRollback;
    Write kv_batch_rollback(BatchRollbackRequest) -> BatchRollbackResponse = txn::batch_rollback => BatchRollback;
    Write kv_check_txn_status(CheckTxnStatusRequest) -> CheckTxnStatusResponse = txn::check_txn_status => CheckTxnStatus;
    Write kv_check_secondary_locks(CheckSecondaryLocksRequest) -> CheckSecondaryLocksResponse = txn::check_secondary_locks => CheckSecondaryLocks;
    Write kv_resolve_lock(ResolveLockRequest) -> ResolveLockResponse = txn::resolve_lock => ResolveLock;
    Write kv_txn_heart_beat(TxnHeartBeatRequest) -> TxnHeartBeatResponse = txn::txn_heart_beat => TxnHeartBeat;
    Read kv_scan_lock(ScanLockRequest) -> ScanLockResponse = txn::scan_lock => ScanLock;
    Write kv_cleanup(CleanupRequest) -> CleanupResponse = txn::cleanup => Cleanup;
}

//! The placement driver service (`pdpb.PD`): the members, the timestamp
//! oracle, and the region and store directory, all read from the state the
//! stores share, so PD shows a split or a leader change before any store
//! reports it.
//!
//! Every response carries `header{cluster_id}`. A request whose header names
//! another cluster (a non-zero id not ours) gets `FailedPrecondition`, as
//! PD answers it. Timestamps come from the engine's oracle, so PD and the
//! engine share one clock.
//!
//! A cluster may serve several PD members, one of which leads (or none,
//! during an election). As tikv/pd `server/grpc_service.go` has it, every
//! member answers GetMembers (naming the leader, if any); a member that
//! does not lead answers every other unary call with gRPC `Unavailable`
//! "not leader" (`validateRequest`, `errs.ErrNotLeader`), and a TSO request
//! with `Unknown` (the allocator's "generate timestamp failed, requested
//! pd not leader of cluster", wrapped by `errs.ErrUnknown`).
//!
//! The same members serve the keyspace lookup of API V2
//! (`keyspacepb.Keyspace/LoadKeyspace`, tikv/pd `server/keyspace_service.go`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tonic::codegen::BoxStream;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::store::convert;
use super::{CLUSTER_ID, ClusterState};
use crate::proto::keyspacepb::{
    KeyspaceMeta, KeyspaceState, LoadKeyspaceRequest, LoadKeyspaceResponse, keyspace_server,
};
use crate::proto::metapb;
use crate::proto::pdpb::pd_server;
use crate::proto::pdpb::{
    self, GetAllStoresRequest, GetAllStoresResponse, GetGcSafePointRequest, GetGcSafePointResponse,
    GetMembersRequest, GetMembersResponse, GetRegionByIdRequest, GetRegionRequest,
    GetRegionResponse, GetStoreRequest, GetStoreResponse, Member, RequestHeader, ResponseHeader,
    ScanRegionsRequest, ScanRegionsResponse, TsoRequest, TsoResponse, UpdateGcSafePointRequest,
    UpdateGcSafePointResponse,
};
use crate::storage::tso;
use crate::vocab::op::DEFAULT_KEYSPACE;

/// The PD service of one member.
#[derive(Debug, Clone)]
pub struct PdService {
    shared: Arc<ClusterState>,
    /// This member's index.
    member: usize,
}

fn header() -> Option<ResponseHeader> {
    Some(ResponseHeader {
        cluster_id: CLUSTER_ID,
        error: None,
    })
}

fn error_header(kind: pdpb::ErrorType, message: String) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        cluster_id: CLUSTER_ID,
        error: Some(pdpb::Error {
            r#type: kind as i32,
            message,
        }),
    })
}

/// What a member that does not lead answers a TSO request.
const TSO_NOT_LEADER: &str =
    "[PD:tso:ErrGenerateTimestamp]generate timestamp failed, requested pd not leader of cluster";

/// `FailedPrecondition` for a request meant for another cluster.
fn check_cluster(h: Option<&RequestHeader>) -> Result<(), Status> {
    match h {
        Some(h) if h.cluster_id != 0 && h.cluster_id != CLUSTER_ID => {
            Err(Status::failed_precondition(format!(
                "mismatch cluster id, need {CLUSTER_ID} but got {}",
                h.cluster_id
            )))
        }
        _ => Ok(()),
    }
}

impl PdService {
    /// The first member's service.
    pub(crate) fn new(shared: Arc<ClusterState>) -> PdService {
        PdService::member(shared, 0)
    }

    /// Member `member`'s service.
    pub(crate) fn member(shared: Arc<ClusterState>, member: usize) -> PdService {
        PdService { shared, member }
    }

    /// Whether this member leads.
    fn leads(&self) -> bool {
        self.shared.pd_leader() == Some(self.member)
    }

    /// What PD checks first on every call but GetMembers: this member
    /// leads, then the request is meant for this cluster.
    fn check(&self, h: Option<&RequestHeader>) -> Result<(), Status> {
        if !self.leads() {
            return Err(Status::unavailable("not leader"));
        }
        check_cluster(h)
    }

    /// Every member, by index.
    fn members(&self) -> Vec<Member> {
        let addrs = self.shared.pd_addrs();
        let n = addrs.len().max(1);
        // As PD does, members are listed with the scheme they serve.
        let scheme = match self.shared.config.tls {
            Some(_) => "https",
            None => "http",
        };
        (0..n)
            .map(|i| {
                let urls: Vec<String> = addrs
                    .get(i)
                    .map(|a| format!("{scheme}://{a}"))
                    .into_iter()
                    .collect();
                Member {
                    name: format!("tikv-bench-pd-{i}"),
                    member_id: i as u64 + 1,
                    peer_urls: urls.clone(),
                    client_urls: urls,
                    binary_version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }
            })
            .collect()
    }

    fn store(&self, id: u64) -> metapb::Store {
        let (key, value) = super::tiflash::ENGINE_LABEL;
        let labels = if self.shared.tiflash_store == Some(id) {
            vec![metapb::StoreLabel {
                key: key.into(),
                value: value.into(),
            }]
        } else {
            Vec::new()
        };
        metapb::Store {
            id,
            address: self
                .shared
                .store_addr(id)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            state: metapb::StoreState::Up as i32,
            labels,
            version: env!("CARGO_PKG_VERSION").into(),
            node_state: metapb::NodeState::Serving as i32,
            ..Default::default()
        }
    }

    /// The region's leader as PD reports it (none while PD hides leaders).
    fn leader(&self, r: &super::Region) -> Option<metapb::Peer> {
        let hidden = self.shared.pd_hides_leaders.load(Ordering::Acquire);
        (!hidden).then(|| convert::peer(r.leader_peer()))
    }

    fn region_response(&self, region: Option<super::Region>) -> GetRegionResponse {
        match region {
            Some(r) => GetRegionResponse {
                header: header(),
                leader: self.leader(&r),
                region: Some(convert::region(&r)),
                ..Default::default()
            },
            None => GetRegionResponse {
                header: header(),
                ..Default::default()
            },
        }
    }
}

/// The answer to one TSO request: `count` timestamps reserved, the largest
/// returned.
fn tso_answer(pd: &PdService, req: TsoRequest) -> Result<TsoResponse, Status> {
    if !pd.leads() {
        return Err(Status::unknown(TSO_NOT_LEADER));
    }
    check_cluster(req.header.as_ref())?;
    let shared = &pd.shared;
    if req.count == 0 {
        return Err(Status::invalid_argument("tso count should be positive"));
    }
    let last = shared.storage.tso().batch(req.count);
    Ok(TsoResponse {
        header: header(),
        count: req.count,
        timestamp: Some(pdpb::Timestamp {
            physical: tso::physical(last) as i64,
            logical: tso::logical(last) as i64,
            suffix_bits: 0,
        }),
    })
}

/// One response per request, in order, until the client closes its side,
/// a request is refused, or the cluster shuts down.
struct TsoStream {
    inbound: Streaming<TsoRequest>,
    pd: PdService,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    done: bool,
}

impl Stream for TsoStream {
    type Item = Result<TsoResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.stop.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inbound).poll_next(cx) {
            Poll::Ready(Some(Ok(req))) => {
                let answer = tso_answer(&self.pd, req);
                self.done = answer.is_err();
                Poll::Ready(Some(answer))
            }
            Poll::Ready(Some(Err(status))) => {
                self.done = true;
                Poll::Ready(Some(Err(status)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[tonic::async_trait]
impl pd_server::Pd for PdService {
    async fn get_members(
        &self,
        request: Request<GetMembersRequest>,
    ) -> Result<Response<GetMembersResponse>, Status> {
        check_cluster(request.get_ref().header.as_ref())?;
        let members = self.members();
        let leader = self
            .shared
            .pd_leader()
            .and_then(|i| members.get(i).cloned());
        Ok(Response::new(GetMembersResponse {
            header: header(),
            members,
            leader: leader.clone(),
            etcd_leader: leader,
            ..Default::default()
        }))
    }

    async fn tso(
        &self,
        request: Request<Streaming<TsoRequest>>,
    ) -> Result<Response<BoxStream<TsoResponse>>, Status> {
        let stream = TsoStream {
            inbound: request.into_inner(),
            pd: self.clone(),
            stop: Box::pin(self.shared.shutdown_signal()),
            done: false,
        };
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_store(
        &self,
        request: Request<GetStoreRequest>,
    ) -> Result<Response<GetStoreResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        if !self.shared.all_store_ids().any(|id| id == req.store_id) {
            return Ok(Response::new(GetStoreResponse {
                header: error_header(
                    pdpb::ErrorType::Unknown,
                    format!("invalid store ID {}, not found", req.store_id),
                ),
                ..Default::default()
            }));
        }
        Ok(Response::new(GetStoreResponse {
            header: header(),
            store: Some(self.store(req.store_id)),
            ..Default::default()
        }))
    }

    async fn get_all_stores(
        &self,
        request: Request<GetAllStoresRequest>,
    ) -> Result<Response<GetAllStoresResponse>, Status> {
        self.check(request.get_ref().header.as_ref())?;
        Ok(Response::new(GetAllStoresResponse {
            header: header(),
            stores: self
                .shared
                .all_store_ids()
                .map(|id| self.store(id))
                .collect(),
        }))
    }

    async fn get_region(
        &self,
        request: Request<GetRegionRequest>,
    ) -> Result<Response<GetRegionResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        let region = self.shared.regions.locate(&req.region_key);
        Ok(Response::new(self.region_response(Some(region))))
    }

    async fn get_region_by_id(
        &self,
        request: Request<GetRegionByIdRequest>,
    ) -> Result<Response<GetRegionResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        let region = self.shared.regions.get(req.region_id);
        Ok(Response::new(self.region_response(region)))
    }

    async fn scan_regions(
        &self,
        request: Request<ScanRegionsRequest>,
    ) -> Result<Response<ScanRegionsResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        let limit = usize::try_from(req.limit.max(0)).unwrap_or(0);
        let found = self
            .shared
            .regions
            .scan(&req.start_key, &req.end_key, limit);
        let mut resp = ScanRegionsResponse {
            header: header(),
            ..Default::default()
        };
        for r in &found {
            let meta = convert::region(r);
            let leader = self.leader(r);
            resp.region_metas.push(meta.clone());
            resp.leaders.push(leader.unwrap_or_default());
            resp.regions.push(pdpb::Region {
                region: Some(meta),
                leader,
                ..Default::default()
            });
        }
        Ok(Response::new(resp))
    }

    async fn get_gc_safe_point(
        &self,
        request: Request<GetGcSafePointRequest>,
    ) -> Result<Response<GetGcSafePointResponse>, Status> {
        self.check(request.get_ref().header.as_ref())?;
        Ok(Response::new(GetGcSafePointResponse {
            header: header(),
            safe_point: self.shared.gc_safe_point.load(Ordering::Acquire),
        }))
    }

    async fn update_gc_safe_point(
        &self,
        request: Request<UpdateGcSafePointRequest>,
    ) -> Result<Response<UpdateGcSafePointResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        // The safe point never moves backwards.
        let old = self
            .shared
            .gc_safe_point
            .fetch_max(req.safe_point, Ordering::AcqRel);
        Ok(Response::new(UpdateGcSafePointResponse {
            header: header(),
            new_safe_point: old.max(req.safe_point),
        }))
    }
}

/// PD's answer to a keyspace name it does not know (tikv/pd
/// `errs.ErrKeyspaceNotFound`, in the header as `ENTRY_NOT_FOUND`).
pub const KEYSPACE_NOT_FOUND: &str = "[PD:keyspace:ErrKeyspaceNotFound]keyspace does not exist";

/// The keyspaces PD knows, by id: [`DEFAULT_KEYSPACE`] is 0, the
/// configured ones follow from 1 in their order (a repeat of a name, or
/// of DEFAULT, is the same keyspace).
pub(crate) fn keyspaces(configured: &[String]) -> Vec<String> {
    let mut all = vec![DEFAULT_KEYSPACE.to_string()];
    for name in configured {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    all
}

/// The keyspace lookup (`keyspacepb.Keyspace`): LoadKeyspace answers a
/// known name with its meta (ENABLED), an unknown one as PD does.
#[tonic::async_trait]
impl keyspace_server::Keyspace for PdService {
    async fn load_keyspace(
        &self,
        request: Request<LoadKeyspaceRequest>,
    ) -> Result<Response<LoadKeyspaceResponse>, Status> {
        let req = request.into_inner();
        self.check(req.header.as_ref())?;
        let all = keyspaces(&self.shared.config.keyspaces);
        let Some(id) = all.iter().position(|n| *n == req.name) else {
            return Ok(Response::new(LoadKeyspaceResponse {
                header: error_header(pdpb::ErrorType::EntryNotFound, KEYSPACE_NOT_FOUND.into()),
                keyspace: None,
            }));
        };
        Ok(Response::new(LoadKeyspaceResponse {
            header: header(),
            keyspace: Some(KeyspaceMeta {
                id: id as u32,
                name: req.name,
                state: KeyspaceState::Enabled as i32,
                ..Default::default()
            }),
        }))
    }
}

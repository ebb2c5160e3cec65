//! The PD client: finds the PD leader among several endpoints with
//! GetMembers (never taking a follower for it: a follower answers every
//! other call "not leader"), looks for the leader again when the member in
//! use stops answering or says it does not lead (waiting out an election),
//! stamps every request with the cluster id of the first answer, and
//! serves timestamps from one batched TSO stream (see the `tso` module).
//!
//! Calls made: GetMembers, Tso, GetRegion, GetRegionByID, ScanRegions,
//! GetStore, GetAllStores, GetGCSafePoint, and the keyspace service's
//! LoadKeyspace (API V2). Counts of region lookups, TSO round trips and
//! failovers are kept for tests and the result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::Error;
use super::dial::{self, Dialer};
use super::keyspace::KeyspaceCodec;
use super::tso::{self, Waiter};
use crate::proto::keyspacepb::{
    KeyspaceState, LoadKeyspaceRequest, LoadKeyspaceResponse,
    keyspace_client::KeyspaceClient as KeyspaceStub,
};
use crate::proto::metapb;
use crate::proto::pdpb::{
    self,
    GetAllStoresRequest,
    GetGcSafePointRequest,
    GetMembersRequest,
    GetRegionByIdRequest,
    GetRegionRequest,
    GetRegionResponse,
    GetStoreRequest,
    RequestHeader,
    ResponseHeader,
    ScanRegionsRequest,
    // The generated gRPC stub, named apart from our client.
    pd_client::PdClient as PdStub,
};
use crate::vocab::ErrorKind;

/// Attempts of one PD call, each on the member found after the last failed.
const CALL_ATTEMPTS: usize = 3;

/// The first pause between two rounds of looking for the PD leader, and
/// the longest (the pauses double).
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);
const RECONNECT_PAUSE_MAX: Duration = Duration::from_millis(500);

/// A region as PD reports it, with its leader when PD knows one.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionInfo {
    pub region: metapb::Region,
    pub leader: Option<metapb::Peer>,
}

/// What the PD client did, for tests and reports.
#[derive(Debug, Default)]
pub struct PdCounters {
    /// GetRegion / GetRegionByID / ScanRegions calls.
    pub region_requests: AtomicU64,
    /// GetStore / GetAllStores calls.
    pub store_requests: AtomicU64,
    /// TsoRequests sent on the stream.
    pub tso_rpcs: AtomicU64,
    /// Timestamps handed out.
    pub timestamps: AtomicU64,
    /// TSO streams opened.
    pub tso_streams: AtomicU64,
    /// Times the client moved to another PD endpoint (or reconnected).
    pub reconnects: AtomicU64,
    /// LoadKeyspace calls.
    pub keyspace_requests: AtomicU64,
}

/// The PD member in use.
#[derive(Debug, Clone)]
struct Leader {
    /// Its channel, which every PD service's stub shares.
    channel: Channel,
    url: String,
    /// Bumped on every reconnect, so concurrent failures reconnect once.
    generation: u64,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Every PD URL known: the ones given, then the members PD reported.
    urls: RwLock<Vec<String>>,
    leader: RwLock<Leader>,
    reconnecting: Mutex<()>,
    cluster_id: u64,
    dialer: Dialer,
    pub(crate) request_timeout: Duration,
    pub(crate) counters: PdCounters,
}

/// A PD client. Cheap to share behind an `Arc`; dropping the last handle
/// ends the TSO task.
#[derive(Debug)]
pub struct PdClient {
    inner: Arc<Inner>,
    tso: mpsc::Sender<Waiter>,
}

/// A failed call's status, with the TLS failure behind it when there is
/// one (a server refusing the client's certificate shows on the first
/// call, after the handshake).
fn status_cause(s: &Status, tls: bool) -> String {
    use std::error::Error as _;
    match s.source() {
        Some(e) => dial::explain(e, tls),
        None => s.message().to_string(),
    }
}

fn status_error(what: &str, url: &str, s: &Status) -> Error {
    let kind = match s.code() {
        Code::DeadlineExceeded => ErrorKind::Timeout,
        Code::Unavailable | Code::Unknown | Code::Cancelled => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    };
    Error::Rpc {
        kind,
        message: format!("PD {what} at {url}: {}", s.message()),
        undetermined: false,
    }
}

/// Errors worth trying another PD endpoint for.
fn moves_on(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

fn header_error(what: &str, h: Option<&ResponseHeader>) -> Result<(), Error> {
    match h.and_then(|h| h.error.as_ref()) {
        Some(e) if e.r#type != pdpb::ErrorType::Ok as i32 => Err(Error::Rpc {
            kind: ErrorKind::Other,
            message: format!("PD {what}: {}", e.message),
            undetermined: false,
        }),
        _ => Ok(()),
    }
}

/// The outcome of asking one endpoint for the members.
struct Found {
    leader: Leader,
    cluster_id: u64,
    member_urls: Vec<String>,
}

/// Asks `at` for the members and connects to the leader they name. A
/// member that names no leader (an election), or a leader that cannot be
/// reached, is an error: a follower answers every call but GetMembers
/// "not leader", so it is never taken for the leader (as tikv/pd
/// `client/servicediscovery/service_discovery.go`, `updateMember`, passes
/// over a member whose answer has no leader URL).
async fn discover(
    at: &str,
    cluster_id: Option<u64>,
    dialer: &Dialer,
    request_timeout: Duration,
) -> Result<Found, String> {
    let channel = dialer.connect(at).await?;
    let mut client = PdStub::new(channel.clone());
    let members = tokio::time::timeout(
        request_timeout,
        client.get_members(GetMembersRequest { header: None }),
    )
    .await
    .map_err(|_| format!("{at}: GetMembers timed out"))?
    .map_err(|s| format!("{at}: GetMembers: {}", status_cause(&s, dialer.is_tls())))?
    .into_inner();
    let id = members.header.as_ref().map_or(0, |h| h.cluster_id);
    if id == 0 {
        return Err(format!("{at}: GetMembers answered without a cluster id"));
    }
    if let Some(want) = cluster_id
        && want != id
    {
        return Err(format!(
            "{at}: belongs to cluster {id}, not to cluster {want}"
        ));
    }
    let member_urls: Vec<String> = members
        .members
        .iter()
        .flat_map(|m| m.client_urls.iter().map(|u| dialer.url(u)))
        .collect();
    let leader_urls: Vec<String> = members
        .leader
        .as_ref()
        .map(|l| l.client_urls.iter().map(|u| dialer.url(u)).collect())
        .unwrap_or_default();
    let found = |channel, from: &str| Found {
        leader: Leader {
            channel,
            url: from.to_string(),
            generation: 0,
        },
        cluster_id: id,
        member_urls: member_urls.clone(),
    };
    if leader_urls.is_empty() {
        return Err(format!(
            "{at}: names no PD leader (an election may be under way)"
        ));
    }
    if leader_urls.iter().any(|u| u == at) {
        return Ok(found(channel, at));
    }
    let mut failures = Vec::new();
    for lu in &leader_urls {
        match dialer.connect(lu).await {
            Ok(ch) => return Ok(found(ch, lu)),
            Err(e) => failures.push(e),
        }
    }
    Err(format!(
        "{at}: the PD leader it names cannot be reached: {}",
        failures.join("; ")
    ))
}

impl PdClient {
    /// Connects (through `dialer`: its timeout, TLS or not) to the first
    /// of `endpoints` that answers GetMembers, then to the leader it names.
    pub async fn connect(
        endpoints: &[String],
        dialer: &Dialer,
        request_timeout: Duration,
    ) -> Result<PdClient, Error> {
        if endpoints.is_empty() {
            return Err(Error::Rpc {
                kind: ErrorKind::Other,
                message: "no PD endpoint given".into(),
                undetermined: false,
            });
        }
        let urls: Vec<String> = endpoints.iter().map(|e| dialer.url(e)).collect();
        let mut failures = Vec::new();
        for u in &urls {
            match discover(u, None, dialer, request_timeout).await {
                Ok(found) => {
                    let mut known = urls.clone();
                    for m in found.member_urls {
                        if !known.contains(&m) {
                            known.push(m);
                        }
                    }
                    let inner = Arc::new(Inner {
                        urls: RwLock::new(known),
                        leader: RwLock::new(found.leader),
                        reconnecting: Mutex::new(()),
                        cluster_id: found.cluster_id,
                        dialer: dialer.clone(),
                        request_timeout,
                        counters: PdCounters::default(),
                    });
                    let (tx, rx) = mpsc::channel(tso::QUEUE);
                    tokio::spawn(tso::run(inner.clone(), rx));
                    return Ok(PdClient { inner, tso: tx });
                }
                Err(e) => failures.push(e),
            }
        }
        Err(Error::Rpc {
            kind: ErrorKind::Unavailable,
            message: format!("no PD endpoint answered: {}", failures.join("; ")),
            undetermined: false,
        })
    }

    /// The cluster id PD reported.
    pub fn cluster_id(&self) -> u64 {
        self.inner.cluster_id
    }

    /// The URL of the PD member in use.
    pub fn leader_url(&self) -> String {
        self.inner.leader().url
    }

    pub fn counters(&self) -> &PdCounters {
        &self.inner.counters
    }

    /// A fresh timestamp from the shared, batched TSO stream.
    pub async fn timestamp(&self) -> Result<u64, Error> {
        let (tx, rx) = oneshot::channel();
        let gone = || Error::Rpc {
            kind: ErrorKind::Unavailable,
            message: "the TSO task has stopped".into(),
            undetermined: false,
        };
        self.tso.send(tx).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// The region holding `key` (a key in PD's key space: raw keys as they
    /// are, transactional keys encoded).
    pub async fn get_region(&self, key: &[u8]) -> Result<RegionInfo, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.region_requests,
                "GetRegion",
                |mut c, header| {
                    let req = GetRegionRequest {
                        header: Some(header),
                        region_key: key.to_vec(),
                        need_buckets: false,
                    };
                    async move { c.get_region(req).await }
                },
            )
            .await?;
        region_info(resp, || {
            format!("no region holds key '{}'", key.escape_ascii())
        })
    }

    pub async fn get_region_by_id(&self, id: u64) -> Result<RegionInfo, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.region_requests,
                "GetRegionByID",
                |mut c, header| async move {
                    c.get_region_by_id(GetRegionByIdRequest {
                        header: Some(header),
                        region_id: id,
                        need_buckets: false,
                    })
                    .await
                },
            )
            .await?;
        region_info(resp, || format!("region {id} not found"))
    }

    /// Up to `limit` regions from the one holding `start` to `end` (empty:
    /// the end of the key space).
    pub async fn scan_regions(
        &self,
        start: &[u8],
        end: &[u8],
        limit: i32,
    ) -> Result<Vec<RegionInfo>, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.region_requests,
                "ScanRegions",
                |mut c, header| {
                    let req = ScanRegionsRequest {
                        header: Some(header),
                        start_key: start.to_vec(),
                        end_key: end.to_vec(),
                        limit,
                    };
                    async move { c.scan_regions(req).await }
                },
            )
            .await?;
        header_error("ScanRegions", resp.header.as_ref())?;
        let known = |p: &metapb::Peer| p.store_id != 0;
        if !resp.regions.is_empty() {
            return Ok(resp
                .regions
                .into_iter()
                .filter_map(|r| {
                    Some(RegionInfo {
                        region: r.region?,
                        leader: r.leader.filter(known),
                    })
                })
                .collect());
        }
        let mut leaders = resp.leaders.into_iter();
        Ok(resp
            .region_metas
            .into_iter()
            .map(|region| RegionInfo {
                region,
                leader: leaders.next().filter(known),
            })
            .collect())
    }

    /// Every region, paging through ScanRegions.
    pub async fn all_regions(&self) -> Result<Vec<RegionInfo>, Error> {
        const PAGE: i32 = 1024;
        let mut out: Vec<RegionInfo> = Vec::new();
        let mut from = Vec::new();
        loop {
            let page = self.scan_regions(&from, b"", PAGE).await?;
            let n = page.len();
            for r in page {
                // A page starts with the region holding `from`, which the
                // last page may have ended with.
                if out.last().is_some_and(|l| l.region.id == r.region.id) {
                    continue;
                }
                out.push(r);
            }
            match out.last() {
                Some(l) if n as i32 >= PAGE && !l.region.end_key.is_empty() => {
                    from = l.region.end_key.clone();
                }
                _ => return Ok(out),
            }
        }
    }

    pub async fn get_store(&self, id: u64) -> Result<metapb::Store, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.store_requests,
                "GetStore",
                |mut c, header| async move {
                    c.get_store(GetStoreRequest {
                        header: Some(header),
                        store_id: id,
                    })
                    .await
                },
            )
            .await?;
        header_error("GetStore", resp.header.as_ref())?;
        resp.store.ok_or_else(|| Error::Rpc {
            kind: ErrorKind::Other,
            message: format!("PD knows no store {id}"),
            undetermined: false,
        })
    }

    /// PD's GC safe point (`GetGCSafePoint`).
    pub async fn gc_safe_point(&self) -> Result<u64, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.store_requests,
                "GetGCSafePoint",
                |mut c, header| async move {
                    c.get_gc_safe_point(GetGcSafePointRequest {
                        header: Some(header),
                    })
                    .await
                },
            )
            .await?;
        header_error("GetGCSafePoint", resp.header.as_ref())?;
        Ok(resp.safe_point)
    }

    /// The keyspace named `name` (API V2), as PD's keyspace service has
    /// it (`keyspacepb.Keyspace/LoadKeyspace`): refused, naming it, when
    /// PD does not know it, when it is not ENABLED (as client-go's
    /// `GetKeyspaceID` refuses), or when PD has no keyspace service.
    pub async fn load_keyspace(&self, name: &str) -> Result<KeyspaceCodec, Error> {
        let counter = &self.inner.counters.keyspace_requests;
        let resp = self
            .inner
            .call_on(
                KeyspaceStub::new,
                counter,
                "LoadKeyspace",
                |mut c, header| {
                    let req = LoadKeyspaceRequest {
                        header: Some(header),
                        name: name.to_string(),
                    };
                    async move {
                        match c.load_keyspace(req).await {
                            Ok(r) => Ok(r.map(Some)),
                            Err(s) if s.code() == Code::Unimplemented => {
                                Ok(tonic::Response::new(None))
                            }
                            Err(s) => Err(s),
                        }
                    }
                },
            )
            .await?;
        keyspace_of(name, resp)
    }

    pub async fn get_all_stores(&self) -> Result<Vec<metapb::Store>, Error> {
        let resp = self
            .inner
            .call(
                &self.inner.counters.store_requests,
                "GetAllStores",
                |mut c, header| async move {
                    c.get_all_stores(GetAllStoresRequest {
                        header: Some(header),
                        exclude_tombstone_stores: true,
                    })
                    .await
                },
            )
            .await?;
        header_error("GetAllStores", resp.header.as_ref())?;
        Ok(resp.stores)
    }
}

/// The keyspace in PD's answer to LoadKeyspace `name` (`None`: PD has no
/// keyspace service), or why it cannot be used.
fn keyspace_of(name: &str, resp: Option<LoadKeyspaceResponse>) -> Result<KeyspaceCodec, Error> {
    let refuse = |why: String| Error::Rpc {
        kind: ErrorKind::Other,
        message: format!("keyspace '{name}': {why}"),
        undetermined: false,
    };
    let Some(resp) = resp else {
        return Err(refuse(
            "this PD serves API V1 only (its keyspace service is unimplemented); \
             use api_version v1, without a keyspace"
                .into(),
        ));
    };
    if let Some(e) = resp.header.as_ref().and_then(|h| h.error.as_ref())
        && e.r#type != pdpb::ErrorType::Ok as i32
    {
        let what = if e.r#type == pdpb::ErrorType::EntryNotFound as i32 {
            "PD knows no keyspace of that name"
        } else {
            "PD could not load it"
        };
        return Err(refuse(format!("{what} (PD: {})", e.message)));
    }
    let meta = resp
        .keyspace
        .ok_or_else(|| refuse("PD answered without the keyspace".into()))?;
    if meta.state != KeyspaceState::Enabled as i32 {
        let state = KeyspaceState::try_from(meta.state).map_or("unknown", |s| s.as_str_name());
        return Err(refuse(format!(
            "it is {state} in PD, and only an ENABLED keyspace takes requests"
        )));
    }
    KeyspaceCodec::new(meta.id, &meta.name).ok_or_else(|| {
        refuse(format!(
            "PD gave it id {}, which needs more than 3 bytes",
            meta.id
        ))
    })
}

fn region_info(
    resp: GetRegionResponse,
    missing: impl FnOnce() -> String,
) -> Result<RegionInfo, Error> {
    header_error("GetRegion", resp.header.as_ref())?;
    let Some(region) = resp.region else {
        return Err(Error::Rpc {
            kind: ErrorKind::RegionNotFound,
            message: format!("PD: {}", missing()),
            undetermined: false,
        });
    };
    Ok(RegionInfo {
        region,
        leader: resp.leader.filter(|p| p.store_id != 0),
    })
}

impl Inner {
    fn leader(&self) -> Leader {
        self.leader
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn header(&self) -> RequestHeader {
        RequestHeader {
            cluster_id: self.cluster_id,
            sender_id: 0,
        }
    }

    /// The client in use and its generation.
    pub(crate) fn client(&self) -> (PdStub<Channel>, u64) {
        let (channel, generation) = self.channel();
        (PdStub::new(channel), generation)
    }

    /// The channel in use and its generation.
    fn channel(&self) -> (Channel, u64) {
        let l = self.leader.read().unwrap_or_else(|e| e.into_inner());
        (l.channel.clone(), l.generation)
    }

    /// One unary call, moving to another PD endpoint when the one in use
    /// does not answer; counted once in `counter`, however many attempts.
    fn call<'s, R, F, Fut>(
        &'s self,
        counter: &'s AtomicU64,
        what: &'s str,
        f: F,
    ) -> impl Future<Output = Result<R, Error>> + 's
    where
        F: Fn(PdStub<Channel>, RequestHeader) -> Fut + 's,
        Fut: Future<Output = Result<tonic::Response<R>, Status>> + 's,
        R: 's,
    {
        self.call_on(PdStub::new, counter, what, f)
    }

    /// [`Inner::call`] on the stub `stub` makes of the channel in use (a
    /// PD service other than `pdpb.PD`).
    async fn call_on<S, R, F, Fut>(
        &self,
        stub: fn(Channel) -> S,
        counter: &AtomicU64,
        what: &str,
        f: F,
    ) -> Result<R, Error>
    where
        F: Fn(S, RequestHeader) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for _ in 0..CALL_ATTEMPTS {
            let (channel, generation) = self.channel();
            let client = stub(channel);
            let err =
                match tokio::time::timeout(self.request_timeout, f(client, self.header())).await {
                    Ok(Ok(resp)) => return Ok(resp.into_inner()),
                    Ok(Err(s)) if moves_on(&s) => status_error(what, &self.leader().url, &s),
                    Ok(Err(s)) => return Err(status_error(what, &self.leader().url, &s)),
                    Err(_) => Error::Rpc {
                        kind: ErrorKind::Timeout,
                        message: format!(
                            "PD {what} at {}: no answer within {}",
                            self.leader().url,
                            humantime::format_duration(self.request_timeout)
                        ),
                        undetermined: false,
                    },
                };
            last = Some(err);
            if let Err(e) = self.reconnect(generation).await {
                last = Some(e);
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Finds the PD leader, unless another task already did since
    /// `generation`: rounds over every known endpoint (the failed one
    /// last), pausing between rounds, until one names a leader that
    /// answers or `request_timeout` has passed (an election takes a
    /// while; a follower is never taken for the leader).
    pub(crate) async fn reconnect(&self, generation: u64) -> Result<(), Error> {
        let _one = self.reconnecting.lock().await;
        let failed = {
            let l = self.leader.read().unwrap_or_else(|e| e.into_inner());
            if l.generation != generation {
                return Ok(());
            }
            l.url.clone()
        };
        let give_up = tokio::time::Instant::now() + self.request_timeout;
        let mut pause = RECONNECT_PAUSE;
        loop {
            let failures = match self.find_leader(&failed, generation).await {
                Ok(()) => return Ok(()),
                Err(failures) => failures,
            };
            if tokio::time::Instant::now() + pause >= give_up {
                return Err(Error::Rpc {
                    kind: ErrorKind::Unavailable,
                    message: format!("no PD leader found: {}", failures.join("; ")),
                    undetermined: false,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECONNECT_PAUSE_MAX);
        }
    }

    /// One round of [`Inner::reconnect`]: each endpoint asked once; the
    /// failures when none led to the leader.
    async fn find_leader(&self, failed: &str, generation: u64) -> Result<(), Vec<String>> {
        let mut urls = self.urls.read().unwrap_or_else(|e| e.into_inner()).clone();
        urls.retain(|u| *u != failed);
        urls.push(failed.to_string());
        let mut failures = Vec::new();
        for u in &urls {
            match discover(u, Some(self.cluster_id), &self.dialer, self.request_timeout).await {
                Ok(found) => {
                    {
                        let mut known = self.urls.write().unwrap_or_else(|e| e.into_inner());
                        for m in found.member_urls {
                            if !known.contains(&m) {
                                known.push(m);
                            }
                        }
                    }
                    let mut l = self.leader.write().unwrap_or_else(|e| e.into_inner());
                    *l = Leader {
                        generation: generation + 1,
                        ..found.leader
                    };
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) => failures.push(e),
            }
        }
        Err(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(header: Option<ResponseHeader>, state: KeyspaceState) -> LoadKeyspaceResponse {
        LoadKeyspaceResponse {
            header,
            keyspace: Some(crate::proto::keyspacepb::KeyspaceMeta {
                id: 7,
                name: "a".into(),
                state: state as i32,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_keyspace_is_refused_by_name_unless_pd_has_it_enabled() {
        let ks = keyspace_of("a", Some(answer(None, KeyspaceState::Enabled))).unwrap();
        assert_eq!((ks.id(), ks.name()), (7, "a"));
        let why = |r| keyspace_of("a", r).unwrap_err().to_string();
        let disabled = why(Some(answer(None, KeyspaceState::Disabled)));
        assert!(
            disabled.contains("keyspace 'a': it is DISABLED in PD"),
            "{disabled}"
        );
        assert!(why(None).contains("keyspace 'a': this PD serves API V1 only"));
        let missing = ResponseHeader {
            error: Some(pdpb::Error {
                r#type: pdpb::ErrorType::EntryNotFound as i32,
                message: "keyspace does not exist".into(),
            }),
            ..Default::default()
        };
        let unknown = why(Some(answer(Some(missing), KeyspaceState::Enabled)));
        assert!(
            unknown.contains("PD knows no keyspace of that name"),
            "{unknown}"
        );
    }

    #[test]
    fn endpoints_become_urls_of_the_dialers_scheme() {
        let plain = Dialer::plain(Duration::from_secs(1));
        assert_eq!(plain.url("127.0.0.1:2379"), "http://127.0.0.1:2379");
        assert_eq!(plain.url("http://pd:2379/"), "http://pd:2379");
        assert_eq!(plain.url("https://pd:2379"), "http://pd:2379");
    }
}

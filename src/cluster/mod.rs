//! The embedded stand-in cluster: a PD and several stores in this process,
//! each on its own loopback listener, serving the real PD and TiKV gRPC
//! protocols over the storage engine.
//!
//! - [`Cluster`]: the cluster as data (config, engine, region table, fault
//!   state), with its services built apart from serving them, so a test can
//!   call a service without a socket.
//! - [`RunningCluster`]: what [`Cluster::start`] returns: the addresses, the
//!   live state, on-demand splits, a JSON snapshot and a clean shutdown.
//! - [`pd`]: the `pdpb.PD` service (members, TSO, regions, stores, GC safe
//!   point), served by one member or by a leader and followers that
//!   answer "not leader"; [`store`]: the `tikvpb.Tikv` service of one store
//!   (region checks, then the raw and transactional calls onto the
//!   engine); [`tiflash`]: the optional TiFlash store, holding a learner
//!   of every region and answering no KV call.
//! - [`regions`]: the region table PD and the stores share; `split`: the
//!   split checker and middle-key splits; [`faults`]: injected faults;
//!   [`gc`]: the GC worker (safe point and store-side MVCC collection).
//! - [`config`]: the cluster's shape and faults (set by a workload's
//!   `cluster:` section or by the `serve` subcommand, in `cli`).

pub mod config;
pub mod faults;
pub mod gc;
pub mod pd;
pub mod regions;
mod split;
pub mod store;
pub mod tiflash;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::codec;
use crate::proto::keyspacepb::keyspace_server::KeyspaceServer;
use crate::proto::pdpb::pd_server::PdServer;
use crate::proto::tikvpb::tikv_server::TikvServer;
use crate::storage::{self, Storage};
use crate::vocab::ApiVersion;
use crate::vocab::tls::Tls;

pub use config::ClusterConfig;
pub use faults::{FaultCounts, FaultEvent, FaultWhat};
pub use regions::{Region, Regions};
pub use split::SplitError;

/// The cluster id PD reports and checks (the ASCII of "tikvbnch"): fixed,
/// non-zero, so a request meant for another cluster is recognised.
pub const CLUSTER_ID: u64 = u64::from_be_bytes(*b"tikvbnch");

/// How often the split checker looks at the regions written since its last
/// look.
pub const SPLIT_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The seed of the fault injector's random choices unless
/// [`Cluster::with_seed`] sets one.
pub const DEFAULT_SEED: u64 = 42;

/// How long [`RunningCluster::shutdown`] lets in-flight requests finish
/// before it drops the connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// State shared by PD, the stores and the background tasks.
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub config: ClusterConfig,
    pub regions: Arc<Regions>,
    pub storage: Arc<Storage>,
    /// The TiKV stores.
    pub store_ids: Vec<u64>,
    /// The TiFlash store, if the config asks for one.
    pub tiflash_store: Option<u64>,
    /// Calls the TiFlash store received.
    pub tiflash_calls: Arc<AtomicU64>,
    /// PD members served (the first leads unless `pd_leader` moves).
    pd_members: AtomicUsize,
    /// The index of the PD member that leads, or [`NO_PD_LEADER`].
    pd_leader: AtomicUsize,
    /// PD reports no leader for any region (as after a leader stepped
    /// down, before the new one's heartbeat reaches PD).
    pub pd_hides_leaders: AtomicBool,
    /// PD's and the stores' listening addresses, known once started.
    addrs: RwLock<Addrs>,
    /// PD's GC safe point (see [`gc`]).
    pub gc_safe_point: AtomicU64,
    pub gc: gc::GcState,
    pub faults: faults::FaultState,
    pub splits: split::SplitState,
    /// Flips to true once: every server, stream and task ends.
    pub shutdown: watch::Sender<bool>,
}

/// The value of `pd_leader` while no PD member leads (an election).
const NO_PD_LEADER: usize = usize::MAX;

#[derive(Debug, Default)]
struct Addrs {
    /// By member index.
    pd: Vec<SocketAddr>,
    stores: HashMap<u64, SocketAddr>,
}

impl ClusterState {
    /// The first PD member's address.
    pub fn pd_addr(&self) -> Option<SocketAddr> {
        self.pd_addrs().first().copied()
    }

    /// Every PD member's address, by member index.
    pub fn pd_addrs(&self) -> Vec<SocketAddr> {
        self.addrs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .pd
            .clone()
    }

    /// The index of the PD member that leads, if one does.
    pub fn pd_leader(&self) -> Option<usize> {
        Some(self.pd_leader.load(Ordering::Acquire)).filter(|&i| i != NO_PD_LEADER)
    }

    /// Every store PD lists: the TiKV stores, then the TiFlash store.
    pub fn all_store_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.store_ids.iter().copied().chain(self.tiflash_store)
    }

    pub fn store_addr(&self, id: u64) -> Option<SocketAddr> {
        let addrs = self.addrs.read().unwrap_or_else(|e| e.into_inner());
        addrs.stores.get(&id).copied()
    }

    /// Resolves when shutdown begins (at once if it has).
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            // An error means the sender is gone: shut down too.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// A stand-in cluster, not yet serving.
#[derive(Debug)]
pub struct Cluster {
    shared: Arc<ClusterState>,
}

impl Cluster {
    /// A cluster of `config.stores` stores (ids 1..=N) over a fresh engine
    /// whose lock wait default is `config.lock_wait_timeout`. One region
    /// covers the key space.
    pub fn new(config: ClusterConfig) -> Cluster {
        let engine = storage::StorageConfig {
            wait_timeout: config.lock_wait_timeout,
            ..storage::StorageConfig::default()
        };
        Cluster::with_storage(config, Arc::new(Storage::new(engine)))
    }

    /// A cluster over an existing engine (its lock wait setting wins).
    pub fn with_storage(config: ClusterConfig, storage: Arc<Storage>) -> Cluster {
        let store_ids: Vec<u64> = (1..=u64::from(config.stores.max(1))).collect();
        let tiflash_store = config.tiflash.then_some(store_ids.len() as u64 + 1);
        let shared = ClusterState {
            regions: Arc::new(Regions::with_learners(&store_ids, tiflash_store)),
            storage,
            tiflash_store,
            tiflash_calls: Arc::new(AtomicU64::new(0)),
            pd_members: AtomicUsize::new(1),
            pd_leader: AtomicUsize::new(0),
            pd_hides_leaders: AtomicBool::new(false),
            faults: faults::FaultState::new(&config.faults, &store_ids, DEFAULT_SEED),
            splits: split::SplitState::default(),
            addrs: RwLock::new(Addrs::default()),
            gc_safe_point: AtomicU64::new(0),
            gc: gc::GcState::default(),
            shutdown: watch::channel(false).0,
            store_ids,
            config,
        };
        split_keyspaces(&shared);
        Cluster {
            shared: Arc::new(shared),
        }
    }

    /// Seeds the fault injector's random choices (which region splits or
    /// changes leader, which request is answered ServerIsBusy).
    pub fn with_seed(self, seed: u64) -> Cluster {
        self.shared.faults.reseed(seed);
        self
    }

    /// Serves `n` PD members (at least 1): the first leads, the others
    /// are followers that name it in GetMembers and answer every other
    /// call "not leader", as PD's followers do.
    pub fn with_pd_members(self, n: usize) -> Cluster {
        self.shared.pd_members.store(n.max(1), Ordering::Release);
        self
    }

    /// PD reports no leader for any region (GetRegion, GetRegionByID and
    /// ScanRegions leave it out), as after a leader stepped down and
    /// before the new leader's heartbeat reached PD.
    pub fn with_region_leaders_hidden(self) -> Cluster {
        self.shared.pd_hides_leaders.store(true, Ordering::Release);
        self
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.shared.config
    }

    pub fn regions(&self) -> &Arc<Regions> {
        &self.shared.regions
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.shared.storage
    }

    /// Store ids, ascending.
    pub fn store_ids(&self) -> &[u64] {
        &self.shared.store_ids
    }

    /// The PD service, callable without a socket.
    pub fn pd_service(&self) -> pd::PdService {
        pd::PdService::new(self.shared.clone())
    }

    /// The service of store `id`, callable without a socket.
    pub fn store_service(&self, id: u64) -> Option<store::Store> {
        self.shared
            .store_ids
            .contains(&id)
            .then(|| store::Store::new(id, self.shared.clone()))
    }

    /// Splits the region holding `user_key` at the key's memcomparable
    /// encoding, so both key spaces see a valid bound: transactional `k`
    /// goes right, raw keys compare with `encode(k)` as bytes. Returns the
    /// id of the new (left) region.
    pub fn split_at(&self, user_key: &[u8]) -> Result<u64, SplitError> {
        split::split_at(&self.shared, &codec::encode(user_key))
    }

    /// Splits region `id` at the middle of its keys; `None` when it has
    /// fewer than two keys or no valid split key.
    pub fn split_region(&self, id: u64) -> Result<Option<u64>, SplitError> {
        split::split_middle(&self.shared, id)
    }

    /// What injected faults did so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.shared.faults.counts()
    }

    /// The injected faults' events so far, oldest first (at most
    /// [`faults::MAX_EVENTS`]), and how many more were not kept.
    pub fn fault_events(&self) -> (Vec<FaultEvent>, u64) {
        self.shared.faults.events()
    }

    /// Regions split by the split checker so far.
    pub fn checker_splits(&self) -> u64 {
        self.shared.splits.count.load(Ordering::Relaxed)
    }

    /// The cluster as JSON: regions (bounds as escaped bytes, and decoded
    /// when they are memcomparable encodings), stores, fault counts.
    pub fn snapshot(&self) -> Value {
        snapshot(&self.shared)
    }

    /// Binds the first PD member on `pd_addr`, and every other member and
    /// each store on port 0 of the same IP, serves them, and starts the
    /// split checker, the fault injector and the GC worker.
    pub async fn start(self, pd_addr: SocketAddr) -> std::io::Result<RunningCluster> {
        let shared = self.shared;
        let first = TcpListener::bind(pd_addr).await?;
        let ip = first.local_addr()?.ip();
        let mut pd_listeners = vec![first];
        for _ in 1..shared.pd_members.load(Ordering::Acquire) {
            pd_listeners.push(TcpListener::bind(SocketAddr::new(ip, 0)).await?);
        }
        let mut listeners = Vec::new();
        for id in shared.all_store_ids() {
            let l = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
            listeners.push((id, l.local_addr()?, l));
        }
        {
            let mut addrs = shared.addrs.write().unwrap_or_else(|e| e.into_inner());
            for l in &pd_listeners {
                addrs.pd.push(l.local_addr()?);
            }
            for (id, addr, _) in &listeners {
                addrs.stores.insert(*id, *addr);
            }
        }

        let tls = shared.config.tls.as_ref().map(server_tls);
        let builder = || match &tls {
            None => Ok(Server::builder()),
            Some(t) => Server::builder().tls_config(t.clone()),
        };
        // Fails only for settings tonic refuses; checked before any spawn.
        builder().map_err(std::io::Error::other)?;
        let builder = || builder().expect("TLS settings checked above");
        let mut servers = Vec::new();
        for (member, listener) in pd_listeners.into_iter().enumerate() {
            let service = pd::PdService::member(shared.clone(), member);
            let keyspace = KeyspaceServer::new(service.clone());
            let pd = PdServer::new(service);
            servers.push(tokio::spawn(serve(
                builder().add_service(pd).add_service(keyspace),
                listener,
                shared.shutdown_signal(),
            )));
        }
        let mut store_addrs = Vec::new();
        for (id, addr, listener) in listeners {
            servers.push(serve_store(&shared, id, listener, builder()));
            store_addrs.push((id, addr));
        }

        let mut tasks = vec![tokio::spawn(split::run_checker(
            shared.clone(),
            SPLIT_CHECK_INTERVAL,
        ))];
        tasks.extend(faults::spawn(&shared));
        tasks.push(tokio::spawn(gc::run(shared.clone())));
        Ok(RunningCluster {
            cluster: Cluster { shared },
            store_addrs,
            servers,
            tasks,
        })
    }
}

/// Under API V2, splits the regions at each keyspace's bounds, raw and
/// transactional, as PD does when it creates a keyspace (tikv/pd
/// `pkg/keyspace/util.go` `MakeRegionBound`: the encoded `r`/`x` prefixes
/// of the keyspace id and of the next id), so no region spans two
/// keyspaces.
fn split_keyspaces(shared: &ClusterState) {
    if shared.config.api_version != ApiVersion::V2 {
        return;
    }
    let ids = pd::keyspaces(&shared.config.keyspaces).len() as u32;
    let mut bounds = std::collections::BTreeSet::new();
    for id in 0..ids {
        for mode in [b'r', b'x'] {
            for edge in [id, id + 1] {
                bounds.insert(codec::encode(&codec::keyspace_prefix(mode, edge)));
            }
        }
    }
    for bound in bounds {
        // A fresh table: each bound splits the region that holds it.
        let _ = split::split_at(shared, &bound);
    }
}

/// The TLS a server of the stand-in serves: its certificate, and with a CA
/// the requirement that every client present a certificate signed by it
/// (as TiKV's `security.ca-path`: mutual TLS).
fn server_tls(t: &Tls) -> ServerTlsConfig {
    let mut c = ServerTlsConfig::new();
    if let Some((cert, key)) = t.identity_pem() {
        c = c.identity(Identity::from_pem(cert, key));
    }
    if let Some(ca) = t.ca_pem() {
        c = c.client_ca_root(Certificate::from_pem(ca));
    }
    c
}

/// Serves store `id` (a TiKV store, or the TiFlash store) on `listener`,
/// with `server` (TLS or not).
fn serve_store(
    shared: &Arc<ClusterState>,
    id: u64,
    listener: TcpListener,
    mut server: Server,
) -> JoinHandle<()> {
    let router = if shared.tiflash_store == Some(id) {
        server.add_service(tiflash::service(shared.tiflash_calls.clone()))
    } else {
        // As TiKV (gRPC receive length unlimited): a large write reaches
        // the store, which refuses it past the raft entry limit.
        let svc = TikvServer::new(store::Store::new(id, shared.clone()))
            .max_decoding_message_size(usize::MAX);
        server.add_service(svc)
    };
    tokio::spawn(serve(router, listener, shared.shutdown_signal()))
}

/// Serves one router until the shutdown signal; the listener is dropped
/// (the port released) when this returns.
async fn serve(
    router: tonic::transport::server::Router,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    // Errors end the server; there is nobody to report them to but the log
    // of a run, which the cluster does not keep.
    let _ = router.serve_with_incoming_shutdown(incoming, signal).await;
}

/// A cluster serving on loopback. Dropping it begins shutdown; call
/// [`RunningCluster::shutdown`] to wait for it.
#[derive(Debug)]
pub struct RunningCluster {
    cluster: Cluster,
    store_addrs: Vec<(u64, SocketAddr)>,
    servers: Vec<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCluster {
    /// The injected faults' events so far (see [`Cluster::fault_events`]).
    pub fn fault_events(&self) -> (Vec<FaultEvent>, u64) {
        self.cluster.fault_events()
    }

    /// A reader of [`fault_events`](Self::fault_events) that holds the
    /// cluster's state, for the driver to call at the end of a run: each
    /// event as (instant, kind, detail).
    #[allow(clippy::type_complexity)]
    pub fn fault_log(
        &self,
    ) -> impl Fn() -> (Vec<(std::time::Instant, &'static str, String)>, u64) + Send + Sync + 'static
    {
        let shared = self.cluster.shared.clone();
        move || {
            let (events, dropped) = shared.faults.events();
            let list = events
                .iter()
                .map(|e| (e.at, e.what.kind(), e.what.detail()))
                .collect();
            (list, dropped)
        }
    }

    /// The first PD member's address (the leader's unless it moved).
    pub fn pd_addr(&self) -> SocketAddr {
        self.cluster.shared.pd_addr().expect("bound when started")
    }

    /// Every PD member's address, by member index.
    pub fn pd_addrs(&self) -> Vec<SocketAddr> {
        self.cluster.shared.pd_addrs()
    }

    /// Makes PD member `member` the leader, or none (`None`: an election
    /// under way); the others answer as followers from their next call on.
    pub fn set_pd_leader(&self, member: Option<usize>) {
        let i = member.unwrap_or(NO_PD_LEADER);
        self.cluster.shared.pd_leader.store(i, Ordering::Release);
    }

    /// The TiFlash store's id and address, if the cluster has one.
    pub fn tiflash_store(&self) -> Option<(u64, SocketAddr)> {
        let id = self.cluster.shared.tiflash_store?;
        Some((id, self.store_addr(id)?))
    }

    /// Calls the TiFlash store received (each answered UNIMPLEMENTED).
    pub fn tiflash_calls(&self) -> u64 {
        self.cluster.shared.tiflash_calls.load(Ordering::Relaxed)
    }

    /// `(store id, address)` of every store (the TiFlash store last), by
    /// store id.
    pub fn store_addrs(&self) -> Vec<(u64, SocketAddr)> {
        self.store_addrs.clone()
    }

    /// The address of store `id`.
    pub fn store_addr(&self, id: u64) -> Option<SocketAddr> {
        self.store_addrs
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, a)| *a)
    }

    /// The cluster behind the servers (services, splits, counts).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn regions(&self) -> &Arc<Regions> {
        self.cluster.regions()
    }

    pub fn storage(&self) -> &Arc<Storage> {
        self.cluster.storage()
    }

    /// See [`Cluster::split_at`].
    pub fn split_at(&self, user_key: &[u8]) -> Result<u64, SplitError> {
        self.cluster.split_at(user_key)
    }

    /// See [`Cluster::split_region`].
    pub fn split_region(&self, id: u64) -> Result<Option<u64>, SplitError> {
        self.cluster.split_region(id)
    }

    /// See [`Cluster::snapshot`].
    pub fn snapshot(&self) -> Value {
        self.cluster.snapshot()
    }

    /// True while no background task or server has ended.
    pub fn is_running(&self) -> bool {
        self.servers
            .iter()
            .chain(&self.tasks)
            .all(|h| !h.is_finished())
    }

    /// Stops every listener, stream and background task, and waits for
    /// them; connections still busy after a short grace period are dropped.
    pub async fn shutdown(mut self) {
        self.cluster.shared.shutdown.send_replace(true);
        for mut h in self.servers.drain(..).chain(self.tasks.drain(..)) {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut h).await.is_err() {
                h.abort();
                let _ = h.await;
            }
        }
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        self.cluster.shared.shutdown.send_replace(true);
    }
}

/// What the GC worker did: its life time, PD's safe point, whole passes,
/// and what the passes removed.
fn gc_snapshot(shared: &ClusterState) -> Value {
    let removed = shared.storage.stats().gc;
    json!({
        "life_time": humantime::format_duration(shared.config.gc_life_time).to_string(),
        "safe_point": shared.gc_safe_point.load(Ordering::Relaxed),
        "passes": shared.gc.passes.load(Ordering::Relaxed),
        "keys_scanned": removed.keys,
        "versions_collected": removed.versions,
        "rollbacks_collected": removed.rollbacks,
        "long_values_collected": removed.long_values,
    })
}

/// A key for JSON: printable ASCII as is, other bytes escaped.
fn show(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

fn snapshot(shared: &ClusterState) -> Value {
    let regions: Vec<Value> = shared
        .regions
        .all()
        .into_iter()
        .map(|r| {
            let decoded = |b: &[u8]| match codec::decode(b) {
                Ok((k, [])) => Value::String(show(&k)),
                _ => Value::Null,
            };
            json!({
                "id": r.id,
                "start": show(&r.start),
                "end": show(&r.end),
                "start_decoded": if r.start.is_empty() { Value::String(String::new()) } else { decoded(&r.start) },
                "end_decoded": if r.end.is_empty() { Value::String(String::new()) } else { decoded(&r.end) },
                "epoch": {"conf_ver": r.conf_ver, "version": r.version},
                "leader": r.leader,
                "peers": r.peers.iter().map(|p| if p.learner {
                    json!({"id": p.id, "store": p.store_id, "role": "learner"})
                } else {
                    json!({"id": p.id, "store": p.store_id})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let stores: Vec<Value> = shared
        .all_store_ids()
        .map(|id| {
            let mut store = json!({
                "id": id,
                "address": shared.store_addr(id).map(|a| a.to_string()),
                "state": if shared.faults.is_offline(id) { "offline" } else { "up" },
            });
            if shared.tiflash_store == Some(id) {
                store["engine"] = json!(tiflash::ENGINE_LABEL.1);
            }
            store
        })
        .collect();
    json!({
        "cluster_id": CLUSTER_ID,
        "pd": shared.pd_addr().map(|a| a.to_string()),
        "region_max_keys": shared.config.region_max_keys,
        "stores": stores,
        "regions": regions,
        "checker_splits": shared.splits.count.load(Ordering::Relaxed),
        "gc_safe_point": shared.gc_safe_point.load(Ordering::Relaxed),
        "gc": gc_snapshot(shared),
        // Plain raw writes to keys a CAS used: on TiKV each could have
        // landed between a CAS's read and its write (see docs/fidelity.md).
        "non_atomic_cas_writes": shared.storage.raw().non_atomic_cas_writes(),
        "faults": shared.faults.snapshot(),
    })
}

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
//!   point); [`store`]: the `tikvpb.Tikv` service of one store (region
//!   checks, then the raw and transactional calls onto the engine).
//! - [`regions`]: the region table PD and the stores share; `split`: the
//!   split checker and middle-key splits; [`faults`]: injected faults.
//! - [`config`]: the cluster's shape and faults (set by a workload's
//!   `cluster:` section or by the `serve` subcommand, in `cli`).

pub mod config;
pub mod faults;
pub mod pd;
pub mod regions;
mod split;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::codec;
use crate::proto::pdpb::pd_server::PdServer;
use crate::proto::tikvpb::tikv_server::TikvServer;
use crate::storage::{self, Storage};

pub use config::ClusterConfig;
pub use faults::FaultCounts;
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
    pub store_ids: Vec<u64>,
    /// PD's and the stores' listening addresses, known once started.
    addrs: RwLock<Addrs>,
    pub gc_safe_point: AtomicU64,
    pub faults: faults::FaultState,
    pub splits: split::SplitState,
    /// Flips to true once: every server, stream and task ends.
    pub shutdown: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Addrs {
    pd: Option<SocketAddr>,
    stores: HashMap<u64, SocketAddr>,
}

impl ClusterState {
    pub fn pd_addr(&self) -> Option<SocketAddr> {
        self.addrs.read().unwrap_or_else(|e| e.into_inner()).pd
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
        let shared = ClusterState {
            regions: Arc::new(Regions::new(&store_ids)),
            storage,
            faults: faults::FaultState::new(&config.faults, &store_ids, DEFAULT_SEED),
            splits: split::SplitState::default(),
            addrs: RwLock::new(Addrs::default()),
            gc_safe_point: AtomicU64::new(0),
            shutdown: watch::channel(false).0,
            store_ids,
            config,
        };
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

    /// Regions split by the split checker so far.
    pub fn checker_splits(&self) -> u64 {
        self.shared.splits.count.load(Ordering::Relaxed)
    }

    /// The cluster as JSON: regions (bounds as escaped bytes, and decoded
    /// when they are memcomparable encodings), stores, fault counts.
    pub fn snapshot(&self) -> Value {
        snapshot(&self.shared)
    }

    /// Binds PD on `pd_addr` and each store on port 0 of the same IP,
    /// serves them, and starts the split checker and the fault injector.
    pub async fn start(self, pd_addr: SocketAddr) -> std::io::Result<RunningCluster> {
        let shared = self.shared;
        let pd_listener = TcpListener::bind(pd_addr).await?;
        let pd_addr = pd_listener.local_addr()?;
        let mut listeners = Vec::new();
        for &id in &shared.store_ids {
            let l = TcpListener::bind(SocketAddr::new(pd_addr.ip(), 0)).await?;
            listeners.push((id, l.local_addr()?, l));
        }
        {
            let mut addrs = shared.addrs.write().unwrap_or_else(|e| e.into_inner());
            addrs.pd = Some(pd_addr);
            for (id, addr, _) in &listeners {
                addrs.stores.insert(*id, *addr);
            }
        }

        let mut servers = Vec::new();
        let pd = PdServer::new(pd::PdService::new(shared.clone()));
        servers.push(tokio::spawn(serve(
            Server::builder().add_service(pd),
            pd_listener,
            shared.shutdown_signal(),
        )));
        let mut store_addrs = Vec::new();
        for (id, addr, listener) in listeners {
            // As TiKV (gRPC receive length unlimited): a large write reaches
            // the store, which refuses it past the raft entry limit.
            let svc = TikvServer::new(store::Store::new(id, shared.clone()))
                .max_decoding_message_size(usize::MAX);
            servers.push(tokio::spawn(serve(
                Server::builder().add_service(svc),
                listener,
                shared.shutdown_signal(),
            )));
            store_addrs.push((id, addr));
        }

        let mut tasks = vec![tokio::spawn(split::run_checker(
            shared.clone(),
            SPLIT_CHECK_INTERVAL,
        ))];
        tasks.extend(faults::spawn(&shared));
        Ok(RunningCluster {
            cluster: Cluster { shared },
            pd_addr,
            store_addrs,
            servers,
            tasks,
        })
    }
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
    pd_addr: SocketAddr,
    store_addrs: Vec<(u64, SocketAddr)>,
    servers: Vec<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCluster {
    pub fn pd_addr(&self) -> SocketAddr {
        self.pd_addr
    }

    /// `(store id, address)`, by store id.
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
                "peers": r.peers.iter().map(|p| json!({"id": p.id, "store": p.store_id})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let stores: Vec<Value> = shared
        .store_ids
        .iter()
        .map(|&id| {
            json!({
                "id": id,
                "address": shared.store_addr(id).map(|a| a.to_string()),
                "state": if shared.faults.is_offline(id) { "offline" } else { "up" },
            })
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
        // Plain raw writes to keys a CAS used: on TiKV each could have
        // landed between a CAS's read and its write (see docs/fidelity.md).
        "non_atomic_cas_writes": shared.storage.raw().non_atomic_cas_writes(),
        "faults": shared.faults.snapshot(),
    })
}

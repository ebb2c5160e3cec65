//! [`Client`]: the client of a TiKV cluster (or the stand-in): the PD
//! client, the region cache, the store channel pools and the workload's
//! client settings, shared by every worker. Raw calls go through
//! [`Client::raw`], transactions through the [`Grpc`] transport. Under API
//! V2 the client holds its keyspace's codec, loaded from PD at connect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::ClientConfig;
use super::Error;
use super::batch::{BatchCounters, Batching};
use super::config::TransportKind;
use super::dial::Dialer;
use super::grpc::Grpc;
use super::keyspace::KeyspaceCodec;
use super::pd::PdClient;
use super::raw::RawApi;
use super::region_cache::{CachedRegion, RegionCache};
use super::request::Ctx;
use super::stores::Stores;
use crate::codec;
use crate::proto::metapb;
use crate::vocab::ApiVersion;
use crate::vocab::op::DEFAULT_KEYSPACE;
use crate::vocab::rng::{Rng, Stream};
use crate::vocab::transport::TransportStats;

/// The seed of the client's backoff jitter streams.
const JITTER_SEED: u64 = 0x7469_6b76_6a69_7474;

/// A connection to a cluster (see the module doc).
#[derive(Debug)]
pub struct Client {
    pub(crate) pd: PdClient,
    pub(crate) cache: RegionCache,
    pub(crate) stores: Stores,
    pub(crate) config: ClientConfig,
    /// What the BatchCommands streams did (`transport: batch`).
    batch_counters: Option<Arc<BatchCounters>>,
    /// The keyspace's codec (API V2 only).
    pub(crate) keyspace: Option<KeyspaceCodec>,
    jitter_streams: AtomicU64,
    /// PD's GC safe point and when it was read.
    safe_point: Mutex<(u64, Option<Instant>)>,
}

/// How long a safe point read from PD is trusted before it is read again
/// (client-go polls PD's every 10 s).
pub const SAFE_POINT_REFRESH: Duration = Duration::from_secs(10);

/// A snapshot at least this old is checked against a safe point read after
/// it was taken. TiDB's GC life time is at least 10 minutes, far beyond
/// the 10 s a cached safe point may lag; the stand-in takes life times
/// down to 1 s (`cluster::config::MIN_GC_LIFE_TIME`), so a snapshot older
/// than that may have been collected since the cache was filled.
pub const SNAPSHOT_RECHECK_AGE: Duration = Duration::from_secs(1);

impl Client {
    /// Connects to PD (the first of `pd` that answers, then its leader),
    /// loads the keyspace under API V2 (DEFAULT unless the config names
    /// one), and fills the region cache from ScanRegions, connecting to
    /// every store that leads a region. Fails when no PD endpoint answers,
    /// or when the keyspace cannot be used (see [`PdClient::load_keyspace`]).
    pub async fn connect(pd: &[String], config: ClientConfig) -> Result<Client, Error> {
        let dialer = Dialer::new(config.connect_timeout, config.tls.as_ref());
        let pd = PdClient::connect(pd, &dialer, config.request_timeout).await?;
        let keyspace = match config.api_version {
            ApiVersion::V2 => {
                let name = config.keyspace.as_deref().unwrap_or(DEFAULT_KEYSPACE);
                Some(pd.load_keyspace(name).await?)
            }
            ApiVersion::V1 | ApiVersion::V1Ttl => None,
        };
        let mut stores = Stores::new(config.pool_size, dialer);
        let mut batch_counters = None;
        if config.transport == TransportKind::Batch {
            let counters = Arc::new(BatchCounters::default());
            let batching = Batching {
                max_batch_size: config.max_batch_size as usize,
                max_batch_wait: config.max_batch_wait,
                overload_threshold: config.overload_threshold,
                open_timeout: config.connect_timeout,
            };
            stores = stores.batched(batching, counters.clone());
            batch_counters = Some(counters);
        }
        let tikv = Client {
            pd,
            cache: RegionCache::default(),
            stores,
            config,
            batch_counters,
            keyspace,
            jitter_streams: AtomicU64::new(0),
            safe_point: Mutex::new((0, None)),
        };
        // A cold cache only costs misses later: a failure here is not fatal.
        let _ = tikv.prefetch().await;
        Ok(tikv)
    }

    /// PD's GC safe point, as read at most [`SAFE_POINT_REFRESH`] ago.
    pub async fn gc_safe_point(&self) -> Result<u64, Error> {
        self.gc_safe_point_within(SAFE_POINT_REFRESH).await
    }

    /// PD's GC safe point, as read at most `fresh` ago.
    pub async fn gc_safe_point_within(&self, fresh: Duration) -> Result<u64, Error> {
        let lock = || self.safe_point.lock().unwrap_or_else(|p| p.into_inner());
        if let (sp, Some(at)) = *lock()
            && at.elapsed() < fresh
        {
            return Ok(sp);
        }
        let sp = self.pd.gc_safe_point().await?;
        *lock() = (sp, Some(Instant::now()));
        Ok(sp)
    }

    /// Connects to every TiKV store PD lists as up (never to a TiFlash
    /// store), and reads every region with a known leader from PD into the
    /// cache (as client-go's batch loads leave out regions with none);
    /// returns how many regions.
    pub async fn prefetch(&self) -> Result<usize, Error> {
        for store in self.pd.get_all_stores().await? {
            self.stores.describe(&store);
            if store.state == metapb::StoreState::Up as i32 && !self.stores.is_tiflash(store.id) {
                // A store that cannot be reached now is tried again when
                // a request needs it.
                let _ = self.stores.connect_at(store.id, &store.address).await;
            }
        }
        let regions = self.pd.all_regions().await?;
        let mut n = 0;
        for info in regions {
            let Some(leader) = &info.leader else {
                continue;
            };
            let Some(region) = CachedRegion::new(&info.region, Some(leader), &self.stores) else {
                continue;
            };
            let conn = self.stores.connect(&self.pd, region.leader.1).await.ok();
            n += usize::from(self.cache.insert(region, conn));
        }
        Ok(n)
    }

    pub fn pd(&self) -> &PdClient {
        &self.pd
    }

    pub fn cache(&self) -> &RegionCache {
        &self.cache
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// What the BatchCommands transport did so far (`transport: batch`;
    /// `None` for unary).
    pub fn transport_stats(&self) -> Option<TransportStats> {
        self.batch_counters.as_ref().map(|c| c.stats())
    }

    /// The keyspace's codec (API V2), as PD described the keyspace.
    pub fn keyspace(&self) -> Option<&KeyspaceCodec> {
        self.keyspace.as_ref()
    }

    /// The raw API.
    pub fn raw(&self) -> RawApi<'_> {
        RawApi::new(self)
    }

    /// The transaction protocol's transport for one op.
    pub fn transport<'a>(&'a self, cx: Ctx<'a>) -> Grpc<'a> {
        Grpc::new(self, cx)
    }

    /// A jitter stream for one request's backoffs (taken only on a retry).
    pub(crate) fn jitter_rng(&self) -> Rng {
        Stream::ClientJitter(self.jitter_streams.fetch_add(1, Ordering::Relaxed)).rng(JITTER_SEED)
    }

    /// The cluster as PD describes it: regions (bounds escaped, and decoded
    /// where they are memcomparable encodings), stores, and what this
    /// client did with PD.
    pub async fn snapshot(&self) -> Result<Value, Error> {
        let regions = self.pd.all_regions().await?;
        let stores = self.pd.get_all_stores().await?;
        let show = |b: &[u8]| Value::String(b.escape_ascii().to_string());
        let decoded = |b: &[u8]| match codec::decode(b) {
            _ if b.is_empty() => Value::String(String::new()),
            Ok((k, [])) => show(&k),
            _ => Value::Null,
        };
        let regions: Vec<Value> = regions
            .iter()
            .map(|info| {
                let r = &info.region;
                let epoch = r.region_epoch.unwrap_or_default();
                json!({
                    "id": r.id,
                    "start": show(&r.start_key),
                    "end": show(&r.end_key),
                    "start_decoded": decoded(&r.start_key),
                    "end_decoded": decoded(&r.end_key),
                    "epoch": {"conf_ver": epoch.conf_ver, "version": epoch.version},
                    "leader": info.leader.as_ref().map(|p| p.store_id),
                    "peers": r.peers.iter().map(|p| json!({"id": p.id, "store": p.store_id})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let stores: Vec<Value> = stores
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "address": s.address,
                    "state": metapb::StoreState::try_from(s.state)
                        .map_or("unknown", |st| st.as_str_name()),
                    "version": s.version,
                })
            })
            .collect();
        let c = self.pd.counters();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Ok(json!({
            "cluster_id": self.pd.cluster_id(),
            "pd": self.pd.leader_url(),
            "stores": stores,
            "regions": regions,
            "client": {
                "cached_regions": self.cache.len(),
                "connected_stores": self.stores.list().iter().map(|(id, addr, n)| json!({"id": id, "address": addr, "channels": n})).collect::<Vec<_>>(),
                "pd_region_requests": load(&c.region_requests),
                "pd_store_requests": load(&c.store_requests),
                "tso_rpcs": load(&c.tso_rpcs),
                "timestamps": load(&c.timestamps),
                "tso_streams": load(&c.tso_streams),
                "pd_reconnects": load(&c.reconnects),
            },
        }))
    }
}

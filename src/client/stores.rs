//! Connections to the stores: `pool_size` gRPC channels per store, each its
//! own HTTP/2 connection (one `Endpoint::connect` each), handed out
//! round-robin by an atomic counter. A tonic channel is served by one
//! connection task, which caps one channel's throughput, so the pool size is
//! a first-order knob.
//!
//! Store addresses come from PD (GetStore) the first time a store is
//! needed. A channel whose connection breaks reconnects by itself on its
//! next request; a store that cannot be reached at all is not kept, so the
//! next request tries again.
//!
//! Under `transport: batch` each channel also carries one BatchCommands
//! stream ([`BatchStream`]), opened on first use; a store's streams share
//! its last reported load.
//!
//! A TiFlash store (PD labels it `engine=tiflash`, or `tiflash_compute`)
//! serves no KV call, so, as client-go (`internal/locate/region_cache.go`:
//! a store's type from its labels, `tikvrpc.GetStoreTypeByMeta`; TiFlash
//! peers are kept out of the TiKV peers a request may go to), no channel is
//! ever opened to one: the stores PD describes are remembered by kind, and
//! connecting to a TiFlash store is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use tonic::transport::Channel;

use super::Error;
use super::batch::{BatchCounters, BatchStream, Batching, StoreBatching};
use super::dial::Dialer;
use super::join::join_all;
use super::pd::PdClient;
use crate::proto::metapb;
use crate::proto::tikvpb::tikv_client::TikvClient;
use crate::vocab::ErrorKind;

/// Responses may be large (scans, batch gets).
const MAX_MESSAGE: usize = 256 << 20;

/// The channels to one store.
#[derive(Debug)]
pub struct StoreConn {
    pub id: u64,
    /// `host:port`.
    pub addr: String,
    clients: Box<[TikvClient<Channel>]>,
    /// One BatchCommands stream per channel (`transport: batch`), else
    /// empty.
    streams: Box<[BatchStream]>,
    next: AtomicUsize,
}

impl StoreConn {
    /// The next channel, round-robin.
    #[inline]
    pub fn client(&self) -> TikvClient<Channel> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        self.clients[i].clone()
    }

    /// The next channel's BatchCommands stream, round-robin, under
    /// `transport: batch`.
    #[inline]
    pub(crate) fn stream(&self) -> Option<BatchStream> {
        if self.streams.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.streams.len();
        Some(self.streams[i].clone())
    }

    /// Channels in the pool.
    pub fn pool_size(&self) -> usize {
        self.clients.len()
    }
}

/// The label key PD gives a store's engine, and the values that make it a
/// TiFlash store (client-go's `tikvrpc.EngineLabelKey`,
/// `EngineLabelTiFlash`, `EngineLabelTiFlashCompute`).
const ENGINE_LABEL: &str = "engine";
const TIFLASH_ENGINES: [&str; 2] = ["tiflash", "tiflash_compute"];

/// Whether PD's description of a store makes it a TiFlash store.
pub fn is_tiflash(store: &metapb::Store) -> bool {
    store
        .labels
        .iter()
        .any(|l| l.key == ENGINE_LABEL && TIFLASH_ENGINES.contains(&l.value.as_str()))
}

/// Every store connected so far, by id, and the TiFlash stores met.
#[derive(Debug)]
pub struct Stores {
    map: RwLock<HashMap<u64, Arc<StoreConn>>>,
    /// The stores PD described: whether each is a TiFlash store.
    described: RwLock<HashMap<u64, bool>>,
    pool_size: usize,
    dialer: Dialer,
    /// How BatchCommands streams batch, under `transport: batch`.
    batching: Option<(Batching, Arc<BatchCounters>)>,
}

fn unavailable(message: String) -> Error {
    Error::Rpc {
        kind: ErrorKind::Unavailable,
        message,
        undetermined: false,
    }
}

/// Opens `n` separate connections to `addr`, through `dialer`.
pub async fn connect_pool(
    addr: &str,
    n: usize,
    dialer: &Dialer,
) -> Result<Vec<TikvClient<Channel>>, Error> {
    let url = dialer.url(addr);
    let ep = dialer
        .endpoint(&url)
        .map_err(|e| unavailable(format!("store address '{addr}' is not valid: {e}")))?;
    let tries = (0..n.max(1)).map(|_| dialer.connect_endpoint(&url, &ep));
    let mut clients = Vec::with_capacity(n);
    for r in join_all(tries.collect()).await {
        let ch = r.map_err(|e| unavailable(format!("store {e}")))?;
        clients.push(
            TikvClient::new(ch)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        );
    }
    Ok(clients)
}

impl Stores {
    pub fn new(pool_size: u32, dialer: Dialer) -> Stores {
        Stores {
            map: RwLock::new(HashMap::new()),
            described: RwLock::new(HashMap::new()),
            pool_size: pool_size.max(1) as usize,
            dialer,
            batching: None,
        }
    }

    /// The same, each channel carrying a BatchCommands stream that batches
    /// as `batching` says and counts into `counters`.
    pub(crate) fn batched(self, batching: Batching, counters: Arc<BatchCounters>) -> Stores {
        Stores {
            batching: Some((batching, counters)),
            ..self
        }
    }

    /// The store if it is connected.
    pub fn get(&self, id: u64) -> Option<Arc<StoreConn>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Notes what PD says of a store (whether it is a TiFlash store).
    pub fn describe(&self, store: &metapb::Store) {
        let mut described = self.described.write().unwrap_or_else(|e| e.into_inner());
        described.insert(store.id, is_tiflash(store));
    }

    /// Whether PD described store `id` as a TiFlash store (false for a
    /// store not described yet).
    pub fn is_tiflash(&self, id: u64) -> bool {
        let described = self.described.read().unwrap_or_else(|e| e.into_inner());
        described.get(&id) == Some(&true)
    }

    /// Asks PD about each of `ids` not described yet (GetStore).
    pub async fn describe_all(&self, pd: &PdClient, ids: &[u64]) -> Result<(), Error> {
        for &id in ids {
            let known = {
                let described = self.described.read().unwrap_or_else(|e| e.into_inner());
                described.contains_key(&id)
            };
            if !known {
                self.describe(&pd.get_store(id).await?);
            }
        }
        Ok(())
    }

    /// The store, connecting to it (address from PD) if need be.
    pub async fn connect(&self, pd: &PdClient, id: u64) -> Result<Arc<StoreConn>, Error> {
        if let Some(s) = self.get(id) {
            return Ok(s);
        }
        let store = pd.get_store(id).await?;
        self.describe(&store);
        self.connect_at(id, &store.address).await
    }

    /// Store `id` at `addr` (as PD lists it), connecting if need be;
    /// refused for a TiFlash store.
    pub async fn connect_at(&self, id: u64, addr: &str) -> Result<Arc<StoreConn>, Error> {
        if let Some(s) = self.get(id) {
            return Ok(s);
        }
        if self.is_tiflash(id) {
            return Err(Error::Rpc {
                kind: ErrorKind::Other,
                message: format!("store {id} is a TiFlash store: no KV request goes there"),
                undetermined: false,
            });
        }
        if addr.is_empty() {
            return Err(unavailable(format!("PD has no address for store {id}")));
        }
        let clients = connect_pool(addr, self.pool_size, &self.dialer).await?;
        let streams = match &self.batching {
            None => Vec::new(),
            Some((batching, counters)) => {
                let shared = Arc::new(StoreBatching::new(*batching, counters.clone()));
                let stream = |c: &TikvClient<Channel>| BatchStream::new(c.clone(), shared.clone());
                clients.iter().map(stream).collect()
            }
        };
        let conn = Arc::new(StoreConn {
            id,
            addr: addr.to_string(),
            clients: clients.into_boxed_slice(),
            streams: streams.into_boxed_slice(),
            next: AtomicUsize::new(0),
        });
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        // Another task may have connected meanwhile: keep the first.
        Ok(map.entry(id).or_insert(conn).clone())
    }

    /// Forgets a store (its address may have changed).
    pub fn forget(&self, id: u64) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Connected stores: `(id, address, channels)`.
    pub fn list(&self) -> Vec<(u64, String, usize)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map
            .values()
            .map(|s| (s.id, s.addr.clone(), s.pool_size()))
            .collect();
        v.sort();
        v
    }
}

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

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::Error;
use super::join::join_all;
use super::pd::PdClient;
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
    next: AtomicUsize,
}

impl StoreConn {
    /// The next channel, round-robin.
    #[inline]
    pub fn client(&self) -> TikvClient<Channel> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        self.clients[i].clone()
    }

    /// Channels in the pool.
    pub fn pool_size(&self) -> usize {
        self.clients.len()
    }
}

/// Every store connected so far, by id.
#[derive(Debug)]
pub struct Stores {
    map: RwLock<HashMap<u64, Arc<StoreConn>>>,
    pool_size: usize,
    connect_timeout: Duration,
}

fn unavailable(message: String) -> Error {
    Error::Rpc {
        kind: ErrorKind::Unavailable,
        message,
        undetermined: false,
    }
}

/// Opens `n` separate connections to `addr`.
pub async fn connect_pool(
    addr: &str,
    n: usize,
    connect_timeout: Duration,
) -> Result<Vec<TikvClient<Channel>>, Error> {
    let url = super::pd::url(addr);
    let ep = Endpoint::from_shared(url.clone())
        .map_err(|e| unavailable(format!("store address '{addr}' is not valid: {e}")))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true);
    let tries = (0..n.max(1)).map(|_| tokio::time::timeout(connect_timeout, ep.connect()));
    let mut clients = Vec::with_capacity(n);
    for r in join_all(tries.collect()).await {
        let ch = match r {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => return Err(unavailable(format!("cannot connect to store {url}: {e}"))),
            Err(_) => {
                return Err(unavailable(format!(
                    "no connection to store {url} within {}",
                    humantime::format_duration(connect_timeout)
                )));
            }
        };
        clients.push(
            TikvClient::new(ch)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        );
    }
    Ok(clients)
}

impl Stores {
    pub fn new(pool_size: u32, connect_timeout: Duration) -> Stores {
        Stores {
            map: RwLock::new(HashMap::new()),
            pool_size: pool_size.max(1) as usize,
            connect_timeout,
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

    /// The store, connecting to it (address from PD) if need be.
    pub async fn connect(&self, pd: &PdClient, id: u64) -> Result<Arc<StoreConn>, Error> {
        if let Some(s) = self.get(id) {
            return Ok(s);
        }
        let store = pd.get_store(id).await?;
        self.connect_at(id, &store.address).await
    }

    /// Store `id` at `addr` (as PD lists it), connecting if need be.
    pub async fn connect_at(&self, id: u64, addr: &str) -> Result<Arc<StoreConn>, Error> {
        if let Some(s) = self.get(id) {
            return Ok(s);
        }
        if addr.is_empty() {
            return Err(unavailable(format!("PD has no address for store {id}")));
        }
        let clients = connect_pool(addr, self.pool_size, self.connect_timeout).await?;
        let conn = Arc::new(StoreConn {
            id,
            addr: addr.to_string(),
            clients: clients.into_boxed_slice(),
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

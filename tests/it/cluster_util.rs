//! Helpers for the stand-in cluster tests: start a cluster on loopback, and
//! reach it with our generated clients or with the official `tikv-client`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tikv_bench::cluster::config::ClusterConfig;
use tikv_bench::cluster::{Cluster, Region, RunningCluster};
use tikv_bench::proto::kvrpcpb::{Context, Mutation, Op, PessimisticLockRequest};
use tikv_bench::proto::pdpb::pd_client::PdClient;
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tonic::transport::Channel;

/// A cluster config with fast test defaults: `stores` stores, splits past
/// `region_max_keys`, a short lock wait, no faults.
pub fn config(stores: u32, region_max_keys: u64) -> ClusterConfig {
    ClusterConfig {
        stores,
        region_max_keys,
        lock_wait_timeout: Duration::from_millis(500),
        tiflash: false,
        ..ClusterConfig::default()
    }
}

/// Starts `config` on 127.0.0.1 (PD and stores on free ports).
pub async fn start(config: ClusterConfig) -> RunningCluster {
    Cluster::new(config)
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the stand-in starts")
}

pub fn endpoint(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Our generated client of one store.
pub async fn store_client(addr: SocketAddr) -> TikvClient<Channel> {
    TikvClient::connect(endpoint(addr))
        .await
        .expect("store reachable")
}

/// Our generated client of PD.
pub async fn pd_client(addr: SocketAddr) -> PdClient<Channel> {
    PdClient::connect(endpoint(addr))
        .await
        .expect("PD reachable")
}

/// The client of the store leading `region`.
pub async fn leader_client(c: &RunningCluster, region: &Region) -> TikvClient<Channel> {
    store_client(c.store_addr(region.leader).expect("leader store")).await
}

/// A request context aimed at `region`'s leader with its current epoch.
pub fn ctx(region: &Region) -> Option<Context> {
    ctx_at(region, region.leader)
}

/// A request context for `region` as if sent to `store`.
pub fn ctx_at(region: &Region, store: u64) -> Option<Context> {
    Some(region.context_at(store))
}

/// The official raw client, connected to the stand-in's PD.
pub async fn official_raw(c: &RunningCluster) -> tikv_client::RawClient {
    tikv_client::RawClient::new(vec![c.pd_addr().to_string()])
        .await
        .expect("official raw client connects")
}

/// The official transactional client, connected to the stand-in's PD.
pub async fn official_txn(c: &RunningCluster) -> tikv_client::TransactionClient {
    tikv_client::TransactionClient::new(vec![c.pd_addr().to_string()])
        .await
        .expect("official transaction client connects")
}

/// Waits (polling) until `cond` holds, or panics after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Takes a pessimistic lock on `key` straight in `c`'s engine, held for
/// `ttl_ms` or until rolled back; returns the holder's start_ts.
pub async fn hold_lock(c: &RunningCluster, key: &[u8], ttl_ms: u64) -> u64 {
    let s = c.storage();
    let holder = s.timestamp();
    let held = s
        .pessimistic_lock(&tikv_bench::storage::PessimisticLockRequest {
            keys: vec![key.to_vec()],
            primary_lock: key.to_vec(),
            start_version: holder,
            lock_ttl: ttl_ms,
            for_update_ts: holder,
            wait_timeout: -1,
            ..Default::default()
        })
        .await;
    assert!(held.result.is_ok(), "the lock on {key:?} is taken");
    holder
}

/// A KvPessimisticLock of `key` alone, with `key` as primary, by
/// transaction `ts` (for_update_ts = start_ts, lock TTL 3 s), waiting up to
/// `wait_timeout` ms (0: the store's default).
pub fn lock_request(
    context: Option<Context>,
    key: &[u8],
    ts: u64,
    wait_timeout: i64,
) -> PessimisticLockRequest {
    PessimisticLockRequest {
        context,
        mutations: vec![Mutation {
            op: Op::PessimisticLock as i32,
            key: key.to_vec(),
            ..Default::default()
        }],
        primary_lock: key.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        for_update_ts: ts,
        wait_timeout,
        ..Default::default()
    }
}

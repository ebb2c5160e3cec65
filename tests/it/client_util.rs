//! Helpers for the client tests: a stand-in cluster with fast settings and
//! optional churn, our client connected to it, and per-op contexts.

#![allow(dead_code)]

use std::time::Duration;

use tikv_bench::backend::{TargetInfo, TikvBackend};

use tikv_bench::client::{Client, Ctx, RequestStats};
use tikv_bench::cluster::RunningCluster;
use tikv_bench::cluster::config::{ClusterConfig, Faults, Outage};
use tikv_bench::vocab::Events;

pub use crate::cluster_util::{config, start};
use tikv_bench::vocab::{Jitter, RetryPolicy};
use tikv_bench::workload::ClientConfig;

/// The faults the workload tests run under: splits and leader transfers
/// every few hundred ms, store 2 offline for a second from `outage_at`,
/// and 2% of requests answered ServerIsBusy.
pub fn faults(outage_at: Duration) -> Faults {
    Faults {
        split_every: Some(Duration::from_millis(300)),
        transfer_leader_every: Some(Duration::from_millis(250)),
        store_offline: Some(Outage {
            store: 2,
            after: outage_at,
            duration: Duration::from_secs(1),
            failover: Outage::DEFAULT_FAILOVER,
        }),
        busy: 0.02,
        ..Faults::default()
    }
}

/// `config` with a split every 40 ms and a leader transfer every 25 ms.
pub fn churning(mut config: ClusterConfig) -> ClusterConfig {
    config.faults.split_every = Some(Duration::from_millis(40));
    config.faults.transfer_leader_every = Some(Duration::from_millis(25));
    config
}

/// Client settings for tests: two channels per store, short timeouts, a
/// generous retry policy.
pub fn client_config() -> ClientConfig {
    ClientConfig {
        pool_size: 2,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(1),
            multiplier: 2.0,
            max_delay: Duration::from_millis(50),
            jitter: Jitter::Full,
            budget: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        ..ClientConfig::default()
    }
}

/// Our client, connected to `c`'s PD.
pub async fn connect(c: &RunningCluster) -> Client {
    Client::connect(&[c.pd_addr().to_string()], client_config())
        .await
        .expect("our client connects")
}

/// Our client in atomic mode (every raw write with `for_cas`), as CAS
/// needs.
pub async fn connect_atomic(c: &RunningCluster) -> Client {
    let config = ClientConfig {
        atomic: true,
        ..client_config()
    };
    Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .expect("our client connects")
}

/// `w`'s embedded cluster (its `cluster:` section and seed), started on
/// loopback.
pub async fn embedded(w: &tikv_bench::workload::Workload) -> RunningCluster {
    tikv_bench::cluster::Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the stand-in starts")
}

/// Our backend, connected to `c`'s PD with the workload's client settings.
pub async fn backend(c: &RunningCluster, client: &ClientConfig) -> TikvBackend {
    let target = TargetInfo {
        kind: "embedded".into(),
        description: "test stand-in".into(),
    };
    TikvBackend::connect(&[c.pd_addr().to_string()], client, target)
        .await
        .expect("our backend connects")
}

/// A context for one op of a test, with a 5 s deadline.
pub fn cx(stats: &RequestStats, mutates: bool) -> Ctx<'_> {
    Ctx::new(stats, Duration::from_secs(5), mutates)
}

/// The events `stats` counted.
pub fn events(stats: &RequestStats) -> Events {
    let mut e = Events::default();
    stats.flush(&mut e);
    e
}

/// An address on 127.0.0.1 that nothing listens on (bound, then closed).
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

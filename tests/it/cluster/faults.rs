//! The injected faults (ServerIsBusy, an outage window and its failover,
//! latency) and a clean shutdown. Over sockets the tests run in real time
//! (tokio's paused clock would jump past every wait while a socket is
//! idle); without sockets, on the paused clock.

use std::time::{Duration, Instant};

use tikv_bench::cluster::config::Outage;
use tonic::Code;

use super::{raw_get, send_raw_get};
use crate::cluster_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_probability_one_answers_every_request_server_is_busy() {
    let mut cfg = config(3, 1_000_000);
    cfg.faults.busy = 1.0;
    cfg.faults.busy_backoff = Duration::from_millis(25);
    let c = start(cfg).await;
    let region = c.regions().locate(b"");
    for _ in 0..20 {
        let resp = send_raw_get(&c, region.leader, raw_get(&region, b"k"))
            .await
            .unwrap();
        let busy = resp.region_error.unwrap().server_is_busy.unwrap();
        assert!(!busy.reason.is_empty());
        assert_eq!(busy.backoff_ms, 25, "the hint configured");
    }
    assert_eq!(c.cluster().fault_counts().busy_answers, 20);
    assert_eq!(c.snapshot()["faults"]["counts"]["busy_answers"], 20);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_store_answers_unavailable_in_its_window_then_serves_again() {
    let mut cfg = config(3, 1_000_000);
    cfg.faults.store_offline = Some(Outage {
        store: 1,
        after: Duration::from_millis(300),
        duration: Duration::from_millis(500),
        failover: Duration::from_secs(60),
    });
    let c = start(cfg).await;
    let region = c.regions().locate(b"");
    assert_eq!(region.leader, 1);
    let mut client = store_client(c.store_addr(1).unwrap()).await;
    let began = Instant::now();
    assert!(client.raw_get(raw_get(&region, b"k")).await.is_ok());
    let mut seen = Vec::new();
    while began.elapsed() < Duration::from_millis(1200) {
        let r = client.raw_get(raw_get(&region, b"k")).await;
        let state = match r {
            Ok(_) => "ok",
            Err(s) => {
                assert_eq!(s.code(), Code::Unavailable, "{s}");
                "unavailable"
            }
        };
        if seen.last() != Some(&state) {
            seen.push(state);
            if state == "unavailable" {
                let at = began.elapsed();
                assert!(at >= Duration::from_millis(250), "offline early: {at:?}");
                assert_eq!(c.snapshot()["stores"][0]["state"], "offline");
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["ok", "unavailable", "ok"]);
    let counts = c.cluster().fault_counts();
    assert_eq!(counts.outages, 1);
    assert!(counts.unavailable_answers > 0);
    assert_eq!(counts.failover_moves, 0, "failover after the window");
    assert_eq!(c.snapshot()["stores"][0]["state"], "up");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_leaderships_over_to_live_stores() {
    let mut cfg = config(3, 1_000_000);
    cfg.faults.store_offline = Some(Outage {
        store: 1,
        after: Duration::from_millis(50),
        duration: Duration::from_secs(30),
        failover: Duration::from_millis(100),
    });
    let c = start(cfg).await;
    for k in [b"g", b"p"] {
        c.split_at(k).unwrap();
    }
    assert!(c.regions().all().iter().any(|r| r.leader == 1));
    let regions = c.regions().clone();
    eventually(
        Duration::from_secs(3),
        "leaderships to leave store 1",
        || regions.all().iter().all(|r| r.leader != 1),
    )
    .await;
    // Regions split off later are not led by the failed store either.
    c.split_at(b"c").unwrap();
    c.split_at(b"x").unwrap();
    assert!(c.regions().all().iter().all(|r| r.leader != 1));
    assert!(c.cluster().fault_counts().failover_moves >= 1);
    // And a client routed by PD reaches a live leader.
    let raw = official_raw(&c).await;
    raw.put(b"k".to_vec(), b"v".to_vec()).await.unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_added_to_every_store_request() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.latency = tikv_bench::cluster::config::Latency::same(Duration::from_millis(60));
    let c = start(cfg).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    for _ in 0..3 {
        let began = Instant::now();
        client.raw_get(raw_get(&region, b"k")).await.unwrap();
        assert!(began.elapsed() >= Duration::from_millis(60));
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_the_ports_and_stops_the_background_tasks() {
    let mut cfg = config(3, 10);
    cfg.faults.split_every = Some(Duration::from_millis(5));
    cfg.faults.transfer_leader_every = Some(Duration::from_millis(5));
    let c = start(cfg).await;
    let raw = official_raw(&c).await;
    raw.put(b"k".to_vec(), b"v".to_vec()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.is_running());
    let pd = c.pd_addr();
    let stores = c.store_addrs();
    let regions = c.regions().clone();
    let storage = c.storage().clone();
    let began = Instant::now();
    c.shutdown().await;
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        began.elapsed()
    );
    std::net::TcpListener::bind(pd).expect("PD's port is free again");
    for (_, addr) in stores {
        std::net::TcpListener::bind(addr).expect("a store's port is free again");
    }
    // Nothing moves any more: no split, no transfer.
    let before: Vec<(u64, u64)> = regions.all().iter().map(|r| (r.id, r.leader)).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after: Vec<(u64, u64)> = regions.all().iter().map(|r| (r.id, r.leader)).collect();
    assert_eq!(before, after);
    assert_eq!(storage.raw().get(b"k"), Some(b"v".to_vec()));
}

/// Which of `n` RawGets a fresh cluster seeded `seed` answers busy, called
/// without sockets.
async fn busy_pattern(seed: u64, n: usize) -> Vec<bool> {
    use tikv_bench::proto::tikvpb::tikv_server::Tikv as _;
    let mut cfg = config(1, 1_000_000);
    cfg.faults.busy = 0.5;
    let cluster = tikv_bench::cluster::Cluster::new(cfg).with_seed(seed);
    let region = cluster.regions().locate(b"");
    let store = cluster.store_service(region.leader).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let resp = store
            .raw_get(tonic::Request::new(raw_get(&region, b"k")))
            .await
            .unwrap()
            .into_inner();
        out.push(
            resp.region_error
                .is_some_and(|e| e.server_is_busy.is_some()),
        );
    }
    out
}

#[tokio::test]
async fn busy_answers_follow_the_seed() {
    let a = busy_pattern(7, 64).await;
    assert_eq!(a, busy_pattern(7, 64).await, "same seed, same answers");
    assert_ne!(a, busy_pattern(8, 64).await);
    let busy = a.iter().filter(|&&b| b).count();
    assert!((16..=48).contains(&busy), "{busy} of 64 at p = 0.5");
}

#[tokio::test(start_paused = true)]
async fn latency_is_exact_on_the_paused_clock() {
    use tikv_bench::proto::tikvpb::tikv_server::Tikv as _;
    let mut cfg = config(1, 1_000_000);
    cfg.faults.latency = tikv_bench::cluster::config::Latency::same(Duration::from_millis(50));
    let cluster = tikv_bench::cluster::Cluster::new(cfg);
    let region = cluster.regions().locate(b"");
    let store = cluster.store_service(region.leader).unwrap();
    let began = tokio::time::Instant::now();
    store
        .raw_get(tonic::Request::new(raw_get(&region, b"k")))
        .await
        .unwrap();
    assert_eq!(began.elapsed(), Duration::from_millis(50));
}

/// The cost model: each request waits its cost class's latency, reads the
/// read latency, Raft writes (as TiKV routes them) the write latency.
#[tokio::test(start_paused = true)]
async fn each_request_waits_the_latency_of_its_read_or_write_cost() {
    use tikv_bench::cluster::config::Latency;
    use tikv_bench::proto::kvrpcpb as kv;
    use tikv_bench::proto::tikvpb::tikv_server::Tikv as _;
    use tonic::Request;
    let (read, write) = (Duration::from_millis(10), Duration::from_millis(70));
    let mut cfg = config(1, 1_000_000);
    cfg.faults.latency = Latency {
        read,
        write,
        store: None,
    };
    let cluster = tikv_bench::cluster::Cluster::new(cfg);
    let region = cluster.regions().locate(b"");
    let s = cluster.store_service(region.leader).unwrap();
    let context = ctx(&region);
    let key = b"k".to_vec();
    macro_rules! timed {
        ($call:expr) => {{
            let began = tokio::time::Instant::now();
            $call.await.unwrap();
            began.elapsed()
        }};
    }
    let raw_put = kv::RawPutRequest {
        context: context.clone(),
        key: key.clone(),
        value: b"v".to_vec(),
        ..Default::default()
    };
    assert_eq!(timed!(s.raw_put(Request::new(raw_put))), write, "raw put");
    assert_eq!(
        timed!(s.raw_get(Request::new(raw_get(&region, b"k")))),
        read,
        "raw get"
    );
    let get = kv::GetRequest {
        context: context.clone(),
        key: key.clone(),
        version: 10,
    };
    assert_eq!(timed!(s.kv_get(Request::new(get))), read, "kv get");
    let lock = lock_request(context.clone(), &key, 10, 0);
    assert_eq!(
        timed!(s.kv_pessimistic_lock(Request::new(lock))),
        write,
        "pessimistic lock"
    );
    let status = kv::CheckTxnStatusRequest {
        context,
        primary_key: key,
        lock_ts: 10,
        caller_start_ts: 11,
        current_ts: 11,
        ..Default::default()
    };
    assert_eq!(
        timed!(s.kv_check_txn_status(Request::new(status))),
        write,
        "check txn status"
    );
}

/// The latency fault at one store: requests to it wait, requests to the
/// others do not.
#[tokio::test(start_paused = true)]
async fn a_latency_fault_at_one_store_slows_that_store_only() {
    use tikv_bench::cluster::config::Latency;
    use tikv_bench::proto::tikvpb::tikv_server::Tikv as _;
    let slow = Duration::from_millis(40);
    let mut cfg = config(3, 1_000_000);
    cfg.faults.latency = Latency {
        read: slow,
        write: Duration::ZERO,
        store: Some(2),
    };
    let cluster = tikv_bench::cluster::Cluster::new(cfg);
    let region = cluster.regions().locate(b"");
    for id in [1u64, 2, 3] {
        // Each store answers (a not-leader error from a follower is an
        // answer too): only store 2 makes the request wait.
        let s = cluster.store_service(id).unwrap();
        let began = tokio::time::Instant::now();
        s.raw_get(tonic::Request::new(raw_get(&region, b"k")))
            .await
            .unwrap();
        let expect = if id == 2 { slow } else { Duration::ZERO };
        assert_eq!(began.elapsed(), expect, "store {id}");
    }
}

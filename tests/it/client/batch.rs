//! Our client with `transport: batch` against the stand-in's BatchCommands
//! service: raw calls and a transaction end to end with the transport
//! counted, answers that come back out of order reach their own callers,
//! and a stream cut with writes in flight leaves them undetermined, then
//! the client reconnects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tikv_bench::client::config::TransportKind;
use tikv_bench::client::{Client, RequestStats, Txn, TxnOptions};
use tikv_bench::cluster::config::{Latency, Outage};

use tikv_bench::vocab::{Events, LockMode};
use tikv_bench::workload::ClientConfig;

use crate::client_util::*;
use crate::cluster_util::hold_lock;

fn batched(pool_size: u32) -> ClientConfig {
    ClientConfig {
        transport: TransportKind::Batch,
        pool_size,
        ..client_config()
    }
}

async fn connect_batched(c: &tikv_bench::cluster::RunningCluster, pool: u32) -> Arc<Client> {
    let tikv = Client::connect(&[c.pd_addr().to_string()], batched(pool))
        .await
        .expect("our client connects");
    Arc::new(tikv)
}

fn key(i: usize) -> Vec<u8> {
    format!("b{i:04}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value of {i}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_calls_and_a_transaction_go_through_batch_commands() {
    let c = start(churning(config(3, 200))).await;
    let tikv = connect_batched(&c, 2).await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let tikv = tikv.clone();
        tasks.push(tokio::spawn(async move {
            let s = RequestStats::default();
            let raw = tikv.raw();
            for i in (t..400).step_by(16) {
                raw.put(&cx(&s, true), &key(i), &value(i), None)
                    .await
                    .unwrap();
            }
            for i in (t..400).step_by(16) {
                let got = raw.get(&cx(&s, false), &key(i)).await.unwrap();
                assert_eq!(got, Some(value(i)), "key {i}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = RequestStats::default();
    let all = tikv
        .raw()
        .scan(&cx(&s, false), &key(0), &key(400), 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 400);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, (k, v))| (k, v) == (&key(i), &value(i)))
    );

    let t = tikv.transport(cx(&s, true));
    let mut ev = Events::default();
    let mut txn = Txn::begin(&t, LockMode::Pessimistic, TxnOptions::default())
        .await
        .unwrap();
    assert_eq!(txn.get_for_update(b"t1", &mut ev).await.unwrap(), None);
    txn.put(b"t1", b"one");
    txn.put(b"t2", b"two");
    txn.commit(&mut ev).await.unwrap();
    let mut read = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    assert_eq!(
        read.get(b"t2", &mut ev).await.unwrap(),
        Some(b"two".to_vec())
    );

    let stats = tikv.transport_stats().expect("the batch transport counts");
    assert_eq!(stats.kind, "batch");
    assert!(
        stats.requests > stats.messages && stats.messages > 0,
        "concurrent requests share messages: {stats:?}"
    );
    assert!(stats.batch_sizes.iter().any(|b| b.max > 1), "{stats:?}");
    assert_eq!(stats.broken_requests, 0, "{stats:?}");
    c.shutdown().await;
}

/// One stream (one store, one channel): a pessimistic lock waiting on a
/// held lock is answered after gets sent behind it on the same stream,
/// and every answer reaches the caller that asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_out_of_order_reach_their_own_callers() {
    let c = start(config(1, 1_000_000)).await;
    let tikv = connect_batched(&c, 1).await;
    let s = RequestStats::default();
    for i in 0..20 {
        tikv.raw()
            .put(&cx(&s, true), &key(i), &value(i), None)
            .await
            .unwrap();
    }
    let store = c.storage().clone();
    let holder = hold_lock(&c, b"locked", 20_000).await;

    let waiter = tikv.clone();
    let began = Instant::now();
    let lock = tokio::spawn(async move {
        let s = RequestStats::default();
        let t = waiter.transport(cx(&s, true));
        let mut ev = Events::default();
        let opts = TxnOptions {
            wait_timeout: 5_000,
            ..TxnOptions::default()
        };
        let mut txn = Txn::begin(&t, LockMode::Pessimistic, opts).await.unwrap();
        let got = txn.get_for_update(b"locked", &mut ev).await;
        let _ = txn.rollback(&mut ev).await;
        (got, began.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut gets = Vec::new();
    for i in 0..20 {
        let tikv = tikv.clone();
        gets.push(tokio::spawn(async move {
            let s = RequestStats::default();
            let got = tikv.raw().get(&cx(&s, false), &key(i)).await.unwrap();
            (i, got)
        }));
    }
    for g in gets {
        let (i, got) = g.await.unwrap();
        assert_eq!(got, Some(value(i)), "get {i} has its own value");
    }
    let gets_done = began.elapsed();
    assert!(!lock.is_finished(), "the lock still waits");
    tokio::time::sleep(Duration::from_millis(300)).await;
    store
        .pessimistic_rollback(&[b"locked".to_vec()], holder, holder)
        .unwrap();
    let (got, lock_done) = lock.await.unwrap();
    assert_eq!(got.unwrap(), None, "the lock is taken once released");
    assert!(lock_done > gets_done, "{lock_done:?} vs {gets_done:?}");
    let stats = tikv.transport_stats().unwrap();
    assert_eq!(stats.streams_opened, 1, "{stats:?}");
    c.shutdown().await;
}

/// The store goes offline while puts wait in its (slow) stream: the stand-in
/// applies them but ends the stream with their answers unsent, so the puts
/// are undetermined (neither failed nor acknowledged), a get cut with them
/// is retried, and once the store is back the client opens a new stream
/// and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_batch_leaves_writes_undetermined_then_reconnects() {
    let mut cfg = config(1, 1_000_000);
    // Every store request takes 800 ms: the puts sent at once are still in
    // flight when the store goes offline at 400 ms.
    cfg.faults.latency = Latency::same(Duration::from_millis(800));
    cfg.faults.store_offline = Some(Outage {
        store: 1,
        after: Duration::from_millis(400),
        duration: Duration::from_millis(1000),
        failover: Duration::from_secs(60),
    });
    let c = start(cfg).await;
    let mut config = batched(1);
    config.retry.max_attempts = 500;
    let tikv = Arc::new(
        Client::connect(&[c.pd_addr().to_string()], config)
            .await
            .unwrap(),
    );
    let mut puts = Vec::new();
    for i in 0..8 {
        let tikv = tikv.clone();
        puts.push(tokio::spawn(async move {
            let s = RequestStats::default();
            tikv.raw()
                .put(&cx(&s, true), &key(i), &value(i), None)
                .await
        }));
    }
    let reader = tikv.clone();
    let get = tokio::spawn(async move {
        let s = RequestStats::default();
        reader.raw().get(&cx(&s, false), b"never").await
    });
    for p in puts {
        let err = p.await.unwrap().expect_err("the stream broke under it");
        assert!(err.undetermined(), "{err}");
    }
    assert!(c.cluster().fault_counts().outages == 1);
    let got = get.await.unwrap().expect("a read is retried");
    assert_eq!(got, None);
    let s = RequestStats::default();
    tikv.raw()
        .put(&cx(&s, true), b"after", b"w", None)
        .await
        .expect("a new stream once the store is back");
    let stats = tikv.transport_stats().unwrap();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert!(stats.broken_requests >= 8, "{stats:?}");
    c.shutdown().await;
}

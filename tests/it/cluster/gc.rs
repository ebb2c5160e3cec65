//! The GC worker of the stand-in: it advances PD's safe point and collects
//! old versions while the cluster serves; a transaction whose start_ts the
//! safe point passed gets `gc_too_early` from our client.

use std::time::Duration;

use tikv_bench::client::{RequestStats, Txn, TxnOptions};
use tikv_bench::vocab::{ErrorKind, Events, LockMode};

use crate::client_util::*;

/// Waits (up to 10 s) until `f` holds.
async fn until(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn write(s: &tikv_bench::storage::Storage, key: &[u8], value: &[u8]) {
    let ts = s.timestamp();
    let req = tikv_bench::storage::PrewriteRequest {
        mutations: vec![tikv_bench::storage::Mutation::put(key, value)],
        primary_lock: key.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        txn_size: 1,
        min_commit_ts: ts + 1,
        ..Default::default()
    };
    s.prewrite(&req).expect("prewrite");
    s.commit(&[key.to_vec()], ts, s.timestamp())
        .expect("commit");
}

#[tokio::test]
async fn the_worker_advances_the_safe_point_and_collects_while_serving() {
    let mut cfg = config(1, 1_000_000);
    cfg.gc_life_time = Duration::from_millis(200);
    let c = start(cfg).await;
    let s = c.storage().clone();
    for i in 0..20u32 {
        write(&s, b"k", &vec![b'v'; 300 + i as usize]);
    }
    assert_eq!(s.version_count(), (20, 20));
    until(|| c.snapshot()["gc"]["versions_collected"].as_u64() >= Some(19)).await;
    let snap = c.snapshot();
    let gc = &snap["gc"];
    assert!(gc["safe_point"].as_u64() > Some(0), "{gc}");
    assert!(gc["passes"].as_u64() >= Some(1), "{gc}");
    assert_eq!(gc["long_values_collected"].as_u64(), Some(19), "{gc}");
    assert_eq!(gc["life_time"], "200ms");
    assert_eq!(s.version_count(), (1, 1));
    let now = s.timestamp();
    assert_eq!(s.kv_get(b"k", now, &[]), Ok(Some(vec![b'v'; 319])));
    c.shutdown().await;
}

#[tokio::test]
async fn the_safe_point_stops_at_the_oldest_lock() {
    let mut cfg = config(1, 1_000_000);
    cfg.gc_life_time = Duration::from_millis(200);
    let c = start(cfg).await;
    let s = c.storage().clone();
    let ts = s.timestamp();
    let req = tikv_bench::storage::PrewriteRequest {
        mutations: vec![tikv_bench::storage::Mutation::put(&b"held"[..], &b"x"[..])],
        primary_lock: b"held".to_vec(),
        start_version: ts,
        lock_ttl: 60_000,
        txn_size: 1,
        min_commit_ts: ts + 1,
        ..Default::default()
    };
    s.prewrite(&req).expect("prewrite");
    until(|| c.snapshot()["gc"]["passes"].as_u64() >= Some(2)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sp = c.snapshot()["gc"]["safe_point"]
        .as_u64()
        .expect("safe point");
    assert!(
        sp > 0 && sp <= ts,
        "safe point {sp} passed the lock at {ts}"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn a_read_below_the_safe_point_is_refused_as_gc_too_early() {
    let mut cfg = config(1, 1_000_000);
    cfg.gc_life_time = Duration::from_millis(200);
    let c = start(cfg).await;
    // Two clients: each reads PD's safe point on its first check.
    let (one, two) = (connect(&c).await, connect(&c).await);
    let stats = RequestStats::default();
    let (t1, t2) = (
        one.transport(cx(&stats, true)),
        two.transport(cx(&stats, true)),
    );
    let mut ev = Events::default();
    let opts = TxnOptions::default();
    let mut a = Txn::begin(&t1, LockMode::Optimistic, opts)
        .await
        .expect("begin");
    let mut b = Txn::begin(&t2, LockMode::Optimistic, opts)
        .await
        .expect("begin");
    let newest = a.start_ts().max(b.start_ts());
    until(|| c.snapshot()["gc"]["safe_point"].as_u64() > Some(newest)).await;
    let err = a
        .get(b"k", &mut ev)
        .await
        .expect_err("get below the safe point");
    assert_eq!(err.kind(), ErrorKind::GcTooEarly, "{err}");
    assert!(err.to_string().contains("GC life time is shorter"), "{err}");
    let err = b.batch_get(&[b"k".to_vec()], &mut ev).await;
    let err = err.expect_err("batch get below the safe point");
    assert_eq!(err.kind(), ErrorKind::GcTooEarly, "{err}");
    // A transaction begun now reads.
    let mut fresh = Txn::begin(&t1, LockMode::Optimistic, opts)
        .await
        .expect("begin");
    assert_eq!(fresh.get(b"k", &mut ev).await, Ok(None));
    c.shutdown().await;
}

/// A snapshot older than a second is checked against a safe point read
/// after it, not the cached one (which may be 10 s old): otherwise a read
/// retried past a short GC life time sees collected versions as absent.
#[tokio::test]
async fn an_old_snapshot_is_checked_against_a_fresh_safe_point() {
    let mut cfg = config(1, 1_000_000);
    cfg.gc_life_time = Duration::from_millis(200);
    let c = start(cfg).await;
    let tikv = connect(&c).await;
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let opts = TxnOptions::default();
    let mut old = Txn::begin(&t, LockMode::Optimistic, opts)
        .await
        .expect("begin");
    // A young snapshot's check fills the cache with a safe point below
    // the old transaction's start.
    let mut young = Txn::begin(&t, LockMode::Optimistic, opts)
        .await
        .expect("begin");
    assert_eq!(young.get(b"k", &mut ev).await, Ok(None));
    let cached = tikv.gc_safe_point().await.expect("cached safe point");
    assert!(cached < old.start_ts(), "{cached} vs {}", old.start_ts());
    let start = old.start_ts();
    until(|| c.snapshot()["gc"]["safe_point"].as_u64() > Some(start)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = old.get(b"k", &mut ev).await.expect_err("an old snapshot");
    assert_eq!(err.kind(), ErrorKind::GcTooEarly, "{err}");
    c.shutdown().await;
}

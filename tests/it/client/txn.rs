//! Transactions through the gRPC transport: bank transfers in both lock
//! modes under churn, and heartbeats that keep a waiting transaction alive.

use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tikv_bench::client::{Client, Error, RequestStats, Transport, Txn, TxnOptions};
use tikv_bench::storage::CheckTxnStatusRequest;
use tikv_bench::vocab::{Events, LockMode};

use crate::client_util::*;

fn account(i: usize) -> Vec<u8> {
    format!("acct{i:03}").into_bytes()
}

async fn balance<T: Transport>(
    txn: &mut Txn<'_, T>,
    k: &[u8],
    lock: LockMode,
    ev: &mut Events,
) -> Result<i64, Error> {
    let v = match lock {
        LockMode::Optimistic => txn.get(k, ev).await?,
        LockMode::Pessimistic => txn.get_for_update(k, ev).await?,
    };
    Ok(String::from_utf8(v.expect("accounts exist"))
        .unwrap()
        .parse()
        .unwrap())
}

async fn transfer(
    tikv: &Client,
    lock: LockMode,
    from: usize,
    to: usize,
    amount: i64,
    ev: &mut Events,
) -> Result<(), Error> {
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut txn = Txn::begin(&t, lock, TxnOptions::default()).await?;
    let a = balance(&mut txn, &account(from), lock, ev).await?;
    let b = balance(&mut txn, &account(to), lock, ev).await?;
    txn.put(&account(from), (a - amount).to_string().as_bytes());
    txn.put(&account(to), (b + amount).to_string().as_bytes());
    txn.commit(ev).await?;
    stats.flush(ev);
    Ok(())
}

async fn bank(lock: LockMode) {
    const ACCOUNTS: usize = 8;
    let c = start(churning(config(3, 1_000_000))).await;
    let tikv = Arc::new(connect(&c).await);
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let mut init = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    for i in 0..ACCOUNTS {
        init.put(&account(i), b"100");
    }
    init.commit(&mut ev).await.unwrap();

    let mut set = tokio::task::JoinSet::new();
    for w in 0..4u64 {
        let tikv = tikv.clone();
        set.spawn(async move {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(w);
            let mut ev = Events::default();
            let (mut done, mut failed) = (0, 0);
            while done < 15 {
                let from = rng.random_range(0..ACCOUNTS);
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                match transfer(&tikv, lock, from, to, rng.random_range(1..20), &mut ev).await {
                    Ok(()) => done += 1,
                    Err(e) => {
                        assert!(!e.undetermined(), "no timeouts expected: {e}");
                        failed += 1;
                        assert!(failed < 500, "too many failed transfers: {e}");
                    }
                }
            }
            ev
        });
    }
    let mut all = Events::default();
    while let Some(ev) = set.join_next().await {
        all.merge(&ev.unwrap());
    }
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, false));
    let mut check = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    let mut total = 0;
    for i in 0..ACCOUNTS {
        total += balance(&mut check, &account(i), LockMode::Optimistic, &mut ev)
            .await
            .unwrap();
    }
    assert_eq!(
        total,
        100 * ACCOUNTS as i64,
        "{lock:?}: the total is conserved"
    );
    let f = c.cluster().fault_counts();
    assert!(f.leader_transfers > 0 && f.splits > 0, "{f:?}");
    if lock == LockMode::Pessimistic {
        assert!(all.get("lock_waits") > 0, "{all:?}");
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_conserve_the_total_optimistic() {
    bank(LockMode::Optimistic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_conserve_the_total_pessimistic() {
    bank(LockMode::Pessimistic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_waiting_transaction_alive() {
    let c = start(config(2, 1_000_000)).await;
    let tikv = Arc::new(connect(&c).await);
    let short = TxnOptions {
        lock_ttl: 200,
        ..TxnOptions::default()
    };
    // B holds "b" for 800 ms.
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let holder = {
        let tikv = tikv.clone();
        tokio::spawn(async move {
            let stats = RequestStats::default();
            let t = tikv.transport(cx(&stats, true));
            let mut ev = Events::default();
            let mut b = Txn::begin(&t, LockMode::Pessimistic, TxnOptions::default())
                .await
                .unwrap();
            b.get_for_update(b"b", &mut ev).await.unwrap();
            locked_tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(800)).await;
            b.put(b"b", b"from b");
            b.commit(&mut ev).await.unwrap();
        })
    };
    locked_rx.await.unwrap();

    // A locks "a" with a 200 ms TTL, then waits for "b".
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let mut a = Txn::begin(&t, LockMode::Pessimistic, short).await.unwrap();
    a.get_for_update(b"a", &mut ev).await.unwrap();
    let start_ts = a.start_ts();
    let prober = {
        let tikv = tikv.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let stats = RequestStats::default();
            let t = tikv.transport(cx(&stats, false));
            let now = t.timestamp().await.unwrap();
            t.check_txn_status(&CheckTxnStatusRequest {
                primary_key: b"a".to_vec(),
                lock_ts: start_ts,
                caller_start_ts: 0,
                current_ts: now,
                rollback_if_not_exist: true,
                resolving_pessimistic_lock: true,
                force_sync_commit: false,
            })
            .await
            .unwrap()
        })
    };
    a.get_for_update(b"b", &mut ev)
        .await
        .expect("A gets b after B commits");
    a.put(b"a", b"from a");
    a.commit(&mut ev).await.expect("A was kept alive");
    let status = prober.await.unwrap();
    assert!(
        status.lock_ttl > 0 && status.commit_version == 0,
        "A looked alive at 600 ms: {status:?}"
    );
    assert!(ev.get("txn_heartbeats") >= 2, "{ev:?}");
    holder.await.unwrap();
    c.shutdown().await;
}

/// A pessimistic lock request that times out may still lock its key: TiKV
/// (and the stand-in, which runs every request to completion) carries on
/// with it. As client-go does, our client rolls back every key of the
/// failed request, so no lock is left to block others until its TTL runs
/// out. (It rolled back only keys it knew it held: the lock stayed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_lock_request_leaves_no_lock_behind() {
    let mut cfg = config(3, 1_000_000);
    cfg.faults.latency = tikv_bench::cluster::config::Latency::same(Duration::from_millis(300));
    let c = start(cfg).await;
    let config = tikv_bench::client::ClientConfig {
        request_timeout: Duration::from_millis(100),
        ..client_config()
    };
    let tikv = Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .unwrap();
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let mut txn = Txn::begin(&t, LockMode::Pessimistic, TxnOptions::default())
        .await
        .unwrap();
    let err = txn.get_for_update(b"k", &mut ev).await.unwrap_err();
    assert!(err.to_string().contains("did not answer"), "{err}");
    // The lock request lands at 300 ms, the rollback sent after the
    // timeout lands after it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(c.storage().lock_info(b"k"), None, "no lock left behind");
    c.shutdown().await;
}

/// A transaction larger than TiKV's raft entry limit (8 MiB) in one region
/// commits: its prewrites and commits go out in pieces of at most 16 KiB of
/// keys and values, as client-go cuts them, where one prewrite of the whole
/// region is refused with RaftEntryTooLarge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_larger_than_a_raft_entry_commits_in_pieces() {
    let c = start(config(1, 1_000_000_000)).await;
    let tikv = connect(&c).await;
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let mut big = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    for i in 0..2400 {
        big.put(&account(i), &[b'v'; 4096]);
    }
    big.commit(&mut ev)
        .await
        .expect("9.4 MiB in one region commits");
    let mut read = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    let got = read.get(&account(2399), &mut ev).await.unwrap();
    assert_eq!(got.map(|v| v.len()), Some(4096));
    c.shutdown().await;
}

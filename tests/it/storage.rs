//! Property tests of the engine and the transaction protocol together:
//! random concurrent histories keep bank transfers balanced and lose no
//! acknowledged write, readers never see half a transaction, and wait-for
//! cycles end with exactly the closing transaction aborted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tikv_bench::backend::Inproc;
use tikv_bench::client::{Error, Txn, TxnOptions};
use tikv_bench::storage::{Storage, StorageConfig};
use tikv_bench::vocab::{ErrorKind, Events, LockMode};

/// An engine with short waits, so contended histories stay quick.
fn engine() -> Arc<Storage> {
    Arc::new(Storage::new(StorageConfig {
        wait_timeout: Duration::from_millis(500),
        wake_up_delay: Duration::from_millis(1),
        ..StorageConfig::default()
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn mode_of(pessimistic: bool) -> LockMode {
    if pessimistic {
        LockMode::Pessimistic
    } else {
        LockMode::Optimistic
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("acct{i:03}").into_bytes()
}

fn num(v: Option<Vec<u8>>) -> i64 {
    v.and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Errors a client retries the whole transaction on.
fn retryable(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WriteConflict
            | ErrorKind::KeyIsLocked
            | ErrorKind::Deadlock
            | ErrorKind::TxnLockNotFound
            | ErrorKind::CommitTsExpired
    )
}

/// Runs `attempt` until it commits or fails with a non-retryable error
/// (which fails the test); gives up after many attempts.
async fn with_retries<F, Fut>(mut attempt: F) -> Option<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, Error>>,
{
    for _ in 0..200 {
        match attempt().await {
            Ok(ts) => return Some(ts),
            Err(e) if retryable(&e) => tokio::task::yield_now().await,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    None
}

async fn transfer(
    t: &Inproc,
    mode: LockMode,
    from: &[u8],
    to: &[u8],
    amount: i64,
) -> Result<u64, Error> {
    let mut ev = Events::default();
    let mut txn = Txn::begin(t, mode, TxnOptions::default()).await?;
    let a = num(txn.get_for_update(from, &mut ev).await?);
    tokio::task::yield_now().await;
    let b = num(txn.get_for_update(to, &mut ev).await?);
    txn.put(from, (a - amount).to_string().as_bytes());
    txn.put(to, (b + amount).to_string().as_bytes());
    tokio::task::yield_now().await;
    txn.commit(&mut ev).await
}

/// Per task: (from, offset to the receiver, amount).
type Plan = Vec<Vec<(usize, usize, i64)>>;

fn plans() -> impl Strategy<Value = (usize, Plan)> {
    (2usize..6).prop_flat_map(|n| {
        let step = (0..n, 1..n, 1i64..50);
        (
            Just(n),
            prop::collection::vec(prop::collection::vec(step, 1..8), 2..5),
        )
    })
}

fn run_transfers(n: usize, plan: &Plan, pessimistic: bool) {
    const START: i64 = 1_000;
    let s = engine();
    let t = Inproc::new(s.clone());
    let mode = mode_of(pessimistic);
    let rt = runtime();
    let committed: Vec<Vec<(usize, usize, i64)>> = rt.block_on(async {
        let init: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|i| (key(i), START.to_string().into_bytes()))
            .collect();
        let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
            .await
            .expect("begin");
        for (k, v) in &init {
            txn.put(k, v);
        }
        txn.commit(&mut Events::default()).await.expect("load");
        let mut tasks = Vec::new();
        for steps in plan.clone() {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                for (from, off, amount) in steps {
                    let to = (from + off) % n;
                    let (kf, kt) = (key(from), key(to));
                    if with_retries(|| transfer(&t, mode, &kf, &kt, amount))
                        .await
                        .is_some()
                    {
                        done.push((from, to, amount));
                    }
                }
                done
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.push(task.await.expect("task"));
        }
        all
    });
    let now = s.timestamp();
    let balances: Vec<i64> = (0..n)
        .map(|i| num(s.kv_get(&key(i), now, &[]).expect("no lock left")))
        .collect();
    assert_eq!(
        balances.iter().sum::<i64>(),
        START * n as i64,
        "total changed: {balances:?}"
    );
    // Stronger: the balances are exactly the replay of the acknowledged
    // transfers, so no committed update was lost.
    let mut expect = vec![START; n];
    for (from, to, amount) in committed.iter().flatten() {
        expect[*from] -= amount;
        expect[*to] += amount;
    }
    assert_eq!(balances, expect);
    assert_eq!(s.lock_count(), 0, "locks left behind");
}

/// Per key, (commit_ts, value) of each acknowledged commit.
type Acked = BTreeMap<Vec<u8>, Vec<(u64, Vec<u8>)>>;

/// Blind writes of unique values; returns per key the (commit_ts, value)
/// of every acknowledged commit.
fn run_blind_writes(writes: &[Vec<(u8, bool)>], pessimistic: bool) -> (Arc<Storage>, Acked) {
    let s = engine();
    let t = Inproc::new(s.clone());
    let mode = mode_of(pessimistic);
    let acked = runtime().block_on(async {
        let mut tasks = Vec::new();
        for (task, steps) in writes.iter().cloned().enumerate() {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for (seq, (k, both)) in steps.into_iter().enumerate() {
                    let value = format!("t{task}-{seq}").into_bytes();
                    let mut keys = vec![key(k as usize % 3)];
                    if both {
                        keys.push(key((k as usize + 1) % 3));
                    }
                    let attempt = || async {
                        let mut ev = Events::default();
                        let mut txn = Txn::begin(&t, mode, TxnOptions::default()).await?;
                        for k in &keys {
                            txn.get_for_update(k, &mut ev).await?;
                            txn.put(k, &value);
                            tokio::task::yield_now().await;
                        }
                        txn.commit(&mut ev).await
                    };
                    if let Some(ts) = with_retries(attempt).await {
                        for k in &keys {
                            acked.push((k.clone(), ts, value.clone()));
                        }
                    }
                }
                acked
            }));
        }
        let mut by_key = Acked::new();
        for task in tasks {
            for (k, ts, v) in task.await.expect("task") {
                by_key.entry(k).or_default().push((ts, v));
            }
        }
        by_key
    });
    (s, acked)
}

fn run_markers(writers: usize, rounds: usize, readers: usize, pessimistic: bool) -> usize {
    let s = engine();
    let t = Inproc::new(s.clone());
    let mode = mode_of(pessimistic);
    let keys: Vec<Vec<u8>> = (0..3).map(key).collect();
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (t, keys) = (t.clone(), keys.clone());
            tasks.push(tokio::spawn(async move {
                for r in 0..rounds {
                    let marker = format!("w{w}r{r}").into_bytes();
                    let attempt = || async {
                        let mut ev = Events::default();
                        let mut txn = Txn::begin(&t, mode, TxnOptions::default()).await?;
                        // Lock (pessimistic) in a rotating order, to mix in
                        // deadlocks and waits.
                        for i in 0..keys.len() {
                            let k = &keys[(i + w) % keys.len()];
                            txn.get_for_update(k, &mut ev).await?;
                            txn.put(k, &marker);
                            tokio::task::yield_now().await;
                        }
                        txn.commit(&mut ev).await
                    };
                    with_retries(attempt).await;
                }
                0usize
            }));
        }
        for _ in 0..readers {
            let (t, keys) = (t.clone(), keys.clone());
            tasks.push(tokio::spawn(async move {
                let mut consistent = 0;
                for _ in 0..rounds * 2 {
                    let mut ev = Events::default();
                    let Ok(mut txn) =
                        Txn::begin(&t, LockMode::Optimistic, TxnOptions::default()).await
                    else {
                        continue;
                    };
                    let mut seen = Vec::new();
                    for k in &keys {
                        match txn.get(k, &mut ev).await {
                            Ok(v) => seen.push(v),
                            Err(e) => {
                                assert!(retryable(&e), "unexpected read error: {e}");
                                break;
                            }
                        }
                        tokio::task::yield_now().await;
                    }
                    if seen.len() == keys.len() {
                        assert!(
                            seen.windows(2).all(|w| w[0] == w[1]),
                            "partial transaction seen: {seen:?}"
                        );
                        consistent += 1;
                    }
                    let _ = txn.commit(&mut ev).await;
                }
                consistent
            }));
        }
        let mut reads = 0;
        for task in tasks {
            reads += task.await.expect("task");
        }
        assert_eq!(s.lock_count(), 0, "locks left behind");
        reads
    })
}

/// `n` transactions each lock key i, then wait for key i+1 (mod n) in the
/// order `order`; returns each one's result kind (None: committed).
fn run_cycle(order: &[usize]) -> Vec<Option<ErrorKind>> {
    let n = order.len();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = Arc::new(Storage::default());
        let t = Inproc::new(s.clone());
        let (locked_tx, mut locked_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut go = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..n {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            go.push(Some(tx));
            let (t, locked_tx) = (t.clone(), locked_tx.clone());
            tasks.push(tokio::spawn(async move {
                let mut ev = Events::default();
                let mut txn = Txn::begin(&t, LockMode::Pessimistic, TxnOptions::default())
                    .await
                    .expect("begin");
                txn.get_for_update(&key(i), &mut ev).await.expect("own key");
                locked_tx.send(i).expect("main listens");
                rx.await.expect("go");
                let next = key((i + 1) % n);
                let r = async {
                    txn.get_for_update(&next, &mut ev).await?;
                    txn.put(&key(i), b"done");
                    txn.put(&next, b"done");
                    txn.commit(&mut ev).await
                }
                .await;
                r.err().map(|e| e.kind())
            }));
        }
        for _ in 0..n {
            locked_rx.recv().await.expect("locked");
        }
        for (j, &i) in order.iter().enumerate() {
            go[i].take().expect("once").send(()).expect("task waits");
            if j + 1 < n {
                while s.lock_waiters() < j + 1 {
                    tokio::task::yield_now().await;
                }
            }
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("task"));
        }
        assert_eq!((s.lock_count(), s.wait_for_edges()), (0, 0));
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn transfers_keep_the_total_and_lose_no_update((n, plan) in plans(), pessimistic in any::<bool>()) {
        run_transfers(n, &plan, pessimistic);
    }

    #[test]
    fn every_acknowledged_commit_is_visible_until_overwritten(
        writes in prop::collection::vec(prop::collection::vec((any::<u8>(), any::<bool>()), 1..6), 2..5),
        pessimistic in any::<bool>(),
    ) {
        let (s, acked) = run_blind_writes(&writes, pessimistic);
        prop_assert_eq!(s.lock_count(), 0);
        for (k, mut commits) in acked {
            commits.sort();
            for w in commits.windows(2) {
                prop_assert!(w[0].0 < w[1].0, "two commits share a commit_ts");
            }
            // At each commit_ts its own value is the visible one ...
            for (ts, v) in &commits {
                prop_assert_eq!(s.kv_get(&k, *ts, &[]), Ok(Some(v.clone())));
            }
            // ... and now the newest wins.
            let newest = commits.last().map(|(_, v)| v.clone());
            prop_assert_eq!(s.kv_get(&k, s.timestamp(), &[]), Ok(newest));
        }
    }

    #[test]
    fn readers_never_see_part_of_a_transaction(
        writers in 1usize..4,
        rounds in 1usize..6,
        readers in 1usize..3,
        pessimistic in any::<bool>(),
    ) {
        run_markers(writers, rounds, readers, pessimistic);
    }

    #[test]
    fn the_transaction_closing_a_wait_cycle_alone_gets_deadlock(
        order in prop_oneof![Just(2usize), Just(3usize)]
            .prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
    ) {
        let got = run_cycle(&order);
        let closer = *order.last().expect("non-empty");
        for (i, r) in got.iter().enumerate() {
            if i == closer {
                prop_assert_eq!(*r, Some(ErrorKind::Deadlock), "txn {} of {:?}", i, order);
            } else {
                prop_assert_eq!(*r, None, "txn {} of {:?}", i, order);
            }
        }
    }
}

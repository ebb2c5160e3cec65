//! The official Rust client (`tikv-client` 0.4) against the stand-in: raw
//! and transactional calls while regions split and leaders move under it,
//! compared with a model; and what the official client itself does, pinned
//! down where it surprises (each such test says so in its name and doc).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tikv_bench::cluster::RunningCluster;
use tikv_bench::cluster::config::ClusterConfig;
use tikv_client::{
    Error, ProtoKeyError, RawClient, TimestampExt, Transaction, TransactionClient,
    TransactionOptions,
};

use crate::cluster_util::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// `config` with a split every 30 ms and a leader transfer every 20 ms.
fn churning(mut config: ClusterConfig) -> ClusterConfig {
    config.faults.split_every = Some(Duration::from_millis(30));
    config.faults.transfer_leader_every = Some(Duration::from_millis(20));
    config
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

/// Every key error inside an official client error.
fn key_errors(e: &Error) -> Vec<&ProtoKeyError> {
    match e {
        Error::KeyError(k) => vec![k.as_ref()],
        Error::MultipleKeyErrors(v) | Error::ExtractedErrors(v) => {
            v.iter().flat_map(key_errors).collect()
        }
        Error::PessimisticLockError { inner, .. } | Error::UndeterminedError(inner) => {
            key_errors(inner)
        }
        _ => Vec::new(),
    }
}

/// All pairs in `[start, end)`, read `page` at a time with the official
/// client; panics on a duplicate or out-of-order key (a restarted scan).
async fn scan_paged(raw: &RawClient, start: &[u8], end: &[u8], page: u32) -> Model {
    let mut out = Model::new();
    let mut from = start.to_vec();
    let mut last: Option<Vec<u8>> = None;
    loop {
        let got = raw
            .scan(from.clone()..end.to_vec(), page)
            .await
            .expect("raw scan");
        let n = got.len();
        for kv in got {
            let k: Vec<u8> = kv.0.into();
            assert!(
                last.as_ref().is_none_or(|l| *l < k),
                "scan went backwards at '{}'",
                k.escape_ascii()
            );
            assert!(
                k.as_slice() >= start && k.as_slice() < end,
                "key outside the range"
            );
            last = Some(k.clone());
            out.insert(k, kv.1);
        }
        if n < page as usize {
            return out;
        }
        from = last.clone().expect("a full page has a last key");
        from.push(0);
    }
}

/// A split far above every key the raw tests use, so their ranges never
/// end in the last region (see the scan pinning test below).
fn fence(c: &RunningCluster) {
    c.split_at(b"zzzz").expect("fence split");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_calls_match_a_model_while_regions_split_and_leaders_move() {
    let c = start(churning(config(3, 100))).await;
    fence(&c);
    let raw = official_raw(&c).await;
    let mut model = Model::new();

    // batch_put in chunks, then single puts over some of them.
    let all: Vec<usize> = (0..3000).collect();
    for chunk in all.chunks(400) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|&i| (key(i), format!("v{i}").into_bytes()))
            .collect();
        model.extend(pairs.iter().cloned());
        raw.batch_put(pairs).await.expect("batch_put");
    }
    for i in (0..3000).step_by(37) {
        let v = format!("again{i}").into_bytes();
        raw.put(key(i), v.clone()).await.expect("put");
        model.insert(key(i), v);
    }

    // Point and batch reads, with missing keys among them.
    for i in (0..3100).step_by(53) {
        assert_eq!(
            raw.get(key(i)).await.expect("get"),
            model.get(&key(i)).cloned(),
            "get {i}"
        );
    }
    let wanted: Vec<Vec<u8>> = (2900..3100).step_by(3).map(key).collect();
    let mut got: Vec<(Vec<u8>, Vec<u8>)> = raw
        .batch_get(wanted.clone())
        .await
        .expect("batch_get")
        .into_iter()
        .map(|kv| (kv.0.into(), kv.1))
        .collect();
    got.sort();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = wanted
        .iter()
        .filter_map(|k| model.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    assert_eq!(got, expected);

    // Deletes of every kind.
    for i in (0..3000).step_by(101) {
        raw.delete(key(i)).await.expect("delete");
        model.remove(&key(i));
    }
    let doomed: Vec<Vec<u8>> = (500..900).step_by(2).map(key).collect();
    raw.batch_delete(doomed.clone())
        .await
        .expect("batch_delete");
    for k in &doomed {
        model.remove(k);
    }
    raw.delete_range(key(1000)..key(1500))
        .await
        .expect("delete_range");
    model.retain(|k, _| !(k.as_slice() >= &key(1000)[..] && k.as_slice() < &key(1500)[..]));

    // Compare-and-swap needs the atomic mode.
    let atomic = raw.with_atomic_for_cas();
    let cas_key = b"k-cas".to_vec();
    assert_eq!(
        atomic
            .compare_and_swap(cas_key.clone(), None, b"1".to_vec())
            .await
            .unwrap(),
        (None, true)
    );
    assert_eq!(
        atomic
            .compare_and_swap(cas_key.clone(), Some(b"0".to_vec()), b"2".to_vec())
            .await
            .unwrap(),
        (Some(b"1".to_vec()), false)
    );
    assert_eq!(
        atomic
            .compare_and_swap(cas_key.clone(), Some(b"1".to_vec()), b"2".to_vec())
            .await
            .unwrap(),
        (Some(b"1".to_vec()), true)
    );
    model.insert(cas_key, b"2".to_vec());

    // Paged scans over the whole key range, across many regions.
    assert_eq!(scan_paged(&raw, b"k", b"l", 97).await, model);
    assert_eq!(scan_paged(&raw, b"k", b"l", 1000).await, model);
    let mid: Model = model
        .range(key(200)..key(2600))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(scan_paged(&raw, &key(200), &key(2600), 61).await, mid);

    let counts = c.cluster().fault_counts();
    let regions = c.regions().len();
    assert!(regions >= 20, "only {regions} regions");
    assert!(
        counts.splits > 0 && counts.leader_transfers > 0,
        "{counts:?}"
    );
    c.shutdown().await;
}

/// **The official client's bounded raw scan restarts from the first
/// region** when the range's end falls in the last region (whose end key is
/// empty) and the scan has not yet filled its limit: `scan_inner` takes the
/// region's empty end as the next start key, because `end <= next` is false
/// for an empty `next`. It then returns keys from the start of the key
/// space (outside the range), and pairs twice. With no key at all below the
/// range's end, it never returns. An unbounded scan stops correctly, and a
/// split above the range (as `fence` does) avoids the wrap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_bounded_raw_scan_wraps_to_the_first_region_when_its_end_is_in_the_last_region() {
    let c = start(config(3, 1000)).await;
    let raw = official_raw(&c).await;
    // No key at all below the range's end: it loops (and hammers the
    // store) until the caller gives up.
    let empty = raw.scan("x".to_owned().."z".to_owned(), 10);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), empty)
            .await
            .is_err(),
        "the official client's scan of an empty range returned"
    );
    for k in ["a", "b", "c"] {
        raw.put(k.to_owned(), k.to_owned()).await.unwrap();
    }
    let keys = |kvs: Vec<tikv_client::KvPair>| -> Vec<String> {
        kvs.into_iter()
            .map(|kv| String::from_utf8(Vec::<u8>::from(kv.0)).unwrap())
            .collect()
    };
    // One region: it is the last one. Asked for [b, z) with room for 10,
    // it returns b, c, then wraps around to a, b, c, ... until 10.
    let got = keys(raw.scan("b".to_owned().."z".to_owned(), 10).await.unwrap());
    assert_eq!(got, ["b", "c", "a", "b", "c", "a", "b", "c", "a", "b"]);
    // An empty range [x, z) returns keys outside it.
    let got = keys(raw.scan("x".to_owned().."z".to_owned(), 4).await.unwrap());
    assert_eq!(got, ["a", "b", "c", "a"]);
    // An unbounded range does not: its end (empty) equals the region's.
    let got = keys(raw.scan("c".to_owned().., 3).await.unwrap());
    assert_eq!(got, ["c"]);
    // A region boundary above the range's end: the scan stops there.
    c.split_at(b"y").unwrap();
    let got = keys(raw.scan("b".to_owned().."x".to_owned(), 10).await.unwrap());
    assert_eq!(got, ["b", "c"]);
    c.shutdown().await;
}

/// **The official client returns ServerIsBusy to the caller without
/// retrying**: one request, one busy answer, one error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_returns_server_is_busy_without_retrying() {
    let mut cfg = config(3, 1000);
    cfg.faults.busy = 1.0;
    let c = start(cfg).await;
    let raw = official_raw(&c).await;
    let err = raw.get(b"k".to_vec()).await.unwrap_err();
    match &err {
        Error::RegionError(e) => {
            let busy = e.server_is_busy.as_ref().expect("server_is_busy");
            assert!(busy.reason.contains("busy"), "{busy:?}");
        }
        other => panic!("expected a ServerIsBusy region error, got {other:?}"),
    }
    assert_eq!(c.cluster().fault_counts().busy_answers, 1, "no retry");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_transaction_meets_a_write_conflict_at_commit() {
    let c = start(churning(config(3, 50))).await;
    let client = official_txn(&c).await;
    let mut first = client.begin_optimistic().await.unwrap();
    let mut second = client.begin_optimistic().await.unwrap();
    first.put(b"x".to_vec(), b"first".to_vec()).await.unwrap();
    second.put(b"x".to_vec(), b"second".to_vec()).await.unwrap();
    first.commit().await.expect("the first committer wins");
    let err = second.commit().await.expect_err("the second conflicts");
    let conflict = key_errors(&err)
        .into_iter()
        .find_map(|k| k.conflict.clone())
        .unwrap_or_else(|| panic!("expected a write conflict, got {err:?}"));
    assert_eq!(conflict.key, b"x");
    assert_eq!(conflict.reason, 1, "reason Optimistic");
    assert!(conflict.conflict_commit_ts > conflict.start_ts);
    second
        .rollback()
        .await
        .expect("roll back after the conflict");

    let mut read = client.begin_optimistic().await.unwrap();
    assert_eq!(
        read.get(b"x".to_vec()).await.unwrap(),
        Some(b"first".to_vec())
    );
    read.rollback().await.unwrap();
    c.shutdown().await;
}

/// A second pessimistic locker waits in the store for the first; when the
/// first commits, the store wakes it with WriteConflict(PessimisticRetry),
/// and **the official client returns that error to the caller** instead of
/// retrying the lock with a new for_update_ts (as TiDB would). A new
/// transaction then locks at once and sees the first one's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_pessimistic_waiter_waits_then_gets_the_retry_error() {
    let c = start(config(3, 1000)).await;
    let client = official_txn(&c).await;
    let mut seed = client.begin_optimistic().await.unwrap();
    seed.put(b"acct".to_vec(), b"0".to_vec()).await.unwrap();
    seed.commit().await.unwrap();

    let mut holder = client.begin_pessimistic().await.unwrap();
    assert_eq!(
        holder.get_for_update(b"acct".to_vec()).await.unwrap(),
        Some(b"0".to_vec())
    );
    let waiter_client = client.clone();
    let waiter = tokio::spawn(async move {
        let mut t = waiter_client.begin_pessimistic().await.unwrap();
        let began = Instant::now();
        let r = t.get_for_update(b"acct".to_vec()).await;
        let waited = began.elapsed();
        t.rollback().await.expect("waiter rolls back");
        (r, waited)
    });
    let storage = c.storage().clone();
    eventually(Duration::from_secs(2), "the waiter to wait", || {
        storage.lock_waiters() == 1
    })
    .await;
    let hold = Duration::from_millis(300);
    tokio::time::sleep(hold).await;
    holder.put(b"acct".to_vec(), b"1".to_vec()).await.unwrap();
    let commit_ts = holder.commit().await.unwrap().expect("a commit ts");

    let (r, waited) = waiter.await.unwrap();
    assert!(waited >= hold, "the waiter returned after {waited:?}");
    let err = r.expect_err("the official client does not retry the lock");
    let conflict = key_errors(&err)
        .into_iter()
        .find_map(|k| k.conflict.clone())
        .unwrap_or_else(|| panic!("expected a write conflict, got {err:?}"));
    assert_eq!(conflict.reason, 2, "reason PessimisticRetry");
    assert_eq!(conflict.conflict_commit_ts, commit_ts.version());
    assert!(c.storage().stats().lock_waits >= 1);

    let mut again = client.begin_pessimistic().await.unwrap();
    assert_eq!(
        again.get_for_update(b"acct".to_vec()).await.unwrap(),
        Some(b"1".to_vec())
    );
    again.rollback().await.unwrap();
    c.shutdown().await;
}

const ACCOUNTS: usize = 12;
const OPENING: i64 = 100;

fn account(i: usize) -> Vec<u8> {
    format!("acct{i:03}").into_bytes()
}

async fn balance(t: &mut Transaction, k: &[u8], pessimistic: bool) -> Result<i64, Error> {
    let v = if pessimistic {
        t.get_for_update(k.to_vec()).await?
    } else {
        t.get(k.to_vec()).await?
    };
    let v = v.expect("every account exists");
    Ok(String::from_utf8(v).unwrap().parse().unwrap())
}

/// One transfer attempt; always ends the transaction (commit or rollback).
async fn transfer(
    client: &TransactionClient,
    pessimistic: bool,
    from: usize,
    to: usize,
    amount: i64,
) -> Result<bool, Error> {
    let mut t = if pessimistic {
        client.begin_pessimistic().await?
    } else {
        client.begin_optimistic().await?
    };
    let r = async {
        let a = balance(&mut t, &account(from), pessimistic).await?;
        let b = balance(&mut t, &account(to), pessimistic).await?;
        if a < amount {
            return Ok(false);
        }
        t.put(account(from), (a - amount).to_string()).await?;
        t.put(account(to), (b + amount).to_string()).await?;
        t.commit().await?;
        Ok(true)
    }
    .await;
    if !matches!(r, Ok(true)) {
        // May fail after a failed commit; the transaction is over either way.
        let _ = t.rollback().await;
    }
    r
}

async fn bank(pessimistic: bool) {
    let c = start(churning(config(3, 50))).await;
    let client = official_txn(&c).await;
    let mut open = client.begin_optimistic().await.unwrap();
    for i in 0..ACCOUNTS {
        open.put(account(i), OPENING.to_string()).await.unwrap();
    }
    open.commit().await.unwrap();

    let done = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..4u64)
        .map(|w| {
            let client = client.clone();
            let (done, retries) = (done.clone(), retries.clone());
            tokio::spawn(async move {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(w);
                for _ in 0..15 {
                    let from = rng.random_range(0..ACCOUNTS);
                    let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                    let amount = rng.random_range(1..30);
                    for attempt in 0.. {
                        assert!(attempt < 200, "transfer kept failing");
                        match transfer(&client, pessimistic, from, to, amount).await {
                            Ok(_) => break,
                            Err(_) => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), 60);

    let mut check = client.begin_optimistic().await.unwrap();
    let pairs = check
        .batch_get((0..ACCOUNTS).map(account))
        .await
        .unwrap()
        .collect::<Vec<_>>();
    check.rollback().await.unwrap();
    assert_eq!(pairs.len(), ACCOUNTS);
    let total: i64 = pairs
        .iter()
        .map(|kv| {
            String::from_utf8(kv.1.clone())
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, OPENING * ACCOUNTS as i64, "money was made or lost");
    assert_eq!(c.storage().lock_count(), 0, "locks left behind");
    assert!(c.cluster().fault_counts().splits > 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_conserve_the_total_optimistic() {
    bank(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_conserve_the_total_pessimistic() {
    bank(true).await;
}

/// Writes `keys` in one official transaction begun with `options`, then
/// reads them back in a new one (which may meet the async locks whose
/// secondaries the committer is still committing, and resolves them).
async fn commit_with(
    client: &TransactionClient,
    options: TransactionOptions,
    keys: &[Vec<u8>],
    tag: &str,
) -> Result<Option<tikv_client::Timestamp>, Error> {
    let mut t = client.begin_with_options(options).await?;
    for k in keys {
        t.put(k.clone(), tag.as_bytes().to_vec()).await?;
    }
    t.commit().await
}

async fn read_back(client: &TransactionClient, keys: &[Vec<u8>], tag: &str) {
    let mut read = client.begin_optimistic().await.unwrap();
    for k in keys {
        assert_eq!(
            read.get(k.clone()).await.unwrap(),
            Some(tag.as_bytes().to_vec()),
            "key {}",
            k.escape_ascii()
        );
    }
    read.rollback().await.unwrap();
}

/// Async commit with the official client, on one region and across three:
/// the commit answers the prewrite's min_commit_ts, and every value reads
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_async_commit_commits_on_one_region_and_across_regions() {
    let c = start(config(3, 1_000_000)).await;
    c.split_at(b"k00010").expect("split");
    c.split_at(b"k00020").expect("split");
    let client = official_txn(&c).await;
    let async_commit = || TransactionOptions::new_optimistic().use_async_commit();
    let one: Vec<Vec<u8>> = (0..5).map(key).collect();
    let across: Vec<Vec<u8>> = (0..30).step_by(4).map(key).collect();
    for (keys, tag) in [(&one, "one"), (&across, "across")] {
        let ts = commit_with(&client, async_commit(), keys, tag)
            .await
            .expect("async commit")
            .expect("a commit_ts");
        assert!(ts.version() > 0);
        read_back(&client, keys, tag).await;
    }
    c.shutdown().await;
}

/// 1PC with the official client on one region: committed in the prewrite,
/// no locks left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_one_pc_commits_a_single_region_transaction() {
    let c = start(config(3, 1_000_000)).await;
    let client = official_txn(&c).await;
    let one_pc = TransactionOptions::new_optimistic().try_one_pc();
    let keys: Vec<Vec<u8>> = (0..5).map(key).collect();
    let ts = commit_with(&client, one_pc, &keys, "1pc")
        .await
        .expect("1pc")
        .expect("a commit_ts");
    assert!(ts.version() > 0);
    assert_eq!(c.storage().lock_count(), 0, "committed in the prewrite");
    read_back(&client, &keys, "1pc").await;
    c.shutdown().await;
}

/// 1PC with the official client across two regions: client-rust 0.4 keeps
/// try_one_pc only on a prewrite that holds every mutation (`apply_shard`
/// in its transaction/requests.rs), so here it prewrites both regions and
/// commits in two phases. The commit succeeds, no lock is left, every
/// value reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_one_pc_across_regions_commits_and_reads_back() {
    let c = start(config(3, 1_000_000)).await;
    c.split_at(b"k00010").expect("split");
    let client = official_txn(&c).await;
    let keys: Vec<Vec<u8>> = vec![key(1), key(15)];
    let one_pc = TransactionOptions::new_optimistic().try_one_pc();
    commit_with(&client, one_pc, &keys, "split")
        .await
        .expect("1pc across regions");
    read_back(&client, &keys, "split").await;
    assert_eq!(c.storage().lock_count(), 0);
    c.shutdown().await;
}

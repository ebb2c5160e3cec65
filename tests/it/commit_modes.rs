//! Async commit and one-phase commit in our client, to client-go's rules:
//! 1PC only for a transaction whose prewrite is one request (else a
//! counted fallback to two phases), async commit done at its commit point
//! (no KvCommit before the op returns), a crashed async-commit writer
//! settled by a reader from its secondaries, and concurrent async-commit
//! transfers with crashes that keep the bank total.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tikv_bench::backend::Inproc;
use tikv_bench::client::txn::{
    ASYNC_COMMIT_FALLBACKS, ASYNC_COMMIT_KEYS, ASYNC_COMMITS, AsyncFinisher, ONE_PC_COMMITS,
    ONE_PC_FALLBACKS, Unfinished,
};
use tikv_bench::client::{Error, RequestStats, Transport, Txn, TxnOptions};
use tikv_bench::storage::{Mutation, PrewriteRequest, PrewriteResult, SecondaryLocks, Storage};
use tikv_bench::txn_types::ts::compose;
use tikv_bench::vocab::trace::Step;
use tikv_bench::vocab::{CommitMode, ErrorKind, Events, LockMode, TxnMode};

use crate::client_util::{connect, cx};
use crate::cluster_util::{config, start};
use crate::inproc_util::{Hooked, Hooks};

fn mode(lock: LockMode, commit: CommitMode) -> TxnMode {
    TxnMode { lock, commit }
}

/// The RPCs in an op's trace, in order.
fn rpcs(ev: &Events) -> Vec<&'static str> {
    let spans = ev.trace().spans().iter();
    spans
        .filter_map(|s| match s.step {
            Step::Rpc { rpc, .. } => Some(rpc),
            _ => None,
        })
        .collect()
}

/// Writes `keys` (each its own name as value) in one transaction of
/// `commit` mode through the gRPC transport; its events (with its RPC log)
/// and commit_ts, and the async commit it left unfinished, if any.
async fn write_through_grpc(
    tikv: &tikv_bench::client::Client,
    commit: CommitMode,
    keys: &[&[u8]],
) -> (Events, u64, Option<Unfinished>) {
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, true));
    let held: Arc<Mutex<Option<Unfinished>>> = Arc::default();
    let sink = held.clone();
    let finisher = AsyncFinisher(Arc::new(move |u| *sink.lock().unwrap() = Some(u)));
    let mut ev = Events::default();
    let mut txn = Txn::begin(
        &t,
        mode(LockMode::Optimistic, commit),
        TxnOptions::default(),
    )
    .await
    .expect("begin")
    .with_finisher(Some(finisher));
    for k in keys {
        txn.put(k, k);
    }
    let ts = txn.commit(&mut ev).await.expect("commit");
    stats.flush(&mut ev);
    stats.log().flush(ev.trace_mut());
    let unfinished = held.lock().unwrap().take();
    (ev, ts, unfinished)
}

/// Reads `key` in a fresh transaction through the gRPC transport.
async fn read_through_grpc(tikv: &tikv_bench::client::Client, key: &[u8]) -> Option<Vec<u8>> {
    let stats = RequestStats::default();
    let t = tikv.transport(cx(&stats, false));
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("begin");
    txn.get(key, &mut Events::default()).await.expect("read")
}

#[tokio::test]
async fn one_pc_commits_a_single_region_transaction_and_falls_back_across_regions() {
    let c = start(config(1, 1_000_000)).await;
    c.split_at(b"m").expect("split");
    let tikv = connect(&c).await;

    let (ev, ts, _) = write_through_grpc(&tikv, CommitMode::OnePc, &[b"a1", b"a2"]).await;
    assert!(ts > 0);
    assert_eq!(ev.get(ONE_PC_COMMITS), 1, "{ev:?}");
    assert_eq!(ev.get(ONE_PC_FALLBACKS), 0);
    assert_eq!(rpcs(&ev), ["KvPrewrite"], "one round trip, no KvCommit");
    assert_eq!(read_through_grpc(&tikv, b"a2").await, Some(b"a2".to_vec()));

    // Across the split: two prewrites, neither may commit alone.
    let (ev, _, _) = write_through_grpc(&tikv, CommitMode::OnePc, &[b"b", b"z"]).await;
    assert_eq!(ev.get(ONE_PC_COMMITS), 0, "{ev:?}");
    assert_eq!(ev.get(ONE_PC_FALLBACKS), 1, "{ev:?}");
    let sent = rpcs(&ev);
    assert_eq!(sent.iter().filter(|r| **r == "KvPrewrite").count(), 2);
    assert!(
        sent.contains(&"KvCommit"),
        "committed in two phases: {sent:?}"
    );
    assert_eq!(read_through_grpc(&tikv, b"b").await, Some(b"b".to_vec()));
    assert_eq!(read_through_grpc(&tikv, b"z").await, Some(b"z".to_vec()));
    c.shutdown().await;
}

#[tokio::test]
async fn async_commit_is_done_at_its_commit_point_without_a_kvcommit() {
    let c = start(config(1, 1_000_000)).await;
    c.split_at(b"m").expect("split");
    let tikv = connect(&c).await;
    let (ev, ts, unfinished) = write_through_grpc(&tikv, CommitMode::Async, &[b"b", b"z"]).await;
    assert_eq!(ev.get(ASYNC_COMMITS), 1, "{ev:?}");
    assert_eq!(ev.get(ASYNC_COMMIT_FALLBACKS), 0);
    let sent = rpcs(&ev);
    assert_eq!(
        sent,
        ["KvPrewrite", "KvPrewrite"],
        "no KvCommit before it returns"
    );
    let unfinished = unfinished.expect("the KvCommit was handed over");
    assert_eq!(unfinished.commit_ts, ts);
    let stats = RequestStats::default();
    unfinished.commit(&tikv.transport(cx(&stats, true))).await;
    assert_eq!(read_through_grpc(&tikv, b"b").await, Some(b"b".to_vec()));
    assert_eq!(read_through_grpc(&tikv, b"z").await, Some(b"z".to_vec()));
    c.shutdown().await;
}

/// How the in-process transport fails its writer ([`Hooks`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Death {
    /// Lives.
    None,
    /// Dies after every prewrite: its commits never arrive.
    AfterPrewrite,
    /// Dies while prewriting: the last mutation never arrives, and the
    /// writer hears nothing back.
    DuringPrewrite,
    /// Lives, and (as a slow writer elsewhere) commits transaction
    /// `.0` at `.1` on its primary `k1` just before a reader's
    /// CheckSecondaryLocks reaches the store.
    CommitsPrimaryWhenChecked(u64, u64),
}

fn died() -> Error {
    Error::Rpc {
        kind: ErrorKind::Other,
        message: "the writer died (injected)".into(),
        undetermined: true,
    }
}

impl Hooks for Death {
    async fn prewrite(&self, t: &Inproc, req: &PrewriteRequest) -> Result<PrewriteResult, Error> {
        if *self != Death::DuringPrewrite {
            return t.prewrite(req).await;
        }
        let mut part = req.clone();
        part.mutations.pop();
        t.prewrite(&part).await?;
        Err(died())
    }
    async fn commit(
        &self,
        t: &Inproc,
        keys: &[Vec<u8>],
        start: u64,
        commit: u64,
    ) -> Result<u64, Error> {
        match self {
            Death::None | Death::CommitsPrimaryWhenChecked(..) => {
                t.commit(keys, start, commit).await
            }
            _ => Err(died()),
        }
    }
    async fn batch_rollback(&self, t: &Inproc, k: &[Vec<u8>], s: u64) -> Result<(), Error> {
        match self {
            Death::None | Death::CommitsPrimaryWhenChecked(..) => t.batch_rollback(k, s).await,
            _ => Err(died()),
        }
    }
    async fn check_secondary_locks(
        &self,
        t: &Inproc,
        k: &[Vec<u8>],
        s: u64,
    ) -> Result<SecondaryLocks, Error> {
        if let Death::CommitsPrimaryWhenChecked(start, commit) = *self {
            t.commit(&[b"k1".to_vec()], start, commit).await?;
        }
        t.check_secondary_locks(k, s).await
    }
}

/// Locks that expire at once.
fn short_locks() -> TxnOptions {
    TxnOptions {
        lock_ttl: 1,
        ..TxnOptions::default()
    }
}

const KEYS: [&[u8]; 3] = [b"k1", b"k2", b"k3"];

/// An async-commit transaction writing KEYS through a writer that dies as
/// `death` says; the start_ts and what its commit returned.
async fn crashed_writer(s: &Arc<Storage>, death: Death) -> (u64, Result<u64, Error>) {
    let t = Hooked(Inproc::new(s.clone()), death);
    let commit = mode(LockMode::Optimistic, CommitMode::Async);
    let mut txn = Txn::begin(&t, commit, short_locks()).await.expect("begin");
    for k in KEYS {
        txn.put(k, b"new");
    }
    let r = txn.commit(&mut Events::default()).await;
    (txn.start_ts(), r)
}

#[tokio::test]
async fn a_crashed_async_commit_with_every_key_prewritten_is_resolved_committed() {
    let s = Arc::new(Storage::default());
    let (start_ts, r) = crashed_writer(&s, Death::AfterPrewrite).await;
    let commit_ts = r.expect("committed at its commit point, whatever follows");
    let locks: Vec<_> = KEYS
        .iter()
        .map(|k| s.lock_info(k).expect("locked"))
        .collect();
    assert!(locks.iter().all(|l| l.use_async_commit));
    let max_min = locks.iter().map(|l| l.min_commit_ts).max().unwrap();
    assert_eq!(commit_ts, max_min, "commit_ts = the largest min_commit_ts");
    tokio::time::sleep(Duration::from_millis(20)).await;

    let t = Inproc::new(s.clone());
    let mut ev = Events::default();
    let mut reader = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("begin");
    assert_eq!(reader.get(b"k2", &mut ev).await, Ok(Some(b"new".to_vec())));
    assert_eq!(ev.get("async_commit_recoveries"), 1, "{ev:?}");
    assert_eq!(s.lock_count(), 0, "every key resolved");
    for k in KEYS {
        assert_eq!(s.kv_get(k, commit_ts, &[]), Ok(Some(b"new".to_vec())));
        assert_eq!(s.kv_get(k, commit_ts - 1, &[]), Ok(None), "not before");
    }
    assert!(start_ts < commit_ts);
}

/// An async primary whose secondary is a two-phase lock (what a store's
/// fallback past max_commit_ts leaves) is settled by its primary, asked
/// again with force_sync_commit, as client-go does. Here the writer commits
/// the primary while the reader looks at the secondaries: the reader must
/// commit the secondary too, not roll it back.
#[tokio::test]
async fn a_two_phase_secondary_of_an_async_primary_follows_the_primary() {
    let s = Arc::new(Storage::default());
    let start_ts = s.timestamp();
    let primary = PrewriteRequest {
        mutations: vec![Mutation::put(b"k1", b"new")],
        primary_lock: b"k1".to_vec(),
        start_version: start_ts,
        lock_ttl: 1,
        txn_size: 2,
        min_commit_ts: start_ts + 1,
        use_async_commit: true,
        secondaries: vec![b"k2".to_vec()],
        ..PrewriteRequest::default()
    };
    s.prewrite(&primary).expect("primary");
    let secondary = PrewriteRequest {
        mutations: vec![Mutation::put(b"k2", b"new")],
        use_async_commit: false,
        secondaries: Vec::new(),
        ..primary
    };
    s.prewrite(&secondary).expect("secondary");
    assert!(!s.lock_info(b"k2").expect("locked").use_async_commit);
    let commit_ts = s.timestamp();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let racing = Death::CommitsPrimaryWhenChecked(start_ts, commit_ts);
    let t = Hooked(Inproc::new(s.clone()), racing);
    let mut ev = Events::default();
    let mut reader = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("begin");
    assert_eq!(reader.get(b"k2", &mut ev).await, Ok(Some(b"new".to_vec())));
    assert_eq!(s.lock_count(), 0, "{ev:?}");
    for k in [b"k1", b"k2"] {
        assert_eq!(s.kv_get(k, commit_ts, &[]), Ok(Some(b"new".to_vec())));
    }
}

#[tokio::test]
async fn a_crashed_async_commit_missing_a_secondary_is_resolved_rolled_back() {
    let s = Arc::new(Storage::default());
    let (start_ts, r) = crashed_writer(&s, Death::DuringPrewrite).await;
    assert!(r.expect_err("the writer heard nothing").undetermined());
    assert!(s.lock_info(b"k3").is_none(), "never prewritten");
    tokio::time::sleep(Duration::from_millis(20)).await;

    let t = Inproc::new(s.clone());
    let mut ev = Events::default();
    let mut reader = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("begin");
    assert_eq!(reader.get(b"k1", &mut ev).await, Ok(None));
    assert_eq!(ev.get("async_commit_recoveries"), 1, "{ev:?}");
    assert_eq!(s.lock_count(), 0, "every key resolved");
    // The missing key's prewrite, arriving late, can no longer succeed.
    let late = PrewriteRequest {
        mutations: vec![tikv_bench::storage::Mutation::put("k3", "new")],
        primary_lock: b"k1".to_vec(),
        start_version: start_ts,
        lock_ttl: 1,
        use_async_commit: true,
        ..PrewriteRequest::default()
    };
    assert!(s.prewrite(&late).is_err(), "the rollback protects it");
}

const ACCOUNTS: usize = 4;

fn account(i: usize) -> Vec<u8> {
    format!("acct{i}").into_bytes()
}

/// One async-commit transfer of `amount` from `from` to `to`, by a writer
/// that dies after its prewrite when `crash`. Errors (conflicts) are fine.
/// Whether it committed by async commit.
async fn transfer(s: Arc<Storage>, (from, to, amount, crash): (usize, usize, i64, bool)) -> bool {
    let death = if crash {
        Death::AfterPrewrite
    } else {
        Death::None
    };
    let t = Hooked(Inproc::new(s), death);
    let commit = mode(LockMode::Optimistic, CommitMode::Async);
    let mut ev = Events::default();
    let Ok(mut txn) = Txn::begin(&t, commit, short_locks()).await else {
        return false;
    };
    let (a, b) = (account(from), account(to));
    let (Ok(Some(x)), Ok(Some(y))) = (txn.get(&a, &mut ev).await, txn.get(&b, &mut ev).await)
    else {
        return false;
    };
    let parse = |v: Vec<u8>| String::from_utf8(v).unwrap().parse::<i64>().unwrap();
    txn.put(&a, (parse(x) - amount).to_string().as_bytes());
    txn.put(&b, (parse(y) + amount).to_string().as_bytes());
    let _ = txn.commit(&mut ev).await;
    ev.get(ASYNC_COMMITS) == 1
}

/// The bank's total, read once every lock has been resolved.
async fn total(s: &Arc<Storage>) -> i64 {
    let t = Inproc::new(s.clone());
    let keys: Vec<Vec<u8>> = (0..ACCOUNTS).map(account).collect();
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("begin");
    let values = txn
        .batch_get(&keys, &mut Events::default())
        .await
        .expect("read");
    values
        .into_iter()
        .map(|v| {
            String::from_utf8(v.expect("account"))
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum()
}

fn transfers() -> impl Strategy<Value = Vec<(usize, usize, i64, bool)>> {
    let one = (
        0..ACCOUNTS,
        1..ACCOUNTS,
        1i64..50,
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(from, step, amount, crash)| (from, (from + step) % ACCOUNTS, amount, crash));
    proptest::collection::vec(one, 4..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_async_commit_transfers_with_crashes_keep_the_total(plan in transfers()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let sum = rt.block_on(async {
            let s = Arc::new(Storage::default());
            let t = Inproc::new(s.clone());
            let mut init = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
                .await
                .expect("begin");
            for i in 0..ACCOUNTS {
                init.put(&account(i), b"100");
            }
            init.commit(&mut Events::default()).await.expect("init");
            let mut all = tokio::task::JoinSet::new();
            for &p in &plan {
                all.spawn(transfer(s.clone(), p));
            }
            let async_commits = all.join_all().await.into_iter().filter(|a| *a).count();
            tokio::time::sleep(Duration::from_millis(5)).await;
            (total(&s).await, async_commits)
        });
        prop_assert_eq!(sum.0, 100 * ACCOUNTS as i64);
        prop_assert!(sum.1 > 0, "some transfer committed by async commit");
    }
}

#[tokio::test]
async fn async_commit_falls_back_to_two_phases_past_its_limits() {
    let s = Arc::new(Storage::default());
    let t = Inproc::new(s.clone());
    let commit = mode(LockMode::Optimistic, CommitMode::Async);

    // A read far ahead raises the store's max_ts past any max_commit_ts
    // our safe window allows: the store falls back, and so do we.
    let ahead = s.timestamp() + compose(60_000, 0);
    s.kv_get(b"other", ahead, &[]).expect("read");
    let mut ev = Events::default();
    let mut txn = Txn::begin(&t, commit, TxnOptions::default()).await.unwrap();
    txn.put(b"a", b"1");
    txn.put(b"b", b"1");
    let ts = txn.commit(&mut ev).await.expect("committed in two phases");
    assert_eq!(ev.get(ASYNC_COMMIT_FALLBACKS), 1, "{ev:?}");
    assert_eq!(ev.get(ASYNC_COMMITS), 0);
    assert_eq!(s.lock_count(), 0);
    assert_eq!(s.kv_get(b"b", ts, &[]), Ok(Some(b"1".to_vec())));

    // More keys than client-go's limit: two phases from the start.
    let mut ev = Events::default();
    let mut txn = Txn::begin(&t, commit, TxnOptions::default()).await.unwrap();
    for i in 0..=ASYNC_COMMIT_KEYS {
        txn.put(format!("many{i:04}").as_bytes(), b"1");
    }
    txn.commit(&mut ev).await.expect("committed in two phases");
    assert_eq!(ev.get(ASYNC_COMMIT_FALLBACKS), 1, "{ev:?}");
    assert_eq!(s.lock_count(), 0);
}

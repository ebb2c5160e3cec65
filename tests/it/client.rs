//! Our TiKV client against the stand-in: workloads under faults with every
//! op accounted for, PD endpoints that are dead or die, the region cache's
//! reactions to splits and leader moves, TSO batching, raw calls against a
//! model across many regions, bank transfers in both lock modes, and
//! heartbeats that keep a long transaction alive.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tikv_bench::backend::{Backend, ErrorKind, Events, LockMode, Op, OpError, Outcome, TargetInfo};
use tikv_bench::client::stats::Reason;
use tikv_bench::client::{Error, Stats, Tikv, Transport, Txn, TxnOptions};
use tikv_bench::cluster::{Cluster, RunningCluster};
use tikv_bench::metrics::RunResult;
use tikv_bench::storage::CheckTxnStatusRequest;
use tikv_bench::workload::Workload;

use crate::client_util::*;
use crate::util;

// ---- workloads under faults -------------------------------------------

/// Counts the attempts the driver makes outside the load phase.
struct Counting<B> {
    inner: B,
    attempts: Arc<AtomicU64>,
}

impl<B: Backend> Backend for Counting<B> {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        if !matches!(op, Op::BatchPut { .. } | Op::TxnBatchPut { .. }) {
            self.attempts.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.execute(op, events).await
    }

    fn target(&self) -> TargetInfo {
        self.inner.target()
    }
}

/// Sum of one event over every op.
fn event(r: &RunResult, name: &str) -> u64 {
    r.ops.values().filter_map(|o| o.events.get(name)).sum()
}

/// Runs a shipped workload, shortened to `measured`, through our client
/// against a stand-in with the test faults (the outage `outage_at` after
/// the cluster starts). Checks that every attempt is an op or a retry,
/// that failures add up by kind, and that the run ends in time.
async fn run_under_faults(
    file: &str,
    measured: Duration,
    outage_at: Duration,
) -> (RunResult, RunningCluster) {
    let mut w =
        Workload::load(&util::root().join("workloads").join(file)).expect("shipped workload");
    util::shorten(&mut w, measured);
    w.load.records = w.load.records.min(500);
    w.cluster = config(3, 400);
    w.cluster.faults = faults(outage_at);
    let c = Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in starts");
    let attempts = Arc::new(AtomicU64::new(0));
    let backend = Counting {
        inner: backend(&c, &w.client).await,
        attempts: attempts.clone(),
    };
    let r = util::run(&w, backend).await;

    let mut ops = 0;
    let mut tries = 0;
    for (name, o) in &r.ops {
        let by_kind: u64 = o.errors.values().sum();
        assert_eq!(
            by_kind,
            o.failed + o.unknown,
            "{file} {name}: errors by kind add up"
        );
        ops += o.ok + o.failed + o.unknown;
        tries += o.ok + o.failed + o.unknown + o.retries;
    }
    assert!(ops > 0, "{file}: ops ran");
    assert_eq!(r.measured.ops, ops, "{file}: every op is counted once");
    assert_eq!(
        tries,
        attempts.load(Ordering::Relaxed),
        "{file}: every attempt is an op or a retry"
    );
    let limit = measured + w.client.retry.budget + Duration::from_secs(1);
    assert!(
        r.measured.duration_s < limit.as_secs_f64(),
        "{file}: the run stalled: {}s",
        r.measured.duration_s
    );
    (r, c)
}

/// The faults happened, and our client saw them as reroutes by kind.
fn assert_rerouted(file: &str, r: &RunResult, c: &RunningCluster) {
    let f = c.cluster().fault_counts();
    assert!(f.splits > 0 && f.leader_transfers > 0, "{file}: {f:?}");
    assert!(f.busy_answers > 0 && f.outages == 1, "{file}: {f:?}");
    assert!(event(r, "region_cache_hits") > 0, "{file}");
    let rerouted = event(r, "reroute_not_leader") + event(r, "reroute_epoch_not_match");
    assert!(
        rerouted > 0,
        "{file}: no reroute after splits and transfers"
    );
    assert!(
        event(r, "retry_server_is_busy") > 0,
        "{file}: busy answers not retried"
    );
    assert!(
        event(r, "backoff_server_is_busy_us") > 0,
        "{file}: no backoff recorded"
    );
    // The offline store may lead only regions nobody asked for during its
    // outage; when it refused a request, the client saw it.
    if f.unavailable_answers > 0 {
        let met = event(r, "reroute_store_unavailable")
            + r.ops
                .values()
                .filter_map(|o| o.errors.get("unavailable"))
                .sum::<u64>();
        assert!(met > 0, "{file}: the offline store's answers went unseen");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_through_the_client_under_faults() {
    let (r, c) = run_under_faults(
        "quickstart.yaml",
        Duration::from_millis(2500),
        Duration::from_millis(900),
    )
    .await;
    assert_rerouted("quickstart", &r, &c);
    assert!(
        event(&r, "reroute_store_unavailable") > 0,
        "the offline store was never met"
    );
    assert_eq!(r.ops.len(), 7);
    for (name, o) in &r.ops {
        assert!(o.ok > 0, "quickstart {name}: no successes");
    }
    assert!(event(&r, "rows") > 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_workloads_run_through_the_client_under_faults() {
    for file in ["contention-optimistic.yaml", "contention-pessimistic.yaml"] {
        let (r, c) = run_under_faults(
            file,
            Duration::from_millis(2000),
            Duration::from_millis(700),
        )
        .await;
        assert_rerouted(file, &r, &c);
        assert!(r.ops["txn"].ok > 0, "{file}: no transaction committed");
        if file.contains("pessimistic") {
            assert!(event(&r, "lock_waits") > 0, "{file}: no lock wait reported");
            assert!(event(&r, "lock_wait_us") > 0, "{file}");
        }
        c.shutdown().await;
    }
}

// ---- PD endpoints --------------------------------------------------------

/// An address on 127.0.0.1 that nothing listens on (bound, then closed).
fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn a_dead_pd_endpoint_is_passed_over_for_a_live_one() {
    let c = start(config(2, 1_000_000)).await;
    let dead = dead_address();
    let live = c.pd_addr().to_string();
    let tikv = Tikv::connect(&[dead.clone(), live.clone()], client_config())
        .await
        .expect("connects through the live endpoint");
    assert_eq!(tikv.pd().leader_url(), format!("http://{live}"));
    assert_eq!(tikv.pd().cluster_id(), tikv_bench::cluster::CLUSTER_ID);
    let s = Stats::default();
    let raw = tikv.raw();
    raw.put(&cx(&s, true), b"k", b"v").await.unwrap();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert!(tikv.pd().timestamp().await.unwrap() > 0);

    let err = Tikv::connect(std::slice::from_ref(&dead), client_config())
        .await
        .expect_err("nothing answers");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains(&dead), "{err}");
    c.shutdown().await;
}

#[tokio::test]
async fn the_client_fails_over_when_its_pd_stops_answering() {
    // Two stand-ins share the fixed cluster id, so for PD calls they can
    // stand for two members of one cluster.
    let a = start(config(1, 1_000_000)).await;
    let b = start(config(1, 1_000_000)).await;
    let tikv = Tikv::connect(
        &[a.pd_addr().to_string(), b.pd_addr().to_string()],
        client_config(),
    )
    .await
    .unwrap();
    assert_eq!(tikv.pd().leader_url(), format!("http://{}", a.pd_addr()));
    let t1 = tikv.pd().timestamp().await.unwrap();
    a.shutdown().await;
    let t2 = tikv
        .pd()
        .timestamp()
        .await
        .expect("a timestamp from the other PD");
    assert!(t2 > t1);
    assert_eq!(tikv.pd().leader_url(), format!("http://{}", b.pd_addr()));
    assert!(tikv.pd().counters().reconnects.load(Ordering::Relaxed) >= 1);
    tikv.pd()
        .get_region(b"x")
        .await
        .expect("region calls go to the other PD too");
    b.shutdown().await;
}

// ---- region cache ------------------------------------------------------

fn region_requests(t: &Tikv) -> u64 {
    t.pd().counters().region_requests.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_split_answers_epoch_not_match_and_the_route_is_refreshed() {
    let c = start(config(3, 1_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = Stats::default();
    raw.put(&cx(&s, true), b"k1", b"one").await.unwrap();
    raw.put(&cx(&s, true), b"k5", b"five").await.unwrap();
    assert_eq!(tikv.cache().len(), 1);
    let asked = region_requests(&tikv);

    let left = c.split_at(b"k3").unwrap();
    let s = Stats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k5").await.unwrap(),
        Some(b"five".to_vec())
    );
    assert_eq!(s.retries(Reason::EpochNotMatch), 1, "{:?}", events(&s));
    let now = c.regions().locate(b"k5");
    let cached = tikv.cache().region_for(b"k5").unwrap();
    assert_eq!((cached.id, cached.version), (now.id, now.version));
    assert_eq!(tikv.cache().len(), 2, "both halves came with the error");
    assert_eq!(
        region_requests(&tikv),
        asked,
        "no PD call: current_regions sufficed"
    );

    // The left half was cached with a guessed leader; a wrong guess costs
    // one NotLeader, answered by its hint.
    let s = Stats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k1").await.unwrap(),
        Some(b"one".to_vec())
    );
    assert_eq!(s.retries(Reason::EpochNotMatch), 0);
    assert_eq!(tikv.cache().region_for(b"k1").unwrap().id, left);
    assert_eq!(
        tikv.cache().region_for(b"k1").unwrap().leader.1,
        c.regions().get(left).unwrap().leader
    );
    assert_eq!(region_requests(&tikv), asked);
    c.shutdown().await;
}

#[tokio::test]
async fn not_leader_with_a_hint_moves_the_leader_without_asking_pd() {
    let c = start(config(3, 1_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = Stats::default();
    raw.put(&cx(&s, true), b"k", b"v").await.unwrap();
    let asked = region_requests(&tikv);
    let region = c.regions().locate(b"k");
    let other = region
        .peers
        .iter()
        .map(|p| p.store_id)
        .find(|&s| s != region.leader)
        .unwrap();
    c.regions().transfer_leader(region.id, other).unwrap();

    let s = Stats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(s.retries(Reason::NotLeader), 1);
    assert_eq!(s.hits(), 2, "both attempts were routed from the cache");
    assert_eq!(
        events(&s).get("backoff_not_leader_us"),
        0,
        "a hint needs no backoff"
    );
    assert_eq!(tikv.cache().get(region.id).unwrap().leader.1, other);
    assert_eq!(region_requests(&tikv), asked, "no PD call");
    c.shutdown().await;
}

#[tokio::test]
async fn an_offline_store_drops_its_regions_until_pd_moves_them() {
    let mut cfg = config(2, 1_000_000);
    cfg.faults.store_offline = Some(tikv_bench::cluster::config::Outage {
        store: 1,
        after: Duration::from_millis(200),
        duration: Duration::from_millis(1500),
        failover: Duration::from_millis(300),
    });
    let c = start(cfg).await;
    // Enough attempts to outlast the 300 ms until the failover.
    let mut patient = client_config();
    patient.retry.max_attempts = 100;
    let tikv = Tikv::connect(&[c.pd_addr().to_string()], patient)
        .await
        .unwrap();
    let raw = tikv.raw();
    let s = Stats::default();
    raw.put(&cx(&s, true), b"k", b"v").await.unwrap();
    assert_eq!(tikv.cache().region_for(b"k").unwrap().leader.1, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Store 1 answers Unavailable; after the failover PD names store 2.
    let s = Stats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert!(s.retries(Reason::StoreUnavailable) >= 1, "{:?}", events(&s));
    assert!(events(&s).get("backoff_store_unavailable_us") > 0);
    assert_eq!(tikv.cache().region_for(b"k").unwrap().leader.1, 2);
    c.shutdown().await;
}

// ---- TSO ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_timestamps_are_distinct_increasing_and_batched() {
    let c = start(config(1, 1_000_000)).await;
    let tikv = Arc::new(connect(&c).await);
    let rpcs = |t: &Tikv| t.pd().counters().tso_rpcs.load(Ordering::Relaxed);
    let before = rpcs(&tikv);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let t = tikv.clone();
        set.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..8 {
                got.push(t.pd().timestamp().await.expect("timestamp"));
            }
            got
        });
    }
    let mut all = BTreeSet::new();
    while let Some(got) = set.join_next().await {
        let got = got.unwrap();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "each caller's increase"
        );
        all.extend(got);
    }
    assert_eq!(all.len(), 64 * 8, "all distinct");
    let sent = rpcs(&tikv) - before;
    assert!(
        sent < 64 * 8,
        "{sent} TSO requests for {} timestamps",
        64 * 8
    );
    assert_eq!(
        tikv.pd().counters().tso_streams.load(Ordering::Relaxed),
        1,
        "one stream"
    );
    c.shutdown().await;
}

// ---- raw calls against a model -----------------------------------------

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn model_scan(m: &Model, start: &[u8], end: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.range(start.to_vec()..)
        .take_while(|(k, _)| end.is_empty() || k.as_slice() < end)
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_calls_across_many_regions_match_a_model() {
    let c = start(churning(config(3, 150))).await;
    for i in (200..3000).step_by(200) {
        c.split_at(&key(i)).unwrap();
    }
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut model = Model::new();
    let s = Stats::default();
    for chunk in (0..3000).collect::<Vec<_>>().chunks(250) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|&i| (key(i), format!("v{i}").into_bytes()))
            .collect();
        raw.batch_put(&cx(&s, true), &pairs).await.unwrap();
        model.extend(pairs);
    }
    let doomed: Vec<Vec<u8>> = (0..3000).step_by(7).map(key).collect();
    raw.batch_delete(&cx(&s, true), &doomed).await.unwrap();
    for k in &doomed {
        model.remove(k);
    }
    raw.delete_range(&cx(&s, true), &key(1000), &key(1400))
        .await
        .unwrap();
    model
        .retain(|k, _| k.as_slice() < key(1000).as_slice() || k.as_slice() >= key(1400).as_slice());

    for round in 0..150 {
        let start = key(rng.random_range(0..3100));
        let end = match round % 3 {
            0 => Vec::new(),
            _ => key(rng.random_range(0..3200)),
        };
        let limit = rng.random_range(1..600);
        let got = raw.scan(&cx(&s, false), &start, &end, limit).await.unwrap();
        assert_eq!(
            got,
            model_scan(&model, &start, &end, limit as usize),
            "scan from {} to {} limit {limit}",
            start.escape_ascii(),
            end.escape_ascii()
        );
    }
    // A bounded scan ending in the last region that finds fewer rows than
    // its limit ends there (the official client's suspected quirk).
    let got = raw
        .scan(&cx(&s, false), &key(2990), &key(9999), 100)
        .await
        .unwrap();
    assert_eq!(got, model_scan(&model, &key(2990), &key(9999), 100));

    let wanted: Vec<Vec<u8>> = (0..200).map(|_| key(rng.random_range(0..3000))).collect();
    let mut got = raw.batch_get(&cx(&s, false), &wanted).await.unwrap();
    got.sort();
    got.dedup();
    let want: Vec<_> = wanted
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|k| model.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    assert_eq!(got, want);

    let k = key(1);
    let swap = raw
        .compare_and_swap(&cx(&s, true), &k, Some(b"wrong"), b"x")
        .await
        .unwrap();
    assert!(!swap.succeed);
    assert_eq!(swap.previous, Some(b"v1".to_vec()));
    let swap = raw
        .compare_and_swap(&cx(&s, true), &k, Some(b"v1"), b"x")
        .await
        .unwrap();
    assert!(swap.succeed);
    let swap = raw
        .compare_and_swap(&cx(&s, true), &key(0), None, b"new")
        .await
        .unwrap();
    assert!(swap.succeed, "k00000 was deleted, so absent");
    assert_eq!(
        raw.get(&cx(&s, false), &key(0)).await.unwrap(),
        Some(b"new".to_vec())
    );

    assert!(c.regions().len() > 15, "{} regions", c.regions().len());
    let e = events(&s);
    assert!(e.get("region_cache_hits") > 0);
    c.shutdown().await;
}

// ---- transactions ------------------------------------------------------

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
    tikv: &Tikv,
    lock: LockMode,
    from: usize,
    to: usize,
    amount: i64,
    ev: &mut Events,
) -> Result<(), Error> {
    let stats = Stats::default();
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
    let stats = Stats::default();
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
    let stats = Stats::default();
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
            let stats = Stats::default();
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
    let stats = Stats::default();
    let t = tikv.transport(cx(&stats, true));
    let mut ev = Events::default();
    let mut a = Txn::begin(&t, LockMode::Pessimistic, short).await.unwrap();
    a.get_for_update(b"a", &mut ev).await.unwrap();
    let start_ts = a.start_ts();
    let prober = {
        let tikv = tikv.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let stats = Stats::default();
            let t = tikv.transport(cx(&stats, false));
            let now = t.timestamp().await.unwrap();
            t.check_txn_status(&CheckTxnStatusRequest {
                primary_key: b"a".to_vec(),
                lock_ts: start_ts,
                caller_start_ts: 0,
                current_ts: now,
                rollback_if_not_exist: true,
                resolving_pessimistic_lock: true,
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

// ---- run targets ---------------------------------------------------------

const TINY: &str = "name: tiny
load: {records: 200, batch: 50}
warmup: 0s
duration: 600ms
concurrency: 4
ops:
  - {name: read, type: get, weight: 5}
  - {name: write, type: put, weight: 3}
  - {name: move, type: txn, weight: 2, writes: 2}
cluster:
  stores: 2
  region_max_keys: 50
  faults: {split_every: 100ms, transfer_leader_every: 100ms}
";

/// Runs the binary on the tiny workload with `extra` flags; returns the
/// result file and stdout, or the exit code and stderr.
fn run_tiny(extra: &[&str]) -> Result<(serde_json::Value, String), (Option<i32>, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.yaml");
    std::fs::write(&file, TINY).unwrap();
    let out = dir.path().join("out");
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-report",
        "--progress",
        "off",
    ];
    args.extend_from_slice(extra);
    let o = std::process::Command::new(util::bin())
        .args(&args)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err((
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
    }
    let text = std::fs::read_to_string(out.join("result.json")).unwrap();
    Ok((
        serde_json::from_str(&text).unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    ))
}

#[test]
fn run_drives_the_embedded_cluster_by_default_and_records_it() {
    let (r, stdout) = run_tiny(&[]).expect("run succeeds");
    assert!(stdout.contains("tiny on embedded"), "{stdout}");
    assert_eq!(r["target"]["kind"], "embedded");
    let cluster = &r["cluster"];
    assert_eq!(cluster["pd"].as_array().unwrap().len(), 1);
    let regions = |at: &str| cluster[at]["regions"].as_array().unwrap().len();
    assert!(regions("start") >= 1);
    assert!(regions("end") > regions("start"), "the split fault ran");
    assert!(
        cluster["end"]["faults"]["counts"]["splits"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(cluster["end"]["stores"].as_array().unwrap().len(), 2);
    for op in ["read", "write", "move"] {
        assert!(r["ops"][op]["ok"].as_u64().unwrap() > 0, "{op}");
        assert!(
            r["ops"][op]["events"]["region_cache_hits"]
                .as_u64()
                .unwrap()
                > 0,
            "{op}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_pd_drives_an_external_cluster() {
    let c = start(config(2, 1_000_000)).await;
    let pd = format!("{},{}", dead_address(), c.pd_addr());
    let outcome = tokio::task::spawn_blocking(move || run_tiny(&["--pd", &pd]))
        .await
        .unwrap();
    let (r, _) = outcome.expect("run succeeds");
    assert_eq!(r["target"]["kind"], "external");
    let desc = r["target"]["description"].as_str().unwrap();
    assert!(desc.contains(&c.pd_addr().to_string()), "{desc}");
    assert_eq!(r["cluster"]["pd"].as_array().unwrap().len(), 2);
    let end = &r["cluster"]["end"];
    assert_eq!(end["stores"].as_array().unwrap().len(), 2);
    assert!(!end["regions"].as_array().unwrap().is_empty());
    assert_eq!(end["pd"], format!("http://{}", c.pd_addr()));
    assert!(end["client"]["tso_rpcs"].as_u64().unwrap() > 0);
    assert!(r["ops"]["move"]["ok"].as_u64().unwrap() > 0);
    c.shutdown().await;
}

#[test]
fn contradictory_targets_exit_2() {
    for flags in [
        &["--target", "inproc", "--pd", "127.0.0.1:1"][..],
        &["--target", "external"][..],
    ] {
        let (code, err) = run_tiny(flags).expect_err("refused");
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(err.contains("--pd"), "{err}");
    }
}

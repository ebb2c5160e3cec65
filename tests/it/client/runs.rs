//! Shipped workloads through our client under splits, leader transfers, an
//! outage and busy answers, with every op accounted for; and the `run`
//! targets end to end (embedded by default, external with `--pd`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tikv_bench::backend::{Backend, Operation, TargetInfo};

use tikv_bench::cluster::{Cluster, RunningCluster};
use tikv_bench::metrics::RunResult;
use tikv_bench::vocab::{Events, OpError, Outcome};
use tikv_bench::workload::Workload;

use crate::client_util::*;
use crate::util;

/// Counts the attempts the driver makes outside the load phase.
struct Counting<B> {
    inner: B,
    attempts: Arc<AtomicU64>,
}

impl<B: Backend> Backend for Counting<B> {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        if !op.bulk() {
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
    // Every request the client sent again is in its op's client retry
    // total: exactly the reroutes and busy retries for raw ops, and those
    // plus the lock requests sent again for transactions.
    for (name, o) in &r.ops {
        let resent: u64 = o
            .events
            .iter()
            .filter(|(k, _)| k.starts_with("reroute_") || *k == "retry_server_is_busy")
            .map(|(_, n)| n)
            .sum();
        let total = o.events.get("client_retries").copied().unwrap_or(0);
        if o.op_type == "txn" {
            assert!(total >= resent, "{file} {name}: {total} < {resent}");
        } else {
            assert_eq!(total, resent, "{file} {name}");
        }
    }
    assert!(
        event(r, "client_retries") > 0,
        "{file}: no client retry counted"
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

const TINY: &str = "name: tiny
keys: {txn_prefix: acct}
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

/// `batch_get` reads every key of each batch through our client while
/// regions split and leaders move (a batch crosses regions and is cut by
/// region), and through the memory map's one-call read: every key of the
/// preloaded space is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_get_finds_every_preloaded_key_across_churning_regions() {
    let yaml = "name: bg\nkeys: {records: 2000}\noperations: 300\nconcurrency: 4\nops:\n  - {type: batch_get, keys: 16, weight: 1}\n";
    let w = util::workload(yaml);
    let c = start(churning(config(3, 150))).await;
    let on_client = util::run(&w, backend(&c, &w.client).await).await;
    let in_memory = util::run(&w, tikv_bench::backend::MemoryBackend::new()).await;
    for r in [&on_client, &in_memory] {
        let o = &r.ops["batch_get"];
        assert_eq!(
            (o.ok, o.failed, o.unknown),
            (300, 0, 0),
            "{}",
            r.target.kind
        );
        assert_eq!(o.events["keys_found"], 300 * 16, "{}", r.target.kind);
    }
    c.shutdown().await;
}

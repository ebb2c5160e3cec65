//! Every check passes on the stand-in under faults (splits, leader
//! transfers, a store offline for a second, busy answers), through our
//! gRPC client, in every mode it has.

use std::time::Duration;

use tikv_bench::cluster::Cluster;
use tikv_bench::metrics::RunResult;

use super::{figure, verdict, verdicts};
use crate::client_util::{backend, client_config, config, faults};
use crate::util::{run, workload};

/// Runs `checks` beside `mix` for 1.2 s on a faulty stand-in; asserts that
/// the faults happened and that every check passed.
async fn under_faults(name: &str, mix: &str, checks: &str) -> RunResult {
    under_faults_with(name, mix, checks, |_| {}).await
}

async fn under_faults_with(
    name: &str,
    mix: &str,
    checks: &str,
    adjust: impl FnOnce(&mut tikv_bench::workload::Workload),
) -> RunResult {
    let yaml = format!(
        "name: {name}\nkeys: {{records: 400}}\nduration: 1200ms\nconcurrency: 8\nops:{mix}\nchecks:\n{checks}  every: 100ms\n"
    );
    let mut w = workload(&yaml);
    // The test's client settings, in the atomic mode the workload chose
    // (on with a CAS check).
    w.client = tikv_bench::client::ClientConfig {
        atomic: w.client.atomic,
        ..client_config()
    };
    w.client.retry.max_attempts = 50;
    w.cluster = config(3, 150);
    w.cluster.faults = faults(Duration::from_millis(300));
    adjust(&mut w);
    let c = Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in starts");
    let r = run(&w, backend(&c, &w.client).await).await;
    let f = c.cluster().fault_counts();
    assert!(
        f.splits > 0 && f.leader_transfers > 0 && f.outages == 1,
        "{name}: {f:?}"
    );
    if w.cluster.gc_life_time <= SHORT_GC {
        // The GC worker ran beside the faults and the checks.
        let gc = &c.snapshot()["gc"];
        assert!(gc["passes"].as_u64() > Some(0), "{name}: {gc}");
        assert!(gc["safe_point"].as_u64() > Some(0), "{name}: {gc}");
    }
    c.shutdown().await;
    for v in verdicts(&r) {
        assert!(v.passed, "{name}: {v}\n{:#?}", v.violations);
    }
    r
}

/// A GC life time short enough that the GC worker collects within a run.
const SHORT_GC: Duration = Duration::from_secs(1);

/// Bank (both lock modes), readback and scan with the GC worker collecting
/// at a safe point 1 s behind now (the shortest life time a workload may
/// set), beside the faults: a snapshot read retried through the outage
/// may be older than that, and must then fail `gc_too_early`, not come
/// back with versions the GC collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_readback_and_scan_pass_under_faults_with_gc_running() {
    let short_gc = |w: &mut tikv_bench::workload::Workload| {
        w.cluster.gc_life_time = SHORT_GC;
    };
    for lock in ["optimistic", "pessimistic"] {
        let checks = format!("  bank: {{accounts: 6, initial: 100, lock: {lock}}}\n");
        let r = under_faults_with(&format!("gc-bank-{lock}"), READS, &checks, short_gc).await;
        let v = verdict(&r, "bank");
        assert!(figure(&v, "transfers_acked") > 0, "{lock}: {v}");
        assert_eq!(figure(&v, "final_total"), 600);
    }
    let checks = "  readback: {}\n  scan: {}\n";
    let r = under_faults_with("gc-readback", MIX, checks, short_gc).await;
    assert!(figure(&verdict(&r, "scan"), "keys_scanned") > 100);
}

const READS: &str = "\n  - {type: get, weight: 2}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_passes_under_faults_in_both_lock_modes() {
    for lock in ["optimistic", "pessimistic"] {
        let checks = format!("  bank: {{accounts: 6, initial: 100, lock: {lock}}}\n");
        let r = under_faults(&format!("bank-{lock}"), READS, &checks).await;
        let v = verdict(&r, "bank");
        assert!(figure(&v, "transfers_acked") > 0, "{lock}: {v}");
        assert!(figure(&v, "snapshots") > 0, "{lock}: {v}");
        assert_eq!(figure(&v, "final_total"), 600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_passes_under_faults_in_every_mode() {
    for mode in ["cas", "optimistic", "pessimistic"] {
        let checks = format!("  inventory: {{stock: 150, mode: {mode}}}\n");
        let r = under_faults(&format!("inventory-{mode}"), READS, &checks).await;
        let v = verdict(&r, "inventory");
        assert!(figure(&v, "decrements_acked") > 0, "{mode}: {v}");
        assert!(figure(&v, "reads") > 0, "{mode}: {v}");
    }
}

/// How often the run's ops counted `event`.
fn counted(r: &RunResult, event: &str) -> u64 {
    let ops = r.ops.values();
    ops.map(|o| o.events.get(event).copied().unwrap_or(0)).sum()
}

/// Bank and the transactional inventory in both lock modes under async
/// commit and 1PC (2PC is the tests above): each commit mode was used,
/// and its fallbacks (1PC across regions, async past a split) kept the
/// checks whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_and_inventory_pass_under_faults_in_every_commit_mode() {
    for (commit, used) in [("async", "async_commits"), ("1pc", "one_pc_commits")] {
        for lock in ["optimistic", "pessimistic"] {
            let checks =
                format!("  bank: {{accounts: 6, initial: 100, lock: {lock}, commit: {commit}}}\n");
            let name = format!("bank-{lock}-{commit}");
            let r = under_faults(&name, READS, &checks).await;
            let v = verdict(&r, "bank");
            assert!(figure(&v, "transfers_acked") > 0, "{name}: {v}");
            assert_eq!(figure(&v, "final_total"), 600, "{name}");
            assert!(counted(&r, used) > 0, "{name}: {:?}", r.ops);
            let checks = format!("  inventory: {{stock: 150, mode: {lock}, commit: {commit}}}\n");
            let name = format!("inventory-{lock}-{commit}");
            let r = under_faults(&name, READS, &checks).await;
            let v = verdict(&r, "inventory");
            assert!(figure(&v, "decrements_acked") > 0, "{name}: {v}");
            assert!(counted(&r, used) > 0, "{name}: {:?}", r.ops);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_passes_under_faults_in_both_modes() {
    for mode in ["cas", "pessimistic"] {
        let checks = format!("  lock: {{mode: {mode}, hold: 2ms}}\n");
        let r = under_faults(&format!("lock-{mode}"), READS, &checks).await;
        let v = verdict(&r, "lock");
        assert!(figure(&v, "sections") > 10, "{mode}: {v}");
    }
}

const MIX: &str = "
  - {type: get, weight: 2}
  - {type: put, weight: 4}
  - {name: insert, type: put, insert: true, weight: 2}
  - {type: cas, weight: 1}
  - {type: batch_delete, batch: 3, weight: 1}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_pass_under_faults() {
    let r = under_faults("readback", MIX, "  readback: {}\n  scan: {}\n").await;
    let rb = verdict(&r, "readback");
    assert!(
        figure(&rb, "puts_acked") > 0 && figure(&rb, "deletes_acked") > 0,
        "{rb}"
    );
    let scan = verdict(&r, "scan");
    assert!(figure(&scan, "keys_scanned") > 100, "{scan}");
    assert!(figure(&scan, "must_not_exist") > 0, "{scan}");
}

/// Txns only (raw and transactional keys would share a range under API
/// V1): each writes one tagged value to 2 or 3 keys.
fn txn_mix(lock: &str, commit: &str) -> String {
    format!(
        "
  - {{type: txn, reads: 1, writes: 2, lock: {lock}, commit: {commit}, weight: 2}}
  - {{name: txn3, type: txn, writes: 3, lock: {lock}, commit: {commit}, weight: 1}}"
    )
}

/// Readback over transactional writes passes under the faults in every
/// commit mode and both lock modes: every key an acknowledged txn wrote
/// holds its value or a later one, read at one snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_of_txn_writes_passes_under_faults_in_every_commit_and_lock_mode() {
    for commit in ["2pc", "async", "1pc"] {
        for lock in ["optimistic", "pessimistic"] {
            let name = format!("readback-txn-{commit}-{lock}");
            let r = under_faults(&name, &txn_mix(lock, commit), "  readback: {}\n").await;
            let rb = verdict(&r, "readback");
            assert!(figure(&rb, "txns_acked") > 10, "{name}: {rb}");
            assert!(figure(&rb, "txn_keys") > 0, "{name}: {rb}");
            assert_eq!(figure(&rb, "keys"), 0, "{name}: {rb}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_check_workloads_pass_briefly_on_the_engine_in_process() {
    let files: Vec<_> = crate::util::shipped_workloads()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("check-")
        })
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    for path in files {
        let mut w = tikv_bench::workload::Workload::load(&path).unwrap();
        crate::util::shorten(&mut w, Duration::from_millis(400));
        let r = run(&w, tikv_bench::backend::InprocBackend::default()).await;
        assert!(!w.checks.is_empty(), "{}", path.display());
        for v in verdicts(&r) {
            assert!(v.passed, "{}: {v}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_with_unknown_outcomes_are_allowed_either_way() {
    // Every store request takes 40 ms and an op may take 70: a cas or a
    // decrement (a read, then the swap) or a retried write runs out of time
    // with a request in flight, so its outcome is unknown; the checks pass
    // all the same.
    let checks = "  inventory: {stock: 5000, weight: 1}\n  readback: {}\n  scan: {}\n";
    let r = under_faults_with("unknown", MIX, checks, |w| {
        w.client.retry.budget = Duration::from_millis(70);
        w.cluster.faults.latency =
            tikv_bench::cluster::config::Latency::same(Duration::from_millis(40));
        w.concurrency = 16;
    })
    .await;
    let unknown: u64 = r.ops.values().map(|o| o.unknown).sum();
    assert!(unknown > 0, "no op had an unknown outcome");
    let rb = verdict(&r, "readback");
    assert!(
        figure(&rb, "puts_unknown") + figure(&rb, "deletes_unknown") > 0,
        "{rb}"
    );
}

/// Txns that run out of time with a request in flight (every store
/// request takes 40 ms, a txn may take 300) have unknown outcomes: read
/// back, each is either whole or absent, and readback passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txns_with_unknown_outcomes_are_read_back_whole_or_not_at_all() {
    let r = under_faults_with(
        "unknown-txn",
        &txn_mix("optimistic", "2pc"),
        "  readback: {}\n",
        |w| {
            w.client.retry.budget = Duration::from_millis(300);
            w.cluster.faults.latency =
                tikv_bench::cluster::config::Latency::same(Duration::from_millis(40));
            w.concurrency = 16;
        },
    )
    .await;
    let rb = verdict(&r, "readback");
    assert!(figure(&rb, "txns_unknown") > 0, "{rb}");
    // Some txn's value was read back: acknowledged, or of unknown outcome
    // and so committed whole (how many of each varies with the load).
    let committed = figure(&rb, "txns_acked") + figure(&rb, "txns_unknown_committed");
    assert!(committed > 0, "{rb}");
}

/// Readback and scan pass on a V1TTL stand-in whose puts and CAS carry a
/// 1 s TTL: over a 3.5 s run the early values expire (read back absent,
/// which is no lost write), the late ones may or may not have, and the
/// puts without a TTL stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_pass_with_ttl_puts_that_expire() {
    let yaml = "name: ttl\nkeys: {records: 20000}\nload: {records: 0}\nduration: 3500ms\nrate: 400\nconcurrency: 4\nclient: {api_version: v1ttl}\nops:\n  - {type: put, ttl: 1s, weight: 4}\n  - {name: keep, type: put, weight: 1}\n  - {type: cas, ttl: 1s, weight: 1}\n  - {type: get_ttl, weight: 1}\nchecks:\n  readback: {}\n  scan: {}\n";
    let mut w = workload(yaml);
    w.client = tikv_bench::client::ClientConfig {
        atomic: w.client.atomic,
        api_version: w.client.api_version,
        ..client_config()
    };
    assert_eq!(w.cluster.api_version, tikv_bench::vocab::ApiVersion::V1Ttl);
    let c = Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in starts");
    let r = run(&w, backend(&c, &w.client).await).await;
    c.shutdown().await;
    for v in verdicts(&r) {
        assert!(v.passed, "{v}\n{:#?}", v.violations);
    }
    let rb = verdict(&r, "readback");
    assert!(figure(&rb, "puts_acked") > 500, "{rb}");
    assert!(figure(&rb, "absent_by_ttl") > 200, "{rb}");
    let get_ttl = &r.ops["get_ttl"];
    assert_eq!(get_ttl.failed, 0, "{:?}", get_ttl.error_samples);
    assert!(get_ttl.ok > 0, "{get_ttl:?}");
}

/// Bank (both lock modes) and readback under the same faults through
/// BatchCommands streams (`transport: batch`, one channel per store): the
/// stream cuts of the outage leave writes undetermined, never lost or
/// doubled. (Bank's streams are cut every run; readback's keys spread over
/// more regions, some led elsewhere, so its cuts vary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_and_readback_pass_under_faults_through_batch_commands() {
    let batched = |w: &mut tikv_bench::workload::Workload| {
        w.client.transport = tikv_bench::client::config::TransportKind::Batch;
        w.client.pool_size = 1;
        // The outage hits store 1, which leads most regions here (the
        // streams to store 2 would carry little): it cuts busy streams.
        if let Some(o) = w.cluster.faults.store_offline.as_mut() {
            o.store = 1;
        }
    };
    let streamed = |r: &RunResult, name: &str| {
        let t = r
            .transport
            .as_ref()
            .expect("the result counts the transport");
        assert!(t.requests >= t.messages && t.messages > 0, "{name}: {t:?}");
    };
    for lock in ["optimistic", "pessimistic"] {
        let checks = format!("  bank: {{accounts: 6, initial: 100, lock: {lock}}}\n");
        let name = format!("batch-bank-{lock}");
        let r = under_faults_with(&name, READS, &checks, batched).await;
        let v = verdict(&r, "bank");
        assert!(figure(&v, "transfers_acked") > 0, "{lock}: {v}");
        assert_eq!(figure(&v, "final_total"), 600);
        streamed(&r, &name);
        let t = r.transport.as_ref().unwrap();
        assert!(t.broken_requests > 0 && t.reconnects > 0, "{name}: {t:?}");
    }
    let r = under_faults_with("batch-readback", MIX, "  readback: {}\n", batched).await;
    let rb = verdict(&r, "readback");
    assert!(figure(&rb, "puts_acked") > 0, "{rb}");
    streamed(&r, "batch-readback");
}

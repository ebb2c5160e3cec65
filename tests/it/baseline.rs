//! Runs judged against a baseline, end to end: real runs of the driver
//! (on tokio's paused clock against the noop target of known capacity,
//! where they are exact; on the embedded cluster with a store latency
//! fault, where the fault dwarfs the noise), judged by
//! `checks::baseline::judge`, and the report that shows the verdicts.

use std::sync::Arc;
use std::time::Duration;

use tikv_bench::backend::{Backend, Capacity, NoopBackend};
use tikv_bench::checks::baseline::{self, BaselineError, Named};
use tikv_bench::cluster::config::Latency;
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::{BaselineComparison, Change, RunResult};
use tikv_bench::report::html;
use tikv_bench::vocab::TimeSource;
use tikv_bench::workload::Workload;
use tikv_bench::workload::thresholds::Threshold;

use crate::util::workload;

fn paused() -> RunOptions {
    RunOptions {
        time: TimeSource::Tokio,
        ..RunOptions::default()
    }
}

fn thresholds(texts: &[&str]) -> Vec<Threshold> {
    texts
        .iter()
        .map(|t| Threshold::parse(t).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect()
}

/// The results of one side, named by `files`.
fn side<'a>(rs: &[&'a RunResult], files: [&'static str; 2]) -> Vec<Named<'a>> {
    rs.iter()
        .zip(files)
        .map(|(r, file)| Named { file, result: r })
        .collect()
}

/// Judges `runs` against `base` by `texts` (written in the workload).
fn judge(texts: &[&str], base: &[&RunResult], runs: &[&RunResult]) -> BaselineComparison {
    baseline::judge(
        &thresholds(texts),
        true,
        &side(base, ["base.json", "base-2.json"]),
        &side(runs, ["new.json", "new-2.json"]),
    )
    .expect("the runs can be judged")
}

/// Open loop at 200 ops/s for 5 s, a 3:1 get/put mix named read/write.
const OPEN: &str = "name: steady\nseed: 7\nload: {records: 0}\nconcurrency: 8\nrate: 200\nduration: 5s\nwarmup: 0s\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";

/// `yaml` on tokio's paused clock against the noop target serving 4 ops
/// at once, each `service` long.
async fn noop_run(yaml: &str, service: Duration) -> RunResult {
    let capacity = Capacity { service, slots: 4 };
    driver::run(
        &workload(yaml),
        Arc::new(NoopBackend::with_capacity(capacity)),
        &paused(),
    )
    .await
    .expect("run succeeds")
}

/// The rows of a run's timeline that measured a span (the whole seconds,
/// and the part of one at the end).
fn rows(r: &RunResult) -> usize {
    r.timeline.iter().filter(|i| i.span_s > 0.0).count()
}

const STEADY: [&str; 3] = [
    "p99 < baseline + 10%",
    "throughput > baseline - 5%",
    "error rate < baseline + 0.1%",
];

#[tokio::test(start_paused = true)]
async fn two_seeded_runs_of_the_same_workload_are_unchanged() {
    let a = noop_run(OPEN, Duration::from_millis(10)).await;
    let b = noop_run(OPEN, Duration::from_millis(10)).await;
    assert_eq!(a.measured.ops, 1000, "the schedule sets the count");
    let c = judge(&STEADY, &[&a], &[&b]);
    assert_eq!(c.verdicts.len(), 3);
    for v in &c.verdicts {
        assert_eq!(v.verdict, Change::Unchanged, "{v}");
        assert!(v.passed, "{v}");
        // The rows are cut at Unix seconds, which the paused clock does
        // not pause: the rates move by a hair from run to run.
        assert!(v.change.abs() <= 0.01 * v.baseline.abs(), "{v}");
    }
    assert_eq!(c.verdicts[0].change, 0.0, "every op takes 10 ms exactly");
    assert!(c.passed());
    assert_eq!(c.files, ["base.json"]);
    assert_eq!(c.baseline_runs, [a.run_id.as_str()]);
    assert_eq!(c.runs, [b.run_id.as_str()]);
    let metrics: Vec<&str> = c.verdicts.iter().map(|v| v.metric.as_str()).collect();
    assert_eq!(metrics, ["p99", "throughput", "error rate"]);
    let p99 = &c.verdicts[0];
    assert!(
        p99.baseline >= 10_000.0,
        "each op is in service 10 ms: {p99}"
    );
    assert_eq!(p99.seconds, [rows(&a), rows(&b)]);
}

#[tokio::test(start_paused = true)]
async fn repeats_of_a_slower_target_are_judged_together_and_regressed() {
    let fast = [
        noop_run(OPEN, Duration::from_millis(10)).await,
        noop_run(OPEN, Duration::from_millis(10)).await,
    ];
    let slow = [
        noop_run(OPEN, Duration::from_millis(15)).await,
        noop_run(OPEN, Duration::from_millis(15)).await,
    ];
    let c = judge(
        &["p99 of read < baseline + 10%", "throughput > baseline - 5%"],
        &[&fast[0], &fast[1]],
        &[&slow[0], &slow[1]],
    );
    assert_eq!(c.files, ["base.json", "base-2.json"]);
    assert_eq!(c.runs, [slow[0].run_id.clone(), slow[1].run_id.clone()]);
    let p99 = &c.verdicts[0];
    assert_eq!(p99.metric, "p99 of read");
    assert_eq!(
        p99.seconds,
        [
            rows(&fast[0]) + rows(&fast[1]),
            rows(&slow[0]) + rows(&slow[1])
        ],
        "both runs' seconds, each side"
    );
    assert!(p99.seconds[0] >= 10);
    assert_eq!(p99.verdict, Change::Regressed, "{p99}");
    assert!(!p99.passed);
    let [rel, lo, _] = p99.relative.expect("a baseline above zero");
    assert!(rel > 0.4 && lo > 0.1, "10 ms -> 15 ms in service: {p99}");
    // 200 ops/s is within both capacities (400/s, 267/s): same throughput.
    assert_eq!(
        c.verdicts[1].verdict,
        Change::Unchanged,
        "{}",
        c.verdicts[1]
    );
    assert!(!c.passed());
}

#[tokio::test(start_paused = true)]
async fn a_threshold_on_an_op_the_baseline_lacks_names_the_file_and_its_ops() {
    let a = noop_run(OPEN, Duration::from_millis(10)).await;
    let renamed = OPEN.replace("name: read", "name: lookup");
    let b = noop_run(&renamed, Duration::from_millis(10)).await;
    let err = baseline::judge(
        &thresholds(&["p99 of read < baseline + 10%"]),
        true,
        &[Named {
            file: "base.json",
            result: &a,
        }],
        &[Named {
            file: "new.json",
            result: &b,
        }],
    )
    .unwrap_err();
    assert!(matches!(err, BaselineError::MissingOp { .. }), "{err}");
    let msg = err.to_string();
    for needle in ["new.json", "'read'", "lookup, write"] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}

/// A closed loop of 4 workers for 3 s on the embedded cluster: a 3:1
/// get/put mix named read/write over 1,000 preloaded keys.
const MIX: &str = "name: mix\nseed: 11\nkeys: {records: 1000}\nconcurrency: 4\nduration: 3s\nwarmup: 300ms\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";

/// Transactions only, 2 workers for 3 s: one read and two writes each,
/// optimistic.
const TXN: &str = "name: txns\nseed: 11\nkeys: {records: 1000, txn_prefix: acct}\nconcurrency: 2\nduration: 3s\nwarmup: 300ms\nops:\n  - {name: transfer, type: txn, weight: 1, reads: 1, writes: 2, lock: optimistic}\n";

/// `w` against a fresh embedded cluster of its `cluster` config, started
/// and connected as `run` does, on the real clock; the cluster is shut
/// down before returning.
async fn embedded_run(w: &Workload) -> RunResult {
    let running = crate::client_util::embedded(w).await;
    let backend = crate::client_util::backend(&running, &w.client).await;
    let result = run_real(w, backend).await;
    running.shutdown().await;
    result
}

async fn run_real<B: Backend>(w: &Workload, backend: B) -> RunResult {
    driver::run(w, Arc::new(backend), &RunOptions::default())
        .await
        .expect("run succeeds")
}

/// The fault: 250 ms on the wire for every read (writes untouched, so the
/// load phase is not slowed). It must dwarf the noise of a debug build
/// sharing two cores with other tests, where the read p99 without faults
/// was seen as high as 76 ms.
const SLOW_READS: Latency = Latency {
    read: Duration::from_millis(250),
    write: Duration::ZERO,
    store: None,
};

/// `yaml` without faults, then with every store request of the cost
/// `latency` names delayed by it.
async fn without_and_with(yaml: &str, latency: Latency) -> (RunResult, RunResult) {
    let w = workload(yaml);
    let base = embedded_run(&w).await;
    let mut slow = w.clone();
    slow.cluster.faults.latency = latency;
    let faulted = embedded_run(&slow).await;
    (base, faulted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_latency_fault_is_regressed_naming_the_metric() {
    let (base, faulted) = without_and_with(MIX, SLOW_READS).await;
    let c = judge(
        &[
            "p99 of read < baseline + 10%",
            "error rate < baseline + 0.1%",
        ],
        &[&base],
        &[&faulted],
    );
    let read = &c.verdicts[0];
    assert_eq!(read.metric, "p99 of read");
    assert_eq!(read.verdict, Change::Regressed, "{read}");
    assert!(!read.passed);
    assert!(read.change > 0.0 && read.interval[0] > 0.0, "{read}");
    assert!(
        read.value >= 250_000.0,
        "every read waits 250 ms on the wire: {read}"
    );
    assert!(
        read.to_string()
            .starts_with("regressed: p99 of read < baseline + 10%")
    );
    assert_eq!(
        c.verdicts[1].verdict,
        Change::Unchanged,
        "{}",
        c.verdicts[1]
    );
    assert!(!c.passed(), "the comparison fails");

    // The defaults judge each op's p99 by name; the reads regressed.
    let defaults = baseline::default_thresholds(&faulted);
    let texts: Vec<&str> = defaults.iter().map(|t| t.text.as_str()).collect();
    for t in [
        "p99 of read < baseline + 10%",
        "p99 of write < baseline + 10%",
    ] {
        assert!(texts.contains(&t), "{t}: {texts:?}");
    }
    let d = baseline::judge(
        &defaults,
        false,
        &[Named {
            file: "base.json",
            result: &base,
        }],
        &[Named {
            file: "new.json",
            result: &faulted,
        }],
    )
    .unwrap();
    let read = d
        .verdicts
        .iter()
        .find(|v| v.metric == "p99 of read")
        .unwrap();
    assert_eq!(read.verdict, Change::Regressed, "{read}");
    assert!(d.verdicts.iter().all(|v| !v.from_workload));

    // The report of the judged run opens with the verdicts.
    let mut judged = faulted.clone();
    judged.baseline = Some(c);
    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(html::write(&judged, dir.path()).unwrap().html).unwrap();
    let section = &page[page.find("<section id=\"baseline\">").expect("the section")..];
    assert!(section.contains("FAILED"), "{section}");
    assert!(section.contains("<strong class=\"bad\">regressed</strong>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slower_reads_regress_the_goodput_of_transactions() {
    let (base, faulted) = without_and_with(TXN, SLOW_READS).await;
    assert!(base.ops["transfer"].ok > 0 && faulted.ops["transfer"].ok > 0);
    let c = judge(
        &[
            "goodput > baseline - 5%",
            "p50 of transfer < baseline + 10%",
        ],
        &[&base],
        &[&faulted],
    );
    let goodput = &c.verdicts[0];
    assert_eq!(goodput.metric, "goodput");
    assert_eq!(goodput.verdict, Change::Regressed, "{goodput}");
    assert!(
        goodput.change < 0.0 && goodput.interval[1] < 0.0,
        "{goodput}"
    );
    assert_eq!(
        c.verdicts[1].verdict,
        Change::Regressed,
        "{}",
        c.verdicts[1]
    );
    assert!(!c.passed());
    // Without transactions goodput would be throughput; the defaults
    // judge the goodput here.
    let defaults = baseline::default_thresholds(&base);
    assert_eq!(defaults[0].text, "goodput > baseline - 5%");
}

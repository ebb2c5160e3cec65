//! Fault impact on the embedded cluster: a store outage's recovery time
//! lies within the bounds its failover and the client's backoff imply
//! (and an outage without failover does not recover until the store is
//! back); the recovery threshold passes and fails as it should; a busy
//! burst's events and ServerIsBusy answers fall inside its window; the
//! fine timelines of two results add up exactly and the impact is
//! computed again from the sum. On the real clock (the client's sockets
//! are real), with bounds generous enough for two busy cores.

use std::sync::Arc;

use tikv_bench::backend::{TargetInfo, TikvBackend};
use tikv_bench::checks::thresholds::{self, Threshold};
use tikv_bench::cluster::Cluster;
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::RunResult;
use tikv_bench::metrics::impact::{FaultImpact, FaultLog, Source, span};
use tikv_bench::vocab::RetryPolicy;
use tikv_bench::workload::Workload;

use crate::util::workload;

/// 4 workers, closed loop, raw gets and puts over 500 keys for 6 s; store
/// 2 goes offline 2.5 s after the cluster starts, for 2 s, its leaderships
/// failing over after FAILOVER.
fn outage(failover: &str) -> String {
    format!(
        "name: outage\nseed: 7\nkeys: {{records: 500}}\nconcurrency: 4\nduration: 6s\nwarmup: 200ms\ncluster:\n  stores: 3\n  region_max_keys: 100\n  faults:\n    store_offline: {{store: 1, after: 2500ms, for: 2s, failover: {failover}}}\nops:\n  - {{name: read, type: get, weight: 3}}\n  - {{name: write, type: put, weight: 1}}\n"
    )
}

/// `w` on a fresh embedded cluster, its fault log read by the driver, as
/// `run` does.
async fn embedded(w: &Workload) -> RunResult {
    let running = Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the stand-in starts");
    let pd = [running.pd_addr().to_string()];
    let info = TargetInfo {
        kind: "embedded".into(),
        description: "test stand-in".into(),
    };
    let backend = TikvBackend::connect(&pd, &w.client, info)
        .await
        .expect("our backend connects");
    let opts = RunOptions {
        fault_log: Some(FaultLog::new(running.fault_log())),
        ..RunOptions::default()
    };
    let result = driver::run(w, Arc::new(backend), &opts)
        .await
        .expect("run succeeds");
    running.shutdown().await;
    result
}

fn recovery_ms(r: &RunResult, kind: &str) -> Option<u64> {
    let f = r.faults.as_ref().expect("a faults section");
    let e = f
        .events
        .iter()
        .find(|e| e.kind == kind && e.source == Source::Injected)
        .unwrap_or_else(|| panic!("a {kind} event in {:?}", f.events));
    e.recovery_ms
}

fn judge(r: &RunResult, text: &str) -> bool {
    let t = Threshold::parse(text).unwrap();
    let v = thresholds::evaluate(&[t], r);
    v[0].passed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_recovers_after_its_failover_within_the_backoff_bound() {
    let with = embedded(&workload(&outage("300ms"))).await;
    let without = embedded(&workload(&outage("10s"))).await;
    let faults = with.faults.as_ref().unwrap();
    let kinds: Vec<&str> = faults.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"failover") && kinds.contains(&"store_online"),
        "{kinds:?}"
    );
    // Nothing recovers before the failover moves store 1's leaderships;
    // after it the client needs at most its backoff (the client's and
    // the driver's retry, each at most RetryPolicy's max delay) and a
    // region reload; plus a slot of the fine timeline and slack for two
    // busy cores.
    let max_backoff = RetryPolicy::DEFAULT_MAX_DELAY.as_millis() as u64;
    let rec = recovery_ms(&with, "store_offline").expect("recovered");
    assert!(
        (300..=300 + 2 * max_backoff + 100 + 400).contains(&rec),
        "recovery {rec} ms"
    );
    let dip = faults.events[0].dip.unwrap();
    assert!(
        dip > 0.5,
        "an outage of one store of three stalls a closed loop: {dip}"
    );
    // Without a failover, nothing recovers until the store is back (2 s).
    let stuck = recovery_ms(&without, "store_offline").expect("recovered once back");
    assert!(
        (1_900..=2_000 + 2 * max_backoff + 500).contains(&stuck),
        "{stuck} ms"
    );
    // The threshold judges the worst outage.
    assert!(judge(&with, "recovery after store_offline < 2s"));
    assert!(!judge(&without, "recovery after store_offline < 1.5s"));
    assert!(
        !judge(&with, "recovery after busy_burst < 2s"),
        "no such event: fails"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_burst_answers_busy_only_inside_its_window() {
    let yaml = "name: burst\nseed: 7\nkeys: {records: 500}\nconcurrency: 4\nduration: 4s\nwarmup: 200ms\ncluster:\n  faults:\n    busy_burst: {after: 2s, for: 1s}\nops:\n  - {name: read, type: get, weight: 1}\n";
    let r = embedded(&workload(yaml)).await;
    let f = r.faults.as_ref().unwrap();
    let at = |kind: &str| {
        f.events
            .iter()
            .find(|e| e.kind == kind && e.source == Source::Injected)
            .unwrap_or_else(|| panic!("{kind} in {:?}", f.events))
            .at_unix_us
    };
    let (start, end) = (at("busy_burst"), at("busy_burst_end"));
    assert!(
        (900_000..=1_200_000).contains(&(end - start)),
        "{}",
        end - start
    );
    let busy: Vec<i64> = f
        .fine
        .signals
        .iter()
        .filter(|s| s.signals.server_is_busy > 0)
        .map(|s| f.fine.start_us(i64::from(s.i)))
        .collect();
    assert!(!busy.is_empty(), "the client saw ServerIsBusy");
    let slot = i64::from(f.fine.slot_ms) * 1000;
    assert!(
        busy.iter().all(|&t| t + slot > start && t <= end),
        "busy answers outside [{start}, {end}]: {busy:?}"
    );
    let observed = f
        .events
        .iter()
        .find(|e| e.kind == "server_is_busy" && e.source == Source::Observed)
        .expect("observed beside the injected");
    assert!(observed.at_unix_us + slot > start && observed.at_unix_us <= end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fine_timelines_add_up_exactly_and_the_impact_is_recomputed() {
    let r = embedded(&workload(&outage("300ms"))).await;
    let f = r.faults.as_ref().unwrap();
    let span = span(r.measured_from_unix_us, r.measured_to_unix_us, &r.timeline);
    let both = FaultImpact::recompute(&[f, f], &span).unwrap();
    let doubled: Vec<u64> = f.fine.ok.iter().map(|n| 2 * n).collect();
    assert_eq!(both.fine.ok, doubled);
    assert_eq!(
        both.fine.failed.iter().sum::<u64>(),
        2 * f.fine.failed.iter().sum::<u64>()
    );
    // The same events (injected ones joined, observed ones derived again);
    // the level doubles, the recovery stays.
    let injected = |x: &FaultImpact| {
        x.events
            .iter()
            .filter(|e| e.source == Source::Injected)
            .count()
    };
    assert_eq!(injected(&both), injected(f));
    let (a, b) = (&f.events[0], &both.events[0]);
    assert_eq!(b.recovery_ms, a.recovery_ms);
    let (la, lb) = (a.level_ops_per_s.unwrap(), b.level_ops_per_s.unwrap());
    assert!((lb - 2.0 * la).abs() <= 0.2, "{la} -> {lb}");
}

#[test]
fn a_fault_threshold_with_a_bad_kind_is_refused_with_its_position() {
    let yaml = "name: t\nops:\n  - {type: get, weight: 1}\nthresholds:\n  - recovery after store_down < 2s\n";
    let e = Workload::parse(yaml, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("t.yaml:5:"), "{e}");
    assert!(
        e.contains("store_down") && e.contains("store_offline, failover"),
        "{e}"
    );
    let e = Threshold::parse("recovery after split < baseline").unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot be judged against a baseline")
    );
    let t = Threshold::parse("dip after any < 50%").unwrap();
    assert_eq!(t.limit, 0.5);
}

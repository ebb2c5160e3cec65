//! Every slow op is explained: a run keeps, per op, the slowest ops with
//! their traces (each RPC with its store, region, duration and answer),
//! also when the driver's deadline cut the op short; the slowest are kept
//! exactly, by a worker, across workers and by merges; the report shows
//! them; results with real traces validate against the schema.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tikv_bench::metrics::slow::{KEEP, keep_slowest};
use tikv_bench::metrics::{
    Clock, Collector, Completion, Recorder, RunResult, SlowOp, TraceStep, merge,
};
use tikv_bench::report::html;
use tikv_bench::vocab::trace::Step;
use tikv_bench::vocab::{Events, OpError, Outcome};

use crate::client_util::{backend, config, start};
use crate::schema::{errors, validator};
use crate::util::{self, workload};

/// One RPC step of a slow op.
struct Sent<'a> {
    rpc: &'a str,
    store: u64,
    region: u64,
    answer: &'a str,
    error: Option<&'a str>,
    dur_us: u64,
}

/// The RPC steps of a slow op.
fn rpcs(op: &SlowOp) -> Vec<Sent<'_>> {
    op.trace
        .iter()
        .filter_map(|l| match &l.step {
            TraceStep::Rpc {
                rpc,
                store,
                region,
                answer,
                error,
            } => Some(Sent {
                rpc,
                store: *store,
                region: *region,
                answer,
                error: error.as_deref(),
                dur_us: l.dur_us,
            }),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_op_shows_each_rpc_with_its_store_region_and_the_injected_latency() {
    let latency = Duration::from_millis(20);
    let mut cluster = config(3, 10_000);
    cluster.faults.latency = tikv_bench::cluster::config::Latency::same(latency);
    let c = start(cluster).await;
    let w = workload(
        "name: slow\nkeys: {records: 40, txn_prefix: acct}\noperations: 24\nconcurrency: 2\nwarmup: 0s\nops:\n  - {name: read, type: get, weight: 1}\n  - {name: transfer, type: txn, weight: 1, reads: 1, writes: 2}\n",
    );
    let r = util::run(&w, backend(&c, &w.client).await).await;
    let slow = r.slow_ops.as_ref().expect("a run keeps its slowest ops");
    let lat = latency.as_micros() as u64;
    for (name, ops) in slow {
        assert!(
            !ops.is_empty() && ops.len() <= KEEP,
            "{name}: {}",
            ops.len()
        );
        for op in ops {
            let sent = rpcs(op);
            assert!(!sent.is_empty(), "{name}: RPCs in {op:?}");
            for s in sent {
                let (rpc, dur) = (s.rpc, s.dur_us);
                assert!(dur >= lat, "{name}: {rpc} took {dur}µs, under {lat}µs");
                let leader = c.regions().get(s.region).map(|r| r.leader);
                assert_eq!(leader, Some(s.store), "{name}: {rpc} to the leader");
                // Two workers may meet each other's locks; nothing else fails.
                let fine = s.answer == "ok" || (s.answer == "key_error" && s.error.is_some());
                assert!(fine, "{name}: {rpc} answered {} {:?}", s.answer, s.error);
            }
            let last = op.trace.last().map_or(0, |l| l.at_us + l.dur_us);
            assert!(last <= op.latency_us, "{name}: steps within the op");
        }
    }
    let read: Vec<&str> = rpcs(&slow["read"][0]).iter().map(|s| s.rpc).collect();
    assert_eq!(read, ["RawGet"]);
    let transfer: Vec<&str> = rpcs(&slow["transfer"][0]).iter().map(|s| s.rpc).collect();
    for rpc in ["KvGet", "KvPrewrite", "KvCommit"] {
        assert!(transfer.contains(&rpc), "{transfer:?} lacks {rpc}");
    }
    let start_ts = slow["transfer"][0].trace.iter().find_map(|l| match l.step {
        TraceStep::Tso { ts } => Some(ts),
        _ => None,
    });
    assert!(start_ts.is_some_and(|ts| ts > 0), "the start_ts is named");

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(errors(&validator(), &json), Vec::<String>::new());
    let back: RunResult = serde_json::from_value(json).unwrap();
    assert_eq!(back.slow_ops, r.slow_ops, "slow ops read back as written");

    let dir = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(html::write(&r, dir.path()).unwrap().html).unwrap();
    let doc = scraper::Html::parse_document(&page);
    let sel = scraper::Selector::parse("section#slow table.slow pre").unwrap();
    let traces: Vec<String> = doc.select(&sel).map(|e| e.text().collect()).collect();
    assert_eq!(traces.len(), slow.values().map(Vec::len).sum::<usize>());
    assert!(
        traces.iter().any(|t| t.contains("RawGet to store")),
        "{traces:?}"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_cut_short_by_its_budget_shows_the_rpc_it_waited_for() {
    let mut cluster = config(1, 10_000);
    cluster.faults.latency = tikv_bench::cluster::config::Latency::same(Duration::from_millis(400));
    let c = start(cluster).await;
    let w = workload(
        "name: cut\nload: {records: 0}\nkeys: {records: 10}\noperations: 2\nconcurrency: 1\nwarmup: 0s\nops:\n  - {name: read, type: get, weight: 1}\nclient:\n  retry: {budget: 100ms}\n",
    );
    let r = util::run(&w, backend(&c, &w.client).await).await;
    assert_eq!(r.ops["read"].errors.get("timeout"), Some(&2));
    let op = &r.slow_ops.as_ref().unwrap()["read"][0];
    assert_eq!(
        (op.outcome.as_str(), op.error.as_deref()),
        ("failed", Some("timeout"))
    );
    let sent = rpcs(op);
    assert_eq!(sent.len(), 1, "{op:?}");
    let s = &sent[0];
    assert_eq!(
        (s.rpc, s.answer, s.error),
        ("RawGet", "failed", Some("timeout"))
    );
    assert!(
        (90_000..400_000).contains(&s.dur_us),
        "waited {}µs",
        s.dur_us
    );
    c.shutdown().await;
}

/// A recorder pinned to a clock that no op below crosses a second of.
fn recorder(worker: usize, base: Instant) -> Recorder {
    Recorder::new(worker, 1, Clock::new(base), base, base, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn workers_and_the_collector_keep_exactly_the_slowest(
        workers in proptest::collection::vec(proptest::collection::vec(0u64..10_000, 0..40), 1..4)
    ) {
        let base = Instant::now();
        let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
        let mut collector = Collector::new(1, workers.len());
        for (w, latencies) in workers.iter().enumerate() {
            let mut rec = recorder(w, base);
            for (i, &us) in latencies.iter().enumerate() {
                let start = base + Duration::from_micros(i as u64);
                let mut events = Events::default();
                events.trace_mut().push(start, Duration::from_micros(us), Step::LockWait);
                let c = Completion {
                    result: &ok,
                    undetermined: false,
                    intended: start,
                    start,
                    end: start + Duration::from_micros(us),
                };
                if let Some(report) = rec.record(0, &events, c) {
                    collector.add(report);
                }
            }
            collector.add(rec.finish());
        }
        let kept = &collector.finish().slow[0];
        let mut all: Vec<u64> = workers.iter().flatten().copied().collect();
        all.sort_by(|a, b| b.cmp(a));
        all.truncate(KEEP);
        let got: Vec<u64> = kept.iter().map(|o| o.latency_us).collect();
        prop_assert_eq!(got, all);
        for op in kept {
            prop_assert_eq!(op.trace.len(), 1);
            prop_assert_eq!(op.trace[0].dur_us, op.latency_us, "each with its own trace");
        }
    }
}

/// A slow op of `latency_us` that started at `start_unix_us`.
fn slow(latency_us: u64, start_unix_us: i64) -> SlowOp {
    SlowOp {
        latency_us,
        start_unix_us,
        queued_us: 0,
        outcome: "ok".into(),
        error: None,
        trace: Vec::new(),
        steps_not_kept: 0,
    }
}

/// `base` as driver `n`'s result, holding these slowest ops of op "a" (as
/// a driver would: at most [`KEEP`], slowest first).
fn with_slow(base: &RunResult, n: usize, ops: &[(u64, i64)]) -> RunResult {
    let mut r = base.clone();
    r.run_id = format!("{n:x}-0000000{n}");
    let mut kept = Vec::new();
    keep_slowest(&mut kept, ops.iter().map(|&(l, s)| slow(l, s)));
    r.slow_ops = Some([("a".to_string(), kept)].into_iter().collect());
    r
}

fn kept(r: &RunResult) -> Vec<(u64, i64)> {
    let ops = r
        .slow_ops
        .as_ref()
        .map(|s| s["a"].clone())
        .unwrap_or_default();
    ops.iter()
        .map(|o| (o.latency_us, o.start_unix_us))
        .collect()
}

#[tokio::test]
async fn merges_keep_exactly_the_slowest_of_all_results_in_any_grouping() {
    let base = util::run(
        &workload("name: m\nkeys: {records: 10}\noperations: 10\nops:\n  - {name: a, type: get, weight: 1}\n"),
        tikv_bench::backend::MemoryBackend::new(),
    )
    .await;
    let arb = proptest::collection::vec((0u64..50, 0i64..20), 0..12);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&(arb.clone(), arb.clone(), arb), |(x, y, z)| {
            let (a, b, c) = (
                with_slow(&base, 1, &x),
                with_slow(&base, 2, &y),
                with_slow(&base, 3, &z),
            );
            let mut all: Vec<SlowOp> = Vec::new();
            keep_slowest(
                &mut all,
                x.iter().chain(&y).chain(&z).map(|&(l, s)| slow(l, s)),
            );
            let expected: Vec<(u64, i64)> = all
                .iter()
                .map(|o| (o.latency_us, o.start_unix_us))
                .collect();
            let flat = merge(&[a.clone(), b.clone(), c.clone()]).unwrap();
            prop_assert_eq!(kept(&flat), expected.clone());
            let nested = merge(&[merge(&[c.clone(), a.clone()]).unwrap(), b.clone()]).unwrap();
            prop_assert_eq!(kept(&nested), expected);
            prop_assert_eq!(flat.slow_ops, nested.slow_ops);
            Ok(())
        })
        .unwrap();
}

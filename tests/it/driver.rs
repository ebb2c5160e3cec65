//! The driver: pacing, stop conditions, warmup, retries, error accounting,
//! determinism and the timeline. Time-dependent tests run on tokio's paused
//! clock, so they are exact and take no wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tikv_bench::backend::{
    Backend, MemoryBackend, MemoryTxn, NoopBackend, Operation, RawKv, TargetInfo, TxnKv,
};

use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::{DriverVerdict, RunResult, hist};
use tikv_bench::report;
use tikv_bench::vocab::TimeSource;
use tikv_bench::vocab::{ErrorKind, Events, OpError, Outcome, Pair, TxnMode};

use crate::util::workload;

fn paused() -> RunOptions {
    RunOptions {
        time: TimeSource::Tokio,
        ..RunOptions::default()
    }
}

async fn run_with<B: Backend>(yaml: &str, backend: B, opts: &RunOptions) -> RunResult {
    driver::run(&workload(yaml), Arc::new(backend), opts)
        .await
        .expect("run succeeds")
}

/// Answers at once, except that call number `at` takes `stall`.
struct Stall {
    calls: AtomicU64,
    at: u64,
    stall: Duration,
}

impl Backend for Stall {
    async fn execute<O: Operation>(&self, _op: &O, _: &mut Events) -> Result<Outcome, OpError> {
        if self.calls.fetch_add(1, Ordering::Relaxed) == self.at {
            tokio::time::sleep(self.stall).await;
        }
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "stall".into(),
            description: "test".into(),
        }
    }
}

/// How many recorded latencies are at least `us`.
fn slower_than(encoded: &str, us: u64) -> u64 {
    let h = hist::decode(encoded).unwrap();
    h.len() - h.count_between(0, us - 1)
}

const ONE_WORKER: &str =
    "name: t\nload: {records: 0}\nconcurrency: 1\nops:\n  - {name: read, type: get, weight: 1}\n";

/// 100 ops/s for 5 s from one worker, on tokio's clock; op 50 stalls 1 s.
async fn open_loop_with_a_stall() -> RunResult {
    stalled_at_50(&format!("{ONE_WORKER}rate: 100\nduration: 5s\n")).await
}

/// `yaml` on tokio's clock against a backend whose op 50 stalls 1 s.
async fn stalled_at_50(yaml: &str) -> RunResult {
    let backend = Stall {
        calls: AtomicU64::new(0),
        at: 50,
        stall: Duration::from_secs(1),
    };
    run_with(yaml, backend, &paused()).await
}

#[tokio::test(start_paused = true)]
async fn open_loop_charges_a_stall_to_the_ops_queued_behind_it() {
    // 100 ops/s for 5 s; op 50 stalls for 1 s, so about 100 ops that were
    // due during the stall start late.
    let r = open_loop_with_a_stall().await;
    let read = &r.ops["read"];
    assert_eq!(r.mode, "open");
    assert_eq!(
        read.ok, 500,
        "the schedule, not the stall, sets the op count"
    );
    let service = read.service_us.expect("open loop records service time");
    // Service time: one op of 1 s, the rest instant.
    assert_eq!(service.max / 1000, 1000);
    assert_eq!(service.p99, 0);
    // Corrected latency: the ~100 ops due during the stall waited up to 1 s.
    let l = read.latency_us;
    assert!(
        l.p90 >= 500_000,
        "p90 {} should show the queue behind the stall",
        l.p90
    );
    assert!(l.p50 < 1_000, "p50 {} should be untouched", l.p50);
    let late = slower_than(&read.histogram, 10_000);
    assert!((95..=105).contains(&late), "{late} ops started late");
}

#[tokio::test(start_paused = true)]
async fn closed_loop_latency_is_service_time() {
    let yaml = format!("{ONE_WORKER}operations: 300\n");
    let backend = Stall {
        calls: AtomicU64::new(0),
        at: 50,
        stall: Duration::from_secs(1),
    };
    let r = run_with(&yaml, backend, &paused()).await;
    let read = &r.ops["read"];
    assert_eq!(r.mode, "closed");
    assert!(read.service_us.is_none());
    assert_eq!(read.ok, 300);
    // Only the stalled op itself is slow: nothing queues in a closed loop.
    assert_eq!(slower_than(&read.histogram, 10_000), 1);
}

#[tokio::test(start_paused = true)]
async fn warmup_is_excluded_and_the_rate_is_kept() {
    let yaml = format!("{ONE_WORKER}rate: 200\nwarmup: 1s\nduration: 2s\n");
    let backend = Stall {
        calls: AtomicU64::new(0),
        at: u64::MAX,
        stall: Duration::ZERO,
    };
    let r = run_with(&yaml, backend, &paused()).await;
    assert_eq!(r.warmup.ops, 200);
    assert_eq!(r.measured.ops, 400);
    assert_eq!(r.ops["read"].ok, 400);
    assert!(
        (r.measured.ops_per_s - 200.0).abs() < 2.0,
        "{}",
        r.measured.ops_per_s
    );
}

#[tokio::test(start_paused = true)]
async fn open_loop_spreads_the_rate_over_workers() {
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 8\nrate: 1000\nduration: 3s\nops:\n  - {name: read, type: get, weight: 1}\n";
    let backend = Stall {
        calls: AtomicU64::new(0),
        at: u64::MAX,
        stall: Duration::ZERO,
    };
    let r = run_with(yaml, backend, &paused()).await;
    assert_eq!(r.measured.ops, 3000);
    // Every full second of the timeline carries its share.
    let full: Vec<_> = r
        .timeline
        .iter()
        .filter(|i| (i.span_s - 1.0).abs() < 1e-9)
        .collect();
    assert!(full.len() >= 2);
    for i in full {
        assert_eq!(i.ops["read"].ok, 1000, "second {}", i.unix_s);
    }
}

#[tokio::test]
async fn an_op_count_stops_the_run_exactly() {
    let yaml = "name: t\nconcurrency: 3\noperations: 1000\nkeys: {records: 100}\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";
    let r = run_with(yaml, MemoryBackend::new(), &RunOptions::default()).await;
    assert_eq!(r.measured.ops, 1000);
    assert_eq!(r.ops["read"].ok + r.ops["write"].ok, 1000);
    // The timeline holds every op exactly once.
    let in_timeline: u64 = r
        .timeline
        .iter()
        .flat_map(|i| i.ops.values())
        .map(|o| o.ok + o.failed)
        .sum();
    assert_eq!(in_timeline, 1000);
}

/// Fails each read or write of a raw key `fails` times with `kind`, then
/// succeeds; counts attempts. The rest of the key spaces are the memory
/// backend's.
struct Flaky {
    fails: u64,
    kind: ErrorKind,
    undetermined: bool,
    attempts: Mutex<std::collections::HashMap<Vec<u8>, u64>>,
    inner: MemoryBackend,
}

impl Flaky {
    fn new(fails: u64, kind: ErrorKind, undetermined: bool) -> Flaky {
        Flaky {
            fails,
            kind,
            undetermined,
            attempts: Mutex::default(),
            inner: MemoryBackend::new(),
        }
    }

    /// Whether this attempt on `key` fails.
    fn attempt(&self, key: &[u8]) -> Result<(), OpError> {
        let mut seen = self.attempts.lock().unwrap();
        let n = seen.entry(key.to_vec()).or_insert(0);
        *n += 1;
        if *n <= self.fails {
            return Err(OpError {
                kind: self.kind,
                undetermined: self.undetermined,
                message: format!("attempt {n} fails"),
            });
        }
        *n = 0;
        Ok(())
    }
}

impl RawKv for Flaky {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        self.attempt(key).map(|()| Some(Vec::new()))
    }

    async fn put(&self, key: &[u8], _value: &[u8]) -> Result<(), OpError> {
        self.attempt(key)
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        self.inner.scan(start, end, limit).await
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), OpError> {
        self.inner.batch_put(pairs).await
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), OpError> {
        self.inner.batch_delete(keys).await
    }

    async fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, OpError> {
        self.inner.cas(key, previous, value).await
    }
}

impl TxnKv for Flaky {
    type Txn = MemoryTxn;

    async fn begin(&self, lock: TxnMode) -> Result<MemoryTxn, OpError> {
        self.inner.begin(lock).await
    }
}

impl Backend for Flaky {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        op.run(self, events).await
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "flaky".into(),
            description: "test".into(),
        }
    }
}

const RETRYING: &str = "name: t\nload: {records: 0}\nconcurrency: 1\noperations: 50\nkeys: {records: 1000000}\nops:\n  - {name: read, type: get, weight: 1}\nclient:\n  retry: {max_attempts: 4, base_delay: 1ms, max_delay: 8ms, jitter: none, on: [server_is_busy]}\n";

#[tokio::test(start_paused = true)]
async fn retries_follow_the_policy_and_are_counted() {
    let r = run_with(
        RETRYING,
        Flaky::new(2, ErrorKind::ServerIsBusy, false),
        &paused(),
    )
    .await;
    let read = &r.ops["read"];
    assert_eq!(read.ok, 50);
    assert_eq!(read.failed, 0);
    assert_eq!(read.retries, 100);
    assert_eq!(read.retries_by_kind["server_is_busy"], 100);
    // Two sleeps per op: 1 ms then 2 ms, no jitter.
    assert_eq!(read.backoff_us, 50 * 3_000);
    // The backoff is part of the latency.
    assert!(read.latency_us.min >= 3_000);
}

#[tokio::test(start_paused = true)]
async fn an_op_that_exhausts_its_attempts_fails_by_kind_and_the_run_goes_on() {
    let r = run_with(
        RETRYING,
        Flaky::new(10, ErrorKind::ServerIsBusy, false),
        &paused(),
    )
    .await;
    let read = &r.ops["read"];
    assert_eq!(read.ok, 0);
    assert_eq!(read.failed, 50);
    assert_eq!(read.errors["server_is_busy"], 50);
    assert_eq!(
        read.retries, 150,
        "three retries each, four attempts in all"
    );
    assert!(read.error_samples["server_is_busy"].contains("attempt"));
    assert_eq!(r.measured.failed, 50);
}

#[tokio::test(start_paused = true)]
async fn errors_outside_the_policy_are_not_retried() {
    let r = run_with(
        RETRYING,
        Flaky::new(1, ErrorKind::WriteConflict, false),
        &paused(),
    )
    .await;
    let read = &r.ops["read"];
    assert_eq!(read.retries, 0);
    assert_eq!(read.errors["write_conflict"], 50);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_outcome_is_counted_apart_even_when_a_later_attempt_fails() {
    let yaml = RETRYING.replace("on: [server_is_busy]", "on: [timeout]");
    let r = run_with(&yaml, Flaky::new(10, ErrorKind::Timeout, true), &paused()).await;
    let read = &r.ops["read"];
    assert_eq!(read.unknown, 50);
    assert_eq!(read.failed, 0);
    assert_eq!(r.measured.unknown, 50);
}

/// Never answers.
struct Hang;

impl Backend for Hang {
    async fn execute<O: Operation>(&self, _op: &O, _: &mut Events) -> Result<Outcome, OpError> {
        std::future::pending().await
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "hang".into(),
            description: "test".into(),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_backend_cannot_stall_the_run_past_the_retry_budget() {
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 2\nduration: 1s\nops:\n  - {name: write, type: put, weight: 1}\nclient:\n  retry: {budget: 3s}\n";
    let start = tokio::time::Instant::now();
    let r = run_with(yaml, Hang, &paused()).await;
    assert!(
        start.elapsed() <= Duration::from_secs(4),
        "took {:?}",
        start.elapsed()
    );
    let w = &r.ops["write"];
    assert_eq!(w.ok, 0);
    assert_eq!(w.unknown, 2, "a put that timed out may have been applied");
    assert_eq!(w.errors["timeout"], 2);
}

/// Records every op it sees, in order.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl Backend for Capture {
    async fn execute<O: Operation>(&self, op: &O, _: &mut Events) -> Result<Outcome, OpError> {
        self.0.lock().unwrap().push(format!("{op:?}"));
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "capture".into(),
            description: "test".into(),
        }
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_op_stream() {
    let yaml = "name: t\nseed: 11\nload: {records: 0}\nconcurrency: 1\noperations: 300\nkeys: {records: 500, txn_prefix: acct, distribution: zipfian}\nops:\n  - {type: get, weight: 5}\n  - {type: put, weight: 3}\n  - {type: scan, weight: 1}\n  - {type: txn, weight: 1, writes: 2, reads: 1}\n";
    let stream = |yaml: String| async move {
        let cap = Capture::default();
        run_with(&yaml, cap.clone(), &RunOptions::default()).await;
        cap.0.lock().unwrap().clone()
    };
    let a = stream(yaml.to_string()).await;
    let b = stream(yaml.to_string()).await;
    assert_eq!(a.len(), 300);
    assert_eq!(a, b);
    let c = stream(yaml.replace("seed: 11", "seed: 12")).await;
    assert_ne!(a, c);
}

#[tokio::test]
async fn results_round_trip_through_the_file_and_histograms_match_counts() {
    let yaml = "name: t\nconcurrency: 2\noperations: 2000\nkeys: {records: 100}\nops:\n  - {name: read, type: get, weight: 1}\n  - {name: write, type: put, weight: 1}\n";
    let r = run_with(yaml, MemoryBackend::new(), &RunOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    r.save(&path).unwrap();
    let back = RunResult::load(&path).unwrap();
    assert_eq!(back, r);
    for o in r.ops.values() {
        assert_eq!(hist::decode(&o.histogram).unwrap().len(), o.ok);
        assert_eq!(o.latency_us.count, o.ok);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["schema"], "tikv-bench/result/v1");
    for field in ["ok", "errors", "retries", "latency_us", "histogram"] {
        assert!(
            json["ops"]["read"].get(field).is_some(),
            "missing ops.read.{field}"
        );
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            json["ops"]["read"]["latency_us"][p].is_u64(),
            "missing latency_us.{p}"
        );
    }
    for field in ["workload", "seed", "target", "started_at", "tool"] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
}

#[tokio::test]
async fn a_result_of_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, r#"{"schema": "tikv-bench/result/v9"}"#).unwrap();
    let err = RunResult::load(&path).unwrap_err().to_string();
    assert!(err.contains("v9") && err.contains("not supported"), "{err}");
}

/// How many sends a histogram says started more than 1 ms late.
fn late_sends(encoded: &str) -> u64 {
    slower_than(encoded, 1_001)
}

#[tokio::test(start_paused = true)]
async fn open_loop_records_how_late_each_send_started_and_closed_loop_does_not() {
    let r = open_loop_with_a_stall().await;
    let read = &r.ops["read"];
    let lateness = read.lateness_us.expect("open loop records lateness");
    let encoded = read
        .lateness_histogram
        .as_ref()
        .expect("with its histogram");
    assert_eq!(hist::decode(encoded).unwrap().len(), read.ok);
    assert_eq!(lateness.count, read.ok, "one lateness per send");
    // On the paused clock a send on schedule starts exactly on its slot;
    // the ~100 sends due during the stall started up to 1 s late.
    assert_eq!(lateness.p50, 0);
    assert_eq!(lateness.max / 1000, 990);
    let late = late_sends(encoded);
    assert!((95..=105).contains(&late), "{late} sends started late");

    let closed = stalled_at_50(&format!("{ONE_WORKER}operations: 300\n")).await;
    let read = &closed.ops["read"];
    assert!(read.lateness_us.is_none() && read.lateness_histogram.is_none());
    assert!(
        closed.driver_check.is_none(),
        "nothing to judge on the paused clock in closed loop"
    );
}

#[tokio::test(start_paused = true)]
async fn the_self_check_marks_a_run_whose_backend_stalls_the_schedule() {
    let stalled = open_loop_with_a_stall().await;
    let check = stalled.driver_check.as_ref().expect("open loop is judged");
    assert_eq!(check.verdict, DriverVerdict::FellBehind);
    let late = check.late_ops.unwrap();
    assert_eq!(
        late,
        late_sends(stalled.ops["read"].lateness_histogram.as_ref().unwrap())
    );
    assert!((95..=105).contains(&late), "{late} late sends counted");
    assert_eq!(check.lateness_us.unwrap().count, 500);
    assert!(check.cpu.is_none(), "no CPU figure on the paused clock");
    let text = report::text::summary(&stalled);
    assert!(text.contains("WARNING: the driver fell behind"), "{text}");
    assert!(
        text.contains("the figures measure the driver, not the cluster"),
        "{text}"
    );

    let healthy = run_with(
        &format!("{ONE_WORKER}rate: 100\nduration: 5s\n"),
        Stall {
            calls: AtomicU64::new(0),
            at: u64::MAX,
            stall: Duration::ZERO,
        },
        &paused(),
    )
    .await;
    let check = healthy.driver_check.as_ref().unwrap();
    assert_eq!(check.verdict, DriverVerdict::Ok);
    assert_eq!(check.late_ops, Some(0));
    assert!(!report::text::summary(&healthy).contains("WARNING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_system_clock_the_pacer_keeps_the_schedule_and_cpu_is_measured() {
    // The pacer (not tokio's timer) paces these; how exact it is, is a
    // benchmark's business (scripts/bench-pacing.sh), not a test's.
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 4\nrate: 2000\nwarmup: 200ms\nduration: 1s\nops:\n  - {name: read, type: get, weight: 1}\n";
    let r = run_with(yaml, NoopBackend::new(), &RunOptions::default()).await;
    let read = &r.ops["read"];
    assert_eq!(read.ok, 2000, "the schedule sets the op count");
    let lateness = read.lateness_us.expect("lateness recorded");
    assert_eq!(lateness.count, 2000);
    let check = r.driver_check.as_ref().unwrap();
    assert_eq!(check.lateness_us.unwrap().count, 2000);
    let cpu = check.cpu.expect("CPU measured on the system clock");
    assert!(cpu.cores >= 1 && cpu.wall_us >= 900_000, "{cpu:?}");
    assert_eq!(cpu.saturated_drivers, 0, "open loop is not judged by CPU");

    let closed = run_with(
        "name: t\nload: {records: 0}\nconcurrency: 2\noperations: 5000\nops:\n  - {name: read, type: get, weight: 1}\n",
        NoopBackend::new(),
        &RunOptions::default(),
    )
    .await;
    let check = closed
        .driver_check
        .as_ref()
        .expect("closed loop is judged by CPU");
    assert!(check.lateness_us.is_none() && check.late_ops.is_none());
    assert!(closed.ops["read"].lateness_us.is_none());
    assert!(
        !check.cpu.unwrap().with_target,
        "noop does no work of its own"
    );

    // An in-process target's CPU is counted with the driver's, and said so.
    let memory = run_with(
        "name: t\nload: {records: 0}\nconcurrency: 2\noperations: 2000\nops:\n  - {name: read, type: get, weight: 1}\n",
        MemoryBackend::new(),
        &RunOptions::default(),
    )
    .await;
    assert!(memory.driver_check.unwrap().cpu.unwrap().with_target);
}

#[tokio::test]
async fn the_pacer_runs_on_a_current_thread_runtime_too() {
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 3\nrate: 1000\nduration: 300ms\nops:\n  - {name: read, type: get, weight: 1}\n";
    let r = run_with(yaml, NoopBackend::new(), &RunOptions::default()).await;
    assert_eq!(r.ops["read"].ok, 300);
    assert_eq!(r.ops["read"].lateness_us.unwrap().count, 300);
}

/// At a low rate the last slot comes well before the end (at 2 ops/s from
/// one worker, half a second before it): the measured phase still lasts
/// the whole duration, so its ops/s is the rate asked for. (It ended at the
/// last op, 2.5 s of 3, and reported 2.4 ops/s.)
#[tokio::test(start_paused = true)]
async fn an_open_loop_measures_its_whole_duration_at_a_low_rate() {
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 1\nrate: 2\nwarmup: 0s\nduration: 3s\nops:\n  - {name: read, type: get, weight: 1}\n";
    let r = run_with(yaml, NoopBackend::new(), &paused()).await;
    assert_eq!(r.measured.ops, 6);
    assert_eq!(r.measured.duration_s, 3.0);
    assert_eq!(r.measured_to_unix_us - r.measured_from_unix_us, 3_000_000);
}

/// On the system clock too (the pacer runs there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_system_clock_too_the_measured_phase_lasts_its_duration() {
    let yaml = "name: t\nload: {records: 0}\nconcurrency: 2\nrate: 4\nwarmup: 0s\nduration: 1s\nops:\n  - {name: read, type: get, weight: 1}\n";
    let r = run_with(yaml, NoopBackend::new(), &RunOptions::default()).await;
    assert_eq!(r.measured.ops, 4);
    assert!(r.measured.duration_s >= 0.999, "{}", r.measured.duration_s);
}

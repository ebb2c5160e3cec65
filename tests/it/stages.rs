//! Load stages and the SLO search, on tokio's paused clock (exact, no wall
//! time): the stages' figures add up to the run's, ramps and holds offer
//! what N(t) says, concurrency stages change the ops in flight, and the
//! search against a target of known capacity lands near it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tikv_bench::backend::{Backend, Capacity, NoopBackend, Operation, TargetInfo};
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::{LevelKind, RunResult, SearchEnd, hist};
use tikv_bench::vocab::{Events, OpError, Outcome, TimeSource};
use tikv_bench::workload::thresholds::Threshold;
use tikv_bench::workload::{Growth, Level, Search, Stage, Stop, Workload};

use crate::util::workload;

fn paused() -> RunOptions {
    RunOptions {
        time: TimeSource::Tokio,
        ..RunOptions::default()
    }
}

fn base(workers: u32) -> Workload {
    workload(&format!(
        "name: t\nload: {{records: 0}}\nconcurrency: {workers}\nops:\n  - {{name: read, type: get, weight: 3}}\n  - {{name: write, type: put, weight: 1}}\n"
    ))
}

fn hold(level: Level, secs: f64, warmup_ms: u64) -> Stage {
    Stage {
        level,
        ramp: false,
        duration: Duration::from_secs_f64(secs),
        warmup: Duration::from_millis(warmup_ms),
    }
}

fn ramp(level: Level, secs: f64) -> Stage {
    Stage {
        ramp: true,
        ..hold(level, secs, 0)
    }
}

/// A workload of `stages` as the parser makes it: no top-level rate or
/// warmup, the stop the stages' total.
fn staged(workers: u32, stages: Vec<Stage>) -> Workload {
    let mut w = base(workers);
    w.rate = None;
    w.warmup = Duration::ZERO;
    w.stop = Stop::Duration(stages.iter().map(|s| s.duration).sum());
    w.stages = stages;
    w
}

async fn run<B: Backend>(w: &Workload, backend: B) -> RunResult {
    driver::run(w, Arc::new(backend), &paused())
        .await
        .expect("run succeeds")
}

#[tokio::test(start_paused = true)]
async fn the_stages_figures_add_up_exactly_to_the_runs() {
    let w = staged(
        4,
        vec![
            hold(Level::Rate(200.0), 2.0, 500),
            ramp(Level::Rate(600.0), 2.0),
            hold(Level::Rate(400.0), 1.0, 0),
        ],
    );
    let capacity = Capacity {
        service: Duration::from_millis(3),
        slots: 2,
    };
    let r = run(&w, NoopBackend::with_capacity(capacity)).await;
    let stages = r.stages.as_ref().expect("a stages section");
    let counts: Vec<u64> = stages.iter().map(|s| s.measured.ops).collect();
    // 1.5 s at 200/s; N(2 s) of 200 -> 600 = 200·2 + 400·2/2; 400.
    assert_eq!(counts, [300, 800, 400]);
    assert_eq!(r.warmup.ops, 100, "the first stage's 500 ms warmup");
    assert_eq!(r.measured.ops, counts.iter().sum::<u64>());
    let spans: f64 = stages.iter().map(|s| s.duration_s).sum();
    assert_eq!(r.measured.duration_s, spans);
    assert_eq!(spans, 4.5);
    let starts: Vec<f64> = stages.iter().map(|s| s.start_s).collect();
    assert_eq!(starts, [0.0, 2.0, 4.0]);
    for (name, op) in &r.ops {
        let mut sum = hist::new_hist();
        let mut ok = 0;
        for s in stages {
            hist::add(&mut sum, &hist::decode(&s.ops[name].histogram).unwrap());
            ok += s.ops[name].ok;
        }
        assert_eq!(ok, op.ok, "{name}");
        assert_eq!(sum, hist::decode(&op.histogram).unwrap(), "{name}");
        assert!(op.ok > 0, "{name}");
    }
    assert_eq!(stages[1].level.kind, LevelKind::Rate);
    assert_eq!((stages[1].level.from, stages[1].level.to), (200.0, 600.0));
}

#[tokio::test(start_paused = true)]
async fn a_run_without_stages_has_no_stages_section() {
    let mut w = base(2);
    w.rate = Some(100.0);
    w.stop = Stop::Duration(Duration::from_secs(1));
    let r = run(&w, NoopBackend::new()).await;
    assert!(r.stages.is_none() && r.search.is_none());
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("stages").is_none());
    assert_eq!(r.measured.ops, 100);
}

/// Records when each op starts, seconds after the first.
#[derive(Default)]
struct Starts(Mutex<Vec<tokio::time::Instant>>);

impl Backend for Starts {
    async fn execute<O: Operation>(&self, _op: &O, _: &mut Events) -> Result<Outcome, OpError> {
        self.0.lock().unwrap().push(tokio::time::Instant::now());
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "starts".into(),
            description: "test".into(),
        }
    }
}

/// Ops started in each second of the run.
async fn per_second(w: &Workload) -> Vec<u64> {
    let starts = Arc::new(Starts::default());
    driver::run(w, starts.clone(), &paused()).await.unwrap();
    let at = starts.0.lock().unwrap();
    let first = *at.iter().min().unwrap();
    let mut secs = vec![];
    for t in at.iter() {
        let s = (*t - first).as_secs() as usize;
        if secs.len() <= s {
            secs.resize(s + 1, 0);
        }
        secs[s] += 1;
    }
    secs
}

#[tokio::test(start_paused = true)]
async fn a_ramp_offers_what_n_of_t_says_each_second() {
    // 0 -> 1000 ops/s over 4 s: N(t) = 125·t², so N(1..4) = 125, 500,
    // 1125, 2000: 125, 375, 625, 875 a second, rising by 250.
    let w = staged(8, vec![ramp(Level::Rate(1000.0), 4.0)]);
    assert_eq!(per_second(&w).await, [125, 375, 625, 875]);
}

#[tokio::test(start_paused = true)]
async fn a_hold_then_a_hold_changes_rate_at_the_boundary() {
    let w = staged(
        3,
        vec![
            hold(Level::Rate(100.0), 2.0, 0),
            hold(Level::Rate(300.0), 2.0, 0),
        ],
    );
    assert_eq!(per_second(&w).await, [100, 100, 300, 300]);
}

#[tokio::test(start_paused = true)]
async fn concurrency_stages_change_the_ops_in_flight() {
    // 64 slots of 10 ms never queue: each busy worker completes 100 ops/s.
    let w = staged(
        8,
        vec![
            hold(Level::Workers(2), 1.0, 0),
            hold(Level::Workers(8), 1.0, 0),
            ramp(Level::Workers(0), 1.0),
        ],
    );
    let capacity = Capacity {
        service: Duration::from_millis(10),
        slots: 64,
    };
    let r = run(&w, NoopBackend::with_capacity(capacity)).await;
    assert_eq!(r.mode, "closed");
    let stages = r.stages.unwrap();
    let ops: Vec<u64> = stages.iter().map(|s| s.measured.ops).collect();
    // The ramp 8 -> 0 keeps worker g busy while g < 8·(1 - t): g·1/8 s
    // less than the whole second, 100 ops/s: 100·(8+7+..+1)/8 = 450.
    assert_eq!(ops[..2], [200, 800]);
    assert!((440..=460).contains(&ops[2]), "{ops:?}");
    // Achieved counts completions inside the span: the first second's
    // ops end at 10 ms..1 s, and the two ending at 1 s count in the
    // second stage (8·99 of its own + 2).
    assert_eq!(stages[0].achieved_per_s, 198.0);
    assert_eq!(stages[1].achieved_per_s, 794.0);
}

fn search(slo: &str, start: f64) -> Search {
    Search {
        slo: vec![Threshold::parse(slo).unwrap()],
        start,
        growth: Growth::Factor(2.0),
        max: 100_000.0,
        hold: Duration::from_secs(2),
        warmup: Duration::from_millis(500),
        precision: 0.05,
        max_steps: 20,
        max_error_rate: 0.01,
    }
}

fn searching(workers: u32, s: Search) -> Workload {
    let mut w = base(workers);
    w.ops.truncate(1);
    w.rate = None;
    w.warmup = Duration::ZERO;
    w.search = Some(s);
    w
}

/// The steps a search ran: (offered rate, passed).
fn steps(r: &RunResult) -> Vec<(f64, bool)> {
    r.stages
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| (s.level.to, s.verdict.as_ref().unwrap().passed))
        .collect()
}

async fn search_against(slots: u32, service_ms: u64, workers: u32, start: f64) -> RunResult {
    let capacity = Capacity {
        service: Duration::from_millis(service_ms),
        slots,
    };
    let slo = format!("p99 of read < {}ms", 2 * service_ms);
    let w = searching(workers, search(&slo, start));
    run(&w, NoopBackend::with_capacity(capacity)).await
}

fn assert_lands_near(r: &RunResult, capacity: f64) {
    let found = r.search.as_ref().expect("a search section");
    let best = found.best_rate.expect("a step passed");
    let failed = found.first_failed_rate.expect("a step failed");
    assert_eq!(found.ended, SearchEnd::Converged, "{:?}", steps(r));
    assert!(
        (best - capacity).abs() <= 0.1 * capacity,
        "best {best} vs {capacity}: {:?}",
        steps(r)
    );
    assert!(failed > capacity, "first failure {failed}: {:?}", steps(r));
    let run: u64 = r
        .stages
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.measured.ops)
        .sum();
    assert_eq!(run, r.measured.ops, "the steps add up to the run");
    assert_eq!(found.steps.len(), r.stages.as_ref().unwrap().len());
}

#[tokio::test(start_paused = true)]
async fn the_search_finds_a_400_per_s_capacity() {
    let r = search_against(4, 10, 64, 50.0).await;
    assert_lands_near(&r, 400.0);
}

#[tokio::test(start_paused = true)]
async fn the_search_finds_an_8000_per_s_capacity() {
    let r = search_against(16, 2, 128, 1000.0).await;
    assert_lands_near(&r, 8000.0);
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_steps() {
    let a = search_against(4, 10, 64, 50.0).await;
    let b = search_against(4, 10, 64, 50.0).await;
    assert_eq!(steps(&a), steps(&b));
    assert!(steps(&a).len() > 3);
}

#[tokio::test(start_paused = true)]
async fn a_driver_with_too_few_workers_is_reported_driver_limited() {
    // Two workers of 2 ms ops send at most 1000 ops/s; the target takes
    // 8000.
    let r = search_against(16, 2, 2, 100.0).await;
    let found = r.search.unwrap();
    assert_eq!(found.ended, SearchEnd::DriverLimited, "{found:?}");
    let last = r.stages.unwrap().pop().unwrap();
    assert!(last.verdict.unwrap().driver_limited);
    assert!(found.best_rate.unwrap() <= 1000.0);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_search_says_so_and_keeps_the_steps_run() {
    let capacity = Capacity {
        service: Duration::from_millis(10),
        slots: 4,
    };
    let w = searching(16, search("p99 of read < 20ms", 50.0));
    let opts = paused();
    let interrupt = opts.interrupt.clone();
    let fire = tokio::spawn(async move {
        // Mid-way through the third step (each is 2.5 s).
        tokio::time::sleep(Duration::from_secs(6)).await;
        interrupt.fire();
    });
    let r = driver::run(&w, Arc::new(NoopBackend::with_capacity(capacity)), &opts)
        .await
        .unwrap();
    fire.await.unwrap();
    assert!(r.interrupted);
    let found = r.search.unwrap();
    assert_eq!(found.ended, SearchEnd::Interrupted);
    let stages = r.stages.unwrap();
    assert_eq!(stages.len(), 3, "two steps judged, the third cut short");
    assert!(stages[..2].iter().all(|s| s.verdict.is_some()));
    assert!(stages[2].verdict.is_none());
    assert!(stages[2].duration_s < 2.0, "{}", stages[2].duration_s);
    let ops: u64 = stages.iter().map(|s| s.measured.ops).sum();
    assert_eq!(ops, r.measured.ops);
}

#[tokio::test(start_paused = true)]
async fn an_abort_on_fail_threshold_stops_the_run_at_its_first_miss() {
    // One slot of 10 ms takes 100 ops/s; 200 are offered, so latency
    // climbs and the p99 bound is missed once its 1 s delay has passed.
    let mut w = base(32);
    w.ops.truncate(1);
    w.rate = Some(200.0);
    w.warmup = Duration::ZERO;
    w.stop = Stop::Duration(Duration::from_secs(30));
    let mut t = Threshold::parse("p99 of read < 50ms").unwrap();
    t.abort = Some(Duration::from_secs(1));
    w.thresholds = vec![t];
    let capacity = Capacity {
        service: Duration::from_millis(10),
        slots: 1,
    };
    let r = run(&w, NoopBackend::with_capacity(capacity)).await;
    let aborted = r.aborted.as_ref().expect("the run was aborted");
    assert_eq!(aborted.threshold, "p99 of read < 50ms");
    assert!((1.0..=2.0).contains(&aborted.at_s), "{aborted:?}");
    assert!(!r.interrupted, "an abort is not an interrupt");
    assert!(r.measured.duration_s < 3.0, "{}", r.measured.duration_s);

    // Without abort_on_fail, the same threshold lets the run go on.
    w.thresholds[0].abort = None;
    w.stop = Stop::Duration(Duration::from_secs(3));
    let r = run(&w, NoopBackend::with_capacity(capacity)).await;
    assert!(r.aborted.is_none() && !r.interrupted);
    assert_eq!(r.measured.ops, 600, "the whole schedule ran");
}

/// On the system clock each stage's self-check carries the process's CPU
/// over that stage's measured span, so a search step that fails while the
/// process is out of CPU says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_reads_the_processs_cpu_over_its_span() {
    let w = staged(
        4,
        vec![
            hold(Level::Rate(200.0), 0.4, 100),
            hold(Level::Rate(400.0), 0.3, 0),
        ],
    );
    let r = driver::run(&w, Arc::new(NoopBackend::new()), &RunOptions::default())
        .await
        .expect("run");
    let stages = r.stages.expect("stages");
    for (s, span_us) in stages.iter().zip([300_000u64, 300_000]) {
        let cpu = s.driver_check.as_ref().and_then(|c| c.cpu).expect("cpu");
        assert!(
            cpu.wall_us.abs_diff(span_us) < 50_000,
            "read over the measured span: {cpu:?}"
        );
        assert!(!cpu.with_target, "noop runs no target in process");
    }
}

//! Benchmarks of the workload generator, the recorder and the driver loop.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use tikv_bench::backend::NoopBackend;
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::hist::new_hist;
use tikv_bench::metrics::{Clock, Completion, Recorder};
use tikv_bench::vocab::rng::rng_for;
use tikv_bench::vocab::{Events, OpError, Outcome};
use tikv_bench::workload::keys::{KeyChooser, KeyFormat, SharedKeys};
use tikv_bench::workload::stream::{Generator, ValuePool};
use tikv_bench::workload::{Api, Stop, Workload};

fn workload(distribution: &str) -> Workload {
    let yaml = format!(
        "name: bench\nkeys: {{records: 1000000, {distribution}}}\nconcurrency: 1\nops:\n  - {{type: get, weight: 1}}\n"
    );
    Workload::parse(&yaml, "bench.yaml").expect("valid bench workload")
}

pub fn keygen(c: &mut Criterion) {
    let mut g = c.benchmark_group("keygen");
    g.throughput(Throughput::Elements(1));
    for (name, spec) in [
        ("uniform", "distribution: uniform"),
        ("zipfian", "distribution: zipfian, theta: 0.99"),
        ("latest", "distribution: latest, theta: 0.99"),
        (
            "hotspot",
            "distribution: hotspot, hot_set: 0.2, hot_ops: 0.8",
        ),
        ("sequential", "distribution: sequential"),
    ] {
        let w = workload(spec);
        let mut chooser = KeyChooser::new(&w.keys, SharedKeys::new(&w.keys));
        let format = KeyFormat::new(&w.keys, Api::Raw);
        let mut rng = rng_for(1, 0);
        let mut buf = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let i = chooser.next(&mut rng);
                format.write(i, &mut buf);
                black_box(&buf);
            })
        });
    }
    g.finish();
}

pub fn record(c: &mut Criterion) {
    let mut h = new_hist();
    let mut v = 1u64;
    c.bench_function("record/hdr", |b| {
        b.iter(|| {
            v = (v * 7 + 13) % 100_000;
            h.record(black_box(v)).expect("in range");
        })
    });
}

/// Generating an op is "the work"; the measured variant adds what the
/// worker loop adds per op: a clock read and a record into the recorder.
pub fn measure(c: &mut Criterion) {
    let w = workload("distribution: uniform");
    let values = ValuePool::new(1, w.values.size);
    let mut g = c.benchmark_group("measure");
    g.throughput(Throughput::Elements(1));

    let mut stream = Generator::new(&w, SharedKeys::new(&w.keys), values.clone(), 0);
    g.bench_function("bare", |b| {
        b.iter(|| {
            let (i, op) = stream.next_op();
            black_box((i, op));
        })
    });

    let mut stream = Generator::new(&w, SharedKeys::new(&w.keys), values, 0);
    let start = Instant::now();
    let mut rec = Recorder::new(0, 1, Clock::new(start), start, start, false);
    let events = Events::default();
    let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
    let mut now = Instant::now();
    g.bench_function("measured", |b| {
        b.iter(|| {
            let (i, op) = stream.next_op();
            black_box(op);
            let end = Instant::now();
            let report = rec.record(
                i,
                &events,
                Completion {
                    result: &ok,
                    undetermined: false,
                    intended: now,
                    start: now,
                    end,
                },
            );
            black_box(report);
            now = end;
        })
    });
    g.finish();
}

/// The driver end to end with a backend that does nothing: the ceiling the
/// harness puts on any backend.
pub fn driver_loop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("driver");
    const OPS: u64 = 200_000;
    g.throughput(Throughput::Elements(OPS));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for workers in [1u32, 4] {
        let mut w = workload("distribution: uniform");
        w.load.records = 0;
        w.concurrency = workers;
        w.stop = Stop::Operations(OPS);
        g.bench_function(format!("noop/{workers}-workers"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let r = rt
                        .block_on(driver::run(
                            &w,
                            Arc::new(NoopBackend::new()),
                            &RunOptions::default(),
                        ))
                        .expect("noop run");
                    total += start.elapsed();
                    assert_eq!(r.measured.ops, OPS);
                }
                total
            })
        });
    }
    g.finish();
}

//! The per-op path allocates nothing once warm: generating an op and
//! recording its completion, tracing it and keeping it among the slowest,
//! and with checks on, tagging the value and tracking the op. A counting global allocator proves it; it has its own
//! test binary because a global allocator is per binary, and counts per
//! thread so that the tests do not see each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use tikv_bench::metrics::{Clock, Completion, Recorder};
use tikv_bench::vocab::trace::{Answer, Resolution, ServerTime, Step};
use tikv_bench::vocab::{ErrorKind, Events, OpError, Outcome};
use tikv_bench::workload::Workload;
use tikv_bench::workload::checks::Tracker;
use tikv_bench::workload::keys::SharedKeys;
use tikv_bench::workload::stream::{Generator, ValuePool};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // A thread being torn down has no counter left; nothing to count.
    let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn generating_and_recording_an_op_does_not_allocate() {
    let w = Workload::parse(
        "name: a\nkeys: {records: 100000, txn_prefix: acct, distribution: zipfian}\nvalues: {size: {min: 10, max: 100}}\nops:\n  - {type: get, weight: 4}\n  - {type: put, weight: 3}\n  - {type: scan, weight: 1}\n  - {type: batch_delete, weight: 1, batch: 8}\n  - {type: txn, weight: 1, reads: 2, writes: 2}\n  - {type: cas, weight: 1}\n",
        "a.yaml",
    )
    .unwrap();
    let mut stream = Generator::new(
        &w,
        SharedKeys::new(&w.keys),
        ValuePool::new(1, w.values.size),
        0,
    );
    let base = Instant::now();
    // Pin the clock so that no synthetic time below crosses a second boundary.
    let clock = Clock::new(base);
    let mut rec = Recorder::new(0, w.ops.len(), clock, base, base, true);
    let events = Events::default();
    let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
    let err: Result<Outcome, OpError> = Err(OpError::new(ErrorKind::ServerIsBusy, "busy"));
    let mut step = |i: u64| {
        let (op, _) = stream.next_op();
        let t = base + Duration::from_nanos(i * 10);
        let result = if i.is_multiple_of(97) { &err } else { &ok };
        let c = Completion {
            result,
            undetermined: false,
            intended: t,
            start: t,
            end: t + Duration::from_micros(i % 5000),
        };
        assert!(
            rec.record(op, &events, c).is_none(),
            "no second boundary is crossed"
        );
    };
    // Warm up: buffers reach their final sizes, histograms their range, the
    // error sample is stored.
    for i in 0..20_000 {
        step(i);
    }
    let before = allocs();
    for i in 0..50_000 {
        step(i);
    }
    let allocs = allocs() - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50000 ops");
}

#[test]
fn tracing_an_op_and_keeping_it_among_the_slowest_does_not_allocate_once_warm() {
    let base = Instant::now();
    let clock = Clock::new(base);
    let mut rec = Recorder::new(0, 2, clock, base, base, false);
    let mut events = Events::default();
    let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
    let mut step = |i: u64, latency: Duration| {
        let t = base + Duration::from_nanos(i * 10);
        // Ops ever slower: one in ten is kept, in the slot of the least
        // slow, with a trace whose length varies.
        events.clear();
        let trace = events.trace_mut();
        for n in 0..(i % 40) {
            let rpc = Step::Rpc {
                rpc: "KvGet",
                store: n,
                region: 7,
                answer: Answer::KeyError(ErrorKind::KeyIsLocked),
                // Every other RPC with the store's time, recorded per op.
                server: (n % 2 == 0).then_some(ServerTime {
                    total_us: n as u32,
                    wait_us: 0,
                    process_us: n as u32,
                    kv_read_us: 0,
                }),
            };
            trace.push(t, Duration::from_micros(n), rpc);
            trace.resolved(
                t,
                i,
                b"user000000009514",
                b"user000000003333",
                Resolution::TxnNotFound,
            );
        }
        let c = Completion {
            result: &ok,
            undetermined: false,
            intended: t,
            start: t,
            end: t + latency,
        };
        assert!(rec.record((i % 2) as usize, &events, c).is_none());
    };
    let slower = |i: u64| Duration::from_nanos(i * 100);
    // Warm up: the histograms reach their range, the worker's trace and
    // every kept slot the longest trace's size.
    step(0, Duration::from_millis(20));
    step(1, Duration::from_millis(20));
    for i in 2..2_000 {
        step(i, slower(i));
    }
    let before = allocs();
    for i in 2_000..52_000 {
        step(i, slower(i));
    }
    let allocs = allocs() - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50000 traced ops");
}

#[test]
fn with_checks_on_tagging_and_tracking_an_op_does_not_allocate_once_every_key_was_written() {
    let w = Workload::parse(
        "name: a\nkeys: {records: 500, txn_prefix: acct}\nvalues: {size: {min: 16, max: 100}}\nops:\n  - {type: get, weight: 4}\n  - {type: put, weight: 3}\n  - {type: batch_delete, weight: 1, batch: 4}\n  - {type: cas, weight: 1}\n  - {type: txn, weight: 3, reads: 1, writes: 3}\nchecks:\n  bank: {accounts: 20}\n  inventory: {}\n  readback: {}\n  scan: {}\n",
        "a.yaml",
    )
    .unwrap();
    let mut stream = Generator::new(
        &w,
        SharedKeys::new(&w.keys),
        ValuePool::new(1, w.values.size),
        0,
    );
    let mut tracker = Tracker::new(&w.checks);
    let base = Instant::now();
    let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
    let unknown: Result<Outcome, OpError> =
        Err(OpError::undetermined(ErrorKind::Timeout, "timeout"));
    let mut step = |i: u64| {
        let (_, op) = stream.next_op();
        let t = base + Duration::from_nanos(i * 10);
        // Unknown outcomes are kept per key (bounded), so only warmup has them.
        let result = if i < 20_000 && i.is_multiple_of(101) {
            &unknown
        } else {
            &ok
        };
        tracker.record(&op, result, false, 1, (t, t + Duration::from_micros(5)));
    };
    // Warm up: every key is written, the value buffer reaches its size.
    for i in 0..30_000 {
        step(i);
    }
    let before = allocs();
    for i in 30_000..80_000 {
        step(i);
    }
    let allocs = allocs() - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50000 ops");
    let log = tracker.finish().readback;
    assert!(log.keys.len() > 400 && log.txn.keys.len() > 400);
}

#[test]
fn keeping_per_stage_stats_does_not_allocate_per_op_once_warm() {
    let base = Instant::now();
    let clock = Clock::new(base);
    let mut rec = Recorder::new(0, 2, clock, base, base, true);
    rec.keep_stages();
    let far = base + Duration::from_secs(3600);
    rec.enter_stage(base, [(base, far)]);
    let events = Events::default();
    let ok: Result<Outcome, OpError> = Ok(Outcome::Done);
    let err: Result<Outcome, OpError> = Err(OpError::new(ErrorKind::ServerIsBusy, "busy"));
    let mut step = |i: u64| {
        let t = base + Duration::from_nanos(i * 10);
        let c = Completion {
            result: if i.is_multiple_of(97) { &err } else { &ok },
            undetermined: false,
            intended: t,
            start: t,
            end: t + Duration::from_micros(i % 5000),
        };
        assert!(rec.record((i % 2) as usize, &events, c).is_none());
    };
    for i in 0..20_000 {
        step(i);
    }
    let before = allocs();
    for i in 20_000..70_000 {
        step(i);
    }
    let allocs = allocs() - before;
    assert_eq!(allocs, 0, "{allocs} allocations in 50000 ops");
}

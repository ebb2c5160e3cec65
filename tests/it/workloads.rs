//! Workload files: every shipped file parses, round-trips through its
//! as-run form and runs briefly; bad files are refused with the position
//! of the value at fault.

use std::time::Duration;

use tikv_bench::backend::MemoryBackend;
use tikv_bench::workload::{Workload, WorkloadError};

use crate::util::{run, shipped_workloads, shorten};

#[test]
fn the_shipped_files_include_the_promised_set() {
    let names: Vec<String> = shipped_workloads()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "quickstart",
        "ycsb-a",
        "ycsb-b",
        "ycsb-c",
        "ycsb-e",
        "batch-delete",
        "contention-optimistic",
        "contention-pessimistic",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "workloads/{want}.yaml is missing"
        );
    }
}

#[test]
fn quickstart_has_every_op_type() {
    let w = Workload::load(&crate::util::root().join("workloads/quickstart.yaml")).unwrap();
    let mut types: Vec<&str> = w.ops.iter().map(|o| o.kind.type_name()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types, ["batch_delete", "cas", "get", "put", "scan", "txn"]);
}

#[test]
fn the_contention_pair_differs_only_in_lock_mode() {
    let root = crate::util::root();
    let opt = Workload::load(&root.join("workloads/contention-optimistic.yaml")).unwrap();
    let pes = Workload::load(&root.join("workloads/contention-pessimistic.yaml")).unwrap();
    let strip = |w: &Workload| {
        let yaml = w.to_yaml();
        yaml.replace("pessimistic", "MODE")
            .replace("optimistic", "MODE")
    };
    assert_eq!(strip(&opt), strip(&pes));
    assert_ne!(opt.ops, pes.ops);
}

#[test]
fn every_shipped_file_round_trips_through_its_as_run_form() {
    for path in shipped_workloads() {
        let w = Workload::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let again = Workload::parse(&w.to_yaml(), "as-run.yaml").unwrap_or_else(|e| {
            panic!(
                "{}: as-run form does not parse: {e}\n{}",
                path.display(),
                w.to_yaml()
            )
        });
        assert_eq!(again, w, "{}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_file_runs_briefly_and_every_op_succeeds() {
    for path in shipped_workloads() {
        let mut w = Workload::load(&path).unwrap();
        shorten(&mut w, Duration::from_millis(300));
        // The memory backend keeps no TTLs; the engine does.
        let r = if w.uses_ttl() {
            run(&w, tikv_bench::backend::InprocBackend::default()).await
        } else {
            run(&w, MemoryBackend::new()).await
        };
        for op in &w.ops {
            let o = &r.ops[&op.name];
            assert!(
                o.ok > 0,
                "{}: op {} never succeeded",
                path.display(),
                op.name
            );
            assert_eq!(
                o.failed + o.unknown,
                0,
                "{}: op {} failed",
                path.display(),
                op.name
            );
        }
    }
}

/// (file text, expected "line:column", a fragment of the message)
const BAD: &[(&str, &str, &str)] = &[
    (
        "name: x\nops:\n  - {type: put, weight: 1, ttl: 30s}\n",
        "3:33",
        "ttl needs client.api_version v1ttl or v2 (TiKV keeps TTLs only then), got v1",
    ),
    (
        "name: x\nclient: {api_version: v1ttl}\nops:\n  - {type: cas, weight: 1, ttl: 500ms}\n",
        "4:33",
        "ttl must be whole seconds, at least 1s",
    ),
    (
        "name: x\nclient: {api_version: v1}\nops:\n  - {type: get_ttl, weight: 1}\n",
        "4:12",
        "get_ttl needs client.api_version v1ttl or v2",
    ),
    ("name: x\nops: [\n", "2:6", "unclosed bracket"),
    (
        "name: x\nkeys: {distribution: zipfain}\nops: [{type: get, weight: 1}]\n",
        "2:22",
        "expected one of uniform, zipfian, latest, hotspot, sequential",
    ),
    (
        "name: x\nconcurency: 4\nops: [{type: get, weight: 1}]\n",
        "2:1",
        "unknown field `concurency`",
    ),
    (
        "name: x\nops:\n  - {type: get, weight: 0}\n  - {type: put, weight: 0}\n",
        "3:3",
        "every op has weight 0",
    ),
    (
        "name: x\nconcurrency: -4\nops: [{type: get, weight: 1}]\n",
        "2:14",
        "concurrency must be between 1 and 100000, got -4",
    ),
    (
        "name: x\nops: [{type: gett, weight: 1}]\n",
        "2:14",
        "expected one of get, put, scan, batch_delete, cas, txn",
    ),
    (
        "name: x\nops: [{type: txn, weight: 1, lock: optimistc}]\n",
        "2:36",
        "expected one of optimistic, pessimistic",
    ),
    ("name: x\nops: []\n", "2:6", "'ops' is empty"),
    (
        "name: x\nwarmup: soon\nops: [{type: get, weight: 1}]\n",
        "2:9",
        "cannot read 'soon' as a duration",
    ),
    (
        "name: x\nduration: 1s\noperations: 5\nops: [{type: get, weight: 1}]\n",
        "3:13",
        "either 'duration' or 'operations'",
    ),
    (
        "name: x\nkeys: {distribution: uniform, theta: 0.5}\nops: [{type: get, weight: 1}]\n",
        "2:38",
        "'theta' applies only",
    ),
    (
        "name: x\nkeys: {distribution: hotspot, hot_set: 1.5}\nops: [{type: get, weight: 1}]\n",
        "2:40",
        "hot_set must be in (0, 1]",
    ),
    (
        "name: x\nkeys: {records: 1000, size: 6}\nops: [{type: get, weight: 1}]\n",
        "2:17",
        "need more than the 2 digits",
    ),
    (
        "name: x\nvalues: {size: {min: 10, max: 5}}\nops: [{type: get, weight: 1}]\n",
        "2:16",
        "1 <= min <= max",
    ),
    (
        "name: x\nops: [{type: get, weight: 1, batch: 3}]\n",
        "2:37",
        "'batch' applies only to batch_delete ops, not to 'get'",
    ),
    (
        "name: x\nops: [{type: get, weight: 1}, {type: get, weight: 1}]\n",
        "2:38",
        "needs a 'name'",
    ),
    (
        "name: x\nrate: 0\nops: [{type: get, weight: 1}]\n",
        "2:7",
        "rate must be a positive number",
    ),
    (
        "name: x\nops: [{type: get, weight: 1}]\nclient: {retry: {on: [timeout, write_confict]}}\n",
        "3:32",
        "choose from: timeout, unavailable",
    ),
    (
        "name: x\nops: [{type: get, weight: 1}]\nclient: {retry: {jitter: some}}\n",
        "3:26",
        "expected one of none, full, equal",
    ),
    (
        "name: x\nops: [{type: get, weight: 1}]\nclient: {transport: batched}\n",
        "3:21",
        "expected one of unary, batch",
    ),
    (
        "name: x\nops: [{type: get, weight: 1}]\nclient: {transport: batch, max_batch_size: 0}\n",
        "3:44",
        "client.max_batch_size",
    ),
    (
        "name: bad name!\nops: [{type: get, weight: 1}]\n",
        "1:7",
        "invalid name",
    ),
    (
        "ops: [{type: get, weight: 1}]\n",
        "1:1",
        "missing field `name`",
    ),
    (
        "name: x\nclient:\n  atomic: false\nops: [{type: cas, weight: 1}]\n",
        "3:11",
        "client.atomic is false, but the workload uses compare-and-swap",
    ),
    (
        "name: x\nops:\n  - {type: get, weight: 1}\n  - {name: t, type: txn, weight: 1}\n",
        "4:21",
        "op 't' (transactional) and op 'get' (raw) use the same key range (keys.prefix 'user', keys.txn_prefix 'user'): under TiKV's API V1",
    ),
    (
        // Different prefixes may still meet: raw keys k0.. to k9.., and
        // the transactional keys k9.. encoded lie among them.
        "name: x\nkeys: {prefix: k, txn_prefix: k9}\nops:\n  - {type: put, weight: 1}\n  - {type: txn, weight: 1}\n",
        "5:12",
        "keys.txn_prefix 'k9'",
    ),
    (
        "name: x\nclient: {api_version: v1ttl}\nops:\n  - {type: put, weight: 1}\n  - {name: t, type: txn, weight: 1}\n",
        "5:21",
        "op 't' is transactional, but client.api_version is v1ttl: a TiKV with storage.api-version V1TTL takes raw requests only",
    ),
    (
        "name: x\nclient: {keyspace: alpha}\nops: [{type: get, weight: 1}]\n",
        "2:20",
        "client.keyspace 'alpha' needs client.api_version v2 (keyspaces are API V2's), but it is v1; valid api_version values: v1, v1ttl, v2",
    ),
];

/// Raw and transactional ops on key ranges of their own are accepted, even
/// when one prefix extends the other, as long as the stored ranges do not
/// meet.
#[test]
fn raw_and_txn_ops_on_their_own_key_ranges_are_accepted() {
    for keys in [
        "{txn_prefix: acct}",
        "{prefix: user, txn_prefix: user_}",
        "{prefix: u, txn_prefix: user}",
    ] {
        let text = format!(
            "name: x\nkeys: {keys}\nops:\n  - {{type: put, weight: 1}}\n  - {{type: txn, weight: 1}}\n"
        );
        Workload::parse(&text, "ok.yaml").unwrap_or_else(|e| panic!("{keys}: {e}"));
    }
}

/// Under API V2 raw and transactional keys carry different prefixes, so
/// ops of both kinds on the same keys are accepted; the keyspace defaults
/// to DEFAULT, and the embedded cluster follows the client.
#[test]
fn raw_and_txn_ops_on_the_same_keys_are_accepted_under_api_v2() {
    let text = "name: x\nclient: {api_version: v2}\nops:\n  - {type: put, weight: 1}\n  - {type: txn, weight: 1}\n";
    let w = Workload::parse(text, "ok.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.client.keyspace.as_deref(), Some("DEFAULT"));
    assert_eq!(w.cluster.api_version, tikv_bench::vocab::ApiVersion::V2);
}

#[test]
fn bad_files_are_refused_with_file_line_column_and_choices() {
    for (text, at, fragment) in BAD {
        let err = Workload::parse(text, "bad.yaml").expect_err(text);
        let msg = err.to_string();
        let first = msg.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("bad.yaml:{at}: ")),
            "for {text:?} expected bad.yaml:{at}:, got:\n{msg}"
        );
        assert!(
            msg.contains(fragment),
            "for {text:?} expected {fragment:?} in:\n{msg}"
        );
        assert!(matches!(err, WorkloadError::Invalid { .. }));
    }
}

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let text = "name: x\nkeys: {records: 0, theta: 2}\nconcurrency: 0\nops: [{type: txn, weight: 1, reads: 0, writes: 0}]\n";
    let err = Workload::parse(text, "bad.yaml").unwrap_err();
    let lines: Vec<(u64, u64)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column))
        .collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "diagnostics are sorted by position: {lines:?}"
    );
}

/// The stand-in's strict-TiKV faults are set from a workload like the rest.
#[test]
fn busy_hints_queue_waits_and_pair_errors_are_workload_faults() {
    let text = "name: x\nops: [{type: scan, weight: 1}]\ncluster:\n  faults: {busy: 0.1, busy_backoff: 300ms, queue_wait: 5ms, pair_error: 0.01}\n";
    let w = Workload::parse(text, "f.yaml").unwrap();
    let f = &w.cluster.faults;
    assert_eq!(f.busy_backoff, std::time::Duration::from_millis(300));
    assert_eq!(f.queue_wait, std::time::Duration::from_millis(5));
    assert_eq!(f.pair_error, 0.01);
    let bad = "name: x\nops: [{type: scan, weight: 1}]\ncluster:\n  faults: {pair_error: 1.5}\n";
    let e = Workload::parse(bad, "f.yaml").unwrap_err().to_string();
    assert!(
        e.contains("f.yaml:4:") && e.contains("faults.pair_error is a probability"),
        "{e}"
    );
}

/// The load the stores report to BatchCommands clients is a fault too.
#[test]
fn the_transport_load_is_a_workload_fault() {
    let text =
        "name: x\nops: [{type: get, weight: 1}]\ncluster:\n  faults: {transport_load: 250}\n";
    let w = Workload::parse(text, "f.yaml").unwrap();
    assert_eq!(w.cluster.faults.transport_load, Some(250));
    let w = Workload::parse("name: x\nops: [{type: get, weight: 1}]\n", "f.yaml").unwrap();
    assert_eq!(
        w.cluster.faults.transport_load, None,
        "the stores' own figure"
    );
    let bad =
        "name: x\nops: [{type: get, weight: 1}]\ncluster:\n  faults:\n    transport_load: -5\n";
    let e = Workload::parse(bad, "f.yaml").unwrap_err().to_string();
    assert!(
        e.contains("f.yaml:5:") && e.contains("faults.transport_load must be at least 0"),
        "{e}"
    );
}

/// The latency fault is one duration for every request or one per cost
/// class; a bad one is named by file:line:column.
#[test]
fn latency_is_one_duration_or_a_read_and_a_write_one() {
    use std::time::Duration;
    use tikv_bench::cluster::config::Latency;
    let parse = |faults: &str| {
        let text =
            format!("name: x\nops: [{{type: scan, weight: 1}}]\ncluster:\n  faults: {faults}\n");
        Workload::parse(&text, "f.yaml")
    };
    let ms = Duration::from_millis;
    let same = parse("{latency: 2ms}").unwrap();
    assert_eq!(same.cluster.faults.latency, Latency::same(ms(2)));
    let split = parse("{latency: {read: 500us, write: 3ms}}").unwrap();
    let l = split.cluster.faults.latency;
    assert_eq!((l.read, l.write), (Duration::from_micros(500), ms(3)));
    let only = parse("{latency: {write: 3ms}}").unwrap();
    assert_eq!(only.cluster.faults.latency.read, Duration::ZERO);
    // The workload as run writes it back the way it was given.
    let json = serde_json::to_value(&split).unwrap();
    assert_eq!(
        json["cluster"]["faults"]["latency"],
        serde_json::json!({"read": "500us", "write": "3ms"})
    );
    let json = serde_json::to_value(&same).unwrap();
    assert_eq!(json["cluster"]["faults"]["latency"], "2ms");
    let e = parse("{latency: {read: 1ms, write: soon}}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f.yaml:4:") && e.contains("faults.latency.write"),
        "{e}"
    );
    let e = parse("{latency: {read: 1ms, apply: 2ms}}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f.yaml:4:") && e.contains("read") && e.contains("write"),
        "{e}"
    );
    let e = parse("{latency: later}").unwrap_err().to_string();
    assert!(
        e.contains("f.yaml:4:") && e.contains("faults.latency"),
        "{e}"
    );
    // One store only: the others answer at once; the store must exist.
    let one = parse("{latency: {read: 5ms, store: 2}}").unwrap();
    let l = one.cluster.faults.latency;
    assert_eq!((l.read, l.store), (ms(5), Some(2)));
    let json = serde_json::to_value(&one).unwrap();
    assert_eq!(
        json["cluster"]["faults"]["latency"],
        serde_json::json!({"read": "5ms", "write": "0s", "store": 2})
    );
    let e = parse("{latency: {read: 5ms, store: 4}}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f.yaml:4:") && e.contains("faults.latency.store"),
        "{e}"
    );
}

/// The head of the files below: an op mix on lines 1-3.
const HEAD: &str = "name: x\nops:\n  - {name: read, type: get, weight: 1}\n";

/// (what follows HEAD, expected "line:column", fragments of the message)
const BAD_LOAD: &[(&str, &str, &[&str])] = &[
    (
        "stages:\n  - {rate: 100, concurrency: 2, hold: 1s}\n",
        "5:30",
        &[
            "either 'rate' (ops/s, open loop) or 'concurrency' (busy workers, closed loop), not both",
        ],
    ),
    (
        "stages:\n  - {hold: 1s}\n",
        "5:5",
        &["a stage needs a level: 'rate'", "or 'concurrency'"],
    ),
    (
        "stages:\n  - {rate: 100, hold: 1s, ramp: 2s}\n",
        "5:33",
        &["either 'hold: D'", "or 'ramp: D'", "not both"],
    ),
    (
        "stages:\n  - {rate: 100}\n",
        "5:5",
        &["a stage needs a length: 'hold: D'", "or 'ramp: D'"],
    ),
    (
        "stages:\n  - {rate: 100, hold: 2s, warmup: 2s}\n",
        "5:35",
        &["warmup (2s) must be shorter than its hold (2s)"],
    ),
    (
        "stages:\n  - {rate: 100, hold: 1s}\n  - {concurrency: 4, hold: 1s}\n",
        "6:19",
        &[
            "stage 2 is a concurrency stage, but stage 1 is a rate stage",
            "all rate stages (open loop) or all concurrency stages (closed loop)",
        ],
    ),
    (
        "stages:\n  - {rate: 100, hlod: 1s}\n",
        "5:17",
        &["hlod", "rate", "concurrency", "hold", "ramp", "warmup"],
    ),
    (
        "stages: []\n",
        "4:9",
        &["'stages' is empty", "{rate: 1000, hold: 30s}"],
    ),
    (
        "stages:\n  - {rate: -3, hold: 1s}\n",
        "5:12",
        &["rate must be a positive number of ops/s, got -3"],
    ),
    (
        "concurrency: 8\nstages:\n  - {concurrency: 4, ramp: 1s}\n",
        "4:14",
        &[
            "'concurrency' cannot be given with 'stages'",
            "largest stage's",
        ],
    ),
    (
        "rate: 100\nstages:\n  - {rate: 100, hold: 1s}\n",
        "4:7",
        &["'rate' cannot be given with 'stages': each stage sets its own level"],
    ),
    (
        "duration: 5s\nstages:\n  - {rate: 100, hold: 1s}\n",
        "4:11",
        &["'duration' cannot be given with 'stages': the run lasts as long as its stages"],
    ),
    (
        "operations: 5\nstages:\n  - {rate: 100, hold: 1s}\n",
        "4:13",
        &["'operations' cannot be given with 'stages'"],
    ),
    (
        "warmup: 1s\nstages:\n  - {rate: 100, hold: 1s}\n",
        "4:9",
        &["'warmup' cannot be given with 'stages': give each stage its own 'warmup'"],
    ),
    (
        "sweep: {rate: [100, 200]}\nstages:\n  - {rate: 100, hold: 1s}\n",
        "4:15",
        &[
            "sweeping 'rate' conflicts with 'stages'",
            "lock, commit, theta",
        ],
    ),
    (
        "sweep: {concurrency: [1, 2]}\nstages:\n  - {concurrency: 4, hold: 1s}\n",
        "4:22",
        &["sweeping 'concurrency' conflicts with concurrency stages"],
    ),
    (
        "search: {slo: \"p99 of read 10ms\", start: 10}\n",
        "4:15",
        &["has no comparison", "one of <, <=, >, >="],
    ),
    (
        "search: {slo: \"p99 of wrte < 10ms\", start: 10}\n",
        "4:15",
        &["no op named (or of type) 'wrte'", "its ops are: read"],
    ),
    (
        "search:\n  slo: [\"p99 of read < 1ms\", \"p42 < 1ms\"]\n  start: 10\n",
        "5:30",
        &["unknown metric 'p42'", "choose from: p50"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, factor: 1}\n",
        "4:47",
        &["search.factor must be greater than 1 (each step multiplies the rate by it), got 1"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, step: 0}\n",
        "4:45",
        &["search.step must be a positive number of ops/s, got 0"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, factor: 2, step: 5}\n",
        "4:56",
        &["give search.factor", "or search.step", "not both"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 500, max: 100}\n",
        "4:35",
        &["search.start (500) must not exceed search.max (100)"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, precision: 100%}\n",
        "4:50",
        &["search.precision must be a fraction in (0, 1), written 0.05 or 5%, got '100%'"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, precision: 0}\n",
        "4:50",
        &["search.precision must be a fraction in (0, 1)", "got 0"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, max_error_rate: 2}\n",
        "4:55",
        &["search.max_error_rate must be a fraction in [0, 1]"],
    ),
    (
        "search: {start: 10}\n",
        "4:9",
        &["a search needs 'slo'", "p99 of read < 10ms"],
    ),
    (
        "search: {slo: \"p99 < 1ms\"}\n",
        "4:9",
        &["a search needs 'start'"],
    ),
    (
        "search: {slo: \"p99 < 1ms\", start: 10, stop: 5}\n",
        "4:39",
        &[
            "stop",
            "slo",
            "start",
            "factor",
            "step",
            "max",
            "hold",
            "precision",
            "max_steps",
            "max_error_rate",
        ],
    ),
    (
        "rate: 100\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "4:7",
        &["'rate' cannot be given with 'search': the search sets each step's rate"],
    ),
    (
        "duration: 1m\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "4:11",
        &[
            "'duration' cannot be given with 'search'",
            "search.warmup + search.hold",
        ],
    ),
    (
        "operations: 100\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "4:13",
        &["'operations' cannot be given with 'search'"],
    ),
    (
        "warmup: 2s\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "4:9",
        &["'warmup' cannot be given with 'search'", "search.warmup"],
    ),
    (
        "stages:\n  - {rate: 100, hold: 1s}\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "6:9",
        &["give either 'stages' or 'search', not both"],
    ),
    (
        "sweep: {rate: [100, 200]}\nsearch: {slo: \"p99 < 1ms\", start: 10}\n",
        "4:15",
        &["sweeping 'rate' conflicts with 'search'"],
    ),
    (
        "thresholds:\n  - {abort_on_fail: true}\n",
        "5:5",
        &[
            "map form needs 'threshold'",
            "its keys: threshold, abort_on_fail, delay",
        ],
    ),
    (
        "thresholds:\n  - {threshold: \"p99 < 1ms\", abort: true}\n",
        "5:30",
        &["abort", "threshold", "abort_on_fail", "delay"],
    ),
    (
        "thresholds:\n  - {threshold: \"p99 < 1ms\", delay: 5s}\n",
        "5:37",
        &["'delay'", "needs abort_on_fail: true"],
    ),
    (
        "thresholds:\n  - {threshold: \"p99 < soon\", abort_on_fail: true}\n",
        "5:17",
        &["'soon' is not a duration"],
    ),
    (
        "thresholds:\n  - {threshold: \"p99 < baseline + 10%\", abort_on_fail: true}\n",
        "5:17",
        &["relative to a baseline", "cannot abort_on_fail"],
    ),
    (
        "search: {slo: \"p99 < baseline\", start: 10}\n",
        "4:15",
        &["search.slo 'p99 < baseline' is relative to a baseline"],
    ),
    (
        "thresholds:\n  - \"max < baseline + 1ms\"\n",
        "5:5",
        &["max cannot be judged against a baseline", "p99.9"],
    ),
    (
        "thresholds:\n  - \"p99 < baseline * 2\"\n",
        "5:5",
        &["'* 2' is not a margin for p99", "baseline + 10%", "+ 2ms"],
    ),
    (
        "thresholds:\n  - \"goodput > baseline - fast\"\n",
        "5:5",
        &["'- fast' is not a margin for goodput", "- 100/s"],
    ),
];

#[test]
fn bad_stages_searches_and_thresholds_are_refused_with_position_and_choices() {
    let mut wrong = Vec::new();
    for (tail, at, fragments) in BAD_LOAD {
        let text = format!("{HEAD}{tail}");
        let err = Workload::parse(&text, "bad.yaml").expect_err(&text);
        assert!(matches!(err, WorkloadError::Invalid { .. }));
        let msg = err.to_string();
        let first = msg.lines().next().unwrap();
        if !first.starts_with(&format!("bad.yaml:{at}: ")) {
            wrong.push(format!("{tail:?}: expected bad.yaml:{at}:, got: {first}"));
        }
        for f in *fragments {
            if !msg.contains(f) {
                wrong.push(format!("{tail:?}: expected {f:?} in: {first}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn stages_replace_the_one_rate_warmup_and_stop() {
    use tikv_bench::workload::{Level, Stage, Stop};
    let text = format!(
        "{HEAD}concurrency: 8\nstages:\n  - {{rate: 100, hold: 4s, warmup: 1s}}\n  - {{rate: 400, ramp: 2s}}\n  - {{rate: 400, ramp: 1s}}\n"
    );
    let w = Workload::parse(&text, "s.yaml").unwrap();
    assert_eq!(
        w.stages,
        [
            Stage {
                level: Level::Rate(100.0),
                ramp: false,
                duration: Duration::from_secs(4),
                warmup: Duration::from_secs(1),
            },
            Stage {
                level: Level::Rate(400.0),
                ramp: true,
                duration: Duration::from_secs(2),
                warmup: Duration::ZERO,
            },
            // A ramp from and to the same level holds it.
            Stage {
                level: Level::Rate(400.0),
                ramp: true,
                duration: Duration::from_secs(1),
                warmup: Duration::ZERO,
            },
        ]
    );
    assert_eq!(
        (w.rate, w.warmup, w.stop, w.concurrency),
        (
            None,
            Duration::ZERO,
            Stop::Duration(Duration::from_secs(7)),
            8
        )
    );
    assert!(w.open_loop());
    let closed = format!(
        "{HEAD}stages:\n  - {{concurrency: 4, ramp: 10s}}\n  - {{concurrency: 48, hold: 5s}}\n  - {{concurrency: 2, hold: 5s}}\n"
    );
    let w = Workload::parse(&closed, "c.yaml").unwrap();
    assert_eq!(w.concurrency, 48, "the largest stage's workers");
    assert_eq!(w.stop, Stop::Duration(Duration::from_secs(20)));
    assert!(!w.open_loop());
}

#[test]
fn a_search_takes_its_defaults_and_bounds_the_run() {
    use tikv_bench::workload::{Growth, Stop};
    let w = Workload::parse(
        &format!("{HEAD}search: {{slo: \"p99 of read < 10ms\", start: 100}}\n"),
        "s.yaml",
    )
    .unwrap();
    let s = w.search.clone().unwrap();
    assert_eq!(s.slo.len(), 1);
    assert_eq!(s.slo[0].text, "p99 of read < 10ms");
    assert_eq!(
        (s.start, s.growth, s.max, s.hold, s.warmup),
        (
            100.0,
            Growth::Factor(2.0),
            1e9,
            Duration::from_secs(5),
            Duration::from_secs(1)
        )
    );
    assert_eq!(
        (s.precision, s.max_steps, s.max_error_rate),
        (0.05, 20, 0.01)
    );
    assert_eq!((w.rate, w.warmup), (None, Duration::ZERO));
    assert_eq!(
        w.stop,
        Stop::Duration(Duration::from_secs(120)),
        "20 x (1s + 5s)"
    );
    assert!(w.open_loop());
    let w = Workload::parse(
        &format!(
            "{HEAD}search:\n  slo: [\"p99 of read < 10ms\", \"error rate < 1%\"]\n  start: 50\n  step: 25\n  precision: 0.02\n  max_error_rate: 0\n"
        ),
        "s.yaml",
    )
    .unwrap();
    let s = w.search.unwrap();
    assert_eq!(s.slo.len(), 2);
    assert_eq!(
        (s.growth, s.precision, s.max_error_rate),
        (Growth::Step(25.0), 0.02, 0.0)
    );
}

#[test]
fn thresholds_take_a_map_form_that_aborts() {
    let w = Workload::parse(
        &format!(
            "{HEAD}thresholds:\n  - \"error rate < 1%\"\n  - {{threshold: \"p99 of read < 20ms\", abort_on_fail: true, delay: 5s}}\n  - {{threshold: \"p50 < 2ms\", abort_on_fail: true}}\n  - {{threshold: \"max < 1s\", abort_on_fail: false}}\n"
        ),
        "t.yaml",
    )
    .unwrap();
    let aborts: Vec<_> = w.thresholds.iter().map(|t| t.abort).collect();
    assert_eq!(
        aborts,
        [
            None,
            Some(Duration::from_secs(5)),
            Some(Duration::ZERO),
            None
        ]
    );
    // Written back in the form written; abort_on_fail: false is the string form.
    assert_eq!(
        serde_json::to_value(&w).unwrap()["thresholds"],
        serde_json::json!([
            "error rate < 1%",
            {"threshold": "p99 of read < 20ms", "abort_on_fail": true, "delay": "5s"},
            {"threshold": "p50 < 2ms", "abort_on_fail": true, "delay": "0s"},
            "max < 1s",
        ])
    );
}

#[test]
fn stages_searches_and_aborting_thresholds_round_trip_through_the_as_run_form() {
    let files = [
        format!(
            "{HEAD}concurrency: 8\nstages:\n  - {{rate: 100.5, hold: 4s, warmup: 1s}}\n  - {{rate: 400, ramp: 1m}}\nthresholds:\n  - {{threshold: \"p99 of read < 20ms\", abort_on_fail: true, delay: 2s}}\n  - \"error rate < 1%\"\n"
        ),
        format!(
            "{HEAD}stages:\n  - {{concurrency: 4, ramp: 10s, warmup: 2s}}\n  - {{concurrency: 48, hold: 5s}}\n"
        ),
        format!(
            "{HEAD}concurrency: 64\nsearch:\n  slo: [\"p99 of read < 10ms\", \"error rate < 1%\"]\n  start: 50\n  step: 25\n  max: 5000\n  hold: 2s\n  warmup: 500ms\n  precision: 2%\n  max_steps: 7\n  max_error_rate: 0.5%\nsweep: {{concurrency: [8, 16]}}\n"
        ),
        format!("{HEAD}search: {{slo: \"p99 < 1ms\", start: 10}}\n"),
    ];
    for text in &files {
        let w = Workload::parse(text, "w.yaml").unwrap();
        let yaml = w.to_yaml();
        let again = Workload::parse(&yaml, "as-run.yaml")
            .unwrap_or_else(|e| panic!("as-run form does not parse: {e}\n{yaml}"));
        assert_eq!(again, w, "{yaml}");
        // The result's copy (JSON, which is YAML too) parses back as well.
        let json = serde_json::to_string(&w).unwrap();
        let again = Workload::parse(&json, "result.json")
            .unwrap_or_else(|e| panic!("result's workload does not parse: {e}\n{json}"));
        assert_eq!(again, w, "{json}");
    }
}

#[test]
fn a_sweep_over_other_axes_keeps_the_search_in_every_cell() {
    let w = Workload::load(&crate::util::root().join("workloads/capacity-lock.yaml")).unwrap();
    let cells = w.cells();
    assert_eq!(cells.len(), 2);
    for c in &cells {
        assert_eq!(c.workload.search, w.search, "{}", c.id);
    }
}

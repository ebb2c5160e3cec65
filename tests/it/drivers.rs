//! Many drivers of one run line up: the shard comes from a Kubernetes
//! Indexed Job's JOB_COMPLETION_INDEX, every driver's measured phase starts
//! at one agreed instant (a time, or a barrier of ready files), a late
//! driver says so and records its skew, each result is filed under
//! --results-dir by run id and shard, and the merge of the shards adds up.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use std::sync::Arc;

use tikv_bench::backend::NoopBackend;
use tikv_bench::driver::{self, RunError, RunOptions, StartError, StartPlan};
use tikv_bench::metrics::hist::{self, Percentiles};
use tikv_bench::metrics::{RunResult, StartHow};
use tikv_bench::vocab::TimeSource;
use tikv_bench::vocab::time::unix_us;

use crate::schema::{errors, validator};
use crate::util::{bin, root, stderr, workload};

/// The variables that place a driver: cleared in every test's processes,
/// so that the test's own environment cannot leak in.
const PLACING: [&str; 5] = [
    "JOB_COMPLETION_INDEX",
    "TIKV_BENCH_SHARDS",
    "TIKV_BENCH_START_AT",
    "TIKV_BENCH_RUN_ID",
    "TIKV_BENCH_RESULTS_DIR",
];

/// The bound on the drivers' start skew.
const SKEW_US: i64 = 50_000;

/// A process the test started, killed (and reaped) when dropped.
struct Running(Option<Child>);

impl Running {
    /// Waits for it to exit.
    fn finish(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The binary with `args`, from the repository root, without the placing
/// variables.
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(root());
    for var in PLACING {
        cmd.env_remove(var);
    }
    cmd
}

/// Starts `cmd` with its output in files under `dir` named `name`, so that
/// several run at once without filling a pipe.
fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Running {
    let out = File::create(dir.join(format!("{name}.stdout"))).unwrap();
    let err = File::create(dir.join(format!("{name}.stderr"))).unwrap();
    let child = cmd.stdout(out).stderr(err).spawn().expect("binary starts");
    Running(Some(child))
}

/// What the process `name` wrote to stderr.
fn logged(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap()
}

/// Waits for the process to exit and checks that it succeeded.
fn succeeds(p: Running, dir: &Path, name: &str) {
    let o = p.finish();
    assert!(o.status.success(), "{name}: {}", logged(dir, name));
}

/// `@SECONDS.MICROS` of a Unix-microsecond instant.
fn at_arg(unix_us: i64) -> String {
    format!("@{}.{:06}", unix_us / 1_000_000, unix_us % 1_000_000)
}

fn write_workload(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("w.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Loads a result, checking it against docs/result.schema.json first.
fn load(path: &Path) -> RunResult {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let wrong = errors(&validator(), &json);
    assert!(wrong.is_empty(), "{}: {wrong:?}", path.display());
    RunResult::load(path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// `tikv-bench serve` on loopback: the guard and PD's address (its first
/// line on stdout). The reader is kept while serve runs: it writes more.
fn serve(dir: &Path) -> (Running, String, BufReader<std::process::ChildStdout>) {
    let mut child = command(&["serve", "--stores", "2"])
        .stdout(Stdio::piped())
        .stderr(File::create(dir.join("serve.stderr")).unwrap())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().unwrap();
    let guard = Running(Some(child));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = tx.send(read.map(|_| (line, reader)));
    });
    let (line, reader) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address")
        .unwrap();
    let pd = line.trim().strip_prefix("pd=").expect("pd=HOST:PORT");
    (guard, pd.to_string(), reader)
}

const FOUR: &str = "name: four-drivers\nseed: 7\nkeys: {records: 800, distribution: uniform}\nwarmup: 1s\nduration: 3s\nconcurrency: 8\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";

/// The test: four drivers, placed by JOB_COMPLETION_INDEX 0..3 of
/// TIKV_BENCH_SHARDS=4 as the pods of an Indexed Job are, with one shared
/// --start-at, against one `tikv-bench serve`; their measured phases start
/// within 50 ms of the instant and of each other, and their merge adds up
/// counts and histograms exactly.
#[test]
fn four_job_indexed_drivers_start_together_and_merge_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_workload(dir, FOUR);
    let (_serve, pd, _reader) = serve(dir);
    let results = dir.join("results");
    // Time for four debug-built drivers to start, connect and load on a
    // busy two-core machine: they took about 0.1 s on one running other
    // tests.
    let at = unix_us() + 6_000_000;
    let start = at_arg(at);
    let args = [
        "run",
        w.to_str().unwrap(),
        "--pd",
        &pd,
        "--start-at",
        &start,
        "--results-dir",
        results.to_str().unwrap(),
        "--run-id",
        "r21",
        "--progress",
        "off",
        "--no-report",
    ];
    let drivers: Vec<Running> = (0..4)
        .map(|i| {
            let mut cmd = command(&args);
            cmd.env("JOB_COMPLETION_INDEX", i.to_string())
                .env("TIKV_BENCH_SHARDS", "4");
            spawn(cmd, dir, &format!("driver{i}"))
        })
        .collect();
    for (i, d) in drivers.into_iter().enumerate() {
        succeeds(d, dir, &format!("driver{i}"));
    }
    let files: Vec<PathBuf> = (1..=4)
        .map(|i| results.join(format!("r21/shard-{i}-of-4/result.json")))
        .collect();
    let shards: Vec<RunResult> = files.iter().map(|f| load(f)).collect();
    for (i, r) in shards.iter().enumerate() {
        let shard = r.shard.as_ref().expect("a shard section");
        assert_eq!((shard.index, shard.count), (i as u32 + 1, 4));
        assert_eq!(shard.run.as_deref(), Some("r21"));
        assert!(r.host.as_deref().is_some_and(|h| !h.is_empty()));
        let s = r.start.expect("a start section");
        assert_eq!((s.how, s.at_unix_us, s.late), (StartHow::Time, at, false));
        assert_eq!(s.measure_at_unix_us, at + 1_000_000, "warmup 1s");
        assert!(
            s.skew_us.abs() < SKEW_US,
            "driver {}: skew {}us",
            i + 1,
            s.skew_us
        );
    }
    let skews: Vec<i64> = shards.iter().map(|r| r.start.unwrap().skew_us).collect();
    let from: Vec<i64> = shards.iter().map(|r| r.measured_from_unix_us).collect();
    let spread = from.iter().max().unwrap() - from.iter().min().unwrap();
    let spare: Vec<i64> = shards
        .iter()
        .map(|r| (at - r.start.unwrap().ready_unix_us) / 1000)
        .collect();
    println!(
        "skews of the 4 drivers: {skews:?} us; measured starts spread over {spread} us; ready {spare:?} ms before the start"
    );
    assert!(spread < SKEW_US, "measured starts {from:?}");

    // The run's directory merged as a merge Job merges it: every shard
    // found there, the merged result and its report in `merged/`.
    let run_dir = results.join("r21");
    let merged_path = run_dir.join("merged/result.json");
    let o = command(&[
        "merge",
        run_dir.to_str().unwrap(),
        "-o",
        merged_path.to_str().unwrap(),
        "--report",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "merge: {}", stderr(&o));
    assert!(run_dir.join("merged/report.html").is_file());
    let merged = load(&merged_path);
    let rows = merged.drivers.as_ref().expect("a drivers section");
    let row_shards: Vec<_> = rows.iter().map(|r| r.shard).collect();
    assert_eq!(
        row_shards,
        (1..=4).map(|i| Some([i, 4])).collect::<Vec<_>>(),
        "a row per driver, in shard order"
    );
    for (row, r) in rows.iter().zip(&shards) {
        assert_eq!(row.run_id, r.run_id);
        assert_eq!(row.skew_us, Some(r.start.unwrap().skew_us));
        assert!(row.start_offset_us < SKEW_US, "{rows:?}");
    }
    assert_eq!(merged.ops.len(), 2);
    for (name, op) in &merged.ops {
        let parts: Vec<_> = shards.iter().map(|s| &s.ops[name]).collect();
        assert_eq!(op.ok, parts.iter().map(|p| p.ok).sum::<u64>(), "{name}");
        assert!(op.ok > 0, "{name}");
        let mut sum = hist::new_hist();
        for p in &parts {
            hist::add(&mut sum, &hist::decode(&p.histogram).unwrap());
        }
        let want = Percentiles::of(&sum);
        let got = &op.latency_us;
        assert_eq!(
            (got.p50, got.p99, got.max),
            (want.p50, want.p99, want.max),
            "{name}"
        );
        let mean_p99 = parts.iter().map(|p| p.latency_us.p99).sum::<u64>() as f64 / 4.0;
        println!(
            "{name}: merged p99 {}us (of the added histograms); the mean of the shards' p99s {mean_p99:.0}us",
            got.p99
        );
    }

    // One shard's result gone: the merge names it and where it was
    // expected, and writes nothing.
    let gone = dir.join("shard-3-elsewhere");
    std::fs::rename(run_dir.join("shard-3-of-4"), &gone).unwrap();
    let partial = dir.join("partial.json");
    let o = command(&[
        "merge",
        run_dir.to_str().unwrap(),
        "-o",
        partial.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("shard 3/4"), "{err}");
    assert!(err.contains("shard-3-of-4/result.json"), "{err}");
    assert!(!partial.exists());
}

const NOOP: &str = "name: noop-drivers\nseed: 3\nkeys: {records: 100, distribution: uniform}\nwarmup: 500ms\nduration: 1s\nconcurrency: 3\nops:\n  - {name: read, type: get, weight: 1}\n";

/// Three drivers meet at a barrier though one starts 1.5 s after the
/// others: each starts the lead after the last is ready, the same instant.
#[test]
fn drivers_started_apart_meet_at_the_barrier() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_workload(dir, NOOP);
    let results = dir.join("results");
    let driver = |i: u32| {
        let shard = format!("{i}/3");
        let cmd = command(&[
            "run",
            w.to_str().unwrap(),
            "--target",
            "noop",
            "--shard",
            &shard,
            "--start-at",
            "barrier+1s",
            "--results-dir",
            results.to_str().unwrap(),
            "--run-id",
            "met",
            "--progress",
            "off",
            "--no-report",
        ]);
        spawn(cmd, dir, &format!("driver{i}"))
    };
    let (one, two) = (driver(1), driver(2));
    std::thread::sleep(Duration::from_millis(1500));
    let three = driver(3);
    for (i, d) in [one, two, three].into_iter().enumerate() {
        succeeds(d, dir, &format!("driver{}", i + 1));
    }
    let starts: Vec<_> = (1..=3)
        .map(|i| {
            let r = load(&results.join(format!("met/shard-{i}-of-3/result.json")));
            r.start.expect("a start section")
        })
        .collect();
    let last_ready = starts.iter().map(|s| s.ready_unix_us).max().unwrap();
    println!(
        "barrier skews: {:?} us",
        starts.iter().map(|s| s.skew_us).collect::<Vec<_>>()
    );
    for s in &starts {
        assert_eq!(s.how, StartHow::Barrier);
        assert_eq!(s.at_unix_us, last_ready + 1_000_000, "{starts:?}");
        assert!(!s.late);
        assert!(s.skew_us.abs() < SKEW_US, "{starts:?}");
    }
    assert!(
        starts[2].ready_unix_us - starts[0].ready_unix_us > 1_000_000,
        "the third was ready later: {starts:?}"
    );
    assert!(logged(dir, "driver1").contains("start: waiting for"));
    for i in 1..=3 {
        assert!(results.join(format!("met/ready/shard-{i}-of-3")).exists());
    }
}

/// A driver told to start at an instant already past starts at once, says
/// on stderr that it is late, and records it and its skew.
#[test]
fn a_driver_past_its_start_runs_late_and_records_the_skew() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_workload(dir, NOOP);
    let out = dir.join("out");
    let past = unix_us() - 5_000_000;
    let start = at_arg(past);
    let o = command(&[
        "run",
        w.to_str().unwrap(),
        "--target",
        "noop",
        "--start-at",
        &start,
        "--out",
        out.to_str().unwrap(),
        "--progress",
        "off",
        "--no-report",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("start: late by"), "{}", stderr(&o));
    let s = load(&out.join("result.json"))
        .start
        .expect("a start section");
    assert!(s.late);
    assert_eq!(s.at_unix_us, past);
    assert!(s.skew_us >= 5_000_000, "{s:?}");
}

/// A barrier whose other drivers never come times out, naming them: exit
/// 1, no result, only the ready file written.
#[test]
fn a_barrier_timeout_names_the_shards_not_ready() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_workload(dir, NOOP);
    let results = dir.join("results");
    let mut cmd = command(&[
        "run",
        w.to_str().unwrap(),
        "--target",
        "noop",
        "--start-at",
        "barrier",
        "--barrier-timeout",
        "1s",
        "--progress",
        "off",
    ]);
    cmd.env("JOB_COMPLETION_INDEX", "0")
        .env("TIKV_BENCH_SHARDS", "2")
        .env("TIKV_BENCH_RESULTS_DIR", &results)
        .env("TIKV_BENCH_RUN_ID", "alone");
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shards 2/2 not ready after 1s"),
        "{}",
        stderr(&o)
    );
    assert!(results.join("alone/ready/shard-1-of-2").exists());
    assert!(
        !results.join("alone/shard-1-of-2").exists(),
        "nothing else written"
    );
}

/// Flags, environment variables, and what stderr must say.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

/// Each bad placement exits 2 before the run, naming the variable or flag
/// to fix; a result already there is kept.
#[test]
fn bad_placements_exit_2_naming_the_variable_or_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_workload(dir, NOOP);
    let swept = dir.join("swept.yaml");
    std::fs::write(&swept, format!("{NOOP}sweep: {{concurrency: [3, 4]}}\n")).unwrap();
    let results = dir.join("results");
    let used = results.join("used/shard-1-of-2");
    std::fs::create_dir_all(&used).unwrap();
    std::fs::write(used.join("result.json"), "kept").unwrap();
    let rd = results.to_str().unwrap();
    let far = at_arg(unix_us() + 25 * 3600 * 1_000_000);
    let cases: &[Case] = &[
        (
            &[],
            &[("JOB_COMPLETION_INDEX", "one"), ("TIKV_BENCH_SHARDS", "4")],
            "JOB_COMPLETION_INDEX is 'one', not a number",
        ),
        (&[], &[("JOB_COMPLETION_INDEX", "1")], "TIKV_BENCH_SHARDS"),
        (
            &["--shards", "4"],
            &[("JOB_COMPLETION_INDEX", "4")],
            "JOB_COMPLETION_INDEX is 4, but there are 4 drivers",
        ),
        (&["--shards", "4"], &[], "give --shard I/N"),
        (
            &["--start-at", "tomorrow"],
            &[],
            "'tomorrow' is not a start; write an RFC 3339 time",
        ),
        (
            &[],
            &[("TIKV_BENCH_START_AT", "10:00")],
            "TIKV_BENCH_START_AT",
        ),
        (&["--start-at", &far], &[], "more than 24 hours ahead"),
        (
            &["--start-at", "barrier"],
            &[],
            "--start-at barrier needs --results-dir",
        ),
        (
            &["--start-at", "barrier", "--results-dir", rd],
            &[],
            "needs --results-dir DIR and --run-id",
        ),
        (
            &["--start-at", "@1", "--repeat", "2"],
            &[],
            "--repeat 2 runs the workload 2 times",
        ),
        (
            &["--run-id", "a/b"],
            &[],
            "--run-id (TIKV_BENCH_RUN_ID) 'a/b'",
        ),
        (
            &["--shard", "1/2", "--results-dir", rd],
            &[],
            "a sharded run needs --run-id",
        ),
        (
            &["--shard", "1/2", "--results-dir", rd, "--run-id", "used"],
            &[],
            "the run id is used already (nothing overwritten)",
        ),
    ];
    let mut failures = Vec::new();
    for (args, env, want) in cases {
        let mut all = vec![
            "run",
            w.to_str().unwrap(),
            "--target",
            "noop",
            "--progress",
            "off",
        ];
        all.extend_from_slice(args);
        let mut cmd = command(&all);
        cmd.envs(env.iter().copied());
        let o = cmd.output().unwrap();
        if o.status.code() != Some(2) || !stderr(&o).contains(want) {
            failures.push(format!(
                "{args:?} {env:?}: {:?} {}",
                o.status.code(),
                stderr(&o)
            ));
        }
    }
    let o = command(&[
        "run",
        swept.to_str().unwrap(),
        "--target",
        "noop",
        "--start-at",
        "@1",
    ])
    .output()
    .unwrap();
    if o.status.code() != Some(2) || !stderr(&o).contains("the workload's sweep runs its cells") {
        failures.push(format!("sweep: {:?} {}", o.status.code(), stderr(&o)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        std::fs::read_to_string(used.join("result.json")).unwrap(),
        "kept"
    );
    assert!(!results.join("used/ready").exists());
}

/// A start instant is wall-clock time: a run on tokio's clock (which
/// tests pause) refuses it with a typed error, before anything runs.
#[tokio::test(start_paused = true)]
async fn a_start_instant_is_refused_on_tokios_clock() {
    let opts = RunOptions {
        time: TimeSource::Tokio,
        start: Some(StartPlan::At(0)),
        ..RunOptions::default()
    };
    let e = driver::run(&workload(NOOP), Arc::new(NoopBackend::new()), &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, RunError::Start(StartError::PausedClock)), "{e}");
}

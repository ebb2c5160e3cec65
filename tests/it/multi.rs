//! Many drivers, one result: shards merge into what one driver measures;
//! merging is associative and commutative; thresholds set the exit code;
//! the HDR log reads back; the metrics endpoint serves Prometheus text.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use proptest::prelude::*;
use tikv_bench::backend::MemoryBackend;
use tikv_bench::driver::{self, RunOptions, Shard};
use tikv_bench::metrics::hist::{self, Percentiles};
use tikv_bench::metrics::result::{Interval, IntervalOp, OpResult};
use tikv_bench::metrics::{RunResult, hdrlog, merge};
use tikv_bench::workload::Workload;

use crate::util::{bin, root, workload};

const SHARDED: &str = "name: sharded\nseed: 5\nconcurrency: 6\noperations: 3000\nkeys: {records: 300, distribution: zipfian}\nops:\n  - {name: read, type: get, weight: 5}\n  - {name: write, type: put, weight: 3}\n  - {name: scan, type: scan, weight: 1}\n  - {name: swap, type: cas, weight: 1}\n";

/// Runs `w` as shards 1/3, 2/3 and 3/3 against one memory backend, at the
/// same time, as three drivers would; returns the backend and the results.
async fn three_shards_at_once(w: &Workload) -> (Arc<MemoryBackend>, Vec<RunResult>) {
    let backend = Arc::new(MemoryBackend::new());
    let runs = (1..=3).map(|i| {
        let (w, backend) = (w.clone(), backend.clone());
        tokio::spawn(async move {
            let opts = RunOptions {
                shard: Shard::parse(&format!("{i}/3")).unwrap(),
                ..RunOptions::default()
            };
            driver::run(&w, backend, &opts).await.unwrap()
        })
    });
    let mut shards = Vec::new();
    for r in runs {
        shards.push(r.await.unwrap());
    }
    (backend, shards)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_into_what_one_driver_runs() {
    let w = workload(SHARDED);
    let one = driver::run(&w, Arc::new(MemoryBackend::new()), &RunOptions::default())
        .await
        .unwrap();

    // Three drivers against one backend, at the same time.
    let (backend, shards) = three_shards_at_once(&w).await;
    assert_eq!(
        shards.iter().map(|s| s.concurrency).collect::<Vec<_>>(),
        [2, 2, 2]
    );
    assert_eq!(
        shards.iter().map(|s| s.load.records).sum::<u64>(),
        300,
        "the preload is split"
    );
    assert_eq!(backend.len().await.0, 300, "all records loaded once");

    let merged = merge(&shards).unwrap();
    assert_eq!(merged.measured.ops, 3000);
    assert_eq!(merged.concurrency, 6);
    assert_eq!(merged.merged_from, Some(3));
    for (name, op) in &merged.ops {
        let parts: Vec<&OpResult> = shards.iter().map(|s| &s.ops[name]).collect();
        assert_eq!(
            op.ok,
            parts.iter().map(|p| p.ok).sum::<u64>(),
            "{name}: counts add up"
        );
        // Percentiles come from the added histograms, never from averaging.
        let mut h = hist::new_hist();
        for p in &parts {
            hist::add(&mut h, &hist::decode(&p.histogram).unwrap());
        }
        assert_eq!(op.latency_us, Percentiles::of(&h), "{name}");
        // The shards' workers are exactly the single driver's workers, so
        // each op was chosen exactly as often.
        assert_eq!(
            op.ok + op.failed + op.unknown,
            one.ops[name].ok + one.ops[name].failed,
            "{name}"
        );
    }
    let seconds: u64 = merged
        .timeline
        .iter()
        .flat_map(|i| i.ops.values())
        .map(|o| o.ok + o.failed)
        .sum();
    assert_eq!(seconds, 3000, "the merged timeline holds every op once");
}

/// Each driver run has its own id, and merge adds every run up once: the
/// same result twice, a merge and one of its inputs, or two results of
/// overlapping shards are refused, from the command line with exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_a_run_twice_and_overlapping_shards() {
    let w = workload(SHARDED);
    let shard = |s: &str| RunOptions {
        shard: Shard::parse(s).unwrap(),
        ..RunOptions::default()
    };
    let backend = Arc::new(MemoryBackend::new());
    let mut runs = Vec::new();
    for s in ["1/2", "2/2", "1/3"] {
        runs.push(driver::run(&w, backend.clone(), &shard(s)).await.unwrap());
    }
    let (a, b, other_split) = (&runs[0], &runs[1], &runs[2]);
    assert_ne!(a.run_id, b.run_id);
    assert!(!a.run_id.is_empty());

    let e = merge(&[a.clone(), a.clone()]).unwrap_err().to_string();
    assert!(e.contains("results 1 and 2 both hold run"), "{e}");
    let ab = merge(&[a.clone(), b.clone()]).unwrap();
    let mut ids = vec![a.run_id.clone(), b.run_id.clone()];
    ids.sort();
    assert_eq!(ab.merged_runs, Some(ids));
    let e = merge(&[ab.clone(), b.clone()]).unwrap_err().to_string();
    assert!(e.contains(&format!("both hold run {}", b.run_id)), "{e}");
    let e = merge(&[a.clone(), other_split.clone()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shards 1/2 (workers 0..3) and 1/3 (workers 0..2)"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    a.save(&path).unwrap();
    let o = Command::new(bin())
        .args(["merge", "-o"])
        .arg(dir.path().join("m.json"))
        .arg(&path)
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("merging it twice would count its ops twice"),
        "{stderr}"
    );
    assert!(!dir.path().join("m.json").exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_adds_the_shards_lateness_exactly_and_judges_it_afresh() {
    let w = workload(
        "name: paced\nseed: 5\nconcurrency: 6\nrate: 3000\nwarmup: 0s\nduration: 1s\nkeys: {records: 300}\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n",
    );
    let (_, shards) = three_shards_at_once(&w).await;
    let merged = merge(&shards).unwrap();
    let mut all = hist::new_hist();
    for (name, op) in &merged.ops {
        let mut h = hist::new_hist();
        for s in &shards {
            let part = s.ops[name].lateness_histogram.as_ref().expect("open loop");
            hist::add(&mut h, &hist::decode(part).unwrap());
        }
        assert_eq!(op.lateness_us, Some(Percentiles::of(&h)), "{name}");
        assert_eq!(op.lateness_histogram, Some(hist::encode(&h)), "{name}");
        hist::add(&mut all, &h);
    }
    let check = merged.driver_check.as_ref().expect("judged");
    assert_eq!(check.lateness_us, Some(Percentiles::of(&all)));
    assert_eq!(check.lateness_us.unwrap().count, merged.measured.ops);
    assert_eq!(
        check.late_ops,
        Some(all.len() - all.count_between(0, check.late_bound_us))
    );
    let cpu = check.cpu.expect("the shards' CPU");
    let parts: Vec<_> = shards
        .iter()
        .map(|s| s.driver_check.as_ref().unwrap().cpu.unwrap())
        .collect();
    assert_eq!(cpu.cpu_us, parts.iter().map(|c| c.cpu_us).sum::<u64>());
    assert_eq!(cpu.cores, parts.iter().map(|c| c.cores).sum::<u32>());
}

#[test]
fn shards_that_cannot_get_workers_are_refused() {
    let o = Command::new(bin())
        .current_dir(root())
        .args([
            "run",
            "workloads/quickstart.yaml",
            "--shard",
            "3/40",
            "--target",
            "memory",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fewer than the 40 drivers"));
    for bad in ["0/3", "4/3", "x/3", "3"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 1, count: 3 }));
}

#[test]
fn results_of_different_workloads_do_not_merge() {
    let mut a = synthetic(&[(0, vec![(0, vec![100, 200])])], 1);
    let b = a.clone();
    a.seed = 99;
    let err = merge(&[b, a]).unwrap_err().to_string();
    assert!(err.contains("seed"), "{err}");
}

/// Per second (offset from a base second): per op index, the latencies.
type Seconds = [(i64, Vec<(usize, Vec<u64>)>)];

/// A result with ops "a" and "b" recording `seconds`.
fn synthetic(seconds: &Seconds, driver: i64) -> RunResult {
    let w = workload(
        "name: syn\nops:\n  - {name: a, type: get, weight: 1}\n  - {name: b, type: put, weight: 1}\n",
    );
    let base = 1_700_000_000i64;
    let names = ["a", "b"];
    let mut totals = [hist::new_hist(), hist::new_hist()];
    let mut timeline = Vec::new();
    for (offset, ops) in seconds {
        let mut entry = Interval {
            unix_s: base + offset,
            width_s: 1,
            rss_bytes: Some(1_000 * driver as u64 + *offset as u64),
            t_s: *offset as f64,
            span_s: 1.0,
            ops_per_s: 0.0,
            p50_us: 0,
            p99_us: 0,
            ops: Default::default(),
        };
        for (i, values) in ops {
            let mut h = hist::new_hist();
            for v in values {
                hist::record(&mut h, *v);
            }
            hist::add(&mut totals[*i], &h);
            let p = Percentiles::of(&h);
            entry.ops.insert(
                names[*i].into(),
                IntervalOp {
                    ok: h.len(),
                    failed: 0,
                    p50_us: p.p50,
                    p99_us: p.p99,
                    max_us: p.max,
                    histogram: hist::encode(&h),
                },
            );
        }
        timeline.push(entry);
    }
    let text = serde_json::to_value(&w).unwrap();
    let op = |i: usize, ty: &str| OpResult {
        op_type: ty.into(),
        ok: totals[i].len(),
        failed: driver as u64 % 2,
        unknown: 0,
        ok_per_s: 0.0,
        errors: [("timeout".to_string(), driver as u64 % 2)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
        error_samples: [("timeout".to_string(), format!("driver {driver}"))]
            .into_iter()
            .collect(),
        retries: driver as u64,
        client_retries: 2 * driver as u64,
        retries_by_kind: [("server_is_busy".to_string(), driver as u64)]
            .into_iter()
            .collect(),
        backoff_us: 10 * driver as u64,
        outcomes: Default::default(),
        events: [("rows".to_string(), 3 * driver as u64)]
            .into_iter()
            .collect(),
        latency_us: Percentiles::of(&totals[i]),
        histogram: hist::encode(&totals[i]),
        service_us: None,
        service_histogram: None,
        lateness_us: None,
        lateness_histogram: None,
        failed_latency_us: None,
        failed_histogram: None,
        server_time: None,
    };
    let from = (base + seconds.iter().map(|s| s.0).min().unwrap_or(0)) * 1_000_000 + driver * 1000;
    let to =
        (base + seconds.iter().map(|s| s.0).max().unwrap_or(0) + 1) * 1_000_000 - driver * 1000;
    RunResult {
        schema: tikv_bench::metrics::SCHEMA.into(),
        tool: tikv_bench::metrics::result::Tool::current(),
        run_id: format!("{driver:x}-00000000"),
        name: "syn".into(),
        workload_file: Some(format!("w{driver}.yaml")),
        workload: text,
        seed: 42,
        target: tikv_bench::backend::TargetInfo {
            kind: "memory".into(),
            description: format!("driver {}", driver % 2),
        },
        mode: "closed".into(),
        concurrency: driver as u32,
        rate: None,
        started_at: format!("2026-01-0{}T00:00:00.000Z", driver % 9 + 1),
        ended_at: format!("2026-02-0{}T00:00:00.000Z", driver % 9 + 1),
        measured_from_unix_us: from,
        measured_to_unix_us: to,
        load: Default::default(),
        warmup: Default::default(),
        measured: Default::default(),
        ops: [("a".into(), op(0, "get")), ("b".into(), op(1, "put"))]
            .into_iter()
            .collect(),
        timeline,
        interrupted: false,
        stages: None,
        search: None,
        aborted: None,
        checks: None,
        cluster: None,
        driver_check: None,
        drivers: None,
        faults: None,
        regions: None,
        stores: None,
        host: Some(format!("host-{driver}")),
        memory: Some(tikv_bench::metrics::MemoryInfo {
            peak_rss_bytes: 5_000 + driver as u64,
            includes_target: true,
            driver_peaks_rss_bytes: None,
        }),
        merged_from: None,
        merged_runs: None,
        missing_shards: None,
        repeat: None,
        shard: None,
        slow_ops: None,
        start: Some(tikv_bench::metrics::StartInfo {
            how: tikv_bench::metrics::StartHow::Time,
            at_unix_us: from - 2_000,
            measure_at_unix_us: from - 2_000,
            skew_us: 2_000,
            ready_unix_us: from - 9_000,
            late: driver == 2,
        }),
        sweep: None,
        thresholds: None,
        baseline: None,
        transport: None,
    }
}

fn arb_result(driver: i64) -> impl Strategy<Value = RunResult> {
    let op = (0usize..2, proptest::collection::vec(1u64..5_000_000, 1..20));
    let second = (0i64..6, proptest::collection::vec(op, 1..3));
    proptest::collection::vec(second, 1..5).prop_map(move |mut secs| {
        secs.sort_by_key(|s| s.0);
        secs.dedup_by_key(|s| s.0);
        synthetic(&secs, driver)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn merging_is_associative_and_commutative(a in arb_result(1), b in arb_result(2), c in arb_result(3)) {
        let abc = merge(&[a.clone(), b.clone(), c.clone()]).unwrap();
        let ab_c = merge(&[merge(&[a.clone(), b.clone()]).unwrap(), c.clone()]).unwrap();
        let a_bc = merge(&[a.clone(), merge(&[b.clone(), c.clone()]).unwrap()]).unwrap();
        let cab = merge(&[c.clone(), a.clone(), b.clone()]).unwrap();
        let bca = merge(&[b, merge(&[c, a]).unwrap()]).unwrap();
        prop_assert_eq!(&abc, &ab_c);
        prop_assert_eq!(&abc, &a_bc);
        prop_assert_eq!(&abc, &cab);
        prop_assert_eq!(&abc, &bca);
        prop_assert_eq!(abc.merged_from, Some(3));
        // One row per driver, whatever the grouping, in order of their
        // measured starts (none is a shard): its own figures, the offsets
        // from the earliest driver's start.
        let rows = abc.drivers.as_ref().unwrap();
        let mut hosts: Vec<_> = rows.iter().map(|r| r.host.clone().unwrap()).collect();
        prop_assert!(rows.windows(2).all(|w| w[0].measured_from_unix_us <= w[1].measured_from_unix_us));
        hosts.sort();
        prop_assert_eq!(hosts, ["host-1", "host-2", "host-3"]);
        prop_assert_eq!(rows.iter().map(|r| r.ok).sum::<u64>(), abc.ops.values().map(|o| o.ok).sum::<u64>());
        prop_assert_eq!(rows.iter().map(|r| r.start_offset_us).min(), Some(0));
        let late: Vec<_> = rows.iter().filter(|r| r.late).map(|r| r.host.as_deref()).collect();
        prop_assert_eq!(late, [Some("host-2")]);
    }
}

#[test]
fn the_hdr_log_reads_back_with_the_hdrhistogram_log_reader() {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let r = synthetic(
        &[
            (0, vec![(0, vec![10, 20, 30]), (1, vec![400])]),
            (1, vec![(1, vec![5, 6])]),
        ],
        1,
    );
    let mut buf = Vec::new();
    hdrlog::write(&r, &mut buf).unwrap();
    let mut seen: Vec<(Option<String>, u64)> = Vec::new();
    let mut start = None;
    for entry in IntervalLogIterator::new(&buf) {
        match entry.expect("a valid log entry") {
            LogEntry::StartTime(t) => start = Some(t),
            LogEntry::Interval(h) => {
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .unwrap();
                let decoded: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .unwrap();
                seen.push((h.tag().map(|t| t.as_str().to_string()), decoded.len()));
            }
            LogEntry::BaseTime(_) => {}
        }
    }
    assert!(start.is_some(), "the log has a StartTime");
    assert_eq!(
        seen,
        vec![
            (None, 4),
            (Some("a".into()), 3),
            (Some("b".into()), 1),
            (None, 2),
            (Some("b".into()), 2),
        ]
    );
}

/// Writes a workload with `thresholds` into `dir`; returns its path.
fn workload_file(dir: &std::path::Path, thresholds: &str) -> std::path::PathBuf {
    let path = dir.join("t.yaml");
    std::fs::write(
        &path,
        format!("name: t\nconcurrency: 2\noperations: 2000\nkeys: {{records: 100}}\nops:\n  - {{name: read, type: get, weight: 1}}\nthresholds:\n{thresholds}"),
    )
    .unwrap();
    path
}

#[test]
fn thresholds_set_the_exit_code_and_say_which_failed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |thresholds: &str| {
        let path = workload_file(dir.path(), thresholds);
        Command::new(bin())
            .args([
                "run",
                path.to_str().unwrap(),
                "--target",
                "memory",
                "--no-report",
                "--progress",
                "off",
            ])
            .args(["--out", dir.path().join("out").to_str().unwrap()])
            .output()
            .unwrap()
    };
    let pass = run("  - error rate < 1%\n  - p99.9 of read < 10s\n  - throughput > 1/s\n");
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stderr)
    );
    let stdout = String::from_utf8_lossy(&pass.stdout);
    assert!(
        stdout.contains("threshold pass: error rate < 1%"),
        "{stdout}"
    );

    let fail = run("  - error rate < 1%\n  - throughput > 1000000000/s\n");
    assert_eq!(fail.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&fail.stderr);
    assert!(
        stderr.contains("threshold FAIL: throughput > 1000000000/s (measured "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("error rate"),
        "only the failed threshold is an error: {stderr}"
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/result.json")).unwrap())
            .unwrap();
    let verdicts = result["thresholds"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[1]["passed"], false);

    // Merging re-judges the thresholds on the merged result.
    let merged = dir.path().join("merged.json");
    let o = Command::new(bin())
        .args([
            "merge",
            dir.path().join("out/result.json").to_str().unwrap(),
            "-o",
            merged.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));

    // A threshold naming an op the workload lacks is a workload error.
    let bad = run("  - p99 of reed < 1ms\n");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("t.yaml:8:5: threshold 'p99 of reed < 1ms'")
    );
}

#[test]
fn the_metrics_endpoint_serves_prometheus_text_during_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .current_dir(root())
        .args([
            "run",
            "workloads/quickstart.yaml",
            "--target",
            "memory",
            "--duration",
            "4s",
            "--warmup",
            "0s",
        ])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--no-report",
            "--progress",
            "off",
        ])
        .args(["--out", dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("metrics: http://")
        .unwrap_or_else(|| panic!("first line: {line}"));
    let addr = url.strip_suffix("/metrics").unwrap().to_string();
    let scrape = || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    // Wait for the first complete second, then scrape mid-run.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let response = scrape();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let ok_reads: f64 = scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == "tikv_bench_ops_total"
                && s.labels.get("op") == Some("read")
                && s.labels.get("outcome") == Some("ok")
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert!(ok_reads > 0.0, "no reads counted yet:\n{body}");
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "tikv_bench_latency_seconds"),
        "{body}"
    );
    assert!(child.wait().unwrap().success());
}

/// A long run's coarse rows (past its first hour) line up with another
/// driver's rows: the seconds a coarse row covers go into it, exactly,
/// whichever order the results come in; the memory is the largest.
#[test]
fn a_coarse_row_takes_in_the_other_drivers_seconds_it_covers() {
    let seconds: Vec<_> = (0..20)
        .map(|s| (s, vec![(0, vec![100 + s as u64, 200])]))
        .collect();
    let fine = synthetic(&seconds, 1);
    let mut coarse = synthetic(&seconds, 2);
    coarse.timeline = coarse
        .timeline
        .chunks(10)
        .map(|rows| {
            let mut h = hist::new_hist();
            for r in rows {
                hist::add(&mut h, &hist::decode(&r.ops["a"].histogram).unwrap());
            }
            let p = Percentiles::of(&h);
            let mut row = rows[0].clone();
            row.width_s = 10;
            row.span_s = 10.0;
            row.rss_bytes = Some(9_999);
            row.ops.get_mut("a").unwrap().ok = h.len();
            row.ops.get_mut("a").unwrap().histogram = hist::encode(&h);
            row.ops.get_mut("a").unwrap().p99_us = p.p99;
            row
        })
        .collect();
    let m = merge(&[fine.clone(), coarse.clone()]).unwrap();
    let widths: Vec<(i64, u32)> = m
        .timeline
        .iter()
        .map(|i| (i.unix_s - 1_700_000_000, i.width_s))
        .collect();
    assert_eq!(widths, [(0, 10), (10, 10)]);
    for row in &m.timeline {
        let a = &row.ops["a"];
        assert_eq!(a.ok, 40, "20 ops of each driver");
        assert_eq!(hist::decode(&a.histogram).unwrap().len(), 40);
        assert_eq!(row.rss_bytes, Some(9_999));
    }
    let back = merge(&[coarse, fine]).unwrap();
    assert_eq!(back.timeline, m.timeline);
    let mem = m.memory.unwrap();
    assert_eq!(mem.peak_rss_bytes, 5_002);
    assert_eq!(mem.driver_peaks_rss_bytes, Some(vec![5_001, 5_002]));
}

/// Two drivers' shares of three rate stages, with real histograms: (level,
/// achieved, p50, p99, duration) per stage.
fn staged_share(driver: i64, shares: &[(f64, f64, u64, u64, f64)]) -> RunResult {
    use crate::report::{latencies, op_of, rate_level, stage_of};
    let mut r = synthetic(&[(0, vec![(0, vec![100])])], driver);
    r.mode = "open".into();
    let stages = shares
        .iter()
        .enumerate()
        .map(|(i, &(level, achieved, p50, p99, secs))| {
            let read = op_of("get", &latencies(p50, p99, 100 * (i + 1)), i as u64, secs);
            stage_of(
                rate_level(level, level),
                (10.0 * i as f64, secs),
                read,
                achieved,
            )
        })
        .collect();
    r.stages = Some(stages);
    r
}

#[test]
fn staged_results_merge_stage_by_stage_from_added_histograms() {
    let a = staged_share(
        1,
        &[
            (60.0, 59.0, 1_000, 4_000, 5.0),
            (120.0, 118.0, 2_000, 9_000, 5.0),
        ],
    );
    let b = staged_share(
        2,
        &[
            (40.0, 40.0, 3_000, 30_000, 5.2),
            (80.0, 79.5, 500, 700, 4.9),
        ],
    );
    let m = merge(&[a.clone(), b.clone()]).unwrap();
    let stages = m.stages.as_ref().expect("merged stages");
    assert_eq!(stages.len(), 2);
    for (k, s) in stages.iter().enumerate() {
        let (sa, sb) = (
            &a.stages.as_ref().unwrap()[k],
            &b.stages.as_ref().unwrap()[k],
        );
        assert_eq!(s.level.to, sa.level.to + sb.level.to, "levels are summed");
        assert_eq!(s.achieved_per_s, sa.achieved_per_s + sb.achieved_per_s);
        assert_eq!(
            s.duration_s,
            sa.duration_s.max(sb.duration_s),
            "the longest span"
        );
        assert_eq!(s.measured.ops, sa.measured.ops + sb.measured.ops);
        assert_eq!(s.measured.failed, sa.measured.failed + sb.measured.failed);
        let read = &s.ops["read"];
        assert_eq!(read.ok, sa.ops["read"].ok + sb.ops["read"].ok);
        // The percentiles come from the added histograms, never averaged.
        let mut h = hist::decode(&sa.ops["read"].histogram).unwrap();
        hist::add(&mut h, &hist::decode(&sb.ops["read"].histogram).unwrap());
        assert_eq!(read.latency_us, Percentiles::of(&h));
        assert_eq!(read.histogram, hist::encode(&h));
        assert_eq!(
            s.driver_check.as_ref().unwrap().lateness_us.unwrap().count,
            read.ok,
            "the self-check is judged on the added lateness"
        );
    }
    // Stage 1: a's 98 at 1ms and 2 at 4ms, b's 98 at 3ms and 2 at 30ms:
    // p99 of the 200 is 4ms; an average of the p99s would say 17ms.
    assert_eq!(stages[0].ops["read"].latency_us.p99 / 1000, 4);
    assert_eq!(stages[0].level.to, 100.0);
    assert_eq!(
        m.measured.duration_s,
        stages.iter().map(|s| s.duration_s).sum::<f64>(),
        "the run's measured time is its stages'"
    );
    // The order of merging does not show.
    assert_eq!(merge(&[b, a]).unwrap().stages, m.stages);
}

#[test]
fn a_search_does_not_merge_and_mismatched_stages_are_named() {
    let two = [
        (60.0, 59.0, 1_000, 4_000, 5.0),
        (120.0, 118.0, 2_000, 9_000, 5.0),
    ];
    let a = staged_share(1, &two);
    let mut searched = staged_share(2, &two);
    searched.search = Some(tikv_bench::metrics::SearchResult {
        slo: vec!["p99 < 10ms".into()],
        best_rate: Some(60.0),
        best_achieved_per_s: Some(59.0),
        first_failed_rate: Some(120.0),
        why: Vec::new(),
        ended: tikv_bench::metrics::SearchEnd::Converged,
        steps: vec![0, 1],
    });
    let err = merge(&[a.clone(), searched]).unwrap_err().to_string();
    assert!(err.contains("result 2 holds an SLO search"), "{err}");
    assert!(err.contains("runs in one driver"), "{err}");

    let short = staged_share(3, &two[..1]);
    let err = merge(&[a.clone(), short]).unwrap_err().to_string();
    assert!(
        err.contains("result 2 (run 3-00000000), stage 0: it has 1 stages, result 1 has 2"),
        "{err}"
    );

    let mut workers = staged_share(4, &two);
    workers.stages.as_mut().unwrap()[1].level.kind = tikv_bench::metrics::LevelKind::Concurrency;
    let err = merge(&[a.clone(), workers]).unwrap_err().to_string();
    assert!(
        err.contains("stage 2: its level is a concurrency, result 1's a rate"),
        "{err}"
    );

    let mut unstaged = synthetic(&[(0, vec![(0, vec![100])])], 5);
    unstaged.mode = "open".into();
    let err = merge(&[unstaged, a]).unwrap_err().to_string();
    assert!(err.contains("it has 2 stages, result 1 has 0"), "{err}");
}

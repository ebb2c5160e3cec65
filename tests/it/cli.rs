//! The binary: exit codes, error output and the result file, as a user
//! sees them.

use crate::util::{shipped_workloads, stderr, tikv_bench};

#[test]
fn run_quickstart_writes_a_result_with_every_op() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--out",
        out.to_str().unwrap(),
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--progress",
        "lines",
    ]);
    assert!(o.status.success(), "exit {:?}\n{}", o.status, stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("quickstart on embedded"), "{stdout}");
    assert!(stdout.contains("result: "), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "tikv-bench/result/v1");
    assert_eq!(json["workload_file"], "workloads/quickstart.yaml");
    assert_eq!(
        json["workload"]["duration"], "1s",
        "overrides are part of the workload as run"
    );
    let ops = json["ops"].as_object().unwrap();
    assert_eq!(ops.len(), 7);
    for (name, op) in ops {
        assert!(op["ok"].as_u64().unwrap() > 0, "op {name} has no successes");
        assert!(op["histogram"].as_str().is_some_and(|h| !h.is_empty()));
        assert!(op["latency_us"]["p999"].is_u64());
    }
    assert!(!json["timeline"].as_array().unwrap().is_empty());
    if cfg!(target_os = "linux") {
        // Memory over time, and the peak, which counts the embedded cluster.
        let rss: Vec<u64> = json["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["rss_bytes"].as_u64().expect("every second sampled"))
            .collect();
        let peak = json["memory"]["peak_rss_bytes"].as_u64().unwrap();
        assert!(rss.iter().all(|&r| r > 0 && r <= peak), "{rss:?} {peak}");
        assert_eq!(json["memory"]["includes_target"], true);
        assert!(stdout.contains("memory: peak RSS"), "{stdout}");
    }
}

#[test]
fn check_accepts_every_shipped_workload() {
    let files: Vec<String> = shipped_workloads()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let o = tikv_bench(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        files.len()
    );
}

/// Corrupted files: each exits 2 with FILE:LINE:COL and never panics.
#[test]
fn corrupted_workloads_exit_2_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.yaml", "name: x\nops: [\n", ":2:6: "),
        (
            "field.yaml",
            "name: x\nconcurency: 3\nops: [{type: get, weight: 1}]\n",
            ":2:1: unknown field",
        ),
        (
            "dist.yaml",
            "name: x\nkeys: {distribution: zipfain}\nops: [{type: get, weight: 1}]\n",
            ":2:22: unknown variant `zipfain`",
        ),
        (
            "zero.yaml",
            "name: x\nops: [{type: get, weight: 0}]\n",
            ":2:6: every op has weight 0",
        ),
        (
            "neg.yaml",
            "name: x\nconcurrency: -2\nops: [{type: get, weight: 1}]\n",
            ":2:14: concurrency must be",
        ),
    ];
    for (file, text, want) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        for cmd in ["check", "run"] {
            let o = tikv_bench(
                &[cmd, path.to_str().unwrap(), "--progress", "off"]
                    [..if cmd == "check" { 2 } else { 4 }],
            );
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {file}: {err}");
            assert!(
                err.starts_with(&format!("tikv-bench: {}{want}", path.display())),
                "{cmd} {file}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn transport_batch_from_the_command_line_sends_through_batch_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--transport",
        "batch",
        "--out",
        out.to_str().unwrap(),
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--no-report",
        "--progress",
        "off",
    ]);
    assert!(o.status.success(), "exit {:?}\n{}", o.status, stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(json["workload"]["client"]["transport"], "batch");
    let t = &json["transport"];
    assert_eq!(t["kind"], "batch", "{t}");
    let (requests, messages) = (t["requests"].as_u64(), t["messages"].as_u64());
    assert!(messages > Some(0) && requests >= messages, "{t}");
    let bad = tikv_bench(&["run", "workloads/quickstart.yaml", "--transport", "pigeon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("choose unary or batch"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_target_without_ttls_refuses_a_ttl_workload_before_it_runs() {
    let o = tikv_bench(&["run", "workloads/api-v2.yaml", "--target", "memory"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--target memory keeps no TTLs"), "{err}");
}

#[test]
fn a_missing_file_exits_2_and_names_it() {
    let o = tikv_bench(&["run", "workloads/no-such-file.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("workloads/no-such-file.yaml: cannot read workload file"),
        "{err}"
    );
}

#[test]
fn bad_overrides_exit_2() {
    for args in [
        &["run", "workloads/quickstart.yaml", "--concurrency", "0"][..],
        &["run", "workloads/quickstart.yaml", "--duration", "fast"][..],
        &["run", "workloads/quickstart.yaml", "--rate", "-5"][..],
        &[
            "run",
            "workloads/quickstart.yaml",
            "--duration",
            "1s",
            "--operations",
            "5",
        ][..],
    ] {
        let o = tikv_bench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_cluster_that_cannot_be_reached_fails_and_leaves_no_empty_output_directory() {
    // A loopback port with nobody listening: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pd = format!("127.0.0.1:{port}");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--pd",
        &pd,
        "--out",
        out.to_str().unwrap(),
        "--progress",
        "off",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("cannot connect to PD at {pd}")),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "the failed run left {}", out.display());
}

/// `run ... | head -1`: the reader goes after the first line, and the run
/// still ends well, with its result and report written.
#[test]
fn a_closed_stdout_pipe_ends_output_quietly_and_loses_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(crate::util::bin())
        .current_dir(crate::util::root())
        .args(["run", "workloads/quickstart.yaml", "--target", "memory"])
        .args(["--duration", "300ms", "--progress", "off", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the pipe is closed for the rest.
    let o = child.wait_with_output().unwrap();
    assert!(first.contains("quickstart on memory"), "{first}");
    assert!(o.status.success(), "exit {:?}\n{}", o.status, stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(out.join("result.json").is_file());
    assert!(out.join("report.html").is_file());
}

/// An output path that cannot be written is bad input (exit 2), found out
/// before the run starts: nothing is measured for nothing.
#[test]
fn unwritable_output_paths_exit_2_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("out");
    for (flag, path, says) in [
        (
            "--out",
            under_file.clone(),
            "cannot create output directory",
        ),
        ("--hdr-log", file.join("log.hdr"), "cannot write"),
    ] {
        let mut args = vec!["run", "workloads/quickstart.yaml", "--target", "memory"];
        args.extend(["--duration", "30s", flag, path.to_str().unwrap()]);
        let out = dir.path().join("out");
        if flag != "--out" {
            args.extend(["--out", out.to_str().unwrap()]);
        }
        let o = tikv_bench(&args);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{flag}: {}", stderr(&o));
        assert!(!out.exists(), "{flag}: no empty output directory is left");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            !stdout.contains("measured"),
            "{flag}: refused before the run: {stdout}"
        );
    }
}

/// `report`, `compare` and `merge` refuse an output path they cannot write
/// as bad input (exit 2), before writing anything (they exited 1).
#[test]
fn unwritable_report_compare_and_merge_outputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--target",
        "noop",
        "--duration",
        "200ms",
        "--warmup",
        "0s",
        "--no-load",
        "--no-report",
        "--progress",
        "off",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let result = run.join("result.json");
    let result = result.to_str().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("out");
    let under = under_file.to_str().unwrap();
    for (args, says) in [
        (
            vec!["report", result, "--out", under],
            "cannot create output directory",
        ),
        (
            vec!["compare", result, "--out", under],
            "cannot create output directory",
        ),
        (
            vec!["merge", result, "-o", under],
            "cannot make its directory",
        ),
        (
            vec!["merge", result, "-o", "/dev/null", "--hdr-log", under],
            "cannot write",
        ),
    ] {
        let o = tikv_bench(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

/// `check` reads every file it is given: each bad one is reported, the
/// good ones say ok, and any bad one makes the exit code 2.
#[test]
fn check_reports_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad1 = dir.path().join("bad1.yaml");
    let bad2 = dir.path().join("bad2.yaml");
    std::fs::write(&bad1, "name: x\nops: [{type: gett, weight: 1}]\n").unwrap();
    std::fs::write(
        &bad2,
        "name: x\nconcurrency: -2\nops: [{type: get, weight: 1}]\n",
    )
    .unwrap();
    let o = tikv_bench(&[
        "check",
        bad1.to_str().unwrap(),
        "workloads/quickstart.yaml",
        bad2.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2:14: unknown op type 'gett'", bad1.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2:14: concurrency must be", bad2.display())),
        "{err}"
    );
    assert!(err.contains("2 of 3 workload files are bad"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("workloads/quickstart.yaml: ok"), "{out}");
}

/// `--progress bar` off a terminal says it shows lines, and shows them.
#[test]
fn a_progress_bar_without_a_terminal_falls_back_to_lines_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--target",
        "memory",
        "--duration",
        "300ms",
        "--progress",
        "bar",
        "--no-report",
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("--progress bar shows lines"), "{err}");
}

/// Starts a 30 s run on the memory target through `sh -c` (`direct`: the
/// shell execs it; otherwise in the background of a non-interactive shell,
/// where SIGINT starts out ignored), lets it measure for a while, sends
/// SIGINT, and returns its exit code, stderr and result.
fn interrupted_run(direct: bool) -> (Option<i32>, String, serde_json::Value) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = format!(
        "{} run workloads/quickstart.yaml --target memory --duration 30s --warmup 0s --progress off --no-report --out {}",
        crate::util::bin().display(),
        out.display()
    );
    let script = if direct {
        format!("echo $$; exec {run} >/dev/null")
    } else {
        format!("{run} >/dev/null & echo $!; wait $!")
    };
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .current_dir(crate::util::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut pid)
        .unwrap();
    // Measuring starts once the output directory exists and the preload
    // (10,000 records into a map) is done: well within a second.
    while !out.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-INT", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(out.join("result.json")).unwrap_or_default();
    (
        o.status.code(),
        stderr(&o),
        serde_json::from_str(&text).unwrap_or_default(),
    )
}

/// SIGINT mid-run stops it and keeps what it measured: a complete
/// result.json marked interrupted, with ops, covering less than the
/// planned 30 s; exit 130. Also when the shell had SIGINT ignored.
#[test]
fn sigint_mid_run_keeps_a_complete_result_marked_interrupted() {
    for direct in [true, false] {
        let (code, err, r) = interrupted_run(direct);
        assert_eq!(code, Some(130), "direct {direct}: {err}");
        assert!(err.contains("interrupted: stopping the run"), "{err}");
        assert_eq!(r["interrupted"], true, "direct {direct}: {r}");
        assert!(r["measured"]["ops"].as_u64().unwrap() > 0, "{r}");
        let measured = r["measured"]["duration_s"].as_f64().unwrap();
        assert!(measured > 0.0 && measured < 30.0, "{measured}");
        assert!(r["ops"]["read"]["histogram"].as_str().is_some(), "{r}");
    }
}

/// `--repeat N` runs each sweep cell N times, each run in `CELL/repeat-K`
/// marked with its repeat, lists every run in index.json, and ends with a
/// table of each cell's median and range, which the comparison shows too.
#[test]
fn repeat_runs_each_cell_n_times_and_reports_median_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = tikv_bench(&[
        "run",
        "workloads/lock-sweep.yaml",
        "--target",
        "memory",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--progress",
        "off",
        "--no-report",
        "--repeat",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", stderr(&o));
    let cells = [
        "lock-optimistic_commit-2pc_hot_set-0.5",
        "lock-pessimistic_commit-1pc_hot_set-0.005",
    ];
    for cell in cells {
        for k in [1, 2] {
            let path = out.join(cell).join(format!("repeat-{k}/result.json"));
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(r["repeat"], serde_json::json!({"index": k, "count": 2}));
        }
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["repeat"], 2);
    assert_eq!(index["cells"].as_array().unwrap().len(), 48, "24 cells x 2");
    // Round by round, so that a cell's repeats do not all meet the same
    // phase of the machine.
    let order: Vec<(String, u64)> = index["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["repeat"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(order[..24].iter().all(|(_, k)| *k == 1), "{order:?}");
    assert!(order[24..].iter().all(|(_, k)| *k == 2), "{order:?}");
    assert_eq!(order[0].0, order[24].0, "the same cells in the same order");
    assert!(
        stdout.contains("(median of 2 runs [lowest – highest])"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lock=pessimistic,commit=1pc,hot_set=0.005"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("compare/compare.html")).unwrap();
    assert!(html.contains(" runs)"), "the noise column counts runs");
    assert!(html.contains(" – "), "medians come with their range");

    // compare reads the sweep's index as the results it lists.
    let again = dir.path().join("again");
    let o = tikv_bench(&[
        "compare",
        out.join("index.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(again.join("compare.html")).unwrap();
    assert!(
        html.contains("Comparison of 24 results"),
        "48 runs as 24 cells"
    );
}

/// quickstart writes the same raw keys with puts, batch deletes and CAS.
/// On TiKV a CAS is atomic only against writes that carry `for_cas`, so
/// the workload runs our client in atomic mode, and the strict stand-in,
/// which latches only such writes, counts no plain write to a key a CAS
/// used. (Our client sent none with `for_cas`: 54 were counted in a second.)
#[test]
fn a_workload_with_cas_writes_every_raw_key_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--no-report",
        "--progress",
        "off",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(r["workload"]["client"]["atomic"], true);
    assert!(r["ops"]["swap"]["ok"].as_u64().unwrap() > 0, "CAS ran");
    assert_eq!(r["cluster"]["end"]["non_atomic_cas_writes"], 0);
}

#[test]
fn the_noop_target_takes_a_known_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = tikv_bench(&[
        "run",
        "workloads/ycsb-a.yaml",
        "--target",
        "noop",
        "--service-time",
        "2ms",
        "--slots",
        "4",
        "--no-load",
        "--no-report",
        "--warmup",
        "0s",
        "--duration",
        "300ms",
        "--concurrency",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--progress",
        "off",
    ]);
    assert!(o.status.success(), "exit {:?}\n{}", o.status, stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(
        json["target"]["description"], "4 slots of 2.00ms each: capacity 2000 ops/s",
        "{json:#}"
    );
}

#[test]
fn capacity_flags_and_overrides_that_do_not_fit_exit_2_and_say_why() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "workloads/ycsb-a.yaml",
                "--target",
                "noop",
                "--service-time",
                "2ms",
            ],
            "give --service-time and --slots together",
        ),
        (
            &[
                "run",
                "workloads/ycsb-a.yaml",
                "--target",
                "noop",
                "--slots",
                "4",
            ],
            "give --service-time and --slots together",
        ),
        (
            &[
                "run",
                "workloads/ycsb-a.yaml",
                "--target",
                "memory",
                "--service-time",
                "2ms",
                "--slots",
                "4",
            ],
            "they need --target noop",
        ),
        (
            &[
                "run",
                "workloads/ycsb-a.yaml",
                "--service-time",
                "2ms",
                "--slots",
                "4",
            ],
            "they need --target noop",
        ),
        (
            &[
                "run",
                "workloads/ycsb-a.yaml",
                "--target",
                "noop",
                "--service-time",
                "0s",
                "--slots",
                "4",
            ],
            "--service-time must be greater than zero",
        ),
        (
            &["run", "workloads/capacity-ycsb-a.yaml", "--shard", "1/2"],
            "every driver would search on its own",
        ),
        (
            &["run", "workloads/capacity-ycsb-a.yaml", "--rate", "100"],
            "--rate cannot be used with a workload that has 'search:', which sets the rate",
        ),
        (
            &["run", "workloads/capacity-ycsb-a.yaml", "--duration", "10s"],
            "--duration cannot be used with a workload that has 'search:'",
        ),
        (
            &["run", "workloads/stages.yaml", "--rate", "100"],
            "--rate cannot be used with a workload that has 'stages:', which sets the rate",
        ),
        (
            &["run", "workloads/stages.yaml", "--duration", "1s"],
            "--duration cannot be used with a workload that has 'stages:', which sets the run's length",
        ),
        (
            &["run", "workloads/stages.yaml", "--warmup", "1s"],
            "--warmup cannot be used with a workload that has 'stages:'",
        ),
    ];
    for (args, want) in cases {
        let o = tikv_bench(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in {err}");
    }
}

#[test]
fn check_describes_stages_and_searches() {
    let o = tikv_bench(&[
        "check",
        "workloads/stages.yaml",
        "workloads/capacity-ycsb-a.yaml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("32 workers, open loop, 4 stages, 16s in all"),
        "{out}"
    );
    assert!(
        out.contains(
            "128 workers, SLO search from 500 ops/s (steps of 1s + 3s measured, at most 12)"
        ),
        "{out}"
    );
}

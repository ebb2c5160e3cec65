//! `merge` of a sharded run: it finds the shards in the run's directory,
//! refuses a shard twice, shards of mixed runs or N, names each missing
//! shard with where it was expected (or merges the rest with --partial),
//! waits for late shards with --wait, and the merged result has one row
//! per driver, which the report flags when the driver was not to be
//! trusted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tikv_bench::backend::MemoryBackend;
use tikv_bench::driver::{self, RunOptions, Shard};
use tikv_bench::metrics::hist::{self, Percentiles};
use tikv_bench::metrics::{DriverCheck, DriverVerdict, RunResult, StartHow, StartInfo, merge};
use tikv_bench::report::html;

use crate::util::{bin, stderr, workload};

const SHARDED: &str = "name: sharded\nseed: 7\nconcurrency: 4\noperations: 2000\nkeys: {records: 200}\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";

/// The run id the four shards share.
const RUN: &str = "bench-7";

/// Shards 1/4..4/4 of one workload, run at once against one memory
/// backend as four drivers would, each with the shared run id and a host;
/// run once for all the tests.
fn shards() -> Vec<RunResult> {
    static SHARDS: OnceLock<Vec<RunResult>> = OnceLock::new();
    SHARDS
        .get_or_init(|| {
            let w = workload(SHARDED);
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let backend = Arc::new(MemoryBackend::new());
                let runs: Vec<_> = (1..=4)
                    .map(|i| {
                        let (w, backend) = (w.clone(), backend.clone());
                        tokio::spawn(async move {
                            let opts = RunOptions {
                                shard: Shard::parse(&format!("{i}/4")).unwrap(),
                                ..RunOptions::default()
                            };
                            driver::run(&w, backend, &opts).await.unwrap()
                        })
                    })
                    .collect();
                let mut out = Vec::new();
                for (i, r) in runs.into_iter().enumerate() {
                    let mut r = r.await.unwrap();
                    r.shard.as_mut().unwrap().run = Some(RUN.into());
                    r.host = Some(format!("pod-{}", i + 1));
                    // Four drivers in one process each measured the
                    // process's CPU: all four's, not its own.
                    r.driver_check = None;
                    out.push(r);
                }
                out
            })
        })
        .clone()
}

/// Writes `results` into `dir/RUN/shard-I-of-N/result.json`, as drivers
/// with `--results-dir dir` do; returns the run's directory.
fn write_run(dir: &Path, results: &[&RunResult]) -> PathBuf {
    let run = dir.join(RUN);
    for r in results {
        let s = r.shard.as_ref().unwrap();
        let shard_dir = run.join(format!("shard-{}-of-{}", s.index, s.count));
        std::fs::create_dir_all(&shard_dir).unwrap();
        r.save(&shard_dir.join("result.json")).unwrap();
    }
    run
}

/// `tikv-bench merge ARGS -o OUT`.
fn merge_cmd(args: &[&Path], extra: &[&str], out: &Path) -> Output {
    Command::new(bin())
        .arg("merge")
        .args(args)
        .args(extra)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn load(path: &Path) -> RunResult {
    RunResult::load(path).unwrap()
}

#[test]
fn four_shards_in_a_run_directory_merge_via_the_directory_in_shard_order() {
    let shards = shards();
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(
        dir.path(),
        &[&shards[2], &shards[0], &shards[3], &shards[1]],
    );
    // What else lives in a run's directory is not read as a shard: the
    // barrier's files, and a merge Job's earlier output under merged/.
    std::fs::create_dir_all(run.join("ready")).unwrap();
    std::fs::write(run.join("ready/shard-1-of-4"), "1765015200000000").unwrap();
    std::fs::create_dir_all(run.join("merged")).unwrap();
    shards[0].save(&run.join("merged/result.json")).unwrap();

    let out = dir.path().join("merged.json");
    let o = merge_cmd(&[&run], &[], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = load(&out);
    assert_eq!(m.merged_from, Some(4));
    assert_eq!(m.missing_shards, None);
    assert_eq!(m.measured.ops, 2000, "every op of the four shards, once");
    let rows = m.drivers.as_ref().expect("a row per driver");
    let order: Vec<_> = rows
        .iter()
        .map(|r| (r.shard, r.host.clone(), r.run.clone()))
        .collect();
    let want: Vec<_> = (1..=4)
        .map(|i| {
            (
                Some([i, 4]),
                Some(format!("pod-{i}")),
                Some(RUN.to_string()),
            )
        })
        .collect();
    assert_eq!(order, want);
    for (row, shard) in rows.iter().zip(&shards) {
        let ok: u64 = shard.ops.values().map(|o| o.ok).sum();
        assert_eq!((row.run_id.as_str(), row.ok), (shard.run_id.as_str(), ok));
        assert_eq!(row.measured_from_unix_us, shard.measured_from_unix_us);
    }
    assert_eq!(rows.iter().map(|r| r.start_offset_us).min(), Some(0));
    for (name, op) in &m.ops {
        let parts: Vec<_> = shards.iter().map(|s| &s.ops[name]).collect();
        assert_eq!(op.ok, parts.iter().map(|p| p.ok).sum::<u64>(), "{name}");
        let mut h = hist::new_hist();
        for p in &parts {
            hist::add(&mut h, &hist::decode(&p.histogram).unwrap());
        }
        assert_eq!(
            op.latency_us,
            Percentiles::of(&h),
            "{name}: from the added histograms"
        );
    }
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("drivers (4 merged; ! flagged):"),
        "{summary}"
    );
    assert!(summary.contains("pod-3"), "{summary}");
}

#[test]
fn a_missing_shard_is_named_with_its_expected_path_and_partial_merges_the_rest() {
    let shards = shards();
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(dir.path(), &[&shards[0], &shards[1], &shards[3]]);
    let out = dir.path().join("merged.json");
    let o = merge_cmd(&[&run], &[], &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("run {RUN}: shard 3/4 missing")),
        "{err}"
    );
    let expected = run.join("shard-3-of-4").join("result.json");
    assert!(err.contains(&expected.display().to_string()), "{err}");
    assert!(!out.exists(), "nothing written");

    let o = merge_cmd(&[&run], &["--partial"], &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("partial merge: run bench-7: shard 3/4 missing"),
        "{err}"
    );
    let m = load(&out);
    assert_eq!(m.missing_shards, Some(vec![3]));
    assert_eq!(m.drivers.as_ref().map(Vec::len), Some(3));
    // The new sections (rows with the run id and host, missing shards)
    // are as docs/result.schema.json describes them.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["drivers"][0]["run"], RUN);
    let v = crate::schema::validator();
    assert_eq!(crate::schema::errors(&v, &json), Vec::<String>::new());
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("Partial merge: shard 3/4 missing"),
        "{summary}"
    );

    // The late shard merges into the partial merge: the run is whole.
    let late = dir.path().join("late.json");
    shards[2].save(&late).unwrap();
    let whole = dir.path().join("whole.json");
    let o = merge_cmd(&[&out, &late], &[], &whole);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let w = load(&whole);
    assert_eq!((w.missing_shards, w.measured.ops), (None, 2000));
}

/// Each of `results` saved as `dir/NAME.json`; returns the paths.
fn save_each(dir: &Path, results: &[(&str, &RunResult)]) -> Vec<PathBuf> {
    results
        .iter()
        .map(|(name, r)| {
            let path = dir.join(format!("{name}.json"));
            r.save(&path).unwrap();
            path
        })
        .collect()
}

#[test]
fn a_shard_twice_mixed_run_ids_and_mixed_n_exit_2_naming_both_files() {
    let shards = shards();
    let dir = tempfile::tempdir().unwrap();
    let a = &shards[1];
    let mut again = a.clone();
    again.run_id = "another-driver-run".into();
    let mut other_run = shards[2].clone();
    other_run.shard.as_mut().unwrap().run = Some("bench-8".into());
    let mut other_n = shards[2].clone();
    other_n.shard.as_mut().unwrap().count = 5;
    let paths = save_each(
        dir.path(),
        &[
            ("a", a),
            ("again", &again),
            ("other-run", &other_run),
            ("other-n", &other_n),
        ],
    );
    let out = dir.path().join("merged.json");
    let refused = |second: &Path, says: &str| {
        let o = merge_cmd(&[&paths[0], second], &[], &out);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        for p in [&paths[0], second] {
            assert!(
                err.contains(&p.display().to_string()),
                "names {}: {err}",
                p.display()
            );
        }
        assert!(!out.exists(), "nothing written");
    };
    refused(&paths[1], "shard 2/4 given twice: ");
    refused(&paths[2], "is run bench-7, ");
    refused(&paths[2], " run bench-8: merge one run's shards");
    refused(&paths[3], "is shard 2/4, ");
    refused(&paths[3], " shard 3/5: the shards of one run share N");

    // The library refuses shards of different runs too.
    let e = merge(&[a.clone(), other_run]).unwrap_err().to_string();
    assert!(
        e.contains("results 1 and 2 are shards of different runs (run bench-7 and run bench-8)"),
        "{e}"
    );
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tikv-bench merge RUN EXTRA -o OUT` started in the background, its
/// stderr piped; killed when dropped.
fn spawn_merge(run: &Path, extra: &[&str], out: &Path) -> Killed {
    let child = Command::new(bin())
        .arg("merge")
        .arg(run)
        .args(extra)
        .arg("-o")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Killed(child)
}

#[test]
fn wait_merges_a_shard_written_while_it_waits_and_times_out_naming_the_missing() {
    let shards = shards();
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(dir.path(), &[&shards[0], &shards[1], &shards[2]]);
    let out = dir.path().join("merged.json");
    let mut child = spawn_merge(&run, &["--wait", "20s"], &out);
    std::thread::sleep(Duration::from_secs(1));
    // A result.json written in place (the driver writes beside it and
    // renames, but a copy onto a shared volume may not): a merge may read
    // it half written, and must look again rather than fail.
    let text = serde_json::to_string_pretty(&shards[3]).unwrap();
    let last = run.join("shard-4-of-4");
    std::fs::create_dir_all(&last).unwrap();
    std::fs::write(last.join("result.json"), &text[..text.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(last.join("result.json"), &text).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("waiting up to 20s for run bench-7: shard 4/4"),
        "{err}"
    );
    let m = load(&out);
    assert_eq!((m.merged_from, m.measured.ops), (Some(4), 2000));

    std::fs::remove_dir_all(&last).unwrap();
    std::fs::remove_file(&out).unwrap();
    let o = merge_cmd(&[&run], &["--wait", "1s"], &out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("shard 4/4 missing after waiting 1s"), "{err}");
    assert!(!out.exists());
}

/// A merge Job starts beside the drivers: `--wait` waits for a run
/// directory no driver has made yet, and makes the directory of its
/// output (`merged/`) itself.
#[test]
fn wait_waits_for_a_run_directory_not_made_yet_and_makes_its_output_directory() {
    let shards = shards();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join(RUN);
    let out = run.join("merged/result.json");
    let o = merge_cmd(&[&run], &[], &out);
    assert_eq!(
        o.status.code(),
        Some(2),
        "without --wait a missing input is refused"
    );
    assert!(
        stderr(&o).contains("no such file or directory"),
        "{}",
        stderr(&o)
    );
    let mut child = spawn_merge(&run, &["--wait", "20s", "--report"], &out);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "merge gave up on a run directory not made yet"
    );
    let all: Vec<&RunResult> = shards.iter().collect();
    write_run(dir.path(), &all);
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(load(&out).merged_from, Some(4));
    assert!(
        run.join("merged/report.html").is_file(),
        "--report renders beside -o"
    );
}

/// The four shards as the report test sees them: shard 2 fell behind,
/// shard 3 was ready only after the agreed start, shard 4 completed a
/// tenth of the rate it was to offer; shard 1 is fine.
fn troubled_shards() -> Vec<RunResult> {
    let mut shards = shards();
    let first = shards[0].measured_from_unix_us;
    for (i, s) in shards.iter_mut().enumerate() {
        // Measured phases 1 ms apart, as drivers given one --start-at.
        let from = first + 1_000 * i as i64;
        s.measured_to_unix_us += from - s.measured_from_unix_us;
        s.measured_from_unix_us = from;
        let at = from - 1_000;
        s.start = Some(StartInfo {
            how: StartHow::Time,
            at_unix_us: at,
            measure_at_unix_us: at,
            skew_us: 1_000,
            ready_unix_us: at - 5_000_000,
            late: false,
        });
    }
    let mut late = hist::new_hist();
    for (v, n) in [(20u64, 900), (5_000, 100)] {
        for _ in 0..n {
            hist::record(&mut late, v);
        }
    }
    shards[1].driver_check = DriverCheck::judge(Some(&late), None);
    let start = shards[2].start.as_mut().unwrap();
    (start.late, start.skew_us) = (true, 120_000);
    let ok: u64 = shards[3].ops.values().map(|o| o.ok).sum();
    shards[3].rate = Some(10.0 * ok as f64 / shards[3].measured.duration_s);
    shards
}

#[test]
fn the_merged_report_flags_a_driver_that_fell_behind_started_late_or_fell_short() {
    let shards = troubled_shards();
    assert_eq!(
        shards[1].driver_check.as_ref().unwrap().verdict,
        DriverVerdict::FellBehind
    );
    let m = merge(&shards).unwrap();
    let rows = m.drivers.as_ref().unwrap();
    assert_eq!(rows[2].skew_us, Some(120_000));
    assert!(rows[2].late);

    let text = tikv_bench::report::text::summary(&m);
    assert!(
        text.contains("!!! WARNING: 3 of 4 drivers flagged: 2/4 (self-check: fell behind)"),
        "{text}"
    );
    assert!(
        text.contains("3/4 (ready after the agreed start: began late by 120.0ms)"),
        "{text}"
    );
    assert!(text.contains("4/4 (completed 10% of its offered"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&m, dir.path()).unwrap();
    let page = std::fs::read_to_string(&written.html).unwrap();
    let doc = scraper::Html::parse_document(&page);
    let sel = |css: &str| scraper::Selector::parse(css).unwrap();
    let section = doc
        .select(&sel("section#drivers"))
        .next()
        .expect("a Drivers section");
    let flagged: Vec<String> = section
        .select(&sel("table.drivers tbody tr.flagged td:first-child"))
        .map(|td| td.text().collect())
        .collect();
    assert_eq!(flagged, ["2/4", "3/4", "4/4"]);
    let all = section.select(&sel("table.drivers tbody tr")).count();
    assert_eq!(all, 4);
    let line: String = section
        .select(&sel("p.flagged-line"))
        .flat_map(|p| p.text())
        .collect();
    assert!(line.starts_with("3 of 4 drivers flagged"), "{line}");
    let html = section.html();
    assert!(
        html.find("flagged-line").unwrap() < html.find("<table").unwrap(),
        "the line is above the table"
    );
    let top: String = doc
        .select(&sel("main > p.bad"))
        .flat_map(|p| p.text())
        .collect();
    assert!(top.contains("3 of 4 drivers flagged"), "{top}");
    assert!(
        written
            .charts
            .iter()
            .any(|(p, _)| p.ends_with("drivers.png")),
        "the throughput chart is drawn"
    );

    // A partial merge says so at the top.
    let mut partial = merge(&[shards[0].clone(), shards[1].clone(), shards[3].clone()]).unwrap();
    partial.missing_shards = Some(vec![3]);
    let written = html::write(&partial, dir.path()).unwrap();
    let page = std::fs::read_to_string(&written.html).unwrap();
    assert!(
        page.contains("Partial merge: shard 3/4 missing; the figures are those of 3 of the run"),
        "partial banner"
    );
}

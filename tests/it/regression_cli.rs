//! Regression gating through the binary: `run --baseline`, `compare
//! --baseline`, and the Markdown summary and JUnit XML they write for CI.
//! The runs are short, rate-limited runs on the noop target, and the
//! workload judges only throughput and the error rate with wide margins,
//! so that a loaded machine cannot make two runs of it differ.

use std::path::Path;
use std::process::Output;

use crate::util::{stderr, tikv_bench};

/// A light workload: 100 ops/s for 2 s, judged against a baseline by
/// its own relative thresholds, with an absolute one beside them.
const WORKLOAD: &str = "name: gate\nconcurrency: 2\nrate: 100\nwarmup: 0s\nduration: 2s\nseed: 7\nkeys: {records: 100}\nops:\n  - {name: read, type: get, weight: 1}\n  - {name: write, type: put, weight: 1}\nthresholds:\n  - throughput > baseline - 50%\n  - error rate < baseline + 1%\n  - error rate < 1%\n";

fn run(dir: &Path, extra: &[&str]) -> Output {
    let workload = dir.join("gate.yaml");
    if !workload.exists() {
        std::fs::write(&workload, WORKLOAD).unwrap();
    }
    let mut args = vec![
        "run",
        workload.to_str().unwrap(),
        "--target",
        "noop",
        "--progress",
        "off",
        "--no-report",
    ];
    args.extend(extra);
    tikv_bench(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A run judged against its own earlier result passes, keeps the verdicts
/// in result.json (which the schema describes) and writes the CI files;
/// the earlier run, without --baseline, says its relative thresholds were
/// not judged. A result whose thresholds demand 50% more throughput than
/// the same run gave is a regression `compare --baseline` exits 1 on.
#[test]
fn a_run_against_its_own_baseline_passes_and_a_demanded_gain_regresses() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let o = run(dir.path(), &["--out", base.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", stderr(&o));
    assert!(
        stdout.contains("2 thresholds relative to a baseline not judged: give --baseline"),
        "{stdout}"
    );

    let (this, md, xml) = (
        dir.path().join("this"),
        dir.path().join("summary.md"),
        dir.path().join("junit.xml"),
    );
    let base_json = base.join("result.json");
    let o = run(
        dir.path(),
        &[
            "--out",
            this.to_str().unwrap(),
            "--baseline",
            base_json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", stderr(&o));
    assert!(stdout.contains("against baseline "), "{stdout}");
    let r = json(&this.join("result.json"));
    let verdicts = r["baseline"]["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2, "the workload's relative thresholds only");
    assert!(verdicts.iter().all(|v| v["passed"] == true), "{verdicts:?}");
    assert_eq!(
        r["baseline"]["baseline_runs"][0],
        json(&base_json)["run_id"]
    );
    assert_eq!(r["thresholds"].as_array().unwrap().len(), 1, "absolute");
    let v = crate::schema::validator();
    assert_eq!(crate::schema::errors(&v, &r), Vec::<String>::new());
    let summary = read(&md);
    assert!(
        summary.starts_with("### tikv-bench: gate ✅ no regressions"),
        "{summary}"
    );
    assert!(summary.contains("| throughput | "), "{summary}");
    assert!(summary.contains("| error rate \\< 1% | "), "{summary}");
    let junit = read(&xml);
    assert!(
        junit.contains("<testsuites name=\"tikv-bench gate\" tests=\"3\" failures=\"0\">"),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"throughput &gt; baseline - 50%\""),
        "{junit}"
    );

    compare_a_demanded_gain(dir.path(), &base_json, &r);
}

/// `compare --baseline` of `run` (the result of a run judged against
/// `base`) recorded as if its workload had demanded 50% more throughput
/// than the baseline gave: a regression, named in every output.
fn compare_a_demanded_gain(dir: &Path, base_json: &Path, run: &serde_json::Value) {
    let (md, xml) = (dir.join("summary.md"), dir.join("junit.xml"));
    let mut demanding = run.clone();
    demanding["workload"]["thresholds"] = serde_json::json!(["throughput > baseline + 50%"]);
    let demanding_json = dir.join("demanding.json");
    std::fs::write(&demanding_json, demanding.to_string()).unwrap();
    let o = tikv_bench(&[
        "compare",
        "--baseline",
        base_json.to_str().unwrap(),
        demanding_json.to_str().unwrap(),
        "--out",
        dir.join("cmp").to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("tikv-bench: baseline regressed: throughput > baseline + 50%"),
        "{err}"
    );
    let summary = read(&md);
    assert!(
        summary.starts_with("### tikv-bench: gate ❌ 1 regressed"),
        "{summary}"
    );
    assert!(
        summary.contains("| throughput | ") && summary.contains("❌ regressed"),
        "{summary}"
    );
    let junit = read(&xml);
    assert!(
        junit.contains("<testsuite name=\"baseline\" tests=\"1\" failures=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("<failure message=\"throughput regressed: "),
        "{junit}"
    );
    let cmp = json(&dir.join("cmp/baseline.json"));
    assert_eq!(cmp["verdicts"][0]["verdict"], "regressed");
    let html = read(&dir.join("cmp/compare.html"));
    let (a, b) = (html.find("base/result.json"), html.find("demanding.json"));
    assert!(a.is_some() && a < b, "the baseline comes first");
}

/// `--repeat 2 --baseline INDEX` judges both repeats together against
/// both of the baseline's once, at the end, into OUT/baseline.json; each
/// repeat's result has no baseline section.
#[test]
fn repeats_are_judged_together_against_a_repeated_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let (base, this) = (dir.path().join("base"), dir.path().join("this"));
    let o = run(
        dir.path(),
        &[
            "--out",
            base.to_str().unwrap(),
            "--repeat",
            "2",
            "--duration",
            "1500ms",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = dir.path().join("summary.md");
    let o = run(
        dir.path(),
        &[
            "--out",
            this.to_str().unwrap(),
            "--repeat",
            "2",
            "--duration",
            "1500ms",
            "--baseline",
            base.join("index.json").to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{stdout}", stderr(&o));
    let cmp = json(&this.join("baseline.json"));
    assert_eq!(cmp["baseline_runs"].as_array().unwrap().len(), 2);
    assert_eq!(cmp["runs"].as_array().unwrap().len(), 2);
    assert_eq!(cmp["verdicts"].as_array().unwrap().len(), 2);
    for k in [1, 2] {
        let r = json(&this.join(format!("repeat-{k}/result.json")));
        assert!(r.get("baseline").is_none(), "repeat {k}");
    }
    assert!(
        stdout.contains("(2 run(s) vs 2 baseline run(s)"),
        "{stdout}"
    );
    let summary = read(&md);
    assert!(summary.contains("(2 runs vs 2 baseline runs)"), "{summary}");
    assert!(
        summary.contains("| repeat 2 | error rate \\< 1% |"),
        "{summary}"
    );
}

/// A baseline that cannot be used is bad input found before anything
/// runs: a missing file, a file that is not a result, and any baseline
/// with a sweep, whose cells each need their own.
#[test]
fn unusable_baselines_exit_2_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let not_result = dir.path().join("gate.yaml");
    std::fs::write(&not_result, WORKLOAD).unwrap();
    let missing = dir.path().join("missing.json");
    for (baseline, want) in [(&missing, "--baseline "), (&not_result, "--baseline ")] {
        let o = run(
            dir.path(),
            &[
                "--out",
                out.to_str().unwrap(),
                "--baseline",
                baseline.to_str().unwrap(),
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(want) && err.contains(&*baseline.to_string_lossy()),
            "{err}"
        );
        assert!(!out.exists(), "nothing ran: {err}");
    }
    let o = tikv_bench(&[
        "run",
        "workloads/lock-sweep.yaml",
        "--target",
        "memory",
        "--baseline",
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("compare each cell's result with compare --baseline"),
        "{err}"
    );
    assert!(!out.exists());
    let o = tikv_bench(&[
        "compare",
        "--baseline",
        missing.to_str().unwrap(),
        not_result.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `compare --baseline` judges each side as repeats of one run, so
/// results of two sweep cells on a side are refused, naming the cells.
#[test]
fn compare_against_a_baseline_refuses_two_sweep_cells_on_a_side() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let o = run(dir.path(), &["--out", base.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let result = json(&base.join("result.json"));
    let mut cells = Vec::new();
    for id in ["lock=optimistic", "lock=pessimistic"] {
        let mut r = result.clone();
        r["sweep"] = serde_json::json!({"id": id, "values": {"lock": id[5..].to_string()}});
        let path = dir.path().join(format!("{}.json", &id[5..]));
        std::fs::write(&path, r.to_string()).unwrap();
        cells.push(path);
    }
    let base_json = base.join("result.json");
    let o = tikv_bench(&[
        "compare",
        "--baseline",
        base_json.to_str().unwrap(),
        cells[0].to_str().unwrap(),
        cells[1].to_str().unwrap(),
        "--out",
        dir.path().join("cmp").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2 cells of a sweep (lock=optimistic; lock=pessimistic)"),
        "{err}"
    );
    assert!(!dir.path().join("cmp").exists(), "refused before any work");
    // One cell against the baseline is fine.
    let o = tikv_bench(&[
        "compare",
        "--baseline",
        base_json.to_str().unwrap(),
        cells[0].to_str().unwrap(),
        "--out",
        dir.path().join("one").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

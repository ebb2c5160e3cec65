//! Reports: `report.html` and its charts for one result, `compare.html` for
//! several, and the binary's `report` and `compare` subcommands. Pages are
//! parsed with a real HTML parser and PNGs decoded, as a browser would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use scraper::{Html, Selector};
use tikv_bench::backend::MemoryBackend;
use tikv_bench::metrics::hist::Percentiles;
use tikv_bench::metrics::result::{Interval, IntervalOp, OpResult, PhaseResult};
use tikv_bench::metrics::{
    BaselineComparison, BaselineVerdict, Change, ClusterInfo, DriverCheck, DriverVerdict,
    LevelKind, MetricUnit, RunResult, SearchEnd, SearchResult, StageLevel, StageResult,
    StepVerdict, ThresholdVerdict, hist,
};
use tikv_bench::report::{compare, html};
use tikv_bench::workload::checks::CheckVerdict;

use crate::util::{root, run, shorten, stderr, tikv_bench, workload};

const MIX: &str = "
name: report-test
description: a tiny mix for the report tests
seed: 3
keys: {records: 500, txn_prefix: acct}
concurrency: 2
ops:
  - {name: read, type: get, weight: 3}
  - {name: write, type: put, weight: 1}
  - {name: txn, type: txn, weight: 2, reads: 1, writes: 2, lock: optimistic}
";

/// One real run of the tiny mix on the in-memory backend, shared by the
/// tests (it takes 1.5 s).
pub(crate) fn result() -> RunResult {
    static RESULT: OnceLock<RunResult> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let mut w = workload(MIX);
            shorten(&mut w, Duration::from_millis(1500));
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(run(&w, MemoryBackend::new()))
        })
        .clone()
}

fn parse(path: &Path) -> Html {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = Html::parse_document(&text);
    assert!(
        doc.errors.is_empty(),
        "{}: HTML parse errors: {:?}",
        path.display(),
        doc.errors
    );
    doc
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel).collect()
}

fn cell_texts(row: scraper::ElementRef<'_>) -> Vec<String> {
    let td = Selector::parse("td").unwrap();
    row.select(&td)
        .map(|c| c.text().collect::<String>().trim().to_string())
        .collect()
}

/// No network: every image inline, no link or source leaves the page, no
/// remote stylesheet.
fn assert_self_contained(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = parse(path);
    let imgs = select(&doc, "img");
    assert!(!imgs.is_empty(), "{}: no images", path.display());
    for img in imgs {
        let src = img.value().attr("src").unwrap_or("");
        assert!(
            src.starts_with("data:image/png;base64,"),
            "image not inline: {}",
            &src[..src.len().min(60)]
        );
    }
    for el in select(&doc, "[src], [href]") {
        for attr in ["src", "href"] {
            if let Some(v) = el.value().attr(attr) {
                assert!(
                    !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")),
                    "external {attr}: {v}"
                );
            }
        }
    }
    assert!(select(&doc, "script").is_empty(), "the page runs no script");
    assert!(select(&doc, "link").is_empty(), "the page links nothing");
    for needle in ["http://", "https://", "@import", "url("] {
        assert!(
            !text.contains(needle),
            "{}: contains {needle}",
            path.display()
        );
    }
}

/// Decodes a PNG fully and returns its size.
fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    (frame.width, frame.height)
}

#[test]
fn report_is_self_contained_with_a_row_per_op_and_decodable_charts() {
    let r = result();
    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&r, dir.path()).unwrap();
    assert_eq!(written.html, dir.path().join("report.html"));
    assert_self_contained(&written.html);

    let doc = parse(&written.html);
    let rows = select(&doc, "table.ops tbody tr");
    let names: Vec<String> = rows.iter().map(|row| cell_texts(*row)[0].clone()).collect();
    assert_eq!(
        names,
        ["read", "write", "txn"],
        "one row per op, in workload order"
    );
    let txn = cell_texts(rows[2]);
    assert_eq!(txn[1], "txn");
    assert_eq!(
        txn[2].replace(',', ""),
        r.ops["txn"].ok.to_string(),
        "ok count"
    );
    for id in [
        "ops", "latency", "timeline", "memory", "errors", "run", "workload",
    ] {
        assert_eq!(
            select(&doc, &format!("section#{id}")).len(),
            1,
            "section {id}"
        );
    }
    let run_table: String = select(&doc, "section#run")[0].text().collect();
    for fact in [
        "seed",
        "pool size",
        "retry policy",
        "report-test",
        "closed loop",
    ] {
        assert!(run_table.contains(fact), "run metadata lacks {fact}");
    }
    let yaml: String = select(&doc, "section#workload pre")[0].text().collect();
    assert!(yaml.contains("name: report-test"), "{yaml}");
    let errors: String = select(&doc, "section#errors")[0].text().collect();
    assert!(errors.contains("No errors, no retries."), "{errors}");

    let charts: BTreeMap<String, (u32, u32)> = written
        .charts
        .iter()
        .map(|(p, size)| (p.file_name().unwrap().to_string_lossy().into_owned(), *size))
        .collect();
    assert_eq!(
        charts.keys().collect::<Vec<_>>(),
        ["latency.png", "memory.png", "timeline.png"],
        "no errors.png without errors"
    );
    assert_eq!(png_size(&dir.path().join("memory.png")), html::MEMORY_SIZE);
    assert_eq!(
        png_size(&dir.path().join("latency.png")),
        html::LATENCY_SIZE
    );
    assert_eq!(
        png_size(&dir.path().join("timeline.png")),
        html::TIMELINE_SIZE
    );
    assert!(!dir.path().join("errors.png").exists());
    assert_eq!(select(&doc, "img").len(), 3);
}

#[test]
fn report_escapes_result_text_and_draws_errors_and_extra_blocks() {
    let mut r = result();
    r.workload["description"] = "<script>alert(1)</script> & more".into();
    let txn = r.ops.get_mut("txn").unwrap();
    txn.failed = 7;
    txn.errors = BTreeMap::from([("write_conflict".into(), 7)]);
    txn.error_samples = BTreeMap::from([("write_conflict".into(), "key <k1> \"locked\"".into())]);
    txn.retries = 40;
    txn.retries_by_kind =
        BTreeMap::from([("write_conflict".into(), 30), ("key_is_locked".into(), 10)]);
    r.cluster = Some(ClusterInfo {
        pd: Vec::new(),
        start: serde_json::json!({"regions": 1, "stores": [{"id": 1, "leaders": 1}]}),
        end: serde_json::json!({"regions": 3, "stores": [{"id": 1, "leaders": 3}]}),
    });
    r.checks = Some(vec![CheckVerdict {
        name: "bank".into(),
        passed: true,
        summary: "conserved".into(),
        details: serde_json::json!({"ok": true, "note": "<b>conserved</b>"})
            .as_object()
            .unwrap()
            .clone(),
        violations: Vec::new(),
        violation_count: 0,
    }]);
    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&r, dir.path()).unwrap();
    assert_self_contained(&written.html);
    let doc = parse(&written.html);
    let text: String = doc.root_element().text().collect();
    assert!(
        text.contains("<script>alert(1)</script> & more"),
        "shown as text"
    );
    assert!(text.contains("key <k1> \"locked\""));
    assert!(text.contains("<b>conserved</b>"));
    assert!(select(&doc, "b").is_empty(), "no markup from the result");

    // Two (op, kind) pairs: txn/key_is_locked and txn/write_conflict.
    let errors = dir.path().join("errors.png");
    assert_eq!(
        png_size(&errors),
        (html::ERRORS_WIDTH, html::errors_height(2))
    );
    let rows = select(&doc, "section#errors tbody tr");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        cell_texts(rows[1])[..4],
        ["txn", "write_conflict", "7", "30"].map(String::from)
    );
    let cluster: String = select(&doc, "section#extra-cluster")[0].text().collect();
    assert!(
        cluster.contains("regions") && cluster.contains("leaders"),
        "{cluster}"
    );
    assert_eq!(select(&doc, "section#extra-checks").len(), 1);
    assert_eq!(select(&doc, "img").len(), 4);
}

/// Whole seconds with the given txn commits each, then a partial second
/// with a wild count that the noise estimate must ignore.
fn timeline(r: &RunResult, commits: &[u64]) -> Vec<Interval> {
    let template = &r.timeline[0];
    let op = |ok: u64| IntervalOp {
        ok,
        failed: 0,
        p50_us: 1,
        p99_us: 2,
        max_us: 3,
        histogram: r.ops["txn"].histogram.clone(),
    };
    let mut out: Vec<Interval> = commits
        .iter()
        .enumerate()
        .map(|(i, n)| Interval {
            unix_s: template.unix_s + i as i64,
            width_s: 1,
            rss_bytes: None,
            t_s: i as f64,
            span_s: 1.0,
            ops_per_s: *n as f64,
            p50_us: 1,
            p99_us: 2,
            ops: BTreeMap::from([("txn".to_string(), op(*n))]),
        })
        .collect();
    out.push(Interval {
        unix_s: template.unix_s + commits.len() as i64,
        width_s: 1,
        rss_bytes: None,
        t_s: commits.len() as f64,
        span_s: 0.2,
        ops_per_s: 1e9,
        p50_us: 1,
        p99_us: 2,
        ops: BTreeMap::from([("txn".to_string(), op(200_000_000))]),
    });
    out
}

/// A copy of the run as if its transactions had used `lock`, committing
/// `per_s` a second.
fn variant(lock: &str, per_s: f64, commits: &[u64], aborts: u64) -> RunResult {
    let mut r = result();
    for op in r.workload["ops"].as_array_mut().unwrap() {
        if op["type"] == "txn" {
            op["lock"] = lock.into();
        }
    }
    r.timeline = timeline(&r, commits);
    let txn = r.ops.get_mut("txn").unwrap();
    txn.ok_per_s = per_s;
    txn.failed = aborts;
    txn.events = BTreeMap::from([
        ("lock_waits".into(), txn.ok / 10),
        ("lock_wait_us".into(), txn.ok * 5),
    ]);
    r
}

fn pair(a: RunResult, b: RunResult, dir: &Path) -> Vec<(PathBuf, RunResult)> {
    vec![
        (dir.join("a/result.json"), a),
        (dir.join("b/result.json"), b),
    ]
}

fn goodput_delta_note(doc: &Html) -> String {
    let rows = select(doc, "section#deltas tbody tr");
    let goodput = cell_texts(rows[0]);
    assert_eq!(goodput[0], "goodput");
    goodput[5].clone()
}

#[test]
fn compare_of_the_two_lock_modes_draws_contention_and_deltas_with_a_noise_note() {
    let dir = tempfile::tempdir().unwrap();
    let a = variant("optimistic", 100.0, &[100, 102, 98, 100, 100], 30);
    let b = variant("pessimistic", 101.0, &[101, 103, 99, 101, 101], 0);
    let written = compare::write(&pair(a.clone(), b, dir.path()), dir.path()).unwrap();
    assert_eq!(written.html, dir.path().join("compare.html"));
    assert_self_contained(&written.html);
    assert_eq!(
        png_size(&dir.path().join("contention.png")),
        compare::CONTENTION_SIZE
    );
    for (path, size) in &written.charts {
        assert_eq!(png_size(path), *size, "{}", path.display());
    }
    let doc = parse(&written.html);
    assert_eq!(select(&doc, "img").len(), written.charts.len());
    let results = select(&doc, "table.results tbody tr");
    assert_eq!(results.len(), 2);
    assert_eq!(
        cell_texts(results[0])[1],
        "optimistic",
        "lock read from the workload"
    );
    assert_eq!(cell_texts(results[1])[1], "pessimistic");
    // 1 commit/s apart; each side's per-second se is 0.816: 2 se of the
    // difference is 2.31.
    let note = goodput_delta_note(&doc);
    assert!(note.starts_with("within noise"), "{note}");
    let deltas: String = select(&doc, "section#deltas")[0].text().collect();
    assert!(deltas.contains("Noise rule:"), "the rule is stated");
    assert!(deltas.contains("+1.0%"), "relative change: {deltas}");
    let headline = select(&doc, "section#contention tbody tr");
    assert_eq!(headline.len(), 1);
    assert_eq!(
        cell_texts(headline[0])[3],
        "1.01×",
        "pessimistic / optimistic goodput"
    );

    let far = tempfile::tempdir().unwrap();
    let c = variant("pessimistic", 150.0, &[150, 152, 148, 150, 150], 0);
    compare::write(&pair(a, c, far.path()), far.path()).unwrap();
    let note = goodput_delta_note(&parse(&far.path().join("compare.html")));
    assert!(note.starts_with("beyond noise"), "{note}");
}

#[test]
fn compare_of_a_sweep_plots_against_the_swept_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for lock in ["optimistic", "pessimistic"] {
        for (i, hot) in [0.5, 0.1, 0.02].into_iter().enumerate() {
            // The workload says optimistic throughout: the sweep block wins.
            let mut r = variant(
                "optimistic",
                100.0 - 10.0 * i as f64,
                &[100, 100, 100],
                i as u64,
            );
            r.sweep = Some(
                serde_json::from_value(
                    serde_json::json!({"id": format!("lock={lock},hot_set={hot}"),
                                       "values": {"lock": lock, "hot_set": hot}}),
                )
                .unwrap(),
            );
            results.push((dir.path().join(format!("{lock}-{hot}/result.json")), r));
        }
    }
    let html_path = compare::compare_to_dir(&results, dir.path()).unwrap();
    assert_self_contained(&html_path);
    let doc = parse(&html_path);
    let lede: String = select(&doc, "p.lede")[0].text().collect();
    assert!(lede.contains("hot_set"), "{lede}");
    let cells: Vec<String> = select(&doc, "section#contention tbody tr")
        .into_iter()
        .map(|row| cell_texts(row)[0].clone())
        .collect();
    assert_eq!(cells, ["hot_set=0.5", "hot_set=0.1", "hot_set=0.02"]);
    let labels: Vec<String> = select(&doc, "table.results tbody tr")
        .into_iter()
        .map(|row| cell_texts(row)[0].clone())
        .collect();
    assert_eq!(
        labels[0], "lock=optimistic,hot_set=0.5",
        "sweep ids label the results"
    );
    assert!(
        select(&doc, "section#deltas").is_empty(),
        "deltas only for two results"
    );
    // Every link of the page's navigation leads to a section it has.
    for link in select(&doc, "nav a") {
        let href = link.value().attr("href").unwrap();
        let id = href.trim_start_matches('#');
        assert!(
            !select(&doc, &format!("section#{id}")).is_empty(),
            "{href} leads nowhere"
        );
    }
    for file in [
        "contention.png",
        "goodput.png",
        "abort-rate.png",
        "lock-wait.png",
        "latency.png",
    ] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    assert_eq!(
        png_size(&dir.path().join("goodput.png")),
        compare::METRIC_SIZE
    );
}

/// A sweep over lock and commit mode (and hot_set): the page draws one
/// line per (lock, commit) pair, names the pairs in its tables and pairs
/// optimistic with pessimistic of the same commit mode.
#[test]
fn compare_of_a_lock_and_commit_sweep_draws_one_line_per_pair() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for lock in ["optimistic", "pessimistic"] {
        for commit in ["2pc", "async"] {
            for hot in [0.5, 0.1] {
                let mut r = variant(lock, 100.0, &[100, 100, 100], 0);
                let id = format!("lock={lock},commit={commit},hot_set={hot}");
                r.sweep = Some(
                    serde_json::from_value(serde_json::json!({"id": id,
                        "values": {"lock": lock, "commit": commit, "hot_set": hot}}))
                    .unwrap(),
                );
                let cell = format!("lock-{lock}_commit-{commit}_hot_set-{hot}/result.json");
                results.push((dir.path().join(cell), r));
            }
        }
    }
    let written = compare::write(&results, dir.path()).unwrap();
    for (path, size) in &written.charts {
        assert_eq!(png_size(path), *size, "{}", path.display());
    }
    let doc = parse(&written.html);
    let lede: String = select(&doc, "p.lede")[0].text().collect();
    assert!(
        lede.contains("one line per lock / commit mode pair"),
        "{lede}"
    );
    let rows = select(&doc, "table.results tbody tr");
    let (lock, commit) = (
        cell_texts(rows[1])[1].clone(),
        cell_texts(rows[1])[2].clone(),
    );
    assert_eq!((lock.as_str(), commit.as_str()), ("optimistic", "2pc"));
    assert_eq!(
        cell_texts(rows[2])[2],
        "async",
        "commit read from the sweep"
    );
    let pairs: Vec<String> = select(&doc, "section#contention tbody tr")
        .into_iter()
        .map(|row| cell_texts(row)[0].clone())
        .collect();
    assert_eq!(
        pairs,
        [
            "commit=2pc, hot_set=0.5",
            "commit=2pc, hot_set=0.1",
            "commit=async, hot_set=0.5",
            "commit=async, hot_set=0.1"
        ]
    );
    let title: String = select(&doc, "section#contention h2")[0].text().collect();
    assert!(title.contains("per commit mode"), "{title}");
    assert!(dir.path().join("contention.png").exists());

    // Results of workloads that say their commit mode (no sweep): the mode
    // is read from the txn op, and only a pair with the same one is paired.
    let mut side = Vec::new();
    for (lock, commit) in [
        ("optimistic", "async"),
        ("pessimistic", "async"),
        ("pessimistic", "1pc"),
    ] {
        let mut r = variant(lock, 100.0, &[100, 100, 100], 0);
        for op in r.workload["ops"].as_array_mut().unwrap() {
            op["commit"] = commit.into();
        }
        side.push((dir.path().join(format!("{lock}-{commit}/result.json")), r));
    }
    let out = dir.path().join("side");
    let doc = parse(&compare::compare_to_dir(&side, &out).unwrap());
    let rows = select(&doc, "table.results tbody tr");
    assert_eq!(cell_texts(rows[2])[2], "1pc");
    assert_eq!(select(&doc, "section#contention tbody tr").len(), 1);
}

#[test]
fn compare_without_transactions_compares_throughput_and_skips_contention() {
    let mut r = result();
    r.ops.remove("txn");
    let dir = tempfile::tempdir().unwrap();
    let html_path = compare::compare_to_dir(&pair(r.clone(), r, dir.path()), dir.path()).unwrap();
    let doc = parse(&html_path);
    assert!(!dir.path().join("contention.png").exists());
    assert!(!dir.path().join("abort-rate.png").exists());
    let rows = select(&doc, "section#deltas tbody tr");
    assert_eq!(cell_texts(rows[0])[0], "throughput");
    let labels: Vec<String> = select(&doc, "table.results tbody tr")
        .into_iter()
        .map(|row| cell_texts(row)[0].clone())
        .collect();
    assert_eq!(
        labels,
        ["report-test (a)", "report-test (b)"],
        "told apart by directory"
    );
}

#[test]
fn report_and_compare_on_a_missing_or_foreign_file_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, "{\"hello\": 1}").unwrap();
    let yaml = root().join("workloads/quickstart.yaml");
    let cases = [
        (
            vec!["report", missing.to_str().unwrap()],
            "cannot read result",
        ),
        (
            vec!["report", foreign.to_str().unwrap()],
            "not a tikv-bench result",
        ),
        (
            vec!["report", yaml.to_str().unwrap()],
            "not a JSON result file",
        ),
        (
            vec!["compare", foreign.to_str().unwrap()],
            "not a tikv-bench result",
        ),
    ];
    for (args, message) in cases {
        let o = tikv_bench(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("tikv-bench: "), "{err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(err.contains(args[1]), "names the file: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn run_with_no_report_writes_none_and_report_renders_it_later() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = tikv_bench(&[
        "run",
        "workloads/quickstart.yaml",
        "--out",
        out.to_str().unwrap(),
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--progress",
        "off",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("result.json").exists());
    assert!(!out.join("report.html").exists(), "--no-report");

    let elsewhere = dir.path().join("rendered");
    let result = out.join("result.json");
    let o = tikv_bench(&[
        "report",
        result.to_str().unwrap(),
        "--out",
        elsewhere.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("report.html"));
    assert_self_contained(&elsewhere.join("report.html"));
    let doc = parse(&elsewhere.join("report.html"));
    assert_eq!(select(&doc, "table.ops tbody tr").len(), 7);
}

/// Each chart says what it is of along its bottom edge (a PNG pasted on
/// its own still names its workload, run and date).
#[test]
fn charts_name_their_workload_run_and_date() {
    let r = result();
    let note = html::chart_note(&r);
    assert!(note.starts_with("report-test on memory"), "{note}");
    assert!(note.contains(&format!("run {}", r.run_id)), "{note}");
    assert!(note.contains(&r.started_at), "{note}");
}

/// The cluster section reads as tables: stores with the regions they lead,
/// regions by their decoded key ranges, and what the faults did.
#[test]
fn the_cluster_section_shows_stores_and_regions_with_decoded_keys() {
    let mut r = result();
    let snap = serde_json::json!({
        "stores": [{"id": 1, "address": "a:1", "state": "up"}, {"id": 2, "address": "b:2", "state": "offline"}],
        "regions": [
            {"id": 7, "start": "", "end": "7573657230FF", "start_decoded": "", "end_decoded": "user0",
             "epoch": {"conf_ver": 1, "version": 3}, "leader": 2,
             "peers": [{"id": 1, "store": 1}, {"id": 2, "store": 2}]},
            {"id": 9, "start": "7573657230FF", "end": "", "start_decoded": "user0", "end_decoded": "",
             "epoch": {"conf_ver": 1, "version": 3}, "leader": 2,
             "peers": [{"id": 3, "store": 2}]}
        ],
        "faults": {"counts": {"splits": 2}}
    });
    r.cluster = Some(tikv_bench::metrics::ClusterInfo {
        pd: vec!["pd:2379".into()],
        start: snap.clone(),
        end: snap,
    });
    let dir = tempfile::tempdir().unwrap();
    let doc = parse(&html::write(&r, dir.path()).unwrap().html);
    let stores: Vec<Vec<String>> = select(&doc, "section#extra-cluster table.stores tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(stores[1], ["2", "b:2", "offline", "2", "2"], "{stores:?}");
    let regions: Vec<Vec<String>> = select(&doc, "section#extra-cluster table.regions tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(regions[0][1..3], ["(first key)", "user0"], "{regions:?}");
    assert_eq!(regions[1][1..3], ["user0", "(last key)"], "{regions:?}");
    let text: String = select(&doc, "section#extra-cluster")[0].text().collect();
    assert!(text.contains("splits"), "{text}");
}

/// An interrupted run's report says so at the top.
#[test]
fn an_interrupted_run_says_so_at_the_top() {
    let mut r = result();
    let dir = tempfile::tempdir().unwrap();
    let html = html::write(&r, dir.path()).unwrap().html;
    assert!(
        !std::fs::read_to_string(&html)
            .unwrap()
            .contains("Interrupted")
    );
    r.interrupted = true;
    let html = html::write(&r, dir.path()).unwrap().html;
    let doc = parse(&html);
    let bad: Vec<String> = select(&doc, "p.bad")
        .into_iter()
        .map(|p| p.text().collect())
        .collect();
    assert!(bad.iter().any(|t| t.starts_with("Interrupted")), "{bad:?}");
}

#[test]
fn a_driver_that_fell_behind_is_flagged_in_the_summary_and_the_report() {
    let mut r = result();
    let mut late = hist::new_hist();
    for v in [(20, 950u64), (4_000, 50)] {
        for _ in 0..v.1 {
            hist::record(&mut late, v.0);
        }
    }
    r.rate = Some(1000.0);
    let read = r.ops.get_mut("read").unwrap();
    read.lateness_us = Some(hist::Percentiles::of(&late));
    read.lateness_histogram = Some(hist::encode(&late));
    r.driver_check = DriverCheck::judge(Some(&late), None);
    assert_eq!(
        r.driver_check.as_ref().unwrap().verdict,
        DriverVerdict::FellBehind
    );

    let text = tikv_bench::report::text::summary(&r);
    assert!(
        text.contains("!!! WARNING: the driver fell behind: 50 of 1000 sends (5.0%)"),
        "{text}"
    );
    assert!(text.contains("read: started late by p50 20µs"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&r, dir.path()).unwrap();
    let doc = parse(&written.html);
    let section: String = select(&doc, "section#extra-driver_check")[0]
        .text()
        .collect();
    assert!(section.contains("fell behind"), "{section}");
    assert!(section.contains("50 more than 1.00ms late"), "{section}");
    let header: String = select(&doc, "main > p.bad")
        .iter()
        .flat_map(|p| p.text())
        .collect();
    assert!(
        header.contains("the figures measure the driver, not the cluster"),
        "{header}"
    );
    let late: Vec<Vec<String>> = select(&doc, "section#extra-driver_check table.lateness tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(late[0][..2], ["read", "1,000"], "{late:?}");
    assert_eq!(late[0][6], "4.00ms", "{late:?}");
}

// Load stages and the SLO search: fixtures filled in by hand, with real
// encoded histograms (the driver that fills them in is tested in driver.rs).

/// `n` latencies whose p50 is `p50` and p99 is `p99` (µs): all but 2% at
/// `p50`, the rest at `p99`.
pub(crate) fn latencies(p50: u64, p99: u64, n: usize) -> Vec<u64> {
    let tail = (n / 50).max(1);
    let mut v = vec![p50; n - tail];
    v.extend(std::iter::repeat_n(p99, tail));
    v
}

/// An op's section from its successful ops' `latencies` (each sent 100µs
/// late) and `failed` ops, over `secs`.
pub(crate) fn op_of(ty: &str, latencies: &[u64], failed: u64, secs: f64) -> OpResult {
    let (mut h, mut late) = (hist::new_hist(), hist::new_hist());
    for v in latencies {
        hist::record(&mut h, *v);
        hist::record(&mut late, 100);
    }
    OpResult {
        op_type: ty.into(),
        ok: h.len(),
        failed,
        unknown: 0,
        ok_per_s: h.len() as f64 / secs,
        errors: [("timeout".to_string(), failed)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
        error_samples: BTreeMap::new(),
        retries: 0,
        retries_by_kind: BTreeMap::new(),
        client_retries: 0,
        backoff_us: 0,
        outcomes: BTreeMap::new(),
        events: BTreeMap::new(),
        latency_us: Percentiles::of(&h),
        histogram: hist::encode(&h),
        service_us: None,
        service_histogram: None,
        lateness_us: Some(Percentiles::of(&late)),
        lateness_histogram: Some(hist::encode(&late)),
        failed_latency_us: None,
        failed_histogram: None,
        server_time: None,
    }
}

/// A stage of one op, `read`, at `level`, measured for `secs` from
/// `start_s`, delivering `achieved` ops/s.
pub(crate) fn stage_of(
    level: StageLevel,
    (start_s, secs): (f64, f64),
    read: OpResult,
    achieved: f64,
) -> StageResult {
    let ops = read.ok + read.failed;
    let lateness = hist::decode(read.lateness_histogram.as_ref().unwrap()).unwrap();
    StageResult {
        level,
        start_s,
        warmup_s: 1.0,
        duration_s: secs,
        measured: PhaseResult {
            duration_s: secs,
            ops,
            ok: read.ok,
            failed: read.failed,
            unknown: 0,
            retries: 0,
            client_retries: 0,
            ops_per_s: ops as f64 / secs,
            ok_per_s: read.ok as f64 / secs,
        },
        achieved_per_s: achieved,
        ops: BTreeMap::from([("read".to_string(), read)]),
        driver_check: DriverCheck::judge(Some(&lateness), None),
        verdict: None,
    }
}

pub(crate) fn rate_level(from: f64, to: f64) -> StageLevel {
    StageLevel {
        kind: LevelKind::Rate,
        from,
        to,
    }
}

/// Four rate stages, a ramp then three holds: (level, achieved, p50, p99).
/// The knee is the third (1000/s at p99 5ms: power 0.2), not the fastest
/// (1400/s at 60ms) nor the quickest (p99 2.5ms).
const STAGES: [(f64, f64, f64, u64, u64); 4] = [
    (0.0, 500.0, 240.0, 1_000, 2_500),
    (500.0, 500.0, 500.0, 1_200, 3_000),
    (1000.0, 1000.0, 1000.0, 1_500, 5_000),
    (2000.0, 2000.0, 1400.0, 20_000, 60_000),
];

/// The shared run with [`STAGES`].
pub(crate) fn staged() -> RunResult {
    let mut r = result();
    r.mode = "open".into();
    r.rate = None;
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(i, &(from, to, achieved, p50, p99))| {
            let read = op_of("get", &latencies(p50, p99, 200), i as u64, 10.0);
            stage_of(
                rate_level(from, to),
                (11.0 * i as f64, 10.0),
                read,
                achieved,
            )
        })
        .collect();
    r.stages = Some(stages);
    r
}

/// Search steps in the order run: (rate, achieved, p50, p99, passed).
const STEPS: [(f64, f64, u64, u64, bool); 7] = [
    (400.0, 399.8, 1_000, 2_000, true),
    (800.0, 799.6, 1_200, 3_000, true),
    (1600.0, 1598.0, 2_000, 8_000, true),
    (3200.0, 2100.0, 30_000, 120_000, false),
    (2400.0, 2050.0, 9_000, 34_200, false),
    (2000.0, 1990.0, 5_000, 9_500, true),
    (2200.0, 2020.0, 7_000, 12_000, false),
];

/// The shared run as an SLO search for `p99 of read < 10ms` that found
/// 2000 ops/s (achieved 1990/s), 2200 failing.
pub(crate) fn searched() -> RunResult {
    let mut r = result();
    r.mode = "open".into();
    r.rate = None;
    let slo = "p99 of read < 10ms".to_string();
    let stages = STEPS
        .iter()
        .enumerate()
        .map(|(i, &(rate, achieved, p50, p99, passed))| {
            let read = op_of("get", &latencies(p50, p99, 100), 0, 5.0);
            let mut s = stage_of(
                rate_level(rate, rate),
                (7.0 * i as f64, 5.0),
                read,
                achieved,
            );
            let measured = tikv_bench::report::page::micros(p99);
            s.verdict = Some(StepVerdict {
                passed,
                slo: vec![ThresholdVerdict {
                    threshold: slo.clone(),
                    measured: measured.clone(),
                    passed,
                }],
                reasons: if passed {
                    Vec::new()
                } else {
                    vec![format!("p99 of read {measured} (limit 10ms)")]
                },
                driver_limited: false,
            });
            s
        })
        .collect();
    r.stages = Some(stages);
    r.search = Some(SearchResult {
        slo: vec![slo],
        best_rate: Some(2000.0),
        best_achieved_per_s: Some(1990.0),
        first_failed_rate: Some(2200.0),
        why: vec!["p99 of read 12.00ms (limit 10ms)".into()],
        ended: SearchEnd::Converged,
        steps: (0..STEPS.len()).collect(),
    });
    r
}

#[test]
fn the_summary_has_a_row_per_stage_and_the_search_answer_in_one_sentence() {
    let text = tikv_bench::report::text::summary(&staged());
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("stages ("))
        .skip(1)
        .take(5)
        .collect();
    assert!(
        table[0].contains("level") && table[0].contains("achieved/s"),
        "{text}"
    );
    assert!(
        !table[0].contains("verdict"),
        "plain stages have no verdict: {text}"
    );
    let cells = |row: &str| {
        row.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // stage, level, measured, offered, achieved, p50, p99, max, errors, driver
    assert_eq!(
        cells(table[1]),
        [
            "1",
            "rate 0→500/s",
            "10.00s",
            "20.0",
            "240.0",
            "1.00ms",
            "2.50ms",
            "2.50ms",
            "0",
            "ok"
        ],
        "{text}"
    );
    assert_eq!(cells(table[4])[1], "rate 2000/s");
    assert_eq!(cells(table[4])[8], "3", "stage 4's failed ops");
    assert!(!text.contains("search:"));

    let text = tikv_bench::report::text::summary(&searched());
    assert!(
        text.contains("search: highest rate meeting p99 of read < 10ms: 2000 ops/s (achieved 1990/s); 2200 ops/s failed: p99 of read 12.00ms (limit 10ms)\n"),
        "{text}"
    );
    let steps: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("search steps ("))
        .skip(1)
        .take(8)
        .collect();
    assert!(steps[0].trim_end().ends_with("verdict"), "{text}");
    assert!(
        steps[4].contains("rate 3200/s") && steps[4].trim_end().ends_with("FAIL"),
        "{text}"
    );
    assert!(
        steps[6].contains("rate 2000/s") && steps[6].trim_end().ends_with("pass"),
        "{text}"
    );

    // The driver fell behind: the answer is a floor, and the summary says
    // to raise concurrency or add drivers.
    let mut r = searched();
    let s = r.search.as_mut().unwrap();
    s.ended = tikv_bench::metrics::SearchEnd::DriverLimited;
    let text = tikv_bench::report::text::summary(&r);
    assert!(
        text.contains("answer is a floor of the target's capacity"),
        "{text}"
    );
    assert!(
        text.contains("!!! WARNING: the driver, not the target, limited the search: 2000 ops/s is a floor of the capacity; raise concurrency or add drivers"),
        "{text}"
    );

    // An aborted run says which threshold and when.
    let mut r = staged();
    r.aborted = Some(tikv_bench::metrics::AbortInfo {
        threshold: "p99 < 20ms".into(),
        measured: "60.00ms".into(),
        at_s: 33.0,
    });
    let text = tikv_bench::report::text::summary(&r);
    assert!(
        text.contains("!!! ABORTED 33.0s into the measured phase: threshold 'p99 < 20ms' missed (measured 60.00ms)"),
        "{text}"
    );
}

#[test]
fn the_knee_is_the_best_passing_step_or_the_stage_of_greatest_power() {
    use tikv_bench::report::stages::{curve, knee};
    let r = staged();
    let points = curve(&r).unwrap();
    assert_eq!(points.len(), 4);
    // 240/2.5ms, 500/3ms, 1000/5ms, 1400/60ms: the third has the most power.
    assert_eq!(knee(&r, &points).map(|i| points[i].stage), Some(2));

    let r = searched();
    let points = curve(&r).unwrap();
    let rates: Vec<f64> = points.iter().map(|p| p.level).collect();
    assert_eq!(
        rates,
        [400.0, 800.0, 1600.0, 2000.0, 2200.0, 2400.0, 3200.0],
        "by rate"
    );
    let k = knee(&r, &points).unwrap();
    assert_eq!((points[k].level, points[k].stage), (2000.0, 5));
    assert_eq!(points[k].passed, Some(true));
    // The power rule would have picked another step: the search's answer wins.
    let power = |p: &tikv_bench::report::stages::CurvePoint| p.achieved / p.p99_us as f64;
    let best_power =
        (0..points.len()).max_by(|&a, &b| power(&points[a]).total_cmp(&power(&points[b])));
    assert_ne!(best_power, Some(k));
}

#[test]
fn the_report_of_stages_has_their_table_and_curve_and_a_search_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&staged(), dir.path()).unwrap();
    assert_self_contained(&written.html);
    let doc = parse(&written.html);
    let curve = dir.path().join("curve.png");
    assert_eq!(png_size(&curve), html::CURVE_SIZE);
    assert!(written.charts.iter().any(|(p, _)| *p == curve));
    let rows: Vec<Vec<String>> = select(&doc, "section#curve table.stages tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[2][..6],
        ["3", "rate 1000/s", "1.0s", "10.00s", "20.2", "1,000"]
    );
    let caption: String = select(&doc, "section#curve figcaption")[0].text().collect();
    assert!(caption.contains("Kleinrock"), "{caption}");
    assert_eq!(select(&doc, "nav a[href='#curve']").len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let written = html::write(&searched(), dir.path()).unwrap();
    let doc = parse(&written.html);
    let lede: Vec<String> = select(&doc, "main > p.lede")
        .into_iter()
        .map(|p| p.text().collect())
        .collect();
    assert!(
        lede.iter().any(|t| t == "Search: highest rate meeting p99 of read < 10ms: 2000 ops/s (achieved 1990/s); 2200 ops/s failed: p99 of read 12.00ms (limit 10ms)."),
        "{lede:?}"
    );
    let rows: Vec<Vec<String>> = select(&doc, "section#curve table.stages tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[4][11..], ["FAIL", "p99 of read 34.20ms (limit 10ms)"]);
    assert_eq!(rows[5][11], "pass");
    let caption: String = select(&doc, "section#curve figcaption")[0].text().collect();
    assert!(caption.contains("best passing step"), "{caption}");
    assert_eq!(png_size(&dir.path().join("curve.png")), html::CURVE_SIZE);

    // A run without stages has no such section, nor its link.
    let dir = tempfile::tempdir().unwrap();
    let doc = parse(&html::write(&result(), dir.path()).unwrap().html);
    assert!(select(&doc, "section#curve").is_empty());
    assert!(select(&doc, "nav a[href='#curve']").is_empty());
    assert!(!dir.path().join("curve.png").exists());
}

#[test]
fn compare_draws_the_curves_of_both_lock_modes_and_tables_their_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cell = |lock: &str, best: f64| {
        let mut r = searched();
        r.sweep = Some(
            serde_json::from_value(
                serde_json::json!({"id": format!("lock={lock}"), "values": {"lock": lock}}),
            )
            .unwrap(),
        );
        let s = r.search.as_mut().unwrap();
        s.best_rate = Some(best);
        let path = dir.path().join(lock).join("result.json");
        (path, r)
    };
    let results = vec![cell("optimistic", 2000.0), cell("pessimistic", 1600.0)];
    let out = dir.path().join("compare");
    let written = compare::write(&results, &out).unwrap();
    let doc = parse(&written.html);
    assert_eq!(png_size(&out.join("curve.png")), compare::CURVE_SIZE);
    let rows: Vec<Vec<String>> = select(&doc, "section#capacity table.searches tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1],
        [
            "lock=pessimistic",
            "p99 of read < 10ms",
            "1600",
            "1990",
            "2200",
            "p99 of read 12.00ms (limit 10ms)",
            "converged"
        ]
    );
    assert_eq!(select(&doc, "nav a[href='#capacity']").len(), 1);

    let text = tikv_bench::report::runs::table(&results).unwrap();
    assert!(
        text.contains("search answers:\n  lock=optimistic: highest rate meeting p99 of read < 10ms: 2000 ops/s"),
        "{text}"
    );
    assert!(
        text.contains("  lock=pessimistic: highest rate meeting p99 of read < 10ms: 1600 ops/s"),
        "{text}"
    );

    // Results without stages: no capacity section.
    let plain = vec![(dir.path().join("p/result.json"), result())];
    let doc = parse(&compare::write(&plain, &dir.path().join("c2")).unwrap().html);
    assert!(select(&doc, "section#capacity").is_empty());
}

/// A search drives the target past its capacity on purpose: late sends
/// over the whole run are expected there, so the summary and the report
/// say why instead of warning that the figures measure the driver.
#[test]
fn a_search_with_late_sends_gets_a_note_not_the_drivers_warning() {
    let mut r = searched();
    let mut late = hist::new_hist();
    for (v, n) in [(20, 900u64), (40_000, 100)] {
        for _ in 0..n {
            hist::record(&mut late, v);
        }
    }
    r.driver_check = DriverCheck::judge(Some(&late), None);
    assert_eq!(
        r.driver_check.as_ref().unwrap().verdict,
        DriverVerdict::FellBehind
    );
    let text = tikv_bench::report::text::summary(&r);
    assert!(!text.contains("WARNING: the driver fell behind"), "{text}");
    assert!(
        text.contains("a search drives the target past its capacity"),
        "{text}"
    );
    r.search = None;
    let text = tikv_bench::report::text::summary(&r);
    assert!(
        text.contains("!!! WARNING: the driver fell behind"),
        "{text}"
    );
}

/// A comparison as `checks::baseline::judge` writes it: the read p99
/// regressed, the throughput unchanged, the error rate improved.
fn judged() -> BaselineComparison {
    let verdict = |metric: &str, threshold: &str, unit, figures: [f64; 4], verdict| {
        let [baseline, value, lo, hi] = figures;
        BaselineVerdict {
            threshold: threshold.into(),
            from_workload: true,
            metric: metric.into(),
            unit,
            baseline,
            value,
            change: value - baseline,
            interval: [lo, hi],
            relative: (baseline != 0.0)
                .then(|| [(value - baseline) / baseline, lo / baseline, hi / baseline]),
            limit: baseline * 1.1,
            verdict,
            reason: format!("{} <by the test>", verdict.as_str()),
            seconds: [3, 3],
            passed: verdict != Change::Regressed,
        }
    };
    BaselineComparison {
        files: vec!["base.json".into()],
        baseline_runs: vec!["run-a".into()],
        runs: vec!["run-b".into()],
        method: tikv_bench::checks::baseline::METHOD.into(),
        confidence: 0.95,
        resamples: 2000,
        verdicts: vec![
            verdict(
                "p99 of read",
                "p99 of read < baseline + 10%",
                MetricUnit::Us,
                [1200.0, 3400.0, 2000.0, 2300.0],
                Change::Regressed,
            ),
            verdict(
                "throughput",
                "throughput > baseline - 5%",
                MetricUnit::PerS,
                [500.0, 498.0, -6.0, 3.0],
                Change::Unchanged,
            ),
            BaselineVerdict {
                from_workload: false,
                ..verdict(
                    "error rate",
                    "error rate < baseline + 0.1%",
                    MetricUnit::Ratio,
                    [0.01, 0.0, -0.012, -0.008],
                    Change::Improved,
                )
            },
        ],
    }
}

/// The rows of the baseline section: metric, baseline, run, change,
/// limit, verdict.
fn baseline_rows(doc: &Html) -> Vec<Vec<String>> {
    select(doc, "section#baseline tbody tr")
        .into_iter()
        .map(cell_texts)
        .collect()
}

#[test]
fn a_run_judged_against_a_baseline_opens_its_report_with_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = result();
    r.baseline = Some(judged());
    let written = html::write(&r, dir.path()).unwrap();
    assert_self_contained(&written.html);
    let doc = parse(&written.html);
    let sections: Vec<&str> = select(&doc, "section")
        .iter()
        .filter_map(|s| s.value().attr("id"))
        .collect();
    assert_eq!(
        sections[..2],
        ["baseline", "ops"],
        "the verdicts come first"
    );
    assert_eq!(select(&doc, "nav a[href='#baseline']").len(), 1);
    let heads: Vec<String> = select(&doc, "section#baseline thead th")
        .iter()
        .map(|h| h.text().collect())
        .collect();
    assert_eq!(
        heads,
        [
            "metric",
            "baseline",
            "this run",
            "change [95% interval]",
            "limit",
            "verdict"
        ]
    );
    let rows = baseline_rows(&doc);
    assert_eq!(rows.len(), 3);
    assert!(rows[0][0].starts_with("p99 of read"), "{:?}", rows[0]);
    assert!(rows[0][0].contains("p99 of read < baseline + 10%"));
    assert_eq!(
        rows[0][1..5],
        ["1.20ms", "3.40ms", "+183.3% [+166.7%, +191.7%]", "1.32ms"]
    );
    assert!(rows[0][5].starts_with("regressed"), "{:?}", rows[0]);
    assert!(
        rows[0][5].contains("<by the test>"),
        "reasons escaped, shown"
    );
    assert!(rows[1][5].starts_with("unchanged"));
    assert_eq!(rows[2][3], "-1.000 pp [-1.200 pp, -0.800 pp]");
    assert!(rows[2][0].ends_with("(default)"), "{:?}", rows[2]);
    // A regression is marked as the page marks failures.
    let bad: Vec<String> = select(&doc, "section#baseline tbody strong.bad")
        .iter()
        .map(|s| s.text().collect())
        .collect();
    assert_eq!(bad, ["regressed"]);
    assert_eq!(select(&doc, "section#baseline tbody strong.ok").len(), 1);
    let text: String = select(&doc, "section#baseline")[0].text().collect();
    for needle in [
        "FAILED: 1 of 3 metric(s) regressed",
        "moving-block bootstrap",
        "2,000 resamples",
        "base.json",
        "run-a",
        "run-b",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let cards: String = select(&doc, ".cards")[0].text().collect();
    assert!(cards.contains("1 regressed"), "{cards}");

    // Without a baseline: no section, no link, no card.
    let dir = tempfile::tempdir().unwrap();
    let doc = parse(&html::write(&result(), dir.path()).unwrap().html);
    assert!(select(&doc, "section#baseline").is_empty());
    assert!(select(&doc, "nav a[href='#baseline']").is_empty());
    let cards: String = select(&doc, ".cards")[0].text().collect();
    assert!(!cards.contains("baseline"), "{cards}");
}

#[test]
fn compare_against_a_baseline_shows_its_verdicts_instead_of_the_noise_note() {
    let a = variant("optimistic", 100.0, &[100, 102, 98, 100, 100], 30);
    let b = variant("optimistic", 101.0, &[101, 103, 99, 101, 101], 0);
    let dir = tempfile::tempdir().unwrap();
    let results = pair(a, b, dir.path());
    let mut c = judged();
    c.runs = vec!["run-b".into(), "run-c".into()];
    let path = compare::compare_to_dir_with(&results, dir.path(), Some(&c)).unwrap();
    let doc = parse(&path);
    assert_eq!(select(&doc, "nav a[href='#baseline']").len(), 1);
    let rows = baseline_rows(&doc);
    assert_eq!(rows.len(), 3);
    assert!(rows[0][5].starts_with("regressed"));
    let heads: String = select(&doc, "section#baseline thead")[0].text().collect();
    assert!(heads.contains("these 2 runs"), "{heads}");
    assert_eq!(goodput_delta_note(&doc), "see Against the baseline");
    let deltas: String = select(&doc, "section#deltas")[0].text().collect();
    assert!(!deltas.contains("Noise rule:"), "{deltas}");
    assert_eq!(select(&doc, "section#deltas a[href='#baseline']").len(), 1);

    // Without one, the page is as ever: the noise note, no section.
    let plain = tempfile::tempdir().unwrap();
    let doc = parse(&compare::compare_to_dir(&results, plain.path()).unwrap());
    assert!(select(&doc, "section#baseline").is_empty());
    assert!(select(&doc, "nav a[href='#baseline']").is_empty());
    assert!(goodput_delta_note(&doc).starts_with("within noise"));
}

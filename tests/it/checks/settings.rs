//! The `checks:` section is checked like the rest of a workload file (bad
//! values refused with their position and the choices), written back in the
//! workload as run, and judged by `run`: a line per check, exit 1 when one
//! fails (also through `merge`), refused with exit 2 where checks cannot
//! work (`--target noop`, `--shard`).

use tikv_bench::workload::Workload;

use crate::util::{bin, workload};

const MIX: &str = "name: x\nops: [{type: put, weight: 1}]\n";

/// (checks section, "line:column", a fragment of the message)
const BAD: &[(&str, &str, &str)] = &[
    (
        "checks:\n  bank: {accounts: 1}\n",
        "4:20",
        "checks.bank.accounts must be between 2 and 10000, got 1",
    ),
    (
        "checks:\n  bank: {amount: {min: 5, max: 2}}\n",
        "4:18",
        "1 <= min <= max",
    ),
    (
        "checks:\n  bank: {lock: optimistc}\n",
        "4:16",
        "expected one of optimistic, pessimistic",
    ),
    (
        "checks:\n  inventory: {mode: optimistc}\n",
        "4:21",
        "expected one of cas, optimistic, pessimistic",
    ),
    (
        "checks:\n  inventory: {commit: async}\n",
        "4:23",
        "checks.inventory.commit async or 1pc applies only to the transactional modes",
    ),
    (
        "checks:\n  inventory: {mode: cas, commit: 1pc}\n",
        "4:34",
        "checks.inventory.commit async or 1pc applies only to the transactional modes",
    ),
    (
        "checks:\n  inventory: {stock: 0}\n",
        "4:22",
        "checks.inventory.stock must be between 1",
    ),
    (
        "checks:\n  lock: {mode: optimistic}\n",
        "4:16",
        "expected one of cas, pessimistic",
    ),
    (
        "checks:\n  lock: {lease: 10ms, hold: 10ms}\n",
        "4:29",
        "checks.lock.hold (10ms) must be shorter than checks.lock.lease (10ms)",
    ),
    (
        "checks:\n  lock: {mode: pessimistic, lease: 1s}\n",
        "4:36",
        "lease applies only to mode cas",
    ),
    (
        "checks:\n  lock: {weight: 0}\n",
        "4:18",
        "checks.lock.weight must be between 1",
    ),
    ("checks:\n  scan: {}\n", "4:9", "scan needs readback"),
    (
        "checks:\n  readback: {depth: 3}\n",
        "4:14",
        "unknown field `depth`",
    ),
    (
        "checks:\n  every: soon\n",
        "4:10",
        "cannot read 'soon' as a duration",
    ),
    ("checks:\n  ledger: {}\n", "4:3", "unknown field `ledger`"),
    (
        "values: {size: 8}\nchecks:\n  readback: {}\n",
        "5:13",
        "values.size.min must be at least 16, got 8",
    ),
];

#[test]
fn bad_check_settings_are_refused_with_their_position() {
    for (checks, at, says) in BAD {
        let text = format!("{MIX}{checks}");
        let err = Workload::parse(&text, "c.yaml")
            .expect_err(checks)
            .to_string();
        assert!(
            err.contains(&format!("c.yaml:{at}: ")) && err.contains(says),
            "{checks}: want {at} '{says}', got:\n{err}"
        );
    }
}

#[test]
fn checks_need_something_to_check_and_their_own_names_and_keys() {
    let cases = [
        (
            "name: x\nops: [{type: get, weight: 1}]\nchecks: {readback: {}}\n",
            "readback tracks the mix's put, cas and batch_delete ops and its txn ops with writes, and the mix has none",
        ),
        (
            "name: x\nops: [{type: txn, reads: 2, writes: 0, weight: 1}]\nchecks: {readback: {}}\n",
            "its txn ops with writes, and the mix has none",
        ),
        (
            "name: x\nops: [{name: bank, type: get, weight: 1}]\nchecks: {bank: {}}\n",
            "the bank check adds an op named 'bank'",
        ),
        (
            "name: x\nkeys: {prefix: tikv-bench/check/x, size: 24}\nops: [{type: put, weight: 1}]\nchecks: {readback: {}}\n",
            "where the checks keep their own keys",
        ),
        ("name: x\nops: []\n", "'ops' is empty"),
    ];
    for (text, says) in cases {
        let err = Workload::parse(text, "c.yaml").expect_err(text).to_string();
        assert!(err.contains(says), "{text}: {err}");
    }
}

#[test]
fn checks_add_their_ops_and_round_trip_through_the_workload_as_run() {
    let w = workload(
        "name: x\nops: []\nchecks:\n  bank: {lock: pessimistic}\n  inventory: {mode: optimistic, weight: 3}\n  lock: {}\n",
    );
    let ops: Vec<(&str, &str, u32)> = w
        .ops
        .iter()
        .map(|o| (o.name.as_str(), o.kind.type_name(), o.weight))
        .collect();
    assert_eq!(
        ops,
        [
            ("bank", "transfer", 10),
            ("inventory", "decrement", 3),
            ("lock", "lease", 5)
        ]
    );
    let yaml = w.to_yaml();
    assert!(
        !yaml.contains("transfer"),
        "check ops stay out of ops:\n{yaml}"
    );
    let again = Workload::parse(&yaml, "as-run.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(again, w);
}

/// Runs the binary; returns the exit code, stdout and stderr.
fn tikv_bench(args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(bin())
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn run_prints_a_line_per_check_and_a_failed_check_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "name: c\nkeys: {records: 100}\noperations: 300\nconcurrency: 2\nops: [{type: put, weight: 1}]\nchecks: {bank: {accounts: 3}, readback: {}}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let common = ["--no-report", "--progress", "off"];
    let (code, stdout, stderr) =
        tikv_bench(&[&["run", f, "--target", "memory", "-o", o][..], &common].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("check pass: bank (total 3000 in"),
        "{stdout}"
    );
    assert!(stdout.contains("check pass: readback ("), "{stdout}");

    // The same result with a failed verdict: merge judges it and exits 1.
    let path = out.join("result.json");
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    r["checks"][0]["passed"] = false.into();
    r["checks"][0]["violation_count"] = 1.into();
    r["checks"][0]["violations"] = serde_json::json!(["account 1: balance 990, but ..."]);
    std::fs::write(&path, r.to_string()).unwrap();
    let merged = dir.path().join("m.json");
    let (code, _, stderr) = tikv_bench(&[
        "merge",
        path.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("tikv-bench: check FAIL: bank (") && stderr.contains("first: account 1"),
        "{stderr}"
    );

    for refused in [&["--target", "noop"][..], &["--shard", "1/2"][..]] {
        let (code, _, stderr) = tikv_bench(&[&["run", f, "-o", o][..], refused, &common].concat());
        assert_eq!(code, Some(2), "{refused:?}: {stderr}");
        assert!(stderr.contains("bank, readback"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_a_row_per_check_with_its_verdict_and_violations() {
    use scraper::{Html, Selector};
    let w = workload(
        "name: c\nkeys: {records: 100}\noperations: 300\nconcurrency: 2\nops: [{type: put, weight: 1}]\nchecks: {inventory: {}, readback: {}}\n",
    );
    let mut r = crate::util::run(&w, tikv_bench::backend::MemoryBackend::new()).await;
    let checks = r.checks.as_mut().unwrap();
    checks[1].passed = false;
    checks[1].violation_count = 30;
    checks[1].violations = vec!["lost write: key <user01> holds no value".into()];
    let dir = tempfile::tempdir().unwrap();
    let page = tikv_bench::report::html::write(&r, dir.path())
        .unwrap()
        .html;
    let doc = Html::parse_document(&std::fs::read_to_string(page).unwrap());
    let sel = |css: &str| Selector::parse(css).unwrap();
    let rows: Vec<Vec<String>> = doc
        .select(&sel("section#extra-checks tbody tr"))
        .map(|row| {
            row.select(&sel("td"))
                .map(|c| c.text().collect::<String>())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0], "inventory");
    assert_eq!(rows[0][1], "pass");
    assert!(rows[0][2].contains("final stock"), "{:?}", rows[0]);
    assert!(rows[0][2].contains("decrements acked"), "{:?}", rows[0]);
    assert_eq!(rows[1][1], "FAIL30 violation(s)");
    assert!(
        rows[1][3].contains("lost write: key <user01> holds no value")
            && rows[1][3].contains("and 29 more"),
        "{:?}",
        rows[1]
    );
    let cards: String = doc.select(&sel(".cards")).flat_map(|c| c.text()).collect();
    assert!(cards.contains("1 FAILchecks"), "{cards}");
}

//! docs/result.schema.json describes real result files: results of closed
//! and open loop runs, of a sharded driver, of a sweep cell with
//! thresholds, of a run with every check, and of a merge all validate;
//! corrupted ones do not.

use std::sync::Arc;

use tikv_bench::backend::MemoryBackend;
use tikv_bench::driver::{self, RunOptions, Shard};
use tikv_bench::metrics::{RunResult, merge};

use crate::util::{root, workload};

/// Spoils a valid result in one way, without capturing anything.
type Spoil = fn(&mut serde_json::Value);

/// Spoils a valid result in one way.
type Corruption = Box<dyn Fn(&mut serde_json::Value)>;

pub(crate) fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/result.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema")
}

pub(crate) fn errors(v: &jsonschema::Validator, r: &serde_json::Value) -> Vec<String> {
    v.iter_errors(r)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

async fn run(yaml: &str, opts: RunOptions) -> RunResult {
    driver::run(&workload(yaml), Arc::new(MemoryBackend::new()), &opts)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_results_validate_against_the_schema() {
    let v = validator();
    let mix = "name: s\nconcurrency: 3\nkeys: {records: 200, txn_prefix: acct}\nops:\n  - {name: read, type: get, weight: 4}\n  - {name: write, type: put, weight: 2}\n  - {type: scan, weight: 1}\n  - {type: batch_delete, weight: 1}\n  - {type: cas, weight: 1}\n  - {type: txn, weight: 1}\nthresholds: ['p99 of read < 10s']\n";
    let closed = run(&format!("{mix}operations: 3000\n"), RunOptions::default()).await;
    let open = run(
        &format!("{mix}rate: 2000\nduration: 1500ms\n"),
        RunOptions::default(),
    )
    .await;
    let mut shards = Vec::new();
    for i in 1..=3 {
        let opts = RunOptions {
            shard: Shard::parse(&format!("{i}/3")).unwrap(),
            ..RunOptions::default()
        };
        shards.push(run(&format!("{mix}operations: 900\n"), opts).await);
    }
    let merged = merge(&shards).unwrap();
    let mut cell = closed.clone();
    cell.sweep = Some(
        serde_json::from_value(
            serde_json::json!({"id": "lock=optimistic", "values": {"lock": "optimistic"}}),
        )
        .unwrap(),
    );
    // A repeat of an interrupted run: the newer sections validate too.
    cell.repeat = Some(tikv_bench::metrics::RepeatInfo { index: 2, count: 3 });
    cell.interrupted = true;
    cell.thresholds = Some(
        serde_json::from_value(
            serde_json::json!([{"threshold": "p99 of read < 10s", "measured": "12us", "passed": true}]),
        )
        .unwrap(),
    );
    let checked = run(
        "name: c\nkeys: {records: 100}\noperations: 400\nconcurrency: 2\nops:\n  - {type: put, weight: 2}\n  - {type: batch_delete, weight: 1}\nchecks:\n  bank: {accounts: 4}\n  inventory: {stock: 1000}\n  lock: {hold: 0s}\n  readback: {}\n  scan: {}\n  every: 1ms\n",
        RunOptions::default(),
    )
    .await;
    let names: Vec<&str> = checked
        .checks
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["bank", "inventory", "lock", "readback", "scan"]);
    for (what, r) in [
        ("checked", &checked),
        ("closed", &closed),
        ("open", &open),
        ("shard", &shards[1]),
        ("merged", &merged),
        ("cell", &cell),
    ] {
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(errors(&v, &json), Vec::<String>::new(), "{what}");
    }

    // The schema is not vacuous: each corruption is caught.
    let json = serde_json::to_value(&closed).unwrap();
    let corruptions: Vec<(&str, Corruption)> = vec![
        (
            "schema version",
            Box::new(|j| j["schema"] = "tikv-bench/result/v2".into()),
        ),
        (
            "missing histogram",
            Box::new(|j| {
                j["ops"]["read"]
                    .as_object_mut()
                    .unwrap()
                    .remove("histogram");
            }),
        ),
        (
            "negative count",
            Box::new(|j| j["ops"]["read"]["ok"] = (-1).into()),
        ),
        (
            "unknown error kind",
            Box::new(|j| j["ops"]["read"]["errors"] = serde_json::json!({"oops": 1})),
        ),
        ("bad mode", Box::new(|j| j["mode"] = "sideways".into())),
        (
            "unknown top-level field",
            Box::new(|j| j["surprise"] = 1.into()),
        ),
        (
            "histogram not base64",
            Box::new(|j| j["ops"]["read"]["histogram"] = "not a histogram".into()),
        ),
    ];
    for (what, corrupt) in corruptions {
        let mut bad = json.clone();
        corrupt(&mut bad);
        assert!(
            !errors(&v, &bad).is_empty(),
            "the schema accepts a result with a {what}"
        );
    }
    let json = serde_json::to_value(&checked).unwrap();
    let check_corruptions: [(&str, Spoil); 3] = [
        ("check without a verdict", |j| {
            j["checks"][0].as_object_mut().unwrap().remove("passed");
        }),
        ("check of an unknown name", |j| {
            j["checks"][1]["name"] = "ledger".into()
        }),
        ("violation that is not text", |j| {
            j["checks"][2]["violations"] = serde_json::json!([{"key": "k"}]);
        }),
    ];
    for (what, corrupt) in check_corruptions {
        let mut bad = json.clone();
        corrupt(&mut bad);
        assert!(
            !errors(&v, &bad).is_empty(),
            "the schema accepts a result with a {what}"
        );
    }
}

/// The result schema lists exactly the registered op types (the mix's, then
/// the checks' ops), so an op type added to the registry but not to the
/// schema, or the other way round, fails here.
#[test]
fn the_schema_lists_exactly_the_registered_op_types() {
    let text = std::fs::read_to_string(root().join("docs/result.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let listed: Vec<&str> = schema["$defs"]["op_type"]["enum"]
        .as_array()
        .expect("the schema lists the op types")
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut registered = tikv_bench::workload::ops::TYPES.to_vec();
    registered.extend(tikv_bench::workload::checks::op_types());
    assert_eq!(listed, registered);
}

/// The lateness of open-loop sends and the driver's self-check are in the
/// schema: real results with them validate, spoiled ones do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_describes_lateness_and_the_driver_check() {
    let v = validator();
    let yaml = "name: s\nconcurrency: 2\nkeys: {records: 100}\nops:\n  - {name: read, type: get, weight: 1}\n";
    let open = run(
        &format!("{yaml}rate: 1000\nwarmup: 0s\nduration: 500ms\n"),
        RunOptions::default(),
    )
    .await;
    let closed = run(&format!("{yaml}operations: 1000\n"), RunOptions::default()).await;
    let open_json = serde_json::to_value(&open).unwrap();
    assert!(open_json["ops"]["read"]["lateness_us"].is_object());
    assert!(open_json["driver_check"]["late_ops"].is_u64());
    let closed_json = serde_json::to_value(&closed).unwrap();
    assert!(closed_json["ops"]["read"].get("lateness_us").is_none());
    assert!(closed_json["driver_check"]["cpu"]["cores"].is_u64());
    for (what, json) in [("open", &open_json), ("closed", &closed_json)] {
        assert_eq!(errors(&v, json), Vec::<String>::new(), "{what}");
    }
    let spoils: [(&str, Spoil); 4] = [
        ("lateness without its histogram", |j| {
            j["ops"]["read"]
                .as_object_mut()
                .unwrap()
                .remove("lateness_histogram");
        }),
        ("verdict of an unknown name", |j| {
            j["driver_check"]["verdict"] = "sluggish".into()
        }),
        ("negative late count", |j| {
            j["driver_check"]["late_ops"] = (-1).into()
        }),
        ("unknown field in the check", |j| {
            j["driver_check"]["surprise"] = 1.into()
        }),
    ];
    for (what, spoil) in spoils {
        let mut bad = open_json.clone();
        spoil(&mut bad);
        assert!(
            !errors(&v, &bad).is_empty(),
            "the schema accepts a result with a {what}"
        );
    }
}

/// A result with load stages, one with an SLO search (its steps'
/// verdicts), and one aborted by a threshold validate; spoiled ones do not.
#[test]
fn the_schema_describes_stages_a_search_and_an_abort() {
    let v = validator();
    let staged = crate::report::staged();
    let mut searched = crate::report::searched();
    searched.aborted = Some(tikv_bench::metrics::AbortInfo {
        threshold: "p99 of read < 10ms".into(),
        measured: "12.00ms".into(),
        at_s: 31.0,
    });
    let searched = serde_json::to_value(&searched).unwrap();
    assert!(searched["stages"][3]["verdict"]["reasons"][0].is_string());
    assert!(searched["search"]["first_failed_rate"].is_number());
    assert!(searched["aborted"]["at_s"].is_number());
    for (what, json) in [
        ("staged", &serde_json::to_value(&staged).unwrap()),
        ("searched", &searched),
    ] {
        assert_eq!(errors(&v, json), Vec::<String>::new(), "{what}");
    }
    let spoils: [(&str, Spoil); 6] = [
        ("stage of an unknown level kind", |j| {
            j["stages"][0]["level"]["kind"] = "sideways".into()
        }),
        ("stage without its ops", |j| {
            j["stages"][1].as_object_mut().unwrap().remove("ops");
        }),
        ("step verdict without passed", |j| {
            j["stages"][2]["verdict"]
                .as_object_mut()
                .unwrap()
                .remove("passed");
        }),
        ("search that ended oddly", |j| {
            j["search"]["ended"] = "tired".into()
        }),
        ("negative best rate", |j| {
            j["search"]["best_rate"] = (-1.0).into()
        }),
        ("abort without its time", |j| {
            j["aborted"].as_object_mut().unwrap().remove("at_s");
        }),
    ];
    for (what, spoil) in spoils {
        let mut bad = searched.clone();
        spoil(&mut bad);
        assert!(
            !errors(&v, &bad).is_empty(),
            "the schema accepts a result with a {what}"
        );
    }
}

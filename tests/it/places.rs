//! Per-store and per-region figures, end to end on the embedded cluster: a
//! latency fault on one store is flagged by the breakdown (and the same run
//! without it flags nothing), a hotspot's region tops the region table,
//! stores merge exactly across drivers, and the figures reach the
//! Prometheus text and the HTML report.

use std::sync::{Arc, Mutex};

use tikv_bench::cluster::Cluster;
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::places::{Answers, LiveStore, StoreRow};
use tikv_bench::metrics::prometheus::Exposition;
use tikv_bench::metrics::{Live, RunResult, hist, merge};
use tikv_bench::report::html;
use tikv_bench::workload::Workload;
use tikv_bench::workload::keys::KeyFormat;
use tikv_bench::workload::ops::Api;

use crate::util::workload;

/// Reads and writes over 1,000 keys, 4 workers for 2 s on the real clock.
const SPREAD: &str = "name: spread\nseed: 5\nkeys: {records: 1000}\nconcurrency: 4\nduration: 2s\nwarmup: 500ms\nops:\n  - {name: read, type: get, weight: 3}\n  - {name: write, type: put, weight: 1}\n";

/// Gets only, 90% of them on the first 1% of 1,000 keys.
const HOTSPOT: &str = "name: hot\nseed: 5\nkeys: {records: 1000, distribution: hotspot, hot_set: 0.01, hot_ops: 0.9}\nconcurrency: 4\nduration: 2s\nwarmup: 500ms\nops:\n  - {name: read, type: get, weight: 1}\n";

/// Runs `w` against a fresh embedded cluster split into ten regions of
/// 100 keys each (their leaders on the stores in turn); `after` looks at
/// the cluster before it is shut down.
async fn embedded<T>(w: &Workload, after: impl FnOnce(&Cluster) -> T) -> (RunResult, T) {
    let cluster = Cluster::new(w.cluster.clone()).with_seed(w.seed);
    let keys = KeyFormat::new(&w.keys, Api::Raw);
    for i in 1..10 {
        // Raw keys split at themselves (`split_at` takes a txn key).
        let key = keys.key(i * 100);
        let region = cluster.regions().locate(&key).id;
        cluster.regions().split(region, &key).expect("the split");
    }
    let running = cluster
        .start(([127, 0, 0, 1], 0).into())
        .await
        .expect("the stand-in starts");
    let backend = crate::client_util::backend(&running, &w.client).await;
    let r = driver::run(w, Arc::new(backend), &RunOptions::default())
        .await
        .expect("run succeeds");
    let seen = after(running.cluster());
    running.shutdown().await;
    (r, seen)
}

fn flagged(rows: &[StoreRow], flag: &str) -> Vec<u64> {
    rows.iter()
        .filter(|r| r.flags.iter().any(|f| f == flag))
        .map(|r| r.store)
        .collect()
}

fn table(rows: &[StoreRow]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "store {} rpcs {} p50 {} flags {:?}",
                r.store, r.rpcs, r.latency_us.p50, r.flags
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_fault_on_one_store_flags_that_store_slow_and_no_fault_flags_none() {
    let w = workload(SPREAD);
    let (base, _) = embedded(&w, |_| ()).await;
    let faulted_w = workload(&SPREAD.replace(
        "ops:",
        "cluster: {faults: {latency: {read: 5ms, write: 5ms, store: 2}}}\nops:",
    ));
    let (faulted, _) = embedded(&faulted_w, |_| ()).await;

    let rows = faulted.stores.as_ref().expect("the run traced its RPCs");
    let ids: Vec<u64> = rows.iter().map(|r| r.store).collect();
    assert_eq!(ids, [1, 2, 3], "{}", table(rows));
    let p50 = |id: u64| rows.iter().find(|r| r.store == id).unwrap().latency_us.p50;
    assert!(
        p50(2) >= 5_000,
        "every answer of store 2 waits 5 ms: {}",
        table(rows)
    );
    assert!(p50(2) > p50(1) && p50(2) > p50(3), "{}", table(rows));
    assert_eq!(flagged(rows, "slow"), [2], "{}", table(rows));
    let share: f64 = rows.iter().map(|r| r.share).sum();
    assert!((share - 1.0).abs() < 1e-3, "shares add up: {share}");

    let base_rows = base.stores.as_ref().expect("the run traced its RPCs");
    assert!(
        flagged(base_rows, "slow").is_empty(),
        "no fault, no slow store: {}",
        table(base_rows)
    );

    // Two drivers' stores add up exactly: counts sum, and the merged p99
    // is the p99 of the summed histograms.
    let mut other = base.clone();
    other.run_id = format!("{}-2", base.run_id);
    other.host = Some("other".into());
    other.stores = faulted.stores.clone();
    let merged = merge(&[base.clone(), other]).expect("the results merge");
    let m = merged.stores.as_ref().unwrap();
    for row in m {
        let parts: Vec<&StoreRow> = [base_rows, rows]
            .iter()
            .filter_map(|rs| rs.iter().find(|r| r.store == row.store))
            .collect();
        assert_eq!(row.rpcs, parts.iter().map(|p| p.rpcs).sum::<u64>());
        assert_eq!(row.ops, parts.iter().map(|p| p.ops).sum::<u64>());
        let mut sum = hist::new_hist();
        for p in &parts {
            hist::add(&mut sum, &hist::decode(&p.histogram).unwrap());
        }
        assert_eq!(row.latency_us.p99, sum.value_at_quantile(0.99));
        assert_eq!(row.latency_us.count, sum.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotspot_puts_the_region_holding_its_hot_keys_at_the_top() {
    let w = workload(HOTSPOT);
    let keys = KeyFormat::new(&w.keys, Api::Raw);
    let (r, hot_regions) = embedded(&w, |c| {
        let mut ids: Vec<u64> = (0..10)
            .map(|i| c.regions().locate(&keys.key(i)).id)
            .collect();
        ids.dedup();
        (ids, c.regions().len())
    })
    .await;
    let (hot_ids, regions) = hot_regions;
    assert_eq!(hot_ids.len(), 1, "the 10 hot keys share a region");
    assert!(regions >= 10, "the keys span several regions: {regions}");
    let t = r.regions.as_ref().expect("the run traced its RPCs");
    let top = &t.top[0];
    assert_eq!(top.region, hot_ids[0], "{:?}", t.top);
    assert!(top.share > 0.8, "90% of the gets: {}", top.share);
    assert!(top.share > 10.0 * t.top[1].share, "{:?}", t.top);
    assert_eq!(top.flags, ["hot"]);
    assert!(t.top[1..].iter().all(|row| row.flags.is_empty()));
    let shares: f64 = t.top.iter().map(|r| r.share).sum::<f64>() + t.rest.share;
    assert!((shares - 1.0).abs() < 1e-2, "shares add up: {shares}");

    // A region one driver did not list is marked partial in a merge.
    let mut other = r.clone();
    other.run_id = format!("{}-2", r.run_id);
    other.host = Some("other".into());
    let table = other.regions.as_mut().unwrap();
    let dropped = table.top.remove(0);
    table.rest.ops += dropped.ops;
    table.rest.rpcs += dropped.rpcs;
    let merged = merge(&[r.clone(), other]).unwrap();
    let mt = merged.regions.unwrap();
    assert_eq!(mt.top[0].region, dropped.region);
    assert!(mt.top[0].partial, "listed by one driver of two");
    assert_eq!(mt.top[0].ops, dropped.ops);
    assert!(mt.top[1..].iter().all(|row| !row.partial));
    assert_eq!(mt.rest.ops, t.rest.ops * 2 + dropped.ops);

    // The report has the section and its chart.
    let dir = tempfile::tempdir().unwrap();
    html::write(&r, dir.path()).expect("the report is written");
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        page.contains("id=\"stores\""),
        "the section, with its chart"
    );
    assert!(page.contains("Stores and regions"));
    assert!(dir.path().join("stores.png").exists(), "the chart");
    assert!(page.contains("Hottest regions"));
    assert!(page.contains(&format!("{}", hot_ids[0])));
}

#[test]
fn the_prometheus_text_has_per_store_series() {
    let w = workload("name: p\nops: [{type: get, weight: 1}]\n");
    let live = Live {
        stores: vec![LiveStore {
            store: 4,
            rpcs: 10,
            answers: Answers {
                ok: 9,
                failed: 1,
                ..Answers::default()
            },
            latency: hist::Percentiles {
                count: 9,
                p50: 1_500,
                p99: 2_000,
                max: 2_500,
                ..hist::Percentiles::default()
            },
        }],
        ..Live::default()
    };
    let text = Exposition::new(&w, Arc::new(Mutex::new(live))).render();
    assert!(
        text.contains("tikv_bench_store_rpcs_total{run=\"p\",store=\"4\",answer=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "tikv_bench_store_rpc_latency_seconds{run=\"p\",store=\"4\",quantile=\"0.5\"} 0.0015"
        ),
        "{text}"
    );
    let none = Exposition::new(&w, Arc::new(Mutex::new(Live::default()))).render();
    assert!(!none.contains("store=\""), "no store, no series");
}

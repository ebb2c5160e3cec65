//! Server time versus client time: the stand-in answers the RPCs TiKV
//! times with `exec_details_v2` (unary and batched, each by TiKV's own
//! list), the figures add up to no more than the client saw, and the
//! faults show where they should: a queue wait as store wait, wire latency
//! as network and queueing.

use std::sync::Arc;

use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::RunResult;
use tikv_bench::metrics::server_time::ServerTimeResult;
use tikv_bench::proto::kvrpcpb::*;
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::vocab::TimeSource;
use tikv_bench::workload::Workload;
use tonic::transport::Channel;

use crate::cluster_util::*;

/// The store's time details of an answer (`None`: none at all).
fn v2(d: &Option<ExecDetailsV2>) -> Option<TimeDetailV2> {
    d.as_ref().and_then(|d| d.time_detail_v2)
}

/// The details say the request took `total` in the store, split in parts
/// that add up to no more.
fn timed(d: &Option<ExecDetailsV2>, what: &str) -> TimeDetailV2 {
    let t = v2(d).unwrap_or_else(|| panic!("{what}: no time_detail_v2"));
    assert!(t.total_rpc_wall_time_ns > 0, "{what}: no total: {t:?}");
    assert!(
        t.wait_wall_time_ns + t.process_wall_time_ns <= t.total_rpc_wall_time_ns,
        "{what}: {t:?}"
    );
    let v1 = d.as_ref().unwrap().time_detail.expect("time_detail too");
    assert_eq!(
        v1.total_rpc_wall_time_ns, t.total_rpc_wall_time_ns,
        "{what}"
    );
    t
}

async fn client(c: &tikv_bench::cluster::RunningCluster, leader: u64) -> TikvClient<Channel> {
    store_client(c.store_addr(leader).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_times_the_unary_rpcs_tikv_times() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut kv = client(&c, region.leader).await;
    let start_ts = c.storage().timestamp() + 10;
    let m = Mutation {
        op: Op::Put as i32,
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        ..Default::default()
    };
    let pw = kv
        .kv_prewrite(PrewriteRequest {
            context: ctx(&region),
            mutations: vec![m],
            primary_lock: b"k".to_vec(),
            start_version: start_ts,
            lock_ttl: 3000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    timed(&pw.exec_details_v2, "KvPrewrite");
    let cm = kv
        .kv_commit(CommitRequest {
            context: ctx(&region),
            keys: vec![b"k".to_vec()],
            start_version: start_ts,
            commit_version: start_ts + 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    timed(&cm.exec_details_v2, "KvCommit");
    let get = kv
        .kv_get(GetRequest {
            context: ctx(&region),
            key: b"k".to_vec(),
            version: start_ts + 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(get.value, b"v");
    let t = timed(&get.exec_details_v2, "KvGet");
    assert!(t.kv_read_wall_time_ns <= t.process_wall_time_ns, "{t:?}");
    let bg = kv
        .kv_batch_get(BatchGetRequest {
            context: ctx(&region),
            keys: vec![b"k".to_vec()],
            version: start_ts + 2,
        })
        .await
        .unwrap()
        .into_inner();
    let t = v2(&bg.exec_details_v2).expect("a unary BatchGet has wait and process");
    assert_eq!(t.total_rpc_wall_time_ns, 0, "but no total, as TiKV: {t:?}");
    let rb = kv
        .kv_batch_rollback(BatchRollbackRequest {
            context: ctx(&region),
            keys: vec![b"other".to_vec()],
            start_version: start_ts + 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    timed(&rb.exec_details_v2, "KvBatchRollback");
    let hb = kv
        .kv_txn_heart_beat(TxnHeartBeatRequest {
            context: ctx(&region),
            primary_lock: b"k".to_vec(),
            start_version: start_ts,
            advise_lock_ttl: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    timed(&hb.exec_details_v2, "KvTxnHeartBeat");
    let stale = kv
        .kv_get(GetRequest {
            context: Some(Context {
                region_id: region.id + 1000,
                ..ctx(&region).unwrap()
            }),
            key: b"k".to_vec(),
            version: start_ts + 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stale.region_error.is_some());
    let t = v2(&stale.exec_details_v2).expect("a region error is timed too");
    assert!(t.total_rpc_wall_time_ns > 0 && t.process_wall_time_ns == 0);
    c.shutdown().await;
}

/// `yaml` on a fresh embedded cluster with the workload's cluster config,
/// on tokio's clock (paused when the test pauses it).
async fn embedded(yaml: &str) -> RunResult {
    let w = Workload::parse(yaml, "t.yaml").expect("the workload parses");
    let running = crate::client_util::embedded(&w).await;
    let backend = crate::client_util::backend(&running, &w.client).await;
    let opts = RunOptions {
        time: TimeSource::Tokio,
        ..RunOptions::default()
    };
    let r = driver::run(&w, Arc::new(backend), &opts)
        .await
        .expect("run succeeds");
    running.shutdown().await;
    r
}

const MIX: &str = "name: mix\nseed: 5\nkeys: {records: 200, txn_prefix: acct}\nconcurrency: 2\noperations: 300\nops:\n  - {name: read, type: get, weight: 2}\n  - {name: transfer, type: txn, weight: 2, reads: 1, writes: 2, lock: optimistic}\n  - {name: locked, type: txn, weight: 1, reads: 1, writes: 1, lock: pessimistic}\n";

fn server_time<'a>(r: &'a RunResult, op: &str) -> &'a ServerTimeResult {
    let o = &r.ops[op];
    o.server_time
        .as_ref()
        .unwrap_or_else(|| panic!("{op} has server time: {o:?}"))
}

/// Every timed RPC's store total is within its client time, and per op
/// the sums nest: store total ≤ client time ≤ the ops' latency.
fn assert_within_client_time(r: &RunResult, op: &str) {
    let s = server_time(r, op);
    let o = &r.ops[op];
    assert!(s.rpcs > 0, "{op}");
    assert_eq!(s.server_over_client, 0, "{op}: {s:?}");
    assert!(s.server_total.sum_us <= s.client.sum_us, "{op}: {s:?}");
    assert_eq!(
        s.network.sum_us + s.wait.sum_us + s.work.sum_us,
        s.client.sum_us,
        "{op}: the shares add up"
    );
    // The latency histogram's mean is kept to 0.1 µs over 3 digits: allow
    // its rounding.
    let latency_sum = o.latency_us.mean * (o.ok as f64);
    assert!(
        s.client.sum_us as f64 <= latency_sum * 1.001 + o.ok as f64,
        "{op}: client {} vs ops {latency_sum}",
        s.client.sum_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_time_is_within_the_clients_on_both_transports() {
    for transport in ["unary", "batch"] {
        let yaml = format!("{MIX}client: {{transport: {transport}}}\n");
        let r = embedded(&yaml).await;
        for op in ["transfer", "locked"] {
            assert_within_client_time(&r, op);
        }
        assert!(r.ops["read"].server_time.is_none(), "raw gets carry none");
    }
}

const READS: &str = "name: reads\nseed: 5\nload: {records: 50}\nkeys: {records: 50, txn_prefix: acct}\nconcurrency: 1\noperations: 100\nops:\n  - {name: read, type: txn, weight: 1, reads: 1, writes: 0}\n  - {name: raw, type: get, weight: 1}\n";

#[tokio::test(start_paused = true)]
async fn a_queue_wait_shows_as_store_wait_and_wire_latency_as_network() {
    let queued = embedded(&format!(
        "{READS}cluster: {{faults: {{queue_wait: 5ms}}}}\n"
    ))
    .await;
    let s = server_time(&queued, "read");
    // Exact on the paused clock (the percentiles are HDR buckets of 3
    // digits, 5000 µs reads as 5003).
    assert_eq!(s.wait.sum_us, 5000 * s.rpcs, "{s:?}");
    assert_eq!(s.server_total.sum_us, 5000 * s.rpcs, "{s:?}");
    assert!((5000..=5005).contains(&s.wait.us.p50), "{s:?}");
    assert_eq!(s.network.sum_us, 0, "{s:?}");
    assert_eq!(s.server_over_client, 0);
    let raw = &queued.ops["raw"];
    assert!(raw.server_time.is_none(), "raw RPCs carry no server time");

    let wire = "cluster: {faults: {latency: {read: 5ms, write: 5ms}}}\n";
    let slow = embedded(&format!("{READS}{wire}")).await;
    let s = server_time(&slow, "read");
    assert_eq!(s.network.sum_us, 5000 * s.rpcs, "{s:?}");
    assert!((5000..=5005).contains(&s.network.us.p50), "{s:?}");
    assert_eq!(s.server_total.sum_us, 0, "{s:?}");
    assert_eq!(s.wait.us.max, 0, "{s:?}");
}

const WRITES: &str = "name: writes\nseed: 5\nkeys: {records: 50, txn_prefix: acct}\nconcurrency: 1\noperations: 40\nops:\n  - {name: write, type: txn, weight: 1, reads: 0, writes: 2}\n";

/// A write's wait comes back where TiKV puts it (the write detail's latch
/// wait; its time detail's wait is 0), and the client counts it as store
/// wait all the same.
#[tokio::test(start_paused = true)]
async fn a_writes_queue_wait_is_read_from_its_write_detail() {
    let queued = embedded(&format!(
        "{WRITES}cluster: {{faults: {{queue_wait: 5ms}}}}\n"
    ))
    .await;
    let s = server_time(&queued, "write");
    assert!(s.rpcs >= 80, "a prewrite and a commit per op: {s:?}");
    assert_eq!(s.wait.sum_us, 5000 * s.rpcs, "{s:?}");
    assert_eq!(s.server_total.sum_us, 5000 * s.rpcs, "{s:?}");
    assert_eq!(s.work.sum_us, 0, "{s:?}");
}

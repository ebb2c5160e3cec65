//! Answers the stand-in models on TiKV's: a request that waited in the
//! store past its `max_execution_duration_ms` is not carried out, a raw
//! read reports a failed pair as a pair carrying an error, and a busy
//! answer carries the backoff it suggests.

use std::time::Duration;

use tikv_bench::proto::kvrpcpb::{Context, RawBatchGetRequest, RawPutRequest, RawScanRequest};

use crate::cluster_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_waits_past_its_execution_limit_is_not_carried_out() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.queue_wait = Duration::from_millis(150);
    let c = start(cfg).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let put = |key: &[u8], limit_ms: u64| RawPutRequest {
        context: Some(Context {
            max_execution_duration_ms: limit_ms,
            ..region.context_at(region.leader)
        }),
        key: key.to_vec(),
        value: b"v".to_vec(),
        ..Default::default()
    };
    // 50 ms allowed, 150 ms waited: TiKV's answer, and nothing written.
    let resp = client.raw_put(put(b"late", 50)).await.unwrap().into_inner();
    let e = resp.region_error.expect("a region error");
    assert_eq!(e.message, "Deadline is exceeded");
    assert_eq!(e.server_is_busy.unwrap().reason, "deadline is exceeded");
    assert_eq!(c.storage().raw().get(b"late"), None);
    // No limit (0), or one longer than the wait: written.
    for (key, limit_ms) in [(&b"none"[..], 0), (b"ample", 2_000)] {
        let resp = client
            .raw_put(put(key, limit_ms))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.region_error, None, "{limit_ms} ms");
        assert_eq!(c.storage().raw().get(key), Some(b"v".to_vec()));
    }
    assert_eq!(c.cluster().fault_counts().deadline_exceeded, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_read_answers_a_failed_pair_as_a_pair_carrying_its_error() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.pair_error = 1.0;
    let c = start(cfg).await;
    for k in [b"a", b"b"] {
        c.storage().raw().put(k, b"v", false);
    }
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let scan = RawScanRequest {
        context: ctx(&region),
        start_key: b"a".to_vec(),
        limit: 10,
        ..Default::default()
    };
    let kvs = client.raw_scan(scan).await.unwrap().into_inner().kvs;
    let get = RawBatchGetRequest {
        context: ctx(&region),
        keys: vec![b"a".to_vec(), b"b".to_vec()],
        ..Default::default()
    };
    let pairs = client.raw_batch_get(get).await.unwrap().into_inner().pairs;
    for p in kvs.iter().chain(&pairs) {
        // As TiKV's map_kv_pairs: the error alone, no key, no value.
        assert!(p.key.is_empty() && p.value.is_empty(), "{p:?}");
        assert!(p.error.as_ref().is_some_and(|e| !e.abort.is_empty()));
    }
    assert_eq!((kvs.len(), pairs.len()), (2, 2));
    assert_eq!(c.cluster().fault_counts().pair_errors, 4);
    c.shutdown().await;
}

//! Raw TTLs on the stand-in, as TiKV keeps them under `storage.api-version`
//! V1TTL (and V2), and refuses them under V1: the keys expire on the
//! stand-in's TTL clock, which the tests stop and move forward, so no test
//! waits out a TTL.

use std::time::Duration;

use tikv_bench::cluster::RunningCluster;
use tikv_bench::proto::kvrpcpb::{
    KvPair, RawBatchGetRequest, RawBatchPutRequest, RawCasRequest, RawGetKeyTtlRequest,
    RawGetKeyTtlResponse, RawGetRequest, RawPutRequest, RawScanRequest,
};
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::vocab::ApiVersion;
use tonic::transport::Channel;

use crate::cluster_util::*;

/// TiKV's `TtlNotEnabled` text (tikv `src/storage/errors.rs`).
const TTL_NOT_ENABLED: &str = "ttl is not enabled, but get put request with ttl";

/// A one-region cluster with `api_version`, its TTL clock stopped, and the
/// client of its leader.
async fn cluster(api_version: ApiVersion) -> (RunningCluster, TikvClient<Channel>) {
    let mut cfg = config(1, 1_000_000);
    cfg.api_version = api_version;
    let c = start(cfg).await;
    c.storage().raw().clock().pin();
    let region = c.regions().locate(b"");
    let client = leader_client(&c, &region).await;
    (c, client)
}

fn ctx_of(c: &RunningCluster) -> Option<tikv_bench::proto::kvrpcpb::Context> {
    ctx(&c.regions().locate(b""))
}

fn pair(k: &[u8]) -> KvPair {
    KvPair {
        key: k.to_vec(),
        value: [b"v", k].concat(),
        ..Default::default()
    }
}

async fn key_ttl(
    c: &RunningCluster,
    t: &mut TikvClient<Channel>,
    k: &[u8],
) -> RawGetKeyTtlResponse {
    let req = RawGetKeyTtlRequest {
        context: ctx_of(c),
        key: k.to_vec(),
        ..Default::default()
    };
    t.raw_get_key_ttl(req).await.expect("rpc").into_inner()
}

/// Writes `a` (put, ttl 10), `b` and `c` (batch put, ttls 10 and 0) and `d`
/// (CAS from absent, ttl 10).
async fn write_four(c: &RunningCluster, t: &mut TikvClient<Channel>) {
    let put = RawPutRequest {
        context: ctx_of(c),
        key: b"a".to_vec(),
        value: b"va".to_vec(),
        ttl: 10,
        ..Default::default()
    };
    let r = t.raw_put(put).await.expect("rpc").into_inner();
    assert!(r.error.is_empty() && r.region_error.is_none(), "{r:?}");
    let batch = RawBatchPutRequest {
        context: ctx_of(c),
        pairs: vec![pair(b"b"), pair(b"c")],
        ttls: vec![10, 0],
        ..Default::default()
    };
    let r = t.raw_batch_put(batch).await.expect("rpc").into_inner();
    assert!(r.error.is_empty() && r.region_error.is_none(), "{r:?}");
    let cas = RawCasRequest {
        context: ctx_of(c),
        key: b"d".to_vec(),
        value: b"vd".to_vec(),
        previous_not_exist: true,
        ttl: 10,
        ..Default::default()
    };
    let r = t.raw_compare_and_swap(cas).await.expect("rpc").into_inner();
    assert!(r.succeed, "{r:?}");
}

async fn scan_keys(c: &RunningCluster, t: &mut TikvClient<Channel>) -> Vec<Vec<u8>> {
    let req = RawScanRequest {
        context: ctx_of(c),
        limit: 10,
        ..Default::default()
    };
    let r = t.raw_scan(req).await.expect("rpc").into_inner();
    r.kvs.into_iter().map(|p| p.key).collect()
}

/// Keys written with a TTL live until their second, counting down on
/// RawGetKeyTTL, and are then absent for get, batch get, scan, RawGetKeyTTL
/// and a CAS's comparison; the key without a TTL stays.
#[tokio::test]
async fn ttl_keys_count_down_and_then_expire_for_every_read() {
    let (c, mut t) = cluster(ApiVersion::V1Ttl).await;
    write_four(&c, &mut t).await;
    assert_eq!(scan_keys(&c, &mut t).await.len(), 4);
    let r = key_ttl(&c, &mut t, b"a").await;
    assert_eq!((r.ttl, r.not_found), (10, false), "{r:?}");
    let r = key_ttl(&c, &mut t, b"c").await;
    assert_eq!((r.ttl, r.not_found), (0, false), "no TTL: 0, {r:?}");
    c.storage().raw().clock().advance(Duration::from_secs(9));
    assert_eq!(key_ttl(&c, &mut t, b"d").await.ttl, 1, "counts down");
    c.storage().raw().clock().advance(Duration::from_secs(1));
    for k in [b"a", b"b", b"d"] {
        let r = key_ttl(&c, &mut t, k).await;
        assert!(r.not_found && r.error.is_empty(), "{r:?}");
        let get = RawGetRequest {
            context: ctx_of(&c),
            key: k.to_vec(),
            ..Default::default()
        };
        assert!(t.raw_get(get).await.expect("rpc").into_inner().not_found);
    }
    let bg = RawBatchGetRequest {
        context: ctx_of(&c),
        keys: vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()],
        ..Default::default()
    };
    let pairs = t.raw_batch_get(bg).await.expect("rpc").into_inner().pairs;
    assert_eq!(pairs.iter().map(|p| &p.key[..]).collect::<Vec<_>>(), [b"c"]);
    assert_eq!(scan_keys(&c, &mut t).await, [b"c".to_vec()]);
    let cas = RawCasRequest {
        context: ctx_of(&c),
        key: b"d".to_vec(),
        value: b"again".to_vec(),
        previous_value: b"vd".to_vec(),
        ..Default::default()
    };
    let r = t.raw_compare_and_swap(cas).await.expect("rpc").into_inner();
    assert!(
        !r.succeed && r.previous_not_exist,
        "compared as absent: {r:?}"
    );
    c.shutdown().await;
}

/// Under V1 a TTL is TiKV's TtlNotEnabled and nothing is written (the
/// stand-in answered its own text before); a batch put whose `ttls` are
/// neither one nor one per pair is TtlLenNotEqualsToPairs under V1TTL.
#[tokio::test]
async fn a_ttl_on_a_v1_stand_in_is_ttl_not_enabled() {
    let (c, mut t) = cluster(ApiVersion::V1).await;
    let put = RawPutRequest {
        context: ctx_of(&c),
        key: b"a".to_vec(),
        ttl: 5,
        ..Default::default()
    };
    assert_eq!(
        t.raw_put(put).await.expect("rpc").into_inner().error,
        TTL_NOT_ENABLED
    );
    let batch = RawBatchPutRequest {
        context: ctx_of(&c),
        pairs: vec![pair(b"b")],
        ttls: vec![5],
        ..Default::default()
    };
    let r = t.raw_batch_put(batch).await.expect("rpc").into_inner();
    assert_eq!(r.error, TTL_NOT_ENABLED);
    let cas = RawCasRequest {
        context: ctx_of(&c),
        key: b"d".to_vec(),
        previous_not_exist: true,
        ttl: 5,
        ..Default::default()
    };
    let r = t.raw_compare_and_swap(cas).await.expect("rpc").into_inner();
    assert_eq!(r.error, TTL_NOT_ENABLED);
    assert!(!key_ttl(&c, &mut t, b"a").await.error.is_empty());
    assert_eq!(c.storage().raw().len(), 0, "nothing written");
    c.shutdown().await;

    let (c, mut t) = cluster(ApiVersion::V1Ttl).await;
    let batch = RawBatchPutRequest {
        context: ctx_of(&c),
        pairs: vec![pair(b"a"), pair(b"b"), pair(b"c")],
        ttls: vec![5, 5],
        ..Default::default()
    };
    let r = t.raw_batch_put(batch).await.expect("rpc").into_inner();
    assert_eq!(
        r.error,
        "The length of ttls does not equal to the length of pairs"
    );
    // The older single `ttl` field is ignored, as TiKV's service ignores
    // it: the pairs are written without a TTL.
    let batch = RawBatchPutRequest {
        context: ctx_of(&c),
        pairs: vec![pair(b"a")],
        ttl: 5,
        ..Default::default()
    };
    let r = t.raw_batch_put(batch).await.expect("rpc").into_inner();
    assert!(r.error.is_empty(), "{r:?}");
    let r = key_ttl(&c, &mut t, b"a").await;
    assert_eq!((r.ttl, r.not_found), (0, false), "{r:?}");
    c.shutdown().await;
}

/// The GC worker's pass removes expired raw keys, so a run writing keys
/// with a TTL does not keep them.
#[tokio::test]
async fn the_gc_pass_drops_expired_raw_keys() {
    let mut cfg = config(1, 1_000_000);
    cfg.api_version = ApiVersion::V1Ttl;
    cfg.gc_life_time = Duration::from_millis(200);
    let c = start(cfg).await;
    let raw = c.storage().raw();
    for i in 0..600u32 {
        raw.put_ttl(&i.to_be_bytes(), b"v", false, if i < 500 { 1 } else { 0 });
    }
    raw.clock().advance(Duration::from_secs(2));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while raw.len() > 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} keys left",
            raw.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(raw.len(), 100);
    c.shutdown().await;
}

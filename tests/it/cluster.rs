//! The stand-in cluster's own checks, through our generated gRPC clients:
//! region errors, scan clipping, the split checker, key errors; PD and TSO
//! in `pd`; the faults and a clean shutdown in `faults`; the `serve`
//! command in `serve`.

use std::time::Duration;

use tikv_bench::cluster::{CLUSTER_ID, Region};
use tikv_bench::codec;
use tikv_bench::proto::kvrpcpb::{
    CheckTxnStatusRequest, CommitRequest, GetRequest, RawBatchPutRequest, RawDeleteRangeRequest,
    RawGetRequest, RawGetResponse, RawPutRequest, RawScanRequest, ScanRequest,
};
use tikv_bench::proto::pdpb::{GetRegionRequest, RequestHeader};
use tikv_bench::storage::{self, Mutation as EngineMutation, SnapshotScan};

use crate::cluster_util::*;

mod deadlines;
mod faults;
mod gc;
mod pd;
mod serve;
mod tiflash;
mod ttl;

fn header() -> Option<RequestHeader> {
    Some(RequestHeader {
        cluster_id: CLUSTER_ID,
        sender_id: 0,
    })
}

fn raw_get(region: &Region, key: &[u8]) -> RawGetRequest {
    RawGetRequest {
        context: ctx(region),
        key: key.to_vec(),
        ..Default::default()
    }
}

async fn send_raw_get(
    c: &tikv_bench::cluster::RunningCluster,
    store: u64,
    req: RawGetRequest,
) -> Result<RawGetResponse, tonic::Status> {
    let mut client = store_client(c.store_addr(store).unwrap()).await;
    client.raw_get(req).await.map(|r| r.into_inner())
}

/// Commits `pairs` as one transaction straight on the engine.
fn commit_txn(s: &storage::Storage, pairs: &[(&[u8], &[u8])]) {
    let start = s.timestamp();
    let req = storage::PrewriteRequest {
        mutations: pairs
            .iter()
            .map(|(k, v)| EngineMutation::put(*k, *v))
            .collect(),
        primary_lock: pairs[0].0.to_vec(),
        start_version: start,
        lock_ttl: 3000,
        txn_size: pairs.len() as u64,
        ..Default::default()
    };
    s.prewrite(&req).expect("prewrite");
    let keys: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| k.to_vec()).collect();
    s.commit(&keys, start, s.timestamp()).expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_epoch_gets_epoch_not_match_after_pd_shows_the_split() {
    let c = start(config(3, 1_000_000)).await;
    let before = c.regions().locate(b"");
    let left = c.split_at(b"m").unwrap();

    // PD shows the split already.
    let mut pd = pd_client(c.pd_addr()).await;
    let got = pd
        .get_region(GetRegionRequest {
            header: header(),
            region_key: b"a".to_vec(),
            need_buckets: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.header.unwrap().cluster_id, CLUSTER_ID);
    let region = got.region.unwrap();
    assert_eq!(region.id, left);
    assert_eq!(region.end_key, codec::encode(b"m"));
    assert_eq!(region.region_epoch.unwrap().version, before.version + 1);

    // The old region (kept as the right part), asked at its old version.
    let resp = send_raw_get(&c, before.leader, raw_get(&before, b"z"))
        .await
        .unwrap();
    let err = resp.region_error.expect("a region error");
    let current = err
        .epoch_not_match
        .expect("epoch_not_match")
        .current_regions;
    let mut ids: Vec<u64> = current.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut v = vec![before.id, left];
        v.sort_unstable();
        v
    });
    assert!(current.iter().all(|r| r.region_epoch.is_some()));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_answers_not_leader_with_the_leader_as_hint() {
    let c = start(config(3, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let follower = region
        .peers
        .iter()
        .map(|p| p.store_id)
        .find(|&s| s != region.leader)
        .unwrap();
    let mut req = raw_get(&region, b"k");
    req.context = ctx_at(&region, follower);
    let err = send_raw_get(&c, follower, req)
        .await
        .unwrap()
        .region_error
        .expect("a region error");
    let hint = err.not_leader.expect("not_leader").leader.expect("a hint");
    assert_eq!(hint.store_id, region.leader);
    assert_eq!(hint.id, region.leader_peer().id);

    // After a transfer, the old leader says the same of the new one.
    c.regions().transfer_leader(region.id, follower).unwrap();
    let err = send_raw_get(&c, region.leader, raw_get(&region, b"k"))
        .await
        .unwrap()
        .region_error
        .unwrap();
    assert_eq!(err.not_leader.unwrap().leader.unwrap().store_id, follower);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_outside_the_region_get_key_not_in_region_in_their_own_encoding() {
    let c = start(config(3, 1_000_000)).await;
    let left_id = c.split_at(b"m").unwrap();
    let left = c.regions().get(left_id).unwrap();

    let err = send_raw_get(&c, left.leader, raw_get(&left, b"z"))
        .await
        .unwrap()
        .region_error
        .expect("a region error");
    let k = err.key_not_in_region.expect("key_not_in_region");
    assert_eq!(
        (k.key, k.region_id, k.start_key, k.end_key),
        (b"z".to_vec(), left_id, vec![], codec::encode(b"m"))
    );
    // Raw "m" sorts below encode("m"): it belongs to the left region.
    let ok = send_raw_get(&c, left.leader, raw_get(&left, b"m"))
        .await
        .unwrap();
    assert!(ok.region_error.is_none() && ok.not_found);
    // Transactional "m" is encode("m"): the right region's first key.
    let mut client = leader_client(&c, &left).await;
    let resp = client
        .kv_get(GetRequest {
            context: ctx(&left),
            key: b"m".to_vec(),
            version: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.region_error.unwrap().key_not_in_region.is_some());
    let resp = client
        .kv_get(GetRequest {
            context: ctx(&left),
            key: b"l".to_vec(),
            version: u64::MAX,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.region_error.is_none() && resp.not_found);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_region_gets_region_not_found() {
    let c = start(config(3, 1_000_000)).await;
    let mut region = c.regions().locate(b"");
    let store = region.leader;
    region.id = 9_999;
    let err = send_raw_get(&c, store, raw_get(&region, b"k"))
        .await
        .unwrap()
        .region_error
        .expect("a region error");
    assert_eq!(err.region_not_found.unwrap().region_id, 9_999);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_are_clipped_at_the_region_end() {
    let c = start(config(3, 1_000_000)).await;
    for b in b'a'..=b'z' {
        c.storage().raw().put(&[b], b"v", false);
        commit_txn(c.storage(), &[(&[b], b"v")]);
    }
    let left_id = c.split_at(b"m").unwrap();
    let left = c.regions().get(left_id).unwrap();
    let mut client = leader_client(&c, &left).await;

    // Raw: the whole user range asked, the left region's part answered.
    let kvs = client
        .raw_scan(RawScanRequest {
            context: ctx(&left),
            start_key: b"a".to_vec(),
            end_key: vec![],
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .kvs;
    let keys: Vec<u8> = kvs.iter().map(|kv| kv.key[0]).collect();
    assert_eq!(
        keys,
        (b'a'..=b'm').collect::<Vec<u8>>(),
        "raw 'm' < encode(m)"
    );

    // Transactional: clipped at the decoded bound, "m" excluded.
    let pairs = client
        .kv_scan(ScanRequest {
            context: ctx(&left),
            start_key: b"a".to_vec(),
            end_key: b"zz".to_vec(),
            limit: 100,
            version: u64::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .pairs;
    let keys: Vec<u8> = pairs.iter().map(|kv| kv.key[0]).collect();
    assert_eq!(keys, (b'a'..b'm').collect::<Vec<u8>>());

    // A scan starting outside the region is refused, not served.
    let resp = client
        .raw_scan(RawScanRequest {
            context: ctx(&left),
            start_key: b"n".to_vec(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.region_error.unwrap().key_not_in_region.is_some());
    assert!(resp.kvs.is_empty());
    c.shutdown().await;
}

/// Every bound decodes as one memcomparable encoding.
fn assert_bounds_decode(regions: &[Region]) {
    for r in regions {
        for b in [&r.start, &r.end] {
            if !b.is_empty() {
                let (_, rest) = codec::decode(b)
                    .unwrap_or_else(|e| panic!("bound '{}': {e}", b.escape_ascii()));
                assert!(rest.is_empty(), "bound '{}' has a tail", b.escape_ascii());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_checker_splits_past_the_threshold_at_valid_encodings() {
    let max = 50;
    let c = start(config(3, max)).await;
    let raw = official_raw(&c).await;
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..1000)
        .map(|i| (format!("raw{i:04}").into_bytes(), b"v".to_vec()))
        .collect();
    raw.batch_put(pairs).await.unwrap();
    let txn = official_txn(&c).await;
    let mut t = txn.begin_optimistic().await.unwrap();
    for i in 0..400 {
        t.put(format!("txn{i:04}").into_bytes(), b"v".to_vec())
            .await
            .unwrap();
    }
    t.commit().await.unwrap();

    let (regions, storage) = (c.regions().clone(), c.storage().clone());
    let small_enough = || {
        regions.all().iter().all(|r| {
            let raw = storage
                .raw()
                .scan(&r.start, &r.end, usize::MAX, true, false);
            let (s, e) = r.user_range();
            let txn = storage.kv_scan(&keys_at_newest(&s, &e, usize::MAX));
            (raw.len() + txn.len()) as u64 <= max
        })
    };
    eventually(
        Duration::from_secs(10),
        "every region to hold <= 50 keys",
        small_enough,
    )
    .await;
    let all = c.regions().all();
    assert!(all.len() >= 1400 / 50, "{} regions", all.len());
    assert_bounds_decode(&all);
    let leaders: std::collections::HashSet<u64> = all.iter().map(|r| r.leader).collect();
    assert_eq!(leaders.len(), 3, "leaders spread over the stores");
    assert!(c.cluster().checker_splits() as usize >= all.len() - 1);

    // The data is intact across the splits.
    let got = raw
        .scan(b"raw".to_vec()..b"rax".to_vec(), 2000)
        .await
        .unwrap();
    assert_eq!(got.len(), 1000);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_on_demand_at_the_middle_key() {
    let c = start(config(1, 1_000_000)).await;
    for i in 0..10u8 {
        c.storage().raw().put(&[b'a' + i], b"v", false);
    }
    let id = c.regions().locate(b"").id;
    let left = c.split_region(id).unwrap().expect("a split");
    let bound = c.regions().get(left).unwrap().end;
    assert_eq!(codec::decode(&bound).unwrap().0, b"f", "the median of a..j");
    assert!(
        c.split_at(b"f").is_err(),
        "a region's start is not strictly inside"
    );
    assert!(matches!(
        c.split_region(777),
        Err(tikv_bench::cluster::SplitError::RegionNotFound(777))
    ));
    // A region with fewer than two keys has no middle.
    let right = c.regions().locate(b"z").id;
    c.split_at(b"j").unwrap();
    assert_eq!(c.split_region(right).unwrap(), None);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pessimistic_lock_reports_how_long_it_waited() {
    let c = start(config(1, 1_000_000)).await;
    let s = c.storage().clone();
    let holder = hold_lock(&c, b"k", 10_000).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let waiter = s.timestamp();
    let lock = |wait_timeout| lock_request(ctx(&region), b"k", waiter, wait_timeout);
    let resp = client
        .kv_pessimistic_lock(lock(200))
        .await
        .unwrap()
        .into_inner();
    let waited = resp
        .exec_details_v2
        .unwrap()
        .write_detail
        .unwrap()
        .pessimistic_lock_wait_nanos;
    assert!(waited >= 200_000_000, "waited {waited} ns");
    assert_eq!(resp.errors[0].locked.as_ref().unwrap().lock_version, holder);
    // Asked not to wait, it does not.
    let resp = client
        .kv_pessimistic_lock(lock(-1))
        .await
        .unwrap()
        .into_inner();
    let waited = resp
        .exec_details_v2
        .unwrap()
        .write_detail
        .unwrap()
        .pessimistic_lock_wait_nanos;
    assert_eq!(waited, 0);
    assert!(resp.errors[0].locked.is_some());
    s.pessimistic_rollback(&[b"k".to_vec()], holder, holder)
        .unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_errors_and_txn_status_travel_in_their_protocol_shapes() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let start_ts = c.storage().timestamp();
    // Commit with no lock and no record: retryable TxnLockNotFound.
    let resp = client
        .kv_commit(CommitRequest {
            context: ctx(&region),
            start_version: start_ts,
            keys: vec![b"k".to_vec()],
            commit_version: c.storage().timestamp(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.error.unwrap().retryable.contains("TxnLockNotFound"));
    // Its status: rolled back once asked to be (0, 0, no lock).
    let status = |rollback| CheckTxnStatusRequest {
        context: ctx(&region),
        primary_key: b"k".to_vec(),
        lock_ts: start_ts,
        current_ts: c.storage().timestamp(),
        rollback_if_not_exist: rollback,
        ..Default::default()
    };
    let r = client
        .kv_check_txn_status(status(false))
        .await
        .unwrap()
        .into_inner();
    assert!(r.error.unwrap().txn_not_found.is_some());
    let r = client
        .kv_check_txn_status(status(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.commit_version, r.lock_ttl, r.lock_info), (0, 0, None));
    assert_eq!(r.action, 2, "LockNotExistRollback");

    // A committed transaction: (commit_ts, 0, no lock).
    commit_txn(c.storage(), &[(b"c", b"1")]);
    let committed = c.storage().kv_scan(&keys_at_newest(b"c", b"d", 1));
    assert_eq!(committed.len(), 1);
    let batch = client
        .raw_batch_put(RawBatchPutRequest {
            context: ctx(&region),
            pairs: vec![],
            ttls: vec![5],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(batch.error.contains("ttl"), "TTLs are refused honestly");
    c.shutdown().await;
}

/// A key-only scan of `start..end` at the newest version.
fn keys_at_newest<'a>(start: &'a [u8], end: &'a [u8], limit: usize) -> SnapshotScan<'a> {
    SnapshotScan {
        start,
        end,
        limit,
        version: u64::MAX,
        key_only: true,
        reverse: false,
        resolved_locks: &[],
    }
}

/// As TiKV's apply: a raw delete_range whose end reaches past the region
/// (an empty end reaches past all but the last) is KeyNotInRegion and
/// deletes nothing; within the region it deletes. (The stand-in used to cut
/// the range at the region's end, which hid a client that did not.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_delete_range_past_its_region_is_key_not_in_region() {
    let c = start(config(3, 1_000_000)).await;
    let left_id = c.split_at(b"m").unwrap();
    let left = c.regions().get(left_id).unwrap();
    let mut client = leader_client(&c, &left).await;
    for k in [b"a", b"b"] {
        client
            .raw_put(RawPutRequest {
                context: ctx(&left),
                key: k.to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let delete = |end: &[u8]| RawDeleteRangeRequest {
        context: ctx(&left),
        start_key: b"a".to_vec(),
        end_key: end.to_vec(),
        ..Default::default()
    };
    for end in [b"z".as_slice(), b""] {
        let resp = client
            .raw_delete_range(delete(end))
            .await
            .unwrap()
            .into_inner();
        let err = resp.region_error.expect("a region error");
        assert_eq!(err.key_not_in_region.expect("key_not_in_region").key, end);
    }
    assert_eq!(c.storage().raw().len(), 2, "nothing deleted");
    let resp = client
        .raw_delete_range(delete(b"b"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        resp.region_error.is_none() && resp.error.is_empty(),
        "{resp:?}"
    );
    assert_eq!(c.storage().raw().len(), 1, "a deleted, b kept");
    c.shutdown().await;
}

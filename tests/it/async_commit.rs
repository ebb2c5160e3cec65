//! Async commit and 1PC through the stand-in's gRPC protocol: what TiKV
//! answers to an async or 1PC prewrite, to CheckTxnStatus on an async
//! primary and to CheckSecondaryLocks; and requests TiKV accepts although
//! they look odd, answered without a panic.

use tikv_bench::proto::kvrpcpb::{
    self, CheckSecondaryLocksRequest, CheckTxnStatusRequest, GetRequest, Op, PrewriteRequest,
};
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tonic::transport::Channel;

use crate::cluster_util::*;

fn put(key: &[u8]) -> kvrpcpb::Mutation {
    kvrpcpb::Mutation {
        op: Op::Put as i32,
        key: key.to_vec(),
        value: b"v".to_vec(),
        ..Default::default()
    }
}

fn prewrite(
    c: &tikv_bench::cluster::RunningCluster,
    keys: &[&[u8]],
    primary: &[u8],
    start_ts: u64,
) -> PrewriteRequest {
    PrewriteRequest {
        context: ctx(&c.regions().locate(b"")),
        mutations: keys.iter().map(|k| put(k)).collect(),
        primary_lock: primary.to_vec(),
        start_version: start_ts,
        lock_ttl: 1,
        txn_size: keys.len() as u64,
        ..Default::default()
    }
}

async fn send(client: &mut TikvClient<Channel>, req: PrewriteRequest) -> kvrpcpb::PrewriteResponse {
    client
        .kv_prewrite(req)
        .await
        .expect("prewrite")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_prewrite_answers_min_commit_ts_and_status_checks_see_the_async_lock() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let t = c.storage().timestamp();
    // A read at a later ts comes first: the commit must land above it.
    let read_ts = c.storage().timestamp();
    client
        .kv_get(GetRequest {
            context: ctx(&region),
            key: b"x".to_vec(),
            version: read_ts,
        })
        .await
        .expect("get");
    let mut req = prewrite(&c, &[b"a", b"b"], b"a", t);
    req.use_async_commit = true;
    req.secondaries = vec![b"b".to_vec()];
    let resp = send(&mut client, req).await;
    assert!(resp.errors.is_empty(), "{:?}", resp.errors);
    assert!(resp.min_commit_ts > read_ts);
    assert_eq!(resp.one_pc_commit_ts, 0);

    // CheckTxnStatus on the expired async primary: the lock, as it is.
    let st = client
        .kv_check_txn_status(CheckTxnStatusRequest {
            context: ctx(&region),
            primary_key: b"a".to_vec(),
            lock_ts: t,
            caller_start_ts: resp.min_commit_ts + 10,
            current_ts: c.storage().timestamp() + (10_000 << 18),
            rollback_if_not_exist: true,
            ..Default::default()
        })
        .await
        .expect("status")
        .into_inner();
    let lock = st.lock_info.expect("locked");
    assert!(lock.use_async_commit);
    assert_eq!(lock.secondaries, vec![b"b".to_vec()]);
    assert_eq!(lock.min_commit_ts, resp.min_commit_ts);
    assert_eq!(st.action, kvrpcpb::Action::NoAction as i32);

    // CheckSecondaryLocks: both locked, then with a missing key rolled back.
    let check = |keys: Vec<Vec<u8>>| CheckSecondaryLocksRequest {
        context: ctx(&region),
        keys,
        start_version: t,
    };
    let r = client
        .kv_check_secondary_locks(check(vec![b"a".to_vec(), b"b".to_vec()]))
        .await
        .expect("check")
        .into_inner();
    assert_eq!((r.locks.len(), r.commit_ts), (2, 0));
    assert!(r.locks.iter().all(|l| l.use_async_commit));
    let r = client
        .kv_check_secondary_locks(check(vec![b"zz".to_vec(), b"a".to_vec()]))
        .await
        .expect("check")
        .into_inner();
    assert_eq!((r.locks.len(), r.commit_ts, r.error), (0, 0, None));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pc_prewrite_commits_and_answers_its_commit_ts() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    let t = c.storage().timestamp();
    let mut req = prewrite(&c, &[b"a", b"b"], b"a", t);
    req.try_one_pc = true;
    let resp = send(&mut client, req).await;
    assert!(resp.errors.is_empty());
    assert!(resp.one_pc_commit_ts > t);
    assert_eq!(c.storage().lock_count(), 0);
    let got = client
        .kv_get(GetRequest {
            context: ctx(&region),
            key: b"b".to_vec(),
            version: resp.one_pc_commit_ts,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.value, b"v");

    // Past max_commit_ts: TiKV falls back, answering zeros and leaving locks.
    let t = c.storage().timestamp();
    let mut req = prewrite(&c, &[b"c"], b"c", t);
    req.try_one_pc = true;
    req.max_commit_ts = t;
    let resp = send(&mut client, req).await;
    assert!(resp.errors.is_empty());
    assert_eq!((resp.min_commit_ts, resp.one_pc_commit_ts), (0, 0));
    assert!(c.storage().lock_info(b"c").is_some());
    c.shutdown().await;
}

/// TiKV checks none of these combinations; the stand-in answers them as
/// TiKV would, without a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_async_and_one_pc_requests_get_tikvs_answers() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut client = leader_client(&c, &region).await;
    // 1PC with secondaries, on a request without the primary.
    let t = c.storage().timestamp();
    let mut req = prewrite(&c, &[b"b"], b"a", t);
    req.try_one_pc = true;
    req.use_async_commit = true;
    req.secondaries = vec![b"b".to_vec()];
    let resp = send(&mut client, req).await;
    assert!(resp.errors.is_empty());
    assert!(resp.one_pc_commit_ts > t && resp.min_commit_ts == resp.one_pc_commit_ts);
    // Async with the primary among its own secondaries, and no secondaries.
    for secondaries in [vec![b"p".to_vec()], vec![]] {
        let t = c.storage().timestamp();
        let mut req = prewrite(&c, &[b"p"], b"p", t);
        req.use_async_commit = true;
        req.secondaries = secondaries.clone();
        let resp = send(&mut client, req).await;
        assert!(resp.errors.is_empty() && resp.min_commit_ts > t);
        let lock = c.storage().lock_info(b"p").expect("lock");
        assert_eq!(lock.secondaries, secondaries);
        c.storage()
            .resolve_lock(t, 0, &[b"p".to_vec()], b"", b"")
            .expect("rolled back");
    }
    // CheckSecondaryLocks with no keys: refused as a protocol error.
    let r = client
        .kv_check_secondary_locks(CheckSecondaryLocksRequest {
            context: ctx(&region),
            keys: vec![],
            start_version: t,
        })
        .await;
    assert!(r.is_err() || r.is_ok_and(|r| r.into_inner().locks.is_empty()));
    c.shutdown().await;
}

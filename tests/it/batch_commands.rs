//! The stand-in's `BatchCommands` stream, through our generated client:
//! answers by request id as each finishes, the same content as the unary
//! RPCs, per-request region errors, `Empty`, the transport load, and the
//! stream errors (malformed messages, an offline store, shutdown).

use std::time::{Duration, Instant};

use tikv_bench::cluster::config::Outage;
use tikv_bench::cluster::{Region, RunningCluster};
use tikv_bench::proto::kvrpcpb::*;
use tikv_bench::proto::tikvpb::batch_commands_request::{self, request::Cmd as Req};
use tikv_bench::proto::tikvpb::batch_commands_response::response::Cmd as Resp;
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::proto::tikvpb::{
    BatchCommandsEmptyRequest, BatchCommandsEmptyResponse, BatchCommandsRequest,
    BatchCommandsResponse,
};

use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

use crate::cluster_util::*;

/// One open `BatchCommands` stream.
struct Batch {
    tx: Option<tokio::sync::mpsc::Sender<BatchCommandsRequest>>,
    rx: Streaming<BatchCommandsResponse>,
}

impl Batch {
    async fn open(client: &mut TikvClient<Channel>) -> Batch {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let rx = client
            .batch_commands(ReceiverStream::new(rx))
            .await
            .expect("the stream opens")
            .into_inner();
        Batch { tx: Some(tx), rx }
    }

    /// Sends one message of `(id, command)` pairs.
    async fn send(&self, requests: Vec<(u64, Option<Req>)>) {
        let (request_ids, requests) = requests
            .into_iter()
            .map(|(id, cmd)| (id, batch_commands_request::Request { cmd }))
            .unzip();
        self.send_raw(BatchCommandsRequest {
            requests,
            request_ids,
            client_send_time_ns: 1,
        })
        .await;
    }

    async fn send_raw(&self, message: BatchCommandsRequest) {
        let tx = self.tx.as_ref().expect("the client side is open");
        tx.send(message).await.expect("the stream takes it");
    }

    /// The next message, or the error that ended the stream (`Ok(None)`:
    /// ended cleanly).
    async fn next(&mut self) -> Result<Option<BatchCommandsResponse>, Status> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.message())
            .await
            .expect("the store answers within 10s")
    }

    /// The next message's answers as `(id, command)`.
    async fn answers(&mut self) -> Vec<(u64, Option<Resp>)> {
        let m = self
            .next()
            .await
            .expect("no stream error")
            .expect("a message");
        assert_eq!(m.request_ids.len(), m.responses.len());
        assert!(m.tikv_send_time_ns > 0);
        m.request_ids
            .into_iter()
            .zip(m.responses.into_iter().map(|r| r.cmd))
            .collect()
    }

    /// The answer to a message of one command.
    async fn call(&mut self, id: u64, cmd: Req) -> Resp {
        self.send(vec![(id, Some(cmd))]).await;
        let mut got = self.answers().await;
        assert_eq!(got.len(), 1);
        let (got_id, resp) = got.pop().unwrap();
        assert_eq!(got_id, id);
        resp.expect("an answer with a command")
    }

    /// The status the stream ends with.
    async fn error(&mut self) -> Status {
        loop {
            match self.next().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without an error"),
                Err(status) => return status,
            }
        }
    }
}

async fn open(c: &RunningCluster, store: u64) -> Batch {
    Batch::open(&mut store_client(c.store_addr(store).unwrap()).await).await
}

fn get(region: &Region, key: &[u8], version: u64) -> Req {
    Req::Get(GetRequest {
        context: ctx(region),
        key: key.to_vec(),
        version,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_lock_is_answered_after_a_get_sent_with_it() {
    let c = start(config(1, 1_000_000)).await;
    let s = c.storage().clone();
    let holder = hold_lock(&c, b"k", 10_000).await;
    let region = c.regions().locate(b"");
    let waiter = s.timestamp();
    let lock = Req::PessimisticLock(lock_request(ctx(&region), b"k", waiter, 300));
    let mut b = open(&c, region.leader).await;
    let began = Instant::now();
    b.send(vec![
        (7, Some(lock)),
        (8, Some(get(&region, b"other", waiter))),
    ])
    .await;

    let first = b.next().await.unwrap().unwrap();
    assert_eq!(first.request_ids, [8], "the get is answered first, alone");
    assert!(began.elapsed() < Duration::from_millis(300));
    assert!(matches!(&first.responses[0].cmd, Some(Resp::Get(g)) if g.not_found));
    assert_eq!(
        first.transport_layer_load, 1,
        "the waiting lock is in flight"
    );

    let second = b.answers().await;
    assert!(began.elapsed() >= Duration::from_millis(300));
    let [(7, Some(Resp::PessimisticLock(r)))] = second.as_slice() else {
        panic!("the lock's answer under its own id: {second:?}");
    };
    assert_eq!(r.errors[0].locked.as_ref().unwrap().lock_version, holder);
    c.shutdown().await;
}

/// Calls `$cmd` as its unary RPC: `(variant => method)`.
macro_rules! unary {
    ($client:expr, $cmd:expr; $($v:ident => $m:ident),* $(,)?) => {
        match $cmd {
            $(Req::$v(r) => Resp::$v($client.$m(r).await.expect("unary answer").into_inner()),)*
            Req::Empty(_) => unreachable!("Empty has no unary RPC"),
        }
    };
}

async fn call_unary(client: &mut TikvClient<Channel>, cmd: Req) -> Resp {
    unary!(client, cmd;
        Get => kv_get, Scan => kv_scan, Prewrite => kv_prewrite, Commit => kv_commit,
        Cleanup => kv_cleanup, BatchGet => kv_batch_get, BatchRollback => kv_batch_rollback,
        ScanLock => kv_scan_lock, ResolveLock => kv_resolve_lock, RawGet => raw_get,
        RawBatchGet => raw_batch_get, RawPut => raw_put, RawBatchPut => raw_batch_put,
        RawDelete => raw_delete, RawBatchDelete => raw_batch_delete, RawScan => raw_scan,
        RawDeleteRange => raw_delete_range, RawBatchScan => raw_batch_scan,
        PessimisticLock => kv_pessimistic_lock, PessimisticRollback => kv_pessimistic_rollback,
        CheckTxnStatus => kv_check_txn_status, TxnHeartBeat => kv_txn_heart_beat,
        CheckSecondaryLocks => kv_check_secondary_locks,
    )
}

/// `r` without the store's timing (`time_detail`, `time_detail_v2`), which
/// differs from call to call, and TiKV's unary and batched lists of timed
/// RPCs differ (tests/it/server_time.rs pins it).
fn untimed(mut r: Resp) -> Resp {
    let details = match &mut r {
        Resp::Get(r) => &mut r.exec_details_v2,
        Resp::BatchGet(r) => &mut r.exec_details_v2,
        Resp::Prewrite(r) => &mut r.exec_details_v2,
        Resp::Commit(r) => &mut r.exec_details_v2,
        Resp::PessimisticLock(r) => &mut r.exec_details_v2,
        Resp::PessimisticRollback(r) => &mut r.exec_details_v2,
        Resp::BatchRollback(r) => &mut r.exec_details_v2,
        Resp::CheckTxnStatus(r) => &mut r.exec_details_v2,
        Resp::CheckSecondaryLocks(r) => &mut r.exec_details_v2,
        Resp::ResolveLock(r) => &mut r.exec_details_v2,
        Resp::TxnHeartBeat(r) => &mut r.exec_details_v2,
        Resp::ScanLock(r) => &mut r.exec_details_v2,
        _ => return r,
    };
    if let Some(d) = details {
        d.time_detail = None;
        d.time_detail_v2 = None;
    }
    if details.as_ref() == Some(&ExecDetailsV2::default()) {
        *details = None;
    }
    r
}

fn pair(k: &[u8], v: &[u8]) -> KvPair {
    KvPair {
        key: k.to_vec(),
        value: v.to_vec(),
        ..Default::default()
    }
}

fn put(k: &[u8], v: &[u8]) -> Mutation {
    Mutation {
        op: Op::Put as i32,
        key: k.to_vec(),
        value: v.to_vec(),
        ..Default::default()
    }
}

fn prewrite(ctx: &Option<Context>, keys: &[&[u8]], start: u64) -> Req {
    Req::Prewrite(PrewriteRequest {
        context: ctx.clone(),
        mutations: keys.iter().map(|k| put(k, b"v")).collect(),
        primary_lock: keys[0].to_vec(),
        start_version: start,
        lock_ttl: 3000,
        txn_size: keys.len() as u64,
        ..Default::default()
    })
}

fn keys(ks: &[&[u8]]) -> Vec<Vec<u8>> {
    ks.iter().map(|k| k.to_vec()).collect()
}

/// Every batched command once, raw then transactional, at timestamps
/// from `base`: each write is seen by a later read.
fn script(region: &Region, base: u64) -> Vec<Req> {
    let mut all = raw_script(region);
    all.extend(txn_script(region, base));
    all
}

/// Every raw command once.
fn raw_script(region: &Region) -> Vec<Req> {
    let raw_range = |start: &[u8], end: &[u8]| KeyRange {
        start_key: start.to_vec(),
        end_key: end.to_vec(),
    };
    let c = || ctx(region);
    vec![
        Req::RawPut(RawPutRequest {
            context: c(),
            key: b"a".to_vec(),
            value: b"1".to_vec(),
            ..Default::default()
        }),
        Req::RawBatchPut(RawBatchPutRequest {
            context: c(),
            pairs: vec![pair(b"b", b"2"), pair(b"c", b"3")],
            ..Default::default()
        }),
        Req::RawGet(RawGetRequest {
            context: c(),
            key: b"a".to_vec(),
            ..Default::default()
        }),
        Req::RawBatchGet(RawBatchGetRequest {
            context: c(),
            keys: keys(&[b"a", b"b", b"x"]),
            ..Default::default()
        }),
        Req::RawScan(RawScanRequest {
            context: c(),
            start_key: b"a".to_vec(),
            limit: 10,
            ..Default::default()
        }),
        Req::RawBatchScan(RawBatchScanRequest {
            context: c(),
            ranges: vec![raw_range(b"a", b"b"), raw_range(b"b", b"z")],
            each_limit: 5,
            ..Default::default()
        }),
        Req::RawDelete(RawDeleteRequest {
            context: c(),
            key: b"a".to_vec(),
            ..Default::default()
        }),
        Req::RawBatchDelete(RawBatchDeleteRequest {
            context: c(),
            keys: keys(&[b"b"]),
            ..Default::default()
        }),
        Req::RawDeleteRange(RawDeleteRangeRequest {
            context: c(),
            start_key: b"c".to_vec(),
            end_key: b"d".to_vec(),
            ..Default::default()
        }),
    ]
}

/// Every transactional command once, at timestamps from `base`.
fn txn_script(region: &Region, base: u64) -> Vec<Req> {
    let ctx = ctx(region);
    let c = || ctx.clone();
    vec![
        prewrite(&ctx, &[b"k1", b"k2"], base),
        get(region, b"k1", base + 10),
        Req::ScanLock(ScanLockRequest {
            context: c(),
            max_version: base + 10,
            limit: 10,
            ..Default::default()
        }),
        Req::CheckTxnStatus(CheckTxnStatusRequest {
            context: c(),
            primary_key: b"k1".to_vec(),
            lock_ts: base,
            current_ts: base + 5,
            ..Default::default()
        }),
        Req::TxnHeartBeat(TxnHeartBeatRequest {
            context: c(),
            primary_lock: b"k1".to_vec(),
            start_version: base,
            advise_lock_ttl: 5000,
            ..Default::default()
        }),
        Req::CheckSecondaryLocks(CheckSecondaryLocksRequest {
            context: c(),
            keys: keys(&[b"k2"]),
            start_version: base,
        }),
        Req::Commit(CommitRequest {
            context: c(),
            start_version: base,
            keys: keys(&[b"k1", b"k2"]),
            commit_version: base + 20,
            ..Default::default()
        }),
        get(region, b"k1", base + 30),
        Req::BatchGet(BatchGetRequest {
            context: c(),
            keys: keys(&[b"k1", b"k2", b"k9"]),
            version: base + 30,
        }),
        Req::Scan(ScanRequest {
            context: c(),
            start_key: b"k".to_vec(),
            limit: 10,
            version: base + 30,
            ..Default::default()
        }),
        prewrite(&ctx, &[b"k3"], base + 40),
        Req::BatchRollback(BatchRollbackRequest {
            context: c(),
            start_version: base + 40,
            keys: keys(&[b"k3"]),
            ..Default::default()
        }),
        prewrite(&ctx, &[b"k4"], base + 50),
        Req::Cleanup(CleanupRequest {
            context: c(),
            key: b"k4".to_vec(),
            start_version: base + 50,
            current_ts: 0,
        }),
        prewrite(&ctx, &[b"k5"], base + 60),
        Req::ResolveLock(ResolveLockRequest {
            context: c(),
            start_version: base + 60,
            commit_version: base + 70,
            ..Default::default()
        }),
        Req::PessimisticLock(lock_request(c(), b"k6", base + 80, 0)),
        Req::PessimisticRollback(PessimisticRollbackRequest {
            context: c(),
            start_version: base + 80,
            for_update_ts: base + 80,
            keys: keys(&[b"k6"]),
        }),
        Req::Scan(ScanRequest {
            context: c(),
            start_key: b"k".to_vec(),
            limit: 10,
            version: base + 90,
            ..Default::default()
        }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_is_answered_as_its_unary_rpc() {
    let (unary, batched) = (
        start(config(1, 1_000_000)).await,
        start(config(1, 1_000_000)).await,
    );
    let base = unary
        .storage()
        .timestamp()
        .max(batched.storage().timestamp());
    let region = unary.regions().locate(b"");
    assert_eq!(
        region,
        batched.regions().locate(b""),
        "the same fresh region"
    );
    let mut client = store_client(unary.store_addr(region.leader).unwrap()).await;
    let mut b = open(&batched, region.leader).await;
    let script = script(&region, base);
    let mut kinds = std::collections::BTreeSet::new();
    let mut answers = Vec::new();
    for (i, cmd) in script.into_iter().enumerate() {
        let id = 1000 + i as u64;
        let want = untimed(call_unary(&mut client, cmd.clone()).await);
        let got = untimed(b.call(id, cmd).await);
        assert_eq!(got, want, "step {i}");
        kinds.insert(format!("{:?}", std::mem::discriminant(&got)));
        answers.push(got);
    }
    // Every batched command but Empty (which has no unary RPC).
    assert_eq!(kinds.len(), 23);
    // The script does what it says: reads see the writes before them.
    assert!(matches!(&answers[2], Resp::RawGet(r) if r.value == b"1"));
    assert!(
        matches!(&answers[10], Resp::Get(r) if r.error.as_ref().is_some_and(|e| e.locked.is_some()))
    );
    assert!(matches!(&answers[16], Resp::Get(r) if r.value == b"v"));
    assert!(matches!(&answers[18], Resp::Scan(r) if r.pairs.len() == 2));
    assert!(
        matches!(&answers[27], Resp::Scan(r) if r.pairs.len() == 3),
        "k5 resolved as committed"
    );
    unary.shutdown().await;
    batched.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_epoch_is_answered_for_that_request_only() {
    let c = start(config(1, 1_000_000)).await;
    let before = c.regions().locate(b"");
    c.split_at(b"m").unwrap();
    let after = c.regions().locate(b"");
    let ts = c.storage().timestamp();
    let mut b = open(&c, before.leader).await;
    b.send(vec![
        (1, Some(get(&before, b"a", ts))),
        (2, Some(get(&after, b"a", ts))),
    ])
    .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(b.answers().await);
    }
    got.sort_by_key(|(id, _)| *id);
    let [(1, Some(Resp::Get(stale))), (2, Some(Resp::Get(fresh)))] = got.as_slice() else {
        panic!("two gets answered: {got:?}");
    };
    let e = stale.region_error.as_ref().expect("a region error");
    assert!(e.epoch_not_match.is_some(), "{e:?}");
    assert!(fresh.region_error.is_none() && fresh.not_found);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_echoes_its_test_id_after_its_delay() {
    let c = start(config(1, 1_000_000)).await;
    let mut b = open(&c, 1).await;
    let empty = |test_id, delay_time| {
        Some(Req::Empty(BatchCommandsEmptyRequest {
            test_id,
            delay_time,
        }))
    };
    let began = Instant::now();
    b.send(vec![(1, empty(11, 300)), (2, empty(12, 0)), (3, None)])
        .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(b.answers().await);
    }
    assert!(began.elapsed() < Duration::from_millis(300));
    got.sort_by_key(|(id, _)| *id);
    let echo = |test_id| Some(Resp::Empty(BatchCommandsEmptyResponse { test_id }));
    assert_eq!(
        got,
        [(2, echo(12)), (3, None)],
        "no command: an empty answer"
    );
    assert_eq!(b.answers().await, [(1, echo(11))]);
    assert!(began.elapsed() >= Duration::from_millis(300));
    // Under 10 ms TiKV does not wait at all.
    let began = Instant::now();
    b.send(vec![(4, empty(14, 9))]).await;
    assert_eq!(b.answers().await, [(4, echo(14))]);
    assert!(began.elapsed() < Duration::from_millis(9) + Duration::from_millis(200));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_end_the_stream_with_invalid_argument() {
    let c = start(config(1, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let ts = c.storage().timestamp();
    let one = batch_commands_request::Request {
        cmd: Some(get(&region, b"a", ts)),
    };
    let cases = [
        BatchCommandsRequest {
            requests: vec![one.clone(), one.clone()],
            request_ids: vec![1],
            ..Default::default()
        },
        BatchCommandsRequest {
            requests: vec![one.clone()],
            request_ids: vec![1, 2],
            ..Default::default()
        },
        // A request the unary RPC refuses: no context.
        BatchCommandsRequest {
            requests: vec![batch_commands_request::Request {
                cmd: Some(Req::RawGet(RawGetRequest::default())),
            }],
            request_ids: vec![1],
            ..Default::default()
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let mut b = open(&c, region.leader).await;
        b.send(vec![(9, Some(get(&region, b"a", ts)))]).await;
        assert_eq!(b.answers().await.len(), 1, "case {i}: served before");
        b.send_raw(case).await;
        let status = b.error().await;
        assert_eq!(status.code(), Code::InvalidArgument, "case {i}: {status}");
    }
    // The store serves on.
    let mut b = open(&c, region.leader).await;
    assert!(matches!(
        b.call(1, get(&region, b"a", ts)).await,
        Resp::Get(_)
    ));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_store_ends_its_streams_with_unavailable() {
    let mut cfg = config(3, 1_000_000);
    cfg.faults.store_offline = Some(Outage {
        store: 1,
        after: Duration::from_millis(300),
        duration: Duration::from_secs(5),
        failover: Duration::from_secs(60),
    });
    let c = start(cfg).await;
    let region = c.regions().locate(b"");
    assert_eq!(region.leader, 1);
    let ts = c.storage().timestamp();
    let mut b = open(&c, 1).await;
    assert!(matches!(
        b.call(1, get(&region, b"a", ts)).await,
        Resp::Get(_)
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.send(vec![(2, Some(get(&region, b"a", ts)))]).await;
    let status = b.error().await;
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(c.cluster().fault_counts().unavailable_answers > 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transport_load_fault_is_reported_in_every_message() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.transport_load = Some(250);
    let c = start(cfg).await;
    let mut b = open(&c, 1).await;
    for id in 0..3 {
        b.send(vec![(id, None)]).await;
        let m = b.next().await.unwrap().unwrap();
        assert_eq!((m.request_ids, m.transport_layer_load), (vec![id], 250));
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_ends_cleanly_once_the_client_is_done_and_answered() {
    let c = start(config(1, 1_000_000)).await;
    let mut b = open(&c, 1).await;
    let delayed = BatchCommandsEmptyRequest {
        test_id: 1,
        delay_time: 100,
    };
    b.send(vec![(1, Some(Req::Empty(delayed)))]).await;
    b.tx = None;
    assert_eq!(
        b.answers().await.len(),
        1,
        "answered after the client closed"
    );
    assert!(b.next().await.unwrap().is_none(), "then the stream ends");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let c = start(config(1, 1_000_000)).await;
    let mut b = open(&c, 1).await;
    b.send(vec![(1, None)]).await;
    assert_eq!(b.answers().await.len(), 1);
    let began = Instant::now();
    c.shutdown().await;
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        began.elapsed()
    );
    assert!(b.next().await.is_err(), "the stream ended with an error");
}

//! Malformed input to the stand-in: bodies that are not protobuf, requests
//! without a context or with empty keys or unknown enum values, a foreign
//! cluster id, random bytes and random requests, and plain garbage on the
//! TCP socket. Each gets a gRPC error or a protocol answer, never a panic,
//! and the server keeps serving: a valid request afterwards succeeds.

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message as _;
use prost::bytes::{Buf as _, BufMut as _};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tikv_bench::cluster::RunningCluster;
use tikv_bench::proto::kvrpcpb::{
    self, CheckTxnStatusRequest, Context, GetRequest, Mutation, PrewriteRequest,
    RawBatchGetRequest, RawGetRequest, RawPutRequest, RawScanRequest, ScanRequest,
};
use tikv_bench::proto::metapb;
use tikv_bench::proto::pdpb::{GetRegionRequest, GetStoreRequest, RequestHeader, TsoRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::cluster_util::*;

/// Sends and receives message bodies as raw bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// One unary call with `body` as the request bytes.
async fn call(addr: SocketAddr, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let channel = Channel::from_shared(endpoint(addr))
        .unwrap()
        .connect()
        .await
        .expect("reachable");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

/// A valid RawGet to the region's leader and a GetRegion to PD succeed.
/// Where splits run as a fault, the region can split between looking it
/// up and asking it (an epoch or key-range error, as a real store would
/// answer): then the probe looks the region up again.
async fn still_serving(c: &RunningCluster) {
    let mut answer = None;
    for _ in 0..20 {
        let region = c.regions().locate(b"probe");
        let mut store = leader_client(c, &region).await;
        let resp = store
            .raw_get(RawGetRequest {
                context: ctx(&region),
                key: b"probe".to_vec(),
                ..Default::default()
            })
            .await
            .expect("the store still serves")
            .into_inner();
        let moved = resp.region_error.as_ref().is_some_and(|e| {
            e.epoch_not_match.is_some() || e.key_not_in_region.is_some() || e.not_leader.is_some()
        });
        answer = Some(resp);
        if !moved {
            break;
        }
    }
    let resp = answer.expect("at least one probe");
    assert!(
        resp.region_error.is_none() && resp.error.is_empty(),
        "the probe got {resp:?}"
    );
    let mut pd = pd_client(c.pd_addr()).await;
    pd.get_region(GetRegionRequest {
        header: None,
        region_key: b"probe".to_vec(),
        need_buckets: false,
    })
    .await
    .expect("PD still serves");
}

fn leader_addr(c: &RunningCluster) -> SocketAddr {
    c.store_addr(c.regions().locate(b"").leader).unwrap()
}

const STORE_PATHS: &[&str] = &[
    "/tikvpb.Tikv/RawGet",
    "/tikvpb.Tikv/RawBatchPut",
    "/tikvpb.Tikv/RawScan",
    "/tikvpb.Tikv/RawCompareAndSwap",
    "/tikvpb.Tikv/KvGet",
    "/tikvpb.Tikv/KvScan",
    "/tikvpb.Tikv/KvPrewrite",
    "/tikvpb.Tikv/KvCommit",
    "/tikvpb.Tikv/KvPessimisticLock",
    "/tikvpb.Tikv/KVPessimisticRollback",
    "/tikvpb.Tikv/KvCheckTxnStatus",
    "/tikvpb.Tikv/KvResolveLock",
    "/tikvpb.Tikv/KvScanLock",
];

const PD_PATHS: &[&str] = &[
    "/pdpb.PD/GetMembers",
    "/pdpb.PD/GetRegion",
    "/pdpb.PD/GetRegionByID",
    "/pdpb.PD/GetStore",
    "/pdpb.PD/ScanRegions",
    "/pdpb.PD/UpdateGCSafePoint",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_protobuf_get_a_grpc_error() {
    let c = start(config(3, 1_000_000)).await;
    // A field with wire type 7 (invalid), then a truncated length.
    let junk = vec![0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0x12, 0x7F, 0x01];
    for path in STORE_PATHS {
        let err = call(leader_addr(&c), path, junk.clone())
            .await
            .expect_err("garbage is refused");
        assert_eq!(err.code(), Code::Internal, "{path}: {err}");
    }
    for path in PD_PATHS {
        let err = call(c.pd_addr(), path, junk.clone())
            .await
            .expect_err("garbage is refused");
        assert_eq!(err.code(), Code::Internal, "{path}: {err}");
    }
    // Paths nobody serves.
    let err = call(leader_addr(&c), "/tikvpb.Tikv/Coprocessor", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let err = call(leader_addr(&c), "/tikvpb.Tikv/UnsafeDestroyRange", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    still_serving(&c).await;
    c.shutdown().await;
}

fn invalid<T>(r: Result<T, Status>, what: &str) {
    let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
    assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_invalid_argument() {
    let c = start(config(3, 1_000_000)).await;
    let region = c.regions().locate(b"");
    let mut store = leader_client(&c, &region).await;

    // No context.
    invalid(
        store
            .raw_get(RawGetRequest {
                key: b"k".to_vec(),
                ..Default::default()
            })
            .await,
        "raw get without a context",
    );
    invalid(
        store
            .kv_get(GetRequest {
                key: b"k".to_vec(),
                version: 1,
                ..Default::default()
            })
            .await,
        "kv get without a context",
    );
    invalid(
        store.kv_scan(ScanRequest::default()).await,
        "kv scan without a context",
    );
    invalid(
        store.raw_scan(RawScanRequest::default()).await,
        "raw scan without a context",
    );
    // Empty keys.
    invalid(
        store
            .raw_put(RawPutRequest {
                context: ctx(&region),
                ..Default::default()
            })
            .await,
        "raw put of an empty key",
    );
    invalid(
        store
            .raw_batch_get(RawBatchGetRequest {
                context: ctx(&region),
                keys: vec![b"a".to_vec(), vec![]],
                ..Default::default()
            })
            .await,
        "batch get with an empty key",
    );
    invalid(
        store
            .kv_check_txn_status(CheckTxnStatusRequest {
                context: ctx(&region),
                lock_ts: 1,
                ..Default::default()
            })
            .await,
        "check_txn_status without a primary",
    );
    // Enum values that do not exist or do not belong.
    let prewrite = |op: i32, actions: Vec<i32>| PrewriteRequest {
        context: ctx(&region),
        mutations: vec![Mutation {
            op,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        }],
        primary_lock: b"k".to_vec(),
        start_version: 10,
        lock_ttl: 100,
        pessimistic_actions: actions,
        ..Default::default()
    };
    invalid(store.kv_prewrite(prewrite(99, vec![])).await, "op 99");
    invalid(
        store
            .kv_prewrite(prewrite(kvrpcpb::Op::Rollback as i32, vec![]))
            .await,
        "a Rollback mutation",
    );
    invalid(
        store.kv_prewrite(prewrite(0, vec![9])).await,
        "pessimistic action 9",
    );
    // A column family that does not exist.
    invalid(
        store
            .raw_get(RawGetRequest {
                context: ctx(&region),
                key: b"k".to_vec(),
                cf: "lock".into(),
            })
            .await,
        "cf 'lock'",
    );
    assert_eq!(c.storage().lock_count(), 0, "nothing was prewritten");
    still_serving(&c).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_cluster_id_gets_failed_precondition() {
    let c = start(config(1, 1_000_000)).await;
    let mut pd = pd_client(c.pd_addr()).await;
    let foreign = Some(RequestHeader {
        cluster_id: 12345,
        sender_id: 0,
    });
    let e = pd
        .get_region(GetRegionRequest {
            header: foreign,
            region_key: b"k".to_vec(),
            need_buckets: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("12345"), "{e}");
    let e = pd
        .get_store(GetStoreRequest {
            header: foreign,
            store_id: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let req = TsoRequest {
        header: foreign,
        count: 1,
        dc_location: String::new(),
    };
    let mut stream = pd
        .tso(tonic::codegen::tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stream.message().await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    still_serving(&c).await;
    c.shutdown().await;
}

/// A context with small random ids and versions, sometimes none.
fn random_context(rng: &mut Xoshiro256PlusPlus) -> Option<Context> {
    if rng.random_range(0..8) == 0 {
        return None;
    }
    Some(Context {
        region_id: rng.random_range(0..6),
        region_epoch: (rng.random_range(0..4) != 0).then(|| metapb::RegionEpoch {
            conf_ver: rng.random_range(0..3),
            version: rng.random_range(0..4),
        }),
        peer: (rng.random_range(0..2) == 0).then(|| metapb::Peer {
            id: rng.random_range(0..10),
            store_id: rng.random_range(0..5),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn random_bytes(rng: &mut Xoshiro256PlusPlus, max: usize) -> Vec<u8> {
    let n = rng.random_range(0..=max);
    (0..n).map(|_| rng.random()).collect()
}

/// What a stand-in may answer garbage with: a decode error, a refusal, or
/// a foreign cluster id. A handler that panicked would reset the stream
/// instead (a transport error, not one of these).
fn acceptable(e: &Status) -> bool {
    match e.code() {
        Code::InvalidArgument | Code::FailedPrecondition => true,
        Code::Internal => e.message().contains("decode"),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_and_random_requests_never_break_a_server() {
    let mut cfg = config(3, 20);
    cfg.faults.split_every = Some(Duration::from_millis(20));
    let c = start(cfg).await;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let stores: Vec<SocketAddr> = c.store_addrs().into_iter().map(|(_, a)| a).collect();
    for i in 0..300 {
        // Random bytes on a random path.
        let (addr, path) = if i % 3 == 0 {
            (c.pd_addr(), PD_PATHS[rng.random_range(0..PD_PATHS.len())])
        } else {
            (
                stores[rng.random_range(0..stores.len())],
                STORE_PATHS[rng.random_range(0..STORE_PATHS.len())],
            )
        };
        if let Err(e) = call(addr, path, random_bytes(&mut rng, 48)).await {
            assert!(acceptable(&e), "{path}: {e}");
        }
        // A well-formed request with random routing and keys.
        let body = match i % 4 {
            0 => RawScanRequest {
                context: random_context(&mut rng),
                start_key: random_bytes(&mut rng, 12),
                end_key: random_bytes(&mut rng, 12),
                limit: rng.random_range(0..50),
                reverse: rng.random(),
                ..Default::default()
            }
            .encode_to_vec(),
            1 => RawPutRequest {
                context: random_context(&mut rng),
                key: random_bytes(&mut rng, 12),
                value: random_bytes(&mut rng, 8),
                ..Default::default()
            }
            .encode_to_vec(),
            2 => ScanRequest {
                context: random_context(&mut rng),
                start_key: random_bytes(&mut rng, 12),
                end_key: random_bytes(&mut rng, 12),
                limit: rng.random_range(0..50),
                version: rng.random(),
                reverse: rng.random(),
                ..Default::default()
            }
            .encode_to_vec(),
            _ => PrewriteRequest {
                context: random_context(&mut rng),
                mutations: vec![Mutation {
                    op: rng.random_range(-1..8),
                    key: random_bytes(&mut rng, 12),
                    value: random_bytes(&mut rng, 8),
                    assertion: rng.random_range(-1..4),
                }],
                primary_lock: random_bytes(&mut rng, 12),
                start_version: rng.random(),
                lock_ttl: rng.random_range(0..100),
                pessimistic_actions: vec![rng.random_range(-1..4); rng.random_range(0..3)],
                ..Default::default()
            }
            .encode_to_vec(),
        };
        let path = [
            "/tikvpb.Tikv/RawScan",
            "/tikvpb.Tikv/RawPut",
            "/tikvpb.Tikv/KvScan",
            "/tikvpb.Tikv/KvPrewrite",
        ][i % 4];
        let addr = stores[rng.random_range(0..stores.len())];
        if let Err(e) = call(addr, path, body).await {
            assert!(acceptable(&e), "{path}: {e}");
        }
    }
    still_serving(&c).await;
    c.shutdown().await;
}

/// Writes `junk` on a fresh connection and reads until the server closes
/// it (or stops answering for a second).
async fn junk_on_the_socket(addr: SocketAddr, junk: &[u8]) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(junk).await;
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_garbage_on_the_tcp_socket_leaves_the_servers_up() {
    let c = start(config(3, 1_000_000)).await;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut addrs: Vec<SocketAddr> = c.store_addrs().into_iter().map(|(_, a)| a).collect();
    addrs.push(c.pd_addr());
    for addr in addrs {
        junk_on_the_socket(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        junk_on_the_socket(addr, &random_bytes(&mut rng, 4096)).await;
        // The HTTP/2 preface, then a frame of nonsense.
        let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        h2.extend_from_slice(&[
            0, 0, 8, 0xEE, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        junk_on_the_socket(addr, &h2).await;
        // Connect and hang up at once.
        drop(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    still_serving(&c).await;
    c.shutdown().await;
}

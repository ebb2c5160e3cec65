//! Wire conformance of our kvproto subset (`proto/`, `tikv_bench::proto`)
//! with the real TiKV and PD protocols, against two independent references:
//!
//! - **The official client's prost types** (`tikv-client` 0.4, prost 0.12).
//!   Its `proto` module is private, but its types are reachable through
//!   values: the `raw_lowering` / `transaction_lowering` request builders,
//!   the `KvRequest::Response` associated type, the re-exported
//!   `ProtoRegionError`, `ProtoKeyError`, `ProtoLockInfo` and `Timestamp`, and
//!   the fields of those. Each message is filled with distinct non-default
//!   values, encoded with our type, decoded and re-encoded with theirs: the
//!   bytes must be identical and decode back into an equal value of ours.
//! - **The kvproto `.proto` files shipped inside that crate**, compiled here
//!   with protox: every message, enum and RPC we define must match theirs
//!   field by field, and every filled message must pass through their
//!   descriptors with no field unknown to them (but the few fields that
//!   kvproto added after those files, listed in `NEWER`). This also covers what the
//!   crate does not expose (most of pdpb, `metapb.Store`, and the
//!   CheckTxnStatus, CheckSecondaryLocks, ResolveLock and Cleanup messages).
//!
//! Samples come from our descriptors, so new fields are covered without
//! editing this file: each message is checked once with every field set
//! (nested messages filled, repeated fields and maps with two entries, enums
//! non-zero, signed integers negative, 64-bit integers above 2^32) and once
//! per field with only that field set (so each region sub-error and each key
//! error variant also travels alone).

mod descriptors;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::iter::empty;
use std::sync::{Arc, Mutex};

use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MethodDescriptor};
use protox::prost_reflect;
use tikv_bench::proto::{deadlock, errorpb, keyspacepb, kvrpcpb, metapb, pdpb, tikvpb};
use tikv_bench::txn_types::{
    ConflictReason, KeyError, LockInfo, LockType, WaitForEntry, WriteConflict,
};
use tikv_client::request::KvRequest;
use tikv_client::{BoundRange, Key, raw_lowering as raw, transaction_lowering as txn};
use tonic::codegen::{Context, Poll, Service, http};

use descriptors::{OFFICIAL, OURS, encode, official, ours, samples, unknown_fields};

/// Fields of the official messages we deliberately leave out, each because
/// its type belongs to a package we do not define or is statistics nobody
/// here reads (the `.proto` files say so where the field would be).
const OMITTED: &[&str] = &[
    "metapb.Region.encryption_meta",
    "kvrpcpb.Context.trace_context",
    "kvrpcpb.ResourceControlContext.penalty",
    "pdpb.StoreStats.interval",
    "pdpb.StoreStats.cpu_usages",
    "pdpb.StoreStats.read_io_rates",
    "pdpb.StoreStats.write_io_rates",
    "pdpb.StoreStats.op_latencies",
    "pdpb.StoreStats.peer_stats",
    "pdpb.StoreStats.query_stats",
    "pdpb.StoreStats.snapshot_stats",
    "pdpb.StoreStats.slow_trend",
    // BatchCommands carries only the commands our client sends: not bulk
    // import, GC, DeleteRange, the coprocessor or flashback (whose types
    // are in packages we do not define, or messages we do not define).
    "tikvpb.BatchCommandsRequest.Request.Import",
    "tikvpb.BatchCommandsRequest.Request.GC",
    "tikvpb.BatchCommandsRequest.Request.DeleteRange",
    "tikvpb.BatchCommandsRequest.Request.Coprocessor",
    "tikvpb.BatchCommandsRequest.Request.RawCoprocessor",
    "tikvpb.BatchCommandsRequest.Request.FlashbackToVersion",
    "tikvpb.BatchCommandsRequest.Request.PrepareFlashbackToVersion",
    "tikvpb.BatchCommandsResponse.Response.Import",
    "tikvpb.BatchCommandsResponse.Response.GC",
    "tikvpb.BatchCommandsResponse.Response.DeleteRange",
    "tikvpb.BatchCommandsResponse.Response.Coprocessor",
    "tikvpb.BatchCommandsResponse.Response.RawCoprocessor",
    "tikvpb.BatchCommandsResponse.Response.FlashbackToVersion",
    "tikvpb.BatchCommandsResponse.Response.PrepareFlashbackToVersion",
];

/// Fields we define that the kvproto shipped in `tikv-client` 0.4 is too old
/// to have, by message and field number: both timestamps of BatchCommands,
/// added to kvproto later (pingcap/kvproto `proto/tikvpb.proto` of today
/// has them under these numbers). The official descriptors see them as
/// unknown fields; nothing else may be.
pub const NEWER: &[(&str, u32)] = &[
    ("tikvpb.BatchCommandsRequest", 3),  // client_send_time_ns
    ("tikvpb.BatchCommandsResponse", 5), // tikv_send_time_ns
];

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

/// Ours -> theirs -> ours through the official crate's prost type `T` (known
/// only from a value of it); returns the message's full name.
fn typed<O, T>(_witness: T) -> String
where
    O: prost::Message + prost::Name + Default + PartialEq + Debug,
    T: prost012::Message + Default,
{
    let name = O::full_name();
    let desc = ours(&name);
    for sample in samples(&desc) {
        let ours = O::decode(encode(&sample).as_slice()).expect("our type decodes our sample");
        let ours_bytes = ours.encode_to_vec();
        let kept = DynamicMessage::decode(desc.clone(), ours_bytes.as_slice()).expect("decodes");
        assert_eq!(kept, sample, "{name}: our Rust type lost a field");

        let theirs = T::decode(ours_bytes.as_slice())
            .unwrap_or_else(|e| panic!("{name}: the official type refuses our bytes: {e}"));
        let theirs_bytes = theirs.encode_to_vec();
        assert_eq!(
            theirs_bytes, ours_bytes,
            "{name}: the official re-encoding differs:\n{ours:?}"
        );

        let back = O::decode(theirs_bytes.as_slice()).expect("our type decodes their bytes");
        assert_eq!(
            back, ours,
            "{name}: the official bytes decode into another value"
        );
    }
    name
}

/// Ours -> their descriptors -> ours, for types the official crate does not
/// expose; returns the message's full name.
fn via_official_descriptor<O>() -> String
where
    O: prost::Message + prost::Name + Default + PartialEq + Debug,
{
    let name = O::full_name();
    for sample in samples(&ours(&name)) {
        let ours = O::decode(encode(&sample).as_slice()).expect("our type decodes our sample");
        let theirs = DynamicMessage::decode(official(&name), ours.encode_to_vec().as_slice())
            .unwrap_or_else(|e| panic!("{name}: the official descriptor refuses our bytes: {e}"));
        let mut unknown = Vec::new();
        unknown_fields(&theirs, &name, &mut unknown);
        assert!(
            unknown.is_empty(),
            "{name}: fields unknown to the official protocol: {unknown:?}"
        );
        let back = O::decode(encode(&theirs).as_slice()).expect("our type decodes their bytes");
        assert_eq!(
            back, ours,
            "{name}: the official bytes decode into another value"
        );
    }
    name
}

/// A fresh value of the official type behind a value.
fn like<T: Default>(_: &T) -> T {
    T::default()
}

/// A fresh value of the official type inside an optional field.
fn inner<T: Default>(_: &Option<T>) -> T {
    T::default()
}

/// A fresh value of the official type inside a repeated field.
fn elem<T: Default>(_: &[T]) -> T {
    T::default()
}

/// A fresh value of the official response type of a request.
fn response_of<R: KvRequest>(_: &R) -> R::Response
where
    R::Response: Default,
{
    R::Response::default()
}

/// Checks request/response pairs: `Request => Response, official request`.
macro_rules! rpcs {
    ($done:ident; $($req:ident => $resp:ident, $witness:expr;)*) => {$({
        let witness = $witness;
        $done.insert(typed::<kvrpcpb::$resp, _>(response_of(&witness)));
        $done.insert(typed::<kvrpcpb::$req, _>(witness));
    })*};
}

/// Checks single messages: `our type => official value`.
macro_rules! messages {
    ($done:ident; $($ours:ty => $witness:expr;)*) => {$(
        $done.insert(typed::<$ours, _>($witness));
    )*};
}

/// Every message the official crate exposes, through its prost types.
fn typed_checks() -> BTreeSet<String> {
    let (key, ts, range) = (Key::default, tikv_client::Timestamp::default, || {
        BoundRange::from(..)
    });
    let mut done = BTreeSet::new();
    rpcs! { done;
        RawGetRequest => RawGetResponse, raw::new_raw_get_request(key(), None);
        RawBatchGetRequest => RawBatchGetResponse, raw::new_raw_batch_get_request(empty(), None);
        RawGetKeyTtlRequest => RawGetKeyTtlResponse, raw::new_raw_get_key_ttl_request(key(), None);
        RawPutRequest => RawPutResponse, raw::new_raw_put_request(key(), vec![], None, 0, false);
        RawBatchPutRequest => RawBatchPutResponse,
            raw::new_raw_batch_put_request(empty(), empty(), None, false);
        RawDeleteRequest => RawDeleteResponse, raw::new_raw_delete_request(key(), None, false);
        RawBatchDeleteRequest => RawBatchDeleteResponse, raw::new_raw_batch_delete_request(empty(), None);
        RawDeleteRangeRequest => RawDeleteRangeResponse, raw::new_raw_delete_range_request(range(), None);
        RawScanRequest => RawScanResponse, raw::new_raw_scan_request(range(), 1, false, false, None);
        RawBatchScanRequest => RawBatchScanResponse, raw::new_raw_batch_scan_request(empty(), 1, false, None);
        RawCasRequest => RawCasResponse, raw::new_cas_request(key(), vec![], None, None);
        GetRequest => GetResponse, txn::new_get_request(key(), ts());
        BatchGetRequest => BatchGetResponse, txn::new_batch_get_request(empty(), ts());
        ScanRequest => ScanResponse, txn::new_scan_request(range(), ts(), 1, false, false);
        PrewriteRequest => PrewriteResponse, txn::new_prewrite_request(vec![], key(), ts(), 0);
        CommitRequest => CommitResponse, txn::new_commit_request(empty(), ts(), ts());
        PessimisticLockRequest => PessimisticLockResponse,
            txn::new_pessimistic_lock_request(empty::<Key>(), key(), ts(), 0, ts(), false);
        PessimisticRollbackRequest => PessimisticRollbackResponse,
            txn::new_pessimistic_rollback_request(empty(), ts(), ts());
        BatchRollbackRequest => BatchRollbackResponse, txn::new_batch_rollback_request(empty(), ts());
        TxnHeartBeatRequest => TxnHeartBeatResponse, txn::new_heart_beat_request(ts(), key(), 0);
        ScanLockRequest => ScanLockResponse, txn::new_scan_lock_request(range(), &ts(), 1);
        UnsafeDestroyRangeRequest => UnsafeDestroyRangeResponse,
            txn::new_unsafe_destroy_range_request(range());
    }

    // Errors and building blocks, also on their own.
    let region_error = tikv_client::ProtoRegionError::default();
    let key_error = tikv_client::ProtoKeyError::default();
    let get = txn::new_get_request(key(), ts());
    let context = inner(&get.context);
    messages! { done;
        errorpb::Error => like(&region_error);
        kvrpcpb::KeyError => like(&key_error);
        kvrpcpb::LockInfo => tikv_client::ProtoLockInfo::default();
        kvrpcpb::WriteConflict => inner(&key_error.conflict);
        kvrpcpb::Deadlock => inner(&key_error.deadlock);
        deadlock::WaitForEntry => elem(&inner(&key_error.deadlock).wait_chain);
        kvrpcpb::TxnNotFound => inner(&key_error.txn_not_found);
        kvrpcpb::Mutation => elem(&txn::new_prewrite_request(vec![], key(), ts(), 0).mutations);
        kvrpcpb::ExecDetailsV2 => inner(&response_of(&get).exec_details_v2);
        kvrpcpb::Context => like(&context);
        metapb::RegionEpoch => inner(&context.region_epoch);
        metapb::Peer => inner(&context.peer);
        metapb::Region => elem(&inner(&region_error.epoch_not_match).current_regions);
        pdpb::Timestamp => tikv_client::Timestamp::default();
    }
    done
}

/// Checks our types through the official descriptors: `package::{Type, ...};`
/// (an array of the messages' full names).
macro_rules! described {
    ($($package:ident::{$($ours:ident),* $(,)?};)*) => {
        [$($(via_official_descriptor::<$package::$ours>(),)*)*]
    };
}

/// Every RPC message the official crate does not expose (and `metapb.Store`),
/// through its descriptors.
fn descriptor_checks() -> BTreeSet<String> {
    described! {
        kvrpcpb::{
            CheckTxnStatusRequest, CheckTxnStatusResponse, CheckSecondaryLocksRequest,
            CheckSecondaryLocksResponse, ResolveLockRequest, ResolveLockResponse, CleanupRequest,
            CleanupResponse,
        };
        pdpb::{
            GetMembersRequest, GetMembersResponse, TsoRequest, TsoResponse, GetStoreRequest,
            GetStoreResponse, GetAllStoresRequest, GetAllStoresResponse, GetRegionRequest,
            GetRegionByIdRequest, GetRegionResponse, ScanRegionsRequest, ScanRegionsResponse,
            GetGcSafePointRequest, GetGcSafePointResponse, UpdateGcSafePointRequest,
            UpdateGcSafePointResponse,
        };
        keyspacepb::{LoadKeyspaceRequest, LoadKeyspaceResponse};
        tikvpb::{
            BatchCommandsRequest, BatchCommandsResponse, BatchCommandsEmptyRequest,
            BatchCommandsEmptyResponse,
        };
        metapb::{Store};
    }
    .into_iter()
    .chain([
        // The oneofs: each command's sample carries that command alone.
        via_official_descriptor::<tikvpb::batch_commands_request::Request>(),
        via_official_descriptor::<tikvpb::batch_commands_response::Response>(),
    ])
    .collect()
}

#[test]
fn every_rpc_message_round_trips_through_the_official_client() {
    let typed = typed_checks();
    let described = descriptor_checks();
    let rpc_messages: BTreeSet<String> = OURS
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .flat_map(|m| {
            [
                m.input().full_name().to_owned(),
                m.output().full_name().to_owned(),
            ]
        })
        .collect();
    let missed: Vec<&String> = rpc_messages
        .iter()
        .filter(|m| !typed.contains(*m) && !described.contains(*m))
        .collect();
    assert!(
        missed.is_empty(),
        "RPC messages not cross-checked: {missed:?}"
    );
    eprintln!(
        "{} messages byte-identical through the official prost types, {} through its descriptors only",
        typed.len(),
        described.len()
    );
}

/// Kind as a comparable name: scalar kinds by name, messages and enums by
/// full name.
fn kind_name(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        scalar => format!("{scalar:?}"),
    };
    let label = if field.is_map() {
        "map"
    } else if field.is_list() {
        "repeated"
    } else {
        "single"
    };
    format!("{label} {kind}")
}

#[test]
fn every_message_and_enum_matches_the_official_definition() {
    let mut problems = Vec::new();
    for msg in OURS.all_messages() {
        let theirs = official(msg.full_name());
        for field in msg.fields() {
            let at = format!("{}.{} = {}", msg.full_name(), field.name(), field.number());
            match theirs.get_field(field.number()) {
                None if NEWER.contains(&(msg.full_name(), field.number())) => {}
                None => problems.push(format!("{at}: no such field number")),
                Some(t) if t.name() != field.name() => {
                    problems.push(format!("{at}: theirs is {}", t.name()))
                }
                Some(t) if kind_name(&t) != kind_name(&field) => problems.push(format!(
                    "{at}: {} here, {} there",
                    kind_name(&field),
                    kind_name(&t)
                )),
                Some(_) => {}
            }
        }
        for t in theirs
            .fields()
            .filter(|t| msg.get_field(t.number()).is_none())
        {
            let path = format!("{}.{}", msg.full_name(), t.name());
            if !OMITTED.contains(&path.as_str()) {
                problems.push(format!(
                    "{path} = {}: missing here and not listed as omitted",
                    t.number()
                ));
            }
        }
    }
    for ours in OURS.all_enums() {
        let theirs = OFFICIAL
            .get_enum_by_name(ours.full_name())
            .unwrap_or_else(|| panic!("the official protocol has no enum {}", ours.full_name()));
        let names = |e: &prost_reflect::EnumDescriptor| -> Vec<(i32, String)> {
            e.values()
                .map(|v| (v.number(), v.name().to_owned()))
                .collect()
        };
        if names(&ours) != names(&theirs) {
            problems.push(format!(
                "enum {}: {:?} here, {:?} there",
                ours.full_name(),
                names(&ours),
                names(&theirs)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "mismatches with the official protocol:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_message_passes_through_the_official_descriptors() {
    for desc in OURS.all_messages().filter(|m| !m.is_map_entry()) {
        let name = desc.full_name();
        for sample in samples(&desc) {
            let theirs = DynamicMessage::decode(official(name), encode(&sample).as_slice())
                .unwrap_or_else(|e| {
                    panic!("{name}: the official descriptor refuses our bytes: {e}")
                });
            let mut unknown = Vec::new();
            unknown_fields(&theirs, name, &mut unknown);
            assert!(
                unknown.is_empty(),
                "{name}: fields unknown to the official protocol: {unknown:?}"
            );
            let back =
                DynamicMessage::decode(desc.clone(), encode(&theirs).as_slice()).expect("decodes");
            assert_eq!(
                back, sample,
                "{name}: a value changed on the way through the official descriptor"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Services and paths
// ---------------------------------------------------------------------------

/// What must match for a method: request, response and streaming.
fn signature(method: &MethodDescriptor) -> (String, String, bool, bool) {
    let (input, output) = (method.input(), method.output());
    let (i, o) = (input.full_name().to_owned(), output.full_name().to_owned());
    (
        i,
        o,
        method.is_client_streaming(),
        method.is_server_streaming(),
    )
}

#[test]
fn every_rpc_matches_the_official_service() {
    for service in OURS.services() {
        let name = service.full_name();
        let theirs = OFFICIAL
            .get_service_by_name(name)
            .unwrap_or_else(|| panic!("the official protocol has no service {name}"));
        for method in service.methods() {
            let at = format!("/{name}/{}", method.name());
            let t = theirs.methods().find(|t| t.name() == method.name());
            let t = t.unwrap_or_else(|| panic!("{at}: no such official method"));
            assert_eq!(
                signature(&method),
                signature(&t),
                "{at}: (request, response, streaming)"
            );
        }
    }
}

/// Every gRPC path of a descriptor pool: `/package.Service/Method`.
fn rpc_paths(pool: &DescriptorPool) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for service in pool.services() {
        paths.extend(
            service
                .methods()
                .map(|m| format!("/{}/{}", service.full_name(), m.name())),
        );
    }
    paths
}

/// A gRPC transport that records request paths and answers UNIMPLEMENTED.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Service<http::Request<tonic::body::Body>> for Recorder {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        self.0.lock().unwrap().push(req.uri().path().to_owned());
        std::future::ready(Ok(tonic::Status::unimplemented("recorded").into_http()))
    }
}

/// Calls each named client method once with a default request.
macro_rules! call_each {
    ($client:ident: $($method:ident($req:ty)),* $(,)?) => {$(
        let status = $client.$method(<$req>::default()).await.expect_err("the recorder answers UNIMPLEMENTED");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    )*};
}

#[tokio::test]
async fn generated_clients_use_the_real_paths() {
    use kvrpcpb::*;

    let recorder = Recorder::default();
    let mut tikv = tikvpb::tikv_client::TikvClient::new(recorder.clone());
    let batch = tonic::codegen::tokio_stream::iter([tikvpb::BatchCommandsRequest::default()]);
    tikv.batch_commands(batch)
        .await
        .expect_err("the recorder answers UNIMPLEMENTED");
    call_each!(tikv:
        kv_get(GetRequest), kv_batch_get(BatchGetRequest), kv_scan(ScanRequest),
        kv_prewrite(PrewriteRequest), kv_commit(CommitRequest),
        kv_pessimistic_lock(PessimisticLockRequest),
        kv_pessimistic_rollback(PessimisticRollbackRequest),
        kv_batch_rollback(BatchRollbackRequest), kv_check_txn_status(CheckTxnStatusRequest),
        kv_check_secondary_locks(CheckSecondaryLocksRequest), kv_resolve_lock(ResolveLockRequest),
        kv_txn_heart_beat(TxnHeartBeatRequest), kv_scan_lock(ScanLockRequest), kv_cleanup(CleanupRequest),
        raw_get(RawGetRequest), raw_batch_get(RawBatchGetRequest), raw_put(RawPutRequest),
        raw_batch_put(RawBatchPutRequest), raw_delete(RawDeleteRequest),
        raw_batch_delete(RawBatchDeleteRequest), raw_scan(RawScanRequest),
        raw_batch_scan(RawBatchScanRequest), raw_delete_range(RawDeleteRangeRequest),
        raw_compare_and_swap(RawCasRequest), raw_get_key_ttl(RawGetKeyTtlRequest),
        unsafe_destroy_range(UnsafeDestroyRangeRequest),
    );
    let mut pd = pdpb::pd_client::PdClient::new(recorder.clone());
    call_each!(pd:
        get_members(pdpb::GetMembersRequest), get_region(pdpb::GetRegionRequest),
        get_region_by_id(pdpb::GetRegionByIdRequest), scan_regions(pdpb::ScanRegionsRequest),
        get_store(pdpb::GetStoreRequest), get_all_stores(pdpb::GetAllStoresRequest),
        get_gc_safe_point(pdpb::GetGcSafePointRequest),
        update_gc_safe_point(pdpb::UpdateGcSafePointRequest),
    );
    let tso = tonic::codegen::tokio_stream::iter([pdpb::TsoRequest::default()]);
    pd.tso(tso)
        .await
        .expect_err("the recorder answers UNIMPLEMENTED");
    let mut keyspace = keyspacepb::keyspace_client::KeyspaceClient::new(recorder.clone());
    call_each!(keyspace: load_keyspace(keyspacepb::LoadKeyspaceRequest));

    let paths = recorder.0.lock().unwrap().clone();
    for known in [
        "/tikvpb.Tikv/KVPessimisticRollback",
        "/tikvpb.Tikv/RawGetKeyTTL",
        "/pdpb.PD/GetRegionByID",
    ] {
        assert!(
            paths.iter().any(|p| p == known),
            "{known} was never called: {paths:?}"
        );
    }
    // Every path the clients sent is an official RPC, and every RPC we define was sent.
    let (official, defined) = (rpc_paths(&OFFICIAL), rpc_paths(&OURS));
    let sent: BTreeSet<String> = paths.into_iter().collect();
    let unofficial: Vec<&String> = sent.difference(&official).collect();
    assert!(
        unofficial.is_empty(),
        "paths that are not official RPCs: {unofficial:?}"
    );
    assert_eq!(sent, defined, "client methods and defined RPCs differ");

    assert_eq!(tikvpb::tikv_server::SERVICE_NAME, "tikvpb.Tikv");
    assert_eq!(pdpb::pd_server::SERVICE_NAME, "pdpb.PD");
    assert_eq!(
        keyspacepb::keyspace_server::SERVICE_NAME,
        "keyspacepb.Keyspace"
    );
}

// The client decodes what the stand-in encodes: every key error shape
// survives kvproto and back.
#[test]
fn key_errors_survive_the_round_trip() {
    let lock = LockInfo {
        primary_lock: b"p".to_vec(),
        lock_version: 7,
        key: b"k".to_vec(),
        lock_ttl: 100,
        txn_size: 2,
        lock_type: LockType::PessimisticLock,
        lock_for_update_ts: 8,
        min_commit_ts: 9,
        use_async_commit: true,
        secondaries: vec![b"s1".to_vec(), b"s2".to_vec()],
    };
    let errors = [
        KeyError::CommitTsTooLarge { commit_ts: 11 },
        KeyError::Locked(lock),
        KeyError::txn_lock_not_found(5, b"k", "gone"),
        KeyError::Abort("no".into()),
        KeyError::Conflict(WriteConflict {
            start_ts: 1,
            conflict_ts: 2,
            key: b"k".to_vec(),
            primary: b"p".to_vec(),
            conflict_commit_ts: 3,
            reason: ConflictReason::PessimisticRetry,
        }),
        KeyError::AlreadyExist { key: b"k".to_vec() },
        KeyError::Deadlock {
            lock_ts: 4,
            lock_key: b"k".to_vec(),
            deadlock_key_hash: 99,
            wait_chain: vec![WaitForEntry {
                txn: 1,
                wait_for_txn: 4,
                key_hash: 99,
                key: b"k".to_vec(),
            }],
        },
        KeyError::CommitTsExpired {
            start_ts: 1,
            attempted_commit_ts: 2,
            key: b"k".to_vec(),
            min_commit_ts: 3,
        },
        KeyError::TxnNotFound {
            start_ts: 1,
            primary_key: b"p".to_vec(),
        },
    ];
    for e in errors {
        assert_eq!(KeyError::from(kvrpcpb::KeyError::from(e.clone())), e);
    }
}

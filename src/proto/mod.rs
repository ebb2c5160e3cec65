//! Our kvproto subset: the TiKV and PD wire types, clients and servers,
//! generated at build time from `proto/*.proto` (see `build.rs`).
//!
//! One module per protobuf package, named as the package, so the gRPC paths
//! and the generated cross-references (`super::metapb::Region`) line up with
//! the real protocol: `pdpb::pd_client::PdClient`,
//! `tikvpb::tikv_server::TikvServer` and so on. Servers are generated with
//! default method bodies that answer `UNIMPLEMENTED`, so an implementation
//! overrides only the RPCs it serves.
//!
//! This is the only place generated code enters the crate, and so the only
//! place its lint allowances live. [`convert`] holds the conversions between
//! these messages and the transactional shapes of [`crate::txn_types`], both
//! ways, for the client and the stand-in alike.

pub mod convert;

/// Cluster metadata: stores, regions, peers, epochs.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod metapb {
    tonic::include_proto!("metapb");
}

/// Region errors returned by stores.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod errorpb {
    tonic::include_proto!("errorpb");
}

/// The wait-for edge carried by a deadlock error.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod deadlock {
    tonic::include_proto!("deadlock");
}

/// Raw and transactional key-value requests and responses.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod kvrpcpb {
    tonic::include_proto!("kvrpcpb");
}

/// The placement driver service (`pdpb.PD`): members, TSO, regions, stores.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pdpb {
    tonic::include_proto!("pdpb");
}

/// The keyspace lookup service (`keyspacepb.Keyspace`) of API v2.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod keyspacepb {
    tonic::include_proto!("keyspacepb");
}

/// The store service (`tikvpb.Tikv`).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod tikvpb {
    tonic::include_proto!("tikvpb");
}

/// The encoded `FileDescriptorSet` of every package above (without source
/// comments): for gRPC reflection and for tests that compare our definitions
/// with the official ones.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kvproto.fds"));

/// A store response that carries either its answer or a region error
/// (`region_error`, field 1 of every such kvrpcpb response): the client
/// takes the error out, the stand-in answers with one.
pub trait RegionReply: Default {
    /// The region error, if the store answered with one.
    fn take_region_error(&mut self) -> Option<errorpb::Error>;
    /// A response that is only the region error `e`.
    fn with_region_error(e: errorpb::Error) -> Self;
}

macro_rules! region_reply {
    ($($t:ident),* $(,)?) => {
        $(impl RegionReply for kvrpcpb::$t {
            #[inline]
            fn take_region_error(&mut self) -> Option<errorpb::Error> {
                self.region_error.take()
            }
            fn with_region_error(e: errorpb::Error) -> Self {
                kvrpcpb::$t { region_error: Some(e), ..Default::default() }
            }
        })*
    };
}

region_reply!(
    RawGetResponse,
    RawBatchGetResponse,
    RawPutResponse,
    RawBatchPutResponse,
    RawDeleteResponse,
    RawBatchDeleteResponse,
    RawScanResponse,
    RawBatchScanResponse,
    RawDeleteRangeResponse,
    RawCasResponse,
    RawGetKeyTtlResponse,
    GetResponse,
    BatchGetResponse,
    ScanResponse,
    PrewriteResponse,
    CommitResponse,
    PessimisticLockResponse,
    PessimisticRollbackResponse,
    BatchRollbackResponse,
    CheckTxnStatusResponse,
    CheckSecondaryLocksResponse,
    ResolveLockResponse,
    TxnHeartBeatResponse,
    ScanLockResponse,
    CleanupResponse,
);

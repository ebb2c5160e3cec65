//! The TiFlash store: a store PD lists with the label `engine=tiflash`,
//! holding a learner peer of every region, and serving the `tikvpb.Tikv`
//! gRPC service on its own listener without serving any KV call.
//!
//! TiFlash's `FlashService` (pingcap/tiflash `dbms/src/Flash/FlashService.h`)
//! derives from the C++ gRPC base class of `tikvpb.Tikv` and overrides only
//! the coprocessor, MPP, compaction and disaggregated calls; every other
//! method keeps the generated default, which answers `UNIMPLEMENTED` with an
//! empty message. Every method of our `tikvpb.Tikv` subset (raw and
//! transactional KV calls) is one of those, so every call here is counted
//! and answered so: a client that routes a KV request to TiFlash fails
//! loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Status};

use crate::proto::tikvpb::tikv_server::{Tikv, TikvServer};

/// The label PD gives a TiFlash store (client-go's `tikvrpc.EngineLabelKey`
/// and `EngineLabelTiFlash`).
pub const ENGINE_LABEL: (&str, &str) = ("engine", "tiflash");

/// The service behind the interceptor: never reached (the interceptor
/// answers every call), its generated defaults stand for the methods
/// TiFlash leaves unimplemented.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlashKv;

impl Tikv for FlashKv {}

/// Counts the calls and answers each one `UNIMPLEMENTED`.
#[derive(Debug, Clone)]
pub struct Unimplemented {
    calls: Arc<AtomicU64>,
}

impl tonic::service::Interceptor for Unimplemented {
    fn call(&mut self, _request: Request<()>) -> Result<Request<()>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Err(Status::unimplemented(""))
    }
}

/// The TiFlash store's gRPC service, counting its calls in `calls`.
pub fn service(calls: Arc<AtomicU64>) -> InterceptedService<TikvServer<FlashKv>, Unimplemented> {
    TikvServer::with_interceptor(FlashKv, Unimplemented { calls })
}

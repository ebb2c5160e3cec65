//! tikv-bench: a load generator and benchmarking harness for TiKV.
//!
//! # Layout
//!
//! Data flows one way, and the module tree says so:
//!
//! - [`workload`]: YAML -> `WorkloadSpec` (plain serde) -> [`workload::Workload`]
//!   (checked, typed); key distributions and the per-worker op generator.
//! - [`driver`]: runs a workload: load phase, warmup, measured phase; the one
//!   worker loop with pacing (closed or open loop), stop condition and retry
//!   policy as data; progress display.
//! - [`backend`]: the [`backend::Backend`] trait the driver is written
//!   against, the op and error vocabulary, and the simple backends (an
//!   in-memory map, a no-op) and the in-process engine backend.
//! - [`client`]: the client side of the transaction protocol, written once
//!   against a transport trait (in-process now, gRPC later).
//! - [`storage`]: the MVCC / Percolator engine: raw and transactional key
//!   spaces, timestamps, latches, lock waits, deadlock detection.
//! - [`metrics`]: per-worker recorders -> collector -> summary; the versioned
//!   result file with exact (histogram) latencies.
//! - [`report`]: renderers of a result (the text summary).
//! - [`proto`]: our kvproto subset, generated from `proto/`: the TiKV and PD
//!   wire types with their gRPC clients and servers.
//! - [`cluster`]: the stand-in cluster: PD and stores serving the TiKV gRPC
//!   protocol over the storage engine; the region table.
//! - [`codec`]: TiKV's memcomparable key encoding.
//! - [`checks`]: verdicts on a run: thresholds that gate CI on a result.
//! - [`cli`]: the subcommands (`run`, `check`).

pub mod backend;
pub mod checks;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod codec;
pub mod driver;
pub mod metrics;
pub mod proto;
pub mod report;
pub mod storage;
pub mod workload;

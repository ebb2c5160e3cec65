//! tikv-bench: a load generator and benchmarking harness for TiKV.
//!
//! # Layout
//!
//! Data flows one way, and the module tree says so:
//!
//! - [`workload`]: YAML -> `WorkloadSpec` (plain serde) -> [`workload::Workload`]
//!   (checked, typed); key distributions, the per-worker op generator, sweeps.
//! - [`driver`]: runs a workload: load phase, warmup, measured phase; the one
//!   worker loop with pacing (closed or open loop), stop condition and retry
//!   policy as data; shards; progress display.
//! - [`backend`]: the [`backend::Backend`] trait the driver is written
//!   against, the op and error vocabulary, and the backends: our TiKV client
//!   (`tikv`), the engine in process (`inproc`), an in-memory map, a no-op.
//! - [`client`]: our TiKV client: PD (failover, batched TSO), region cache,
//!   store channel pools, raw API, and the transaction protocol written once
//!   against a transport trait (gRPC and in-process transports).
//! - [`storage`]: the MVCC / Percolator engine: raw and transactional key
//!   spaces, timestamps, latches, lock waits, deadlock detection.
//! - [`cluster`]: the stand-in cluster: PD and stores serving the TiKV gRPC
//!   protocol over the storage engine; the region table; injected faults.
//! - [`proto`]: our kvproto subset, generated from `proto/`: the TiKV and PD
//!   wire types with their gRPC clients and servers.
//! - [`codec`]: TiKV's memcomparable key encoding.
//! - [`metrics`]: per-worker recorders -> collector -> summary; the versioned
//!   result file with exact (histogram) latencies; merging; HDR interval
//!   logs; the Prometheus endpoint.
//! - [`checks`]: verdicts on a run: thresholds that gate CI on a result, and
//!   invariant checks.
//! - [`report`]: renderers of results: the text summary, report.html with
//!   PNG charts, the comparison of several results.
//! - [`cli`]: the subcommands (`run`, `check`, `serve`, `report`, `compare`,
//!   `merge`).

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
pub mod txn_types;
pub mod vocab;
pub mod workload;

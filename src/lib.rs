//! tikv-bench: a load generator and benchmarking harness for TiKV.
//!
//! # Layout
//!
//! Each module has one job, and the modules form a DAG: a module imports
//! only the modules its row below names (`tests/it/architecture.rs` reads
//! this table and fails on any other `crate::` path in `src/`).
//!
//! - [`vocab`]: what every module shares: what ops answer, error kinds,
//!   events, lock and check modes, the retry policy with the one backoff,
//!   the time source, the registry of random streams, the duration format.
//! - [`txn_types`]: the transactional shapes (mutations, locks, key
//!   errors, requests and replies) shared by the engine and the client.
//! - [`codec`]: TiKV's memcomparable key encoding.
//! - [`proto`]: our kvproto subset, generated from `proto/`: the TiKV and PD
//!   wire types with their gRPC clients and servers, and their conversions
//!   to and from `txn_types` (`proto::convert`).
//! - [`storage`]: the MVCC / Percolator engine: raw and transactional key
//!   spaces, timestamps, latches, lock waits, deadlock detection.
//! - [`client`]: a TiKV client anyone could reuse: PD (failover, batched
//!   TSO), region cache, store channel pools, raw API, and the transaction
//!   protocol written once against a transport trait.
//! - [`cluster`]: the stand-in cluster: PD and stores serving the TiKV gRPC
//!   protocol over the storage engine; the region table; injected faults.
//! - [`backend`]: what the driver runs against (our client, the engine in
//!   process with its transport, an in-memory map, a no-op): the key-space
//!   capabilities an op runs over (`RawKv`, `TxnKv`, `Transaction`), the
//!   `Operation` a backend executes, and the retry loop.
//! - [`workload`]: YAML -> `WorkloadSpec` (plain serde) -> [`workload::Workload`]
//!   (checked, typed); the op types of the mix, one file each behind a
//!   registry (`workload::ops`); the invariant checks, one file each behind
//!   the `Check` trait and a registry (`workload::checks`); key
//!   distributions, the per-worker op generator, sweeps.
//! - [`metrics`]: per-worker recorders -> collector -> summary; the versioned
//!   result file with exact (histogram) latencies; merging; HDR interval
//!   logs; the Prometheus endpoint.
//! - [`checks`]: thresholds that gate CI on a result.
//! - [`driver`]: runs a workload: load phase, warmup, measured phase; the
//!   one worker loop with pacing, stop condition and retry policy as data;
//!   shards; progress display.
//! - [`report`]: renderers of results: the text summary, report.html with
//!   PNG charts, the comparison of several results.
//! - [`cli`]: the subcommands (`run`, `check`, `serve`, `report`, `compare`,
//!   `merge`), every clap type, `BadInput` and exit codes; the only module
//!   that uses `anyhow`.
//!
//! # Allowed imports
//!
//! | module | may import |
//! |---|---|
//! | vocab | - |
//! | txn_types | - |
//! | codec | - |
//! | proto | vocab, txn_types, codec |
//! | storage | vocab, txn_types, codec |
//! | client | vocab, txn_types, codec, proto |
//! | cluster | vocab, txn_types, codec, proto, storage |
//! | backend | vocab, txn_types, storage, client |
//! | workload | vocab, codec, backend, client, cluster |
//! | metrics | vocab, backend, workload |
//! | checks | vocab, workload, metrics |
//! | driver | vocab, backend, workload, metrics, checks |
//! | report | vocab, workload, metrics, checks |
//! | cli | vocab, storage, client, cluster, backend, workload, metrics, checks, driver, report |

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

//! The result file, `result.json`: versioned (`"schema":
//! "tikv-bench/result/v1"`), self-describing (the workload as run, seed,
//! target, times, tool version), and exact (every latency figure comes with
//! the histogram it was read from, so results from several drivers merge by
//! adding histograms, never by averaging percentiles).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::collector::{Second, Summary};
use super::hist::{self, Percentiles};
use super::memory::MemoryInfo;
use super::recorder::OpStats;
use super::sections::{ClusterInfo, RepeatInfo, ShardInfo, SweepInfo, ThresholdVerdict};
use super::selfcheck::{CpuUse, DriverCheck};
use super::slow::SlowOp;
use super::stages::{AbortInfo, SearchResult, StageResult};
use crate::backend::TargetInfo;
use crate::vocab::ErrorKind;
use crate::vocab::events::CLIENT_RETRIES;
use crate::vocab::time::rfc3339_ms;
use crate::vocab::transport::TransportStats;
use crate::workload::Workload;
use crate::workload::checks::CheckVerdict;

pub const SCHEMA: &str = "tikv-bench/result/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub tool: Tool,
    /// This run's identity, unique per driver run (empty in results written
    /// before runs had one, and in a merge: see `merged_runs`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    /// The workload's name.
    pub name: String,
    /// The file the workload came from, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_file: Option<String>,
    /// The workload as run, every default filled in, in the file format.
    pub workload: serde_json::Value,
    pub seed: u64,
    pub target: TargetInfo,
    /// `closed` (each worker waits for its op) or `open` (fixed rate).
    pub mode: String,
    pub concurrency: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub ended_at: String,
    /// The measured phase in Unix microseconds: merging aligns drivers by it.
    #[serde(default)]
    pub measured_from_unix_us: i64,
    #[serde(default)]
    pub measured_to_unix_us: i64,
    pub load: LoadResult,
    pub warmup: PhaseResult,
    pub measured: PhaseResult,
    /// Per op name.
    pub ops: BTreeMap<String, OpResult>,
    /// One entry per wall-clock second of the measured phase for its first
    /// hour, then one per 10 s, past ten hours one per minute (`width_s`;
    /// see [`timeline::TIERS`](super::timeline::TIERS)).
    pub timeline: Vec<Interval>,
    /// The run was stopped early (Ctrl-C, SIGTERM): the figures cover the
    /// measured span up to then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Per load stage (or search step), in the order run: the stages' ops
    /// add up exactly to `ops`, and their measured spans to `measured`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageResult>>,
    /// What the SLO search found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchResult>,
    /// The threshold with `abort_on_fail` that stopped the run early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<AbortInfo>,
    // The sections below are optional and come in alphabetical order, the
    // order of their keys in results written before they were typed.
    /// The invariant checks' verdicts, one per check the workload turns on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckVerdict>>,
    /// The cluster at the start and end of the run (embedded and external
    /// targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The driver's self-check: did it keep its schedule (open loop), did
    /// it have CPU to spare (closed loop)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_check: Option<DriverCheck>,
    /// A merge: one row per driver merged (throughput, start skew,
    /// self-check), in shard order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers: Option<Vec<super::drivers::DriverRow>>,
    /// The fault events of the run (injected, or observed by our client)
    /// and each one's impact: throughput dip, p99 spike, recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<super::impact::FaultImpact>,
    /// The machine the driver ran on (its host name; a pod's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The process's memory (peak resident set); it includes the stand-in
    /// cluster when that runs embedded, in the same process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryInfo>,
    /// How many driver results a merge added up into this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<u64>,
    /// A partial merge (`merge --partial`): the shards of the run, counted
    /// from 1, that were missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_shards: Option<Vec<u32>>,
    /// The run ids a merge added up into this one, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_runs: Option<Vec<String>>,
    /// The hottest regions by RPCs, with their latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<super::places::RegionTable>,
    /// Which run of `run --repeat N` this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<RepeatInfo>,
    /// This driver's part of a sharded run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Per op name, the slowest ops of the measured phase (at most
    /// [`KEEP`](super::slow::KEEP)), slowest first, each with its trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_ops: Option<BTreeMap<String, Vec<SlowOp>>>,
    /// When the driver was told to start and how late it began
    /// (`run --start-at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<super::drivers::StartInfo>,
    /// Per store: the RPCs sent to it, their share and latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores: Option<Vec<super::places::StoreRow>>,
    /// The sweep cell this result is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepInfo>,
    /// The thresholds' verdicts, when the workload has thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<ThresholdVerdict>>,
    /// The run judged against a baseline (`run --baseline`): one verdict
    /// per metric, with its effect size and interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::baseline::BaselineComparison>,
    /// What the client's BatchCommands transport did over the whole run
    /// (`client.transport: batch`): requests, messages, batch sizes,
    /// reconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<TransportStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoadResult {
    pub records: u64,
    pub duration_s: f64,
}

/// Totals over a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PhaseResult {
    pub duration_s: f64,
    pub ops: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Whole ops the driver tried again (a transaction from its begin).
    pub retries: u64,
    /// Requests our client sent again inside the ops' attempts (reroutes,
    /// busy stores, lock requests), which the driver does not see.
    #[serde(default)]
    pub client_retries: u64,
    /// Completed ops (ok, failed or unknown) per second.
    pub ops_per_s: f64,
    /// Successful ops per second.
    pub ok_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    #[serde(rename = "type")]
    pub op_type: String,
    pub ok: u64,
    pub failed: u64,
    /// Ops whose effect is unknown (a timeout after sending).
    pub unknown: u64,
    pub ok_per_s: f64,
    /// Final errors by kind, failed and unknown together.
    pub errors: BTreeMap<String, u64>,
    /// The first message seen of each error kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_samples: BTreeMap<String, String>,
    /// Extra attempts the driver made, in all and by the error that caused
    /// them.
    pub retries: u64,
    pub retries_by_kind: BTreeMap<String, u64>,
    /// Requests our client sent again inside the op's attempts (the
    /// `client_retries` event: reroutes, busy stores, lock requests).
    #[serde(default)]
    pub client_retries: u64,
    /// Time slept between attempts, in microseconds.
    pub backoff_us: u64,
    /// Successful ops with a notable result: `not_found`, `cas_mismatch`.
    pub outcomes: BTreeMap<String, u64>,
    /// What the backend reported on the way: lock waits, reroutes, rows.
    pub events: BTreeMap<String, u64>,
    /// Successful ops, from the intended start (closed loop: actual start).
    pub latency_us: Percentiles,
    pub histogram: String,
    /// Successful ops, from the actual start (open loop only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_us: Option<Percentiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_histogram: Option<String>,
    /// Every op (ok, failed or unknown), how late its worker started it:
    /// actual start minus intended start (open loop only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_us: Option<Percentiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_histogram: Option<String>,
    /// Failed and unknown ops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_latency_us: Option<Percentiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_histogram: Option<String>,
    /// The RPCs whose answers carried the store's own timing: client time
    /// split into network and queueing, store wait and store work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<super::server_time::ServerTimeResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The wall-clock second (Unix time) this interval starts in.
    pub unix_s: i64,
    /// The seconds it covers: 1, or past the first hour of a run more
    /// (a multiple of it in Unix time).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub width_s: u32,
    /// Start of the interval, seconds after the measured phase began.
    pub t_s: f64,
    /// Length of the part of the interval inside the measured phase.
    pub span_s: f64,
    /// All ops: completed per second and latency figures.
    pub ops_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub ops: BTreeMap<String, IntervalOp>,
    /// The process's resident set, bytes: the largest sample taken in the
    /// interval (once a second); absent where it cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalOp {
    pub ok: u64,
    pub failed: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub histogram: String,
}

/// The times and facts of a run that the summary does not hold.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// See [`RunResult::run_id`] and [`new_run_id`].
    pub run_id: String,
    pub workload_file: Option<String>,
    pub target: TargetInfo,
    pub started_unix_us: i64,
    pub measure_start_unix_us: i64,
    pub ended_unix_us: i64,
    pub warmup_s: f64,
    pub load: LoadResult,
    /// The process's CPU over the measured phase, when it was measured.
    pub cpu: Option<CpuUse>,
}

/// A new run id: when the run started (Unix microseconds, hex) and 32
/// random bits, so that two drivers started in the same microsecond still
/// differ.
pub fn new_run_id(started_unix_us: i64) -> String {
    format!("{:x}-{:08x}", started_unix_us.max(0), rand::random::<u32>())
}

pub(crate) fn kind_map(counts: &[u64; ErrorKind::COUNT]) -> BTreeMap<String, u64> {
    ErrorKind::ALL
        .iter()
        .filter(|k| counts[**k as usize] > 0)
        .map(|k| (k.as_str().to_string(), counts[*k as usize]))
        .collect()
}

pub(crate) fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        round3(n as f64 / secs)
    } else {
        0.0
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn phase(stats: &[OpStats], duration_s: f64) -> PhaseResult {
    let ok: u64 = stats.iter().map(|s| s.ok).sum();
    let failed: u64 = stats.iter().map(|s| s.failed).sum();
    let unknown: u64 = stats.iter().map(|s| s.unknown).sum();
    let ops = ok + failed + unknown;
    PhaseResult {
        duration_s: round3(duration_s),
        ops,
        ok,
        failed,
        unknown,
        retries: stats.iter().map(|s| s.retry_count()).sum(),
        client_retries: stats.iter().map(client_retries).sum(),
        ops_per_s: rate(ops, duration_s),
        ok_per_s: rate(ok, duration_s),
    }
}

/// The requests an op's client sent again, from its events.
fn client_retries(s: &OpStats) -> u64 {
    s.events.get(CLIENT_RETRIES)
}

pub(crate) fn op_result(kind: &str, s: &OpStats, secs: f64) -> OpResult {
    let outcomes = [("not_found", s.not_found), ("cas_mismatch", s.cas_mismatch)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    OpResult {
        op_type: kind.to_string(),
        ok: s.ok,
        failed: s.failed,
        unknown: s.unknown,
        ok_per_s: rate(s.ok, secs),
        errors: kind_map(&s.errors),
        error_samples: s
            .samples
            .iter()
            .map(|(k, m)| (k.as_str().to_string(), m.clone()))
            .collect(),
        retries: s.retry_count(),
        retries_by_kind: kind_map(&s.retries),
        client_retries: client_retries(s),
        backoff_us: s.backoff_us,
        outcomes,
        events: s.events.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        latency_us: Percentiles::of(&s.latency),
        histogram: hist::encode(&s.latency),
        service_us: s.service.as_ref().map(Percentiles::of),
        service_histogram: s.service.as_ref().map(hist::encode),
        lateness_us: s.lateness.as_ref().map(Percentiles::of),
        lateness_histogram: s.lateness.as_ref().map(hist::encode),
        failed_latency_us: s.failed_latency.as_ref().map(Percentiles::of),
        failed_histogram: s.failed_latency.as_ref().map(hist::encode),
        server_time: s.server.result(),
    }
}

/// The lateness of every send, all ops together (open loop).
fn lateness(stats: &[OpStats]) -> Option<hist::Hist> {
    let mut all: Option<hist::Hist> = None;
    for h in stats.iter().filter_map(|s| s.lateness.as_ref()) {
        hist::add(all.get_or_insert_with(hist::new_hist), h);
    }
    all
}

/// One row of the timeline: the part of it inside the measured phase.
fn interval(sec: &Second, names: &[&str], info: &RunInfo) -> Interval {
    let from = (sec.unix_s * 1_000_000).max(info.measure_start_unix_us);
    let to = ((sec.unix_s + i64::from(sec.width_s)) * 1_000_000)
        .min(info.ended_unix_us)
        .max(from);
    let span_s = (to - from) as f64 / 1e6;
    let total: u64 = sec.ops.iter().flatten().map(|o| o.ok + o.failed).sum();
    Interval {
        unix_s: sec.unix_s,
        width_s: sec.width_s,
        t_s: round3((sec.unix_s * 1_000_000 - info.measure_start_unix_us) as f64 / 1e6),
        span_s: round3(span_s),
        ops_per_s: rate(total, span_s),
        p50_us: sec.all.p50,
        p99_us: sec.all.p99,
        ops: sec
            .ops
            .iter()
            .zip(names)
            .filter_map(|(o, name)| {
                o.as_ref().map(|o| {
                    (
                        name.to_string(),
                        IntervalOp {
                            ok: o.ok,
                            failed: o.failed,
                            p50_us: o.latency.p50,
                            p99_us: o.latency.p99,
                            max_us: o.latency.max,
                            histogram: o.histogram.clone(),
                        },
                    )
                })
            })
            .collect(),
        rss_bytes: sec.rss_bytes,
    }
}

/// The slowest ops by op name; `None` when no op was measured.
fn slow_section(names: &[&str], slow: &[Vec<SlowOp>]) -> Option<BTreeMap<String, Vec<SlowOp>>> {
    let section: BTreeMap<String, Vec<SlowOp>> = names
        .iter()
        .zip(slow)
        .filter(|(_, ops)| !ops.is_empty())
        .map(|(name, ops)| (name.to_string(), ops.clone()))
        .collect();
    (!section.is_empty()).then_some(section)
}

impl RunResult {
    pub fn build(workload: &Workload, summary: &Summary, info: RunInfo) -> RunResult {
        let measured_s = (info.ended_unix_us - info.measure_start_unix_us) as f64 / 1e6;
        let names: Vec<&str> = workload.ops.iter().map(|o| o.name.as_str()).collect();
        let ops = workload
            .ops
            .iter()
            .zip(&summary.ops)
            .map(|(o, s)| (o.name.clone(), op_result(o.kind.type_name(), s, measured_s)))
            .collect();
        let in_process = info.target.runs_in_process();
        let timeline = summary
            .timeline
            .iter()
            .map(|sec| interval(sec, &names, &info))
            .collect();
        RunResult {
            schema: SCHEMA.into(),
            tool: Tool::current(),
            run_id: info.run_id,
            name: workload.name.clone(),
            workload_file: info.workload_file,
            workload: serde_json::to_value(workload).unwrap_or(serde_json::Value::Null),
            seed: workload.seed,
            target: info.target,
            mode: if workload.open_loop() {
                "open"
            } else {
                "closed"
            }
            .into(),
            concurrency: workload.concurrency,
            rate: workload.rate,
            started_at: rfc3339_ms(info.started_unix_us),
            ended_at: rfc3339_ms(info.ended_unix_us),
            measured_from_unix_us: info.measure_start_unix_us,
            measured_to_unix_us: info.ended_unix_us,
            load: info.load,
            warmup: phase(&summary.warmup, info.warmup_s),
            measured: phase(&summary.ops, measured_s),
            ops,
            timeline,
            interrupted: false,
            stages: None,
            search: None,
            aborted: None,
            checks: None,
            cluster: None,
            driver_check: DriverCheck::judge(lateness(&summary.ops).as_ref(), info.cpu),
            drivers: None,
            faults: None,
            host: None,
            memory: summary.peak_rss_bytes.map(|peak| MemoryInfo {
                peak_rss_bytes: peak,
                includes_target: in_process,
                driver_peaks_rss_bytes: None,
            }),
            merged_from: None,
            merged_runs: None,
            missing_shards: None,
            regions: super::places::regions_of(&summary.places),
            repeat: None,
            shard: None,
            slow_ops: slow_section(&names, &summary.slow),
            start: None,
            stores: super::places::stores_of(&summary.places),
            sweep: None,
            thresholds: None,
            baseline: None,
            transport: None,
        }
    }

    /// Writes the result as pretty JSON.
    ///
    /// Atomically where it can: the file is written beside `path` under a
    /// temporary name and renamed over it, so that a reader (`merge --wait`
    /// polling a shared volume) sees the old file or the whole new one,
    /// never half of it. A path that is not a regular file (`/dev/null`, a
    /// pipe) is written in place.
    pub fn save(&self, path: &Path) -> Result<(), ResultFileError> {
        let json = serde_json::to_string_pretty(self)? + "\n";
        crate::vocab::files::write_atomic(path, json.as_bytes()).map_err(|err| {
            ResultFileError::Write {
                path: path.to_path_buf(),
                err,
            }
        })
    }

    /// Reads a result file, checking its schema.
    pub fn load(path: &Path) -> Result<RunResult, ResultFileError> {
        let path_buf = || path.to_path_buf();
        let text = std::fs::read_to_string(path).map_err(|err| ResultFileError::Read {
            path: path_buf(),
            err,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| ResultFileError::NotJson {
                path: path_buf(),
                err,
            })?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(ResultFileError::Unsupported {
                    path: path_buf(),
                    schema: other.to_string(),
                });
            }
            None => return Err(ResultFileError::NoSchema { path: path_buf() }),
        }
        serde_json::from_value(value).map_err(|err| ResultFileError::Malformed {
            path: path_buf(),
            err,
        })
    }
}

/// Why a result file cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    /// The result does not encode as JSON (a non-string map key; does not
    /// happen with the types we write).
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    /// The file cannot be written: the directory is missing or read-only,
    /// or the disk is full. Choose another path or make room.
    #[error("{}: cannot write result: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
    /// The file cannot be read: a wrong path or no permission. Name the
    /// `result.json` that `run` or `merge` wrote.
    #[error("{}: cannot read result: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    /// The file is not JSON: another file was named (a workload, say), or
    /// the result was cut short.
    #[error("{}: not a JSON result file: {err}", path.display())]
    NotJson {
        path: PathBuf,
        err: serde_json::Error,
    },
    /// The result has another schema version than this tikv-bench reads:
    /// read it with the tikv-bench that wrote it.
    #[error("{}: result schema '{schema}' is not supported; this tikv-bench reads '{SCHEMA}'", path.display())]
    Unsupported { path: PathBuf, schema: String },
    /// JSON without a `schema` field: not a result of tikv-bench.
    #[error("{}: no \"schema\" field: not a tikv-bench result", path.display())]
    NoSchema { path: PathBuf },
    /// A result of our schema whose fields do not fit it: the file was
    /// edited by hand or by another tool. Restore it or run again.
    #[error("{}: malformed result: {err}", path.display())]
    Malformed {
        path: PathBuf,
        err: serde_json::Error,
    },
}

impl RunResult {
    /// Op names in the order the workload lists them.
    pub fn op_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .workload
            .get("ops")
            .and_then(|o| o.as_array())
            .map(|ops| {
                ops.iter()
                    .filter_map(|o| o.get("name").and_then(|n| n.as_str()).map(String::from))
                    .filter(|n| self.ops.contains_key(n))
                    .collect()
            })
            .unwrap_or_default();
        for k in self.ops.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        names
    }
}

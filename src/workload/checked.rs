//! The checked workload: every default filled in, every value in range, op
//! parameters typed by op. Built from a `WorkloadSpec` by
//! [`validate`](super::validate::validate). Serializes back to the file
//! format (the "workload as run").

use std::time::Duration;

use serde::Serialize;

pub use super::thresholds::Threshold;
pub use crate::client::config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_REQUEST_TIMEOUT,
};
pub use crate::cluster::config::{ClusterConfig, Faults, Latency, Outage};
use crate::vocab::{CommitMode, LockMode};
pub use crate::workload::checks::Checks;
pub use crate::workload::ops::{Api, OpKind};

pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_RECORDS: u64 = 10_000;
pub const DEFAULT_PREFIX: &str = "user";
pub const DEFAULT_KEY_SIZE: u32 = 16;
pub const DEFAULT_THETA: f64 = 0.99;
pub const DEFAULT_HOT_SET: f64 = 0.2;
pub const DEFAULT_HOT_OPS: f64 = 0.8;
pub const DEFAULT_VALUE_SIZE: u64 = 100;
pub const DEFAULT_LOAD_BATCH: u32 = 256;
pub const DEFAULT_LOAD_CONCURRENCY: u32 = 4;
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
pub const DEFAULT_CONCURRENCY: u32 = 16;
pub const MAX_VALUE_SIZE: u64 = 8 << 20;
pub const MAX_KEY_SIZE: u32 = 4096;

/// A workload ready to run. Serializes back to the file format (the
/// workload as run), without the fields stages or a search replace.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub keys: KeySpace,
    pub values: Values,
    pub load: Load,
    pub warmup: Duration,
    pub stop: Stop,
    pub concurrency: u32,
    pub rate: Option<f64>,
    /// The op mix, then the ops of the checks (which the file spells in
    /// `checks:`, so they are not written back under `ops`).
    pub ops: Vec<OpConfig>,
    pub client: ClientConfig,
    /// The embedded cluster this workload runs on by default.
    pub cluster: ClusterConfig,
    /// Invariant checks (see `crate::checks`).
    pub checks: Checks,
    /// Parameters to vary over several runs (see `sweep.rs`).
    pub sweep: Option<Sweep>,
    /// Conditions the result must meet, or the run exits 1.
    pub thresholds: Vec<Threshold>,
    /// Load stages run one after another in one run (see [`Stage`]);
    /// empty: one stage made of `warmup`, `stop` and `rate`. With stages,
    /// `rate` is `None`, `warmup` zero, `stop` the stages' total and, with
    /// concurrency stages, `concurrency` the largest stage's.
    pub stages: Vec<Stage>,
    /// The search for the highest open-loop rate that meets an SLO (see
    /// [`Search`]); it decides its steps as it runs, so `stages` is empty,
    /// `rate` is `None`, `warmup` zero, and `stop` the longest the search
    /// can last, every step run (`max_steps` x (`warmup` + `hold`)): a
    /// bound, not the plan; the driver follows the search.
    pub search: Option<Search>,
}

/// The workload as written back: the fields that stages or a search
/// replace (`warmup`, the stop, and with concurrency stages `concurrency`)
/// left out, so that the as-run form parses again to the same workload.
#[derive(Serialize)]
struct AsRun<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    seed: u64,
    keys: &'a KeySpace,
    values: &'a Values,
    load: &'a Load,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    warmup: Option<Duration>,
    #[serde(flatten)]
    stop: Option<Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    #[serde(serialize_with = "ser_ops")]
    ops: &'a [OpConfig],
    client: &'a ClientConfig,
    cluster: &'a ClusterConfig,
    #[serde(skip_serializing_if = "Checks::is_empty")]
    checks: &'a Checks,
    #[serde(skip_serializing_if = "Option::is_none")]
    sweep: Option<&'a Sweep>,
    #[serde(
        skip_serializing_if = "<[_]>::is_empty",
        serialize_with = "ser_thresholds"
    )]
    thresholds: &'a [Threshold],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stages: &'a [Stage],
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<&'a Search>,
}

impl Serialize for Workload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let staged = !self.stages.is_empty() || self.search.is_some();
        let closed_stages = self
            .stages
            .first()
            .is_some_and(|st| matches!(st.level, Level::Workers(_)));
        AsRun {
            name: &self.name,
            description: self.description.as_deref(),
            seed: self.seed,
            keys: &self.keys,
            values: &self.values,
            load: &self.load,
            warmup: (!staged).then_some(self.warmup),
            stop: (!staged).then_some(self.stop),
            concurrency: (!closed_stages).then_some(self.concurrency),
            rate: self.rate,
            ops: &self.ops,
            client: &self.client,
            cluster: &self.cluster,
            checks: &self.checks,
            sweep: self.sweep.as_ref(),
            thresholds: &self.thresholds,
            stages: &self.stages,
            search: self.search.as_ref(),
        }
        .serialize(s)
    }
}

impl Workload {
    /// Whether the run is open loop (ops start on a schedule): a `rate`,
    /// rate stages, or a search.
    pub fn open_loop(&self) -> bool {
        self.rate.is_some()
            || self.search.is_some()
            || self
                .stages
                .first()
                .is_some_and(|s| matches!(s.level, Level::Rate(_)))
    }
}

/// The load a stage offers: an open-loop rate in ops/s (all workers
/// together), or a closed-loop number of busy workers. A workload's
/// stages are all of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Rate(f64),
    #[serde(rename = "concurrency")]
    Workers(u32),
}

/// One load stage: `duration` at `level` (held), or ramped linearly from
/// the previous stage's level (0 before the first) to `level` over
/// `duration`. Its first `warmup` (part of `duration`) is not measured.
/// Written `{rate: 1000, hold: 10s, warmup: 2s}` or
/// `{concurrency: 32, ramp: 30s}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub level: Level,
    pub ramp: bool,
    pub duration: Duration,
    pub warmup: Duration,
}

impl Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        match self.level {
            Level::Rate(r) => m.serialize_entry("rate", &r)?,
            Level::Workers(n) => m.serialize_entry("concurrency", &n)?,
        }
        let d = humantime::format_duration(self.duration).to_string();
        m.serialize_entry(if self.ramp { "ramp" } else { "hold" }, &d)?;
        if !self.warmup.is_zero() {
            m.serialize_entry(
                "warmup",
                &humantime::format_duration(self.warmup).to_string(),
            )?;
        }
        m.end()
    }
}

/// The SLO search (`search:`): open-loop steps from `start` ops/s, each
/// held for `warmup` then measured for `hold` on its own histograms and
/// judged against `slo` (and `max_error_rate`, and the driver's
/// self-check); the rate grows by `growth` while steps pass (falls by it
/// while they fail), then bisects between the highest pass and the lowest
/// failure until they are within `precision` (a fraction of the pass) or
/// `max_steps` steps have run. Never above `max`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Search {
    #[serde(serialize_with = "ser_thresholds")]
    pub slo: Vec<Threshold>,
    pub start: f64,
    #[serde(flatten)]
    pub growth: Growth,
    pub max: f64,
    #[serde(serialize_with = "ser_duration")]
    pub hold: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub warmup: Duration,
    pub precision: f64,
    pub max_steps: u32,
    pub max_error_rate: f64,
}

/// How a search moves before its first failure (after its first pass,
/// when the start fails): times a factor, or by a fixed step in ops/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Growth {
    Factor(f64),
    Step(f64),
}

pub const DEFAULT_SEARCH_FACTOR: f64 = 2.0;
pub const DEFAULT_SEARCH_HOLD: Duration = Duration::from_secs(5);
pub const DEFAULT_SEARCH_WARMUP: Duration = Duration::from_secs(1);
pub const DEFAULT_SEARCH_PRECISION: f64 = 0.05;
pub const DEFAULT_SEARCH_MAX_STEPS: u32 = 20;
pub const DEFAULT_SEARCH_MAX_ERROR_RATE: f64 = 0.01;
/// A cap no target reaches: the search stops at its first failure.
pub const DEFAULT_SEARCH_MAX: f64 = 1e9;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeySpace {
    pub records: u64,
    /// The prefix of the raw ops' keys.
    pub prefix: String,
    /// The prefix of the transactional ops' keys (by default `prefix`;
    /// under TiKV's API V1 the two must not share a key range).
    pub txn_prefix: String,
    pub size: u32,
    #[serde(flatten)]
    pub distribution: Distribution,
}

impl KeySpace {
    /// The prefix of the keys of `api`'s ops.
    pub fn prefix_of(&self, api: Api) -> &str {
        match api {
            Api::Raw => &self.prefix,
            Api::Txn => &self.txn_prefix,
        }
    }

    /// Digits after `api`'s prefix: keys are the prefix + zero-padded index,
    /// `size` bytes in all.
    pub fn digits(&self, api: Api) -> u32 {
        self.size.saturating_sub(self.prefix_of(api).len() as u32)
    }

    /// Largest index + 1 that still fits the digits of both prefixes.
    pub fn capacity(&self) -> u64 {
        let digits = self.digits(Api::Raw).min(self.digits(Api::Txn));
        10u64.checked_pow(digits).unwrap_or(u64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "distribution", rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    /// Popularity by rank r proportional to 1/r^theta; `scramble` spreads
    /// the popular ranks over the key space instead of the first keys.
    Zipfian {
        theta: f64,
        scramble: bool,
    },
    /// Zipfian over recency: the most recently inserted keys are hottest.
    Latest {
        theta: f64,
    },
    /// `hot_ops` of the operations go to the first `hot_set` of the keys.
    Hotspot {
        hot_set: f64,
        hot_ops: f64,
    },
    /// Keys in order, shared by all workers, wrapping at the end.
    Sequential,
}

impl Distribution {
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Zipfian { .. } => "zipfian",
            Distribution::Latest { .. } => "latest",
            Distribution::Hotspot { .. } => "hotspot",
            Distribution::Sequential => "sequential",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeRange {
    pub min: u64,
    pub max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Values {
    pub size: SizeRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Load {
    pub records: u64,
    pub batch: u32,
    pub concurrency: u32,
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Stop {
    #[serde(rename = "duration", serialize_with = "ser_duration")]
    Duration(Duration),
    #[serde(rename = "operations")]
    Operations(u64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpConfig {
    pub name: String,
    #[serde(flatten)]
    pub kind: OpKind,
    pub weight: u32,
}

/// A swept parameter and the values it takes, in the order run.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub params: Vec<(SweepParam, Vec<SweepValue>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepParam {
    Lock,
    Commit,
    Concurrency,
    Rate,
    Theta,
    HotSet,
    HotOps,
    PoolSize,
}

impl SweepParam {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepParam::Lock => "lock",
            SweepParam::Commit => "commit",
            SweepParam::Concurrency => "concurrency",
            SweepParam::Rate => "rate",
            SweepParam::Theta => "theta",
            SweepParam::HotSet => "hot_set",
            SweepParam::HotOps => "hot_ops",
            SweepParam::PoolSize => "pool_size",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SweepValue {
    Lock(LockMode),
    Commit(CommitMode),
    Int(u64),
    Float(f64),
}

impl SweepValue {
    pub fn to_json(self) -> serde_json::Value {
        match self {
            SweepValue::Lock(l) => l.as_str().into(),
            SweepValue::Commit(m) => m.as_str().into(),
            SweepValue::Int(n) => n.into(),
            SweepValue::Float(x) => x.into(),
        }
    }
}

impl std::fmt::Display for SweepValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepValue::Lock(l) => f.write_str(l.as_str()),
            SweepValue::Commit(m) => f.write_str(m.as_str()),
            SweepValue::Int(n) => write!(f, "{n}"),
            SweepValue::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Serialize for Sweep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.params.len()))?;
        for (p, values) in &self.params {
            let vs: Vec<serde_json::Value> = values.iter().map(|v| v.to_json()).collect();
            m.serialize_entry(p.as_str(), &vs)?;
        }
        m.end()
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

fn ser_ops<S: serde::Serializer>(ops: &[OpConfig], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ops.iter().filter(|o| !o.kind.is_check()))
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

/// Each threshold in the form written: its text, or with `abort_on_fail`
/// the map `{threshold, abort_on_fail: true, delay}`.
fn ser_thresholds<S: serde::Serializer>(ts: &[Threshold], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(ts.len()))?;
    for t in ts {
        match t.abort {
            None => seq.serialize_element(&t.text)?,
            Some(delay) => seq.serialize_element(&AbortingThreshold {
                threshold: &t.text,
                abort_on_fail: true,
                delay: humantime::format_duration(delay).to_string(),
            })?,
        }
    }
    seq.end()
}

#[derive(Serialize)]
struct AbortingThreshold<'a> {
    threshold: &'a str,
    abort_on_fail: bool,
    delay: String,
}

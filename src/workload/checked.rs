//! The checked workload: every default filled in, every value in range, op
//! parameters typed by op. Built from a [`WorkloadSpec`] by [`validate`],
//! which reports every problem it finds with the position of the value at
//! fault. Serializes back to the file format (the "workload as run").

use std::time::Duration;

use serde::Serialize;

use super::Diagnostic;
use super::spec::*;
use crate::backend::{ErrorKind, LockMode};
pub use crate::checks::thresholds::Threshold;
pub use crate::cluster::config::{Config as ClusterConfig, Faults, Outage};

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
pub const DEFAULT_SCAN_LENGTH: SizeRange = SizeRange { min: 1, max: 100 };
pub const DEFAULT_BATCH_DELETE: u32 = 10;
pub const DEFAULT_TXN_WRITES: u32 = 2;
pub const DEFAULT_POOL_SIZE: u32 = 2;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
pub const MAX_VALUE_SIZE: u64 = 8 << 20;
pub const MAX_KEY_SIZE: u32 = 4096;

/// A workload ready to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub seed: u64,
    pub keys: KeySpace,
    pub values: Values,
    pub load: Load,
    #[serde(serialize_with = "ser_duration")]
    pub warmup: Duration,
    #[serde(flatten)]
    pub stop: Stop,
    pub concurrency: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub ops: Vec<OpConfig>,
    pub client: ClientConfig,
    /// The embedded cluster this workload runs on by default.
    pub cluster: ClusterConfig,
    /// Parameters to vary over several runs (see `sweep.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
    /// Conditions the result must meet, or the run exits 1.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser_thresholds"
    )]
    pub thresholds: Vec<Threshold>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeySpace {
    pub records: u64,
    pub prefix: String,
    pub size: u32,
    #[serde(flatten)]
    pub distribution: Distribution,
}

impl KeySpace {
    /// Digits after the prefix: keys are `prefix` + zero-padded index.
    pub fn digits(&self) -> u32 {
        self.size - self.prefix.len() as u32
    }

    /// Largest index + 1 that still fits the digits.
    pub fn capacity(&self) -> u64 {
        10u64.checked_pow(self.digits()).unwrap_or(u64::MAX)
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

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpKind {
    Get,
    Put {
        insert: bool,
    },
    Scan {
        length: SizeRange,
    },
    BatchDelete {
        batch: u32,
    },
    Cas,
    Txn {
        reads: u32,
        writes: u32,
        lock: LockMode,
    },
}

impl OpKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put { .. } => "put",
            OpKind::Scan { .. } => "scan",
            OpKind::BatchDelete { .. } => "batch_delete",
            OpKind::Cas => "cas",
            OpKind::Txn { .. } => "txn",
        }
    }

    /// Whether a timeout leaves the op's effect unknown.
    pub fn mutates(&self) -> bool {
        !matches!(self, OpKind::Get | OpKind::Scan { .. })
    }

    /// Whether the op works on the transactional key space.
    pub fn transactional(&self) -> bool {
        matches!(self, OpKind::Txn { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConfig {
    pub pool_size: u32,
    #[serde(serialize_with = "ser_duration")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Sleep exactly the computed delay.
    None,
    /// Sleep uniformly in [0, delay].
    Full,
    /// Sleep delay/2 plus uniformly in [0, delay/2].
    Equal,
}

/// How an operation that failed is retried: a plain value, read by the
/// worker loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    #[serde(serialize_with = "ser_duration")]
    pub base_delay: Duration,
    pub multiplier: f64,
    #[serde(serialize_with = "ser_duration")]
    pub max_delay: Duration,
    pub jitter: Jitter,
    /// Time allowed for one operation, all attempts and sleeps included.
    #[serde(serialize_with = "ser_duration")]
    pub budget: Duration,
    /// Error kinds worth another attempt.
    #[serde(serialize_with = "ser_kinds")]
    pub on: Vec<ErrorKind>,
}

impl RetryPolicy {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(2);
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(500);
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);
    /// Transient errors: routing, overload, locks and conflicts.
    pub const DEFAULT_ON: &'static [ErrorKind] = &[
        ErrorKind::ServerIsBusy,
        ErrorKind::Unavailable,
        ErrorKind::NotLeader,
        ErrorKind::EpochNotMatch,
        ErrorKind::RegionNotFound,
        ErrorKind::KeyNotInRegion,
        ErrorKind::KeyIsLocked,
        ErrorKind::WriteConflict,
        ErrorKind::Deadlock,
    ];

    pub fn retries(&self, kind: ErrorKind) -> bool {
        self.on.contains(&kind)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_delay: Self::DEFAULT_BASE_DELAY,
            multiplier: Self::DEFAULT_MULTIPLIER,
            max_delay: Self::DEFAULT_MAX_DELAY,
            jitter: Jitter::Full,
            budget: Self::DEFAULT_BUDGET,
            on: Self::DEFAULT_ON.to_vec(),
        }
    }
}

/// A swept parameter and the values it takes, in the order run.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub params: Vec<(SweepParam, Vec<SweepValue>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepParam {
    Lock,
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
    Int(u64),
    Float(f64),
}

impl SweepValue {
    pub fn to_json(self) -> serde_json::Value {
        match self {
            SweepValue::Lock(l) => l.as_str().into(),
            SweepValue::Int(n) => n.into(),
            SweepValue::Float(x) => x.into(),
        }
    }
}

impl std::fmt::Display for SweepValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepValue::Lock(l) => f.write_str(l.as_str()),
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

fn ser_thresholds<S: serde::Serializer>(ts: &[Threshold], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ts.iter().map(|t| t.text.as_str()))
}

fn ser_kinds<S: serde::Serializer>(kinds: &[ErrorKind], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(kinds.iter().map(|k| k.as_str()))
}

/// Collects diagnostics while checking a spec.
struct Checker<'a> {
    diags: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err<T>(&mut self, at: &Sp<T>, message: impl Into<String>) {
        self.diags.push(Diagnostic::at(
            at.referenced.line(),
            at.referenced.column(),
            message,
        ));
    }

    /// Checks `lo <= v <= hi` for a spanned integer and returns it.
    fn int<T: TryFrom<i64> + Default>(&mut self, v: &Sp<i64>, lo: i64, hi: i64, what: &str) -> T {
        let n = v.value;
        if n < lo || n > hi {
            let msg = if hi == i64::MAX {
                format!("{what} must be at least {lo}, got {n}")
            } else {
                format!("{what} must be between {lo} and {hi}, got {n}")
            };
            self.err(v, msg);
            return T::try_from(lo).unwrap_or_default();
        }
        T::try_from(n).unwrap_or_default()
    }

    fn fraction(&mut self, v: &Sp<f64>, lo_open: bool, what: &str) -> f64 {
        let ok = v.value.is_finite()
            && v.value <= 1.0
            && if lo_open {
                v.value > 0.0
            } else {
                v.value >= 0.0
            };
        if !ok {
            let lo = if lo_open { "(0" } else { "[0" };
            self.err(v, format!("{what} must be in {lo}, 1], got {}", v.value));
        }
        v.value
    }

    fn duration(&mut self, v: &Sp<String>, what: &str, allow_zero: bool) -> Duration {
        match humantime::parse_duration(v.value.trim()) {
            Ok(d) if allow_zero || !d.is_zero() => d,
            Ok(_) => {
                self.err(v, format!("{what} must be greater than zero"));
                Duration::from_secs(1)
            }
            Err(e) => {
                self.err(
                    v,
                    format!(
                        "{what}: cannot read '{}' as a duration ({e}); write e.g. 500ms, 2s, 1m",
                        v.value
                    ),
                );
                Duration::from_secs(1)
            }
        }
    }

    /// Reports a field that has no meaning for the chosen op type.
    fn only_for<T>(&mut self, field: &Option<Sp<T>>, name: &str, types: &str, got: OpType) {
        if let Some(f) = field {
            self.err(
                f,
                format!(
                    "'{name}' applies only to {types} ops, not to '{}'",
                    got.as_str()
                ),
            );
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

const NAME_RULE: &str = "use 1-64 letters, digits, '_', '-' or '.'";

/// Checks a parsed spec. Returns the workload, or every problem found.
pub fn validate(spec: WorkloadSpec) -> Result<Workload, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut c = Checker { diags: &mut diags };

    if !valid_name(&spec.name.value) {
        c.err(
            &spec.name,
            format!("invalid name '{}': {NAME_RULE}", spec.name.value),
        );
    }

    let keys = check_keys(&mut c, spec.keys);
    let values = match spec.values.and_then(|v| v.size) {
        Some(sz) => {
            let r = sz.value;
            if r.min < 1 || r.max > MAX_VALUE_SIZE || r.min > r.max {
                c.err(
                    &sz,
                    format!(
                        "value size must satisfy 1 <= min <= max <= {MAX_VALUE_SIZE}, got min {} max {}",
                        r.min, r.max
                    ),
                );
            }
            Values {
                size: SizeRange {
                    min: r.min,
                    max: r.max,
                },
            }
        }
        None => Values {
            size: SizeRange {
                min: DEFAULT_VALUE_SIZE,
                max: DEFAULT_VALUE_SIZE,
            },
        },
    };

    let load = match spec.load {
        Some(l) => Load {
            records: l.records.map_or(keys.records, |r| {
                c.int(&r, 0, keys.records as i64, "load.records")
            }),
            batch: l
                .batch
                .map_or(DEFAULT_LOAD_BATCH, |b| c.int(&b, 1, 100_000, "load.batch")),
            concurrency: l.concurrency.map_or(DEFAULT_LOAD_CONCURRENCY, |n| {
                c.int(&n, 1, 4096, "load.concurrency")
            }),
        },
        None => Load {
            records: keys.records,
            batch: DEFAULT_LOAD_BATCH,
            concurrency: DEFAULT_LOAD_CONCURRENCY,
        },
    };

    let warmup = spec
        .warmup
        .map_or(Duration::ZERO, |w| c.duration(&w, "warmup", true));
    let stop = match (spec.duration, spec.operations) {
        (Some(_), Some(ops)) => {
            c.err(&ops, "give either 'duration' or 'operations', not both");
            Stop::Operations(ops.value.max(1) as u64)
        }
        (Some(d), None) => Stop::Duration(c.duration(&d, "duration", false)),
        (None, Some(ops)) => Stop::Operations(c.int(&ops, 1, i64::MAX, "operations")),
        (None, None) => Stop::Duration(DEFAULT_DURATION),
    };
    let concurrency = spec.concurrency.map_or(DEFAULT_CONCURRENCY, |n| {
        c.int(&n, 1, 100_000, "concurrency")
    });
    let rate = spec.rate.map(|r| {
        if !(r.value.is_finite() && r.value > 0.0) {
            c.err(
                &r,
                format!("rate must be a positive number of ops/s, got {}", r.value),
            );
        }
        r.value
    });

    let ops = check_ops(&mut c, spec.ops, &keys);
    let client = check_client(&mut c, spec.client);
    let cluster = spec
        .cluster
        .map_or_else(ClusterConfig::default, |s| check_cluster(&mut c, s));
    let sweep = spec.sweep.and_then(|s| check_sweep(&mut c, s, &keys, &ops));
    let thresholds = check_thresholds(&mut c, spec.thresholds.unwrap_or_default(), &ops);

    if diags.is_empty() {
        Ok(Workload {
            name: spec.name.value,
            description: spec.description,
            seed: spec.seed.unwrap_or(DEFAULT_SEED),
            keys,
            values,
            load,
            warmup,
            stop,
            concurrency,
            rate,
            ops,
            client,
            cluster,
            sweep,
            thresholds,
        })
    } else {
        Err(diags)
    }
}

fn check_keys(c: &mut Checker, spec: Option<KeysSpec>) -> KeySpace {
    let Some(k) = spec else {
        return KeySpace {
            records: DEFAULT_RECORDS,
            prefix: DEFAULT_PREFIX.into(),
            size: DEFAULT_KEY_SIZE,
            distribution: Distribution::Uniform,
        };
    };
    let records = k
        .records
        .as_ref()
        .map_or(DEFAULT_RECORDS, |r| c.int(r, 1, i64::MAX, "keys.records"));
    let size = k.size.as_ref().map_or(DEFAULT_KEY_SIZE, |s| {
        c.int(s, 1, i64::from(MAX_KEY_SIZE), "keys.size")
    });
    let prefix = k
        .prefix
        .as_ref()
        .map_or(DEFAULT_PREFIX.to_string(), |p| p.value.clone());
    let space = KeySpace {
        records,
        prefix,
        size,
        distribution: Distribution::Uniform,
    };
    let at_prefix = k.prefix.as_ref();
    if space.prefix.len() as u32 >= size {
        let msg = format!(
            "keys.size {size} leaves no room for digits after the {}-byte prefix '{}'",
            space.prefix.len(),
            space.prefix
        );
        match (at_prefix, k.size.as_ref()) {
            (_, Some(s)) => c.err(s, msg),
            (Some(p), None) => c.err(p, msg),
            (None, None) => {}
        }
    } else if space.capacity() < records {
        let msg = format!(
            "{records} records need more than the {} digits that keys.size {size} leaves after the prefix",
            space.digits()
        );
        match (k.records.as_ref(), k.size.as_ref()) {
            (Some(r), _) => c.err(r, msg),
            (None, Some(s)) => c.err(s, msg),
            (None, None) => {}
        }
    }

    let name = k
        .distribution
        .as_ref()
        .map_or(DistributionName::Uniform, |d| d.value);
    let zipf_like = matches!(name, DistributionName::Zipfian | DistributionName::Latest);
    if !zipf_like && let Some(t) = &k.theta {
        c.err(
            t,
            "'theta' applies only to the zipfian and latest distributions",
        );
    }
    if name != DistributionName::Zipfian
        && let Some(s) = &k.scramble
    {
        c.err(s, "'scramble' applies only to the zipfian distribution");
    }
    if name != DistributionName::Hotspot {
        for f in [&k.hot_set, &k.hot_ops].into_iter().flatten() {
            c.err(
                f,
                "'hot_set' and 'hot_ops' apply only to the hotspot distribution",
            );
        }
    }
    let theta = || k.theta.as_ref().map_or(DEFAULT_THETA, |t| t.value);
    if let Some(t) = &k.theta
        && zipf_like
        && !(t.value.is_finite() && t.value > 0.0 && t.value <= 10.0)
    {
        c.err(t, format!("theta must be in (0, 10], got {}", t.value));
    }
    let distribution = match name {
        DistributionName::Uniform => Distribution::Uniform,
        DistributionName::Zipfian => Distribution::Zipfian {
            theta: theta(),
            scramble: k.scramble.as_ref().is_none_or(|s| s.value),
        },
        DistributionName::Latest => Distribution::Latest { theta: theta() },
        DistributionName::Hotspot => Distribution::Hotspot {
            hot_set: k
                .hot_set
                .as_ref()
                .map_or(DEFAULT_HOT_SET, |f| c.fraction(f, true, "hot_set")),
            hot_ops: k
                .hot_ops
                .as_ref()
                .map_or(DEFAULT_HOT_OPS, |f| c.fraction(f, false, "hot_ops")),
        },
        DistributionName::Sequential => Distribution::Sequential,
    };
    KeySpace {
        distribution,
        ..space
    }
}

fn check_ops(c: &mut Checker, ops: Sp<Vec<OpSpec>>, keys: &KeySpace) -> Vec<OpConfig> {
    if ops.value.is_empty() {
        c.err(
            &ops,
            "'ops' is empty; list at least one op (get, put, scan, batch_delete, cas, txn)",
        );
        return Vec::new();
    }
    if ops.value.iter().all(|o| o.weight.value == 0) {
        c.err(
            &ops,
            "every op has weight 0; give at least one op a positive weight",
        );
    }
    let mut out: Vec<OpConfig> = Vec::with_capacity(ops.value.len());
    for o in &ops.value {
        let t = o.op_type.value;
        let name = match &o.name {
            Some(n) => {
                if !valid_name(&n.value) {
                    c.err(n, format!("invalid op name '{}': {NAME_RULE}", n.value));
                }
                if out.iter().any(|p| p.name == n.value) {
                    c.err(
                        n,
                        format!("op name '{}' is used twice; names must be unique", n.value),
                    );
                }
                n.value.clone()
            }
            None => {
                if out.iter().any(|p| p.name == t.as_str()) {
                    c.err(
                        &o.op_type,
                        format!(
                            "a second '{}' op needs a 'name' to tell it apart",
                            t.as_str()
                        ),
                    );
                }
                t.as_str().to_string()
            }
        };
        if !matches!(t, OpType::Put) {
            c.only_for(&o.insert, "insert", "put", t);
        }
        if !matches!(t, OpType::Scan) {
            c.only_for(&o.length, "length", "scan", t);
        }
        if !matches!(t, OpType::BatchDelete) {
            c.only_for(&o.batch, "batch", "batch_delete", t);
        }
        if !matches!(t, OpType::Txn) {
            c.only_for(&o.reads, "reads", "txn", t);
            c.only_for(&o.writes, "writes", "txn", t);
            c.only_for(&o.lock, "lock", "txn", t);
        }
        let kind = match t {
            OpType::Get => OpKind::Get,
            OpType::Cas => OpKind::Cas,
            OpType::Put => OpKind::Put {
                insert: o.insert.as_ref().is_some_and(|i| i.value),
            },
            OpType::Scan => {
                let length = o.length.as_ref().map_or(DEFAULT_SCAN_LENGTH, |l| {
                    if l.value.min < 1 || l.value.min > l.value.max || l.value.max > 100_000 {
                        c.err(
                            l,
                            format!(
                                "scan length must satisfy 1 <= min <= max <= 100000, got min {} max {}",
                                l.value.min, l.value.max
                            ),
                        );
                    }
                    SizeRange { min: l.value.min, max: l.value.max }
                });
                OpKind::Scan { length }
            }
            OpType::BatchDelete => OpKind::BatchDelete {
                batch: o
                    .batch
                    .as_ref()
                    .map_or(DEFAULT_BATCH_DELETE, |b| c.int(b, 1, 10_000, "batch")),
            },
            OpType::Txn => {
                let reads: u32 = o.reads.as_ref().map_or(0, |r| c.int(r, 0, 1000, "reads"));
                let writes: u32 = o
                    .writes
                    .as_ref()
                    .map_or(DEFAULT_TXN_WRITES, |w| c.int(w, 0, 1000, "writes"));
                if reads + writes == 0 {
                    c.err(&o.op_type, "a txn needs at least one read or write");
                } else if u64::from(reads + writes) > keys.records {
                    c.err(
                        &o.op_type,
                        format!(
                            "a txn of {} distinct keys needs at least that many records, the key space has {}",
                            reads + writes,
                            keys.records
                        ),
                    );
                }
                let lock = match o.lock.as_ref().map(|l| l.value) {
                    Some(LockName::Pessimistic) => LockMode::Pessimistic,
                    _ => LockMode::Optimistic,
                };
                OpKind::Txn {
                    reads,
                    writes,
                    lock,
                }
            }
        };
        let weight = c.int(&o.weight, 0, 1_000_000, "weight");
        out.push(OpConfig { name, kind, weight });
    }
    out
}

fn check_client(c: &mut Checker, spec: Option<ClientSpec>) -> ClientConfig {
    let Some(s) = spec else {
        return ClientConfig::default();
    };
    let d = ClientConfig::default();
    let pool_size = s
        .pool_size
        .map_or(d.pool_size, |p| c.int(&p, 1, 1024, "client.pool_size"));
    let connect_timeout = s.connect_timeout.map_or(d.connect_timeout, |t| {
        c.duration(&t, "client.connect_timeout", false)
    });
    let request_timeout = s.request_timeout.map_or(d.request_timeout, |t| {
        c.duration(&t, "client.request_timeout", false)
    });
    let retry = match s.retry {
        None => RetryPolicy::default(),
        Some(r) => check_retry(c, r),
    };
    ClientConfig {
        pool_size,
        connect_timeout,
        request_timeout,
        retry,
    }
}

fn check_retry(c: &mut Checker, r: RetrySpec) -> RetryPolicy {
    let d = RetryPolicy::default();
    let base_delay = r
        .base_delay
        .as_ref()
        .map_or(d.base_delay, |v| c.duration(v, "retry.base_delay", true));
    let max_delay = r
        .max_delay
        .as_ref()
        .map_or(d.max_delay, |v| c.duration(v, "retry.max_delay", true));
    if base_delay > max_delay
        && let Some(v) = r.base_delay.as_ref().or(r.max_delay.as_ref())
    {
        c.err(
            v,
            format!(
                "retry.base_delay ({}) must not exceed retry.max_delay ({})",
                humantime::format_duration(base_delay),
                humantime::format_duration(max_delay)
            ),
        );
    }
    let multiplier = r.multiplier.as_ref().map_or(d.multiplier, |m| {
        if !(m.value.is_finite() && (1.0..=100.0).contains(&m.value)) {
            c.err(
                m,
                format!(
                    "retry.multiplier must be between 1 and 100, got {}",
                    m.value
                ),
            );
        }
        m.value
    });
    let on = match r.on {
        None => d.on.clone(),
        Some(names) => {
            let mut kinds = Vec::new();
            for n in &names {
                match ErrorKind::from_name(n.value.trim()) {
                    Some(k) if !kinds.contains(&k) => kinds.push(k),
                    Some(_) => {}
                    None => c.err(
                        n,
                        format!(
                            "unknown error kind '{}'; choose from: {}",
                            n.value,
                            ErrorKind::choices()
                        ),
                    ),
                }
            }
            kinds
        }
    };
    RetryPolicy {
        max_attempts: r
            .max_attempts
            .as_ref()
            .map_or(d.max_attempts, |m| c.int(m, 1, 1000, "retry.max_attempts")),
        base_delay,
        multiplier,
        max_delay,
        jitter: match r.jitter.map(|j| j.value) {
            None => d.jitter,
            Some(JitterName::None) => Jitter::None,
            Some(JitterName::Full) => Jitter::Full,
            Some(JitterName::Equal) => Jitter::Equal,
        },
        budget: r
            .budget
            .as_ref()
            .map_or(d.budget, |b| c.duration(b, "retry.budget", false)),
        on,
    }
}

/// Upper bound on the cells of one sweep.
pub const MAX_SWEEP_CELLS: usize = 1000;

fn check_sweep(c: &mut Checker, s: SweepSpec, keys: &KeySpace, ops: &[OpConfig]) -> Option<Sweep> {
    let mut params: Vec<(SweepParam, Vec<SweepValue>)> = Vec::new();
    let dist = keys.distribution.name();
    // Each parameter: its values checked one by one, and whether it means
    // anything for this workload at all.
    if let Some(v) = s.lock {
        if !ops.iter().any(|o| o.kind.transactional()) {
            c.err(&v, "sweeping 'lock' needs at least one txn op");
        }
        let vals = v
            .value
            .iter()
            .map(|l| {
                SweepValue::Lock(match l {
                    LockName::Optimistic => LockMode::Optimistic,
                    LockName::Pessimistic => LockMode::Pessimistic,
                })
            })
            .collect();
        params.push((SweepParam::Lock, vals));
    }
    let ints =
        |c: &mut Checker, v: &Sp<Vec<Sp<i64>>>, lo: i64, hi: i64, what: &str| -> Vec<SweepValue> {
            v.value
                .iter()
                .map(|x| SweepValue::Int(c.int::<u64>(x, lo, hi, what)))
                .collect()
        };
    if let Some(v) = &s.concurrency {
        params.push((
            SweepParam::Concurrency,
            ints(c, v, 1, 100_000, "sweep.concurrency"),
        ));
    }
    if let Some(v) = &s.rate {
        let vals = v
            .value
            .iter()
            .map(|r| {
                if !(r.value.is_finite() && r.value > 0.0) {
                    c.err(
                        r,
                        format!("sweep.rate values must be positive ops/s, got {}", r.value),
                    );
                }
                SweepValue::Float(r.value)
            })
            .collect();
        params.push((SweepParam::Rate, vals));
    }
    if let Some(v) = &s.theta {
        if !matches!(
            keys.distribution,
            Distribution::Zipfian { .. } | Distribution::Latest { .. }
        ) {
            c.err(
                v,
                format!("sweeping 'theta' needs the zipfian or latest distribution, not {dist}"),
            );
        }
        let vals = v
            .value
            .iter()
            .map(|t| {
                if !(t.value.is_finite() && t.value > 0.0 && t.value <= 10.0) {
                    c.err(t, format!("theta must be in (0, 10], got {}", t.value));
                }
                SweepValue::Float(t.value)
            })
            .collect();
        params.push((SweepParam::Theta, vals));
    }
    for (param, spec, lo_open) in [
        (SweepParam::HotSet, &s.hot_set, true),
        (SweepParam::HotOps, &s.hot_ops, false),
    ] {
        let Some(v) = spec else { continue };
        if !matches!(keys.distribution, Distribution::Hotspot { .. }) {
            c.err(
                v,
                format!(
                    "sweeping '{}' needs the hotspot distribution, not {dist}",
                    param.as_str()
                ),
            );
        }
        let vals = v
            .value
            .iter()
            .map(|f| SweepValue::Float(c.fraction(f, lo_open, param.as_str())))
            .collect();
        params.push((param, vals));
    }
    if let Some(v) = &s.pool_size {
        params.push((SweepParam::PoolSize, ints(c, v, 1, 1024, "sweep.pool_size")));
    }
    let mut cells = 1usize;
    for (p, vals) in &params {
        if vals.is_empty() {
            c.diags.push(Diagnostic::at(
                0,
                0,
                format!("sweep.{} lists no values", p.as_str()),
            ));
        }
        cells = cells.saturating_mul(vals.len().max(1));
    }
    if cells > MAX_SWEEP_CELLS {
        c.diags.push(Diagnostic::at(
            0,
            0,
            format!("the sweep has {cells} combinations; at most {MAX_SWEEP_CELLS} are allowed"),
        ));
    }
    if params.is_empty() {
        None
    } else {
        Some(Sweep { params })
    }
}

fn check_cluster(c: &mut Checker, s: ClusterSpec) -> ClusterConfig {
    let d = ClusterConfig::default();
    let stores: u32 = s
        .stores
        .as_ref()
        .map_or(d.stores, |n| c.int(n, 1, 16, "cluster.stores"));
    let region_max_keys = s.region_max_keys.as_ref().map_or(d.region_max_keys, |n| {
        c.int(n, 10, i64::MAX, "cluster.region_max_keys")
    });
    let lock_wait_timeout = s
        .lock_wait_timeout
        .as_ref()
        .map_or(d.lock_wait_timeout, |t| {
            let v = c.duration(t, "cluster.lock_wait_timeout", false);
            if v > Duration::from_secs(60) {
                c.err(t, "cluster.lock_wait_timeout must be at most 60s");
            }
            v
        });
    let faults = match s.faults {
        None => Faults::default(),
        Some(f) => Faults {
            split_every: f
                .split_every
                .as_ref()
                .map(|v| c.duration(v, "faults.split_every", false)),
            transfer_leader_every: f
                .transfer_leader_every
                .as_ref()
                .map(|v| c.duration(v, "faults.transfer_leader_every", false)),
            store_offline: f.store_offline.map(|o| Outage {
                store: c.int(&o.store, 1, i64::from(stores), "faults.store_offline.store"),
                after: c.duration(&o.after, "faults.store_offline.after", true),
                duration: c.duration(&o.duration, "faults.store_offline.for", false),
                failover: o.failover.as_ref().map_or(Outage::DEFAULT_FAILOVER, |v| {
                    c.duration(v, "faults.store_offline.failover", true)
                }),
            }),
            busy: f.busy.as_ref().map_or(0.0, |b| {
                if !(b.value.is_finite() && (0.0..1.0).contains(&b.value)) {
                    c.err(
                        b,
                        format!("faults.busy is a probability in [0, 1), got {}", b.value),
                    );
                }
                b.value
            }),
            latency: f
                .latency
                .as_ref()
                .map_or(Duration::ZERO, |v| c.duration(v, "faults.latency", true)),
        },
    };
    ClusterConfig {
        stores,
        region_max_keys,
        lock_wait_timeout,
        faults,
    }
}

fn check_thresholds(c: &mut Checker, texts: Vec<Sp<String>>, ops: &[OpConfig]) -> Vec<Threshold> {
    let names: Vec<(&str, &str)> = ops
        .iter()
        .map(|o| (o.name.as_str(), o.kind.type_name()))
        .collect();
    texts
        .iter()
        .filter_map(|t| {
            match Threshold::parse(&t.value).and_then(|th| th.check_op(&names).map(|()| th)) {
                Ok(th) => Some(th),
                Err(msg) => {
                    c.err(t, msg);
                    None
                }
            }
        })
        .collect()
}

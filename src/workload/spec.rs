//! The workload file as written: plain serde types, every field optional
//! where the schema has a default, unknown fields rejected. Values that need
//! checking beyond their type keep their position (`Spanned`) so that
//! `check` can point at them. Nothing here is interpreted; see `checked.rs`.

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

pub use super::checks::ChecksSpec;
use super::ops::{self, FieldValue};
use crate::client::config::TransportKind;
use crate::vocab::{ApiVersion, CommitMode};

pub type Sp<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: Sp<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub keys: Option<KeysSpec>,
    pub values: Option<ValuesSpec>,
    pub load: Option<LoadSpec>,
    pub warmup: Option<Sp<String>>,
    pub duration: Option<Sp<String>>,
    pub operations: Option<Sp<i64>>,
    pub concurrency: Option<Sp<i64>>,
    pub rate: Option<Sp<f64>>,
    pub ops: Sp<Vec<OpSpec>>,
    pub client: Option<ClientSpec>,
    pub cluster: Option<ClusterSpec>,
    pub sweep: Option<SweepSpec>,
    /// Pass/fail conditions such as `p99 of read < 20ms`, each a string or
    /// `{threshold: "...", abort_on_fail: true, delay: 5s}`.
    pub thresholds: Option<Vec<Sp<ThresholdSpec>>>,
    /// Invariant checks run with the workload.
    pub checks: Option<Sp<ChecksSpec>>,
    /// Load stages run one after another (see `StageSpec`).
    pub stages: Option<Sp<Vec<Sp<StageSpec>>>>,
    /// The search for the highest open-loop rate that meets an SLO.
    pub search: Option<Sp<SearchSpec>>,
}

/// A threshold as written: `p99 of read < 20ms`, or the map form that
/// can stop the run at the first miss.
#[derive(Debug)]
pub enum ThresholdSpec {
    Text(String),
    Map {
        threshold: Option<Sp<String>>,
        abort_on_fail: Option<Sp<bool>>,
        delay: Option<Sp<String>>,
    },
}

/// The keys of a threshold's map form.
pub const THRESHOLD_KEYS: &[&str] = &["threshold", "abort_on_fail", "delay"];

impl<'de> Deserialize<'de> for ThresholdSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThresholdSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a threshold ('p99 of read < 20ms') or a map {threshold: T, abort_on_fail: true, delay: D}",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThresholdSpec, E> {
                Ok(ThresholdSpec::Text(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThresholdSpec, A::Error> {
                let (mut threshold, mut abort_on_fail, mut delay) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "threshold" => threshold = Some(map.next_value()?),
                        "abort_on_fail" => abort_on_fail = Some(map.next_value()?),
                        "delay" => delay = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, THRESHOLD_KEYS)),
                    }
                }
                Ok(ThresholdSpec::Map {
                    threshold,
                    abort_on_fail,
                    delay,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// One load stage as written: a level (`rate` or `concurrency`), held or
/// ramped to over a duration, the first `warmup` of it not measured.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub rate: Option<Sp<f64>>,
    pub concurrency: Option<Sp<i64>>,
    pub hold: Option<Sp<String>>,
    pub ramp: Option<Sp<String>>,
    pub warmup: Option<Sp<String>>,
}

/// The SLO search as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    pub slo: Option<Sp<SloSpec>>,
    pub start: Option<Sp<f64>>,
    pub factor: Option<Sp<f64>>,
    pub step: Option<Sp<f64>>,
    pub max: Option<Sp<f64>>,
    pub hold: Option<Sp<String>>,
    pub warmup: Option<Sp<String>>,
    pub precision: Option<Sp<RatioSpec>>,
    pub max_steps: Option<Sp<i64>>,
    pub max_error_rate: Option<Sp<RatioSpec>>,
}

/// A search's SLO: one condition, or a list that must all hold.
#[derive(Debug)]
pub enum SloSpec {
    One(String),
    All(Vec<Sp<String>>),
}

impl<'de> Deserialize<'de> for SloSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SloSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a condition ('p99 of read < 10ms') or a list of them")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SloSpec, E> {
                Ok(SloSpec::One(v.to_string()))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<SloSpec, A::Error> {
                let mut all = Vec::new();
                while let Some(t) = seq.next_element()? {
                    all.push(t);
                }
                Ok(SloSpec::All(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// A fraction written as a number (`0.05`) or a percentage (`5%`).
#[derive(Debug, Clone)]
pub enum RatioSpec {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RatioSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RatioSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a fraction (0.05) or a percentage (5%)")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RatioSpec, E> {
                Ok(RatioSpec::Number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RatioSpec, E> {
                Ok(RatioSpec::Number(v as f64))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RatioSpec, E> {
                Ok(RatioSpec::Number(v as f64))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RatioSpec, E> {
                Ok(RatioSpec::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// How a check op reaches its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckModeName {
    Cas,
    Optimistic,
    Pessimistic,
}

/// The embedded stand-in cluster (ignored when running against another
/// target).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub stores: Option<Sp<i64>>,
    pub region_max_keys: Option<Sp<i64>>,
    pub lock_wait_timeout: Option<Sp<String>>,
    /// Add a TiFlash store holding a learner of every region.
    pub tiflash: Option<Sp<bool>>,
    /// How long old MVCC versions stay readable (the GC safe point trails
    /// now by this much).
    pub gc_life_time: Option<Sp<String>>,
    /// The stand-in's `storage.api-version` (default: the client's).
    pub api_version: Option<Sp<ApiVersion>>,
    /// Keyspaces PD knows besides DEFAULT (default: the client's).
    pub keyspaces: Option<Vec<Sp<String>>>,
    pub faults: Option<FaultsSpec>,
    /// Serve TLS: the CA that client certificates must be signed by
    /// (mutual TLS when given), the stand-in's certificate and key; paths
    /// relative to the workload file's directory.
    pub ca: Option<Sp<String>>,
    pub cert: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    pub split_every: Option<Sp<String>>,
    pub transfer_leader_every: Option<Sp<String>>,
    pub store_offline: Option<OutageSpec>,
    pub busy: Option<Sp<f64>>,
    /// A window of ServerIsBusy answers: `{after: D, for: D, probability: P}`.
    pub busy_burst: Option<BusyBurstSpec>,
    pub busy_backoff: Option<Sp<String>>,
    /// One duration for every request, or `{read: D, write: D}`.
    pub latency: Option<Sp<LatencySpec>>,
    pub queue_wait: Option<Sp<String>>,
    pub pair_error: Option<Sp<f64>>,
    /// The `transport_layer_load` the stores report to BatchCommands clients.
    pub transport_load: Option<Sp<i64>>,
}

/// The latency fault as written: one duration (`2ms`) for every request,
/// or one per cost class (`{read: 500us, write: 2ms}`, either may be left
/// out: zero), optionally at one store only (`store: 2`).
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per workload file, read once; boxing would only add noise"
)]
pub enum LatencySpec {
    Same(String),
    Split {
        read: Option<Sp<String>>,
        write: Option<Sp<String>>,
        store: Option<Sp<i64>>,
    },
}

impl<'de> Deserialize<'de> for LatencySpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LatencySpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration (2ms) or a map {read: D, write: D, store: N}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<LatencySpec, E> {
                Ok(LatencySpec::Same(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LatencySpec, A::Error> {
                let (mut read, mut write, mut store) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "read" => read = Some(map.next_value()?),
                        "write" => write = Some(map.next_value()?),
                        "store" => store = Some(map.next_value()?),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["read", "write", "store"],
                            ));
                        }
                    }
                }
                Ok(LatencySpec::Split { read, write, store })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    pub store: Sp<i64>,
    pub after: Sp<String>,
    #[serde(rename = "for")]
    pub duration: Sp<String>,
    pub failover: Option<Sp<String>>,
}

/// The busy burst as written: `probability` in (0, 1], default 1.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusyBurstSpec {
    pub after: Sp<String>,
    #[serde(rename = "for")]
    pub duration: Sp<String>,
    pub probability: Option<Sp<f64>>,
}

/// Parameters to vary: `run` executes every combination of the values
/// listed, on the same seed. Parameters are applied in this field order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Lock mode of every txn op (and of the bank check).
    pub lock: Option<Sp<Vec<LockName>>>,
    /// Commit mode (`2pc`, `async`, `1pc`) of every txn op and of the bank
    /// and inventory checks.
    pub commit: Option<Sp<Vec<CommitMode>>>,
    pub concurrency: Option<Sp<Vec<Sp<i64>>>>,
    pub rate: Option<Sp<Vec<Sp<f64>>>>,
    pub theta: Option<Sp<Vec<Sp<f64>>>>,
    pub hot_set: Option<Sp<Vec<Sp<f64>>>>,
    pub hot_ops: Option<Sp<Vec<Sp<f64>>>>,
    pub pool_size: Option<Sp<Vec<Sp<i64>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributionName {
    Uniform,
    Zipfian,
    Latest,
    Hotspot,
    Sequential,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSpec {
    pub records: Option<Sp<i64>>,
    pub prefix: Option<Sp<String>>,
    pub txn_prefix: Option<Sp<String>>,
    pub size: Option<Sp<i64>>,
    pub distribution: Option<Sp<DistributionName>>,
    pub theta: Option<Sp<f64>>,
    pub scramble: Option<Sp<bool>>,
    pub hot_set: Option<Sp<f64>>,
    pub hot_ops: Option<Sp<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuesSpec {
    pub size: Option<Sp<RangeSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub records: Option<Sp<i64>>,
    pub batch: Option<Sp<i64>>,
    pub concurrency: Option<Sp<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockName {
    Optimistic,
    Pessimistic,
}

/// One entry of the op mix: its name, type and weight, and the fields its
/// type takes, each with its position. Which fields a type takes is its
/// own file's business (`ops/`): the parser refuses only a field that no
/// type takes, and keeps the others for the type's file to check.
#[derive(Debug)]
pub struct OpSpec {
    pub name: Option<Sp<String>>,
    pub op_type: Sp<String>,
    pub weight: Sp<i64>,
    pub fields: Vec<(String, Sp<FieldValue>)>,
}

impl<'de> Deserialize<'de> for OpSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OpSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an op: a map with type, weight and the type's fields")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OpSpec, A::Error> {
                let (mut name, mut op_type, mut weight) = (None, None, None);
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = Some(map.next_value()?),
                        "type" => op_type = Some(map.next_value()?),
                        "weight" => weight = Some(map.next_value()?),
                        k if ops::is_field(k) => fields.push((key, map.next_value()?)),
                        k => return Err(de::Error::unknown_field(k, ops::spec_keys())),
                    }
                }
                Ok(OpSpec {
                    name,
                    op_type: op_type.ok_or_else(|| de::Error::missing_field("type"))?,
                    weight: weight.ok_or_else(|| de::Error::missing_field("weight"))?,
                    fields,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    pub pool_size: Option<Sp<i64>>,
    pub connect_timeout: Option<Sp<String>>,
    pub request_timeout: Option<Sp<String>>,
    pub retry: Option<RetrySpec>,
    pub atomic: Option<Sp<bool>>,
    pub api_version: Option<Sp<ApiVersion>>,
    pub keyspace: Option<Sp<String>>,
    /// TLS, as client-go's security config: the CA that signed the
    /// servers' certificates, and (mutual TLS) the client's certificate and
    /// key; paths relative to the workload file's directory.
    pub ca: Option<Sp<String>>,
    pub cert: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
    /// `unary` or `batch` (BatchCommands), and the batching knobs.
    pub transport: Option<Sp<TransportKind>>,
    pub max_batch_size: Option<Sp<i64>>,
    pub max_batch_wait: Option<Sp<String>>,
    pub overload_threshold: Option<Sp<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterName {
    None,
    Full,
    Equal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    pub max_attempts: Option<Sp<i64>>,
    pub base_delay: Option<Sp<String>>,
    pub multiplier: Option<Sp<f64>>,
    pub max_delay: Option<Sp<String>>,
    pub jitter: Option<Sp<JitterName>>,
    pub budget: Option<Sp<String>>,
    pub on: Option<Vec<Sp<String>>>,
}

/// A size: either one number or `{min: A, max: B}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeSpec {
    pub min: u64,
    pub max: u64,
}

impl<'de> Deserialize<'de> for RangeSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RangeSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a map {min: N, max: M}")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RangeSpec, E> {
                Ok(RangeSpec { min: v, max: v })
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RangeSpec, E> {
                u64::try_from(v)
                    .map(|v| RangeSpec { min: v, max: v })
                    .map_err(|_| E::custom(format!("size must not be negative, got {v}")))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RangeSpec, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<u64>()?),
                        "max" => max = Some(map.next_value::<u64>()?),
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                let min = min.ok_or_else(|| de::Error::missing_field("min"))?;
                let max = max.ok_or_else(|| de::Error::missing_field("max"))?;
                Ok(RangeSpec { min, max })
            }
        }
        d.deserialize_any(V)
    }
}

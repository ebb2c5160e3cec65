//! The sections a result carries beside its figures, each written by the
//! part of the tool that knows it: the invariant checks' verdicts (driver),
//! the cluster at start and end (cli, for the embedded and external
//! targets), the shard (driver), the sweep cell (cli), the thresholds'
//! verdicts (cli), and how many results a merge added up (merge). Each is
//! an optional top-level key of `result.json`; docs/result.schema.json
//! describes them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::workload::SweepValue;
use crate::workload::sweep::Cell;

/// The cluster a run drove, at its start and its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The PD endpoints the run was given (or the embedded cluster's PD).
    pub pd: Vec<String>,
    /// The cluster as its snapshot describes it: regions, stores, and what
    /// the embedded cluster or our client counted. Free-form JSON: the
    /// embedded cluster and PD describe themselves differently, a failed
    /// snapshot is `{"error": "..."}`, and the snapshots are built by the
    /// `cluster` and `client` modules, which this one does not import.
    pub start: serde_json::Value,
    pub end: serde_json::Value,
}

/// This driver's part of a workload run by several (`run --shard I/N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Counted from 1, as `--shard` takes it.
    pub index: u32,
    pub count: u32,
    /// The global numbers of this driver's workers: `[first, end)`.
    pub workers: [u64; 2],
    /// The id the drivers of one sharded run share (`run --run-id`): a
    /// merge refuses shards of different runs, and `--results-dir` files
    /// each shard's result under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// Which of several runs of the same workload (or sweep cell) a result is
/// (`run --repeat N`): a comparison shows their median and spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatInfo {
    /// Counted from 1.
    pub index: u32,
    pub count: u32,
}

/// The sweep cell a result is (a run of a workload with a `sweep:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepInfo {
    /// `lock=optimistic,hot_set=0.02`: the values, in sweep order.
    pub id: String,
    /// Each swept parameter with its value here, in sweep order.
    #[serde(with = "ordered_map")]
    pub values: Vec<(String, SweptValue)>,
}

impl SweepInfo {
    /// The section of the result of `cell`.
    pub fn of(cell: &Cell) -> SweepInfo {
        SweepInfo {
            id: cell.id.clone(),
            values: cell
                .values
                .iter()
                .map(|(p, v)| (p.as_str().to_string(), SweptValue::from(*v)))
                .collect(),
        }
    }

    /// The value of parameter `name` in this cell.
    pub fn value(&self, name: &str) -> Option<&SweptValue> {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A swept value as the result stores it: a lock or commit mode as text, a number as
/// written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SweptValue {
    Number(serde_json::Number),
    Text(String),
}

impl SweptValue {
    /// The number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SweptValue::Number(n) => n.as_f64(),
            SweptValue::Text(_) => None,
        }
    }

    /// The text, when it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SweptValue::Text(s) => Some(s),
            SweptValue::Number(_) => None,
        }
    }
}

impl From<SweepValue> for SweptValue {
    fn from(v: SweepValue) -> SweptValue {
        match v {
            SweepValue::Lock(l) => SweptValue::Text(l.as_str().into()),
            SweepValue::Commit(m) => SweptValue::Text(m.as_str().into()),
            SweepValue::Int(n) => SweptValue::Number(n.into()),
            // Swept floats are checked finite when the workload is read;
            // anything else would have no JSON number.
            SweepValue::Float(x) => serde_json::Number::from_f64(x)
                .map_or_else(|| SweptValue::Text(x.to_string()), SweptValue::Number),
        }
    }
}

/// Text bare, numbers as written.
impl fmt::Display for SweptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweptValue::Number(n) => write!(f, "{n}"),
            SweptValue::Text(s) => f.write_str(s),
        }
    }
}

/// A threshold judged against a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdVerdict {
    /// The condition as the workload writes it: `p99 of read < 20ms`.
    pub threshold: String,
    /// The measured value, as a person reads it.
    pub measured: String,
    pub passed: bool,
}

impl fmt::Display for ThresholdVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "pass" } else { "FAIL" };
        write!(f, "{mark}: {} (measured {})", self.threshold, self.measured)
    }
}

/// A list of (key, value) pairs as a JSON object, keeping their order.
mod ordered_map {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde::ser::{SerializeMap, Serializer};

    pub fn serialize<S: Serializer, V: serde::Serialize>(
        pairs: &[(String, V)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<(String, V)>, D::Error> {
        struct Pairs<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Pairs<V> {
            type Value = Vec<(String, V)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Pairs(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_cell_keeps_its_order_and_its_numbers_as_written() {
        let text = r#"{"id":"lock=pessimistic,hot_set=0.02,concurrency=8","values":{"lock":"pessimistic","hot_set":0.02,"concurrency":8}}"#;
        let s: SweepInfo = serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = s.values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["lock", "hot_set", "concurrency"]);
        assert_eq!(
            s.value("lock").and_then(SweptValue::as_str),
            Some("pessimistic")
        );
        assert_eq!(s.value("hot_set").and_then(SweptValue::as_f64), Some(0.02));
        assert_eq!(s.value("concurrency").unwrap().to_string(), "8");
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
    }
}

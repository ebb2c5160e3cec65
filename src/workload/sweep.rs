//! Sweeps: one workload, several runs. A `sweep:` section lists values for
//! some parameters; every combination is a cell, run on the same seed, so
//! the cells differ only in the swept values.

use super::{ClientConfig, Distribution, OpKind, SweepParam, SweepValue, Workload};

/// One combination of swept values, and the workload it gives.
#[derive(Debug, Clone)]
pub struct Cell {
    /// `lock=optimistic,hot_set=0.02`: the values, in sweep order.
    pub id: String,
    pub values: Vec<(SweepParam, SweepValue)>,
    pub workload: Workload,
}

impl Cell {
    /// A directory name for the cell: the id with path-safe separators.
    pub fn dir_name(&self) -> String {
        self.id.replace('=', "-").replace(',', "_")
    }

    /// The `extra.sweep` block of the cell's result.
    pub fn to_json(&self) -> serde_json::Value {
        let values: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(p, v)| (p.as_str().to_string(), v.to_json()))
            .collect();
        serde_json::json!({ "id": self.id, "values": values })
    }
}

impl Workload {
    /// Every cell of the sweep, the first parameter varying slowest; a
    /// workload without a sweep has none.
    pub fn cells(&self) -> Vec<Cell> {
        let Some(sweep) = &self.sweep else {
            return Vec::new();
        };
        let mut base = self.clone();
        base.sweep = None;
        let mut cells = vec![Cell {
            id: String::new(),
            values: Vec::new(),
            workload: base,
        }];
        for (param, values) in &sweep.params {
            cells = cells
                .into_iter()
                .flat_map(|cell| {
                    values.iter().map(move |v| {
                        let mut next = cell.clone();
                        apply(&mut next.workload, *param, *v);
                        next.values.push((*param, *v));
                        next.id = next
                            .values
                            .iter()
                            .map(|(p, v)| format!("{}={v}", p.as_str()))
                            .collect::<Vec<_>>()
                            .join(",");
                        next
                    })
                })
                .collect();
        }
        cells
    }
}

/// Sets one swept value. Values were checked against the workload when it
/// was parsed, so each applies.
fn apply(w: &mut Workload, param: SweepParam, value: SweepValue) {
    match (param, value) {
        (SweepParam::Lock, SweepValue::Lock(mode)) => {
            for op in &mut w.ops {
                if let OpKind::Txn { lock, .. } = &mut op.kind {
                    *lock = mode;
                }
            }
        }
        (SweepParam::Concurrency, SweepValue::Int(n)) => w.concurrency = n as u32,
        (SweepParam::Rate, SweepValue::Float(r)) => w.rate = Some(r),
        (SweepParam::Theta, SweepValue::Float(t)) => match &mut w.keys.distribution {
            Distribution::Zipfian { theta, .. } | Distribution::Latest { theta } => *theta = t,
            _ => {}
        },
        (SweepParam::HotSet, SweepValue::Float(f)) => {
            if let Distribution::Hotspot { hot_set, .. } = &mut w.keys.distribution {
                *hot_set = f;
            }
        }
        (SweepParam::HotOps, SweepValue::Float(f)) => {
            if let Distribution::Hotspot { hot_ops, .. } = &mut w.keys.distribution {
                *hot_ops = f;
            }
        }
        (SweepParam::PoolSize, SweepValue::Int(n)) => {
            w.client = ClientConfig {
                pool_size: n as u32,
                ..w.client.clone()
            };
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LockMode;

    #[test]
    fn cells_cover_every_combination_in_order() {
        let w = Workload::parse(
            "name: s\nkeys: {distribution: hotspot}\nops: [{type: txn, weight: 1}]\nsweep:\n  lock: [optimistic, pessimistic]\n  hot_set: [0.5, 0.1, 0.01]\n",
            "s.yaml",
        )
        .unwrap();
        let cells = w.cells();
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lock=optimistic,hot_set=0.5",
                "lock=optimistic,hot_set=0.1",
                "lock=optimistic,hot_set=0.01",
                "lock=pessimistic,hot_set=0.5",
                "lock=pessimistic,hot_set=0.1",
                "lock=pessimistic,hot_set=0.01",
            ]
        );
        let last = &cells[5].workload;
        assert!(last.sweep.is_none());
        assert_eq!(last.seed, w.seed);
        assert!(matches!(
            last.ops[0].kind,
            OpKind::Txn {
                lock: LockMode::Pessimistic,
                ..
            }
        ));
        assert!(
            matches!(last.keys.distribution, Distribution::Hotspot { hot_set, .. } if hot_set == 0.01)
        );
        assert_eq!(cells[1].dir_name(), "lock-optimistic_hot_set-0.1");
        assert_eq!(cells[1].to_json()["values"]["hot_set"], 0.1);
    }

    #[test]
    fn sweeps_that_cannot_apply_are_refused_with_positions() {
        let err = Workload::parse(
            "name: s\nops: [{type: get, weight: 1}]\nsweep:\n  lock: [optimistic]\n  theta: [0.5]\n  concurrency: [4, 0]\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("s.yaml:4:9: sweeping 'lock' needs at least one txn op"),
            "{err}"
        );
        assert!(
            err.contains("s.yaml:5:10: sweeping 'theta' needs the zipfian or latest distribution"),
            "{err}"
        );
        assert!(
            err.contains("s.yaml:6:20: sweep.concurrency must be between 1 and 100000, got 0"),
            "{err}"
        );
        let err = Workload::parse(
            "name: s\nops: [{type: get, weight: 1}]\nsweep: {speed: [1]}\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("unknown field `speed`, expected one of lock, concurrency, rate"),
            "{err}"
        );
    }
}

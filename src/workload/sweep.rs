//! Sweeps: one workload, several runs. A `sweep:` section lists values for
//! some parameters; every combination is a cell, run on the same seed, so
//! the cells differ only in the swept values.

use super::ops::txn;
use super::spec::{LockName, Sp, SweepSpec};
use super::validate::Checker;
use super::{
    Checks, ClientConfig, Diagnostic, Distribution, KeySpace, OpConfig, OpKind, Sweep, SweepParam,
    SweepValue, Workload,
};
use crate::vocab::{CheckMode, CommitMode, LockMode};

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

    /// The cell as JSON (`id`, `values`): its entry in a sweep's `index.json`.
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
                if let OpKind::Txn(txn::TxnParams { lock, .. }) = &mut op.kind {
                    *lock = mode;
                }
            }
            if let Some(bank) = &mut w.checks.bank {
                bank.lock = mode;
            }
        }
        (SweepParam::Commit, SweepValue::Commit(mode)) => {
            for op in &mut w.ops {
                if let OpKind::Txn(txn::TxnParams { commit, .. }) = &mut op.kind {
                    *commit = mode;
                }
            }
            if let Some(bank) = &mut w.checks.bank {
                bank.commit = mode;
            }
            if let Some(inventory) = &mut w.checks.inventory {
                inventory.commit = mode;
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

/// Upper bound on the cells of one sweep.
pub const MAX_SWEEP_CELLS: usize = 1000;

pub(super) fn check_sweep(
    c: &mut Checker,
    s: SweepSpec,
    keys: &KeySpace,
    ops: &[OpConfig],
    checks: &Checks,
) -> Option<Sweep> {
    let mut params: Vec<(SweepParam, Vec<SweepValue>)> = Vec::new();
    // Each parameter: its values checked one by one, and whether it means
    // anything for this workload at all.
    if let Some(v) = s.lock {
        params.push((SweepParam::Lock, sweep_lock(c, &v, ops, checks)));
    }
    if let Some(v) = s.commit {
        params.push((SweepParam::Commit, sweep_commit(c, &v, ops, checks)));
    }
    if let Some(v) = &s.concurrency {
        params.push((
            SweepParam::Concurrency,
            ints(c, v, (1, 100_000), "sweep.concurrency"),
        ));
    }
    if let Some(v) = &s.rate {
        params.push((SweepParam::Rate, sweep_rate(c, v)));
    }
    if let Some(v) = &s.theta {
        params.push((SweepParam::Theta, sweep_theta(c, v, keys)));
    }
    for (param, spec, lo_open) in [
        (SweepParam::HotSet, &s.hot_set, true),
        (SweepParam::HotOps, &s.hot_ops, false),
    ] {
        if let Some(v) = spec {
            params.push((param, sweep_fraction(c, v, param, lo_open, keys)));
        }
    }
    if let Some(v) = &s.pool_size {
        params.push((
            SweepParam::PoolSize,
            ints(c, v, (1, 1024), "sweep.pool_size"),
        ));
    }
    check_cells(c, &params);
    if params.is_empty() {
        None
    } else {
        Some(Sweep { params })
    }
}

fn sweep_lock(
    c: &mut Checker,
    v: &Sp<Vec<LockName>>,
    ops: &[OpConfig],
    checks: &Checks,
) -> Vec<SweepValue> {
    if !ops.iter().any(|o| matches!(o.kind, OpKind::Txn(_))) && checks.bank.is_none() {
        c.err(
            v,
            "sweeping 'lock' needs at least one txn op or the bank check",
        );
    }
    v.value
        .iter()
        .map(|l| {
            SweepValue::Lock(match l {
                LockName::Optimistic => LockMode::Optimistic,
                LockName::Pessimistic => LockMode::Pessimistic,
            })
        })
        .collect()
}

/// The commit modes to sweep. They mean something only for transactions:
/// txn ops, the bank check's transfers, the inventory check's decrements
/// when they are transactional (`cas` decrements ignore it).
fn sweep_commit(
    c: &mut Checker,
    v: &Sp<Vec<CommitMode>>,
    ops: &[OpConfig],
    checks: &Checks,
) -> Vec<SweepValue> {
    let txn_inventory = checks
        .inventory
        .as_ref()
        .is_some_and(|i| i.mode != CheckMode::Cas);
    if !ops.iter().any(|o| matches!(o.kind, OpKind::Txn(_)))
        && checks.bank.is_none()
        && !txn_inventory
    {
        c.err(
            v,
            "sweeping 'commit' needs at least one txn op, the bank check, or the inventory check in mode optimistic or pessimistic",
        );
    }
    v.value.iter().map(|m| SweepValue::Commit(*m)).collect()
}

fn ints(
    c: &mut Checker,
    v: &Sp<Vec<Sp<i64>>>,
    (lo, hi): (i64, i64),
    what: &str,
) -> Vec<SweepValue> {
    v.value
        .iter()
        .map(|x| SweepValue::Int(c.int::<u64>(x, lo, hi, what)))
        .collect()
}

fn sweep_rate(c: &mut Checker, v: &Sp<Vec<Sp<f64>>>) -> Vec<SweepValue> {
    v.value
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
        .collect()
}

fn sweep_theta(c: &mut Checker, v: &Sp<Vec<Sp<f64>>>, keys: &KeySpace) -> Vec<SweepValue> {
    if !matches!(
        keys.distribution,
        Distribution::Zipfian { .. } | Distribution::Latest { .. }
    ) {
        let dist = keys.distribution.name();
        c.err(
            v,
            format!("sweeping 'theta' needs the zipfian or latest distribution, not {dist}"),
        );
    }
    v.value
        .iter()
        .map(|t| {
            if !(t.value.is_finite() && t.value > 0.0 && t.value <= 10.0) {
                c.err(t, format!("theta must be in (0, 10], got {}", t.value));
            }
            SweepValue::Float(t.value)
        })
        .collect()
}

fn sweep_fraction(
    c: &mut Checker,
    v: &Sp<Vec<Sp<f64>>>,
    param: SweepParam,
    lo_open: bool,
    keys: &KeySpace,
) -> Vec<SweepValue> {
    if !matches!(keys.distribution, Distribution::Hotspot { .. }) {
        let dist = keys.distribution.name();
        c.err(
            v,
            format!(
                "sweeping '{}' needs the hotspot distribution, not {dist}",
                param.as_str()
            ),
        );
    }
    v.value
        .iter()
        .map(|f| SweepValue::Float(c.fraction(f, lo_open, param.as_str())))
        .collect()
}

/// Every swept parameter lists values, and the combinations are few enough.
fn check_cells(c: &mut Checker, params: &[(SweepParam, Vec<SweepValue>)]) {
    let mut cells = 1usize;
    for (p, vals) in params {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::LockMode;

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
            OpKind::Txn(txn::TxnParams {
                lock: LockMode::Pessimistic,
                ..
            })
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
            err.contains("unknown field `speed`, expected one of lock, commit, concurrency, rate"),
            "{err}"
        );
    }

    #[test]
    fn commit_is_swept_over_txn_ops_and_the_transactional_checks() {
        let w = Workload::parse(
            "name: s\nkeys: {txn_prefix: t}\nops: [{type: txn, weight: 1, commit: 1pc}, {type: get, weight: 1}]\nchecks: {bank: {}, inventory: {mode: pessimistic}}\nsweep:\n  lock: [optimistic, pessimistic]\n  commit: [2pc, async, 1pc]\n",
            "s.yaml",
        )
        .unwrap();
        let cells = w.cells();
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "lock=optimistic,commit=2pc",
                "lock=optimistic,commit=async",
                "lock=optimistic,commit=1pc",
                "lock=pessimistic,commit=2pc",
                "lock=pessimistic,commit=async",
                "lock=pessimistic,commit=1pc",
            ]
        );
        let cell = &cells[4];
        assert_eq!(cell.dir_name(), "lock-pessimistic_commit-async");
        assert_eq!(cell.to_json()["values"]["commit"], "async");
        let w = &cell.workload;
        assert!(matches!(
            w.ops[0].kind,
            OpKind::Txn(txn::TxnParams {
                lock: LockMode::Pessimistic,
                commit: CommitMode::Async,
                ..
            })
        ));
        assert_eq!(w.checks.bank.unwrap().commit, CommitMode::Async);
        assert_eq!(w.checks.inventory.unwrap().commit, CommitMode::Async);
        assert_eq!(
            cells[0].workload.checks.bank.unwrap().commit,
            CommitMode::TwoPc
        );
        let only = Workload::parse(
            "name: s\nops: [{type: get, weight: 1}]\nchecks: {bank: {}}\nsweep: {commit: [1pc]}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(only.cells()[0].dir_name(), "commit-1pc");
        assert_eq!(
            only.cells()[0].workload.checks.bank.unwrap().commit,
            CommitMode::OnePc
        );
    }

    #[test]
    fn a_commit_sweep_without_transactions_or_with_unknown_modes_is_refused() {
        let err = Workload::parse(
            "name: s\nops: [{type: get, weight: 1}]\nchecks: {inventory: {mode: cas}}\nsweep:\n  commit: [2pc, async]\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("s.yaml:5:11: sweeping 'commit' needs at least one txn op, the bank check, or the inventory check in mode optimistic or pessimistic"),
            "{err}"
        );
        let err = Workload::parse(
            "name: s\nops: [{type: txn, weight: 1}]\nsweep:\n  commit: [2pc, 3pc]\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("s.yaml:4:17: unknown variant `3pc`, expected one of 2pc, async, 1pc"),
            "{err}"
        );
    }
}

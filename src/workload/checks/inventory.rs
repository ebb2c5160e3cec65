//! The inventory check (the flash sale): workers decrement one stock
//! counter. The stock never goes below zero or up, and at the end it equals
//! the initial stock minus the acknowledged decrements, less at most the
//! decrements whose outcome is unknown.
//!
//! Its op, `decrement`: read the stock; at 0 answer [`Outcome::Mismatch`]
//! (sold out), else write it one lower, by compare-and-swap on the raw key
//! space (a lost race is a `write_conflict` error) or in a transaction on
//! the transactional one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{DEFAULT_WEIGHT, decimal, weight};
use super::run::Seen;
use super::tracker::{Fate, Fates};
use super::verdict::{CheckVerdict, Found};
use super::{Check, CheckInput, Done, Judge, Setup, WorkerLog};
use crate::backend::{Backend, Kv, Operation, RawKv, Transaction};
use crate::vocab::{CheckMode, CommitMode, ErrorKind, Events, OpError, Outcome, Rng, TxnMode};
use crate::workload::spec::{CheckModeName, Sp};
use crate::workload::validate::Checker;

pub const DEFAULT_STOCK: u64 = 1000;
/// The stock counter.
pub const STOCK_KEY: &[u8] = b"tikv-bench/check/inventory";

/// `inventory:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySpec {
    pub stock: Option<Sp<i64>>,
    pub mode: Option<Sp<CheckModeName>>,
    /// How each transactional decrement commits (2pc when absent).
    pub commit: Option<Sp<CommitMode>>,
    pub weight: Option<Sp<i64>>,
}

/// Decrements of one stock counter; never below zero, and the final stock
/// matches the acknowledged decrements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Inventory {
    pub stock: u64,
    pub mode: CheckMode,
    pub commit: CommitMode,
    pub weight: u32,
}

/// One decrement of the stock.
#[derive(Debug, Clone, Copy)]
pub struct Decrement {
    pub mode: CheckMode,
    pub commit: CommitMode,
}

impl Operation for Decrement {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        match self.mode.lock() {
            None => decrement_cas(kv).await,
            Some(lock) => {
                let commit = self.commit;
                decrement_txn(kv, TxnMode { lock, commit }, events).await
            }
        }
    }
}

/// The decrement in one transaction.
async fn decrement_txn<K: Kv>(
    kv: &K,
    mode: TxnMode,
    events: &mut Events,
) -> Result<Outcome, OpError> {
    let mut txn = kv.begin(mode).await?;
    let read = txn.get_for_update(STOCK_KEY, events).await?;
    let stock = decimal(STOCK_KEY, read.as_deref())?.unwrap_or(0);
    if stock <= 0 {
        txn.rollback(events).await?;
        return Ok(Outcome::Mismatch);
    }
    txn.put(STOCK_KEY, (stock - 1).to_string().as_bytes());
    txn.commit(events).await?;
    Ok(Outcome::Done)
}

/// The decrement by compare-and-swap.
async fn decrement_cas<K: RawKv>(kv: &K) -> Result<Outcome, OpError> {
    let current = kv.get(STOCK_KEY).await?;
    let stock = decimal(STOCK_KEY, current.as_deref())?.unwrap_or(0);
    if stock <= 0 {
        return Ok(Outcome::Mismatch);
    }
    let next = (stock - 1).to_string();
    if kv
        .cas(STOCK_KEY, current.as_deref(), next.as_bytes())
        .await?
    {
        Ok(Outcome::Done)
    } else {
        Err(OpError::new(
            ErrorKind::WriteConflict,
            format!("lost the compare-and-swap race on stock {stock}"),
        ))
    }
}

/// The inventory check's view of one worker's decrements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InventoryLog {
    pub fates: Fates,
    /// Decrements that found the stock sold out.
    pub sold_out: u64,
    /// The most decrements that may have been applied beyond the
    /// acknowledged ones.
    pub maybe: u64,
}

/// The reads during the run, and the stock last read.
#[derive(Debug, Default)]
pub struct StockSeen {
    pub seen: Seen,
    pub last: Option<i64>,
}

impl Check for Inventory {
    const NAME: &'static str = "inventory";
    const OP: Option<&'static str> = Some("decrement");
    type Spec = InventorySpec;
    type Op<'a> = Decrement;
    type Gen = ();
    type Log = InventoryLog;
    type Seen = StockSeen;

    fn check(c: &mut Checker, spec: &Sp<InventorySpec>, _: &CheckInput<'_>) -> Inventory {
        let i = &spec.value;
        let stock = i.stock.as_ref().map_or(DEFAULT_STOCK, |n| {
            c.int(n, 1, 1_000_000_000_000_000, "checks.inventory.stock")
        });
        let mode = match i.mode.as_ref().map(|m| m.value) {
            None | Some(CheckModeName::Cas) => CheckMode::Cas,
            Some(CheckModeName::Optimistic) => CheckMode::Optimistic,
            Some(CheckModeName::Pessimistic) => CheckMode::Pessimistic,
        };
        // 2pc, the default, is what the as-run form writes for every mode.
        if let Some(commit) = i.commit.as_ref()
            && mode == CheckMode::Cas
            && commit.value != CommitMode::TwoPc
        {
            c.err(
                commit,
                "checks.inventory.commit async or 1pc applies only to the transactional \
                 modes (optimistic, pessimistic); mode cas decrements by compare-and-swap",
            );
        }
        Inventory {
            stock,
            mode,
            commit: i.commit.as_ref().map_or(CommitMode::TwoPc, |m| m.value),
            weight: weight(c, i.weight.as_ref(), DEFAULT_WEIGHT, "inventory"),
        }
    }

    fn weight(&self) -> Option<u32> {
        Some(self.weight)
    }

    fn generator(&self, _worker: u64) {}

    fn generate(&self, _: &mut (), _: &mut Rng) -> Decrement {
        Decrement {
            mode: self.mode,
            commit: self.commit,
        }
    }

    fn setup(&self) -> Option<Setup> {
        Some(Setup {
            what: "the inventory stock",
            txn: self.mode != CheckMode::Cas,
            pairs: vec![(STOCK_KEY.to_vec(), self.stock.to_string().into_bytes())],
        })
    }

    fn record(&self, log: &mut InventoryLog, own: Option<&Decrement>, done: &Done<'_, '_>) {
        if own.is_none() {
            return;
        }
        log.fates.count(done.fate);
        match done.fate {
            Fate::Applied { extra } => log.maybe += extra,
            Fate::NotApplied { maybe } => {
                log.sold_out += u64::from(maybe == 0);
                log.maybe += maybe;
            }
            Fate::Unknown { maybe } => log.maybe += maybe,
            Fate::Failed => {}
        }
    }

    fn observes(&self) -> bool {
        true
    }

    async fn observe<B: Backend>(&self, backend: &B, at: Duration, seen: &mut StockSeen) {
        let stock = [STOCK_KEY.to_vec()];
        let read = match self.mode {
            CheckMode::Cas => backend.read_raw(&stock).await,
            _ => backend.read_txn(&stock).await,
        };
        match read {
            Ok(v) => {
                seen.seen.reads += 1;
                let found = &mut seen.seen.found;
                observe(self, v[0].as_deref(), at, &mut seen.last, found);
            }
            Err(e) => seen.seen.failed(&e),
        }
    }

    async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, seen: StockSeen) -> CheckVerdict {
        let last = judge.reads.in_space(self.mode, &[STOCK_KEY.to_vec()]).await;
        verify(self, judge.logs, &seen.seen, last)
    }
}

fn stock(v: Option<&[u8]>) -> Result<i64, String> {
    let v = v.ok_or("the stock has no value")?;
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("the stock holds {:?}", String::from_utf8_lossy(v)))
}

/// Judges one read of the stock taken `at` into the run.
fn observe(
    inv: &Inventory,
    value: Option<&[u8]>,
    at: Duration,
    last: &mut Option<i64>,
    found: &mut Found,
) {
    let at = at.as_secs_f64();
    let s = match stock(value) {
        Ok(s) => s,
        Err(e) => return found.add(|| format!("at {at:.3}s {e}")),
    };
    if s < 0 {
        found.add(|| format!("at {at:.3}s the stock was {s}, below zero"));
    }
    if s > inv.stock as i64 {
        found.add(|| {
            format!(
                "at {at:.3}s the stock was {s}, above the initial {}",
                inv.stock
            )
        });
    }
    if let Some(before) = *last
        && s > before
    {
        found.add(|| format!("at {at:.3}s the stock went up from {before} to {s}"));
    }
    *last = Some(s);
}

fn verify(
    inv: &Inventory,
    logs: &[WorkerLog],
    seen: &Seen,
    last: Result<Vec<Option<Vec<u8>>>, OpError>,
) -> CheckVerdict {
    let mut t = InventoryLog::default();
    for l in logs {
        let i = &l.inventory;
        t.fates.add(&i.fates);
        t.sold_out += i.sold_out;
        t.maybe += i.maybe;
    }
    let initial = inv.stock as i64;
    let (acked, maybe) = (t.fates.acked as i64, t.maybe as i64);
    let mut v = CheckVerdict::new("inventory");
    v.detail("mode", inv.mode.as_str());
    v.detail("initial", initial);
    v.detail("decrements_acked", acked);
    v.detail("decrements_unknown", t.fates.unknown);
    v.detail("possibly_applied_unknown", maybe);
    v.detail("sold_out", t.sold_out);
    v.detail("decrements_failed", t.fates.failed);
    v.detail("reads", seen.reads);
    v.detail("failed_reads", seen.failed_reads);
    v.violations_from(&seen.found.kept, seen.found.count);
    let last = match last
        .map_err(|e| e.to_string())
        .and_then(|v| stock(v[0].as_deref()))
    {
        Ok(s) => s,
        Err(e) => {
            v.violation(|| format!("the final stock could not be read: {e}"));
            return v.summary("no final stock".into());
        }
    };
    v.detail("final", last);
    let (hi, lo) = (initial - acked, initial - acked - maybe);
    if last < 0 {
        v.violation(|| format!("final stock {last}: below zero"));
    }
    if last > hi {
        v.violation(|| {
            format!(
                "final stock {last}: above {initial} - {acked} acknowledged decrements = {hi}: an acknowledged decrement was not applied"
            )
        });
    }
    if last < lo {
        v.violation(|| {
            format!(
                "final stock {last}: below {initial} - {acked} acknowledged - {maybe} unknown decrements = {lo}: a decrement was applied twice or without an acknowledgement"
            )
        });
    }
    let summary = if lo == hi {
        format!("final stock {last} = {initial} - {acked} acknowledged decrements")
    } else {
        format!(
            "final stock {last} in {lo}..={hi} ({initial} - {acked} acknowledged, up to {maybe} unknown)"
        )
    };
    v.summary(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::CheckMode;

    fn inv() -> Inventory {
        Inventory {
            stock: 100,
            mode: CheckMode::Cas,
            commit: Default::default(),
            weight: 1,
        }
    }

    fn log(acked: u64, maybe: u64) -> WorkerLog {
        let mut l = WorkerLog::default();
        l.inventory.fates.acked = acked;
        l.inventory.maybe = maybe;
        l
    }

    fn read(s: i64) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        Ok(vec![Some(s.to_string().into_bytes())])
    }

    #[test]
    fn the_final_stock_is_bounded_by_the_acked_and_unknown_decrements() {
        let logs = [log(30, 2), log(10, 0)];
        for ok in [60, 59, 58] {
            assert!(
                verify(&inv(), &logs, &Seen::default(), read(ok)).passed,
                "{ok}"
            );
        }
        let v = verify(&inv(), &logs, &Seen::default(), read(61));
        assert!(v.violations[0].contains("was not applied"), "{v}");
        let v = verify(&inv(), &logs, &Seen::default(), read(57));
        assert!(v.violations[0].contains("applied twice"), "{v}");
    }

    #[test]
    fn reads_during_the_run_catch_negative_and_rising_stock() {
        let (mut last, mut found) = (None, Found::default());
        for s in [b"90".as_slice(), b"80", b"85", b"-1"] {
            observe(&inv(), Some(s), Duration::ZERO, &mut last, &mut found);
        }
        assert_eq!(found.count, 2, "{:?}", found.kept);
        assert!(found.kept[0].contains("went up from 80 to 85"));
        assert!(found.kept[1].contains("below zero"));
    }
}

//! The inventory check (the flash sale): workers decrement one stock
//! counter. The stock never goes below zero or up, and at the end it equals
//! the initial stock minus the acknowledged decrements, less at most the
//! decrements whose outcome is unknown.

use std::time::Duration;

use super::config::Inventory;
use super::run::Seen;
use super::tracker::{InventoryLog, WorkerLog};
use super::verdict::{CheckVerdict, Found};
use crate::vocab::OpError;

fn stock(v: Option<&[u8]>) -> Result<i64, String> {
    let v = v.ok_or("the stock has no value")?;
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("the stock holds {:?}", String::from_utf8_lossy(v)))
}

/// Judges one read of the stock taken `at` into the run.
pub(super) fn observe(
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

pub(super) fn verify(
    inv: &Inventory,
    logs: &[WorkerLog],
    seen: &Seen,
    last: Result<Vec<Option<Vec<u8>>>, OpError>,
) -> CheckVerdict {
    let mut t = InventoryLog::default();
    for l in logs {
        let i = &l.inventory;
        t.fates.acked += i.fates.acked;
        t.fates.unknown += i.fates.unknown;
        t.fates.failed += i.fates.failed;
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

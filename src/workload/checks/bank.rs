//! The bank check: money moves between accounts in transactions, so every
//! snapshot (during the run and after it) holds the same total; and since
//! transfers add up in any order, each account's final balance is its
//! initial balance plus the acknowledged transfers (plus whatever the
//! unknown-outcome ones may have done). A lost update breaks the total; a
//! transfer applied twice, or acknowledged but not applied, breaks the
//! ledger.

use std::time::Duration;

use super::config::{Bank, account_key};
use super::run::Seen;
use super::tracker::{Fates, WorkerLog};
use super::verdict::{CheckVerdict, Found};
use crate::vocab::OpError;

/// The balances in a snapshot, or what is wrong with it.
fn balances(values: &[Option<Vec<u8>>]) -> Result<Vec<i64>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let key = String::from_utf8_lossy(&account_key(i as u32)).into_owned();
            let v = v
                .as_deref()
                .ok_or_else(|| format!("account {i} ({key}) has no balance"))?;
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    format!(
                        "account {i} ({key}) holds {:?}, not a balance",
                        String::from_utf8_lossy(v)
                    )
                })
        })
        .collect()
}

/// Judges one snapshot taken `at` into the run.
pub(super) fn observe(bank: &Bank, values: &[Option<Vec<u8>>], at: Duration, found: &mut Found) {
    match balances(values) {
        Ok(b) => {
            let sum: i64 = b.iter().sum();
            if sum != bank.total() {
                found.add(|| {
                    format!(
                        "snapshot at {:.3}s: total {sum}, expected {}",
                        at.as_secs_f64(),
                        bank.total()
                    )
                });
            }
        }
        Err(e) => found.add(|| format!("snapshot at {:.3}s: {e}", at.as_secs_f64())),
    }
}

pub(super) fn verify(
    bank: &Bank,
    logs: &[WorkerLog],
    seen: &Seen,
    last: Result<Vec<Option<Vec<u8>>>, OpError>,
) -> CheckVerdict {
    let n = bank.accounts as usize;
    let mut fates = Fates::default();
    let (mut acked, mut down, mut up) = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
    for l in logs {
        fates.acked += l.bank.fates.acked;
        fates.unknown += l.bank.fates.unknown;
        fates.failed += l.bank.fates.failed;
        for i in 0..n.min(l.bank.acked.len()) {
            acked[i] += l.bank.acked[i];
            down[i] += l.bank.unknown_down[i];
            up[i] += l.bank.unknown_up[i];
        }
    }
    let mut v = CheckVerdict::new("bank");
    v.detail("accounts", bank.accounts);
    v.detail("total", bank.total());
    v.detail("lock", bank.lock.as_str());
    v.detail("snapshots", seen.reads);
    v.detail("failed_snapshots", seen.failed_reads);
    if let Some(e) = &seen.first_error {
        v.detail("first_failed_snapshot", e.as_str());
    }
    v.detail("transfers_acked", fates.acked);
    v.detail("transfers_unknown", fates.unknown);
    v.detail("transfers_failed", fates.failed);
    v.violations_from(&seen.found.kept, seen.found.count);

    let values = match last {
        Ok(values) => values,
        Err(e) => {
            v.violation(|| format!("the final snapshot could not be read: {e}"));
            return v.summary("no final snapshot".into());
        }
    };
    let balances = match balances(&values) {
        Ok(b) => b,
        Err(e) => {
            v.violation(|| format!("final snapshot: {e}"));
            return v.summary("the final snapshot lacks accounts".into());
        }
    };
    let sum: i64 = balances.iter().sum();
    v.detail("final_total", sum);
    if sum != bank.total() {
        v.violation(|| {
            format!(
                "final snapshot: total {sum}, expected {} ({} accounts x {})",
                bank.total(),
                bank.accounts,
                bank.initial
            )
        });
    }
    let mut off = 0;
    for (i, &balance) in balances.iter().enumerate() {
        let expected = bank.initial + acked[i];
        let (lo, hi) = (expected + down[i], expected + up[i]);
        if !(lo..=hi).contains(&balance) {
            off += 1;
            v.violation(|| {
                let allowed = if lo == hi {
                    format!("exactly {expected}")
                } else {
                    format!("{expected} ({lo}..={hi} with the unknown ones)")
                };
                format!(
                    "account {i}: balance {balance}, but the acknowledged transfers leave {allowed}"
                )
            });
        }
    }
    v.detail("accounts_off_ledger", off);
    let summary = format!(
        "total {} in {} snapshot(s) and the final one; {} transfers acked, {} unknown",
        bank.total(),
        seen.reads,
        fates.acked,
        fates.unknown
    );
    v.summary(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::LockMode;
    use crate::workload::SizeRange;

    fn bank() -> Bank {
        Bank {
            accounts: 2,
            initial: 100,
            amount: SizeRange { min: 1, max: 5 },
            lock: LockMode::Optimistic,
            weight: 1,
        }
    }

    fn snapshot(balances: &[i64]) -> Vec<Option<Vec<u8>>> {
        balances
            .iter()
            .map(|b| Some(b.to_string().into_bytes()))
            .collect()
    }

    fn log(acked: [i64; 2], down: [i64; 2], up: [i64; 2]) -> WorkerLog {
        let mut l = WorkerLog::default();
        l.bank.acked = acked.to_vec();
        l.bank.unknown_down = down.to_vec();
        l.bank.unknown_up = up.to_vec();
        l
    }

    #[test]
    fn a_conserved_total_matching_the_ledger_passes() {
        let logs = [log([-5, 5], [0; 2], [0; 2]), log([3, -3], [0; 2], [0; 2])];
        let v = verify(&bank(), &logs, &Seen::default(), Ok(snapshot(&[98, 102])));
        assert!(v.passed, "{v}");
        assert_eq!(v.details["final_total"], 200);
    }

    #[test]
    fn a_lost_update_breaks_the_total_and_a_double_transfer_the_ledger() {
        let logs = [log([-5, 5], [0; 2], [0; 2])];
        let v = verify(&bank(), &logs, &Seen::default(), Ok(snapshot(&[95, 100])));
        assert!(!v.passed);
        assert!(v.violations[0].contains("total 195, expected 200"), "{v}");
        let v = verify(&bank(), &logs, &Seen::default(), Ok(snapshot(&[90, 110])));
        assert_eq!(v.violation_count, 2, "{v:?}");
        assert!(
            v.violations[0]
                .contains("account 0: balance 90, but the acknowledged transfers leave exactly 95"),
            "{v}"
        );
    }

    #[test]
    fn unknown_transfers_widen_what_a_balance_may_be() {
        let logs = [log([-5, 5], [-5, 0], [0, 5])];
        for ok in [[95, 105], [90, 110]] {
            let v = verify(&bank(), &logs, &Seen::default(), Ok(snapshot(&ok)));
            assert!(v.passed, "{ok:?}: {v}");
        }
        let v = verify(&bank(), &logs, &Seen::default(), Ok(snapshot(&[85, 115])));
        assert!(!v.passed);
    }

    #[test]
    fn snapshots_during_the_run_count() {
        let mut found = Found::default();
        observe(&bank(), &snapshot(&[100, 100]), Duration::ZERO, &mut found);
        assert_eq!(found.count, 0);
        observe(
            &bank(),
            &snapshot(&[100, 99]),
            Duration::from_millis(1500),
            &mut found,
        );
        observe(&bank(), &[None, None], Duration::ZERO, &mut found);
        assert_eq!(found.count, 2);
        assert_eq!(found.kept[0], "snapshot at 1.500s: total 199, expected 200");
        assert!(found.kept[1].contains("account 0"), "{:?}", found.kept);
    }
}

//! The bank check: money moves between accounts in transactions, so every
//! snapshot (during the run and after it) holds the same total; and since
//! transfers add up in any order, each account's final balance is its
//! initial balance plus the acknowledged transfers (plus whatever the
//! unknown-outcome ones may have done). A lost update breaks the total; a
//! transfer applied twice, or acknowledged but not applied, breaks the
//! ledger.
//!
//! Its op, `transfer`: a transaction reading both balances
//! (`get_for_update`), writing `from - amount` and `to + amount`, and
//! committing; conflicts are errors.

use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::WorkerLog;
use super::config::{DEFAULT_WEIGHT, decimal, lock_mode, weight};
use super::run::Seen;
use super::tracker::{Fate, Fates};
use super::verdict::{CheckVerdict, Found};
use super::{Check, CheckInput, Done, Judge, Setup};
use crate::backend::{Backend, Kv, Operation, Transaction};
use crate::vocab::{CommitMode, ErrorKind, Events, LockMode, OpError, Outcome, Rng, TxnMode};
use crate::workload::SizeRange;
use crate::workload::spec::{LockName, RangeSpec, Sp};
use crate::workload::validate::Checker;

pub const DEFAULT_ACCOUNTS: u32 = 10;
pub const DEFAULT_INITIAL: i64 = 1000;
pub const DEFAULT_AMOUNT: SizeRange = SizeRange { min: 1, max: 10 };
pub const MAX_ACCOUNTS: u32 = 10_000;
const ACCOUNT_PREFIX: &str = "tikv-bench/check/bank/";

/// The key of bank account `i`.
pub fn account_key(i: u32) -> Vec<u8> {
    format!("{ACCOUNT_PREFIX}{i:06}").into_bytes()
}

/// The account number of a bank key.
pub fn account_index(key: &[u8]) -> Option<u32> {
    std::str::from_utf8(key.strip_prefix(ACCOUNT_PREFIX.as_bytes())?)
        .ok()?
        .parse()
        .ok()
}

/// Every bank account's key.
fn account_keys(accounts: u32) -> Vec<Vec<u8>> {
    (0..accounts).map(account_key).collect()
}

/// `bank:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSpec {
    pub accounts: Option<Sp<i64>>,
    pub initial: Option<Sp<i64>>,
    pub amount: Option<Sp<RangeSpec>>,
    pub lock: Option<Sp<LockName>>,
    /// How each transfer commits (2pc when absent).
    pub commit: Option<Sp<CommitMode>>,
    pub weight: Option<Sp<i64>>,
}

/// Transfers between `accounts` accounts in transactions; the total is
/// conserved and every balance matches the acknowledged transfers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bank {
    pub accounts: u32,
    /// Each account's balance before the run.
    pub initial: i64,
    /// Amount of each transfer, uniform in the range.
    pub amount: SizeRange,
    pub lock: LockMode,
    pub commit: CommitMode,
    pub weight: u32,
}

impl Bank {
    pub fn total(&self) -> i64 {
        self.initial * i64::from(self.accounts)
    }
}

/// One transfer of `amount` from one account to another.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub from: &'a [u8],
    pub to: &'a [u8],
    pub amount: i64,
    pub lock: LockMode,
    pub commit: CommitMode,
}

impl Operation for Transfer<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        let (from, to) = (self.from, self.to);
        let mode = TxnMode {
            lock: self.lock,
            commit: self.commit,
        };
        let mut txn = kv.begin(mode).await?;
        let a = txn.get_for_update(from, events).await?;
        let b = txn.get_for_update(to, events).await?;
        let (Some(a), Some(b)) = (decimal(from, a.as_deref())?, decimal(to, b.as_deref())?) else {
            let _ = txn.rollback(events).await;
            return Err(OpError::new(
                ErrorKind::Other,
                format!(
                    "transfer between {} and {}: an account has no balance",
                    String::from_utf8_lossy(from),
                    String::from_utf8_lossy(to)
                ),
            ));
        };
        txn.put(from, (a - self.amount).to_string().as_bytes());
        txn.put(to, (b + self.amount).to_string().as_bytes());
        txn.commit(events).await?;
        Ok(Outcome::Done)
    }
}

/// The bank check's view of one worker's transfers: net effect of the
/// acknowledged ones per account, and the range the unknown ones may add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankLog {
    pub fates: Fates,
    /// Per account: the sum of acknowledged credits minus debits.
    pub acked: Vec<i64>,
    /// Per account: the most the unknown applications may take away
    /// (negative) and add.
    pub unknown_down: Vec<i64>,
    pub unknown_up: Vec<i64>,
}

impl BankLog {
    fn transfer(&mut self, t: &Transfer<'_>, fate: Fate) {
        self.fates.count(fate);
        let (Some(f), Some(to)) = (account_index(t.from), account_index(t.to)) else {
            return;
        };
        let (f, to) = (f as usize, to as usize);
        if f >= self.acked.len() || to >= self.acked.len() {
            return;
        }
        let maybe = match fate {
            Fate::Applied { extra } => {
                self.acked[f] -= t.amount;
                self.acked[to] += t.amount;
                extra
            }
            Fate::NotApplied { maybe } | Fate::Unknown { maybe } => maybe,
            Fate::Failed => 0,
        };
        let maybe = i64::try_from(maybe).unwrap_or(i64::MAX);
        self.unknown_down[f] -= t.amount.saturating_mul(maybe);
        self.unknown_up[to] += t.amount.saturating_mul(maybe);
    }
}

impl Check for Bank {
    const NAME: &'static str = "bank";
    const OP: Option<&'static str> = Some("transfer");
    type Spec = BankSpec;
    type Op<'a> = Transfer<'a>;
    /// The account keys.
    type Gen = Vec<Vec<u8>>;
    type Log = BankLog;
    type Seen = Seen;

    fn check(c: &mut Checker, spec: &Sp<BankSpec>, _: &CheckInput<'_>) -> Bank {
        let b = &spec.value;
        let accounts = b.accounts.as_ref().map_or(DEFAULT_ACCOUNTS, |a| {
            c.int(a, 2, i64::from(MAX_ACCOUNTS), "checks.bank.accounts")
        });
        let initial = b.initial.as_ref().map_or(DEFAULT_INITIAL, |i| {
            let limit = 1_000_000_000_000;
            c.int(i, -limit, limit, "checks.bank.initial")
        });
        let amount = b.amount.as_ref().map_or(DEFAULT_AMOUNT, |a| {
            let r = a.value;
            if r.min < 1 || r.min > r.max || r.max > 1_000_000_000 {
                c.err(
                    a,
                    format!(
                        "checks.bank.amount must satisfy 1 <= min <= max <= 1000000000, got min {} max {}",
                        r.min, r.max
                    ),
                );
            }
            SizeRange {
                min: r.min,
                max: r.max,
            }
        });
        Bank {
            accounts,
            initial,
            amount,
            lock: lock_mode(b.lock.as_ref()),
            commit: b.commit.as_ref().map_or(CommitMode::TwoPc, |m| m.value),
            weight: weight(c, b.weight.as_ref(), DEFAULT_WEIGHT, "bank"),
        }
    }

    fn weight(&self) -> Option<u32> {
        Some(self.weight)
    }

    fn generator(&self, _worker: u64) -> Vec<Vec<u8>> {
        account_keys(self.accounts)
    }

    fn generate<'g>(&self, accounts: &'g mut Vec<Vec<u8>>, rng: &mut Rng) -> Transfer<'g> {
        let n = self.accounts;
        let from = rng.random_range(0..n);
        let to = (from + rng.random_range(1..n)) % n;
        let amount = rng.random_range(self.amount.min..=self.amount.max);
        Transfer {
            from: &accounts[from as usize],
            to: &accounts[to as usize],
            amount: amount as i64,
            lock: self.lock,
            commit: self.commit,
        }
    }

    fn setup(&self) -> Option<Setup> {
        let balance = self.initial.to_string().into_bytes();
        let pairs = account_keys(self.accounts)
            .into_iter()
            .map(|k| (k, balance.clone()))
            .collect();
        Some(Setup {
            what: "the bank accounts",
            txn: true,
            pairs,
        })
    }

    fn log(&self) -> BankLog {
        let n = self.accounts as usize;
        BankLog {
            acked: vec![0; n],
            unknown_down: vec![0; n],
            unknown_up: vec![0; n],
            ..BankLog::default()
        }
    }

    fn record(&self, log: &mut BankLog, own: Option<&Transfer<'_>>, done: &Done<'_, '_>) {
        if let Some(t) = own {
            log.transfer(t, done.fate);
        }
    }

    fn observes(&self) -> bool {
        true
    }

    async fn observe<B: Backend>(&self, backend: &B, at: Duration, seen: &mut Seen) {
        match backend.read_txn(&account_keys(self.accounts)).await {
            Ok(values) => {
                seen.reads += 1;
                observe(self, &values, at, &mut seen.found);
            }
            Err(e) => seen.failed(&e),
        }
    }

    async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, seen: Seen) -> CheckVerdict {
        let last = judge.reads.txn(&account_keys(self.accounts)).await;
        verify(self, judge.logs, &seen, last)
    }
}

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
fn observe(bank: &Bank, values: &[Option<Vec<u8>>], at: Duration, found: &mut Found) {
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

/// Every worker's transfers added up.
fn merged(bank: &Bank, logs: &[WorkerLog]) -> BankLog {
    let mut all = bank.log();
    for l in logs {
        all.fates.add(&l.bank.fates);
        for i in 0..all.acked.len().min(l.bank.acked.len()) {
            all.acked[i] += l.bank.acked[i];
            all.unknown_down[i] += l.bank.unknown_down[i];
            all.unknown_up[i] += l.bank.unknown_up[i];
        }
    }
    all
}

/// Each balance against the transfers: how many accounts are off.
fn check_ledger(v: &mut CheckVerdict, bank: &Bank, all: &BankLog, balances: &[i64]) -> u64 {
    let mut off = 0;
    for (i, &balance) in balances.iter().enumerate() {
        let expected = bank.initial + all.acked[i];
        let (lo, hi) = (expected + all.unknown_down[i], expected + all.unknown_up[i]);
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
    off
}

fn verify(
    bank: &Bank,
    logs: &[WorkerLog],
    seen: &Seen,
    last: Result<Vec<Option<Vec<u8>>>, OpError>,
) -> CheckVerdict {
    let all = merged(bank, logs);
    let fates = all.fates;
    let mut v = CheckVerdict::new("bank");
    v.detail("accounts", bank.accounts);
    v.detail("total", bank.total());
    v.detail("lock", bank.lock.as_str());
    v.detail("commit", bank.commit.as_str());
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
    let off = check_ledger(&mut v, bank, &all, &balances);
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
            commit: Default::default(),
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

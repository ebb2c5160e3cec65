//! The checked `checks:` section of a workload, and the keys the checks
//! own. Built by the workload validator; serializes back to the file format.

use std::time::Duration;

use serde::Serialize;

use crate::vocab::{CheckMode, LockMode};
use crate::workload::SizeRange;

pub const DEFAULT_EVERY: Duration = Duration::from_millis(500);
pub const DEFAULT_ACCOUNTS: u32 = 10;
pub const DEFAULT_INITIAL: i64 = 1000;
pub const DEFAULT_AMOUNT: SizeRange = SizeRange { min: 1, max: 10 };
pub const DEFAULT_STOCK: u64 = 1000;
pub const DEFAULT_LEASE: Duration = Duration::from_millis(500);
pub const DEFAULT_HOLD: Duration = Duration::from_millis(1);
pub const DEFAULT_WEIGHT: u32 = 10;
pub const DEFAULT_LOCK_WEIGHT: u32 = 5;
pub const MAX_ACCOUNTS: u32 = 10_000;

/// Every key a check writes starts with this; workload keys may not.
pub const KEY_PREFIX: &str = "tikv-bench/check/";
/// The inventory check's stock counter.
pub const STOCK_KEY: &[u8] = b"tikv-bench/check/inventory";
/// The lock check's lock.
pub const LOCK_KEY: &[u8] = b"tikv-bench/check/lock";
/// The value of a free (released) lock.
pub use crate::vocab::op::LEASE_FREE as LOCK_FREE;
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

/// The checks a workload runs (all off by default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<Bank>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readback: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<Empty>,
    /// How often the during-run checks read.
    #[serde(serialize_with = "ser_duration")]
    pub every: Duration,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            bank: None,
            inventory: None,
            lock: None,
            readback: None,
            scan: None,
            every: DEFAULT_EVERY,
        }
    }
}

impl Checks {
    /// No check is on.
    pub fn is_empty(&self) -> bool {
        self.bank.is_none()
            && self.inventory.is_none()
            && self.lock.is_none()
            && self.readback.is_none()
            && self.scan.is_none()
    }

    /// The names of the checks that are on, in verdict order.
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("bank", self.bank.is_some()),
            ("inventory", self.inventory.is_some()),
            ("lock", self.lock.is_some()),
            ("readback", self.readback.is_some()),
            ("scan", self.scan.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect()
    }
}

/// A check without settings (`readback: {}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Empty {}

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
    pub weight: u32,
}

impl Bank {
    pub fn total(&self) -> i64 {
        self.initial * i64::from(self.accounts)
    }
}

/// Decrements of one stock counter; never below zero, and the final stock
/// matches the acknowledged decrements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Inventory {
    pub stock: u64,
    pub mode: CheckMode,
    pub weight: u32,
}

/// A lock guarding a critical section; no two holders overlap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LockCheck {
    /// `cas` (a lease) or `pessimistic`.
    pub mode: CheckMode,
    /// How long a CAS lease lasts.
    #[serde(serialize_with = "ser_duration")]
    pub lease: Duration,
    /// How long a holder stays in the critical section.
    #[serde(serialize_with = "ser_duration")]
    pub hold: Duration,
    pub weight: u32,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_round_trip_and_sort_by_number() {
        assert_eq!(account_index(&account_key(42)), Some(42));
        assert_eq!(account_index(b"user0001"), None);
        assert!(account_key(9) < account_key(10));
        assert!(account_key(0).starts_with(KEY_PREFIX.as_bytes()));
        assert!(STOCK_KEY.starts_with(KEY_PREFIX.as_bytes()));
    }
}

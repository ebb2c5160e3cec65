//! What the checks share: the key prefix they own, the defaults of the
//! section, and the small parsers and checkers their files use.

use std::time::Duration;

use crate::vocab::{ErrorKind, LockMode, OpError};
use crate::workload::spec::{LockName, Sp};
use crate::workload::validate::Checker;

pub const DEFAULT_EVERY: Duration = Duration::from_millis(500);
/// The weight of a check's op in the mix.
pub const DEFAULT_WEIGHT: u32 = 10;

/// Every key a check writes starts with this; workload keys may not.
pub const KEY_PREFIX: &str = "tikv-bench/check/";

/// The lock mode a check's `lock:` names (optimistic when absent).
pub(super) fn lock_mode(l: Option<&Sp<LockName>>) -> LockMode {
    match l.map(|l| l.value) {
        Some(LockName::Pessimistic) => LockMode::Pessimistic,
        _ => LockMode::Optimistic,
    }
}

/// A check's `weight:`, or `default`.
pub(super) fn weight(c: &mut Checker, w: Option<&Sp<i64>>, default: u32, check: &str) -> u32 {
    w.map_or(default, |w| {
        c.int(w, 1, 1_000_000, &format!("checks.{check}.weight"))
    })
}

/// The decimal number stored at `key` (absent: `None`).
pub(super) fn decimal(key: &[u8], v: Option<&[u8]>) -> Result<Option<i64>, OpError> {
    let Some(v) = v else { return Ok(None) };
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            OpError::new(
                ErrorKind::Other,
                format!(
                    "key {} holds {:?}, not a decimal number",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(v)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::bank::{account_index, account_key};
    use super::super::inventory::STOCK_KEY;
    use super::*;

    #[test]
    fn account_keys_round_trip_and_sort_by_number() {
        assert_eq!(account_index(&account_key(42)), Some(42));
        assert_eq!(account_index(b"user0001"), None);
        assert!(account_key(9) < account_key(10));
        assert!(account_key(0).starts_with(KEY_PREFIX.as_bytes()));
        assert!(STOCK_KEY.starts_with(KEY_PREFIX.as_bytes()));
    }

    #[test]
    fn a_stored_number_is_decimal_text() {
        assert_eq!(decimal(b"k", None).unwrap(), None);
        assert_eq!(decimal(b"k", Some(b"-42")).unwrap(), Some(-42));
        let e = decimal(b"k", Some(b"4x")).unwrap_err();
        assert!(e.message.contains("not a decimal number"), "{e}");
    }
}

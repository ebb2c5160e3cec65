//! Checking the `checks:` section: each check's settings in range, the
//! checks consistent with the rest of the workload, and each check that
//! has an op added to the mix under the check's name.

use std::time::Duration;

use super::Checker;
use crate::vocab::{CheckMode, LockMode};
use crate::workload::Diagnostic;
use crate::workload::checked::*;
use crate::workload::checks::config::*;
use crate::workload::spec::*;

/// The longest hold of a pessimistic lock: well under the lock's TTL, as
/// nothing keeps the lock alive while the holder sleeps.
const MAX_PESSIMISTIC_HOLD: Duration = Duration::from_secs(1);

fn pos<T>(sp: &Sp<T>) -> (u64, u64) {
    (sp.referenced.line(), sp.referenced.column())
}

/// Whether the spec turns on a check that adds an op (so the mix may be
/// empty).
pub(super) fn adds_ops(spec: &Option<Sp<ChecksSpec>>) -> bool {
    spec.as_ref().is_some_and(|s| {
        let s = &s.value;
        s.bank.is_some() || s.inventory.is_some() || s.lock.is_some()
    })
}

fn lock_mode(l: Option<&Sp<LockName>>) -> LockMode {
    match l.map(|l| l.value) {
        Some(LockName::Pessimistic) => LockMode::Pessimistic,
        _ => LockMode::Optimistic,
    }
}

fn weight(c: &mut Checker, w: Option<&Sp<i64>>, default: u32, what: &str) -> u32 {
    w.map_or(default, |w| {
        c.int(w, 1, 1_000_000, &format!("checks.{what}.weight"))
    })
}

/// Checks the section and appends the checks' ops to `ops`.
pub(super) fn check_checks(
    c: &mut Checker,
    spec: Option<Sp<ChecksSpec>>,
    keys: &KeySpace,
    values: &Values,
    ops: &mut Vec<OpConfig>,
) -> Checks {
    let Some(spec) = spec else {
        return Checks::default();
    };
    let at = &spec;
    let s = &spec.value;
    let mut checks = Checks::default();

    if let Some(b) = &s.bank {
        let accounts = b.value.accounts.as_ref().map_or(DEFAULT_ACCOUNTS, |a| {
            c.int(a, 2, i64::from(MAX_ACCOUNTS), "checks.bank.accounts")
        });
        let initial = b.value.initial.as_ref().map_or(DEFAULT_INITIAL, |i| {
            c.int(
                i,
                -1_000_000_000_000,
                1_000_000_000_000,
                "checks.bank.initial",
            )
        });
        let amount = b.value.amount.as_ref().map_or(DEFAULT_AMOUNT, |a| {
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
        checks.bank = Some(Bank {
            accounts,
            initial,
            amount,
            lock: lock_mode(b.value.lock.as_ref()),
            weight: weight(c, b.value.weight.as_ref(), DEFAULT_WEIGHT, "bank"),
        });
    }

    if let Some(i) = &s.inventory {
        let stock = i.value.stock.as_ref().map_or(DEFAULT_STOCK, |n| {
            c.int(n, 1, 1_000_000_000_000_000, "checks.inventory.stock")
        });
        let mode = match i.value.mode.as_ref().map(|m| m.value) {
            None | Some(CheckModeName::Cas) => CheckMode::Cas,
            Some(CheckModeName::Optimistic) => CheckMode::Optimistic,
            Some(CheckModeName::Pessimistic) => CheckMode::Pessimistic,
        };
        checks.inventory = Some(Inventory {
            stock,
            mode,
            weight: weight(c, i.value.weight.as_ref(), DEFAULT_WEIGHT, "inventory"),
        });
    }

    if let Some(l) = &s.lock {
        let v = &l.value;
        let mode = match v.mode.as_ref().map(|m| m.value) {
            None | Some(LockCheckModeName::Cas) => CheckMode::Cas,
            Some(LockCheckModeName::Pessimistic) => CheckMode::Pessimistic,
        };
        let lease = v
            .lease
            .as_ref()
            .map_or(DEFAULT_LEASE, |d| c.duration(d, "checks.lock.lease", false));
        let hold = v
            .hold
            .as_ref()
            .map_or(DEFAULT_HOLD, |d| c.duration(d, "checks.lock.hold", true));
        let fmt = |d: Duration| humantime::format_duration(d).to_string();
        match mode {
            CheckMode::Pessimistic => {
                if let Some(d) = &v.lease {
                    c.err(
                        d,
                        "checks.lock.lease applies only to mode cas (a pessimistic lock is held until released)",
                    );
                }
                if hold >= MAX_PESSIMISTIC_HOLD {
                    let at_hold = v.hold.as_ref().expect("the default hold is short");
                    c.err(
                        at_hold,
                        format!(
                            "checks.lock.hold ({}) must be shorter than {} in mode pessimistic (the lock's TTL runs while the holder sleeps)",
                            fmt(hold),
                            fmt(MAX_PESSIMISTIC_HOLD)
                        ),
                    );
                }
            }
            _ => {
                if hold >= lease {
                    let msg = format!(
                        "checks.lock.hold ({}) must be shorter than checks.lock.lease ({})",
                        fmt(hold),
                        fmt(lease)
                    );
                    match (&v.hold, &v.lease) {
                        (Some(h), _) => c.err(h, msg),
                        (None, Some(d)) => c.err(d, msg),
                        (None, None) => {}
                    }
                }
            }
        }
        checks.lock = Some(LockCheck {
            mode,
            lease,
            hold,
            weight: weight(c, v.weight.as_ref(), DEFAULT_LOCK_WEIGHT, "lock"),
        });
    }

    if let Some(r) = &s.readback {
        let tracked = ops.iter().any(|o| {
            matches!(
                o.kind,
                OpKind::Put { .. } | OpKind::Cas | OpKind::BatchDelete { .. }
            )
        });
        if !tracked {
            c.err(
                r,
                "readback tracks the mix's put, cas and batch_delete ops, and the mix has none",
            );
        }
        if values.size.min < crate::workload::checks::tag::TAG_LEN as u64 {
            c.err(
                r,
                format!(
                    "readback writes a {}-byte tag at the start of each value; values.size.min must be at least {}, got {}",
                    crate::workload::checks::tag::TAG_LEN,
                    crate::workload::checks::tag::TAG_LEN,
                    values.size.min
                ),
            );
        }
        checks.readback = Some(Empty {});
    }
    if let Some(sc) = &s.scan {
        if s.readback.is_none() {
            c.err(
                sc,
                "scan needs readback: {} (it checks the keys that readback's model says must exist)",
            );
        }
        checks.scan = Some(Empty {});
    }
    if let Some(e) = &s.every {
        checks.every = c.duration(e, "checks.every", false);
    }

    if !checks.is_empty() && keys.prefix.starts_with(KEY_PREFIX) {
        c.err(
            at,
            format!(
                "keys.prefix '{}' starts with '{KEY_PREFIX}', where the checks keep their own keys; choose another prefix",
                keys.prefix
            ),
        );
    }
    let added = [
        (
            "bank",
            OpKind::Transfer,
            checks.bank.map(|b| b.weight),
            s.bank.as_ref().map(pos),
        ),
        (
            "inventory",
            OpKind::Decrement,
            checks.inventory.map(|i| i.weight),
            s.inventory.as_ref().map(pos),
        ),
        (
            "lock",
            OpKind::Lease,
            checks.lock.map(|l| l.weight),
            s.lock.as_ref().map(pos),
        ),
    ];
    for (name, kind, weight, place) in added {
        let (Some(weight), Some((line, column))) = (weight, place) else {
            continue;
        };
        if ops.iter().any(|o| o.name == name) {
            c.diags.push(Diagnostic::at(
                line,
                column,
                format!(
                    "the {name} check adds an op named '{name}', and the mix has one already; rename the op in the mix"
                ),
            ));
        }
        ops.push(OpConfig {
            name: name.into(),
            kind,
            weight,
        });
    }
    checks
}

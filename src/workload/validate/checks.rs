//! Checking the `checks:` section: each check's settings by the check's own
//! file ([`Check::check`](crate::workload::checks::Check::check)), then
//! what concerns them all: how often they read, the key prefix they own,
//! and the op each adds to the mix under its name.

use super::Checker;
use crate::workload::Diagnostic;
use crate::workload::checked::*;
use crate::workload::checks::config::KEY_PREFIX;
use crate::workload::checks::{self, ChecksSpec};
use crate::workload::spec::*;

/// Whether the spec turns on a check that adds an op (so the mix may be
/// empty).
pub(super) fn adds_ops(spec: &Option<Sp<ChecksSpec>>) -> bool {
    spec.as_ref().is_some_and(|s| checks::adds_ops(&s.value))
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
    let mut checks = checks::check_each(c, &spec.value, keys, values, ops);
    if let Some(e) = &spec.value.every {
        checks.every = c.duration(e, "checks.every", false);
    }
    for (field, prefix) in [("prefix", &keys.prefix), ("txn_prefix", &keys.txn_prefix)] {
        if !checks.is_empty() && prefix.starts_with(KEY_PREFIX) {
            c.err(
                &spec,
                format!(
                    "keys.{field} '{prefix}' starts with '{KEY_PREFIX}', where the checks keep their own keys; choose another prefix",
                ),
            );
            break;
        }
    }
    let positions = checks::positions(&spec.value);
    for (name, id, weight) in checks.ops() {
        if ops.iter().any(|o| o.name == name) {
            let (line, column) = positions
                .iter()
                .find(|(n, _)| *n == name)
                .map_or((0, 0), |(_, at)| *at);
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
            kind: OpKind::Check(id),
            weight,
        });
    }
    checks
}

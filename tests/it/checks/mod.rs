//! Invariant checks: each passes on the stand-in under faults through our
//! gRPC client, in every mode it has (`pass`); each fails, over ten seeds,
//! when a backend wrapped around a real one gets the data wrong (`fail`);
//! bad `checks:` sections are refused with positions, and `run` prints
//! the verdicts and exits 1 on a failed one (`settings`).

mod fail;
mod pass;
mod settings;

use tikv_bench::metrics::RunResult;
use tikv_bench::workload::checks::CheckVerdict;

/// The verdicts a run recorded.
pub fn verdicts(r: &RunResult) -> Vec<CheckVerdict> {
    r.checks.clone().expect("the result has checks")
}

/// The verdict of check `name`.
pub fn verdict(r: &RunResult, name: &str) -> CheckVerdict {
    verdicts(r)
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no verdict for {name}"))
}

/// A figure of a verdict's details.
pub fn figure(v: &CheckVerdict, name: &str) -> u64 {
    v.details
        .get(name)
        .and_then(|x| x.as_u64())
        .unwrap_or_else(|| panic!("{}: no figure {name} in {:?}", v.name, v.details))
}

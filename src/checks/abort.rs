//! `abort_on_fail`: the thresholds that stop a run at their first miss,
//! judged on the run so far while it runs.

use std::collections::BTreeMap;

use super::thresholds::{Threshold, evaluate_ops};
use crate::metrics::result::{OpResult, op_result};
use crate::metrics::{AbortInfo, OpStats};

/// Watches the thresholds with `abort_on_fail`: the driver calls
/// [`AbortWatch::check`] once a second with the measured totals so far.
#[derive(Debug, Clone)]
pub struct AbortWatch {
    /// The aborting thresholds, each with its delay.
    thresholds: Vec<Threshold>,
    /// The first miss, once seen: the run stops there.
    missed: Option<AbortInfo>,
}

impl AbortWatch {
    /// A watch over the thresholds of `all` that abort; `None` when none
    /// does.
    pub fn new(all: &[Threshold]) -> Option<AbortWatch> {
        let thresholds: Vec<Threshold> =
            all.iter().filter(|t| t.abort.is_some()).cloned().collect();
        (!thresholds.is_empty()).then_some(AbortWatch {
            thresholds,
            missed: None,
        })
    }

    /// Judges each aborting threshold whose delay has passed against the
    /// measured totals so far (`totals` per op, named by `names`, of the
    /// types `types`, over `measured_s` seconds). Returns the first miss,
    /// then the same miss on every later call.
    pub fn check(
        &mut self,
        totals: &[OpStats],
        names: &[&str],
        types: &[&str],
        measured_s: f64,
    ) -> Option<AbortInfo> {
        if self.missed.is_some() {
            return self.missed.clone();
        }
        let due: Vec<Threshold> = self
            .thresholds
            .iter()
            .filter(|t| t.abort.is_some_and(|d| d.as_secs_f64() <= measured_s))
            .cloned()
            .collect();
        if due.is_empty() {
            return None;
        }
        let ops: BTreeMap<String, OpResult> = names
            .iter()
            .zip(types)
            .zip(totals)
            .map(|((name, ty), s)| (name.to_string(), op_result(ty, s, measured_s)))
            .collect();
        let verdict = evaluate_ops(&due, &ops, measured_s)
            .into_iter()
            .find(|v| !v.passed)?;
        self.missed = Some(AbortInfo {
            threshold: verdict.threshold,
            measured: verdict.measured,
            at_s: crate::metrics::result::round3(measured_s),
        });
        self.missed.clone()
    }
}

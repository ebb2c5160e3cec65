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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::hist;

    fn threshold(text: &str, abort: Option<Duration>) -> Threshold {
        Threshold {
            abort,
            ..Threshold::parse(text).unwrap()
        }
    }

    /// `n` successful ops of `us` microseconds each, and `failed` failures.
    fn stats(n: u64, us: u64, failed: u64) -> OpStats {
        let mut s = OpStats::default();
        for _ in 0..n {
            hist::record(&mut s.latency, us);
        }
        s.ok = n;
        s.failed = failed;
        s
    }

    #[test]
    fn only_aborting_thresholds_are_watched() {
        let plain = [threshold("p99 < 1ms", None)];
        assert!(AbortWatch::new(&plain).is_none());
        assert!(AbortWatch::new(&[]).is_none());
        let mixed = [
            threshold("p99 < 1ms", None),
            threshold("p99 < 5ms", Some(Duration::ZERO)),
        ];
        let mut w = AbortWatch::new(&mixed).unwrap();
        // 2ms misses the plain threshold, which waits for the result, and
        // meets the aborting one.
        let s = [stats(100, 2_000, 0)];
        assert_eq!(w.check(&s, &["read"], &["get"], 1.0), None);
    }

    #[test]
    fn a_miss_after_the_delay_stops_the_run_and_says_which_and_when() {
        let list = [
            threshold("error rate < 10%", Some(Duration::from_secs(3))),
            threshold("p99 of read < 5ms", Some(Duration::from_secs(1))),
        ];
        let mut w = AbortWatch::new(&list).unwrap();
        let names = ["read", "write"];
        let types = ["get", "put"];
        let slow = [stats(100, 20_000, 0), stats(100, 100, 50)];
        // Before any delay has passed nothing is judged.
        assert_eq!(w.check(&slow, &names, &types, 0.5), None);
        // Past 1s the latency threshold is due, and missed.
        let info = w.check(&slow, &names, &types, 1.0).unwrap();
        assert_eq!(info.threshold, "p99 of read < 5ms");
        assert_eq!(info.at_s, 1.0);
        assert!(info.measured.contains("ms"), "{}", info.measured);
        // The first miss stands.
        assert_eq!(w.check(&slow, &names, &types, 4.0), Some(info));
    }

    #[test]
    fn thresholds_are_judged_on_the_figures_so_far() {
        let list = [threshold("error rate < 10%", Some(Duration::from_secs(2)))];
        let mut w = AbortWatch::new(&list).unwrap();
        let ok = [stats(100, 100, 5)];
        assert_eq!(w.check(&ok, &["read"], &["get"], 2.0), None);
        let bad = [stats(100, 100, 20)];
        let info = w.check(&bad, &["read"], &["get"], 3.0).unwrap();
        assert_eq!(info.threshold, "error rate < 10%");
        assert_eq!(info.at_s, 3.0);
        assert!(info.measured.starts_with("16.6667%"), "{}", info.measured);
    }
}

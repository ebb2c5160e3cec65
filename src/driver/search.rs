//! The SLO search: which rate to try next, and whether a step met the SLO.
//! The driver runs each step as a load stage, drains it, builds its
//! [`StageResult`], asks [`judge`] for its verdict and [`SearchState`] for
//! the next rate.
//!
//! How the search moves: from `start`, the rate grows (times `factor`, or
//! plus `step`) while steps pass, up to `max`; when the start fails, it
//! falls the same way until a step passes. Once it has a pass and a
//! failure, it bisects between the highest pass and the lowest failure
//! until they are within `precision` of the pass. It stops early when a
//! step fails because of the driver (the answer is then a floor), or after
//! `max_steps` steps.

use std::collections::BTreeMap;

use crate::checks::thresholds::evaluate_ops;
use crate::metrics::result::OpResult;
use crate::metrics::selfcheck::SATURATION_BOUND;
use crate::metrics::{SearchEnd, SearchResult, StageResult, StepVerdict, ThresholdVerdict};
use crate::workload::{Growth, Search};

/// Judges a step on its own figures: each SLO condition (latency from the
/// intended start, so the driver's lateness counts against it) and the
/// error rate against `max_error_rate`. A step that missed its SLO while
/// its ops, timed from their actual start (their service time), met it,
/// with the errors in bounds, failed because its ops started late: the
/// driver's failure, not the target's (`driver_limited`). Late sends
/// alone do not fail a step: its latency already includes them.
pub fn judge(search: &Search, step: &StageResult, workers: u32) -> StepVerdict {
    let secs = step.duration_s;
    let slo = evaluate_ops(&search.slo, &step.ops, secs);
    let mut reasons: Vec<String> = slo
        .iter()
        .filter(|v| !v.passed)
        .map(|v| format!("{} missed: measured {}", v.threshold, v.measured))
        .collect();
    let m = &step.measured;
    let bad = m.failed + m.unknown;
    let errors_ok = m.ops > 0 && bad as f64 <= search.max_error_rate * m.ops as f64;
    if m.ops == 0 {
        reasons.push("no op was measured in the step".into());
    } else if !errors_ok {
        reasons.push(format!(
            "error rate {:.2}% over the {:.2}% allowed ({bad} of {} ops failed or unknown{})",
            100.0 * bad as f64 / m.ops as f64,
            100.0 * search.max_error_rate,
            m.ops,
            top_errors(&step.ops),
        ));
    }
    let missed_slo = slo.iter().any(|v| !v.passed);
    let mut driver_limited = false;
    if missed_slo && errors_ok {
        let from_start = evaluate_ops(&search.slo, &service_view(&step.ops), secs);
        if from_start.iter().all(|v| v.passed) {
            driver_limited = true;
            reasons.push(started_late(&from_start, step, workers));
        }
    }
    StepVerdict {
        passed: reasons.is_empty(),
        slo,
        reasons,
        driver_limited,
    }
}

/// Why a driver-limited step failed: from the actual start the SLO held.
fn started_late(from_start: &[ThresholdVerdict], step: &StageResult, workers: u32) -> String {
    let measured: Vec<&str> = from_start.iter().map(|v| v.measured.as_str()).collect();
    let late = step.driver_check.as_ref().and_then(|c| {
        let l = c.lateness_us?;
        Some(format!(
            " (sends late by p99 {}; {} of {} more than {} late)",
            crate::vocab::fmt::micros(l.p99),
            c.late_ops.unwrap_or(0),
            l.count,
            crate::vocab::fmt::micros(c.late_bound_us),
        ))
    });
    let cpu = step
        .driver_check
        .as_ref()
        .and_then(|c| c.cpu)
        .filter(|c| c.busy >= SATURATION_BOUND);
    // Little's law: the workers busy on average, from the ops' service
    // times over the span.
    let busy: f64 = step
        .ops
        .values()
        .filter_map(|o| Some(o.ok as f64 * o.service_us?.mean / 1e6))
        .sum::<f64>()
        / step.duration_s.max(1e-9);
    let advice = match cpu {
        _ if busy >= WORKERS_BUSY * f64::from(workers) => format!(
            "its {workers} workers were busy {busy:.1} on average (rate × service time): \
             raise concurrency"
        ),
        Some(c) if c.with_target => format!(
            "the process used {:.2} of {} cores and also ran the target: this machine's CPU, \
             shared by the driver and the target, set the limit",
            c.busy * f64::from(c.cores),
            c.cores
        ),
        Some(c) => format!(
            "the driver used {:.2} of {} cores: give it more CPU or add drivers",
            c.busy * f64::from(c.cores),
            c.cores
        ),
        None => "raise concurrency if every worker was busy, else give the driver more CPU".into(),
    };
    format!(
        "timed from their actual start the ops met it ({}): the driver started them late{}; {advice}",
        measured.join(", "),
        late.unwrap_or_default(),
    )
}

/// The share of its workers a step kept busy on average beyond which the
/// workers, not the CPU, are taken to have been short: each runs one op at
/// a time, so near all of them busy, bursts find none free.
const WORKERS_BUSY: f64 = 0.75;

/// The step's ops with each latency histogram replaced by the service
/// time's (from the actual start), where there is one.
fn service_view(ops: &BTreeMap<String, OpResult>) -> BTreeMap<String, OpResult> {
    ops.iter()
        .map(|(name, o)| {
            let mut o = o.clone();
            if let Some(h) = &o.service_histogram {
                o.histogram = h.clone();
            }
            (name.clone(), o)
        })
        .collect()
}

/// ", mostly timeout (12)": the most frequent error kind of the step.
fn top_errors(ops: &BTreeMap<String, OpResult>) -> String {
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for o in ops.values() {
        for (k, n) in &o.errors {
            *kinds.entry(k.as_str()).or_default() += n;
        }
    }
    kinds
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(String::new(), |(k, n)| format!(", mostly {k} ({n})"))
}

/// A step the search ran: its rate, where it is in the run's stages, and
/// what it found.
#[derive(Debug, Clone)]
struct Step {
    rate: f64,
    stage: usize,
    achieved: f64,
    reasons: Vec<String>,
}

/// Where a search stands: the steps run, the highest pass, the lowest
/// failure.
#[derive(Debug, Clone)]
pub struct SearchState {
    search: Search,
    steps: Vec<usize>,
    best: Option<Step>,
    failed: Option<Step>,
    ended: Option<SearchEnd>,
}

impl SearchState {
    pub fn new(search: &Search) -> SearchState {
        SearchState {
            search: search.clone(),
            steps: Vec::new(),
            best: None,
            failed: None,
            ended: None,
        }
    }

    /// The first step's rate.
    pub fn first(&self) -> f64 {
        self.search.start.min(self.search.max)
    }

    /// Records the step at `rate` (index `stage` in the run's stages,
    /// `achieved` ops/s delivered) and its verdict; returns the next
    /// step's rate, or `None` when the search is over.
    pub fn step_done(
        &mut self,
        stage: usize,
        rate: f64,
        achieved: f64,
        verdict: &StepVerdict,
    ) -> Option<f64> {
        if self.ended.is_some() {
            return None;
        }
        self.steps.push(stage);
        let step = Step {
            rate,
            stage,
            achieved,
            reasons: verdict.reasons.clone(),
        };
        if verdict.passed {
            if self.best.as_ref().is_none_or(|b| rate > b.rate) {
                self.best = Some(step);
            }
        } else if self.failed.as_ref().is_none_or(|f| rate < f.rate) {
            self.failed = Some(step);
        }
        let next = if verdict.driver_limited {
            Err(SearchEnd::DriverLimited)
        } else {
            self.next_rate()
        };
        match next {
            Ok(r) if self.steps.len() < self.search.max_steps as usize => Some(r),
            Ok(_) => self.end(SearchEnd::OutOfSteps),
            Err(end) => self.end(end),
        }
    }

    fn end(&mut self, end: SearchEnd) -> Option<f64> {
        self.ended = Some(end);
        None
    }

    /// The next rate to try, or why the search is over.
    fn next_rate(&self) -> Result<f64, SearchEnd> {
        let s = &self.search;
        match (&self.best, &self.failed) {
            (Some(b), Some(f)) if f.rate - b.rate <= s.precision * b.rate => {
                Err(SearchEnd::Converged)
            }
            (Some(b), Some(f)) => Ok(round(b.rate + (f.rate - b.rate) / 2.0)),
            (Some(b), None) if b.rate >= s.max => Err(SearchEnd::ReachedMax),
            (Some(b), None) => Ok(round(self.grow(b.rate).min(s.max))),
            (None, Some(f)) => Ok(round(self.shrink(f.rate))),
            (None, None) => Ok(self.first()),
        }
    }

    fn grow(&self, rate: f64) -> f64 {
        match self.search.growth {
            Growth::Factor(k) => rate * k,
            Growth::Step(d) => rate + d,
        }
    }

    /// Down from a failure; a step that would reach zero halves instead.
    fn shrink(&self, rate: f64) -> f64 {
        match self.search.growth {
            Growth::Factor(k) => rate / k,
            Growth::Step(d) if rate - d > 0.0 => rate - d,
            Growth::Step(_) => rate / 2.0,
        }
    }

    /// The run was interrupted during a step: that step is not judged.
    pub fn interrupted(&mut self) {
        if self.ended.is_none() {
            self.ended = Some(SearchEnd::Interrupted);
        }
    }

    /// What the search found so far (a search still running reads as
    /// interrupted).
    pub fn result(&self) -> SearchResult {
        SearchResult {
            slo: self.search.slo.iter().map(|t| t.text.clone()).collect(),
            best_rate: self.best.as_ref().map(|b| b.rate),
            best_achieved_per_s: self.best.as_ref().map(|b| b.achieved),
            first_failed_rate: self.failed.as_ref().map(|f| f.rate),
            why: self
                .failed
                .as_ref()
                .map(|f| f.reasons.clone())
                .unwrap_or_default(),
            ended: self.ended.unwrap_or(SearchEnd::Interrupted),
            steps: self.steps.clone(),
        }
    }

    /// The stage index of the best step, if any passed.
    pub fn best_stage(&self) -> Option<usize> {
        self.best.as_ref().map(|b| b.stage)
    }
}

/// Rates to a thousandth of an op/s, so that steps print as written.
fn round(r: f64) -> f64 {
    (r * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Threshold;
    use std::time::Duration;

    fn search(growth: Growth) -> Search {
        Search {
            slo: vec![Threshold::parse("p99 < 20ms").unwrap()],
            start: 100.0,
            growth,
            max: 10_000.0,
            hold: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            precision: 0.05,
            max_steps: 20,
            max_error_rate: 0.01,
        }
    }

    fn verdict(passed: bool) -> StepVerdict {
        StepVerdict {
            passed,
            slo: Vec::new(),
            reasons: if passed {
                Vec::new()
            } else {
                vec!["p99 < 20ms missed".into()]
            },
            driver_limited: false,
        }
    }

    /// Runs the search against a target that passes every rate up to
    /// `capacity`; returns the rates tried and the result.
    fn against(s: &Search, capacity: f64) -> (Vec<f64>, SearchResult) {
        let mut state = SearchState::new(s);
        let mut rates = Vec::new();
        let mut next = Some(state.first());
        while let Some(rate) = next {
            rates.push(rate);
            let v = verdict(rate <= capacity);
            next = state.step_done(rates.len() - 1, rate, rate.min(capacity), &v);
        }
        (rates, state.result())
    }

    #[test]
    fn grows_by_its_factor_then_bisects_to_the_precision() {
        let (rates, r) = against(&search(Growth::Factor(2.0)), 400.0);
        assert_eq!(
            rates,
            [
                100.0, 200.0, 400.0, 800.0, 600.0, 500.0, 450.0, 425.0, 412.5
            ]
        );
        assert_eq!(r.best_rate, Some(400.0));
        assert_eq!(r.first_failed_rate, Some(412.5));
        assert_eq!(r.ended, SearchEnd::Converged);
        assert_eq!(r.why, ["p99 < 20ms missed"]);
        assert_eq!(r.steps, (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn a_failing_start_falls_until_a_step_passes() {
        let (rates, r) = against(&search(Growth::Step(40.0)), 25.0);
        assert_eq!(&rates[..4], [100.0, 60.0, 20.0, 40.0]);
        let (best, failed) = (r.best_rate.unwrap(), r.first_failed_rate.unwrap());
        assert!(best <= 25.0 && failed > 25.0 && failed - best <= 0.05 * best);
        assert_eq!(r.ended, SearchEnd::Converged);
    }

    #[test]
    fn stops_at_max_and_after_max_steps() {
        let mut s = search(Growth::Factor(2.0));
        s.max = 300.0;
        let (rates, r) = against(&s, 1e9);
        assert_eq!(rates, [100.0, 200.0, 300.0]);
        assert_eq!((r.best_rate, r.ended), (Some(300.0), SearchEnd::ReachedMax));
        s.max = 1e9;
        s.max_steps = 4;
        let (rates, r) = against(&s, 1e9);
        assert_eq!(rates.len(), 4);
        assert_eq!(r.ended, SearchEnd::OutOfSteps);
    }

    #[test]
    fn a_driver_limited_step_ends_the_search_with_a_floor() {
        let mut state = SearchState::new(&search(Growth::Factor(2.0)));
        assert_eq!(
            state.step_done(0, 100.0, 100.0, &verdict(true)),
            Some(200.0)
        );
        let mut v = verdict(false);
        v.driver_limited = true;
        assert_eq!(state.step_done(1, 200.0, 150.0, &v), None);
        let r = state.result();
        assert_eq!(r.ended, SearchEnd::DriverLimited);
        assert_eq!(
            (r.best_rate, r.first_failed_rate),
            (Some(100.0), Some(200.0))
        );
    }

    /// A step of 100 ops: each `service_ms` from its actual start and
    /// `late_ms` late; `failed` of them failed.
    fn step(service_ms: u64, late_ms: u64, failed: u64) -> StageResult {
        use crate::metrics::hist::{new_hist, record};
        use crate::metrics::{LevelKind, OpStats, StageLevel, StageSpan};
        let mut s = OpStats::default();
        let (mut service, mut lateness) = (new_hist(), new_hist());
        for i in 0..100 {
            record(&mut lateness, late_ms * 1000);
            if i < failed {
                s.failed += 1;
                s.errors[crate::vocab::ErrorKind::Timeout as usize] += 1;
                continue;
            }
            s.ok += 1;
            record(&mut s.latency, (service_ms + late_ms) * 1000);
            record(&mut service, service_ms * 1000);
        }
        s.service = Some(service);
        s.lateness = Some(lateness);
        StageResult::build(StageSpan {
            level: StageLevel {
                kind: LevelKind::Rate,
                from: 20.0,
                to: 20.0,
            },
            start_s: 0.0,
            warmup_s: 1.0,
            duration_s: 5.0,
            stats: &[s],
            names: &["read"],
            types: &["get"],
            completed_in_span: 100,
            cpu: None,
        })
    }

    #[test]
    fn a_step_is_judged_on_its_slo_errors_and_driver() {
        let s = search(Growth::Factor(2.0));
        let v = judge(&s, &step(5, 0, 0), 100);
        assert!(v.passed && v.reasons.is_empty(), "{v:?}");
        assert!(v.slo[0].passed);

        let v = judge(&s, &step(50, 0, 0), 100);
        assert!(!v.passed && !v.driver_limited);
        assert!(
            v.reasons[0].starts_with("p99 < 20ms missed: measured 50"),
            "{v:?}"
        );

        let v = judge(&s, &step(5, 0, 5), 100);
        assert!(!v.passed);
        assert!(v.reasons[0].contains("error rate 5.00% over the 1.00% allowed (5 of 100"));
        assert!(v.reasons[0].contains("mostly timeout (5)"), "{v:?}");
    }

    #[test]
    fn a_step_missed_only_by_late_sends_is_the_drivers() {
        let s = search(Growth::Factor(2.0));
        let v = judge(&s, &step(5, 30, 0), 100);
        assert!(!v.passed && v.driver_limited, "{v:?}");
        assert!(
            v.reasons[0].starts_with("p99 < 20ms missed: measured 35"),
            "{v:?}"
        );
        assert!(
            v.reasons[1].starts_with("timed from their actual start the ops met it (5")
                && v.reasons[1].contains("100 of 100 more than 1.00ms late"),
            "{v:?}"
        );
        // A process out of CPU that also ran the target: the machine's limit.
        let mut busy = step(5, 30, 0);
        let cpu = crate::metrics::CpuUse::new(1_900_000, 1_000_000, 2, false).with_target(true);
        busy.driver_check.as_mut().unwrap().cpu = Some(cpu);
        let v = judge(&s, &busy, 100);
        assert!(v.driver_limited, "{v:?}");
        assert!(
            v.reasons[1].ends_with(
                "the process used 1.90 of 2 cores and also ran the target: this machine's CPU, \
                 shared by the driver and the target, set the limit"
            ),
            "{v:?}"
        );
        // Workers busy on average near all of them: the workers were short.
        let mut short = step(5, 30, 0);
        short.duration_s = 0.5; // 100 ops of 5 ms in 0.5 s: one busy on average
        let v = judge(&s, &short, 1);
        assert!(
            v.reasons[1].ends_with(
                "its 1 workers were busy 1.0 on average (rate × service time): raise concurrency"
            ),
            "{v:?}"
        );
        // Late sends that did not cost the SLO do not fail the step: its
        // latency includes them.
        let v = judge(&s, &step(5, 2, 0), 100);
        assert!(v.passed && !v.driver_limited, "{v:?}");
        assert_eq!(v.slo[0].measured.get(..1), Some("7"));
        // A slow target makes sends late too: that failure is the target's.
        let v = judge(&s, &step(50, 30, 0), 100);
        assert!(!v.passed && !v.driver_limited, "{v:?}");
    }

    #[test]
    fn an_interrupted_search_says_so() {
        let mut state = SearchState::new(&search(Growth::Factor(2.0)));
        state.step_done(0, 100.0, 100.0, &verdict(true));
        state.interrupted();
        assert_eq!(state.result().ended, SearchEnd::Interrupted);
        assert_eq!(state.step_done(1, 200.0, 200.0, &verdict(true)), None);
    }
}

//! The run's stages as they complete: each stage's section built from the
//! figures the collector hands over once every worker has moved past it,
//! and, for an SLO search, the step's verdict and the next step published.

use std::time::Instant;

use super::plan::{self, Plan, Planned};
use super::search::{SearchState, judge};
use crate::metrics::result::{op_result, phase};
use crate::metrics::{Collector, RunResult, StageResult, StageSpan, Summary};
use crate::workload::{Search, Workload};

/// The stages completed so far, and where the search stands.
pub struct Staging {
    on: bool,
    base: Instant,
    names: Vec<String>,
    types: Vec<&'static str>,
    workers: usize,
    search: Option<(Search, SearchState)>,
    results: Vec<StageResult>,
}

impl Staging {
    /// `on`: the result has a `stages` section; `base`: the first stage's
    /// start.
    pub fn new(w: &Workload, base: Instant, on: bool) -> Staging {
        Staging {
            on,
            base,
            names: w.ops.iter().map(|o| o.name.clone()).collect(),
            types: w.ops.iter().map(|o| o.kind.type_name()).collect(),
            workers: w.concurrency as usize,
            search: w.search.as_ref().map(|s| (s.clone(), SearchState::new(s))),
            results: Vec::new(),
        }
    }

    /// Takes every stage the collector has complete, in order; a search
    /// judges each step and publishes the next (or closes the plan).
    /// `interrupted`: the run was interrupted, so the stage in progress
    /// ends `now` and stages not begun are left out.
    pub fn collect(&mut self, c: &mut Collector, plan: &Plan, now: Instant, interrupted: bool) {
        if !self.on {
            return;
        }
        loop {
            let k = self.results.len();
            let stages = plan.stages();
            let Some(stage) = stages.list.get(k).copied() else {
                return;
            };
            if interrupted && stage.start >= now {
                return;
            }
            let Some(figs) = c.take_stage(k) else {
                return;
            };
            let mut result = self.build(&stage, &figs, now, interrupted);
            if let Some((search, state)) = &mut self.search {
                if interrupted {
                    state.interrupted();
                    plan.close();
                } else {
                    let verdict = judge(search, &result);
                    let next = state.step_done(k, stage.to, result.achieved_per_s, &verdict);
                    result.verdict = Some(verdict);
                    match next {
                        Some(rate) => plan.publish(plan::step(rate, search, now, self.workers)),
                        None => plan.close(),
                    }
                }
            }
            self.results.push(result);
        }
    }

    fn build(
        &self,
        stage: &Planned,
        figs: &crate::metrics::StageReport,
        now: Instant,
        interrupted: bool,
    ) -> StageResult {
        let end = match stage.end() {
            Some(end) if interrupted => end.min(now),
            Some(end) => end,
            None => now,
        };
        let from = stage.measure_from();
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        StageResult::build(StageSpan {
            level: stage.level(),
            start_s: stage
                .start
                .saturating_duration_since(self.base)
                .as_secs_f64(),
            warmup_s: stage.warmup.as_secs_f64(),
            duration_s: end.saturating_duration_since(from).as_secs_f64(),
            stats: &figs.ops,
            names: &names,
            types: &self.types,
            completed_in_span: figs.completed_in_span,
        })
    }

    /// Sets the result's `stages` (and `search`) sections; the measured
    /// phase's duration becomes the sum of the stages' measured spans (the
    /// warmup's, of their warmups), and the run's rates follow.
    pub fn attach(self, result: &mut RunResult, w: &Workload, summary: &Summary) {
        let secs: f64 = self.results.iter().map(|s| s.duration_s).sum();
        let warm: f64 = self.results.iter().map(|s| s.warmup_s).sum();
        result.measured = phase(&summary.ops, secs);
        result.warmup = phase(&summary.warmup, warm);
        result.ops = w
            .ops
            .iter()
            .zip(&summary.ops)
            .map(|(o, s)| (o.name.clone(), op_result(o.kind.type_name(), s, secs)))
            .collect();
        result.search = self.search.map(|(_, state)| state.result());
        result.stages = Some(self.results);
    }
}

//! The run's stages as they complete: each stage's section built from the
//! figures the collector hands over once every worker has moved past it,
//! and, for an SLO search, the step's verdict and the next step published.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::os::CpuMark;
use super::plan::{self, Plan, PlanView, Planned};
use super::search::{SearchState, judge};
use crate::metrics::LevelKind;
use crate::metrics::result::{op_result, phase};
use crate::metrics::{Collector, CpuUse, RunResult, StageResult, StageSpan, Summary};
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
    /// The process's CPU per stage (the system clock only).
    cpu: Option<StageCpu>,
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
            cpu: None,
        }
    }

    /// Reads the process's CPU over each stage's measured span.
    pub fn meter_cpu(&mut self, view: PlanView, with_target: bool) {
        if self.on {
            self.cpu = Some(StageCpu::start(view, with_target));
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
            let mut result = self.build(k, &stage, &figs, now, interrupted);
            if let Some((search, state)) = &mut self.search {
                if interrupted {
                    state.interrupted();
                    plan.close();
                } else {
                    let verdict = judge(search, &result, self.workers as u32);
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
        k: usize,
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
            cpu: self.cpu.as_ref().and_then(|c| c.get(k)),
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

/// The process's CPU over each stage's measured span, read by a task that
/// wakes at the span's start and end (tokio's timer: within a millisecond
/// or so of each, against spans of seconds). A stage handed over before
/// the task woke at its end is read when it is asked for.
struct StageCpu {
    readings: Arc<Mutex<Vec<Reading>>>,
    with_target: bool,
    task: tokio::task::JoinHandle<()>,
}

/// One stage's reading: the process's CPU at its span's start, then its
/// use over the span.
#[derive(Debug, Clone, Copy)]
struct Reading {
    first: Option<CpuMark>,
    closed_loop: bool,
    used: Option<CpuUse>,
}

impl Reading {
    fn until_now(&self, with_target: bool) -> Option<CpuUse> {
        let used = self.first?.use_until(Instant::now(), self.closed_loop)?;
        Some(used.with_target(with_target))
    }
}

impl StageCpu {
    fn start(mut view: PlanView, with_target: bool) -> StageCpu {
        let readings: Arc<Mutex<Vec<Reading>>> = Arc::default();
        let out = readings.clone();
        let task = tokio::spawn(async move {
            let mut k = 0;
            while let Some(stage) = view.wait(k).await {
                let Some(end) = stage.end() else { return };
                tokio::time::sleep_until(stage.measure_from().into()).await;
                let reading = Reading {
                    first: CpuMark::now(),
                    closed_loop: stage.kind == LevelKind::Concurrency,
                    used: None,
                };
                lock(&out).push(reading);
                tokio::time::sleep_until(end.into()).await;
                let used = reading.until_now(with_target);
                lock(&out)[k].used = used;
                k += 1;
            }
        });
        StageCpu {
            readings,
            with_target,
            task,
        }
    }

    /// Stage `k`'s use over its span (up to now, if the task has not read
    /// its end yet).
    fn get(&self, k: usize) -> Option<CpuUse> {
        let r = lock(&self.readings);
        let reading = r.get(k)?;
        reading.used.or_else(|| reading.until_now(self.with_target))
    }
}

fn lock(r: &Mutex<Vec<Reading>>) -> std::sync::MutexGuard<'_, Vec<Reading>> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for StageCpu {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! What the text summary, the report and the comparison read off a
//! result's load stages and SLO search: each stage's latency (all its ops'
//! histograms added), the latency-throughput curve with its knee, the
//! search's answer in one sentence.

use crate::metrics::hist::{self, Percentiles};
use crate::metrics::{LevelKind, RunResult, SearchEnd, SearchResult, StageLevel, StageResult};
use crate::vocab::fmt::{micros, trim};

use super::ReportError;

/// A stage's latency: the histograms of all its ops added.
pub fn latency(s: &StageResult) -> Result<Percentiles, ReportError> {
    let mut all = hist::new_hist();
    for (name, o) in &s.ops {
        let h = hist::decode(&o.histogram).map_err(|source| ReportError::Histogram {
            op: name.clone(),
            source,
        })?;
        hist::add(&mut all, &h);
    }
    Ok(Percentiles::of(&all))
}

/// A rate as the answer says it: whole ops/s, a decimal when below 10.
/// How the run offered its load, in words: "open loop at 500 ops/s",
/// "closed loop", "open loop in 4 stages", "open loop, SLO search".
pub fn mode(r: &RunResult) -> String {
    let stages = r.stages.as_deref().unwrap_or_default();
    match (r.rate, &r.search, stages.first()) {
        (Some(x), _, _) => format!("open loop at {} ops/s", rate(x)),
        (None, Some(_), _) => format!("open loop, SLO search in {} steps", stages.len()),
        (None, None, Some(first)) => {
            let lp = match first.level.kind {
                LevelKind::Rate => "open",
                LevelKind::Concurrency => "closed",
            };
            format!("{lp} loop in {} stages", stages.len())
        }
        (None, None, None) => "closed loop".into(),
    }
}

/// The warning the run's self-check gives, unless the run is a search: a
/// search drives the target past its capacity on purpose, so its late
/// sends there are expected, and each step's verdict says whether they
/// cost that step its SLO (`search_note` says so instead).
pub fn driver_warning(r: &RunResult) -> Option<String> {
    let c = r.driver_check.as_ref()?;
    if r.search.is_some() {
        return None;
    }
    c.warning()
}

/// For a search whose run-wide self-check found late sends: why that is
/// not a warning.
pub fn search_note(r: &RunResult) -> Option<String> {
    let c = r.driver_check.as_ref()?;
    (r.search.is_some() && c.warning().is_some()).then(|| {
        "over the whole search the driver started sends late: a search drives the target \
         past its capacity, where every worker waits on a slow op; each step's verdict says \
         whether late sends cost that step its SLO (driver-limited)"
            .to_string()
    })
}

pub fn rate(x: f64) -> String {
    trim(x, if x.abs() < 10.0 { 1 } else { 0 })
}

/// `rate 1000/s`, `rate 0→1000/s`, `32 workers`, `8→32 workers`.
pub fn level(l: &StageLevel) -> String {
    let span = if l.from == l.to {
        rate(l.to)
    } else {
        format!("{}→{}", rate(l.from), rate(l.to))
    };
    match l.kind {
        LevelKind::Rate => format!("rate {span}/s"),
        LevelKind::Concurrency => format!("{span} workers"),
    }
}

/// Ops intended to start per second of the measured span (open loop: the
/// offered load); `None` for a concurrency stage, which offers workers.
pub fn offered(s: &StageResult) -> Option<f64> {
    (s.level.kind == LevelKind::Rate && s.duration_s > 0.0)
        .then(|| s.measured.ops as f64 / s.duration_s)
}

/// `pass`, `FAIL`, `FAIL (driver)`, or empty for a stage that is no
/// search step.
pub fn verdict(s: &StageResult) -> &'static str {
    match &s.verdict {
        None => "",
        Some(v) if v.passed => "pass",
        Some(v) if v.driver_limited => "FAIL (driver)",
        Some(_) => "FAIL",
    }
}

/// The search's answer in one sentence, e.g. "highest rate meeting p99 of
/// read < 10ms: 1600 ops/s (achieved 1598/s); 1800 ops/s failed: p99 of
/// read 34.2ms (limit 10ms)".
pub fn answer(s: &SearchResult) -> String {
    let slo = s.slo.join(" and ");
    let why = if s.why.is_empty() {
        "no reason recorded".to_string()
    } else {
        s.why.join("; ")
    };
    let mut out = match (s.best_rate, s.first_failed_rate) {
        (Some(best), failed) => {
            let mut a = format!("highest rate meeting {slo}: {} ops/s", rate(best));
            if let Some(x) = s.best_achieved_per_s {
                a.push_str(&format!(" (achieved {}/s)", rate(x)));
            }
            match failed {
                Some(f) => a.push_str(&format!("; {} ops/s failed: {why}", rate(f))),
                None => a.push_str("; no step failed"),
            }
            a
        }
        (None, Some(f)) => format!("no rate met {slo}: {} ops/s failed: {why}", rate(f)),
        (None, None) => format!("no step of the search for {slo} was judged"),
    };
    if let Some(note) = ending(s) {
        out.push_str(&format!(" ({note})"));
    }
    out
}

/// What the way the search ended means for its answer, unless it converged.
pub fn ending(s: &SearchResult) -> Option<&'static str> {
    match s.ended {
        SearchEnd::Converged => None,
        SearchEnd::DriverLimited => Some(
            "the driver, not the target, missed the SLO: the answer is a floor of the target's capacity",
        ),
        SearchEnd::ReachedMax => {
            Some("the search reached its max rate: the target may take more; raise max")
        }
        SearchEnd::OutOfSteps => Some("max_steps ran out before the search converged"),
        SearchEnd::Interrupted => Some("interrupted: the answer covers the steps run"),
    }
}

/// One point of the latency-throughput curve: a stage or search step.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Index into the result's `stages`.
    pub stage: usize,
    /// The stage's level (its end, for a ramp).
    pub level: f64,
    /// Ops/s the target delivered: the x.
    pub achieved: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// A search step's verdict; `None` for a plain stage.
    pub passed: Option<bool>,
}

/// The curve of `r`, sorted by level (a search's steps by rate): one point
/// per stage with measured ops; empty without stages.
pub fn curve(r: &RunResult) -> Result<Vec<CurvePoint>, ReportError> {
    let mut points = Vec::new();
    for (i, s) in r.stages.iter().flatten().enumerate() {
        let l = latency(s)?;
        if l.count == 0 {
            continue;
        }
        points.push(CurvePoint {
            stage: i,
            level: s.level.to,
            achieved: s.achieved_per_s,
            p50_us: l.p50,
            p99_us: l.p99,
            passed: s.verdict.as_ref().map(|v| v.passed),
        });
    }
    points.sort_by(|a, b| a.level.total_cmp(&b.level));
    Ok(points)
}

/// The knee of the curve, an index into `points`: for a search its best
/// passing step; for plain stages the one with the greatest power
/// (achieved ops/s over p99, Kleinrock's "power").
pub fn knee(r: &RunResult, points: &[CurvePoint]) -> Option<usize> {
    if let Some(search) = &r.search {
        let best = search.best_rate?;
        return points
            .iter()
            .position(|p| p.passed == Some(true) && p.level == best);
    }
    let power = |p: &CurvePoint| p.achieved / (p.p99_us.max(1) as f64);
    (0..points.len()).max_by(|&a, &b| power(&points[a]).total_cmp(&power(&points[b])))
}

/// A stage's p50, p99 and max as table cells (dashes when it has no ops).
pub fn latency_cells(l: &Percentiles) -> [String; 3] {
    if l.count == 0 {
        return ["–".into(), "–".into(), "–".into()];
    }
    [micros(l.p50), micros(l.p99), micros(l.max)]
}

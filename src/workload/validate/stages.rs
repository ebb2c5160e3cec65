//! Checking `stages:` and `search:`: each stage's level and length, the
//! search's SLO and bounds, and the top-level fields they replace.

use std::time::Duration;

use super::Checker;
use super::settings::parse_threshold;
use crate::workload::checked::*;
use crate::workload::spec::*;

const STAGE_FORM: &str =
    "write e.g. {rate: 1000, hold: 30s} or {concurrency: 32, ramp: 1m, warmup: 5s}";

/// Sweep parameters that mean the same with stages or a search.
const OTHER_AXES: &str = "lock, commit, theta, hot_set, hot_ops, pool_size";

/// The stages and search of a spec, and the top-level fields they replace,
/// refused at their positions: run before those fields are read.
pub(super) fn check_replaced(c: &mut Checker, spec: &WorkloadSpec) {
    if let (Some(_), Some(search)) = (&spec.stages, &spec.search) {
        c.err(
            search,
            "give either 'stages' or 'search', not both: a search runs steps of its own choosing",
        );
    }
    let closed = spec.stages.as_ref().is_some_and(|s| {
        s.value
            .first()
            .is_some_and(|st| st.value.rate.is_none() && st.value.concurrency.is_some())
    });
    let (what, why_rate, why_length, why_warmup) = if spec.stages.is_some() {
        (
            "stages",
            "each stage sets its own level ('rate: OPS_PER_S' or 'concurrency: WORKERS')",
            "the run lasts as long as its stages (each one's 'hold' or 'ramp')",
            "give each stage its own 'warmup'",
        )
    } else if spec.search.is_some() {
        (
            "search",
            "the search sets each step's rate, from search.start",
            "each step lasts search.warmup + search.hold, and the search ends when it has its answer",
            "each step's unmeasured start is search.warmup",
        )
    } else {
        return;
    };
    let refuse = |c: &mut Checker, line: u64, col: u64, field: &str, why: &str| {
        c.diags.push(crate::workload::Diagnostic::at(
            line,
            col,
            format!("'{field}' cannot be given with '{what}': {why}"),
        ));
    };
    if let Some(r) = &spec.rate {
        refuse(c, line(r), col(r), "rate", why_rate);
    }
    if let Some(d) = &spec.duration {
        refuse(c, line(d), col(d), "duration", why_length);
    }
    if let Some(o) = &spec.operations {
        refuse(c, line(o), col(o), "operations", why_length);
    }
    if let Some(w) = &spec.warmup {
        refuse(c, line(w), col(w), "warmup", why_warmup);
    }
    if closed && let Some(n) = &spec.concurrency {
        let why = "with concurrency stages the workers are the largest stage's 'concurrency'";
        refuse(c, line(n), col(n), "concurrency", why);
    }
    check_sweep_axes(c, spec.sweep.as_ref(), what, closed);
}

fn line<T>(s: &Sp<T>) -> u64 {
    s.referenced.line()
}

fn col<T>(s: &Sp<T>) -> u64 {
    s.referenced.column()
}

/// A sweep over `rate` (and, with concurrency stages, over `concurrency`)
/// would fight the stages or the search over the level.
fn check_sweep_axes(c: &mut Checker, sweep: Option<&SweepSpec>, what: &str, closed: bool) {
    let Some(sweep) = sweep else { return };
    if let Some(r) = &sweep.rate {
        c.err(
            r,
            format!(
                "sweeping 'rate' conflicts with '{what}', which sets the rate; sweep one of {OTHER_AXES}, or concurrency (the worker count)"
            ),
        );
    }
    if closed && let Some(n) = &sweep.concurrency {
        c.err(
            n,
            format!(
                "sweeping 'concurrency' conflicts with concurrency stages, which set the workers; sweep one of {OTHER_AXES}"
            ),
        );
    }
}

/// The stages as checked; empty when there are none.
pub(super) fn check_stages(c: &mut Checker, spec: Option<Sp<Vec<Sp<StageSpec>>>>) -> Vec<Stage> {
    let Some(list) = spec else {
        return Vec::new();
    };
    if list.value.is_empty() {
        c.err(
            &list,
            format!("'stages' is empty; list at least one stage: {STAGE_FORM}"),
        );
    }
    let mut stages: Vec<Stage> = Vec::with_capacity(list.value.len());
    for (i, st) in list.value.iter().enumerate() {
        let Some(level) = stage_level(c, st) else {
            continue;
        };
        if let Some(first) = stages.first()
            && std::mem::discriminant(&first.level) != std::mem::discriminant(&level)
        {
            let (this, that) = match level {
                Level::Rate(_) => ("a rate", "concurrency"),
                Level::Workers(_) => ("a concurrency", "rate"),
            };
            let at = st.value.rate.as_ref().map_or_else(
                || {
                    st.value
                        .concurrency
                        .as_ref()
                        .map_or((0, 0), |n| (line(n), col(n)))
                },
                |r| (line(r), col(r)),
            );
            c.diags.push(crate::workload::Diagnostic::at(
                at.0,
                at.1,
                format!(
                    "stage {} is {this} stage, but stage 1 is a {that} stage; a workload's stages are all rate stages (open loop) or all concurrency stages (closed loop)",
                    i + 1
                ),
            ));
        }
        let (ramp, duration) = stage_length(c, st);
        let warmup = stage_warmup(c, st, duration, ramp);
        stages.push(Stage {
            level,
            ramp,
            duration,
            warmup,
        });
    }
    stages
}

/// A stage's level: `rate` or `concurrency`, exactly one.
fn stage_level(c: &mut Checker, st: &Sp<StageSpec>) -> Option<Level> {
    match (&st.value.rate, &st.value.concurrency) {
        (Some(_), Some(n)) => {
            c.err(
                n,
                "a stage gives either 'rate' (ops/s, open loop) or 'concurrency' (busy workers, closed loop), not both",
            );
            None
        }
        (None, None) => {
            c.err(
                st,
                format!(
                    "a stage needs a level: 'rate' (ops/s, open loop) or 'concurrency' (busy workers, closed loop); {STAGE_FORM}"
                ),
            );
            None
        }
        (Some(r), None) => {
            if !(r.value.is_finite() && r.value > 0.0) {
                c.err(
                    r,
                    format!(
                        "a stage's rate must be a positive number of ops/s, got {}",
                        r.value
                    ),
                );
            }
            Some(Level::Rate(r.value))
        }
        (None, Some(n)) => Some(Level::Workers(c.int(
            n,
            1,
            100_000,
            "a stage's concurrency",
        ))),
    }
}

/// Whether a stage ramps, and its length: `hold` or `ramp`, exactly one.
fn stage_length(c: &mut Checker, st: &Sp<StageSpec>) -> (bool, Duration) {
    match (&st.value.hold, &st.value.ramp) {
        (Some(_), Some(r)) => {
            c.err(
                r,
                "a stage gives either 'hold: D' (its level for D) or 'ramp: D' (from the previous stage's level to its own over D), not both",
            );
            (true, Duration::from_secs(1))
        }
        (None, None) => {
            c.err(
                st,
                format!(
                    "a stage needs a length: 'hold: D' (its level for D) or 'ramp: D' (from the previous stage's level, 0 before the first, to its own over D); {STAGE_FORM}"
                ),
            );
            (false, Duration::from_secs(1))
        }
        (Some(h), None) => (false, c.duration(h, "a stage's hold", false)),
        (None, Some(r)) => (true, c.duration(r, "a stage's ramp", false)),
    }
}

/// A stage's warmup: the first part of its length, shorter than it.
fn stage_warmup(c: &mut Checker, st: &Sp<StageSpec>, length: Duration, ramp: bool) -> Duration {
    let Some(w) = &st.value.warmup else {
        return Duration::ZERO;
    };
    let warmup = c.duration(w, "a stage's warmup", true);
    if warmup >= length {
        c.err(
            w,
            format!(
                "a stage's warmup ({}) must be shorter than its {} ({}): the warmup is the unmeasured start of the stage",
                humantime::format_duration(warmup),
                if ramp { "ramp" } else { "hold" },
                humantime::format_duration(length)
            ),
        );
    }
    warmup
}

/// The search as checked; `ops` names the op names and types the SLO may
/// name.
pub(super) fn check_search(
    c: &mut Checker,
    spec: Option<Sp<SearchSpec>>,
    ops: &[OpConfig],
) -> Option<Search> {
    let spec = spec?;
    let s = &spec.value;
    let slo = check_slo(c, &spec, ops);
    let start = match &s.start {
        Some(r) => positive(c, r, "search.start"),
        None => {
            c.err(
                &spec,
                "a search needs 'start': the rate of its first step in ops/s, e.g. start: 1000",
            );
            1.0
        }
    };
    let max = s
        .max
        .as_ref()
        .map_or(DEFAULT_SEARCH_MAX, |m| positive(c, m, "search.max"));
    if let Some(r) = &s.start
        && start > max
    {
        c.err(
            r,
            format!("search.start ({start}) must not exceed search.max ({max})"),
        );
    }
    let growth = check_growth(c, s);
    let hold = s
        .hold
        .as_ref()
        .map_or(DEFAULT_SEARCH_HOLD, |h| c.duration(h, "search.hold", false));
    let warmup = s.warmup.as_ref().map_or(DEFAULT_SEARCH_WARMUP, |w| {
        c.duration(w, "search.warmup", true)
    });
    let precision = s.precision.as_ref().map_or(DEFAULT_SEARCH_PRECISION, |p| {
        ratio(c, p, "search.precision", false)
    });
    let max_error_rate = s
        .max_error_rate
        .as_ref()
        .map_or(DEFAULT_SEARCH_MAX_ERROR_RATE, |p| {
            ratio(c, p, "search.max_error_rate", true)
        });
    let max_steps = s.max_steps.as_ref().map_or(DEFAULT_SEARCH_MAX_STEPS, |n| {
        c.int(n, 1, 1000, "search.max_steps")
    });
    Some(Search {
        slo,
        start,
        growth,
        max,
        hold,
        warmup,
        precision,
        max_steps,
        max_error_rate,
    })
}

/// The SLO: one condition or a non-empty list, each in the thresholds'
/// grammar (without `abort_on_fail`), naming ops the workload has.
fn check_slo(c: &mut Checker, spec: &Sp<SearchSpec>, ops: &[OpConfig]) -> Vec<Threshold> {
    let Some(slo) = &spec.value.slo else {
        c.err(
            spec,
            "a search needs 'slo': the condition each step must meet, e.g. slo: \"p99 of read < 10ms\" (or a list of them)",
        );
        return Vec::new();
    };
    let texts: Vec<Sp<String>> = match &slo.value {
        SloSpec::One(t) => vec![Sp {
            value: t.clone(),
            referenced: slo.referenced,
            defined: slo.defined,
        }],
        SloSpec::All(list) => list.clone(),
    };
    if texts.is_empty() {
        c.err(
            slo,
            "search.slo is empty; give at least one condition, e.g. \"p99 of read < 10ms\"",
        );
    }
    texts
        .iter()
        .filter_map(|t| {
            let th = parse_threshold(c, t, ops)?;
            if th.relative() {
                c.err(
                    t,
                    format!(
                        "search.slo '{}' is relative to a baseline; a search judges each step on its own, so give an absolute limit, e.g. \"p99 of read < 10ms\"",
                        th.text
                    ),
                );
                return None;
            }
            Some(th)
        })
        .collect()
}

/// `factor` (> 1) or `step` (> 0 ops/s), not both; the factor by default.
fn check_growth(c: &mut Checker, s: &SearchSpec) -> Growth {
    match (&s.factor, &s.step) {
        (Some(_), Some(st)) => {
            c.err(
                st,
                "give search.factor (times the rate each step) or search.step (ops/s added each step), not both",
            );
            Growth::Factor(DEFAULT_SEARCH_FACTOR)
        }
        (Some(f), None) => {
            if !(f.value.is_finite() && f.value > 1.0) {
                c.err(
                    f,
                    format!(
                        "search.factor must be greater than 1 (each step multiplies the rate by it), got {}",
                        f.value
                    ),
                );
            }
            Growth::Factor(f.value)
        }
        (None, Some(st)) => Growth::Step(positive(c, st, "search.step")),
        (None, None) => Growth::Factor(DEFAULT_SEARCH_FACTOR),
    }
}

fn positive(c: &mut Checker, v: &Sp<f64>, what: &str) -> f64 {
    if !(v.value.is_finite() && v.value > 0.0) {
        c.err(
            v,
            format!("{what} must be a positive number of ops/s, got {}", v.value),
        );
    }
    v.value
}

/// A fraction written `0.05` or `5%`: in (0, 1), or in [0, 1] with
/// `closed`.
fn ratio(c: &mut Checker, v: &Sp<RatioSpec>, what: &str, closed: bool) -> f64 {
    let value = match &v.value {
        RatioSpec::Number(x) => Some(*x),
        RatioSpec::Text(t) => match t.trim().strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().ok().map(|x| x / 100.0),
            None => t.trim().parse::<f64>().ok(),
        },
    };
    let ok = |x: f64| {
        x.is_finite()
            && if closed {
                (0.0..=1.0).contains(&x)
            } else {
                x > 0.0 && x < 1.0
            }
    };
    match value {
        Some(x) if ok(x) => x,
        _ => {
            let written = match &v.value {
                RatioSpec::Number(x) => x.to_string(),
                RatioSpec::Text(t) => format!("'{t}'"),
            };
            let range = if closed { "[0, 1]" } else { "(0, 1)" };
            c.err(
                v,
                format!("{what} must be a fraction in {range}, written 0.05 or 5%, got {written}"),
            );
            0.5
        }
    }
}

/// A workload with stages or a search: no one `rate` or `warmup`, and
/// `stop` the longest the run can last: the stages' total, or for a
/// search every step run (`max_steps` x (`warmup` + `hold`)). With
/// concurrency stages, the workers are the largest stage's.
pub(super) fn settle(mut w: Workload) -> Workload {
    let stop = match &w.search {
        Some(s) => Stop::Duration((s.warmup + s.hold) * s.max_steps),
        None if w.stages.is_empty() => return w,
        None => Stop::Duration(w.stages.iter().map(|s| s.duration).sum()),
    };
    w.rate = None;
    w.warmup = Duration::ZERO;
    w.stop = stop;
    let largest = w.stages.iter().filter_map(|s| match s.level {
        Level::Workers(n) => Some(n),
        Level::Rate(_) => None,
    });
    if let Some(n) = largest.max() {
        w.concurrency = n;
    }
    w
}

//! Merging load stages: stage by stage, levels summed (each driver offers
//! its share); a search does not merge (it runs in one driver).

use std::collections::BTreeMap;

use super::{MergeError, merge_op, merge_phase, sum_hists};
use crate::metrics::result::{OpResult, RunResult, round3};
use crate::metrics::selfcheck::DriverCheck;
use crate::metrics::stages::{StageLevel, StageResult};

/// The drivers' stages merged stage by stage (`None` when no result has
/// stages): refused for a search, or when a result's stages are not the
/// first's in count, kind and shape.
pub(super) fn merge_stages(results: &[RunResult]) -> Result<Option<Vec<StageResult>>, MergeError> {
    if let Some(i) = results.iter().position(|r| r.search.is_some()) {
        return Err(MergeError::Search { result: i + 1 });
    }
    let first = &results[0].stages;
    let count = |s: &Option<Vec<StageResult>>| s.as_ref().map_or(0, Vec::len);
    for (i, r) in results.iter().enumerate().skip(1) {
        let bad = |stage: usize, what: String| MergeError::Stages {
            result: i + 1,
            run: r.run_id.clone(),
            stage,
            what,
        };
        if count(&r.stages) != count(first) {
            let what = format!(
                "it has {} stages, result 1 has {}",
                count(&r.stages),
                count(first)
            );
            return Err(bad(0, what));
        }
        let pairs = first.iter().flatten().zip(r.stages.iter().flatten());
        for (k, (a, b)) in pairs.enumerate() {
            if let Some(what) = level_mismatch(&a.level, &b.level) {
                return Err(bad(k + 1, what));
            }
        }
    }
    let Some(first) = first else {
        return Ok(None);
    };
    (0..first.len())
        .map(|k| {
            let parts: Vec<&StageResult> = results
                .iter()
                .filter_map(|r| r.stages.as_ref().map(|s| &s[k]))
                .collect();
            merge_stage(&parts)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Why two drivers' levels of one stage are not shares of one level: a
/// rate beside a concurrency, or a ramp beside a hold.
fn level_mismatch(a: &StageLevel, b: &StageLevel) -> Option<String> {
    let kind = |l: &StageLevel| format!("{:?}", l.kind).to_lowercase();
    let shape = |l: &StageLevel| if l.from == l.to { "held" } else { "ramped" };
    if a.kind != b.kind {
        Some(format!(
            "its level is a {}, result 1's a {}",
            kind(b),
            kind(a)
        ))
    } else if shape(a) != shape(b) {
        Some(format!(
            "its level is {}, result 1's {}",
            shape(b),
            shape(a)
        ))
    } else {
        None
    }
}

/// One stage from the drivers' parts of it: levels, ops and achieved
/// rates summed (each driver offers its share), histograms added, the
/// longest measured span; the self-check judged afresh on the added
/// lateness.
fn merge_stage(parts: &[&StageResult]) -> Result<StageResult, MergeError> {
    let first = parts[0];
    let longest = |get: fn(&StageResult) -> f64| parts.iter().map(|s| get(s)).fold(0.0, f64::max);
    let duration_s = longest(|s| s.duration_s);
    let mut names: Vec<&String> = parts.iter().flat_map(|s| s.ops.keys()).collect();
    names.sort();
    names.dedup();
    let mut ops = BTreeMap::new();
    for name in names {
        let of: Vec<&OpResult> = parts.iter().filter_map(|s| s.ops.get(name)).collect();
        ops.insert(name.clone(), merge_op(name, &of, duration_s)?);
    }
    let lateness = sum_hists(
        "(all ops)",
        ops.values()
            .map(|o: &OpResult| o.lateness_histogram.as_ref()),
    )?;
    Ok(StageResult {
        level: StageLevel {
            kind: first.level.kind,
            from: round3(parts.iter().map(|s| s.level.from).sum()),
            to: round3(parts.iter().map(|s| s.level.to).sum()),
        },
        start_s: parts
            .iter()
            .map(|s| s.start_s)
            .fold(f64::INFINITY, f64::min),
        warmup_s: longest(|s| s.warmup_s),
        duration_s,
        measured: merge_phase(parts.iter().map(|s| &s.measured), Some(duration_s)),
        achieved_per_s: round3(parts.iter().map(|s| s.achieved_per_s).sum()),
        ops,
        driver_check: DriverCheck::judge(lateness.as_ref(), None),
        verdict: None,
    })
}

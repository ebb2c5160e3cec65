//! Merging results from several driver processes (shards of one workload)
//! into one: histograms are added, never percentiles averaged; counters are
//! summed; timelines are aligned by wall-clock second (a driver's coarse
//! rows of a long run take the other drivers' seconds they cover); rates are recomputed
//! from the merged counts over the merged measured window; the slowest ops
//! are those of all results, kept exactly. Load stages merge stage by
//! stage (levels summed: each driver offers its share); a search does not
//! merge (it runs in one driver). Merging is associative and commutative,
//! so drivers can be merged in any grouping.

mod stages;
mod timeline;

use std::collections::BTreeMap;

use super::driver_rows::{self, HeldShard};
use super::hist::{self, Hist, Percentiles};
use super::impact;
use super::memory::MemoryInfo;
use super::places;
use super::result::{LoadResult, OpResult, PhaseResult, RunResult, rate, round3};
use super::sections::ShardInfo;
use super::selfcheck::{CpuUse, DriverCheck};
use super::server_time::ServerTimeResult;
use super::slow::{SlowOp, keep_slowest};
use super::stages::{AbortInfo, StageResult};
use crate::backend::TargetInfo;
use crate::vocab::transport::TransportStats;
use stages::merge_stages;
use timeline::merge_timeline;

/// Why results cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no results to merge")]
    Empty,
    /// The results do not come from one workload: merge only the shards of
    /// one run (same workload file, seed and overrides).
    #[error("{0}")]
    Mismatch(String),
    /// One run would be counted twice: the same result (or a merge that
    /// holds it) is given twice. Give each driver's result once.
    #[error(
        "results {first} and {second} both hold run {run}: merging it twice would count its ops twice"
    )]
    SameRun {
        run: String,
        first: usize,
        second: usize,
    },
    /// Two shard results ran some of the same workers (the same shard
    /// twice, or shards of different splits). Give each driver's result
    /// once, all from one split.
    #[error(
        "results {first} and {second} are shards {a} and {b}, whose workers overlap: merging them would count those workers twice"
    )]
    OverlappingShards {
        /// `I/N (workers S..E)` of each.
        a: String,
        b: String,
        first: usize,
        second: usize,
    },
    /// Two results are shards of different sharded runs (their
    /// `shard.run` differ, or one has a run id and the other none). Merge
    /// one run's shards: those written with one `run --run-id`.
    #[error(
        "results {first} and {second} are shards of different runs ({a} and {b}): merge one run's shards"
    )]
    MixedRuns {
        /// Each one's run, as `run ID` or `no run id`.
        a: String,
        b: String,
        first: usize,
        second: usize,
    },
    /// A result holds an SLO search: a search decides its steps as it runs,
    /// in one driver, so there is nothing to merge it with. Run a search
    /// without `--shard`.
    #[error(
        "result {result} holds an SLO search: a search runs in one driver (it picks each step from the last), so its results do not merge"
    )]
    Search { result: usize },
    /// A result's load stages are not those of the first: another count,
    /// or a stage of another kind or shape. Merge only the shards of one
    /// staged run.
    #[error(
        "result {result} (run {run}), stage {stage}: {what}; only the shards of one staged run merge"
    )]
    Stages {
        result: usize,
        run: String,
        /// Counted from 1; 0 when the stages as a whole differ.
        stage: usize,
        what: String,
    },
    /// A stored histogram could not be read: the file was edited or cut.
    #[error("op '{op}': {err}")]
    Histogram {
        op: String,
        err: hist::HistogramDecodeError,
    },
    /// A store's or region's stored histogram (`stores`, `regions`) could
    /// not be read: the file was edited or cut.
    #[error("{place}: {err}")]
    PlaceHistogram {
        place: String,
        err: hist::HistogramDecodeError,
    },
}

/// Merges `results` into one result.
pub fn merge(results: &[RunResult]) -> Result<RunResult, MergeError> {
    let first = results.first().ok_or(MergeError::Empty)?;
    let runs = refuse_mixed(results)?;
    let from = results
        .iter()
        .map(|r| r.measured_from_unix_us)
        .min()
        .unwrap_or(0);
    let to = results
        .iter()
        .map(|r| r.measured_to_unix_us)
        .max()
        .unwrap_or(0);
    let stages = merge_stages(results)?;
    let measured_s = measured_secs(stages.as_deref(), (from, to));
    let rates: Vec<f64> = results.iter().filter_map(|r| r.rate).collect();
    let ops = merge_ops(results, measured_s)?;
    let driver_check = merge_driver_check(results, &ops)?;
    let timeline = merge_timeline(results, (from, to))?;
    let faults = merge_faults(results, (from, to), &timeline);
    Ok(RunResult {
        schema: first.schema.clone(),
        tool: first.tool.clone(),
        run_id: String::new(),
        name: first.name.clone(),
        workload_file: results.iter().filter_map(|r| r.workload_file.clone()).min(),
        workload: first.workload.clone(),
        seed: first.seed,
        target: merge_targets(results),
        mode: first.mode.clone(),
        concurrency: results.iter().map(|r| r.concurrency).sum(),
        rate: (!rates.is_empty()).then(|| round3(rates.iter().sum())),
        started_at: results
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default(),
        ended_at: results
            .iter()
            .map(|r| r.ended_at.clone())
            .max()
            .unwrap_or_default(),
        measured_from_unix_us: from,
        measured_to_unix_us: to,
        load: merge_load(results),
        warmup: merge_phase(results.iter().map(|r| &r.warmup), None),
        measured: merge_phase(results.iter().map(|r| &r.measured), Some(measured_s)),
        ops,
        timeline,
        interrupted: results.iter().any(|r| r.interrupted),
        stages,
        search: None,
        aborted: merge_aborted(results),
        // The sections all results share are kept; those that describe one
        // driver (shard, thresholds) have no merged meaning.
        checks: shared(results, |r| &r.checks),
        cluster: shared(results, |r| &r.cluster),
        driver_check,
        drivers: Some(driver_rows::rows(results)),
        faults,
        host: None,
        memory: merge_memory(results),
        merged_from: Some(results.iter().map(|r| r.merged_from.unwrap_or(1)).sum()),
        merged_runs: (!runs.is_empty()).then_some(runs),
        missing_shards: None,
        regions: places::merge_regions(&parts(results, |r| r.regions.as_ref()))
            .map_err(place_error)?,
        repeat: shared(results, |r| &r.repeat),
        shard: None,
        slow_ops: merge_slow(results),
        start: None,
        stores: places::merge_stores(&parts(results, |r| r.stores.as_ref()))
            .map_err(place_error)?,
        sweep: shared(results, |r| &r.sweep),
        thresholds: None,
        baseline: None,
        transport: merge_transport(results),
    })
}

/// The drivers' load phases: records summed, the longest duration.
fn merge_load(results: &[RunResult]) -> LoadResult {
    LoadResult {
        records: results.iter().map(|r| r.load.records).sum(),
        duration_s: results
            .iter()
            .map(|r| r.load.duration_s)
            .fold(0.0, f64::max),
    }
}

/// The drivers' fault sections added up, every figure computed again
/// from the summed fine timeline and the merged per-second one.
fn merge_faults(
    results: &[RunResult],
    (from, to): (i64, i64),
    timeline: &[crate::metrics::result::Interval],
) -> Option<impact::FaultImpact> {
    let all: Vec<&impact::FaultImpact> = results.iter().filter_map(|r| r.faults.as_ref()).collect();
    impact::FaultImpact::recompute(&all, &impact::span(from, to, timeline))
}

/// Refuses results that do not add up to one run: of other workloads,
/// a driver run twice, shards of different runs or overlapping shards.
/// Returns the driver runs the results hold, sorted.
fn refuse_mixed(results: &[RunResult]) -> Result<Vec<String>, MergeError> {
    for (i, r) in results.iter().enumerate().skip(1) {
        check_same(&results[0], r, i + 1)?;
    }
    let runs = distinct_runs(results)?;
    one_sharded_run(results)?;
    distinct_shards(results)?;
    Ok(runs)
}

/// The merged measured time: the stages' spans added up when there are
/// stages (a search's drains between steps, anything outside a stage, is
/// not measured), else the merged window.
fn measured_secs(stages: Option<&[StageResult]>, (from, to): (i64, i64)) -> f64 {
    match stages {
        Some(s) => s.iter().map(|s| s.duration_s).sum(),
        None => (to - from).max(0) as f64 / 1e6,
    }
}

/// The first abort of any driver: the earliest (ties by threshold), so
/// the order of merging does not matter.
fn merge_aborted(results: &[RunResult]) -> Option<AbortInfo> {
    results
        .iter()
        .filter_map(|r| r.aborted.as_ref())
        .min_by(|a, b| {
            a.at_s
                .total_cmp(&b.at_s)
                .then_with(|| a.threshold.cmp(&b.threshold))
                .then_with(|| a.measured.cmp(&b.measured))
        })
        .cloned()
}

/// The drivers' transport counts added up (none when no driver batched).
fn merge_transport(results: &[RunResult]) -> Option<TransportStats> {
    results.iter().filter_map(|r| r.transport.as_ref()).fold(
        None,
        |sum: Option<TransportStats>, t| {
            let mut sum = sum.unwrap_or_else(|| TransportStats {
                kind: t.kind.clone(),
                ..TransportStats::default()
            });
            sum.add(t);
            Some(sum)
        },
    )
}

/// The runs `results` hold (a result its own, a merge those it added up),
/// sorted; refused when one comes twice. Results written before runs had
/// ids hold none and cannot be told apart.
fn distinct_runs(results: &[RunResult]) -> Result<Vec<String>, MergeError> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in results.iter().enumerate() {
        let held = match &r.merged_runs {
            Some(runs) => runs.iter().map(String::as_str).collect(),
            None if r.run_id.is_empty() => Vec::new(),
            None => vec![r.run_id.as_str()],
        };
        for run in held {
            if let Some(first) = seen.insert(run, i + 1) {
                return Err(MergeError::SameRun {
                    run: run.to_string(),
                    first,
                    second: i + 1,
                });
            }
        }
    }
    Ok(seen.into_keys().map(String::from).collect())
}

/// Refuses shards of different sharded runs: every shard the results
/// hold (a shard's own, a merge's rows') must name the same run.
fn one_sharded_run(results: &[RunResult]) -> Result<(), MergeError> {
    let show = |s: &HeldShard| match &s.run {
        Some(run) => format!("run {run}"),
        None => "no run id".to_string(),
    };
    let mut first: Option<(usize, HeldShard)> = None;
    for (i, r) in results.iter().enumerate() {
        for held in driver_rows::held_shards(r) {
            match &first {
                None => first = Some((i + 1, held)),
                Some((n, f)) if f.run != held.run => {
                    return Err(MergeError::MixedRuns {
                        a: show(f),
                        b: show(&held),
                        first: *n,
                        second: i + 1,
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Refuses two shard results whose workers overlap.
fn distinct_shards(results: &[RunResult]) -> Result<(), MergeError> {
    let shards: Vec<(usize, &ShardInfo)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i + 1, r.shard.as_ref()?)))
        .collect();
    let show = |s: &ShardInfo| {
        let [start, end] = s.workers;
        format!("{}/{} (workers {start}..{end})", s.index, s.count)
    };
    for (n, (i, a)) in shards.iter().enumerate() {
        for (j, b) in &shards[n + 1..] {
            if a.workers[0] < b.workers[1] && b.workers[0] < a.workers[1] {
                return Err(MergeError::OverlappingShards {
                    a: show(a),
                    b: show(b),
                    first: *i,
                    second: *j,
                });
            }
        }
    }
    Ok(())
}

/// Refuses result `n` (counted from 1) unless it comes from the same
/// workload as the first.
fn check_same(first: &RunResult, r: &RunResult, n: usize) -> Result<(), MergeError> {
    let same = |what: &str, a: String, b: String| {
        if a == b {
            Ok(())
        } else {
            Err(MergeError::Mismatch(format!(
                "result {n} differs from result 1 in {what}: '{b}' vs '{a}'; only shards of one workload merge"
            )))
        }
    };
    same("schema", first.schema.clone(), r.schema.clone())?;
    same("workload name", first.name.clone(), r.name.clone())?;
    same("seed", first.seed.to_string(), r.seed.to_string())?;
    same("mode", first.mode.clone(), r.mode.clone())?;
    same(
        "workload",
        first.workload.to_string(),
        r.workload.to_string(),
    )?;
    same("sweep cell", sweep_text(first), sweep_text(r))
}

/// The sweep cell of `r` as a mismatch shows it: as the JSON it is.
fn sweep_text(r: &RunResult) -> String {
    let json = r
        .sweep
        .as_ref()
        .map(|s| serde_json::to_value(s).unwrap_or_default());
    format!("{:?}", json.as_ref())
}

/// The section `get` picks when every result has it and all are equal.
fn shared<T: PartialEq + Clone>(
    results: &[RunResult],
    get: impl Fn(&RunResult) -> &Option<T>,
) -> Option<T> {
    let first = get(results.first()?).as_ref()?;
    results
        .iter()
        .all(|r| get(r).as_ref() == Some(first))
        .then(|| first.clone())
}

/// A merged target lists its parts; merging merged results unions the
/// parts, so the grouping of merges does not show.
fn merge_targets(results: &[RunResult]) -> TargetInfo {
    let kinds: std::collections::BTreeSet<&str> = results
        .iter()
        .flat_map(|r| r.target.kind.split('+'))
        .collect();
    let descriptions: std::collections::BTreeSet<&str> = results
        .iter()
        .flat_map(|r| r.target.description.split("; "))
        .collect();
    TargetInfo {
        kind: kinds.into_iter().collect::<Vec<_>>().join("+"),
        description: descriptions.into_iter().collect::<Vec<_>>().join("; "),
    }
}

/// Every op of any result, its parts merged.
fn merge_ops(
    results: &[RunResult],
    measured_s: f64,
) -> Result<BTreeMap<String, OpResult>, MergeError> {
    let mut names: Vec<&String> = results.iter().flat_map(|r| r.ops.keys()).collect();
    names.sort();
    names.dedup();
    let mut ops = BTreeMap::new();
    for name in names {
        let parts: Vec<&OpResult> = results.iter().filter_map(|r| r.ops.get(name)).collect();
        ops.insert(name.clone(), merge_op(name, &parts, measured_s)?);
    }
    Ok(ops)
}

/// Per op name, the slowest ops of all results: exactly those the results
/// together would have kept. `None` when no result has any.
fn merge_slow(results: &[RunResult]) -> Option<BTreeMap<String, Vec<SlowOp>>> {
    let mut merged: BTreeMap<String, Vec<SlowOp>> = BTreeMap::new();
    for (name, ops) in results.iter().filter_map(|r| r.slow_ops.as_ref()).flatten() {
        keep_slowest(merged.entry(name.clone()).or_default(), ops.iter().cloned());
    }
    (!merged.is_empty()).then_some(merged)
}

/// The self-check judged afresh on the merged figures: the lateness of
/// every send of every driver (the merged ops' histograms, all ops
/// together) and the drivers' CPU added up.
fn merge_driver_check(
    results: &[RunResult],
    ops: &BTreeMap<String, OpResult>,
) -> Result<Option<DriverCheck>, MergeError> {
    let lateness = sum_hists(
        "(all ops)",
        ops.values().map(|o| o.lateness_histogram.as_ref()),
    )?;
    let cpu = CpuUse::sum(
        results
            .iter()
            .filter_map(|r| r.driver_check.as_ref().and_then(|c| c.cpu)),
    );
    Ok(DriverCheck::judge(lateness.as_ref(), cpu))
}

/// Sums a phase's counters; its duration is `duration_s` or the longest.
fn merge_phase<'a>(
    phases: impl Iterator<Item = &'a PhaseResult>,
    duration_s: Option<f64>,
) -> PhaseResult {
    let mut out = PhaseResult::default();
    let mut longest = 0.0f64;
    for p in phases {
        out.ops += p.ops;
        out.ok += p.ok;
        out.failed += p.failed;
        out.unknown += p.unknown;
        out.retries += p.retries;
        out.client_retries += p.client_retries;
        longest = longest.max(p.duration_s);
    }
    let duration_s = duration_s.unwrap_or(longest);
    out.duration_s = round3(duration_s);
    out.ops_per_s = rate(out.ops, duration_s);
    out.ok_per_s = rate(out.ok, duration_s);
    out
}

fn add_counts(dst: &mut BTreeMap<String, u64>, src: &BTreeMap<String, u64>) {
    for (k, v) in src {
        *dst.entry(k.clone()).or_insert(0) += v;
    }
}

/// Each result's section `get` picks.
fn parts<'a, T>(
    results: &'a [RunResult],
    get: fn(&'a RunResult) -> Option<&'a T>,
) -> Vec<Option<&'a T>> {
    results.iter().map(get).collect()
}

fn place_error((place, err): places::PlaceDecodeError) -> MergeError {
    MergeError::PlaceHistogram { place, err }
}

fn decode(op: &str, text: &str) -> Result<Hist, MergeError> {
    hist::decode(text).map_err(|err| MergeError::Histogram {
        op: op.to_string(),
        err,
    })
}

/// Adds the histograms of the parts that have one; `None` when none has.
fn sum_hists<'a>(
    op: &str,
    encoded: impl Iterator<Item = Option<&'a String>>,
) -> Result<Option<Hist>, MergeError> {
    let mut total: Option<Hist> = None;
    for text in encoded.flatten() {
        let h = decode(op, text)?;
        hist::add(total.get_or_insert_with(hist::new_hist), &h);
    }
    Ok(total)
}

fn merge_op(name: &str, parts: &[&OpResult], measured_s: f64) -> Result<OpResult, MergeError> {
    let mut out = OpResult {
        op_type: parts[0].op_type.clone(),
        ok: 0,
        failed: 0,
        unknown: 0,
        ok_per_s: 0.0,
        errors: BTreeMap::new(),
        error_samples: BTreeMap::new(),
        retries: 0,
        retries_by_kind: BTreeMap::new(),
        client_retries: 0,
        backoff_us: 0,
        outcomes: BTreeMap::new(),
        events: BTreeMap::new(),
        latency_us: Percentiles::default(),
        histogram: String::new(),
        service_us: None,
        service_histogram: None,
        lateness_us: None,
        lateness_histogram: None,
        failed_latency_us: None,
        failed_histogram: None,
        server_time: None,
    };
    for p in parts {
        out.ok += p.ok;
        out.failed += p.failed;
        out.unknown += p.unknown;
        out.retries += p.retries;
        out.client_retries += p.client_retries;
        out.backoff_us += p.backoff_us;
        add_counts(&mut out.errors, &p.errors);
        add_counts(&mut out.retries_by_kind, &p.retries_by_kind);
        add_counts(&mut out.outcomes, &p.outcomes);
        add_counts(&mut out.events, &p.events);
        out.server_time = ServerTimeResult::merge(out.server_time.as_ref(), p.server_time.as_ref())
            .map_err(|err| MergeError::Histogram {
                op: name.to_string(),
                err,
            })?;
        for (k, msg) in &p.error_samples {
            // Keep the smallest message of a kind, so the order of merging
            // does not matter.
            let slot = out
                .error_samples
                .entry(k.clone())
                .or_insert_with(|| msg.clone());
            if msg < slot {
                *slot = msg.clone();
            }
        }
    }
    out.ok_per_s = rate(out.ok, measured_s);
    let latency =
        sum_hists(name, parts.iter().map(|p| Some(&p.histogram)))?.unwrap_or_else(hist::new_hist);
    out.latency_us = Percentiles::of(&latency);
    out.histogram = hist::encode(&latency);
    if let Some(h) = sum_hists(name, parts.iter().map(|p| p.service_histogram.as_ref()))? {
        out.service_us = Some(Percentiles::of(&h));
        out.service_histogram = Some(hist::encode(&h));
    }
    if let Some(h) = sum_hists(name, parts.iter().map(|p| p.lateness_histogram.as_ref()))? {
        out.lateness_us = Some(Percentiles::of(&h));
        out.lateness_histogram = Some(hist::encode(&h));
    }
    if let Some(h) = sum_hists(name, parts.iter().map(|p| p.failed_histogram.as_ref()))? {
        out.failed_latency_us = Some(Percentiles::of(&h));
        out.failed_histogram = Some(hist::encode(&h));
    }
    Ok(out)
}

/// The drivers' memory: the largest peak, and each driver's (a merged
/// result's drivers counted one by one); none unless every result has it.
fn merge_memory(results: &[RunResult]) -> Option<MemoryInfo> {
    let mut peaks = Vec::new();
    let mut includes_target = false;
    for r in results {
        let m = r.memory.as_ref()?;
        includes_target |= m.includes_target;
        match &m.driver_peaks_rss_bytes {
            Some(p) => peaks.extend(p),
            None => peaks.push(m.peak_rss_bytes),
        }
    }
    peaks.sort_unstable();
    Some(MemoryInfo {
        peak_rss_bytes: peaks.last().copied()?,
        includes_target,
        driver_peaks_rss_bytes: Some(peaks),
    })
}

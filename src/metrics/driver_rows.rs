//! The `drivers` rows of a merged result: one per driver merged, built
//! from the driver's own result (or carried over from a merge's rows), so
//! that a driver that was late, fell behind or fell short of its share of
//! the rate shows in the merged result; and the shards a result holds,
//! which `merge` checks for a whole run.

use super::drivers::DriverRow;
use super::result::{RunResult, rate};
use super::selfcheck::DriverVerdict;

/// A driver whose measured phase began more than this after the earliest
/// driver's is flagged: the drivers did not measure the same span.
pub const START_OFFSET_BOUND_US: i64 = 50_000;
/// An open-loop driver that completed less than this share of its rate is
/// flagged: it did not offer the load it was given.
pub const RATE_SHARE_BOUND: f64 = 0.9;

/// One shard a result holds: its own (a shard's result) or one its rows
/// list (a merge).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldShard {
    /// The sharded run's id (`shard.run`), when it had one.
    pub run: Option<String>,
    /// The driver run's own id (`run_id`).
    pub run_id: String,
    /// Counted from 1.
    pub index: u32,
    pub count: u32,
}

/// The shards `r` holds: its own when it is a shard's result, those its
/// driver rows list when it is a merge; none for an unsharded run.
pub fn held_shards(r: &RunResult) -> Vec<HeldShard> {
    match &r.drivers {
        Some(rows) => rows
            .iter()
            .filter_map(|row| {
                let [index, count] = row.shard?;
                Some(HeldShard {
                    run: row.run.clone(),
                    run_id: row.run_id.clone(),
                    index,
                    count,
                })
            })
            .collect(),
        None => r
            .shard
            .iter()
            .map(|s| HeldShard {
                run: s.run.clone(),
                run_id: r.run_id.clone(),
                index: s.index,
                count: s.count,
            })
            .collect(),
    }
}

/// Shards of `count` in words: `shard 3/4`, or `shards 3/4, 4/4`.
pub fn shard_list(shards: &[u32], count: u32) -> String {
    let list: Vec<String> = shards.iter().map(|i| format!("{i}/{count}")).collect();
    let noun = if list.len() == 1 { "shard" } else { "shards" };
    format!("{noun} {}", list.join(", "))
}

/// The rows of the drivers `results` hold: each result's own, or a
/// merge's rows; sorted by (shard, measured start, run id), each start
/// offset counted from the earliest row's start. The same rows whatever
/// the grouping or order of the merges.
pub fn rows(results: &[RunResult]) -> Vec<DriverRow> {
    let mut rows: Vec<DriverRow> = results
        .iter()
        .flat_map(|r| match &r.drivers {
            Some(rows) => rows.clone(),
            None => vec![row_of(r)],
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.shard, a.measured_from_unix_us, &a.run_id).cmp(&(
            b.shard,
            b.measured_from_unix_us,
            &b.run_id,
        ))
    });
    let earliest = rows
        .iter()
        .map(|r| r.measured_from_unix_us)
        .min()
        .unwrap_or(0);
    for row in &mut rows {
        row.start_offset_us = row.measured_from_unix_us - earliest;
    }
    rows
}

/// One driver's row, from its result. `failed` counts every measured op
/// that did not succeed (failed or of unknown outcome), so `ok + failed`
/// are its measured ops; throughput is `ok` over its measured time. A
/// merge written before merges had rows stands for one row.
pub fn row_of(r: &RunResult) -> DriverRow {
    let ok: u64 = r.ops.values().map(|o| o.ok).sum();
    let failed: u64 = r.ops.values().map(|o| o.failed + o.unknown).sum();
    let check = r.driver_check.as_ref();
    let run_id = match (&r.merged_runs, r.run_id.is_empty()) {
        (Some(runs), true) => runs.join("+"),
        _ => r.run_id.clone(),
    };
    DriverRow {
        run_id,
        shard: r.shard.as_ref().map(|s| [s.index, s.count]),
        run: r.shard.as_ref().and_then(|s| s.run.clone()),
        host: r.host.clone(),
        ok,
        failed,
        throughput: rate(ok, r.measured.duration_s),
        rate: r.rate,
        measured_from_unix_us: r.measured_from_unix_us,
        measured_to_unix_us: r.measured_to_unix_us,
        start_offset_us: 0,
        skew_us: r.start.map(|s| s.skew_us),
        late: r.start.is_some_and(|s| s.late),
        verdict: check.map(|c| c.verdict),
        lateness_p99_us: check.and_then(|c| c.lateness_us).map(|l| l.p99),
        cpu_busy: check.and_then(|c| c.cpu).map(|c| c.busy),
        interrupted: r.interrupted,
    }
}

/// Why a row is flagged (empty when it is not): its self-check was not
/// ok, it started late, its measured phase began more than
/// [`START_OFFSET_BOUND_US`] after the earliest driver's, it completed
/// less than [`RATE_SHARE_BOUND`] of its share of the rate (open loop), or
/// it was interrupted.
pub fn flags(row: &DriverRow) -> Vec<String> {
    let ms = |us: i64| format!("{:.1}ms", us as f64 / 1e3);
    let mut out = Vec::new();
    if let Some(v) = row.verdict.filter(|v| *v != DriverVerdict::Ok) {
        out.push(format!("self-check: {v}"));
    }
    if row.late {
        let by = row
            .skew_us
            .map_or(String::new(), |s| format!(" by {}", ms(s)));
        out.push(format!("ready after the agreed start: began late{by}"));
    }
    if row.start_offset_us > START_OFFSET_BOUND_US {
        out.push(format!(
            "began {} after the first driver (bound {})",
            ms(row.start_offset_us),
            ms(START_OFFSET_BOUND_US)
        ));
    }
    if let Some(rate) = row.rate.filter(|r| *r > 0.0)
        && row.throughput < RATE_SHARE_BOUND * rate
    {
        let places = if rate < 100.0 { 1 } else { 0 };
        out.push(format!(
            "completed {:.0}% of its offered {rate:.places$} ops/s",
            100.0 * row.throughput / rate,
        ));
    }
    if row.interrupted {
        out.push("interrupted".into());
    }
    out
}

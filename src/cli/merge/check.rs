//! The checks `merge` makes on the shards it found before merging them:
//! all of one run (one run id, one N), none twice, and which of the run's
//! N are missing. A result that is a merge counts the shards its driver
//! rows list; unsharded results are not checked for completeness.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::BadInput;
use super::find::ResultFile;
use crate::driver::Shard;
use crate::metrics::driver_rows::{HeldShard, held_shards, shard_list};

/// The run the shards found belong to, and which of its shards are
/// missing.
#[derive(Debug)]
pub(super) struct RunShards {
    pub run: Option<String>,
    /// N: how many drivers the run had.
    pub count: u32,
    /// Counted from 1, in order.
    pub missing: Vec<u32>,
}

/// Refuses shards of different runs, of different N, and a shard given
/// twice, naming the files; returns the run's shards, or `None` when no
/// result found is a shard.
pub(super) fn check(found: &[ResultFile]) -> Result<Option<RunShards>, BadInput> {
    let held: Vec<(&Path, HeldShard)> = found
        .iter()
        .flat_map(|f| {
            held_shards(&f.result)
                .into_iter()
                .map(|h| (f.path.as_path(), h))
        })
        .collect();
    let Some((first_path, first)) = held.first() else {
        return Ok(None);
    };
    for (path, h) in &held[1..] {
        if h.run != first.run {
            return Err(BadInput(format!(
                "{} is {}, {} {}: merge one run's shards (those written with one --run-id)",
                first_path.display(),
                run_name(&first.run),
                path.display(),
                run_name(&h.run)
            )));
        }
        if h.count != first.count {
            return Err(BadInput(format!(
                "{} is shard {}/{}, {} shard {}/{}: the shards of one run share N; merge one run's shards",
                first_path.display(),
                first.index,
                first.count,
                path.display(),
                h.index,
                h.count
            )));
        }
    }
    refuse_twice(&held)?;
    let count = first.count;
    let missing = (1..=count)
        .filter(|i| !held.iter().any(|(_, h)| h.index == *i))
        .collect();
    Ok(Some(RunShards {
        run: first.run.clone(),
        count,
        missing,
    }))
}

/// `run R`, or what stands for a run without an id.
fn run_name(run: &Option<String>) -> String {
    match run {
        Some(r) => format!("run {r}"),
        None => "a run without a run id".to_string(),
    }
}

/// Refuses a shard that two results hold.
fn refuse_twice(held: &[(&Path, HeldShard)]) -> Result<(), BadInput> {
    for (n, (a, ha)) in held.iter().enumerate() {
        if let Some((b, hb)) = held[n + 1..].iter().find(|(_, h)| h.index == ha.index) {
            let same = if ha.run_id == hb.run_id && !ha.run_id.is_empty() {
                format!(
                    "; both hold driver run {}: merging it twice would count its ops twice",
                    ha.run_id
                )
            } else {
                String::new()
            };
            return Err(BadInput(format!(
                "shard {}/{} given twice: {} and {}{same}; give each shard's result once",
                ha.index,
                ha.count,
                a.display(),
                b.display()
            )));
        }
    }
    Ok(())
}

/// The shards missing, in words: `shard 3/4` or `shards 3/4, 4/4`.
pub(super) fn missing_list(s: &RunShards) -> String {
    shard_list(&s.missing, s.count)
}

/// The shards missing, with the run's id when it has one: `run R: shard
/// 3/4`.
pub(super) fn run_missing(s: &RunShards) -> String {
    match &s.run {
        Some(r) => format!("run {r}: {}", missing_list(s)),
        None => missing_list(s),
    }
}

/// Where shard `index` of `count` is expected in a run's directory.
pub(super) fn expected(dir: &Path, index: u32, count: u32) -> PathBuf {
    let shard = Shard {
        index: index - 1,
        count,
    };
    dir.join(shard.file_name()).join("result.json")
}

/// The error for a run with shards missing (after `waited`, with
/// `--wait`): which, where each was expected when a directory was given,
/// and what to do.
pub(super) fn missing_error(
    s: &RunShards,
    dir: Option<&Path>,
    waited: Option<Duration>,
) -> BadInput {
    let run = match &s.run {
        Some(r) => format!("run {r}"),
        None => format!("the run of {} shards (no run id)", s.count),
    };
    let after = waited.map_or(String::new(), |d| {
        format!(" after waiting {}", humantime::format_duration(d))
    });
    let whereabouts = dir.map_or(String::new(), |d| {
        let paths: Vec<String> = s
            .missing
            .iter()
            .map(|i| expected(d, *i, s.count).display().to_string())
            .collect();
        format!(" (no {})", paths.join(", no "))
    });
    BadInput(format!(
        "{run}: {} missing{after}{whereabouts}; give every shard's result, wait for them with --wait DURATION, or merge those there are with --partial",
        missing_list(s)
    ))
}

//! The flags of `run` that line up several drivers of one run: the shard
//! taken from a Kubernetes Indexed Job's environment, a shared start
//! instant (`--start-at`), the id the drivers share (`--run-id`) and the
//! directory each files its result under (`--results-dir`).

mod parse;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::{BadInput, RunArgs, default_out};
use crate::driver::Shard;
use crate::driver::start::{Barrier, StartPlan};
use crate::vocab::time::unix_us;
use crate::workload::Workload;
use parse::StartAt;

/// The flags that place one driver among several.
#[derive(Debug, Clone, Args)]
pub struct DriverArgs {
    /// With JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) and no
    /// --shard: the number of drivers N (the Job's completions); this
    /// driver is shard JOB_COMPLETION_INDEX+1 of N.
    #[arg(long, env = "TIKV_BENCH_SHARDS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// Start the workers (warmup first) at this wall-clock instant, so
    /// that every driver's measured phase starts at the same one: an RFC
    /// 3339 time (2026-12-06T10:00:00Z) or Unix seconds (@1796551200). Or
    /// `barrier` (`barrier+LEAD`, default lead 10s): each driver writes
    /// that it is ready into the run's directory under --results-dir, and
    /// all start LEAD after the last is ready. A driver ready only after
    /// the instant starts at once, says so, and its result records how
    /// late it began.
    #[arg(long, env = "TIKV_BENCH_START_AT", value_name = "TIME|barrier[+LEAD]")]
    pub start_at: Option<String>,
    /// With --start-at barrier: how long to wait for the other drivers
    /// before giving up (naming those not ready).
    #[arg(long, default_value = "10m", value_parser = super::parse_duration,
          value_name = "DURATION")]
    pub barrier_timeout: Duration,
    /// The id every driver of one run shares (e.g. the Kubernetes Job's
    /// name): recorded in each shard's result, so that `merge` refuses
    /// shards of different runs, and naming the run's directory under
    /// --results-dir.
    #[arg(long, env = "TIKV_BENCH_RUN_ID", value_name = "ID")]
    pub run_id: Option<String>,
    /// Write the result into DIR/RUN-ID/shard-I-of-N/ (a shared volume or
    /// an object-store mount), instead of --out; `merge DIR/RUN-ID` finds
    /// every shard there.
    #[arg(
        long,
        env = "TIKV_BENCH_RESULTS_DIR",
        value_name = "DIR",
        conflicts_with = "out"
    )]
    pub results_dir: Option<PathBuf>,
}

/// Where and when this driver runs, from the flags and the environment.
#[derive(Debug)]
pub(super) struct Placement {
    /// The run's output directory under --results-dir (`None`: --out or
    /// the default).
    pub out: Option<PathBuf>,
    pub start: Option<StartPlan>,
    /// The id the drivers of one sharded run share.
    pub run_id: Option<String>,
}

/// The Kubernetes Indexed Job's variable: this pod's index, from 0.
pub(super) const JOB_INDEX: &str = "JOB_COMPLETION_INDEX";

/// Places this driver: sets `args.shard` from JOB_COMPLETION_INDEX when
/// --shard is not given, checks the run id and the start, and picks the
/// output directory under --results-dir. Every refusal is bad input.
pub(super) fn place(args: &mut RunArgs, workload: &Workload) -> Result<Placement, BadInput> {
    let d = &args.drivers;
    args.shard = shard_from(args.shard, d.shards, std::env::var_os(JOB_INDEX).as_deref())?;
    let d = &args.drivers;
    let shard = args.shard.unwrap_or_default();
    if let Some(id) = &d.run_id {
        parse::run_id(id).map_err(BadInput)?;
    }
    let start = match &d.start_at {
        Some(text) => Some(parse::start_at(text, unix_us()).map_err(BadInput)?),
        None => None,
    };
    if start.is_some() {
        refuse_many_runs(workload, args.repeat)?;
    }
    let sharded = shard.count > 1;
    let run_dir = match &d.results_dir {
        Some(dir) => Some(dir.join(run_name(d.run_id.as_deref(), sharded, workload)?)),
        None => None,
    };
    let out = run_dir.as_ref().map(|dir| match sharded {
        true => dir.join(shard.file_name()),
        false => dir.clone(),
    });
    if let Some(out) = &out {
        unused(out)?;
    }
    let start = match start {
        None => None,
        Some(StartAt::At(at)) => Some(StartPlan::At(at)),
        Some(StartAt::Barrier(lead)) => {
            let (Some(dir), Some(_)) = (run_dir, &d.run_id) else {
                return Err(BadInput(
                    "--start-at barrier needs --results-dir DIR and --run-id ID (or TIKV_BENCH_RESULTS_DIR and TIKV_BENCH_RUN_ID): the drivers meet through files in DIR/ID/ready/".into(),
                ));
            };
            Some(StartPlan::Barrier(barrier(
                dir,
                shard,
                lead,
                d.barrier_timeout,
            )?))
        }
    };
    Ok(Placement {
        out,
        start,
        run_id: d.run_id.clone().filter(|_| sharded),
    })
}

/// The shard: --shard when given, else JOB_COMPLETION_INDEX (`index`,
/// from 0) of --shards N.
pub(super) fn shard_from(
    given: Option<Shard>,
    shards: Option<u32>,
    index: Option<&OsStr>,
) -> Result<Option<Shard>, BadInput> {
    if given.is_some() {
        return Ok(given);
    }
    let Some(index) = index else {
        return match shards {
            None => Ok(None),
            Some(n) => Err(BadInput(format!(
                "--shards {n} (or TIKV_BENCH_SHARDS) is the number of drivers of a Kubernetes Indexed Job, whose {JOB_INDEX} is not set here: give --shard I/N (e.g. --shard 1/{n})"
            ))),
        };
    };
    let text = index.to_string_lossy();
    let index: u32 = text.parse().map_err(|_| {
        BadInput(format!(
            "{JOB_INDEX} is '{text}', not a number: it is the pod's index in a Kubernetes Indexed Job, from 0; unset it, or give --shard I/N"
        ))
    })?;
    let Some(count) = shards else {
        return Err(BadInput(format!(
            "{JOB_INDEX} is set ({index}), but not the number of drivers: give --shards N or set TIKV_BENCH_SHARDS to the Job's completions (or give --shard I/N)"
        )));
    };
    if index >= count {
        return Err(BadInput(format!(
            "{JOB_INDEX} is {index}, but there are {count} drivers (--shards or TIKV_BENCH_SHARDS), so it must be below {count} (it counts from 0): set --shards to the Job's completions"
        )));
    }
    Ok(Some(Shard { index, count }))
}

/// A start instant is for one run: refused with repeats and with a sweep,
/// whose runs follow one another.
fn refuse_many_runs(workload: &Workload, repeat: u32) -> Result<(), BadInput> {
    let many = if repeat > 1 {
        format!("--repeat {repeat} runs the workload {repeat} times")
    } else if workload.sweep.is_some() {
        "the workload's sweep runs its cells".to_string()
    } else {
        return Ok(());
    };
    Err(BadInput(format!(
        "--start-at cannot be used here: {many} one after another, and only the first could start at the agreed instant; start the drivers once per run instead"
    )))
}

/// The run's directory name under --results-dir: --run-id, which a
/// sharded run needs (its drivers must agree on it); a whole run without
/// one takes the workload's name and the time, as --out's default does.
fn run_name(id: Option<&str>, sharded: bool, workload: &Workload) -> Result<String, BadInput> {
    match id {
        Some(id) => Ok(id.to_string()),
        None if sharded => Err(BadInput(
            "--results-dir with a sharded run needs --run-id ID (or TIKV_BENCH_RUN_ID): the drivers of the run must agree on the directory their results go to, DIR/ID/".into(),
        )),
        None => Ok(default_out(&workload.name)
            .file_name()
            .map_or_else(|| workload.name.clone(), |n| n.to_string_lossy().into_owned())),
    }
}

/// Refuses an output directory that holds a result already.
fn unused(out: &Path) -> Result<(), BadInput> {
    let result = out.join("result.json");
    match result.exists() {
        true => Err(BadInput(format!(
            "{} exists: the run id is used already (nothing overwritten); give a new --run-id",
            result.display()
        ))),
        false => Ok(()),
    }
}

/// This driver's part of a barrier, refused when its ready file is there
/// already (the run id used before).
fn barrier(
    dir: PathBuf,
    shard: Shard,
    lead: Duration,
    timeout: Duration,
) -> Result<Barrier, BadInput> {
    let barrier = Barrier {
        dir,
        shard,
        lead,
        timeout,
    };
    let ready = barrier.ready_file();
    if ready.exists() {
        return Err(BadInput(format!(
            "{} exists: this shard of the run id was ready before (the run id is used already; nothing overwritten): give a new --run-id",
            ready.display()
        )));
    }
    Ok(barrier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(i: u32, n: u32) -> Shard {
        Shard {
            index: i - 1,
            count: n,
        }
    }

    #[test]
    fn the_shard_comes_from_the_flag_else_the_job_index() {
        let idx = |s: &'static str| Some(OsStr::new(s));
        let given = Some(shard(2, 3));
        assert_eq!(shard_from(given, Some(4), idx("0")).unwrap(), given);
        assert_eq!(
            shard_from(None, Some(4), idx("0")).unwrap(),
            Some(shard(1, 4))
        );
        assert_eq!(
            shard_from(None, Some(4), idx("3")).unwrap(),
            Some(shard(4, 4))
        );
        assert_eq!(shard_from(None, None, None).unwrap(), None);
        let err = |shards, index| shard_from(None, shards, index).unwrap_err().0;
        assert!(err(Some(4), idx("x")).contains("JOB_COMPLETION_INDEX is 'x', not a number"));
        assert!(err(None, idx("1")).contains("TIKV_BENCH_SHARDS"));
        assert!(err(Some(4), idx("4")).contains("must be below 4"));
        assert!(err(Some(4), None).contains("--shard I/N"));
    }
}

//! The flags of `run` that line up several drivers of one run: the shard
//! taken from a Kubernetes Indexed Job's environment, a shared start
//! instant (`--start-at`), the id the drivers share (`--run-id`) and the
//! directory each files its result under (`--results-dir`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

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
    /// 3339 time (2026-12-06T10:00:00Z) or Unix seconds (@1765015200). Or
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

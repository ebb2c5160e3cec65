//! The command line: `run`, `check`, `serve`, `report`, `compare` and
//! `merge`. Parses arguments and dispatches; `run` loads the workload,
//! picks the target, runs, writes the result and prints the summary.
//! Bad input exits 2; other failures exit 1.

mod drivers;
mod gate;
mod merge;
mod output;
mod run;
mod serve;
mod tls;

use output::sayln;

pub use gate::{CiArgs, CompareArgs};
pub use run::{SWEEP_INDEX_SCHEMA, apply_overrides, target};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checks::thresholds;
use crate::driver::{ProgressMode, Shard};
use crate::metrics::RunResult;
use crate::report;
use crate::workload::{Stop, Workload, WorkloadError};

#[derive(Debug, Parser)]
#[command(
    name = "tikv-bench",
    version,
    about = "A load generator and benchmarking harness for TiKV"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload file and write its result.
    Run(RunArgs),
    /// Check workload files without running them (exit 2 on the first bad one).
    Check {
        /// Workload files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Render a result as report.html with PNG charts.
    Report {
        /// A result.json written by `run`.
        result: PathBuf,
        /// Directory for the report [default: the result's directory].
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Run the stand-in cluster (PD and stores serving the TiKV gRPC
    /// protocol on loopback) until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Merge the results of several drivers (shards of one run) into one:
    /// histograms added, counters summed, timelines aligned by second.
    Merge(merge::MergeArgs),
    /// Compare results: compare.html with charts, deltas for two results;
    /// with --baseline, a verdict per metric against the baseline (exit 1
    /// on a regression).
    Compare(gate::CompareArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The embedded stand-in cluster (the workload's `cluster:` section),
    /// started on loopback and driven through our TiKV client.
    Embedded,
    /// A running cluster whose PD is at `--pd`, through our TiKV client.
    External,
    /// In-process ordered maps: no network; transactions run one at a time.
    Memory,
    /// Answers every op at once: measures the harness itself. With
    /// --service-time and --slots, a target of known capacity instead.
    Noop,
    /// The storage engine in this process, no network.
    Inproc,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workload file (YAML).
    pub workload: PathBuf,
    /// Directory for result.json [default: reports/NAME-TIME/].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// What to run against [default: embedded; external with --pd].
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// PD endpoints of a running cluster (e.g. a:2379,b:2379): drive it
    /// through our client (implies --target external).
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,...")]
    pub pd: Vec<String>,
    #[command(flatten)]
    pub tls: tls::ClientTlsArgs,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Override the workload's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the measured phase's length (e.g. 30s); clears `operations`.
    /// Refused with `stages:` or `search:`, which set the run's length.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Override the measured phase's op count; clears `duration`. Refused
    /// with `stages:` or `search:`.
    #[arg(long)]
    pub operations: Option<u64>,
    /// Override the warmup (e.g. 0s). Refused with `stages:` or `search:`,
    /// whose stages and steps have their own.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Override the number of workers. Refused with concurrency stages,
    /// whose largest stage sets it.
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Override the target rate in ops/s (open loop). Refused with
    /// `stages:` or `search:`, which set the rate.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Override how our client sends store requests: unary (one gRPC call
    /// each) or batch (BatchCommands streams, as client-go and go-ycsb).
    #[arg(long, value_parser = parse_transport)]
    pub transport: Option<crate::client::config::TransportKind>,
    /// With --target noop: each op takes this long in a slot (e.g. 2ms),
    /// making a target of known capacity, slots / service time ops/s, for
    /// judging a search or a load curve against the truth. Give --slots too.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub service_time: Option<Duration>,
    /// With --target noop: how many ops are in service at once; the rest
    /// queue for a slot in arrival order. Give --service-time too.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub slots: Option<u32>,
    /// Skip the load phase (the records are already there).
    #[arg(long)]
    pub no_load: bool,
    /// Do not write report.html and the PNG charts beside result.json.
    #[arg(long)]
    pub no_report: bool,
    /// Run as driver I of N sharing the workload (e.g. 2/3): this driver
    /// takes its share of the workers, rate, op count and preload; merge
    /// the N results with `tikv-bench merge`. Refused with `search:`: each
    /// driver would search on its own.
    #[arg(long, value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// Also write the interval histograms (one per second, per op) as an
    /// HdrHistogram log file.
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
    /// Serve live metrics in the Prometheus text format at
    /// http://ADDR/metrics during the run (e.g. 127.0.0.1:9100).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Run the workload (each cell of its sweep) N times, each run in a
    /// directory `repeat-K` of its own; the comparison shows the median of
    /// the N and their range.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Judge the run against this baseline: a result.json, or the
    /// index.json of `run --repeat N` (every run it lists). Repeatable.
    /// The workload's thresholds relative to a baseline (`p99 of read <
    /// baseline + 10%`) judge it, else the defaults; a regression exits 1.
    /// With --repeat, every repeat is judged together at the end
    /// (OUT/baseline.json). Refused with a sweep.
    #[arg(long, value_name = "FILE")]
    pub baseline: Vec<PathBuf>,
    #[command(flatten)]
    pub ci: gate::CiArgs,
    #[command(flatten)]
    pub drivers: drivers::DriverArgs,
}

fn parse_transport(s: &str) -> Result<crate::client::config::TransportKind, String> {
    use crate::client::config::TransportKind;
    TransportKind::ALL
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| format!("'{s}' is not a transport; choose unary or batch"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e}; write e.g. 500ms, 2s, 1m"))
}

/// Input the user must fix: exits 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit code for an error: 2 for bad input, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<WorkloadError>().is_some() || err.downcast_ref::<BadInput>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// `check`: every file is read and checked; each bad one is reported (on
/// stderr), and any bad one makes the exit code 2.
fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    for f in files {
        match Workload::load(f) {
            Ok(w) => sayln!(
                "{}: ok: '{}', {} op(s), {}",
                f.display(),
                w.name,
                w.ops.len(),
                describe(&w)
            ),
            Err(e) => {
                bad += 1;
                eprintln!("tikv-bench: {e}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        if files.len() > 1 {
            eprintln!(
                "tikv-bench: {bad} of {} workload files are bad",
                files.len()
            );
        }
        ExitCode::from(2)
    })
}

pub async fn main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Run(args) => run::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Report { result, out } => {
            let r = load_result(&result)?;
            let dir = out.unwrap_or_else(|| result_dir(&result));
            output_dir("--out", &dir)?;
            sayln!("report: {}", report::write(&r, &dir)?.html.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => gate::compare(args),
        Command::Merge(args) => merge::run(args),
    }
}

/// Evaluates the thresholds of the workload as run against `result`,
/// records the verdicts in it and prints them, with the verdicts of the
/// invariant checks the run recorded. Returns whether all passed.
fn judge(result: &mut RunResult) -> anyhow::Result<bool> {
    let checks_passed = judge_checks(result);
    let list = thresholds::from_result(result).map_err(|e| BadInput(e.to_string()))?;
    if list.is_empty() {
        return Ok(checks_passed);
    }
    let verdicts = thresholds::evaluate(&list, result);
    for v in &verdicts {
        if v.passed {
            sayln!("threshold {v}");
        } else {
            eprintln!("tikv-bench: threshold {v}");
        }
    }
    let passed = checks_passed && verdicts.iter().all(|v| v.passed);
    result.thresholds = Some(verdicts);
    Ok(passed)
}

/// Prints the checks' verdicts recorded in `result` (`checks`), one line
/// each, failures on stderr. Returns whether all passed.
fn judge_checks(result: &RunResult) -> bool {
    let Some(verdicts) = &result.checks else {
        return true;
    };
    for v in verdicts {
        if v.passed {
            sayln!("check {v}");
        } else {
            eprintln!("tikv-bench: check {v}");
        }
    }
    verdicts.iter().all(|v| v.passed)
}

/// Loads a result named on the command line: any failure is bad input.
fn load_result(path: &Path) -> anyhow::Result<RunResult> {
    RunResult::load(path).map_err(|e| BadInput(format!("{e:#}")).into())
}

/// When `path` is a sweep's `index.json`, the results it lists (relative
/// to it); `None` for any other file, which is read as a result.
fn sweep_results(path: &Path) -> Option<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Index {
        schema: String,
        cells: Vec<Cell>,
    }
    #[derive(serde::Deserialize)]
    struct Cell {
        result: PathBuf,
    }
    let index: Index = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let dir = result_dir(path);
    (index.schema == run::SWEEP_INDEX_SCHEMA).then(|| {
        index
            .cells
            .into_iter()
            .map(|c| dir.join(c.result))
            .collect()
    })
}

/// Creates the directory a command writes into, before any work: one that
/// cannot be created is bad input (exit 2).
fn output_dir(flag: &str, dir: &Path) -> Result<(), BadInput> {
    std::fs::create_dir_all(dir).map_err(|e| {
        BadInput(format!(
            "{flag} {}: cannot create output directory: {e}",
            dir.display()
        ))
    })
}

/// The directory a result file lies in.
fn result_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn describe(w: &Workload) -> String {
    if let Some(s) = &w.search {
        return format!(
            "{} workers, SLO search from {} ops/s (steps of {} + {} measured, at most {})",
            w.concurrency,
            s.start,
            humantime::format_duration(s.warmup),
            humantime::format_duration(s.hold),
            s.max_steps
        );
    }
    if !w.stages.is_empty() {
        let total = match w.stop {
            Stop::Duration(d) => humantime::format_duration(d).to_string(),
            Stop::Operations(n) => format!("{n} ops"),
        };
        let pace = if w.open_loop() {
            format!("{} workers, open loop", w.concurrency)
        } else {
            "closed loop".into()
        };
        return format!("{pace}, {} stages, {total} in all", w.stages.len());
    }
    let stop = match w.stop {
        Stop::Duration(d) => format!("{} measured", humantime::format_duration(d)),
        Stop::Operations(n) => format!("{n} measured ops"),
    };
    let pace = match w.rate {
        Some(r) => format!("open loop at {r} ops/s"),
        None => "closed loop".into(),
    };
    format!("{} workers, {pace}, {stop}", w.concurrency)
}

/// `reports/<name>-<UTC time>/`, unique to the second.
fn default_out(name: &str) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    Path::new("reports").join(format!("{name}-{date}-{time}"))
}

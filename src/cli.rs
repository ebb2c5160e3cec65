//! The command line: `run`, `check`, `report` and `compare` (more
//! subcommands join as they land).
//! Parses arguments, loads the workload, picks the target, runs, writes the
//! result and prints the summary. Bad input exits 2; other failures exit 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::{Backend, InprocBackend, MemoryBackend, NoopBackend, TargetInfo, TikvBackend};
use crate::checks::{Verdict, thresholds};
use crate::cluster::{Cluster, RunningCluster};
use crate::driver::{self, ProgressMode, RunOptions, Shard};
use crate::metrics::{Live, RunResult, hdrlog, prometheus};
use crate::report;
use crate::workload::sweep::Cell;
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
    Serve(crate::cluster::serve::ServeArgs),
    /// Merge the results of several drivers (shards of one run) into one:
    /// histograms added, counters summed, timelines aligned by second.
    Merge {
        /// result.json files of the shards.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// The merged result file.
        #[arg(long, short, default_value = "merged.json")]
        output: PathBuf,
        /// Also write the merged interval histograms as an HdrHistogram log.
        #[arg(long)]
        hdr_log: Option<PathBuf>,
    },
    /// Compare results: compare.html with charts, deltas for two results.
    Compare {
        /// result.json files written by `run`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Directory for the comparison [default: reports/compare-TIME/].
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The embedded stand-in cluster (the workload's `cluster:` section),
    /// started on loopback and driven through our TiKV client.
    Embedded,
    /// A running cluster whose PD is at `--pd`, through our TiKV client.
    External,
    /// An in-process ordered map: no network, no transactions.
    Memory,
    /// Answers every op at once: measures the harness itself.
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
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Override the workload's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the measured phase's length (e.g. 30s); clears `operations`.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Override the measured phase's op count; clears `duration`.
    #[arg(long)]
    pub operations: Option<u64>,
    /// Override the warmup (e.g. 0s).
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Override the number of workers.
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Override the target rate in ops/s (open loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Skip the load phase (the records are already there).
    #[arg(long)]
    pub no_load: bool,
    /// Do not write report.html and the PNG charts beside result.json.
    #[arg(long)]
    pub no_report: bool,
    /// Run as driver I of N sharing the workload (e.g. 2/3): this driver
    /// takes its share of the workers, rate, op count and preload; merge
    /// the N results with `tikv-bench merge`.
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

pub async fn main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { files } => {
            for f in &files {
                let w = Workload::load(f)?;
                println!(
                    "{}: ok: '{}', {} op(s), {}",
                    f.display(),
                    w.name,
                    w.ops.len(),
                    describe(&w)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run(args).await,
        Command::Serve(args) => crate::cluster::serve::run(args).await,
        Command::Report { result, out } => {
            let r = load_result(&result)?;
            let dir = out.unwrap_or_else(|| result_dir(&result));
            println!("report: {}", report::write(&r, &dir)?.html.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { results, out } => {
            let loaded = results
                .iter()
                .map(|p| Ok((p.clone(), load_result(p)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let dir = out.unwrap_or_else(|| default_out("compare"));
            println!(
                "compare: {}",
                report::compare_to_dir(&loaded, &dir)?.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge {
            results,
            output,
            hdr_log,
        } => {
            let loaded = results
                .iter()
                .map(|p| load_result(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut merged = crate::metrics::merge(&loaded).map_err(|e| BadInput(e.to_string()))?;
            let passed = judge(&mut merged)?;
            merged.save(&output)?;
            print!("{}", report::text::summary(&merged));
            println!("merged {} results: {}", loaded.len(), output.display());
            if let Some(path) = hdr_log {
                hdrlog::save(&merged, &path)?;
                println!("hdr log: {}", path.display());
            }
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Evaluates the thresholds of the workload as run against `result`,
/// records the verdicts in it and prints them, with the verdicts of the
/// invariant checks the run recorded. Returns whether all passed.
fn judge(result: &mut RunResult) -> anyhow::Result<bool> {
    let checks_passed = judge_checks(result);
    let list = thresholds::from_result(result).map_err(BadInput)?;
    if list.is_empty() {
        return Ok(checks_passed);
    }
    let verdicts = thresholds::evaluate(&list, result);
    for v in &verdicts {
        if v.passed {
            println!("threshold {v}");
        } else {
            eprintln!("tikv-bench: threshold {v}");
        }
    }
    result
        .extra
        .insert("thresholds".into(), serde_json::to_value(&verdicts)?);
    Ok(checks_passed && verdicts.iter().all(|v| v.passed))
}

/// Prints the checks' verdicts recorded in `result` (`extra.checks`), one
/// line each, failures on stderr. Returns whether all passed.
fn judge_checks(result: &RunResult) -> bool {
    let Some(list) = result.extra.get("checks") else {
        return true;
    };
    let verdicts: Vec<Verdict> = match serde_json::from_value(list.clone()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tikv-bench: check FAIL: the result's checks cannot be read: {e}");
            return false;
        }
    };
    for v in &verdicts {
        if v.passed {
            println!("check {v}");
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

/// The directory a result file lies in.
fn result_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn describe(w: &Workload) -> String {
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

/// Applies command-line overrides to a checked workload.
pub fn apply_overrides(w: &mut Workload, a: &RunArgs) -> Result<(), BadInput> {
    if let Some(s) = a.seed {
        w.seed = s;
    }
    if let Some(d) = a.warmup {
        w.warmup = d;
    }
    match (a.duration, a.operations) {
        (Some(_), Some(_)) => {
            return Err(BadInput("give --duration or --operations, not both".into()));
        }
        (Some(d), None) if d.is_zero() => {
            return Err(BadInput("--duration must be greater than zero".into()));
        }
        (Some(d), None) => w.stop = Stop::Duration(d),
        (None, Some(0)) => return Err(BadInput("--operations must be at least 1".into())),
        (None, Some(n)) => w.stop = Stop::Operations(n),
        (None, None) => {}
    }
    if let Some(c) = a.concurrency {
        if c == 0 {
            return Err(BadInput("--concurrency must be at least 1".into()));
        }
        w.concurrency = c;
    }
    if let Some(shard) = a.shard
        && shard.count > 1
        && !w.checks.is_empty()
    {
        return Err(BadInput(format!(
            "--shard {}/{}: the workload has checks ({}), which need every worker's bookkeeping in one driver; run it without --shard",
            shard.index + 1,
            shard.count,
            w.checks.names().join(", ")
        )));
    }
    if let Some(shard) = a.shard
        && w.concurrency < shard.count
    {
        return Err(BadInput(format!(
            "--shard {}/{}: the workload has {} workers, fewer than the {} drivers; raise concurrency",
            shard.index + 1,
            shard.count,
            w.concurrency,
            shard.count
        )));
    }
    if let Some(r) = a.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(BadInput(format!(
                "--rate must be a positive number of ops/s, got {r}"
            )));
        }
        w.rate = Some(r);
    }
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut workload = Workload::load(&args.workload)?;
    apply_overrides(&mut workload, &args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&workload.name));
    // Made before the run, so an unwritable directory fails at once rather
    // than after an hour of load; removed again if the run fails before
    // writing anything into it.
    let fresh = !out.exists();
    std::fs::create_dir_all(&out)
        .with_context(|| format!("{}: cannot create output directory", out.display()))?;
    let outcome = run_into(&workload, &args, &out).await;
    if outcome.is_err() && fresh {
        // Fails, as it should, if the directory is no longer empty.
        let _ = std::fs::remove_dir(&out);
    }
    outcome
}

async fn run_into(workload: &Workload, args: &RunArgs, out: &Path) -> anyhow::Result<ExitCode> {
    let live = Arc::new(std::sync::Mutex::new(Live::default()));
    let endpoint = match args.metrics_addr {
        Some(addr) => {
            let listener = prometheus::bind(addr)
                .await
                .map_err(|e| BadInput(format!("--metrics-addr {addr}: cannot listen: {e}")))?;
            eprintln!("metrics: http://{}/metrics", listener.local_addr()?);
            let exposition = prometheus::Exposition::new(workload, live.clone());
            Some(tokio::spawn(prometheus::serve(listener, exposition)))
        }
        None => None,
    };
    let passed = if workload.sweep.is_some() {
        run_sweep(workload, args, out, &live).await
    } else {
        run_one(workload, args, out, None, &live).await.map(|r| r.2)
    };
    if let Some(task) = endpoint {
        task.abort();
    }
    Ok(if passed? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs one workload (or one sweep cell) and writes its result and report
/// into `out`.
/// Returns where the result went, the result, and whether its thresholds
/// passed.
async fn run_one(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    cell: Option<&Cell>,
    live: &Arc<std::sync::Mutex<Live>>,
) -> anyhow::Result<(PathBuf, RunResult, bool)> {
    let opts = RunOptions {
        progress: args.progress,
        workload_file: Some(args.workload.display().to_string()),
        skip_load: args.no_load,
        shard: args.shard.unwrap_or_default(),
        live: Some(live.clone()),
        ..RunOptions::default()
    };
    let target = target(args)?;
    if target == Target::Noop && !workload.checks.is_empty() {
        return Err(BadInput(format!(
            "--target noop stores nothing, so the workload's checks ({}) could only fail; choose another target",
            workload.checks.names().join(", ")
        ))
        .into());
    }
    let mut result = match target {
        Target::Embedded => embedded(workload, &opts).await?,
        Target::External => external(workload, &args.pd, &opts).await?,
        Target::Memory => execute(workload, MemoryBackend::new(), &opts).await?,
        Target::Noop => execute(workload, NoopBackend, &opts).await?,
        Target::Inproc => execute(workload, InprocBackend::default(), &opts).await?,
    };
    if let Some(cell) = cell {
        result.extra.insert("sweep".into(), cell.to_json());
    }
    print!("{}", report::text::summary(&result));
    let passed = judge(&mut result)?;
    let path = out.join("result.json");
    result.save(&path)?;
    println!("result: {}", path.display());
    if let Some(log) = &args.hdr_log {
        // A sweep writes one log per cell, in the cell's directory.
        let log = match (cell, log.file_name()) {
            (Some(_), Some(name)) => out.join(name),
            _ => log.clone(),
        };
        hdrlog::save(&result, &log)?;
        println!("hdr log: {}", log.display());
    }
    if !args.no_report {
        let written = report::write(&result, out).with_context(|| {
            format!(
                "result saved as {}; cannot render its report",
                path.display()
            )
        })?;
        println!("report: {}", written.html.display());
    }
    Ok((path, result, passed))
}

/// Runs every cell of the workload's sweep, each in its own directory under
/// `out`, then writes `index.json` and the comparison of all cells.
/// Returns whether every cell met the thresholds.
async fn run_sweep(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    live: &Arc<std::sync::Mutex<Live>>,
) -> anyhow::Result<bool> {
    let cells = workload.cells();
    let mut passed = true;
    let mut results = Vec::with_capacity(cells.len());
    let mut index = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        println!("== sweep cell {}/{}: {}", i + 1, cells.len(), cell.id);
        let dir = out.join(cell.dir_name());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create output directory", dir.display()))?;
        let (path, result, cell_passed) =
            run_one(&cell.workload, args, &dir, Some(cell), live).await?;
        passed &= cell_passed;
        let mut entry = cell.to_json();
        entry["result"] = format!("{}/result.json", cell.dir_name()).into();
        entry["goodput_per_s"] = result.measured.ok_per_s.into();
        index.push(entry);
        results.push((path, result));
    }
    let index = serde_json::json!({
        "schema": SWEEP_INDEX_SCHEMA,
        "name": workload.name,
        "workload_file": args.workload.display().to_string(),
        "sweep": workload.sweep,
        "cells": index,
    });
    let index_path = out.join("index.json");
    std::fs::write(&index_path, serde_json::to_string_pretty(&index)? + "\n")
        .with_context(|| format!("{}: cannot write sweep index", index_path.display()))?;
    println!("index: {}", index_path.display());
    let html = report::compare_to_dir(&results, &out.join("compare"))?;
    println!("compare: {}", html.display());
    Ok(passed)
}

/// The schema name of a sweep's `index.json`.
pub const SWEEP_INDEX_SCHEMA: &str = "tikv-bench/sweep-index/v1";

async fn execute<B: Backend>(
    w: &Workload,
    backend: B,
    opts: &RunOptions,
) -> anyhow::Result<RunResult> {
    driver::run(w, Arc::new(backend), opts).await
}

/// The target the flags ask for: `--target`, else external with `--pd`,
/// else the embedded cluster.
pub fn target(args: &RunArgs) -> Result<Target, BadInput> {
    let pd = !args.pd.is_empty();
    match (args.target, pd) {
        (None, false) => Ok(Target::Embedded),
        (None | Some(Target::External), true) => Ok(Target::External),
        (Some(Target::External), false) => Err(BadInput(
            "--target external needs --pd HOST:PORT[,HOST:PORT...]".into(),
        )),
        (Some(t), true) => Err(BadInput(format!(
            "--pd names an external cluster, but --target is {}; drop one of them",
            t.to_possible_value()
                .map_or("?".into(), |v| v.get_name().to_string())
        ))),
        (Some(t), false) => Ok(t),
    }
}

/// Starts the workload's stand-in cluster on loopback, runs the workload
/// against it through our client, records the cluster at start and end
/// under `cluster`, and shuts the cluster down.
async fn embedded(w: &Workload, opts: &RunOptions) -> anyhow::Result<RunResult> {
    let running = Cluster::new(w.cluster.clone())
        .with_seed(w.seed)
        .start(([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the embedded cluster on 127.0.0.1")?;
    let result = run_embedded(w, opts, &running).await;
    running.shutdown().await;
    result
}

async fn run_embedded(
    w: &Workload,
    opts: &RunOptions,
    running: &RunningCluster,
) -> anyhow::Result<RunResult> {
    let pd = vec![running.pd_addr().to_string()];
    let faults = if w.cluster.faults.any() {
        ", with faults"
    } else {
        ""
    };
    let info = TargetInfo {
        kind: "embedded".into(),
        description: format!(
            "the embedded stand-in cluster ({} stores{faults}, PD {}) through tikv-bench's client, {} channel(s) per store",
            w.cluster.stores, pd[0], w.client.pool_size
        ),
    };
    let backend = TikvBackend::connect(&pd, &w.client, info)
        .await
        .with_context(|| format!("cannot connect to the embedded cluster at {}", pd[0]))?;
    let start = running.snapshot();
    let mut result = execute(w, backend, opts).await?;
    result.extra.insert(
        "cluster".into(),
        serde_json::json!({"pd": pd, "start": start, "end": running.snapshot()}),
    );
    Ok(result)
}

/// Runs the workload against the cluster whose PD answers at one of `pd`,
/// recording the cluster as PD describes it at start and end.
async fn external(w: &Workload, pd: &[String], opts: &RunOptions) -> anyhow::Result<RunResult> {
    let info = TargetInfo {
        kind: "external".into(),
        description: format!(
            "the TiKV cluster with PD at {} through tikv-bench's client, {} channel(s) per store",
            pd.join(","),
            w.client.pool_size
        ),
    };
    let backend = TikvBackend::connect(pd, &w.client, info)
        .await
        .with_context(|| format!("cannot connect to PD at {}", pd.join(",")))?;
    let client = backend.client().clone();
    let snapshot = async || match client.snapshot().await {
        Ok(v) => v,
        Err(e) => serde_json::json!({"error": e.to_string()}),
    };
    let start = snapshot().await;
    let mut result = execute(w, backend, opts).await?;
    result.extra.insert(
        "cluster".into(),
        serde_json::json!({"pd": pd, "start": start, "end": snapshot().await}),
    );
    Ok(result)
}

/// `reports/<name>-<UTC time>/`, unique to the second.
fn default_out(name: &str) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = stamp.split_at(8.min(stamp.len()));
    Path::new("reports").join(format!("{name}-{date}-{time}"))
}

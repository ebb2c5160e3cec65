//! `tikv-bench run`: one workload or every cell of its sweep, against the
//! target the flags name, each result saved with its report.

use super::output::{say, sayln};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::ValueEnum;

use super::{BadInput, RunArgs, Target, default_out, gate, judge};
use crate::backend::{
    Backend, Capacity, InprocBackend, MemoryBackend, NoopBackend, TargetInfo, TikvBackend,
};
use crate::checks::baseline::Named;
use crate::cluster::{Cluster, RunningCluster};
use crate::driver::{self, Interrupt, RunOptions};
use crate::metrics::impact::FaultLog;
use crate::metrics::{
    BaselineComparison, ClusterInfo, Live, RepeatInfo, RunResult, SweepInfo, hdrlog, prometheus,
};
use crate::report;
use crate::workload::sweep::Cell;
use crate::workload::{Stop, Workload, checks};

/// Applies command-line overrides to a checked workload.
pub fn apply_overrides(w: &mut Workload, a: &RunArgs) -> Result<(), BadInput> {
    refuse_replaced(w, a)?;
    if let Some(s) = a.seed {
        w.seed = s;
    }
    if let Some(d) = a.warmup {
        w.warmup = d;
    }
    if let Some(t) = a.transport {
        w.client.transport = t;
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
    if a.tls.any() {
        w.client.tls = a.tls.over(w.client.tls.as_ref())?;
    }
    Ok(())
}

/// The overrides that `stages:` or `search:` replace, and `--shard` with
/// a search, refused: each says why.
fn refuse_replaced(w: &Workload, a: &RunArgs) -> Result<(), BadInput> {
    let what = if w.search.is_some() {
        "search"
    } else if !w.stages.is_empty() {
        "stages"
    } else {
        return Ok(());
    };
    let flags = [
        ("--rate", a.rate.is_some(), "sets the rate"),
        ("--duration", a.duration.is_some(), "sets the run's length"),
        (
            "--operations",
            a.operations.is_some(),
            "sets the run's length",
        ),
        (
            "--warmup",
            a.warmup.is_some(),
            "sets each step's or stage's warmup",
        ),
        (
            "--concurrency",
            a.concurrency.is_some() && !w.open_loop(),
            "sets the workers (its largest stage's concurrency)",
        ),
    ];
    if let Some((flag, _, why)) = flags.iter().find(|(_, given, _)| *given) {
        return Err(BadInput(format!(
            "{flag} cannot be used with a workload that has '{what}:', which {why}; edit the workload instead"
        )));
    }
    if let Some(shard) = a.shard
        && shard.count > 1
        && w.search.is_some()
    {
        return Err(BadInput(format!(
            "--shard {}/{}: the workload has a search, which decides each step from the step before; every driver would search on its own. Run it without --shard",
            shard.index + 1,
            shard.count
        )));
    }
    Ok(())
}

/// The noop target: instant, or with `--service-time` and `--slots` a
/// target of known capacity. The two flags go together, and only with
/// `--target noop`.
fn noop_capacity(args: &RunArgs, target: Target) -> Result<Option<Capacity>, BadInput> {
    match (args.service_time, args.slots) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) if target != Target::Noop => Err(BadInput(
            "--service-time and --slots make the noop target one of known capacity; they need --target noop".into(),
        )),
        (Some(service), Some(slots)) if !service.is_zero() => {
            Ok(Some(Capacity { service, slots }))
        }
        (Some(_), Some(_)) => Err(BadInput(
            "--service-time must be greater than zero (an instant target is --target noop alone)".into(),
        )),
        (Some(_), None) | (None, Some(_)) => Err(BadInput(
            "give --service-time and --slots together: the noop target serves --slots ops at once, each taking --service-time".into(),
        )),
    }
}

pub(super) async fn run(mut args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut workload = Workload::load(&args.workload)?;
    // First: it may take the shard from the environment.
    let placed = super::drivers::place(&mut args, &workload)?;
    apply_overrides(&mut workload, &args)?;
    noop_capacity(&args, target(&args)?)?;
    let baselines = gate::for_run(&workload, &args.baseline)?;
    let out = placed
        .out
        .clone()
        .or_else(|| args.out.clone())
        .unwrap_or_else(|| default_out(&workload.name));
    // Made before the run, so an unwritable directory fails at once rather
    // than after an hour of load; removed again if the run fails before
    // writing anything into it.
    let fresh = !out.exists();
    super::output_dir("--out", &out)?;
    if let Err(e) = output_files(&workload, &args) {
        if fresh {
            let _ = std::fs::remove_dir(&out);
        }
        return Err(e.into());
    }
    let interrupt = Interrupt::default();
    let signals = on_signals(interrupt.clone());
    let session = Session {
        live: Arc::new(std::sync::Mutex::new(Live::default())),
        interrupt: interrupt.clone(),
        baselines,
        placed,
    };
    let outcome = run_into(&workload, &args, &out, &session).await;
    signals.abort();
    if outcome.is_err() && fresh {
        // Fails, as it should, if the directory is no longer empty.
        let _ = std::fs::remove_dir(&out);
    }
    outcome
}

/// Fails when a file the run is to write besides its result cannot be
/// written: the HdrHistogram log (of a run without a sweep, whose cells
/// write one each), the Markdown summary, the JUnit XML.
fn output_files(workload: &Workload, args: &RunArgs) -> Result<(), BadInput> {
    if let Some(log) = args.hdr_log.as_ref().filter(|_| workload.sweep.is_none()) {
        writable(log)
            .map_err(|e| BadInput(format!("--hdr-log {}: cannot write: {e}", log.display())))?;
    }
    args.ci.check()
}

/// Whether `path` can be written, found out by creating it (and removing
/// it again when it did not exist), so that a bad path fails before the run.
pub(super) fn writable(path: &Path) -> std::io::Result<()> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// SIGINT or SIGTERM ends the run early, keeping what was measured (the
/// result says `interrupted`); a second one exits at once.
fn on_signals(interrupt: Interrupt) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            eprintln!("tikv-bench: cannot watch for Ctrl-C; an interrupt will lose the run");
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        interrupt.fire();
        eprintln!(
            "tikv-bench: interrupted: stopping the run and keeping what was measured (again to exit at once)"
        );
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("tikv-bench: interrupted twice: exiting at once");
        std::process::exit(130);
    })
}

async fn run_into(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    session: &Session,
) -> anyhow::Result<ExitCode> {
    let live = session.live.clone();
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
    let passed = if workload.sweep.is_some() || args.repeat > 1 {
        run_many(workload, args, out, session).await
    } else {
        run_one(workload, args, out, &Place::default(), session)
            .await
            .map(|r| r.2)
    };
    if let Some(task) = endpoint {
        task.abort();
    }
    let passed = passed?;
    Ok(if session.interrupt.fired() {
        ExitCode::from(130)
    } else if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs one workload (or one sweep cell) and writes its result and report
/// into `out`; a single run (no sweep, no repeats) is judged against the
/// baselines and written for CI too.
/// Returns where the result went, the result, and whether its thresholds
/// passed.
async fn run_one(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    place: &Place<'_>,
    session: &Session,
) -> anyhow::Result<(PathBuf, RunResult, bool)> {
    // Boxed: nested in run_many, the futures would be too deep for the
    // compiler to lay out.
    let mut result = Box::pin(measure(workload, args, session)).await?;
    if let Some(cell) = place.cell {
        result.sweep = Some(SweepInfo::of(cell));
    }
    result.repeat = place.repeat;
    let path = out.join("result.json");
    let single = place.cell.is_none() && place.repeat.is_none();
    // Before the summary, which lists the verdicts. Repeats are judged
    // together once all have run.
    let not_judged = match single && !session.baselines.is_empty() {
        true => judge_baseline(&mut result, &path, session),
        false => None,
    };
    say!("{}", report::text::summary(&result));
    if result.interrupted {
        sayln!(
            "interrupted: the figures cover the {:.1}s measured before the interrupt",
            result.measured.duration_s
        );
    }
    if let Some(cmp) = &result.baseline {
        gate::warn_regressed(cmp);
    }
    if session.baselines.is_empty() {
        gate::note_unjudged(&result);
    }
    let regressed = result.baseline.as_ref().is_some_and(|c| !c.passed());
    let passed = judge(&mut result)? && !aborted(&result) && !regressed;
    result.save(&path)?;
    sayln!("result: {}", path.display());
    if let Some(log) = &args.hdr_log {
        // Several runs write one log each, in the run's directory.
        let many = place.cell.is_some() || place.repeat.is_some();
        let log = match log.file_name() {
            Some(name) if many => out.join(name),
            _ => log.clone(),
        };
        hdrlog::save(&result, &log)?;
        sayln!("hdr log: {}", log.display());
    }
    if !args.no_report {
        let written = report::write(&result, out).with_context(|| {
            format!(
                "result saved as {}; cannot render its report",
                path.display()
            )
        })?;
        sayln!("report: {}", written.html.display());
    }
    if let Some(e) = not_judged {
        return Err(e);
    }
    if single {
        args.ci.write(&[&result], result.baseline.as_ref())?;
    }
    Ok((path, result, passed))
}

/// Judges `result` (to be saved at `path`) against the session's
/// baselines into its `baseline` section. The error, when it cannot be,
/// is returned to end the command once the result is saved; an
/// interrupted run (too short, perhaps) is only warned about.
fn judge_baseline(result: &mut RunResult, path: &Path, session: &Session) -> Option<anyhow::Error> {
    let file = path.display().to_string();
    let run = Named {
        file: &file,
        result,
    };
    match gate::judge(&session.baselines, &[run]) {
        Ok(cmp) => {
            result.baseline = Some(cmp);
            None
        }
        Err(e) if result.interrupted => {
            eprintln!("tikv-bench: the interrupted run is not judged against the baseline: {e:#}");
            None
        }
        Err(e) => Some(e),
    }
}

/// Runs the workload against the target the flags name.
async fn measure(
    workload: &Workload,
    args: &RunArgs,
    session: &Session,
) -> anyhow::Result<RunResult> {
    let opts = RunOptions {
        progress: args.progress,
        workload_file: Some(args.workload.display().to_string()),
        skip_load: args.no_load,
        shard: args.shard.unwrap_or_default(),
        live: Some(session.live.clone()),
        interrupt: session.interrupt.clone(),
        start: session.placed.start.clone(),
        run_id: session.placed.run_id.clone(),
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
    if matches!(target, Target::Memory | Target::Noop) && workload.uses_ttl() {
        return Err(BadInput(format!(
            "--target {} keeps no TTLs, and the workload writes or reads them (a ttl on a put or cas, or a get_ttl op); choose embedded, inproc or a cluster (--pd)",
            if target == Target::Memory { "memory" } else { "noop" }
        ))
        .into());
    }
    Ok(match target {
        Target::Embedded => embedded(workload, &opts).await?,
        Target::External => external(workload, &args.pd, &opts).await?,
        Target::Memory => execute(workload, MemoryBackend::new(), &opts).await?,
        Target::Noop => {
            let noop = match noop_capacity(args, target)? {
                Some(capacity) => NoopBackend::with_capacity(capacity),
                None => NoopBackend::new(),
            };
            execute(workload, noop, &opts).await?
        }
        Target::Inproc => execute(workload, InprocBackend::default(), &opts).await?,
    })
}

/// Whether a threshold with `abort_on_fail` stopped the run, said on
/// stderr: which one, what it measured and when.
fn aborted(result: &RunResult) -> bool {
    let Some(a) = &result.aborted else {
        return false;
    };
    eprintln!(
        "tikv-bench: aborted {:.1}s into the measured phase: threshold {} missed (measured {})",
        a.at_s, a.threshold, a.measured
    );
    true
}

/// Where one of several runs goes: its sweep cell, and which repeat it is.
#[derive(Debug, Default, Clone, Copy)]
struct Place<'a> {
    cell: Option<&'a Cell>,
    repeat: Option<RepeatInfo>,
}

impl Place<'_> {
    /// Its directory under the command's output directory.
    fn dir(&self, out: &Path) -> PathBuf {
        let mut dir = out.to_path_buf();
        if let Some(cell) = self.cell {
            dir.push(cell.dir_name());
        }
        if let Some(r) = self.repeat {
            dir.push(format!("repeat-{}", r.index));
        }
        dir
    }
}

/// Runs every cell of the workload's sweep (or the workload alone) as many
/// times as `--repeat` says, each run in its own directory under `out`,
/// then writes `index.json` and the comparison of all runs. Returns
/// whether every run met the thresholds.
async fn run_many(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    session: &Session,
) -> anyhow::Result<bool> {
    let cells = workload.cells();
    let repeats: Vec<Option<RepeatInfo>> = match args.repeat {
        1 => vec![None],
        n => (1..=n)
            .map(|index| Some(RepeatInfo { index, count: n }))
            .collect(),
    };
    let plan: Vec<(&Workload, Place)> = match cells.is_empty() {
        true => repeats
            .iter()
            .map(|&repeat| (workload, Place { cell: None, repeat }))
            .collect(),
        // Round by round: every cell once, then every cell again. Run
        // back to back, a cell's repeats would share whatever phase the
        // machine is in (on this project's VM its speed changes by a third or more
        // for minutes at a time), and their range would hide it.
        false => repeats
            .iter()
            .flat_map(|&repeat| {
                cells.iter().map(move |cell| {
                    let place = Place {
                        cell: Some(cell),
                        repeat,
                    };
                    (&cell.workload, place)
                })
            })
            .collect(),
    };
    let mut passed = true;
    let mut results = Vec::with_capacity(plan.len());
    let mut index = Vec::with_capacity(plan.len());
    for (i, (w, place)) in plan.iter().enumerate() {
        if session.interrupt.fired() {
            sayln!(
                "interrupted: {i} of {} runs finished; the index and comparison cover them",
                plan.len()
            );
            break;
        }
        let dir = place.dir(out);
        let rel = dir.strip_prefix(out).unwrap_or(&dir).display().to_string();
        sayln!("== run {}/{}: {rel}", i + 1, plan.len());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create output directory", dir.display()))?;
        let (path, result, run_passed) = run_one(w, args, &dir, place, session).await?;
        passed &= run_passed;
        let mut entry = match place.cell {
            Some(cell) => cell.to_json(),
            None => serde_json::json!({}),
        };
        if let Some(r) = place.repeat {
            entry["repeat"] = r.index.into();
        }
        entry["result"] = format!("{rel}/result.json").into();
        entry["goodput_per_s"] = result.measured.ok_per_s.into();
        index.push(entry);
        results.push((path, result));
    }
    write_index(workload, args, out, index)?;
    let cmp = judge_repeats(&results, out, session)?;
    if !results.is_empty() {
        say!("{}", report::runs::table(&results)?);
        let html =
            report::compare::compare_to_dir_with(&results, &out.join("compare"), cmp.as_ref())?;
        sayln!("compare: {}", html.display());
    }
    passed &= cmp.as_ref().is_none_or(|c| c.passed());
    let runs: Vec<&RunResult> = results.iter().map(|(_, r)| r).collect();
    args.ci.write(&runs, cmp.as_ref())?;
    Ok(passed)
}

/// Judges every repeat together against the session's baselines, prints
/// the verdicts and writes them to `OUT/baseline.json`; `None` without
/// baselines (or runs).
fn judge_repeats(
    results: &[(PathBuf, RunResult)],
    out: &Path,
    session: &Session,
) -> anyhow::Result<Option<BaselineComparison>> {
    if session.baselines.is_empty() || results.is_empty() {
        return Ok(None);
    }
    let files: Vec<String> = results
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let runs: Vec<Named<'_>> = results
        .iter()
        .zip(&files)
        .map(|((_, result), file)| Named { file, result })
        .collect();
    let cmp = match gate::judge(&session.baselines, &runs) {
        Ok(cmp) => cmp,
        Err(e) if session.interrupt.fired() => {
            eprintln!(
                "tikv-bench: the interrupted runs are not judged against the baseline: {e:#}"
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    say!("{}", report::text::baseline(&cmp));
    gate::warn_regressed(&cmp);
    sayln!("baseline: {}", gate::save(&cmp, out)?.display());
    Ok(Some(cmp))
}

/// `index.json`: every run, where its result is, and its goodput.
fn write_index(
    workload: &Workload,
    args: &RunArgs,
    out: &Path,
    runs: Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    let index = serde_json::json!({
        "schema": SWEEP_INDEX_SCHEMA,
        "name": workload.name,
        "workload_file": args.workload.display().to_string(),
        "sweep": workload.sweep,
        "repeat": args.repeat,
        "cells": runs,
    });
    let index_path = out.join("index.json");
    std::fs::write(&index_path, serde_json::to_string_pretty(&index)? + "\n")
        .with_context(|| format!("{}: cannot write sweep index", index_path.display()))?;
    sayln!("index: {}", index_path.display());
    Ok(())
}

/// What every run of one command shares: the live view a metrics endpoint
/// reads, the interrupt, and the baselines (`--baseline`) to judge by.
struct Session {
    live: Arc<std::sync::Mutex<Live>>,
    interrupt: Interrupt,
    baselines: Vec<gate::Baseline>,
    /// Where and when this driver runs among several (`--start-at`,
    /// `--run-id`, `--results-dir`).
    placed: super::drivers::Placement,
}

/// The schema name of a sweep's `index.json`.
pub const SWEEP_INDEX_SCHEMA: &str = "tikv-bench/sweep-index/v1";

async fn execute<B: Backend>(
    w: &Workload,
    backend: B,
    opts: &RunOptions,
) -> anyhow::Result<RunResult> {
    Ok(driver::run(w, Arc::new(backend), opts).await?)
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
    let plain = || running.storage().raw().non_atomic_cas_writes();
    let (start, plain_before) = (running.snapshot(), plain());
    let opts = &RunOptions {
        fault_log: Some(FaultLog::new(running.fault_log())),
        ..opts.clone()
    };
    let mut result = execute(w, backend, opts).await?;
    if let Some(verdicts) = &mut result.checks {
        checks::fail_on_plain_writes_to_cas_keys(verdicts, plain() - plain_before);
    }
    result.cluster = Some(ClusterInfo {
        pd,
        start,
        end: running.snapshot(),
    });
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
    result.cluster = Some(ClusterInfo {
        pd: pd.to_vec(),
        start,
        end: snapshot().await,
    });
    Ok(result)
}

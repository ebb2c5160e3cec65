//! `tikv-bench merge`: adds up the results of the drivers of one run. It
//! finds the results in the files and run directories given ([`find`]),
//! checks that they are the shards of one run, each once, and which are
//! missing ([`check`]), waits for the missing with `--wait`, and merges
//! them, or those there are with `--partial`.

mod check;
mod find;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::output::{say, sayln};
use super::{BadInput, judge, run};
use crate::metrics::{RunResult, hdrlog};
use crate::report;
use check::RunShards;
use find::{Finder, Scan};

/// How often `--wait` looks for the missing shards.
const POLL: Duration = Duration::from_secs(1);
/// How often `--wait` says which shards it still waits for.
const SAY_EVERY: Duration = Duration::from_secs(30);

/// Flags of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// result.json files of the shards, or a run's directory
    /// (`--results-dir DIR` puts a run's shards in DIR/RUN-ID/shard-I-of-N/):
    /// every shard result in it.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// The merged result file.
    #[arg(long, short, default_value = "merged.json")]
    pub output: PathBuf,
    /// Also write the merged interval histograms as an HdrHistogram log.
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
    /// Wait up to this long for every shard of the run to appear (N is
    /// read from each shard's result), then merge; without it a missing
    /// shard is an error at once, naming it.
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    pub wait: Option<Duration>,
    /// Merge the shards there are even if some of the run's are missing
    /// (the merged result lists those missing).
    #[arg(long)]
    pub partial: bool,
    /// Also render the merged result's report (report.html and the PNG
    /// charts) beside it, whether its thresholds pass or not.
    #[arg(long)]
    pub report: bool,
}

/// Finds and checks the shards (waiting for them with `--wait`), merges
/// them, judges the merged result's thresholds and writes it.
pub(super) fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let MergeArgs {
        results,
        output,
        hdr_log,
        wait,
        partial,
        report: with_report,
    } = args;
    let mut finder = Finder::new(&results, wait.is_some())?;
    // The merged result's directory (a run's `merged/`) is made here, so
    // that a merge Job needs no step before it.
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            BadInput(format!(
                "-o {}: cannot make its directory: {e}",
                output.display()
            ))
        })?;
    }
    run::writable(&output)
        .map_err(|e| BadInput(format!("-o {}: cannot write: {e}", output.display())))?;
    if let Some(path) = &hdr_log {
        run::writable(path)
            .map_err(|e| BadInput(format!("--hdr-log {}: cannot write: {e}", path.display())))?;
    }
    let (look, shards) = match wait {
        Some(d) => wait_for(&mut finder, d)?,
        None => {
            let look = finder.look();
            let shards = check::check(&look.found)?;
            (look, shards)
        }
    };
    let loaded = usable(look, shards.as_ref(), &finder, wait, partial)?;
    let mut merged = crate::metrics::merge(&loaded).map_err(|e| BadInput(e.to_string()))?;
    if let Some(s) = shards.filter(|s| !s.missing.is_empty()) {
        eprintln!(
            "tikv-bench: partial merge: {} missing; the merged result lists {} (missing_shards) and its report says so",
            check::run_missing(&s),
            if s.missing.len() == 1 { "it" } else { "them" }
        );
        merged.missing_shards = Some(s.missing);
    }
    let passed = judge(&mut merged)?;
    merged.save(&output)?;
    say!("{}", report::text::summary(&merged));
    sayln!("merged {} results: {}", loaded.len(), output.display());
    if with_report {
        let dir = super::result_dir(&output);
        sayln!("report: {}", report::write(&merged, &dir)?.html.display());
    }
    if let Some(path) = hdr_log {
        hdrlog::save(&merged, &path)?;
        sayln!("hdr log: {}", path.display());
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The results of a look, if they can be merged: every file read, at
/// least one result, and no shard missing unless `partial`.
fn usable(
    look: Scan,
    shards: Option<&RunShards>,
    finder: &Finder,
    waited: Option<Duration>,
    partial: bool,
) -> Result<Vec<RunResult>, BadInput> {
    if let Some((path, why)) = look.unreadable.first() {
        let still = waited.map_or(String::new(), |d| {
            format!(
                " (still, after waiting {}: is a driver writing it?)",
                humantime::format_duration(d)
            )
        });
        return Err(BadInput(format!(
            "{why}{still}; {} cannot be merged",
            path.display()
        )));
    }
    if look.found.is_empty() {
        return Err(BadInput(nothing_found(&finder.dir, waited)));
    }
    if let Some(s) = shards
        && !s.missing.is_empty()
        && !partial
    {
        return Err(check::missing_error(s, finder.dir.as_deref(), waited));
    }
    Ok(look.found.into_iter().map(|f| f.result).collect())
}

/// The error when the inputs hold no result at all.
fn nothing_found(dir: &Option<PathBuf>, waited: Option<Duration>) -> String {
    let after = waited.map_or(String::new(), |d| {
        format!(" after waiting {}", humantime::format_duration(d))
    });
    format!(
        "{}: no result.json in it or in its subdirectories{after}; a run's directory (--results-dir DIR gives DIR/RUN-ID) holds shard-I-of-N/result.json",
        dir.as_ref()
            .map_or("the inputs".into(), |d| d.display().to_string())
    )
}

/// Looks every [`POLL`] until every shard of the run is there and every
/// file reads as a result, or `limit` has passed; says which shards it
/// waits for at the start and every [`SAY_EVERY`]. Shards of mixed runs,
/// or one given twice, end the wait at once.
fn wait_for(finder: &mut Finder, limit: Duration) -> Result<(Scan, Option<RunShards>), BadInput> {
    let start = Instant::now();
    let mut said: Option<Instant> = None;
    loop {
        let look = finder.look();
        let shards = check::check(&look.found)?;
        let complete = look.unreadable.is_empty()
            && !look.found.is_empty()
            && shards.as_ref().is_none_or(|s| s.missing.is_empty());
        let waited = start.elapsed();
        if complete || waited >= limit {
            return Ok((look, shards));
        }
        if said.is_none_or(|t| t.elapsed() >= SAY_EVERY) {
            eprintln!(
                "tikv-bench: merge: waiting up to {} for {}",
                humantime::format_duration(round_secs(limit - waited)),
                waiting_for(&look, shards.as_ref(), finder)
            );
            said = Some(Instant::now());
        }
        std::thread::sleep(POLL.min(limit - waited));
    }
}

/// What the wait still lacks, in words.
fn waiting_for(look: &Scan, shards: Option<&RunShards>, finder: &Finder) -> String {
    let mut what = Vec::new();
    match shards {
        Some(s) if !s.missing.is_empty() => {
            let mut line = check::run_missing(s);
            if let Some(d) = &finder.dir {
                line.push_str(&format!(" in {}", d.display()));
            }
            what.push(line);
        }
        Some(_) => {}
        None if look.found.is_empty() => what.push(format!(
            "the first shard's result in {}",
            finder
                .dir
                .as_ref()
                .map_or("the inputs".into(), |d| d.display().to_string())
        )),
        None => {}
    }
    for (path, _) in &look.unreadable {
        what.push(format!("{} to be complete", path.display()));
    }
    what.join("; ")
}

/// `d` to the whole second, for saying.
fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round() as u64)
}

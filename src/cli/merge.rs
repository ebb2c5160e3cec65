//! `tikv-bench merge`: adds up the results of the drivers of one run.

use std::path::PathBuf;
use std::time::Duration;

use std::process::ExitCode;

use clap::Args;

use super::output::{say, sayln};
use super::{BadInput, judge, load_result, run};
use crate::metrics::hdrlog;
use crate::report;

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
}

/// Loads the results, merges them, judges the merged result's thresholds
/// and writes it.
pub(super) fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let MergeArgs {
        results,
        output,
        hdr_log,
        ..
    } = args;
    let loaded = results
        .iter()
        .map(|p| load_result(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut merged = crate::metrics::merge(&loaded).map_err(|e| BadInput(e.to_string()))?;
    run::writable(&output)
        .map_err(|e| BadInput(format!("-o {}: cannot write: {e}", output.display())))?;
    if let Some(path) = &hdr_log {
        run::writable(path)
            .map_err(|e| BadInput(format!("--hdr-log {}: cannot write: {e}", path.display())))?;
    }
    let passed = judge(&mut merged)?;
    merged.save(&output)?;
    say!("{}", report::text::summary(&merged));
    sayln!("merged {} results: {}", loaded.len(), output.display());
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

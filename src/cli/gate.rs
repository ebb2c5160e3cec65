//! Gating CI on runs: `--baseline` (the results a run is judged against,
//! loaded and checked before any work), `compare --baseline`, and the
//! files CI systems read (`--markdown`, `--junit`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::output::{say, sayln};
use super::{BadInput, default_out, load_result, output_dir, sweep_results};
use crate::checks::baseline::{self as judging, Named};
use crate::checks::thresholds;
use crate::metrics::{BaselineComparison, RunResult};
use crate::report;
use crate::workload::Workload;

/// The files CI systems read, written after the run or comparison.
#[derive(Debug, Args)]
pub struct CiArgs {
    /// Also write a Markdown summary (for a pull-request comment or
    /// GitHub's $GITHUB_STEP_SUMMARY): the outcome, the verdicts against
    /// the baseline, the thresholds and checks.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write JUnit XML: test suites `thresholds`, `baseline` (one
    /// case per metric; a regression fails) and `checks`.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

impl CiArgs {
    /// Fails, before any work, when a file cannot be written.
    pub(super) fn check(&self) -> Result<(), BadInput> {
        for (flag, path) in self.files() {
            super::run::writable(path)
                .map_err(|e| BadInput(format!("{flag} {}: cannot write: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Writes the files asked for, of `runs` and their comparison.
    pub(super) fn write(
        &self,
        runs: &[&RunResult],
        cmp: Option<&BaselineComparison>,
    ) -> anyhow::Result<()> {
        for (flag, path) in self.files() {
            let text = match flag {
                "--markdown" => report::ci::markdown(runs, cmp),
                _ => report::ci::junit(runs, cmp),
            };
            std::fs::write(path, text)
                .with_context(|| format!("{flag} {}: cannot write", path.display()))?;
            sayln!("{}: {}", &flag[2..], path.display());
        }
        Ok(())
    }

    fn files(&self) -> Vec<(&'static str, &PathBuf)> {
        [("--markdown", &self.markdown), ("--junit", &self.junit)]
            .into_iter()
            .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
            .collect()
    }
}

/// A baseline result and the file it came from.
pub(super) struct Baseline {
    pub path: PathBuf,
    pub file: String,
    pub result: RunResult,
}

/// Loads the `--baseline` files, each a result or an `index.json` of
/// `run --repeat N` (or of a sweep), which stands for every result it
/// lists. One that cannot be read as a result is bad input.
pub(super) fn load(paths: &[PathBuf]) -> anyhow::Result<Vec<Baseline>> {
    let mut list = Vec::new();
    for p in paths {
        let files = sweep_results(p).unwrap_or_else(|| vec![p.clone()]);
        if files.is_empty() {
            return Err(BadInput(format!(
                "--baseline {}: the index lists no results",
                p.display()
            ))
            .into());
        }
        for f in files {
            let result = load_result(&f)
                .map_err(|e| BadInput(format!("--baseline {}: {e:#}", p.display())))?;
            list.push(Baseline {
                file: f.display().to_string(),
                path: f,
                result,
            });
        }
    }
    Ok(list)
}

/// The baselines `run --baseline` names, loaded and checked against the
/// workload before it runs: a sweep is refused (each cell would need a
/// baseline of its own), and each baseline must have a timeline to sample
/// and every op the thresholds judge.
pub(super) fn for_run(w: &Workload, paths: &[PathBuf]) -> anyhow::Result<Vec<Baseline>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    if w.sweep.is_some() {
        return Err(BadInput(format!(
            "--baseline cannot be used with a workload that has 'sweep:' ({} cells): run it, then compare each cell's result with compare --baseline",
            w.cells().len()
        ))
        .into());
    }
    let list = load(paths)?;
    let relative: Vec<_> = w.thresholds.iter().filter(|t| t.relative()).collect();
    // The ops a verdict will read: each relative threshold's, or, for the
    // defaults, every op (each gets its p99 judged).
    let needed: Vec<(String, String)> = match relative.is_empty() {
        true => w
            .ops
            .iter()
            .map(|o| (o.name.clone(), format!("p99 of {}", o.name)))
            .collect(),
        false => relative
            .iter()
            .filter_map(|t| t.op.clone().map(|op| (op, t.text.clone())))
            .collect(),
    };
    for b in &list {
        let rows = b.result.timeline.iter().filter(|i| i.span_s > 0.0).count();
        if rows < 2 {
            return Err(BadInput(format!(
                "--baseline {}: the result has {rows} second(s) of timeline (measured {:.1}s); a baseline needs a run of at least 2 seconds",
                b.file, b.result.measured.duration_s
            ))
            .into());
        }
        let ops = &b.result.ops;
        if let Some((op, threshold)) = needed
            .iter()
            .find(|(op, _)| !ops.iter().any(|(n, o)| n == op || &o.op_type == op))
        {
            return Err(BadInput(format!(
                "--baseline {}: threshold '{threshold}' judges op '{op}', which the baseline does not have (its ops are: {}); give a baseline of the same workload",
                b.file,
                ops.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    }
    Ok(list)
}

/// Judges `runs` (together, as repeats) against `baselines` by the
/// workload's thresholds relative to a baseline, or the defaults when it
/// has none; prints the verdicts (the regressed ones on stderr too).
pub(super) fn judge(
    baselines: &[Baseline],
    runs: &[Named<'_>],
) -> anyhow::Result<BaselineComparison> {
    let first = runs
        .first()
        .ok_or_else(|| BadInput("no results to judge".into()))?;
    let (list, from_workload) =
        judging::thresholds_for(first.result).map_err(|e| BadInput(e.to_string()))?;
    let base: Vec<Named<'_>> = baselines
        .iter()
        .map(|b| Named {
            file: &b.file,
            result: &b.result,
        })
        .collect();
    judging::judge(&list, from_workload, &base, runs).map_err(|e| BadInput(e.to_string()).into())
}

/// Refuses results of several sweep cells on one side: a side is judged
/// as repeats of one run, which different cells are not.
fn one_cell<'a>(side: &str, results: impl Iterator<Item = &'a RunResult>) -> Result<(), BadInput> {
    let mut cells: Vec<&str> = results
        .filter_map(|r| r.sweep.as_ref().map(|s| s.id.as_str()))
        .collect();
    cells.sort_unstable();
    cells.dedup();
    match cells.len() {
        0 | 1 => Ok(()),
        n => Err(BadInput(format!(
            "compare --baseline judges the {side} together, as repeats of one run, but they are {n} cells of a sweep ({}); compare each cell's result with its own baseline",
            cells.join("; ")
        ))),
    }
}

/// Prints the regressed verdicts on stderr, as failing thresholds are.
pub(super) fn warn_regressed(cmp: &BaselineComparison) {
    for v in cmp.verdicts.iter().filter(|v| !v.passed) {
        eprintln!("tikv-bench: baseline {v}");
    }
}

/// The note for thresholds relative to a baseline in a run without
/// `--baseline`: they are not judged, and do not fail the run.
pub(super) fn note_unjudged(result: &RunResult) {
    let n = thresholds::from_result(result)
        .map(|list| list.iter().filter(|t| t.relative()).count())
        .unwrap_or(0);
    if n > 0 {
        sayln!(
            "{n} threshold{} relative to a baseline not judged: give --baseline",
            if n == 1 { "" } else { "s" }
        );
    }
}

/// Writes `baseline.json` (the comparison) into `dir`.
pub(super) fn save(cmp: &BaselineComparison, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("baseline.json");
    std::fs::write(&path, serde_json::to_string_pretty(cmp)? + "\n")
        .with_context(|| format!("{}: cannot write the comparison", path.display()))?;
    Ok(path)
}

/// What `compare` is given.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// result.json files written by `run`, or a sweep's index.json
    /// (which stands for every result it lists).
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Directory for the comparison [default: reports/compare-TIME/].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Judge the results (together, as repeats) against this baseline: a
    /// result.json, or the index.json of `run --repeat N`. Repeatable. The
    /// workload's thresholds relative to a baseline judge them, else the
    /// defaults (throughput or goodput -5%, error rate +0.1 points, each
    /// op's p99 +10%); a regression exits 1.
    #[arg(long, value_name = "FILE")]
    pub baseline: Vec<PathBuf>,
    #[command(flatten)]
    pub ci: CiArgs,
}

/// `compare`: compare.html of the results (the baselines first); with
/// `--baseline`, the verdicts, `baseline.json`, and exit 1 on a
/// regression.
pub(super) fn compare(a: CompareArgs) -> anyhow::Result<ExitCode> {
    a.ci.check()?;
    let baselines = load(&a.baseline)?;
    let mut paths = Vec::new();
    for p in &a.results {
        paths.extend(sweep_results(p).unwrap_or_else(|| vec![p.clone()]));
    }
    let loaded = paths
        .iter()
        .map(|p| Ok((p.clone(), load_result(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !baselines.is_empty() {
        one_cell("results", loaded.iter().map(|(_, r)| r))?;
        one_cell("--baseline", baselines.iter().map(|b| &b.result))?;
    }
    let dir = a.out.unwrap_or_else(|| default_out("compare"));
    output_dir("--out", &dir)?;
    let names: Vec<String> = loaded
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let runs: Vec<Named<'_>> = loaded
        .iter()
        .zip(&names)
        .map(|((_, r), file)| Named { file, result: r })
        .collect();
    let cmp = match baselines.is_empty() {
        true => None,
        false => Some(judge(&baselines, &runs)?),
    };
    if let Some(cmp) = &cmp {
        say!("{}", report::text::baseline(cmp));
        warn_regressed(cmp);
        sayln!("baseline: {}", save(cmp, &dir)?.display());
    }
    let all: Vec<(PathBuf, RunResult)> = baselines
        .iter()
        .map(|b| (b.path.clone(), b.result.clone()))
        .chain(loaded.iter().cloned())
        .collect();
    let html = report::compare::compare_to_dir_with(&all, &dir, cmp.as_ref())?;
    sayln!("compare: {}", html.display());
    let results: Vec<&RunResult> = loaded.iter().map(|(_, r)| r).collect();
    a.ci.write(&results, cmp.as_ref())?;
    Ok(match cmp.is_none_or(|c| c.passed()) {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

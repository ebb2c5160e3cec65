//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use tikv_bench::backend::Backend;
use tikv_bench::driver::{self, RunOptions};
use tikv_bench::metrics::RunResult;
use tikv_bench::workload::{Level, Stop, Workload};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped workload file.
pub fn shipped_workloads() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("workloads"))
        .expect("workloads/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Parses inline YAML as a workload.
pub fn workload(yaml: &str) -> Workload {
    Workload::parse(yaml, "inline.yaml").unwrap_or_else(|e| panic!("bad test workload: {e}"))
}

/// Shortens a workload for tests: no warmup, a short measured phase, few
/// workers, a small preload. Stages share the measured phase, without
/// warmups; a search runs at most two steps of it each.
pub fn shorten(w: &mut Workload, measured: Duration) {
    w.warmup = Duration::ZERO;
    w.stop = Stop::Duration(measured);
    w.concurrency = w.concurrency.min(4);
    w.load.records = w.load.records.min(2_000);
    let n = w.stages.len() as u32;
    for stage in &mut w.stages {
        stage.duration = measured / n;
        stage.warmup = Duration::ZERO;
        if let Level::Workers(k) = &mut stage.level {
            *k = (*k).min(4);
        }
    }
    if let Some(s) = &mut w.search {
        s.hold = measured / 2;
        s.warmup = Duration::ZERO;
        s.max_steps = 2;
    }
}

/// Runs a workload against a backend with default options.
pub async fn run<B: Backend>(w: &Workload, backend: B) -> RunResult {
    driver::run(w, Arc::new(backend), &RunOptions::default())
        .await
        .expect("run succeeds")
}

/// The path of the built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tikv-bench"))
}

/// Runs the binary with `args` from the repository root, to completion.
pub fn tikv_bench(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("binary runs")
}

/// What a finished run of the binary wrote to stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

//! Progress on stderr while a run goes: a bar on a terminal, a plain line
//! every few seconds otherwise (logs, CI), or nothing. Reads the
//! collector's running view; never touches the workers.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::plan::PlanView;
use crate::metrics::LevelKind;
use crate::metrics::Live;
use crate::vocab::fmt::micros;
use crate::workload::Stop;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal, lines otherwise.
    Auto,
    /// A bar (lines, with a note, when stderr is not a terminal).
    Bar,
    Lines,
    Off,
}

/// What the run is doing, for the display.
#[derive(Debug, Clone)]
pub enum Phase {
    Idle,
    Load {
        /// Records written so far, summed over the key spaces.
        done: Arc<AtomicU64>,
        total: u64,
        /// Key spaces the records go into (raw, transactional): each
        /// record is written once per space.
        spaces: u64,
    },
    Run {
        start: Instant,
        measure_start: Instant,
        stop: Stop,
        live: Arc<Mutex<Live>>,
        /// With stages or a search: the plan, and whether it is a search.
        plan: Option<(PlanView, bool)>,
    },
}

/// A handle on the display task.
pub struct Progress {
    tx: watch::Sender<Phase>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Seconds between plain progress lines.
const LINE_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn start(mode: ProgressMode) -> Progress {
        let (tx, rx) = watch::channel(Phase::Idle);
        let terminal = std::io::stderr().is_terminal();
        let mode = match mode {
            ProgressMode::Auto if terminal => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            ProgressMode::Bar if !terminal => {
                // indicatif draws nothing off a terminal: say so, and show
                // the lines instead of nothing.
                eprintln!("progress: stderr is not a terminal, so --progress bar shows lines");
                ProgressMode::Lines
            }
            m => m,
        };
        let task = match mode {
            ProgressMode::Off | ProgressMode::Auto => None,
            ProgressMode::Bar => Some(tokio::spawn(bar(rx))),
            ProgressMode::Lines => Some(tokio::spawn(lines(rx))),
        };
        Progress { tx, task }
    }

    pub fn set(&self, phase: Phase) {
        self.tx.send_replace(phase);
    }

    /// Stops the display and clears the bar.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx.send_replace(Phase::Idle);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One line describing the phase, and the fraction done.
fn describe(phase: &Phase, now: Instant) -> Option<(String, f64)> {
    match phase {
        Phase::Idle => None,
        Phase::Load {
            done,
            total,
            spaces,
        } => {
            let d = done.load(Ordering::Relaxed);
            let what = match spaces {
                0 | 1 => format!("load {d}/{total} records"),
                n => format!(
                    "load {d}/{total} writes ({} records into {n} key spaces)",
                    total / n
                ),
            };
            Some((what, d as f64 / (*total).max(1) as f64))
        }
        Phase::Run {
            start,
            measure_start,
            stop,
            live,
            plan,
        } => {
            let live = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some((plan, search)) = plan {
                let stage = stage_line(plan, *search, now);
                return Some((format!("{stage}  {}", counts(&live)), 0.0));
            }
            if now < *measure_start {
                let total = measure_start.duration_since(*start).as_secs_f64();
                let el = now.duration_since(*start).as_secs_f64();
                return Some((format!("warmup {el:.1}s/{total:.1}s"), el / total.max(1e-9)));
            }
            let el = now.duration_since(*measure_start).as_secs_f64();
            let (head, frac) = match stop {
                Stop::Duration(d) => {
                    let t = d.as_secs_f64();
                    (format!("run {el:.1}s/{t:.1}s"), el / t)
                }
                Stop::Operations(n) => (
                    format!("run {}/{n} ops", live.measured_ops),
                    live.measured_ops as f64 / (*n).max(1) as f64,
                ),
            };
            Some((format!("{head}{}", counts(&live)), frac))
        }
    }
}

/// The last second's throughput and p99, and the errors and retries.
fn counts(live: &Live) -> String {
    let rate = match live.last_second {
        Some((_, ops, p99)) => format!("  {ops} ops/s  p99 {}", micros(p99)),
        None => String::new(),
    };
    format!("{rate}  errors {}  retries {}", live.errors, live.retries)
}

/// The stage in progress: "stage 3/7 · 2000 ops/s", "step 4 · 1600
/// ops/s" (the offered level, as the plan has it at `now`).
fn stage_line(plan: &PlanView, search: bool, now: Instant) -> String {
    let stages = plan.latest();
    let Some((k, s)) = stages.at(now) else {
        return "starting".into();
    };
    let level = s.level_at(now.saturating_duration_since(s.start));
    let level = match s.kind {
        LevelKind::Rate => format!("{level:.0} ops/s"),
        LevelKind::Concurrency => format!("{level:.0} workers"),
    };
    match search {
        true => format!("step {} · {level}", k + 1),
        false => format!("stage {}/{} · {level}", k + 1, stages.list.len()),
    }
}

/// Clears the bar when the display task ends or is aborted.
struct ClearOnDrop(ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

async fn bar(rx: watch::Receiver<Phase>) {
    let guard = ClearOnDrop(ProgressBar::new(1000));
    let pb = &guard.0;
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let phase = rx.borrow().clone();
        match describe(&phase, Instant::now()) {
            Some((msg, frac)) => {
                pb.set_position((frac.clamp(0.0, 1.0) * 1000.0) as u64);
                pb.set_message(msg);
            }
            None => pb.set_message(""),
        }
    }
}

async fn lines(rx: watch::Receiver<Phase>) {
    let mut tick = tokio::time::interval(LINE_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let phase = rx.borrow().clone();
        if let Some((msg, _)) = describe(&phase, Instant::now()) {
            eprintln!("tikv-bench: {msg}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(done: u64, total: u64, spaces: u64) -> String {
        let phase = Phase::Load {
            done: Arc::new(AtomicU64::new(done)),
            total,
            spaces,
        };
        describe(&phase, Instant::now()).unwrap().0
    }

    #[test]
    fn the_load_line_counts_writes_per_key_space() {
        assert_eq!(load(500, 1000, 1), "load 500/1000 records");
        assert_eq!(
            load(1500, 2000, 2),
            "load 1500/2000 writes (1000 records into 2 key spaces)"
        );
        assert_eq!(load(0, 0, 0), "load 0/0 records");
    }

    #[test]
    fn the_stage_line_names_the_stage_and_its_level() {
        use crate::workload::{Level, Stage, Workload};
        let mut w = Workload::parse(
            "name: t\nload: {records: 0}\nops:\n  - {type: get, weight: 1}\n",
            "t.yaml",
        )
        .unwrap();
        let stage = |level, ramp| Stage {
            level,
            ramp,
            duration: Duration::from_secs(10),
            warmup: Duration::ZERO,
        };
        w.stages = vec![
            stage(Level::Rate(1000.0), false),
            stage(Level::Rate(2000.0), true),
        ];
        let start = Instant::now();
        let plan = super::super::plan::Plan::new(&w, start);
        let at = |s| start + Duration::from_secs(s);
        assert_eq!(
            stage_line(&plan.view(), false, at(3)),
            "stage 1/2 · 1000 ops/s"
        );
        assert_eq!(
            stage_line(&plan.view(), false, at(15)),
            "stage 2/2 · 1500 ops/s"
        );
        assert_eq!(
            stage_line(&plan.view(), true, at(15)),
            "step 2 · 1500 ops/s"
        );
    }
}

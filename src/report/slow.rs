//! The report's "Slowest operations" section: per op, a table of the
//! slowest ops the result kept, each with its latency, outcome and when it
//! ran, then its trace as lines (one step each: when it began after the op
//! started, how long it took, what it was).

use std::fmt::Write as _;

use super::page::{self, Table, TableCell, esc, num};
use crate::metrics::{RunResult, SlowOp};
use crate::vocab::fmt::micros;

/// The section, or `None` when the result kept no slow ops (results
/// written before they were kept, or a run that measured nothing).
pub(super) fn section(r: &RunResult) -> Option<String> {
    let slow = r.slow_ops.as_ref()?;
    let mut html = page::para(
        "note",
        "The slowest operations of the measured phase, per op, each with its trace: when each step began after the op started, how long it took, and what it was (a timestamp from PD, a store RPC with its store, region and answer, a backoff, a lock met and what resolving it found, a lock wait, a heartbeat, a retry of the driver). The README's \"Reading slow-op traces\" explains them.",
    );
    for name in r.op_names() {
        let Some(ops) = slow.get(&name).filter(|ops| !ops.is_empty()) else {
            continue;
        };
        let _ = write!(html, "<h3>{}</h3>", esc(&name));
        let mut t = Table::new("slow", &["latency", "outcome", "started", "trace"]);
        for op in ops {
            t.row([
                num(micros(op.latency_us)),
                TableCell::Text(outcome(op)),
                TableCell::Text(started(r, op)),
                TableCell::Html(trace(op)),
            ]);
        }
        html.push_str(&t.finish());
    }
    Some(html)
}

fn outcome(op: &SlowOp) -> String {
    match &op.error {
        Some(e) => format!("{} ({e})", op.outcome),
        None => op.outcome.clone(),
    }
}

/// When the op started, in seconds after the measured phase began, and how
/// late after its intended start.
fn started(r: &RunResult, op: &SlowOp) -> String {
    let t = (op.start_unix_us - r.measured_from_unix_us) as f64 / 1e6;
    let mut s = format!("at {t:.3}s");
    if op.queued_us > 0 {
        let _ = write!(s, ", {} late", micros(op.queued_us));
    }
    s
}

fn trace(op: &SlowOp) -> String {
    if op.trace.is_empty() {
        return page::para(
            "note",
            "No steps recorded: no RPC, lock or retry (a target in this process makes no RPCs).",
        );
    }
    let mut text: String = op.trace.iter().map(|l| format!("{l}\n")).collect();
    if op.steps_not_kept > 0 {
        let _ = writeln!(text, "... and {} more steps not kept", op.steps_not_kept);
    }
    page::pre(text.trim_end())
}

//! The summary table printed after a run.

use std::fmt::Write as _;

use super::stages;
use crate::metrics::{BaselineComparison, RunResult, SearchEnd};
use crate::vocab::fmt::micros;

/// A few lines: what ran, the totals, why the run was aborted, the
/// driver's self-check, its peak memory, a merge's drivers, one row per op, the errors; then
/// one row per load stage and the search's answer; the verdicts against a
/// baseline last.
pub fn summary(r: &RunResult) -> String {
    let mut out = String::new();
    totals(&mut out, r);
    aborted(&mut out, r);
    driver_check(&mut out, r);
    memory(&mut out, r);
    super::drivers::summary(&mut out, r);
    transport(&mut out, r);
    op_table(&mut out, r);
    super::places::summary(&mut out, r);
    for name in r.op_names() {
        op_notes(&mut out, &name, r);
    }
    super::faults::summary(&mut out, r);
    stage_table(&mut out, r);
    search(&mut out, r);
    if let Some(cmp) = &r.baseline {
        out.push_str(&baseline(cmp));
    }
    out
}

/// The block of verdicts against a baseline: what was compared, whether
/// the workload's thresholds or the defaults judged it, and one line per
/// metric.
pub fn baseline(cmp: &BaselineComparison) -> String {
    let mut out = String::new();
    let defaults = cmp.verdicts.iter().all(|v| !v.from_workload);
    let _ = writeln!(
        out,
        "against baseline {} ({} run(s) vs {} baseline run(s), {:.0}% intervals){}:",
        cmp.files.join(", "),
        cmp.runs.len(),
        cmp.baseline_runs.len(),
        cmp.confidence * 100.0,
        if defaults && !cmp.verdicts.is_empty() {
            "; the workload has no thresholds relative to a baseline, so the defaults judge it"
        } else {
            ""
        }
    );
    for v in &cmp.verdicts {
        let _ = writeln!(out, "  {v}");
    }
    out
}

/// The threshold with `abort_on_fail` that stopped the run, and when.
fn aborted(out: &mut String, r: &RunResult) {
    if let Some(a) = &r.aborted {
        let _ = writeln!(
            out,
            "\n!!! ABORTED {:.1}s into the measured phase: threshold '{}' missed (measured {}); the figures cover the run until then\n",
            a.at_s, a.threshold, a.measured
        );
    }
}

/// One row per load stage (or search step): its level, measured span,
/// offered and achieved ops/s, latency of all its ops, errors, the
/// driver's self-check over it and a step's verdict.
fn stage_table(out: &mut String, r: &RunResult) {
    let Some(list) = &r.stages else {
        return;
    };
    let steps = list.iter().any(|s| s.verdict.is_some());
    let mut header = vec![
        "stage",
        "level",
        "measured",
        "offered/s",
        "achieved/s",
        "p50",
        "p99",
        "max",
        "errors",
        "driver",
    ];
    if steps {
        header.push("verdict");
    }
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for (i, s) in list.iter().enumerate() {
        let [p50, p99, max] = match stages::latency(s) {
            Ok(l) => stages::latency_cells(&l),
            Err(_) => ["?".into(), "?".into(), "?".into()],
        };
        let mut row = vec![
            (i + 1).to_string(),
            stages::level(&s.level),
            format!("{:.2}s", s.duration_s),
            stages::offered(s).map_or("–".into(), |x| format!("{x:.1}")),
            format!("{:.1}", s.achieved_per_s),
            p50,
            p99,
            max,
            (s.measured.failed + s.measured.unknown).to_string(),
            s.driver_check
                .as_ref()
                .map_or("–".into(), |c| c.verdict.to_string()),
        ];
        if steps {
            row.push(stages::verdict(s).to_string());
        }
        rows.push(row);
    }
    let what = if steps { "search steps" } else { "stages" };
    let _ = writeln!(
        out,
        "{what} (latency of all ops of each, from intended start in open loop):"
    );
    aligned(out, &rows, 2);
}

/// Rows in columns: the first `left` columns left-aligned, the rest right.
pub(super) fn aligned(out: &mut String, rows: &[Vec<String>], left: usize) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c < left {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
            }
        }
        let _ = writeln!(out, "  {}", line.trim_end());
    }
}

/// The search's answer in one sentence; a driver-limited answer also as a
/// warning that cannot be missed.
fn search(out: &mut String, r: &RunResult) {
    let Some(s) = &r.search else {
        return;
    };
    let _ = writeln!(out, "search: {}", stages::answer(s));
    if s.ended == SearchEnd::DriverLimited {
        let _ = writeln!(
            out,
            "\n!!! WARNING: the driver, not the target, limited the search: {} ops/s is a floor of the capacity; raise concurrency or add drivers\n",
            s.best_rate.map_or("no rate".into(), stages::rate)
        );
    }
}

/// What ran, and the measured totals.
fn totals(out: &mut String, r: &RunResult) {
    let mode = stages::mode(r);
    let _ = writeln!(
        out,
        "{} on {} ({}), seed {}, {}, {} workers",
        r.name, r.target.kind, r.target.description, r.seed, mode, r.concurrency
    );
    let m = &r.measured;
    let _ = writeln!(
        out,
        "measured {:.2}s: {} ops ({:.1} ops/s), {} ok, {} failed, {} unknown, {} retries: {} by the driver, {} in the client (warmup {:.1}s, {} ops excluded)",
        m.duration_s,
        m.ops,
        m.ops_per_s,
        m.ok,
        m.failed,
        m.unknown,
        m.retries + m.client_retries,
        m.retries,
        m.client_retries,
        r.warmup.duration_s,
        r.warmup.ops
    );
}

/// The driver's self-check: how late it started its sends, its CPU, and
/// when it fell behind or ran out of CPU, a warning that cannot be missed.
fn driver_check(out: &mut String, r: &RunResult) {
    let Some(c) = &r.driver_check else {
        return;
    };
    let mut parts = Vec::new();
    if let Some(l) = &c.lateness_us {
        parts.push(format!(
            "sends started late by p50 {} p99 {} max {}, {} more than {} late",
            micros(l.p50),
            micros(l.p99),
            micros(l.max),
            c.late_ops.unwrap_or(0),
            micros(c.late_bound_us)
        ));
    }
    if let Some(cpu) = &c.cpu {
        parts.push(format!(
            "CPU {:.2} of {} cores ({:.0}%)",
            cpu.busy * f64::from(cpu.cores),
            cpu.cores,
            100.0 * cpu.busy
        ));
    }
    let _ = writeln!(out, "driver: {} ({})", c.verdict, parts.join("; "));
    if let Some(w) = stages::driver_warning(r) {
        let _ = writeln!(out, "\n!!! WARNING: {w}\n");
    }
    if let Some(n) = stages::search_note(r) {
        let _ = writeln!(out, "  ({n})");
    }
    if let Some(n) = c.note() {
        let _ = writeln!(out, "  ({n})");
    }
}

/// The process's peak memory, and whether the target's is in it.
fn memory(out: &mut String, r: &RunResult) {
    let Some(m) = &r.memory else {
        return;
    };
    let whose = if m.includes_target {
        "driver and target: one process"
    } else {
        "driver only"
    };
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let _ = match &m.driver_peaks_rss_bytes {
        Some(peaks) => writeln!(
            out,
            "memory: peak RSS {:.1} MiB ({whose}), per driver {}",
            mib(m.peak_rss_bytes),
            peaks
                .iter()
                .map(|p| format!("{:.1}", mib(*p)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => writeln!(
            out,
            "memory: peak RSS {:.1} MiB ({whose})",
            mib(m.peak_rss_bytes)
        ),
    };
}

/// What the BatchCommands transport did: ops (every phase) against the
/// store requests they sent and the messages that carried those.
fn transport(out: &mut String, r: &RunResult) {
    let Some(t) = &r.transport else {
        return;
    };
    let ops = r.warmup.ops + r.measured.ops;
    let sizes: Vec<String> = t
        .batch_sizes
        .iter()
        .map(|b| format!("<={}: {}", b.max, b.messages))
        .collect();
    let _ = writeln!(
        out,
        "transport: {} (whole run, load included): {} store requests in {} messages \
         ({:.1} per message; warmup and measured ops: {ops}); messages by requests: {}; \
         {} streams opened, {} reconnects, {} requests failed by a broken stream, {} late answers",
        t.kind,
        t.requests,
        t.messages,
        t.mean_batch(),
        if sizes.is_empty() {
            "-".to_string()
        } else {
            sizes.join(", ")
        },
        t.streams_opened,
        t.reconnects,
        t.broken_requests,
        t.late_answers,
    );
}

/// One row per op, columns aligned.
fn op_table(out: &mut String, r: &RunResult) {
    let latency_from = if r.rate.is_some() {
        "from intended start"
    } else {
        "per op"
    };
    let _ = writeln!(out, "latency {latency_from}:");
    let header = [
        "op", "type", "ok", "ok/s", "p50", "p90", "p99", "p99.9", "max", "failed", "unknown",
        "retries", "client",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for name in r.op_names() {
        let o = &r.ops[&name];
        let l = &o.latency_us;
        rows.push(vec![
            name.clone(),
            o.op_type.clone(),
            o.ok.to_string(),
            format!("{:.1}", o.ok_per_s),
            micros(l.p50),
            micros(l.p90),
            micros(l.p99),
            micros(l.p999),
            micros(l.max),
            o.failed.to_string(),
            o.unknown.to_string(),
            o.retries.to_string(),
            o.client_retries.to_string(),
        ]);
    }
    aligned(out, &rows, 2);
}

/// An op's service time and lateness, errors with a sample message each, retries, and
/// notable outcomes and events, each on a line when it has any.
fn op_notes(out: &mut String, name: &str, r: &RunResult) {
    let o = &r.ops[name];
    if let Some(s) = &o.service_us {
        let _ = writeln!(
            out,
            "  {name}: service time p50 {} p99 {} max {}",
            micros(s.p50),
            micros(s.p99),
            micros(s.max)
        );
    }
    if let Some(l) = &o.lateness_us {
        let _ = writeln!(
            out,
            "  {name}: started late by p50 {} p99 {} max {}",
            micros(l.p50),
            micros(l.p99),
            micros(l.max)
        );
    }
    if !o.errors.is_empty() {
        let errs: Vec<String> = o.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "  {name}: errors: {}", errs.join(", "));
        for (k, msg) in &o.error_samples {
            let _ = writeln!(out, "    e.g. {k}: {msg}");
        }
    }
    if !o.retries_by_kind.is_empty() {
        let rs: Vec<String> = o
            .retries_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  {name}: retries: {} (backoff {})",
            rs.join(", "),
            micros(o.backoff_us)
        );
    }
    let notes: Vec<String> = o
        .outcomes
        .iter()
        .chain(o.events.iter())
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "  {name}: {}", notes.join(", "));
    }
}

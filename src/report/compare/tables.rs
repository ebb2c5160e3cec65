//! The comparison's tables: per result, optimistic beside pessimistic, B
//! vs A with the noise note, and the definitions.

use std::fmt::Write as _;

use super::Get;
use super::layout::Layout;
use crate::report::figures::{self, Figures, NoiseVerdict};
use crate::report::page::{self, Table, num, text};

fn percent(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{:.2}%", x * 100.0))
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.3}"))
}

/// A derived time (a mean per commit): exact zero reads 0.
fn micros_f(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(0.0) => "0".into(),
        Some(x) => crate::vocab::fmt::micros_tick(x),
    }
}

pub(super) fn results_table(figs: &[Figures], goodput: &str) -> String {
    let mut t = Table::new(
        "results",
        &[
            "result",
            "lock",
            "commit",
            goodput,
            "per second: mean ± sd (n)",
            "abort rate",
            "retries/commit",
            "lock waits/commit",
            "lock wait/commit",
            "p50",
            "p99",
        ],
    );
    for f in figs {
        let n = &f.noise;
        let spread = f.spread.as_ref();
        let within = |median: String, r: Option<(String, String)>| match r {
            Some((lo, hi)) => format!("{median} [{lo} – {hi}]"),
            None => median,
        };
        let rate = |r: &figures::Range| (page::rate(r.min), page::rate(r.max));
        let us = |r: &figures::Range| {
            (
                page::micros(r.min.round() as u64),
                page::micros(r.max.round() as u64),
            )
        };
        let pct = |r: &figures::Range| (percent(Some(r.min)), percent(Some(r.max)));
        let noise_unit = if spread.is_some() { " runs" } else { "s" };
        t.row([
            text(&f.label),
            text(f.lock.clone().unwrap_or_else(|| "–".into())),
            text(f.commit.clone().unwrap_or_else(|| "–".into())),
            num(within(
                page::rate(f.goodput),
                spread.map(|s| rate(&s.goodput)),
            )),
            num(format!(
                "{} ± {} ({}{noise_unit})",
                page::rate(n.mean),
                page::rate(n.sd),
                n.seconds
            )),
            num(within(
                percent(f.abort_rate),
                spread.and_then(|s| s.abort_rate.as_ref()).map(pct),
            )),
            num(ratio(f.retries_per_commit)),
            num(ratio(f.lock_waits_per_commit)),
            num(micros_f(f.lock_wait_us_per_commit)),
            num(page::micros(f.p50_us)),
            num(within(
                page::micros(f.p99_us),
                spread.map(|s| us(&s.p99_us)),
            )),
        ]);
    }
    let mut html = t.finish();
    html.push_str("<ol class=\"files\">");
    for f in figs {
        let _ = write!(
            html,
            "<li><strong>{}</strong>: workload {}, <code>{}</code></li>",
            page::esc(&f.label),
            page::esc(&f.name),
            page::esc(&f.path.display().to_string())
        );
    }
    html.push_str("</ol>");
    html
}

/// Optimistic beside pessimistic wherever both ran with the same other
/// values (the same commit mode among them): the headline numbers.
pub(super) fn pairs_table(figs: &[Figures], layout: &Layout) -> String {
    let key = |f: &Figures| {
        let commit = layout
            .commits
            .then(|| format!("commit={}", f.commit.as_deref().unwrap_or("–")));
        commit
            .into_iter()
            .chain(
                f.sweep
                    .iter()
                    .filter(|(k, _)| k != "lock" && k != "commit")
                    .map(|(k, v)| format!("{k}={v}")),
            )
            .collect::<Vec<_>>()
            .join(", ")
    };
    let of = |lock: &str| -> Vec<&Figures> {
        figs.iter()
            .filter(|f| f.lock.as_deref() == Some(lock))
            .collect()
    };
    let (opt, pes) = (of("optimistic"), of("pessimistic"));
    let mut pairs: Vec<(String, &Figures, &Figures)> = Vec::new();
    for o in &opt {
        let k = key(o);
        let same = |fs: &[&Figures]| fs.iter().filter(|f| key(f) == k).count();
        let Some(p) = pes.iter().find(|p| key(p) == k) else {
            continue;
        };
        if layout.param.is_some() {
            pairs.push((k, o, p));
        } else if same(&opt) == 1 && same(&pes) == 1 {
            // Side by side: a pair only where it is the one pair.
            pairs.push((format!("{} vs {}", o.label, p.label), o, p));
        }
    }
    if pairs.is_empty() {
        return String::new();
    }
    let mut t = Table::new(
        "data",
        &[
            "cell",
            "goodput opt",
            "goodput pess",
            "pess / opt",
            "aborts opt",
            "aborts pess",
            "p99 opt",
            "p99 pess",
        ],
    );
    for (k, o, p) in pairs {
        let r = if o.goodput > 0.0 {
            format!("{:.2}×", p.goodput / o.goodput)
        } else {
            "–".into()
        };
        t.row([
            text(k),
            num(page::rate(o.goodput)),
            num(page::rate(p.goodput)),
            num(r),
            num(percent(o.abort_rate)),
            num(percent(p.abort_rate)),
            num(page::micros(o.p99_us)),
            num(page::micros(p.p99_us)),
        ]);
    }
    t.finish()
}

/// How a delta row prints.
#[derive(Clone, Copy)]
enum Kind {
    Rate,
    Percent,
    Ratio,
    Micros,
}

fn fmt(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Rate => page::rate(x),
        Kind::Percent => format!("{:.2}%", x * 100.0),
        Kind::Ratio => format!("{x:.3}"),
        Kind::Micros => micros_f(Some(x.abs())),
    }
}

fn fmt_delta(kind: Kind, d: f64) -> String {
    if d == 0.0 {
        return if matches!(kind, Kind::Percent) {
            "0 pp".into()
        } else {
            "0".into()
        };
    }
    let sign = if d > 0.0 { "+" } else { "−" };
    match kind {
        Kind::Percent => format!("{sign}{:.2} pp", (d * 100.0).abs()),
        _ => format!("{sign}{}", fmt(kind, d.abs())),
    }
}

/// B against A, metric by metric. With `judged` (the results were judged
/// against a baseline) the goodput's noise note and the noise rule give
/// way to a pointer to that judgement, which is the one that counts.
pub(super) fn delta_table(a: &Figures, b: &Figures, goodput: &str, judged: bool) -> String {
    let mut html = page::para("note", &format!("A = {}, B = {}.", a.label, b.label));
    let rows: [(&str, Kind, Get); 6] = [
        (goodput, Kind::Rate, |f| Some(f.goodput)),
        ("abort rate", Kind::Percent, |f| f.abort_rate),
        ("retries/commit", Kind::Ratio, |f| f.retries_per_commit),
        ("lock wait/commit", Kind::Micros, |f| {
            f.lock_wait_us_per_commit
        }),
        ("p50", Kind::Micros, |f| Some(f.p50_us as f64)),
        ("p99", Kind::Micros, |f| Some(f.p99_us as f64)),
    ];
    let mut t = Table::new("data", &["metric", "A", "B", "B − A", "relative", "note"]);
    for (i, (name, kind, get)) in rows.into_iter().enumerate() {
        let (Some(x), Some(y)) = (get(a), get(b)) else {
            continue;
        };
        let d = y - x;
        let rel = if x != 0.0 {
            format!("{:+.1}%", d / x * 100.0)
        } else {
            "–".into()
        };
        let note = if i == 0 && judged {
            "see Against the baseline".to_string()
        } else if i == 0 {
            noise_note(a, b, d)
        } else {
            String::new()
        };
        t.row([
            text(name),
            num(fmt(kind, x)),
            num(fmt(kind, y)),
            num(fmt_delta(kind, d)),
            num(rel),
            text(note),
        ]);
    }
    html.push_str(&t.finish());
    if judged {
        let _ = write!(
            html,
            "<p class=\"note\">Whether these differences are noise is judged, per metric and with intervals, in <a href=\"#{}\">{}</a>.</p>",
            super::baseline::ID,
            super::baseline::HEADING
        );
    } else {
        html.push_str(&page::para("note", NOISE_RULE));
    }
    html
}

const NOISE_RULE: &str = "Noise rule: a goodput difference is within the run-to-run noise when it is smaller than two standard errors of the difference of the per-second means, 2·√(s_A²/n_A + s_B²/n_B), where s is the standard deviation of the per-second goodput over the n whole seconds of each result's timeline (partial seconds, shorter than 1 s, are left out).";

fn noise_note(a: &Figures, b: &Figures, d: f64) -> String {
    match figures::judge(&a.noise, &b.noise, d) {
        NoiseVerdict::WithinNoise { threshold } => format!(
            "within noise: |B − A| {} < 2 SE {}",
            page::rate(d.abs()),
            page::rate(threshold)
        ),
        NoiseVerdict::Beyond { threshold } => format!(
            "beyond noise: |B − A| {} ≥ 2 SE {}",
            page::rate(d.abs()),
            page::rate(threshold)
        ),
        NoiseVerdict::Unknown => {
            "noise unknown: a timeline has fewer than two whole seconds".into()
        }
    }
}

pub(super) fn definitions(txn: bool) -> String {
    let mut t = Table::new("kv", &[]);
    let rows = [
        (
            if txn { "goodput" } else { "throughput" },
            if txn {
                "committed transactions per second: the sum of ok_per_s of the txn ops (results without txn ops: ok/s of all ops)"
            } else {
                "successful ops per second, all ops"
            },
        ),
        ("abort rate", "failed + unknown txn ops / all txn ops"),
        (
            "retries/commit",
            "retries of txn ops (the driver's whole-transaction retries and the requests the client sent again) / committed txns",
        ),
        (
            "lock waits/commit",
            "events lock_waits of txn ops / committed txns",
        ),
        (
            "lock wait/commit",
            "events lock_wait_us of txn ops / committed txns",
        ),
        (
            "p50, p99",
            "of the txn ops' latency histograms added together (never averaged)",
        ),
        ("noise", NOISE_RULE),
    ];
    for (k, v) in rows {
        t.pair(k, text(v));
    }
    t.finish()
}

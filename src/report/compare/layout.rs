//! Where each result goes on the comparison's charts: against the swept
//! parameter (one series per lock mode, or per (lock, commit) pair when the
//! results differ in commit mode, and remaining swept values), or side by
//! side by label.

use std::collections::BTreeSet;

use crate::metrics::SweptValue;
use crate::report::figures::Figures;
use crate::report::plot::{Axis, Legend, Look, Mark, PALETTE, Panel, Scale, Series, Unit};

/// Where each result goes on the charts.
pub(super) struct Layout {
    /// The swept parameter on the x axis; none: side by side by label.
    pub param: Option<String>,
    pub scale: Scale,
    /// Per result: x position, series index.
    pub pos: Vec<(f64, usize)>,
    pub series: Vec<String>,
    /// Whether the results differ in commit mode: then each series is a
    /// (lock, commit) pair, `pessimistic / async`.
    pub commits: bool,
}

/// The parameters that name series rather than x positions.
const MODES: [&str; 2] = ["lock", "commit"];

impl Layout {
    pub fn of(figs: &[Figures]) -> Layout {
        let param = swept_param(figs);
        let mut modes = figs.iter().filter_map(|f| f.commit.as_deref());
        let first = modes.next();
        let commits = modes.any(|m| Some(m) != first);
        let names: Vec<String> = figs
            .iter()
            .map(|f| series_name(f, &param, commits))
            .collect();
        let series: Vec<String> = names
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index = |n: &String| series.iter().position(|s| s == n).unwrap_or(0);
        let (scale, xs) = match &param {
            None => (
                Scale::Categories(figs.iter().map(|f| f.label.clone()).collect()),
                (0..figs.len()).map(|i| i as f64).collect::<Vec<_>>(),
            ),
            Some(p) => {
                let values: Vec<&SweptValue> = figs
                    .iter()
                    .map(|f| {
                        &f.sweep
                            .iter()
                            .find(|(k, _)| k == p)
                            .expect("checked by swept_param")
                            .1
                    })
                    .collect();
                let numbers: Option<Vec<f64>> = values.iter().map(|v| v.as_f64()).collect();
                match numbers {
                    Some(xs) => (numeric_scale(&xs), xs),
                    None => categories(&values),
                }
            }
        };
        Layout {
            pos: xs.into_iter().zip(names.iter().map(index)).collect(),
            param,
            scale,
            series,
            commits,
        }
    }

    /// Whiskers on `panel` (built by [`Layout::panel`] from the same
    /// `figs`): per result, the lowest and highest of its repeats as
    /// `range` reads them (none for a result without repeats).
    pub fn ranges(
        &self,
        mut panel: Panel,
        figs: &[Figures],
        range: impl Fn(&Figures) -> Option<(f64, f64)>,
    ) -> Panel {
        for (f, (x, s)) in figs.iter().zip(&self.pos) {
            if let Some((lo, hi)) = range(f) {
                panel.series[*s].ranges.push((*x, lo, hi));
            }
        }
        panel
    }

    pub fn caption(&self) -> String {
        let modes = self.modes();
        match &self.param {
            Some(p) => format!("Against the swept parameter {p}, one line per {modes}."),
            None => format!("Each result, coloured by {modes}."),
        }
    }

    /// What a series stands for: `lock mode`, or `lock / commit mode pair`
    /// when the results differ in commit mode.
    pub fn modes(&self) -> &'static str {
        if self.commits {
            "lock / commit mode pair"
        } else {
            "lock mode"
        }
    }

    pub fn panel(
        &self,
        figs: &[Figures],
        title: &str,
        axis: &str,
        unit: Unit,
        get: impl Fn(&Figures) -> Option<f64>,
    ) -> Panel {
        let mut series: Vec<Series> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                color: PALETTE[i % PALETTE.len()],
                points: Vec::new(),
                ranges: Vec::new(),
                look: Look::Plain,
            })
            .collect();
        for (f, (x, s)) in figs.iter().zip(&self.pos) {
            if let Some(v) = get(f) {
                series[*s].points.push((*x, v));
            }
        }
        for s in &mut series {
            s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        // Say which way contention grows on the parameters that set it.
        let x_name = match self.param.as_deref() {
            Some(p @ ("hot_set" | "records")) => format!("{p} (smaller: more contention)"),
            Some(p @ ("theta" | "hot_ops" | "concurrency")) => {
                format!("{p} (larger: more contention)")
            }
            Some(p) => p.to_string(),
            None => String::new(),
        };
        Panel {
            title: title.into(),
            x: Axis::new(x_name, self.scale.clone(), Unit::Number),
            y: Axis::new(axis, Scale::Linear, unit),
            mark: if self.param.is_some() {
                Mark::LinesPoints
            } else {
                Mark::Bars
            },
            legend: Legend::Right,
            series,
        }
    }
}

/// The swept parameter on the x axis: the first of the first result's
/// that every result has, `lock` and `commit` aside (modes are series).
fn swept_param(figs: &[Figures]) -> Option<String> {
    figs[0]
        .sweep
        .iter()
        .map(|(k, _)| k)
        .find(|k| {
            !MODES.contains(&k.as_str())
                && figs.iter().all(|f| f.sweep.iter().any(|(j, _)| j == *k))
        })
        .cloned()
}

/// A result's modes as its series shows them: the lock mode, or with
/// `commits` the pair, `pessimistic / async` (`–` for a mode it lacks).
pub(super) fn mode_name(f: &Figures, commits: bool) -> Option<String> {
    match (&f.lock, &f.commit) {
        (None, None) => None,
        (lock, commit) if commits => Some(format!(
            "{} / {}",
            lock.as_deref().unwrap_or("–"),
            commit.as_deref().unwrap_or("–")
        )),
        (lock, _) => lock.clone(),
    }
}

/// The series a result belongs to: its modes and its swept values other
/// than `param`.
fn series_name(f: &Figures, param: &Option<String>, commits: bool) -> String {
    let mut parts: Vec<String> = mode_name(f, commits).into_iter().collect();
    for (k, v) in &f.sweep {
        if Some(k) != param.as_ref() && !MODES.contains(&k.as_str()) {
            parts.push(format!("{k}={v}"));
        }
    }
    if parts.is_empty() {
        if f.txn {
            "all".into()
        } else {
            "no transactions".into()
        }
    } else {
        parts.join(", ")
    }
}

/// Ticks at the values themselves when they are few, on a log axis when
/// they span a factor of 20 or more.
fn numeric_scale(xs: &[f64]) -> Scale {
    let min = xs.iter().copied().fold(f64::MAX, f64::min);
    let max = xs.iter().copied().fold(f64::MIN, f64::max);
    let log = min > 0.0 && max / min >= 20.0;
    let mut at = xs.to_vec();
    at.sort_by(f64::total_cmp);
    at.dedup();
    if at.len() <= 12 {
        Scale::Values { log, at }
    } else if log {
        Scale::Log
    } else {
        Scale::Linear
    }
}

/// Values that are not all numbers as categories, in order of appearance,
/// with each value's slot.
fn categories(values: &[&SweptValue]) -> (Scale, Vec<f64>) {
    let mut cats: Vec<String> = Vec::new();
    for v in values {
        let t = v.to_string();
        if !cats.contains(&t) {
            cats.push(t);
        }
    }
    let xs = values
        .iter()
        .map(|v| cats.iter().position(|c| *c == v.to_string()).unwrap_or(0) as f64)
        .collect();
    (Scale::Categories(cats), xs)
}

//! Axis layout: the plot range, the ticks and their labels, for linear
//! axes with round steps, decades, fixed ticks, a sweep's values and
//! categories; and the short number formats of tick labels.

use crate::vocab::fmt::{micros_tick, trim};
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use super::{Axis, Scale, Unit};

/// A linear plot coordinate with our own ticks (plotters' `f64` range
/// picks its own, and its key-point wrapper cannot take a label formatter).
#[derive(Debug, Clone)]
pub(super) struct Coord {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Coord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// An axis laid out: the plot range, ticks with labels, and the transform.
pub(super) struct Laid {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<(f64, String)>,
    pub log: bool,
    /// Log axes: the value drawn for zero and below.
    pub floor: f64,
    pub categorical: bool,
}

impl Laid {
    pub fn to_plot(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.floor).log10()
        } else {
            v
        }
    }

    pub fn coord(&self) -> Coord {
        Coord {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.iter().map(|t| t.0).collect(),
        }
    }

    pub fn label(&self, v: f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.0 - v).abs() <= 1e-9 * (1.0 + v.abs()))
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }

    /// Where bars start: zero, or the floor of a log axis.
    pub fn base(&self) -> f64 {
        if self.log {
            self.lo
        } else {
            0.0_f64.max(self.lo)
        }
    }
}

/// Lays out an axis over the values it must show; `headroom` leaves room
/// above the top value (y axes) so a point never sits on the frame.
pub(super) fn lay_out(axis: &Axis, values: impl Iterator<Item = f64>, headroom: bool) -> Laid {
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    match &axis.scale {
        Scale::Fixed(ticks) => Laid {
            lo: ticks.first().map_or(0.0, |t| t.0),
            hi: ticks.last().map_or(1.0, |t| t.0),
            ticks: ticks.clone(),
            log: false,
            floor: 0.0,
            categorical: false,
        },
        Scale::Categories(names) => Laid {
            lo: -0.5,
            hi: names.len().max(1) as f64 - 0.5,
            ticks: names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64, n.clone()))
                .collect(),
            log: false,
            floor: 0.0,
            categorical: true,
        },
        Scale::Log => log_axis(&values, axis.unit),
        Scale::Values { log, at } => values_axis(*log, at, axis.unit),
        Scale::Linear => linear_axis(&values, axis.unit, headroom),
        Scale::Auto => {
            let pos = values.iter().copied().filter(|v| *v > 0.0);
            let (min, max) = pos.fold((f64::MAX, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
            if max > 0.0 && max / min > 300.0 {
                log_axis(&values, axis.unit)
            } else {
                linear_axis(&values, axis.unit, headroom)
            }
        }
    }
}

fn linear_axis(values: &[f64], unit: Unit, headroom: bool) -> Laid {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let min = values.iter().copied().fold(0.0_f64, f64::min);
    let span = if max - min > 0.0 { max - min } else { 1.0 };
    let step = nice_step(span / 5.0);
    let lo = (min / step).floor() * step;
    let mut hi = (max / step).ceil() * step;
    if hi <= lo {
        hi = lo + step;
    }
    if headroom && max > 0.0 && hi - max < step * 0.15 {
        hi += step;
    }
    let n = ((hi - lo) / step).round() as i64;
    let ticks = (0..=n)
        .map(|i| {
            let v = lo + i as f64 * step;
            (v, fmt_value(v, unit))
        })
        .collect();
    Laid {
        lo,
        hi,
        ticks,
        log: false,
        floor: 0.0,
        categorical: false,
    }
}

fn log_axis(values: &[f64], unit: Unit) -> Laid {
    let pos = values.iter().copied().filter(|v| *v > 0.0);
    let (min, max) = pos.fold((f64::MAX, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
    let (min, max) = if max > 0.0 { (min, max) } else { (1.0, 10.0) };
    let lo_dec = min.log10().floor() as i32;
    let mut hi_dec = max.log10().ceil() as i32;
    if hi_dec <= lo_dec {
        hi_dec = lo_dec + 1;
    }
    let mults: &[f64] = if hi_dec - lo_dec <= 2 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut ticks = Vec::new();
    for d in lo_dec..=hi_dec {
        for m in mults {
            let v = m * 10f64.powi(d);
            if d == hi_dec && *m > 1.0 {
                break;
            }
            ticks.push((v.log10(), fmt_value(v, unit)));
        }
    }
    Laid {
        lo: lo_dec as f64,
        hi: hi_dec as f64,
        ticks,
        log: true,
        floor: 10f64.powi(lo_dec),
        categorical: false,
    }
}

fn values_axis(log: bool, at: &[f64], unit: Unit) -> Laid {
    let log = log && at.iter().all(|v| *v > 0.0);
    let t = |v: f64| if log { v.log10() } else { v };
    let (min, max) = at.iter().fold((f64::MAX, f64::MIN), |(a, b), v| {
        (a.min(t(*v)), b.max(t(*v)))
    });
    let (min, max) = if min <= max { (min, max) } else { (0.0, 1.0) };
    let pad = if max > min { (max - min) * 0.06 } else { 0.5 };
    Laid {
        lo: min - pad,
        hi: max + pad,
        ticks: at.iter().map(|v| (t(*v), fmt_value(*v, unit))).collect(),
        log,
        floor: f64::MIN_POSITIVE,
        categorical: false,
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 { raw } else { 1.0 };
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag)
}

/// A tick label: short, without trailing zeros.
pub fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Number => fmt_number(v),
        Unit::Percent => {
            // Enough decimals for small rates (0.0003%) without noise on large ones.
            let pct = v * 100.0;
            let decimals = if pct == 0.0 {
                0
            } else {
                (2 - pct.abs().log10().floor() as i32).clamp(0, 8) as usize
            };
            format!("{}%", trim(pct, decimals))
        }
        Unit::Micros => micros_tick(v),
    }
}

fn fmt_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9, 2))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 2))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3, 1))
    } else {
        trim(v, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        let l = linear_axis(&[0.0, 3.2, 97.0], Unit::Number, true);
        let ticks: Vec<f64> = l.ticks.iter().map(|t| t.0).collect();
        assert_eq!(ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(l.lo, 0.0);
        assert!(l.hi >= 97.0);
    }

    #[test]
    fn log_ticks_are_decades() {
        let l = log_axis(&[0.0, 3.0, 250_000.0], Unit::Micros);
        let labels: Vec<&str> = l.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            ["1µs", "10µs", "100µs", "1ms", "10ms", "100ms", "1s"]
        );
        assert_eq!(l.to_plot(0.0), 0.0, "zero sits on the floor");
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(fmt_value(12_500.0, Unit::Number), "12.5k");
        assert_eq!(fmt_value(0.25, Unit::Percent), "25%");
        assert_eq!(fmt_value(0.000003, Unit::Percent), "0.0003%");
        assert_eq!(fmt_value(0.0125, Unit::Percent), "1.25%");
        assert_eq!(fmt_value(0.0, Unit::Percent), "0%");
        assert_eq!(micros_tick(0.0), "0");
        assert_eq!(fmt_value(1500.0, Unit::Micros), "1.5ms");
        assert_eq!(fmt_value(0.1 + 0.2, Unit::Number), "0.3");
    }
}

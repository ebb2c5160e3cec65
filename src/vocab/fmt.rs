//! How durations read, the same on the terminal, in tables and on charts.

use std::time::Duration;

/// The unit of a microsecond wherever a figure is shown.
pub const MICRO: &str = "µs";

/// Whole microseconds as a short figure: `<1µs`, `850µs`, `1.24ms`,
/// `2.10s`. The histograms count whole microseconds, so 0 reads `<1µs`.
pub fn micros(us: u64) -> String {
    match us {
        0 => format!("<1{MICRO}"),
        1..1_000 => format!("{us}{MICRO}"),
        1_000..1_000_000 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

/// Microseconds for an axis tick: the same units, trailing zeros dropped
/// (`1ms`, `2.5ms`, `100µs`); 0 reads `0`.
pub fn micros_tick(us: f64) -> String {
    if us == 0.0 {
        "0".into()
    } else if us >= 1e6 {
        format!("{}s", trim(us / 1e6, 2))
    } else if us >= 1e3 {
        format!("{}ms", trim(us / 1e3, 2))
    } else {
        format!("{}{MICRO}", trim(us, 2))
    }
}

/// `v` with at most `decimals` decimals, trailing zeros removed.
pub fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// A duration as written in workload files (`1s 500ms`), for serde.
pub fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unit_everywhere() {
        assert_eq!(micros(0), "<1µs");
        assert_eq!(micros(17), "17µs");
        assert_eq!(micros(13_263), "13.26ms");
        assert_eq!(micros(2_100_000), "2.10s");
        assert_eq!(micros_tick(100.0), "100µs");
        assert_eq!(micros_tick(2500.0), "2.5ms");
        assert_eq!(micros_tick(0.0), "0");
    }
}

//! Verdicts on a run beyond its numbers: thresholds that gate CI on a
//! result (`p99 of read < 20ms` and friends, judged on a result).

pub mod thresholds;

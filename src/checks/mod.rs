//! Verdicts on a run beyond its numbers: thresholds that gate CI on a
//! result.

pub mod thresholds;

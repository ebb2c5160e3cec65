//! Verdicts on a run beyond its numbers: thresholds that gate CI on a
//! result (`p99 of read < 20ms` and friends, judged on a result), and
//! those that stop a run at their first miss (`abort_on_fail`).

pub mod abort;
pub mod baseline;
pub mod thresholds;

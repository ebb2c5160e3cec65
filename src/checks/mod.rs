//! Verdicts on a run beyond its numbers: thresholds that gate CI on a
//! result, and invariant checks that turn a benchmark into a correctness
//! test under faults.
//!
//! - `thresholds`: `p99 of read < 20ms` and friends, judged on a result.
//! - `config`: the checked `checks:` section and the keys the checks own.
//! - `tag`: the 16-byte tag readback writes at the start of each value.
//! - `tracker`: each worker's bookkeeping of what was acknowledged, owned
//!   by the worker (no lock, no channel per op), handed over once at the end.
//! - `run`: setup before the measured phase, the checker task during it,
//!   and the verification after it, into one [`Verdict`] per check.
//! - `bank`, `inventory`, `lock`, `readback`: each check's verification.

mod bank;
pub mod config;
mod inventory;
mod lock;
mod readback;
pub mod run;
pub mod tag;
pub mod thresholds;
pub mod tracker;
mod verdict;

pub use config::Checks;
pub use run::{Monitor, Observed, setup, verify};
pub use tracker::{Tracker, WorkerLog};
pub use verdict::Verdict;

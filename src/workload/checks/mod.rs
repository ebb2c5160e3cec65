//! Invariant checks that turn a benchmark into a correctness test under
//! faults. They live in the workload because they are part of what a
//! workload file describes: each check has its `checks:` settings, adds its
//! ops to the mix, and owns keys of the key space.
//!
//! - `config`: the checked `checks:` section and the keys the checks own.
//! - `tag`: the 16-byte tag readback writes at the start of each value.
//! - `tracker`: each worker's bookkeeping of what was acknowledged, owned
//!   by the worker (no lock, no channel per op), handed over once at the end.
//! - `run`: setup before the measured phase, the checker task during it,
//!   and the verification after it, into one [`CheckVerdict`] per check.
//! - `bank`, `inventory`, `lock`, `readback`: each check's verification.

mod bank;
pub mod config;
mod inventory;
mod lock;
mod readback;
pub mod run;
pub mod tag;
pub mod tracker;
mod verdict;

pub use config::Checks;
pub use run::{Monitor, Observed, setup, verify};
pub use tracker::{Tracker, WorkerLog};
pub use verdict::CheckVerdict;

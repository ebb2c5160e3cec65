//! Microbenchmarks of the harness's own hot paths (`cargo bench`).
//!
//! - `keygen/<distribution>`: one key index drawn and formatted.
//! - `record/hdr`: one histogram record.
//! - `measure/bare` vs `measure/measured`: generating an op, without and
//!   with the measurement path (a clock read and a recorder record); the
//!   difference is what measuring costs per op.
//! - `driver/noop`: the whole driver loop against a backend that does
//!   nothing, reported as ops/s.
//! - `storage/*`: the storage engine (raw and MVCC point ops, whole 2-key
//!   transactions) beside bare `BTreeMap` get and insert baselines.

mod driver;
mod storage;

use criterion::{criterion_group, criterion_main};

criterion_group!(
    benches,
    driver::keygen,
    driver::record,
    driver::measure,
    driver::driver_loop,
    storage::storage
);
criterion_main!(benches);

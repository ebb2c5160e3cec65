//! Nothing: this package only carries the criterion benchmarks in
//! `harness/` (run them with `cargo bench` from the repository root).

//! Integration tests, one binary grouped by purpose (see util.rs for the
//! shared helpers).

mod util;

mod cli;
mod distributions;
mod driver;
mod storage;
mod txn;
mod workloads;

//! Integration tests, one binary grouped by purpose (see util.rs for the
//! shared helpers).

mod client_util;
mod cluster_util;
mod util;

mod cli;
mod client;
mod cluster;
mod conformance;
mod distributions;
mod driver;
mod garbage;
mod multi;
mod schema;
mod proto_wire;
mod report;
mod storage;
mod txn;
mod workloads;

//! Integration tests, one binary grouped by purpose (see util.rs for the
//! shared helpers).

mod client_util;
mod cluster_util;
mod inproc_util;
mod util;

mod api_v2;
mod architecture;
mod async_commit;
mod baseline;
mod batch_commands;
mod checks;
mod cli;
mod client;
mod cluster;
mod commit_modes;
mod conformance;
mod distributions;
mod driver;
mod drivers;
mod garbage;
mod impact;
mod merge_shards;
mod multi;
mod places;
mod proto_wire;
mod regression_cli;
mod report;
mod schema;
mod server_time;
mod shape;
mod slow_ops;
mod stages;
mod storage;
mod tls;
mod txn;
mod workloads;

//! The embedded stand-in cluster: a PD and several stores in this process,
//! each on its own loopback listener, serving the real PD and TiKV gRPC
//! protocols over the storage engine.

pub mod config;
pub mod regions;
